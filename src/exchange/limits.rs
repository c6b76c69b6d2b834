//! The limits stage in the exchange: reserve the request's demand in every counter that
//! applies before it goes upstream, settle with its real usage after the response. The
//! stage only chooses the store: Envoy's shared data (reserved at once), or the cache
//! sidecar (one admit call, resumed with its answer; the settle a background call).

use super::{BodyStage, CallAnswer, Callout, Effects, Exchange, HostView, Next};
use crate::api::Api;
use crate::config::Config;
use crate::errors::UserError;
use crate::identity::Caller;
use crate::limits::fleet::{self, Answer, Sidecar};
use crate::limits::{
    self, Actual, Admission, Budget, Demand, LimitKind, Limits, RateLimitStatus, Refusal, Store,
    Subject,
};
use crate::metrics;
use crate::route::plan::RequestPlan;
use crate::usage::settle::usd_to_micro;

pub(super) const ADMIT: BodyStage = BodyStage {
    name: "limits",
    run: admit,
    resume: admitted,
};

/// Reserves this request's demand in every counter that applies, or refuses it with 429
/// (`retry-after` with a little jitter, so refused clients do not come back in lockstep).
/// With the sidecar store, asks it and waits for [`admitted`].
fn admit(ex: &mut Exchange, config: &Config, host: &dyn HostView) -> Next {
    let (Some(plan), Some(lim)) = (ex.plan.as_ref(), &config.limits) else {
        return Next::Go;
    };
    let demand = demand(config, lim, plan);
    let policy = match host.request_header("helicone-ratelimit-policy") {
        Some(value) if lim.client_policy => match limits::parse_client_policy(&value) {
            Ok(p) => Some(p),
            Err(message) => {
                let name = limits::CLIENT_POLICY_HEADER.to_string();
                return Next::Refuse(UserError::InvalidHeader { name, message }, vec![]);
            }
        },
        _ => None,
    };
    let subject = subject(ex.caller.as_ref(), &plan.model);
    let now = host.now_us();
    let policy = policy.as_ref();
    let decision = match &lim.store {
        Store::SharedData => limits::admit(lim, host.counters(), &subject, &demand, policy, now),
        Store::Sidecar(sidecar) => match fleet::ask(lim, sidecar, &subject, &demand, policy, now) {
            Ok(Some(ask)) => {
                let call = callout(sidecar, fleet::ADMIT_PATH, ask.body().to_vec());
                ex.request.limits_ask = Some(ask);
                return Next::Call(call);
            }
            Ok(None) => Ok(Admission::default()),
            Err(refusal) => Err(refusal),
        },
    };
    decide(ex, config, decision, now)
}

/// The sidecar's answer to the admit. Without a usable one, `limits.sidecar.fail`
/// decides: admitted without limits (open) or 503 (closed).
fn admitted(ex: &mut Exchange, config: &Config, answer: &CallAnswer, host: &dyn HostView) -> Next {
    let (Some(ask), Some(lim)) = (ex.request.limits_ask.take(), &config.limits) else {
        return Next::Go;
    };
    let Store::Sidecar(sidecar) = &lim.store else {
        return Next::Go;
    };
    let now = host.now_us();
    let decision = match ask.read(answer.status, &answer.body, now) {
        Answer::Admitted(admission) => Ok(admission),
        Answer::Refused(refusal) => Err(refusal),
        Answer::Failed(why) => {
            let group = group_label(ex, config);
            ex.pending.metrics.push(metrics::limits_store_error(&group));
            if sidecar.fail_closed {
                log::warn!("llm-gateway: the limits sidecar failed ({why}); request refused (limits.sidecar.fail: closed)");
                return Next::Refuse(UserError::LimitsUnavailable, vec![]);
            }
            log::warn!("llm-gateway: the limits sidecar failed ({why}); request admitted without its limits (limits.sidecar.fail: open)");
            Ok(Admission::default())
        }
    };
    decide(ex, config, decision, now)
}

/// The request's limits group, as metrics name it.
fn group_label(ex: &Exchange, config: &Config) -> String {
    let group = ex.caller.as_ref().map(|c| c.consumer.group.as_str());
    metrics::group_label(config, group)
}

