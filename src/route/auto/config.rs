//! The `routing` section of the plugin configuration: raw serde form, compiled form,
//! and the rules' matching against a request.
//!
//! ```json
//! {"aliases": {"auto": {"tiers": {"simple": "gpt-4o-mini", "moderate": "gpt-4.1", "complex": "o3"}}},
//!  "rules": [{"when": {"header": {"name": "x-llm-tier", "value": "complex"}}, "tier": "complex"},
//!            {"when": {"groups": ["free"]}, "forbid": ["o3"]},
//!            {"when": {"paths": ["/v1/cheap/chat/completions"]}, "pin": "gpt-4o-mini"}],
//!  "thresholds": {"moderate_at": 3, "complex_at": 6}}
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config_error::ConfigError;

use super::signals::Weights;
use super::Tier;

/// Raw `routing` section as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    /// Routing aliases by the model name clients send (e.g. `auto`). A request whose
    /// `model` is an alias gets a tier from its signals and the tier's model. Required,
    /// at least one.
    pub aliases: BTreeMap<String, RawAlias>,
    /// Rules that pin a model or a tier, or forbid models, for matching requests.
    /// Evaluated in order; see [`Action`] for how matching rules combine. Default none.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Score cut-offs and signal limits. Default: the values documented on each field.
    #[serde(default)]
    pub thresholds: RawThresholds,
    /// Points each signal adds to the score. Default: the values documented on each field.
    #[serde(default)]
    pub weights: RawWeights,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    /// Model of each tier, by tier name (`simple`, `moderate`, `complex`). At least one;
    /// a missing tier is treated like a forbidden one (the nearest configured tier serves).
    pub tiers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// When the rule applies; every condition set must hold. At least one condition.
    pub when: RawWhen,
    /// Use this model, whatever the score. Must be one of the alias's tier models or any
    /// other model name the route section serves.
    pub pin: Option<String>,
    /// Use this tier (`simple`, `moderate`, `complex`), whatever the score.
    pub tier: Option<String>,
    /// Never route to these models; a tier whose model is forbidden falls to the nearest
    /// allowed tier (the cheaper one on a tie).
    pub forbid: Option<Vec<String>>,
    /// Apply only to these aliases. Default: every alias.
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    /// A request header equals a value (header names compared lower-case, values exactly).
    pub header: Option<RawHeaderMatch>,
    /// The caller's consumer group is one of these.
    pub groups: Option<Vec<String>>,
    /// The request path (the `:path` header without its query) is one of these.
    pub paths: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderMatch {
    /// Header name, e.g. `x-llm-tier`.
    pub name: String,
    /// Exact value the header must have.
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThresholds {
    /// Score at or above which a request is `moderate`. Points. Default 3.
    pub moderate_at: Option<i32>,
    /// Score at or above which a request is `complex`; must be > `moderate_at`. Points.
    /// Default 7.
    pub complex_at: Option<i32>,
    /// Input tokens from which the `tokens>` signal fires. Tokens. Default 1500.
    pub long_input_tokens: Option<u64>,
    /// Input tokens from which the stronger `tokens>` signal fires (replacing the first);
    /// must be > `long_input_tokens`. Tokens. Default 8000.
    pub very_long_input_tokens: Option<u64>,
    /// Messages in the conversation from which the `deep_conversation` signal fires.
    /// Messages. Default 10.
    pub deep_conversation_messages: Option<u64>,
    /// Most bytes of user text scanned for cues, newest message first; the rest of a long
    /// conversation is judged by its token count only. Bytes. Default 8192 (about 0.2 ms
    /// of cue search natively; the cost grows linearly).
    pub max_scan_bytes: Option<usize>,
}

/// Points per signal. Every field: points added when the signal fires, -20..=20.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeights {
    /// A proof / derivation / "step by step" cue, in any supported language. Default 7.
    pub reasoning_cue: Option<i32>,
    /// An analysis / design / comparison / optimisation cue. Default 3.
    pub analysis_cue: Option<i32>,
    /// At least two distinct analysis cues (added to `analysis_cue`). Default 2.
    pub analysis_depth: Option<i32>,
    /// At least three distinct analysis cues (added to the two above). Default 2.
    pub analysis_breadth: Option<i32>,
    /// An ordinary task beyond a lookup: explain, write, summarise, draft, fix, why.
    /// Default 3.
    pub task_cue: Option<i32>,
    /// A fenced code block (```). Default 2.
    pub code_block: Option<i32>,
    /// Code-like text without fences (keywords, `;`/`{` line ends, stack traces); not
    /// counted when `code_block` fired. Default 1.
    pub code_like: Option<i32>,
    /// A coding or debugging request (write a function, fix this bug). Default 1.
    pub coding_cue: Option<i32>,
    /// Math notation (LaTeX, math symbols, `x^2`). Default 2.
    pub math: Option<i32>,
    /// An explicit length demand ("in detail", "2000 words", "자세히"). Default 1.
    pub length_demand: Option<i32>,
    /// Several numbered sub-tasks or questions in one request. Default 1.
    pub multi_part: Option<i32>,
    /// Tools (or legacy functions) are offered. Default 2.
    pub tools: Option<i32>,
    /// `response_format` asks for a `json_schema`. Default 1.
    pub json_schema: Option<i32>,
    /// Input tokens at or above `long_input_tokens`. Default 2.
    pub long_input: Option<i32>,
    /// Input tokens at or above `very_long_input_tokens` (instead of `long_input`).
    /// Default 4.
    pub very_long_input: Option<i32>,
    /// Conversation of at least `deep_conversation_messages` messages. Default 1.
    pub deep_conversation: Option<i32>,
    /// A lookup / brevity / simple-rewrite cue ("what is", "translate", "in one
    /// sentence"). Usually negative. Default -2.
    pub simple_cue: Option<i32>,
}

