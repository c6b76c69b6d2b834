//! The `limits` section of the plugin configuration: raw serde form, compiled form,
//! and the rules' matching against a request.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config_error::ConfigError;

use super::fleet::{compile_store, RawSidecar, Store};
use super::gcra::Rate;
use super::output::OutputCaps;
use super::slot::slot_key;

/// Raw `limits` section as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Rate and concurrency rules; a request must satisfy every rule that applies to it.
    /// Default none.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Output tokens reserved for a request that sets no `max_tokens`, until the real
    /// usage settles it. Tokens. Default 256.
    #[serde(default = "default_expected_output_tokens")]
    pub expected_output_tokens: u64,
    /// Largest `max_tokens` / `max_completion_tokens` a request may ask of a model that
    /// `model_max_output_tokens` and the built-in table (each model's published maximum,
    /// `src/limits/output.rs`) do not know. Tokens. Default 32768.
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u64,
    /// Output caps by model name or prefix (longest prefix wins), over the built-in
    /// table of published maximums (e.g. 64000 for Claude 4.5 models, 100000 for o3).
    /// Tokens. Default none.
    #[serde(default)]
    pub model_max_output_tokens: BTreeMap<String, u64>,
    /// A request asking for more output than its model's cap: `refuse` (400 naming the
    /// field the client sent) or `clamp` (the field rewritten to the cap). Default
    /// `refuse`.
    pub over_max_output: Option<String>,
    /// Honour a client's `Helicone-RateLimit-Policy` header as an extra, tighter rule for
    /// its own requests. Default false.
    #[serde(default)]
    pub client_policy: bool,
    /// Number of shared-data slots the counters are spread over, 1..=65536. Each slot is
    /// one shared-data key (`llm-gw:v1:slot:{i}`) created at configure time. Only
    /// `store: "shared_data"` uses them. Default 256.
    #[serde(default = "default_slots")]
    pub slots: u32,
    /// Where the counters live: `shared_data` (Envoy's shared data, shared by every
    /// worker of this Envoy) or `sidecar` (the cache sidecar's counters through an Envoy
    /// cluster, shared by every Envoy whose sidecars share one Redis; see `sidecar`).
    /// Default `shared_data`.
    pub store: Option<String>,
    /// The cache sidecar the counters live in when `store` is `sidecar`. Default: every
    /// field's default (cluster `cache_sidecar`).
    pub sidecar: Option<RawSidecar>,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            rules: Vec::new(),
            expected_output_tokens: default_expected_output_tokens(),
            max_output_tokens: default_max_output_tokens(),
            model_max_output_tokens: BTreeMap::new(),
            over_max_output: None,
            client_policy: false,
            slots: default_slots(),
            store: None,
            sidecar: None,
        }
    }
}

fn default_expected_output_tokens() -> u64 {
    256
}
fn default_max_output_tokens() -> u64 {
    32_768
}
fn default_slots() -> u32 {
    256
}

/// One rule. Every limit it sets is counted separately for each scope key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Unique name, 1-64 characters of [a-z0-9_-]; appears in refusals and counter keys.
    pub name: String,
    /// What one counter covers: `consumer` (each consumer; all anonymous callers share
    /// one), `group` (each consumer group; callers without one share one), `model` (each
    /// requested model), `global` (everything the rule applies to).
    pub scope: String,
    /// Apply only to these consumer ids. Default: every caller.
    #[serde(default)]
    pub consumers: Vec<String>,
    /// Apply only to callers in these groups. Default: every caller.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Apply only to models starting with one of these prefixes. Default: every model.
    #[serde(default)]
    pub models: Vec<String>,
    /// Window of the windowed limits: `1s`, `1m`, `1h`, `1d`, or seconds like `30s`
    /// (at most 86400s). Required when any windowed limit is set.
    pub window: Option<String>,
    /// Requests per window.
    pub requests: Option<u64>,
    /// Input tokens per window (as counted before the call, settled with real usage).
    pub input_tokens: Option<u64>,
    /// Output tokens per window (`max_tokens` or `expected_output_tokens` reserved,
    /// settled with real usage).
    pub output_tokens: Option<u64>,
    /// Input plus output tokens per window.
    pub total_tokens: Option<u64>,
    /// Requests in flight at once (not windowed).
    pub concurrent: Option<u64>,
}

/// What a windowed limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Requests,
    InputTokens,
    OutputTokens,
    TotalTokens,
}

