//! Every metric name the module writes, in one place. Labels travel in the name
//! (`llm.requests.gen_ai_request_model.gpt-4o.gen_ai_provider_name.mock.consumer.team-a`)
//! and Envoy's `stats_tags` (envoy/envoy.yaml) turn them into Prometheus labels. Label
//! values are bounded: models are reported by their price-table key or `other`, consumers
//! by the id the identity configuration gives them or `other`.
//!
//! The exchange's metrics follow the OpenTelemetry GenAI conventions
//! (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
//! `gen_ai.server.time_to_first_token`, `gen_ai.server.time_per_output_token`) as far as
//! Envoy's stats allow: attribute names with `_` for `.` (Prometheus label names), and
//! durations in integer milliseconds with the unit in the name, because a proxy-wasm
//! histogram records integers and seconds would lose everything below one. What is ours
//! (cost, cache, guard, limits, the fallback chain) lives under `llm.`, as the
//! conventions keep `gen_ai.` for themselves.

use crate::api::Api;
use crate::facts::Facts;

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

/// `gen_ai.operation.name` of an API: `embeddings`, or `chat` (chat completions,
/// messages and responses all generate a chat answer).
pub fn operation_name(api: Api) -> &'static str {
    match api {
        Api::OpenAiEmbeddings => "embeddings",
        _ => "chat",
    }
}

/// The consumer as a metric label: the id of a consumer the identity configuration
/// lists; any other (e.g. a JWT subject) is `other`, no caller `anonymous`. Never a key.
pub fn consumer_label(config: &crate::config::Config, consumer: Option<&str>) -> String {
    bounded_label(consumer, |id| {
        config
            .identity
            .as_ref()
            .is_some_and(|i| i.consumers.iter().any(|c| c.id == id))
    })
}

/// A caller's value as a bounded label: `anonymous` without one, the value when the
/// configuration `knows` it, else `other`.
fn bounded_label(value: Option<&str>, knows: impl Fn(&str) -> bool) -> String {
    match value {
        None => "anonymous".to_string(),
        Some(v) if knows(v) => label(v),
        Some(_) => "other".to_string(),
    }
}

/// Model and provider labels, shared by the OTel metrics and ours.
fn model_provider(model: &str, provider: &str) -> String {
    format!("gen_ai_request_model.{model}.gen_ai_provider_name.{provider}")
}

/// One metric update for the host to apply: a counter to add to, or a histogram value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    Counter(String, u64),
    Histogram(String, u64),
}

/// The updates of one finished exchange (answered by a provider or by the cache):
/// the OTel GenAI histograms, then our counters, exact where histogram sums are not
/// (Envoy interpolates those) and labelled by consumer.
pub fn of_exchange(config: &crate::config::Config, facts: &Facts) -> Vec<Metric> {
    let mp = model_provider(&model_label(facts), &label(&facts.provider));
    let otel = format!("gen_ai_operation_name.{}.{mp}", operation_name(facts.api));
    let consumer = consumer_label(config, facts.consumer.as_deref());
    let error = facts
        .error
        .map(|kind| format!(".error_type.{kind}"))
        .unwrap_or_default();
    let mut out = vec![];
    if let Some(d) = facts.duration_ms {
        out.push(Metric::Histogram(
            format!("gen_ai.client.operation.duration_milliseconds.{otel}{error}"),
            d,
        ));
    }
    let tokens = token_counts(facts);
    for (kind, n) in &tokens {
        out.push(Metric::Histogram(
            format!("gen_ai.client.token.usage.gen_ai_token_type.{kind}.{otel}"),
            *n,
        ));
    }
    if let Some(t) = facts.ttft_ms {
        out.push(Metric::Histogram(
            format!("gen_ai.server.time_to_first_token_milliseconds.{otel}"),
            t,
        ));
    }
    if let Some(t) = time_per_output_token_ms(facts) {
        out.push(Metric::Histogram(
            format!("gen_ai.server.time_per_output_token_milliseconds.{otel}"),
            t,
        ));
    }
    let ours = format!("{mp}.consumer.{consumer}");
    out.push(Metric::Counter(format!("llm.requests.{ours}{error}"), 1));
    for (kind, n) in tokens {
        out.push(Metric::Counter(
            format!("llm.tokens.gen_ai_token_type.{kind}.{ours}"),
            n,
        ));
    }
    if let Some(c) = facts.cost_usd {
        let micro = (c * 1_000_000.0).round() as u64;
        out.push(Metric::Counter(format!("llm.cost_micro_usd.{ours}"), micro));
    }
    out
}