/// What a rule's condition needs.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    /// Lower-case header name and the exact value.
    pub header: Option<(String, String)>,
    pub groups: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
}

/// What a matching rule does. Matching rules combine as: forbids add up; the first
/// matching `Pin` or `Tier` fixes the choice; a forbidden model is never chosen, not even
/// when pinned (a forbidden pin is ignored and the score decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Pin(String),
    Tier(Tier),
    Forbid(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub when: Condition,
    pub action: Action,
    /// Aliases the rule applies to; empty: all.
    pub aliases: Vec<String>,
}

impl Rule {
    /// Whether the rule applies to a request.
    pub fn matches(
        &self,
        alias: &str,
        group: Option<&str>,
        header: &dyn Fn(&str) -> Option<String>,
    ) -> bool {
        if !self.aliases.is_empty() && !self.aliases.iter().any(|a| a == alias) {
            return false;
        }
        if let Some(groups) = &self.when.groups {
            if !group.is_some_and(|g| groups.iter().any(|x| x == g)) {
                return false;
            }
        }
        if let Some((name, value)) = &self.when.header {
            if header(name).as_deref() != Some(value.as_str()) {
                return false;
            }
        }
        if let Some(paths) = &self.when.paths {
            let path = header(":path").unwrap_or_default();
            let path = path.split('?').next().unwrap_or_default();
            if !paths.iter().any(|p| p == path) {
                return false;
            }
        }
        true
    }
}

/// A compiled alias: the model of each tier, if configured.
#[derive(Debug, Clone)]
pub struct Alias {
    /// Indexed by `Tier as usize`.
    pub tiers: [Option<String>; 3],
}

impl Alias {
    pub fn model(&self, tier: Tier) -> Option<&str> {
        self.tiers[tier as usize].as_deref()
    }
}

/// Compiled thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    pub moderate_at: i32,
    pub complex_at: i32,
    pub long_input_tokens: u64,
    pub very_long_input_tokens: u64,
    pub deep_conversation_messages: u64,
    pub max_scan_bytes: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            moderate_at: 3,
            complex_at: 7,
            long_input_tokens: 1500,
            very_long_input_tokens: 8000,
            deep_conversation_messages: 10,
            max_scan_bytes: 8 * 1024,
        }
    }
}

/// Compiled `routing` section.
#[derive(Debug, Clone)]
pub struct Routing {
    pub aliases: BTreeMap<String, Alias>,
    pub rules: Vec<Rule>,
    pub thresholds: Thresholds,
    pub weights: Weights,
}

impl Routing {
    /// Whether a requested model name is a routing alias.
    pub fn is_alias(&self, model: &str) -> bool {
        self.aliases.contains_key(model)
    }
}

/// Names that end up in the `x-llm-route-reason` header must be short printable ASCII.
fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
}

fn check_model(field: &str, model: &str) -> Result<(), ConfigError> {
    if valid_name(model, 128) {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{field} must be a model name of 1-128 printable ASCII characters without spaces (got {model:?})"
        )))
    }
}

fn parse_tier(field: &str, s: &str) -> Result<Tier, ConfigError> {
    Tier::from_name(s).ok_or_else(|| {
        ConfigError(format!(
            "{field} must be one of simple, moderate, complex (got {s:?})"
        ))
    })
}

