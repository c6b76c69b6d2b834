//! Every metric name the module writes, in one place. Labels travel in the name (`llm.requests.model.gpt-4o.provider.mock`)
//! and Envoy's `stats_tags` (envoy/envoy.yaml) turn them into Prometheus labels. Label
//! values are bounded: models are reported by their price-table key, or `other`.

use crate::facts::Facts;

pub const COUNTERS: &[&str] = &[
    "requests",
    "input_tokens",
    "output_tokens",
    "cost_micro_usd",
];
pub const HISTOGRAMS: &[&str] = &["request_duration_ms", "ttft_ms", "input_tokens_per_request"];

/// A label value safe inside a dotted stat name.
pub fn label(value: &str) -> String {
    let v: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() {
        "unknown".to_string()
    } else {
        v
    }
}

pub fn model_label(facts: &Facts) -> String {
    label(facts.price_key.as_deref().unwrap_or("other"))
}

fn suffix(facts: &Facts) -> String {
    format!(
        "model.{}.provider.{}",
        model_label(facts),
        label(&facts.provider)
    )
}

/// One metric update for the host to apply: a counter to add to, or a histogram value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    Counter(String, u64),
    Histogram(String, u64),
}

/// The updates of one finished exchange: counters, then histograms.
pub fn of_exchange(facts: &Facts) -> Vec<Metric> {
    let s = suffix(facts);
    let mut out = vec![Metric::Counter(format!("llm.requests.{s}"), 1)];
    if let Some(n) = facts.input_tokens {
        out.push(Metric::Counter(format!("llm.input_tokens.{s}"), n));
    }
    if let Some(n) = facts.output_tokens {
        out.push(Metric::Counter(format!("llm.output_tokens.{s}"), n));
    }
    if let Some(c) = facts.cost_usd {
        let micro = (c * 1_000_000.0).round() as u64;
        out.push(Metric::Counter(format!("llm.cost_micro_usd.{s}"), micro));
    }
    if let Some(kind) = facts.error {
        out.push(Metric::Counter(format!("llm.errors.kind.{kind}.{s}"), 1));
    }
    if let Some(d) = facts.duration_ms {
        out.push(Metric::Histogram(format!("llm.request_duration_ms.{s}"), d));
    }
    if let Some(t) = facts.ttft_ms {
        out.push(Metric::Histogram(format!("llm.ttft_ms.{s}"), t));
    }
    if let Some(n) = facts.input_tokens_counted {
        out.push(Metric::Histogram(
            format!("llm.input_tokens_per_request.{s}"),
            n,
        ));
    }
    out
}

/// A consumer group as a metric label: groups the configuration names keep their name;
/// any other (e.g. from a JWT claim) is `other`, so the label set stays bounded.
pub fn group_label(config: &crate::config::Config, group: Option<&str>) -> String {
    let Some(group) = group else {
        return "anonymous".to_string();
    };
    let in_identity = config
        .identity
        .as_ref()
        .is_some_and(|i| i.consumers.iter().any(|c| c.group == group));
    let in_limits = config
        .limits
        .as_ref()
        .is_some_and(|l| l.rules.iter().any(|r| r.groups.iter().any(|g| g == group)));
    if in_identity || in_limits || group == "default" {
        label(group)
    } else {
        "other".to_string()
    }
}

/// A request rejected before it had a model or provider.
pub fn rejected_request(kind: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.errors.kind.{}.model.unknown.provider.none",
            label(kind)
        ),
        1,
    )
}

/// One guard rule's action: `llm.guard.rule.<rule>.action.<action>`, the rule's dots as
/// underscores (`pii.email` -> `pii_email`) so the stats tags can cut it.
pub fn guard_action(rule: &str, action: &str) -> Metric {
    Metric::Counter(
        format!("llm.guard.rule.{}.action.{action}", rule.replace('.', "_")),
        1,
    )
}

/// A request that used a prompt template: `llm.prompt_template.template.<id>.version.<v>`
/// (ids and versions come from the configuration: a bounded set).
pub fn prompt_template(id: &str, version: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.prompt_template.template.{}.version.{}",
            label(id),
            label(version)
        ),
        1,
    )
}

/// The prompt stage added its chain-of-thought instruction (`reason`: `always` or
/// `complex`).
pub fn prompt_cot(reason: &str) -> Metric {
    Metric::Counter(format!("llm.prompt_cot.reason.{}", label(reason)), 1)
}

/// A structured-output check's result (`valid`, `fixed`, `failed`, `passed`, `skipped`)
/// by the schema's source (`request`, `operator`).
pub fn schema_outcome(outcome: &str, source: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.schema.result.{}.source.{}",
            label(outcome),
            label(source)
        ),
        1,
    )
}

/// Retries the structured-output check made for one answer.
pub fn schema_retries(retries: u32) -> Metric {
    Metric::Counter("llm.schema_retries".to_string(), u64::from(retries))
}

/// A request the limits stage admitted, and the tokens it reserved.
pub fn limits_admitted(group: &str, reserved_tokens: u64) -> [Metric; 2] {
    [
        Metric::Counter(format!("llm.limits_admitted.group.{group}"), 1),
        Metric::Counter(
            format!("llm.limits_reserved_tokens.group.{group}"),
            reserved_tokens,
        ),
    ]
}

