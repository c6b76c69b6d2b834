//! The limits stage in the exchange: reserve the request's demand in every counter that
//! applies before it goes upstream, settle with its real usage after the response.

use super::{no_callout, BodyStage, Exchange, HostView, Next};
use crate::api::Api;
use crate::config::Config;
use crate::errors::UserError;
use crate::identity::Caller;
use crate::limits::{
    self, Actual, Admission, Budget, Demand, LimitKind, Limits, RateLimitStatus, Refusal, Subject,
};
use crate::metrics::{self, Metric};
use crate::route::plan::RequestPlan;
use crate::usage::settle::usd_to_micro;

pub(super) const ADMIT: BodyStage = BodyStage {
    name: "limits",
    run: admit,
    resume: no_callout,
};

/// Reserves this request's demand in every counter that applies, or refuses it with 429
/// (`retry-after` with a little jitter, so refused clients do not come back in lockstep).
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
    let group = metrics::group_label(config, subject.group);
    let now = host.now_us();
    match limits::admit(
        lim,
        host.counters(),
        &subject,
        &demand,
        policy.as_ref(),
        now,
    ) {
        Ok(admission) => {
            if admission.degraded {
                log::warn!(
                    "llm-gateway: limits store unavailable; request admitted without some counters"
                );
            }
            let reserved = demand.input_tokens + demand.reserved_output_tokens;
            ex.pending
                .metrics
                .extend(metrics::limits_admitted(&group, reserved));
            ex.admission = Some(admission);
            Next::Go
        }
        Err(refusal) => {
            ex.pending
                .metrics
                .push(metrics::limits_refused(refusal.kind.as_str(), &group));
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

/// Corrects the admission's reservations with what the request really used: the
/// provider's usage, or nothing at all for a request the gateway answered or refused
/// after admitting it (a cache hit, a fail-closed cache): it still counts as a request.
pub(super) fn settle(
    ex: &Exchange,
    config: &Config,
    admission: &Admission,
    actual: &Actual,
    host: &dyn HostView,
) -> Option<Metric> {
    let lim = config.limits.as_ref()?;
    limits::settle(lim, host.counters(), admission, actual, host.now_us());
    let group = ex.caller.as_ref().map(|c| c.consumer.group.as_str());
    let group = metrics::group_label(config, group);
    let settled = actual.input_tokens + actual.output_tokens;
    Some(metrics::limits_settled(&group, settled))
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