/// The exchange's tokens by `gen_ai.token.type`: input, output, and cached input (part of
/// input; known with the usage, zero included).
fn token_counts(facts: &Facts) -> Vec<(&'static str, u64)> {
    let mut out = vec![];
    if let Some(n) = facts.input_tokens {
        out.push(("input", n));
    }
    if let Some(n) = facts.output_tokens {
        out.push(("output", n));
        out.push(("cached_input", facts.cached_tokens));
    }
    out
}

/// The mean time per output token after the first, of a successful stream:
/// (duration - time to first token) / (output tokens - 1), as the conventions' server
/// metric defines it. `None` for plain answers, failures, and answers of one token.
pub fn time_per_output_token_ms(facts: &Facts) -> Option<u64> {
    if !facts.stream || facts.error.is_some() {
        return None;
    }
    let (duration, first) = (facts.duration_ms?, facts.ttft_ms?);
    let after_first = facts.output_tokens?.checked_sub(1).filter(|n| *n > 0)?;
    Some(duration.saturating_sub(first) / after_first)
}

/// A consumer group as a metric label: groups the configuration names keep their name;
/// any other (e.g. from a JWT claim) is `other`, so the label set stays bounded.
pub fn group_label(config: &crate::config::Config, group: Option<&str>) -> String {
    bounded_label(group, |group| {
        let in_identity = config
            .identity
            .as_ref()
            .is_some_and(|i| i.consumers.iter().any(|c| c.group == group));
        let in_limits = config
            .limits
            .as_ref()
            .is_some_and(|l| l.rules.iter().any(|r| r.groups.iter().any(|g| g == group)));
        in_identity || in_limits || group == "default"
    })
}

/// A request the gateway refused before a provider saw it (invalid, unauthenticated,
/// blocked by the guard, over a limit): counted in `llm_requests` with its `error_type`.
pub fn rejected_request(kind: &str, consumer: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.requests.{}.consumer.{consumer}.error_type.{}",
            model_provider("unknown", "none"),
            label(kind)
        ),
        1,
    )
}

/// One guard rule's action: `llm_guard_actions{rule="pii_email",action="mask"}`, the
/// rule's dots as underscores so the stats tags can cut it.
pub fn guard_action(rule: &str, action: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.guard_actions.rule.{}.action.{action}",
            rule.replace('.', "_")
        ),
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

