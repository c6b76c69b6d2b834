//! The prompt stage in the exchange: the body decorated, templated and given its CoT
//! instruction before the guard judges it (and before any cache key is taken), and the
//! structured-output check the answer must pass, with its retry through the provider.

use serde_json::{Map, Value};

use super::{no_callout, BodyStage, CallAnswer, Callout, Effects, Exchange, HostView, Next};
use crate::api::Api;
use crate::config::Config;
use crate::metrics;
use crate::prompt::answer::{self, Outcome, Verdict};
use crate::prompt::{self, Check, Context, OnInvalid};
use crate::providers::ProviderUsage;
use crate::route::auto::{Signals, Thresholds, Tier, Weights};
use crate::route::plan::RequestPlan;
use crate::usage::meter::{ResponseMeter, ResponseOutcome};

pub(super) const PROMPT: BodyStage = BodyStage {
    name: "prompt",
    run,
    resume: no_callout,
};

/// The structured-output check of one exchange.
pub(super) struct Structured {
    pub check: Check,
    /// The request body as it went upstream (for the retry).
    pub sent: Vec<u8>,
    /// The retry may go through this cluster (`None`: the fallback chain, no retry).
    pub cluster: Option<String>,
    pub retries: u32,
    pub outcome: Option<Outcome>,
    /// A retry in flight: the client-API answer it replaces, and why that one failed.
    pub pending: Option<(Vec<u8>, String)>,
    /// What the retries' answers reported, added to the exchange's usage and cost.
    pub retry_usage: Vec<ProviderUsage>,
}

/// Whether the routing classifier scores a request `complex` (the `auto` router's
/// thresholds and weights when it is configured, its defaults otherwise).
fn complex(config: &Config, api: Api, req: &Map<String, Value>) -> bool {
    let auto = config.route.as_ref().and_then(|r| r.auto.as_ref());
    let (default_t, default_w) = (Thresholds::default(), Weights::default());
    let (t, w) = match auto {
        Some(a) => (&a.thresholds, &a.weights),
        None => (&default_t, &default_w),
    };
    let tokens = match api {
        Api::AnthropicMessages => crate::tokens::count_anthropic_messages(req),
        _ => {
            let model = req.get("model").and_then(Value::as_str).unwrap_or("gpt-4o");
            crate::tokens::count_openai_chat(model, req)
        }
    };
    let signals = Signals::of(req, tokens, t);
    Tier::of_score(signals.score(w), t) == Tier::Complex
}

fn run(ex: &mut Exchange, config: &Config, host: &dyn HostView) -> Next {
    let Some(prompt) = config.prompt.as_ref() else {
        return Next::Go;
    };
    let caller = ex.caller.as_ref();
    let header = |name: &str| host.request_header(name);
    let is_complex = |api: Api, req: &Map<String, Value>| complex(config, api, req);
    let ctx = Context {
        api: ex.api,
        path: &ex.path,
        consumer: caller.map(|c| c.consumer.id.as_str()),
        group: caller.map(|c| c.consumer.group.as_str()),
        header: &header,
        complex: &is_complex,
    };
    let rewrite = match prompt::rewrite(prompt, &ctx, &ex.request.body) {
        Ok(r) => r,
        Err(e) => return Next::Refuse(e, vec![]),
    };
    if let Some(body) = rewrite.body {
        ex.request.body = body;
        ex.request.rewritten = true;
    }
    ex.request.parsed = rewrite.parsed;
    if let Some((id, version)) = &rewrite.template {
        ex.pending
            .facts
            .push(("llm_prompt_template", format!("{id}@{version}")));
        ex.pending
            .metrics
            .push(metrics::prompt_template(id, version));
    }
    if let Some(reason) = rewrite.cot {
        ex.pending
            .facts
            .push(("llm_prompt_cot", reason.to_string()));
        ex.pending.metrics.push(metrics::prompt_cot(reason));
    }
    ex.structured = rewrite.check.map(|check| Structured {
        check,
        sent: Vec::new(),
        cluster: None,
        retries: 0,
        outcome: None,
        pending: None,
        retry_usage: Vec::new(),
    });
    Next::Go
}

