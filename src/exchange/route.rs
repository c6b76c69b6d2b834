//! The route stage in the exchange: the plan (model, provider, translation, counted
//! input) and the request as it goes upstream.

use super::{no_callout, BodyStage, Exchange, HostView, Next};
use crate::config::Config;
use crate::route::plan::{self, RouteContext};

/// Only the gateway decides the provider route: a client's `x-llm-provider` goes.
pub(super) fn drop_client_provider(ex: &mut Exchange, config: &Config, host: &dyn HostView) {
    if config.route.is_some() && host.request_header("x-llm-provider").is_some() {
        ex.pending.remove_header("x-llm-provider");
    }
}

/// A stored OpenAI Response goes to the provider that holds them, with its key.
pub(super) fn stored_response(ex: &mut Exchange, config: &Config) {
    ex.pending
        .facts
        .push(("llm_api", ex.api.name().to_string()));
    let Some(route) = config.route.as_ref() else {
        return;
    };
    let (provider, set, remove) = plan::stored_response(route);
    for name in remove {
        ex.pending.remove_header(name);
    }
    for (name, value) in set {
        ex.pending.set_header(name, value);
    }
    ex.pending.facts.push(("llm_provider", provider));
}

pub(super) const PLAN: BodyStage = BodyStage {
    name: "route",
    run: plan,
    resume: no_callout,
};

fn plan(ex: &mut Exchange, config: &Config, host: &dyn HostView) -> Next {
    let group = ex.caller.as_ref().map(|c| c.consumer.group.clone());
    let header = |name: &str| host.request_header(name);
    let ctx = RouteContext {
        group: group.as_deref(),
        header: &header,
    };
    let parsed = ex.request.parsed.take();
    let sent = ex
        .request
        .guarded_body
        .as_deref()
        .unwrap_or(&ex.request.body);
    match plan::plan(&config.plan_rules(), ex.api, sent, parsed, &ctx) {
        Ok(mut plan) => {
            if plan.new_body.is_none() {
                plan.new_body = ex.request.guarded_body.take();
            }
            if plan.new_body.is_none() && ex.request.rewritten {
                // The prompt stage's body, unchanged since.
                plan.new_body = Some(ex.request.body.clone());
            }
            ex.plan = Some(plan);
            Next::Go
        }
        Err(e) => Next::Refuse(e, vec![]),
    }
}

pub(super) const FORWARD: BodyStage = BodyStage {
    name: "forward",
    run: forward,
    resume: no_callout,
};

/// The planned body and headers, set now: the headers are still held, and a callout's
/// answer can no longer change a body. Envoy does not fix `content-length` when a body
/// changes, so it is set with it.
fn forward(ex: &mut Exchange, config: &Config, _: &dyn HostView) -> Next {
    if ex.structured.is_some() {
        let body = ex.plan.as_ref().and_then(|p| p.new_body.clone());
        super::prompt::remember_sent(ex, config, body.as_deref());
    }
    let Some(plan) = ex.plan.as_mut() else {
        return Next::Go;
    };
    if let Some(body) = plan.new_body.take() {
        ex.pending
            .set_header("content-length", body.len().to_string());
        ex.pending.body = Some(body);
    }
    for name in &plan.remove_headers {
        ex.pending.remove_header(name);
    }
    for (name, value) in &plan.set_headers {
        if *name == ":path" {
            // A new path keeps the client's query string.
            let query = ex.path.split_once('?').map_or("", |(_, q)| q);
            let sep = if query.is_empty() { "" } else { "?" };
            ex.pending.set_header(name, format!("{value}{sep}{query}"));
        } else {
            ex.pending.set_header(name, value.clone());
        }
    }
    Next::Go
}