/// Admits the request (metrics, the admission kept for settle) or refuses it.
fn decide(
    ex: &mut Exchange,
    config: &Config,
    decision: Result<Admission, Refusal>,
    now: u64,
) -> Next {
    let (Some(plan), Some(lim)) = (ex.plan.as_ref(), &config.limits) else {
        return Next::Go;
    };
    let group = group_label(ex, config);
    match decision {
        Ok(admission) => {
            if admission.degraded {
                log::warn!(
                    "llm-gateway: limits store unavailable; request admitted without some counters"
                );
            }
            let demand = demand(config, lim, plan);
            let reserved = demand.input_tokens + demand.reserved_output_tokens;
            ex.pending
                .metrics
                .extend(metrics::limits_admitted(&group, reserved));
            ex.admission = Some(admission);
            Next::Go
        }
        Err(refusal) => {
            ex.pending.metrics.push(metrics::limits_refused(
                refusal.kind.as_str(),
                &refusal.rule,
                &group,
            ));
            let mut headers = rate_limit_headers(plan.api, &refusal.headers, now);
            if let Some(secs) = refusal.retry_after_secs {
                let ms = secs * 1000 + (now / 1000) % 500;
                headers.push(("retry-after".into(), ms.div_ceil(1000).to_string()));
                headers.push(("retry-after-ms".into(), ms.to_string()));
            }
            Next::Refuse(refusal_error(&refusal), headers)
        }
    }
}

/// A call to the limits sidecar.
fn callout(sidecar: &Sidecar, path: &str, body: Vec<u8>) -> Callout {
    Callout {
        cluster: sidecar.cluster.clone(),
        headers: sidecar.headers(path, body.len()),
        timeout_ms: if path == fleet::SETTLE_PATH {
            sidecar.settle_timeout_ms()
        } else {
            sidecar.timeout_ms
        },
        body,
    }
}

/// OpenAI's `x-ratelimit-*` headers, and Anthropic's `anthropic-ratelimit-*` too on the
/// messages API.
pub(super) fn rate_limit_headers(
    api: Api,
    status: &RateLimitStatus,
    now_us: u64,
) -> Vec<(String, String)> {
    let mut headers = status.openai_headers();
    if api == Api::AnthropicMessages {
        headers.extend(status.anthropic_headers(now_us));
    }
    headers
}

/// Corrects the admission's reservations with what the request really used: in shared
/// data at once, or in the sidecar by a background call that outlives the request. What
/// it used is the provider's usage, or nothing at all for a request the gateway answered
/// or refused after admitting it (a cache hit, a fail-closed cache): it still counts as a
/// request.
pub(super) fn settle(
    ex: &Exchange,
    config: &Config,
    admission: &Admission,
    actual: &Actual,
    host: &dyn HostView,
    fx: &mut Effects,
) {
    let Some(lim) = config.limits.as_ref() else {
        return;
    };
    match &lim.store {
        Store::SharedData => limits::settle(lim, host.counters(), admission, actual, host.now_us()),
        Store::Sidecar(sidecar) => {
            if let Some(body) = fleet::settle_body(admission, actual) {
                fx.background
                    .push(callout(sidecar, fleet::SETTLE_PATH, body));
            }
        }
    }
    let settled = actual.input_tokens + actual.output_tokens;
    fx.metrics
        .push(metrics::limits_settled(&group_label(ex, config), settled));
}

/// What the limits stage reserves for a request: counted input, the output cap (or the
/// configured expectation) within the model's cap (the route stage refused or clamped a
/// larger one), and the cost of both at list price. An embeddings answer generates
/// nothing: no output is reserved.
fn demand(config: &Config, limits: &Limits, plan: &RequestPlan) -> Demand {
    let reserved_output_tokens = match plan.api.generates() {
        true => limits.reserved_output(&plan.model, plan.max_output_tokens),
        false => 0,
    };
    let input_tokens = plan.input_tokens.unwrap_or(0);
    let price = config
        .usage
        .as_ref()
        .and_then(|u| u.prices.lookup(&plan.model));
    let estimated_cost_micro_usd = price.map_or(0, |(_, p)| {
        let billed = crate::usage::pricing::BilledTokens {
            input: input_tokens,
            output: reserved_output_tokens,
            ..Default::default()
        };
        usd_to_micro(p.cost_usd(&billed))
    });
    Demand {
        input_tokens,
        reserved_output_tokens,
        estimated_cost_micro_usd,
    }
}

/// The limits' view of the caller.
fn subject<'a>(caller: Option<&'a Caller>, model: &'a str) -> Subject<'a> {
    Subject {
        consumer: caller.map(|c| c.consumer.id.as_str()),
        group: caller.map(|c| c.consumer.group.as_str()),
        model,
        budget: caller.map(|c| Budget {
            daily_micro_usd: c.consumer.daily_budget_usd.map(usd_to_micro),
            monthly_micro_usd: c.consumer.monthly_budget_usd.map(usd_to_micro),
        }),
    }
}

/// The client's error for a refusal.
fn refusal_error(refusal: &Refusal) -> UserError {
    match refusal.kind {
        LimitKind::Budget => UserError::QuotaExceeded {
            message: refusal.message.clone(),
        },
        LimitKind::Tokens => UserError::RateLimited {
            message: refusal.message.clone(),
            unit: "tokens",
        },
        LimitKind::Requests | LimitKind::Concurrency => UserError::RateLimited {
            message: refusal.message.clone(),
            unit: "requests",
        },
    }
}