impl Counted {
    /// Short form used in counter keys.
    pub fn code(self) -> &'static str {
        match self {
            Counted::Requests => "req",
            Counted::InputTokens => "in",
            Counted::OutputTokens => "out",
            Counted::TotalTokens => "tot",
        }
    }

    /// Human form used in refusals.
    pub fn noun(self) -> &'static str {
        match self {
            Counted::Requests => "requests",
            Counted::InputTokens => "input tokens",
            Counted::OutputTokens => "output tokens",
            Counted::TotalTokens => "tokens",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Consumer,
    Group,
    Model,
    Global,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub scope: Scope,
    pub consumers: Vec<String>,
    pub groups: Vec<String>,
    pub models: Vec<String>,
    /// Window in nanoseconds (0 when the rule sets only `concurrent`).
    pub window_ns: u64,
    /// The window as written (`1m`), for messages.
    pub window_label: String,
    /// Windowed limits: what is counted and how many per window.
    pub windowed: Vec<(Counted, u64)>,
    pub concurrent: Option<u64>,
}

impl Rule {
    pub fn rate(&self, amount: u64) -> Rate {
        Rate {
            window_ns: self.window_ns,
            amount,
        }
    }

    /// Whether the rule applies to a caller; and if so, its scope key.
    pub fn scope_key(
        &self,
        consumer: Option<&str>,
        group: Option<&str>,
        model: &str,
    ) -> Option<String> {
        if !self.consumers.is_empty()
            && !consumer.is_some_and(|c| self.consumers.iter().any(|x| x == c))
        {
            return None;
        }
        if !self.groups.is_empty() && !group.is_some_and(|g| self.groups.iter().any(|x| x == g)) {
            return None;
        }
        if !self.models.is_empty() && !self.models.iter().any(|p| model.starts_with(p.as_str())) {
            return None;
        }
        Some(match self.scope {
            Scope::Consumer => consumer_scope(consumer),
            Scope::Group => match group {
                Some(g) => format!("group:{g}"),
                None => "ungrouped".into(),
            },
            Scope::Model => format!("model:{model}"),
            Scope::Global => "global".into(),
        })
    }
}

/// Scope key of a caller: `consumer:{id}`, or `anonymous`.
pub fn consumer_scope(consumer: Option<&str>) -> String {
    match consumer {
        Some(c) => format!("consumer:{c}"),
        None => "anonymous".into(),
    }
}

/// Compiled `limits` section.
#[derive(Debug, Clone)]
pub struct Limits {
    pub rules: Vec<Rule>,
    pub expected_output_tokens: u64,
    /// Output caps per model (`max_output_tokens` for models the table does not know).
    pub output: OutputCaps,
    pub client_policy: bool,
    pub slots: u32,
    /// Where the counters live.
    pub store: Store,
}

impl Limits {
    /// Every shared-data key the counters live in. The host creates each one at
    /// configure time when it does not exist yet (with [`super::empty_slot_value`]),
    /// and never overwrites an existing one: that would reset live counters.
    pub fn slot_keys(&self) -> Vec<String> {
        (0..self.slots).map(slot_key).collect()
    }

    /// The output tokens to reserve for a request to `model` whose (already capped)
    /// output cap is `requested`: that cap, or `expected_output_tokens` when the request
    /// set none, never more than the model's cap.
    pub fn reserved_output(&self, model: &str, requested: Option<u64>) -> u64 {
        let cap = self.output.cap(model);
        requested.unwrap_or(self.expected_output_tokens).min(cap)
    }
}

/// Parses a window: `1s`, `1m`, `1h`, `1d`, or `Ns` with N in 1..=86400. Nanoseconds.
pub fn parse_window(s: &str) -> Option<u64> {
    let secs = match s {
        "1s" => 1,
        "1m" => 60,
        "1h" => 3600,
        "1d" => 86_400,
        _ => {
            let digits = s.strip_suffix('s')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=86_400).contains(n))?
        }
    };
    Some(secs * 1_000_000_000)
}