/// A request the limits stage refused, by the kind of limit and the rule that refused
/// (a configured rule's name, `@client-policy` or `budget`):
/// `llm_limits_refused{kind,rule,group}`.
pub fn limits_refused(kind: &str, rule: &str, group: &str) -> Metric {
    Metric::Counter(
        format!(
            "llm.limits_refused.kind.{kind}.rule.{}.group.{group}",
            label(rule)
        ),
        1,
    )
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

/// What the cache did for one request (`hit-exact`, `hit-semantic`, `miss`, `bypass`,
/// `error`): `llm_cache_requests{status,gen_ai_request_model}`.
pub fn cache_request(status: &str, model_label: &str) -> Metric {
    Metric::Counter(
        format!("llm.cache_requests.status.{status}.gen_ai_request_model.{model_label}"),
        1,
    )
}

/// What a hit saved: the provider's input + output tokens and their cost at list price
/// in micro-USD (`llm_cache_saved_tokens{gen_ai_request_model}`,
/// `llm_cache_saved_micro_usd{gen_ai_request_model}`).
pub fn cache_saved(model_label: &str, tokens: u64, micro_usd: u64) -> [Metric; 2] {
    [
        Metric::Counter(
            format!("llm.cache_saved_tokens.gen_ai_request_model.{model_label}"),
            tokens,
        ),
        Metric::Counter(
            format!("llm.cache_saved_micro_usd.gen_ai_request_model.{model_label}"),
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

/// An answer sent to the sidecar to be stored (`llm_cache_stores{gen_ai_request_model}`); a store the
/// sidecar fails is counted in `llm_background_call_failures`.
pub fn cache_stored(model_label: &str) -> Metric {
    Metric::Counter(
        format!("llm.cache_stores.gen_ai_request_model.{model_label}"),
        1,
    )
}

/// A 200 answer that was not stored: `too_large` (over `cache.max_entry_bytes`) or
/// `incomplete` (cut, stopped, filtered, or of a shape an entry cannot hold):
/// `llm_cache_store_skips{reason}`.
pub fn cache_store_skipped(reason: &str) -> Metric {
    Metric::Counter(format!("llm.cache_store_skips.reason.{reason}"), 1)
}

/// One attempt of the fallback chain sent to `provider`.
pub fn chain_attempt(provider: &str) -> Metric {
    Metric::Counter(
        format!("llm.chain_attempts.gen_ai_provider_name.{provider}"),
        1,
    )
}

/// One attempt of the fallback chain skipped because `provider` cannot serve the request.
pub fn chain_skip(provider: &str) -> Metric {
    Metric::Counter(
        format!("llm.chain_skips.gen_ai_provider_name.{provider}"),
        1,
    )
}

/// One attempt of the fallback chain that `provider` failed (5xx or 429).
pub fn chain_failure(provider: &str) -> Metric {
    Metric::Counter(
        format!("llm.chain_failures.gen_ai_provider_name.{provider}"),
        1,
    )
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

    fn streamed(duration: u64, ttft: u64, output: u64) -> Facts {
        Facts {
            api: Api::OpenAiChat,
            model: "gpt-4o".into(),
            response_model: None,
            provider: "mock".into(),
            stream: true,
            input_tokens: Some(10),
            input_tokens_counted: Some(10),
            input_accuracy: crate::tokens::Accuracy::Exact,
            output_tokens: Some(output),
            cached_tokens: 4,
            cost_usd: Some(0.000_125),
            price_key: Some("gpt-4o".into()),
            usage_source: Some("provider"),
            error: None,
            status: 200,
            ttft_ms: Some(ttft),
            duration_ms: Some(duration),
            consumer: None,
            consumer_group: None,
            route_reason: None,
        }
    }

    #[test]
    fn time_per_output_token_is_the_mean_after_the_first() {
        assert_eq!(
            time_per_output_token_ms(&streamed(1100, 100, 11)),
            Some(100)
        );
        assert_eq!(time_per_output_token_ms(&streamed(1100, 100, 1)), None);
        let plain = Facts {
            stream: false,
            ..streamed(1100, 100, 11)
        };
        assert_eq!(time_per_output_token_ms(&plain), None);
        let cut = Facts {
            error: Some("stream_cut"),
            ..streamed(1100, 100, 11)
        };
        assert_eq!(time_per_output_token_ms(&cut), None);
    }

    #[test]
    fn an_exchange_reports_the_otel_histograms_and_our_counters() {
        let config = crate::config::Config::parse(br#"{"usage":{}}"#, &|_| None).unwrap();
        let names: Vec<String> = of_exchange(&config, &streamed(1100, 100, 11))
            .into_iter()
            .map(|m| match m {
                Metric::Counter(n, v) => format!("counter {n} {v}"),
                Metric::Histogram(n, v) => format!("histogram {n} {v}"),
            })
            .collect();
        let otel =
            "gen_ai_operation_name.chat.gen_ai_request_model.gpt-4o.gen_ai_provider_name.mock";
        let ours = "gen_ai_request_model.gpt-4o.gen_ai_provider_name.mock.consumer.anonymous";
        assert_eq!(
            names,
            [
                format!("histogram gen_ai.client.operation.duration_milliseconds.{otel} 1100"),
                format!("histogram gen_ai.client.token.usage.gen_ai_token_type.input.{otel} 10"),
                format!("histogram gen_ai.client.token.usage.gen_ai_token_type.output.{otel} 11"),
                format!(
                    "histogram gen_ai.client.token.usage.gen_ai_token_type.cached_input.{otel} 4"
                ),
                format!("histogram gen_ai.server.time_to_first_token_milliseconds.{otel} 100"),
                format!("histogram gen_ai.server.time_per_output_token_milliseconds.{otel} 100"),
                format!("counter llm.requests.{ours} 1"),
                format!("counter llm.tokens.gen_ai_token_type.input.{ours} 10"),
                format!("counter llm.tokens.gen_ai_token_type.output.{ours} 11"),
                format!("counter llm.tokens.gen_ai_token_type.cached_input.{ours} 4"),
                format!("counter llm.cost_micro_usd.{ours} 125"),
            ]
        );
    }

    #[test]
    fn a_failure_carries_its_error_type_and_unknown_consumers_are_other() {
        let config = crate::config::Config::parse(
            br#"{"identity":{"required":false,"consumers":[{"id":"team-a","group":"g"}]}}"#,
            &|_| None,
        )
        .unwrap();
        assert_eq!(consumer_label(&config, Some("team-a")), "team-a");
        assert_eq!(consumer_label(&config, Some("jwt-subject-42")), "other");
        assert_eq!(consumer_label(&config, None), "anonymous");
        let failed = Facts {
            error: Some("upstream_5xx"),
            consumer: Some("team-a".into()),
            ..streamed(1100, 100, 11)
        };
        let metrics = of_exchange(&config, &failed);
        assert!(metrics.contains(&Metric::Counter(
            "llm.requests.gen_ai_request_model.gpt-4o.gen_ai_provider_name.mock.consumer.team-a.error_type.upstream_5xx".into(),
            1
        )));
        assert!(metrics
            .iter()
            .any(|m| matches!(m, Metric::Histogram(n, 1100)
            if n.starts_with("gen_ai.client.operation.duration_milliseconds.")
                && n.ends_with(".error_type.upstream_5xx"))));
    }
}