/// The body as it goes upstream, kept for the retry, and the cluster the retry takes.
pub(super) fn remember_sent(ex: &mut Exchange, config: &Config, body: Option<&[u8]>) {
    let (Some(s), Some(plan), Some(prompt)) = (
        ex.structured.as_mut(),
        ex.plan.as_ref(),
        config.prompt.as_ref(),
    ) else {
        return;
    };
    s.sent = body.unwrap_or(&ex.request.body).to_vec();
    // The chain's upstream filter adapts each attempt; a retry could not follow it.
    s.cluster = (!plan.fallback).then(|| prompt.retry_cluster(&plan.provider));
}

/// What the check says of a whole answer in the client's API.
pub(super) enum Held {
    /// The answer goes to the client: this body (`None`: as it is).
    Done(Option<Vec<u8>>),
    /// A retry is asked; the answer waits.
    Retry(Callout),
}

/// Checks a whole answer (the client's API, before the output guard). An invalid one
/// asks for a retry while any is left, else fails as `on_invalid` says.
pub(super) fn check_answer(
    ex: &mut Exchange,
    config: &Config,
    host: &dyn HostView,
    body: &[u8],
    fx: &mut Effects,
) -> Held {
    let api = ex.api;
    let Some(s) = ex.structured.as_mut() else {
        return Held::Done(None);
    };
    let text = answer::answer_text(api, body);
    match answer::judge(&s.check, text.as_deref()) {
        Verdict::Valid => {
            s.outcome = Some(if s.retries > 0 {
                Outcome::Fixed
            } else {
                Outcome::Valid
            });
            Held::Done(None)
        }
        Verdict::Unchecked => {
            s.outcome = Some(Outcome::Skipped);
            Held::Done(None)
        }
        Verdict::Invalid(why) => {
            let invalid_text = text.unwrap_or_default();
            if let Some(call) = retry_call(ex, config, host, &invalid_text, &why) {
                if let Some(s) = ex.structured.as_mut() {
                    s.pending = Some((body.to_vec(), why));
                }
                return Held::Retry(call);
            }
            Held::Done(fail(ex, fx, body, &why))
        }
    }
}

/// The retry's callout, when one is left and can be made.
fn retry_call(
    ex: &Exchange,
    config: &Config,
    host: &dyn HostView,
    invalid_text: &str,
    why: &str,
) -> Option<Callout> {
    let s = ex.structured.as_ref()?;
    let plan = ex.plan.as_ref()?;
    let prompt = config.prompt.as_ref()?;
    if s.retries >= s.check.max_retries || plan.stream {
        return None;
    }
    let cluster = s.cluster.clone()?;
    let body = answer::retry_body(plan.upstream_format, &s.sent, invalid_text, why)?;
    Some(Callout {
        cluster,
        headers: retry_headers(host, body.len()),
        body,
        timeout_ms: prompt.retry_timeout_ms,
    })
}