/// Compiles and validates the `limits` section.
pub fn compile(raw: RawLimits) -> Result<Limits, ConfigError> {
    let err = |m: String| Err(ConfigError(m));
    if !(1..=65_536).contains(&raw.slots) {
        return err(format!(
            "limits.slots must be between 1 and 65536 (got {})",
            raw.slots
        ));
    }
    if raw.max_output_tokens == 0 {
        return err("limits.max_output_tokens must be > 0 (got 0)".into());
    }
    if raw.expected_output_tokens > raw.max_output_tokens {
        return err(format!(
            "limits.expected_output_tokens must be at most limits.max_output_tokens ({}) (got {})",
            raw.max_output_tokens, raw.expected_output_tokens
        ));
    }
    let mut rules: Vec<Rule> = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        let field = format!("limits.rules[{i}]");
        let valid_name = !r.name.is_empty()
            && r.name.len() <= 64
            && r.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return err(format!(
                "{field}.name must be 1-64 characters of [a-z0-9_-] (got {:?})",
                r.name
            ));
        }
        if rules.iter().any(|q| q.name == r.name) {
            return err(format!(
                "{field}.name must be unique (got {:?} twice)",
                r.name
            ));
        }
        let scope = match r.scope.as_str() {
            "consumer" => Scope::Consumer,
            "group" => Scope::Group,
            "model" => Scope::Model,
            "global" => Scope::Global,
            other => {
                return err(format!(
                    "{field}.scope must be one of consumer, group, model, global (got {other:?})"
                ))
            }
        };
        for (list, values) in [
            ("consumers", &r.consumers),
            ("groups", &r.groups),
            ("models", &r.models),
        ] {
            if let Some(j) = values.iter().position(String::is_empty) {
                return err(format!("{field}.{list}[{j}] must not be empty"));
            }
        }
        let mut windowed = Vec::new();
        for (key, counted, value) in [
            ("requests", Counted::Requests, r.requests),
            ("input_tokens", Counted::InputTokens, r.input_tokens),
            ("output_tokens", Counted::OutputTokens, r.output_tokens),
            ("total_tokens", Counted::TotalTokens, r.total_tokens),
        ] {
            match value {
                Some(0) => return err(format!("{field}.{key} must be > 0 (got 0)")),
                Some(n) => windowed.push((counted, n)),
                None => {}
            }
        }
        if r.concurrent == Some(0) {
            return err(format!("{field}.concurrent must be > 0 (got 0)"));
        }
        if let Some(n) = r.concurrent.filter(|&n| n > u64::from(u32::MAX)) {
            return err(format!(
                "{field}.concurrent must be at most {} (got {n})",
                u32::MAX
            ));
        }
        if windowed.is_empty() && r.concurrent.is_none() {
            return err(format!(
                "{field} must set at least one of requests, input_tokens, output_tokens, total_tokens, concurrent"
            ));
        }
        let (window_ns, window_label) = match (&r.window, windowed.is_empty()) {
            (Some(w), false) => match parse_window(w) {
                Some(ns) => (ns, w.clone()),
                None => {
                    return err(format!(
                        "{field}.window must be one of 1s, 1m, 1h, 1d, or a number of seconds like 30s (got {w:?})"
                    ))
                }
            },
            (None, false) => {
                return err(format!(
                    "{field}.window is required with requests, input_tokens, output_tokens or total_tokens"
                ))
            }
            (Some(_), true) => {
                return err(format!(
                    "{field}.window must only be set with a windowed limit (requests, input_tokens, output_tokens, total_tokens); concurrent is not windowed"
                ))
            }
            (None, true) => (0, String::new()),
        };
        for &(counted, n) in &windowed {
            // Keeps the emission interval T = window / amount at >= 1 ns.
            if n > window_ns {
                return err(format!(
                    "{field}.{} must be at most {window_ns} per {window_label} (got {n})",
                    match counted {
                        Counted::Requests => "requests",
                        Counted::InputTokens => "input_tokens",
                        Counted::OutputTokens => "output_tokens",
                        Counted::TotalTokens => "total_tokens",
                    }
                ));
            }
        }
        rules.push(Rule {
            name: r.name,
            scope,
            consumers: r.consumers,
            groups: r.groups,
            models: r.models,
            window_ns,
            window_label,
            windowed,
            concurrent: r.concurrent,
        });
    }
    let mut limits = Limits {
        rules,
        expected_output_tokens: raw.expected_output_tokens,
        output: OutputCaps::compile(
            raw.model_max_output_tokens,
            raw.max_output_tokens,
            raw.over_max_output.as_deref(),
        )?,
        client_policy: raw.client_policy,
        slots: raw.slots,
        store: Store::SharedData,
    };
    limits.store = compile_store(raw.store.as_deref(), raw.sidecar, &limits)?;
    Ok(limits)
}
