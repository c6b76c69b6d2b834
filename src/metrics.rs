//! Metric names. Labels travel in the name (`llm.requests.model.gpt-4o.provider.mock`)
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

/// (metric name, value) pairs to add to counters for one finished exchange.
pub fn counter_updates(facts: &Facts) -> Vec<(String, u64)> {
    let s = suffix(facts);
    let mut out = vec![(format!("llm.requests.{s}"), 1)];
    if let Some(n) = facts.input_tokens {
        out.push((format!("llm.input_tokens.{s}"), n));
    }
    if let Some(n) = facts.output_tokens {
        out.push((format!("llm.output_tokens.{s}"), n));
    }
    if let Some(c) = facts.cost_usd {
        out.push((
            format!("llm.cost_micro_usd.{s}"),
            (c * 1_000_000.0).round() as u64,
        ));
    }
    if let Some(kind) = facts.error {
        out.push((format!("llm.errors.kind.{kind}.{s}"), 1));
    }
    out
}

/// (histogram name, value) pairs for one finished exchange.
pub fn histogram_updates(facts: &Facts) -> Vec<(String, u64)> {
    let s = suffix(facts);
    let mut out = vec![];
    if let Some(d) = facts.duration_ms {
        out.push((format!("llm.request_duration_ms.{s}"), d));
    }
    if let Some(t) = facts.ttft_ms {
        out.push((format!("llm.ttft_ms.{s}"), t));
    }
    if let Some(n) = facts.input_tokens_counted {
        out.push((format!("llm.input_tokens_per_request.{s}"), n));
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

/// The error counter of a request rejected before it had a model or provider.
pub fn rejected_request(kind: &str) -> String {
    format!(
        "llm.errors.kind.{}.model.unknown.provider.none",
        label(kind)
    )
}

/// The counter of one guard rule's action: `llm.guard.rule.<rule>.action.<action>`, the
/// rule's dots as underscores (`pii.email` -> `pii_email`) so the stats tags can cut it.
pub fn guard_action(rule: &str, action: &str) -> String {
    format!("llm.guard.rule.{}.action.{action}", rule.replace('.', "_"))
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