/// The request's headers as they went upstream (path, provider key and version as the
/// route stage set them), for the same request again with another body.
fn retry_headers(host: &dyn HostView, length: usize) -> Vec<(String, String)> {
    let all = host.request_headers();
    let skip = |name: &str| {
        matches!(name, "content-length" | "transfer-encoding" | "expect")
            || name.starts_with("x-envoy-")
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for pseudo in [":method", ":path", ":authority"] {
        let value = all
            .iter()
            .find(|(k, _)| k == pseudo)
            .map(|(_, v)| v.clone())
            .or_else(|| host.request_header(pseudo))
            .unwrap_or_else(|| match pseudo {
                ":method" => "POST".to_string(),
                _ => "llm-gateway".to_string(),
            });
        headers.push((pseudo.to_string(), value));
    }
    for (k, v) in all {
        if !k.starts_with(':') && !skip(&k) {
            headers.push((k, v));
        }
    }
    headers.push(("content-length".to_string(), length.to_string()));
    headers
}

/// An answer still invalid: the client's error (502) or the answer as it is.
fn fail(ex: &mut Exchange, fx: &mut Effects, body: &[u8], why: &str) -> Option<Vec<u8>> {
    let api = ex.api;
    let s = ex.structured.as_mut()?;
    match s.check.on_invalid {
        OnInvalid::Pass => {
            s.outcome = Some(Outcome::Passed);
            let _ = body;
            None
        }
        OnInvalid::Error => {
            s.outcome = Some(Outcome::Failed);
            let error = answer::error(why, s.retries);
            fx.set_header(":status", error.status().to_string());
            fx.set_header("content-type", "application/json");
            // The gateway retried already; the SDKs' own retries would repeat it all.
            fx.set_header("x-should-retry", "false");
            Some(error.envelope(api))
        }
    }
}

/// The retry's answer: translated back like the first, checked again; valid replaces the
/// first answer, invalid retries again or fails.
pub(super) fn retried(
    ex: &mut Exchange,
    config: &Config,
    host: &dyn HostView,
    answer: &CallAnswer,
    fx: &mut Effects,
) -> Held {
    let Some(s) = ex.structured.as_mut() else {
        return Held::Done(None);
    };
    s.retries += 1;
    let Some((first, why)) = s.pending.take() else {
        return Held::Done(None);
    };
    if let Some(plan) = ex.plan.as_ref() {
        // The retry is billed like the first call: its usage joins the exchange's.
        let mut meter = ResponseMeter::new(
            plan.upstream_format,
            answer.status,
            Some("application/json"),
            super::MAX_JSON_RESPONSE,
        );
        meter.feed(&answer.body, 0);
        let usage = meter.finish(0).usage;
        if let Some(s) = ex.structured.as_mut() {
            s.retry_usage.push(usage);
        }
    }
    if answer.status != 200 {
        log::info!(
            "llm-gateway: the schema retry failed (status {}); the first answer decides",
            answer.status
        );
        return Held::Done(fail(ex, fx, &first, &why).or(Some(first)));
    }
    let body = client_body(ex.plan.as_ref(), host, &answer.body);
    match check_answer(ex, config, host, &body, fx) {
        Held::Done(None) => Held::Done(Some(body)),
        other => other,
    }
}

/// The exchange's outcome with the retries' usage added (tokens the provider reported
/// for them; a retry that reported none adds nothing).
pub(super) fn with_retry_usage(ex: &Exchange, mut outcome: ResponseOutcome) -> ResponseOutcome {
    let Some(s) = ex.structured.as_ref() else {
        return outcome;
    };
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    for u in &s.retry_usage {
        if outcome.usage.is_empty() {
            continue;
        }
        outcome.usage.input = add(outcome.usage.input, u.input);
        outcome.usage.output = add(outcome.usage.output, u.output);
        outcome.usage.cached_input += u.cached_input;
        outcome.usage.cache_write += u.cache_write;
    }
    outcome
}

/// An answer of the provider in the client's API (translated back when the request was).
fn client_body(plan: Option<&RequestPlan>, host: &dyn HostView, body: &[u8]) -> Vec<u8> {
    match plan.and_then(|p| p.translation().map(|d| (p, d))) {
        Some((plan, direction)) => direction.whole_body(
            &plan.model,
            200,
            body,
            host.now_us() / 1_000_000,
            plan.structured_tool.as_deref(),
        ),
        None => body.to_vec(),
    }
}

/// The check's facts and metric, once the answer is decided.
pub(super) fn report(ex: &Exchange, fx: &mut Effects) {
    let Some(s) = ex.structured.as_ref() else {
        return;
    };
    let Some(outcome) = s.outcome else {
        return;
    };
    fx.facts.push(("llm_schema", outcome.as_str().to_string()));
    fx.facts
        .push(("llm_schema_source", s.check.origin.as_str().to_string()));
    fx.facts.push(("llm_schema_retries", s.retries.to_string()));
    fx.metrics.push(metrics::schema_outcome(
        outcome.as_str(),
        s.check.origin.as_str(),
    ));
    if s.retries > 0 {
        fx.metrics.push(metrics::schema_retries(s.retries));
    }
    if outcome == Outcome::Failed {
        fx.facts
            .push(("llm_error", "invalid_structured_output".to_string()));
    }
}