/// A request the limits stage refused, by the kind of limit.
pub fn limits_refused(kind: &str, group: &str) -> Metric {
    Metric::Counter(format!("llm.limits_refused.kind.{kind}.group.{group}"), 1)
}

/// The limits' store (the cache sidecar) gave no usable answer; `limits.sidecar.fail`
/// decided.
pub fn limits_store_error(group: &str) -> Metric {
    Metric::Counter(format!("llm.limits_store_errors.group.{group}"), 1)
}

/// The tokens an admitted request really used, settled after its response.
pub fn limits_settled(group: &str, tokens: u64) -> Metric {
    Metric::Counter(format!("llm.limits_settled_tokens.group.{group}"), tokens)
}

/// A background call (e.g. a cache store) that failed: its status, 0 when it never got
/// an answer.
pub fn background_call_failed(status: u32) -> Metric {
    Metric::Counter(format!("llm.background_call_failures.status.{status}"), 1)
}

/// A model as a label before the exchange's facts exist: its price-table key, or
/// `other` (as [`model_label`] gives it once they do).
pub fn model_label_of(config: &crate::config::Config, model: &str) -> String {
    let key = config
        .usage
        .as_ref()
        .and_then(|u| u.prices.lookup(model))
        .map(|(k, _)| k.to_string());
    label(key.as_deref().unwrap_or("other"))
}

/// What the cache did for one request (`hit-exact`, `miss`, `bypass`, `error`):
/// `llm_cache_requests{status,model}`.
pub fn cache_request(status: &str, model_label: &str) -> Metric {
    Metric::Counter(
        format!("llm.cache_requests.status.{status}.model.{model_label}"),
        1,
    )
}

/// What a hit saved: the provider's input + output tokens and their cost at list price
/// in micro-USD (`llm_cache_saved_tokens{model}`, `llm_cache_saved_micro_usd{model}`).
pub fn cache_saved(model_label: &str, tokens: u64, micro_usd: u64) -> [Metric; 2] {
    [
        Metric::Counter(
            format!("llm.cache_saved_tokens.model.{model_label}"),
            tokens,
        ),
        Metric::Counter(
            format!("llm.cache_saved_micro_usd.model.{model_label}"),
            micro_usd,
        ),
    ]
}

/// One lookup's round trip to the cache sidecar in µs, timeouts and failures included
/// (`llm_cache_lookup_us`, a histogram).
pub fn cache_lookup_us(us: u64) -> Metric {
    Metric::Histogram("llm.cache_lookup_us".to_string(), us)
}

/// One lookup of the semantic injection signal: `ok`, or `error` (the sidecar down,
/// slow or answering an error: the signal was off): `llm_guard_semantic_lookups{status}`.
pub fn guard_semantic_lookup(status: &str) -> Metric {
    Metric::Counter(format!("llm.guard_semantic_lookups.status.{status}"), 1)
}

/// What one semantic lookup found (`hit`, `miss`, `stale`: the matched exact entry is
/// gone, `error`: the sidecar down, slow or answering an error):
/// `llm_cache_semantic_lookups{status}`.
pub fn cache_semantic_lookup(status: &str) -> Metric {
    Metric::Counter(format!("llm.cache_semantic_lookups.status.{status}"), 1)
}

/// One semantic query's round trip in µs (`llm_cache_semantic_lookup_us`, a histogram).
pub fn cache_semantic_lookup_us(us: u64) -> Metric {
    Metric::Histogram("llm.cache_semantic_lookup_us".to_string(), us)
}

/// An answer sent to the sidecar to be stored (`llm_cache_stores{model}`); a store the
/// sidecar fails is counted in `llm_background_call_failures`.
pub fn cache_stored(model_label: &str) -> Metric {
    Metric::Counter(format!("llm.cache_stores.model.{model_label}"), 1)
}

/// A 200 answer that was not stored: `too_large` (over `cache.max_entry_bytes`) or
/// `incomplete` (cut, stopped, filtered, or of a shape an entry cannot hold):
/// `llm_cache_store_skips{reason}`.
pub fn cache_store_skipped(reason: &str) -> Metric {
    Metric::Counter(format!("llm.cache_store_skips.reason.{reason}"), 1)
}

/// One attempt of the fallback chain sent to `provider`.
pub fn chain_attempt(provider: &str) -> Metric {
    Metric::Counter(format!("llm.chain_attempts.provider.{provider}"), 1)
}

/// One attempt of the fallback chain skipped because `provider` cannot serve the request.
pub fn chain_skip(provider: &str) -> Metric {
    Metric::Counter(format!("llm.chain_skips.provider.{provider}"), 1)
}

/// One attempt of the fallback chain that `provider` failed (5xx or 429).
pub fn chain_failure(provider: &str) -> Metric {
    Metric::Counter(format!("llm.chain_failures.provider.{provider}"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_dot_free_and_bounded() {
        assert_eq!(label("gpt-4.1"), "gpt-4_1");
        assert_eq!(label(""), "unknown");
        assert_eq!(label(&"x".repeat(100)).len(), 64);
    }
}
