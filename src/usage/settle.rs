//! The usage stage's settlement: the plan and what the response showed, turned into the
//! exchange's facts (tokens, cost, error); and the limits' view of the same.

use super::meter::ResponseOutcome;
use super::Usage;
use crate::facts::Facts;
use crate::limits::Actual;
use crate::route::plan::RequestPlan;
use crate::tokens;

/// Combines the request plan and the response outcome into the exchange's facts.
/// `usage` is the usage section; tokens are also settled when only `limits_on`.
pub fn settle(
    usage: Option<&Usage>,
    limits_on: bool,
    plan: &RequestPlan,
    outcome: &ResponseOutcome,
    status: u32,
) -> Facts {
    let mut facts = plan.facts();
    facts.status = status;
    facts.response_model = outcome.response_model.clone();
    if usage.is_none() && !limits_on {
        return facts;
    }
    let counted_output = || {
        let (encoding, _) = tokens::encoding_for_model(&plan.model);
        tokens::count_text(encoding, &outcome.generated_text)
    };
    // Cost comes from the provider's usage. A failure it reported none for (an upstream
    // error, or a stream cut before its first token) produced nothing and costs nothing:
    // providers do not bill it, so neither do budgets nor token limits.
    let failed = status >= 400 || (outcome.cut && outcome.generated_text.is_empty());
    let (input, output, source) = match (outcome.usage.input, outcome.usage.output) {
        (Some(i), Some(o)) => (Some(i), o, "provider"),
        (None, None) if failed => (Some(0), 0, "none"),
        (i, o) => (
            i.or(plan.input_tokens),
            o.unwrap_or_else(counted_output),
            "counted",
        ),
    };
    facts.input_tokens = input;
    facts.output_tokens = Some(output);
    facts.cached_tokens = outcome.usage.cached_input;
    facts.usage_source = Some(source);
    let prices = usage.map(|u| &u.prices);
    if let Some((_, price)) = prices.and_then(|p| p.lookup(&plan.model)) {
        let input = input.unwrap_or(0);
        let billed = crate::usage::pricing::BilledTokens {
            input: input.saturating_sub(outcome.usage.cached_input + outcome.usage.cache_write),
            cached_input: outcome.usage.cached_input,
            cache_write: outcome.usage.cache_write,
            output,
        };
        facts.cost_usd = Some(price.cost_usd(&billed));
    }
    facts.price_key = prices
        .and_then(|p| p.lookup(&plan.model))
        .map(|(k, _)| k.to_string());
    if outcome.cut {
        facts.error = Some("stream_cut");
    } else if status >= 500 {
        facts.error = Some("upstream_5xx");
    } else if status >= 400 {
        facts.error = Some("upstream_4xx");
    } else if outcome.unreadable {
        facts.error = Some("response_unreadable");
    }
    facts
}

/// What really happened, for settling an admission.
pub fn actual(facts: &Facts) -> Actual {
    Actual {
        input_tokens: facts.input_tokens.unwrap_or(0),
        output_tokens: facts.output_tokens.unwrap_or(0),
        cost_micro_usd: facts.cost_usd.map_or(0, usd_to_micro),
    }
}

/// USD as whole micro-USD, rounded up.
pub fn usd_to_micro(usd: f64) -> u64 {
    (usd * 1_000_000.0).ceil().max(0.0) as u64
}