/// Compiles and validates the `routing` section.
pub fn compile(raw: RawRouting) -> Result<Routing, ConfigError> {
    let err = |m: String| Err(ConfigError(m));
    if raw.aliases.is_empty() {
        return err("routing.aliases must name at least one alias (got none)".into());
    }
    let mut aliases = BTreeMap::new();
    for (name, a) in raw.aliases {
        let field = format!("routing.aliases.{name}");
        if !valid_name(&name, 64) {
            return err(format!(
                "routing.aliases keys must be 1-64 printable ASCII characters without spaces (got {name:?})"
            ));
        }
        if a.tiers.is_empty() {
            return err(format!(
                "{field}.tiers must map at least one of simple, moderate, complex to a model (got none)"
            ));
        }
        let mut tiers: [Option<String>; 3] = Default::default();
        for (tier, model) in a.tiers {
            let t = parse_tier(&format!("{field}.tiers keys"), &tier)?;
            check_model(&format!("{field}.tiers.{tier}"), &model)?;
            tiers[t as usize] = Some(model);
        }
        aliases.insert(name, Alias { tiers });
    }

    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, r) in raw.rules.into_iter().enumerate() {
        let field = format!("routing.rules[{i}]");
        let w = r.when;
        if w.header.is_none() && w.groups.is_none() && w.paths.is_none() {
            return err(format!(
                "{field}.when must set at least one of header, groups, paths"
            ));
        }
        let header = match w.header {
            None => None,
            Some(h) => {
                let valid = !h.name.is_empty()
                    && h.name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
                if !valid {
                    return err(format!(
                        "{field}.when.header.name must be a header name of [A-Za-z0-9_:-] (got {:?})",
                        h.name
                    ));
                }
                Some((h.name.to_ascii_lowercase(), h.value))
            }
        };
        for (list, values) in [("groups", &w.groups), ("paths", &w.paths)] {
            match values {
                Some(v) if v.is_empty() => {
                    return err(format!(
                        "{field}.when.{list} must list at least one value (got none)"
                    ))
                }
                Some(v) => {
                    if let Some(j) = v.iter().position(String::is_empty) {
                        return err(format!("{field}.when.{list}[{j}] must not be empty"));
                    }
                }
                None => {}
            }
        }
        if let Some(paths) = &w.paths {
            for (j, p) in paths.iter().enumerate() {
                if !p.starts_with('/') || p.contains('?') {
                    return err(format!(
                        "{field}.when.paths[{j}] must be a path starting with '/' without query (got {p:?})"
                    ));
                }
            }
        }
        let action = match (r.pin, r.tier, r.forbid) {
            (Some(model), None, None) => {
                check_model(&format!("{field}.pin"), &model)?;
                Action::Pin(model)
            }
            (None, Some(tier), None) => Action::Tier(parse_tier(&format!("{field}.tier"), &tier)?),
            (None, None, Some(models)) => {
                if models.is_empty() {
                    return err(format!(
                        "{field}.forbid must list at least one model (got none)"
                    ));
                }
                for (j, m) in models.iter().enumerate() {
                    check_model(&format!("{field}.forbid[{j}]"), m)?;
                }
                Action::Forbid(models)
            }
            _ => return err(format!("{field} must set exactly one of pin, tier, forbid")),
        };
        for (j, a) in r.aliases.iter().enumerate() {
            if !aliases.contains_key(a) {
                return err(format!(
                    "{field}.aliases[{j}] must name one of routing.aliases (got {a:?})"
                ));
            }
        }
        rules.push(Rule {
            when: Condition {
                header,
                groups: w.groups,
                paths: w.paths,
            },
            action,
            aliases: r.aliases,
        });
    }

    let d = Thresholds::default();
    let t = raw.thresholds;
    let thresholds = Thresholds {
        moderate_at: t.moderate_at.unwrap_or(d.moderate_at),
        complex_at: t.complex_at.unwrap_or(d.complex_at),
        long_input_tokens: t.long_input_tokens.unwrap_or(d.long_input_tokens),
        very_long_input_tokens: t.very_long_input_tokens.unwrap_or(d.very_long_input_tokens),
        deep_conversation_messages: t
            .deep_conversation_messages
            .unwrap_or(d.deep_conversation_messages),
        max_scan_bytes: t.max_scan_bytes.unwrap_or(d.max_scan_bytes),
    };
    if thresholds.complex_at <= thresholds.moderate_at {
        return err(format!(
            "routing.thresholds.complex_at must be > routing.thresholds.moderate_at ({}) (got {})",
            thresholds.moderate_at, thresholds.complex_at
        ));
    }
    if thresholds.long_input_tokens == 0 {
        return err("routing.thresholds.long_input_tokens must be > 0 (got 0)".into());
    }
    if thresholds.very_long_input_tokens <= thresholds.long_input_tokens {
        return err(format!(
            "routing.thresholds.very_long_input_tokens must be > routing.thresholds.long_input_tokens ({}) (got {})",
            thresholds.long_input_tokens, thresholds.very_long_input_tokens
        ));
    }
    if thresholds.deep_conversation_messages < 2 {
        return err(format!(
            "routing.thresholds.deep_conversation_messages must be >= 2 (got {})",
            thresholds.deep_conversation_messages
        ));
    }
    if !(256..=1024 * 1024).contains(&thresholds.max_scan_bytes) {
        return err(format!(
            "routing.thresholds.max_scan_bytes must be between 256 and 1048576 (got {})",
            thresholds.max_scan_bytes
        ));
    }
    let weights = Weights::compile(raw.weights)?;
    Ok(Routing {
        aliases,
        rules,
        thresholds,
        weights,
    })
}
