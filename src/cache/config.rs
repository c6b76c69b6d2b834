//! `cache` as the operator writes it, and its compiled form. Absent: the stage is off and
//! responses carry no `x-llm-cache`.

use serde::Deserialize;

use crate::config_error::ConfigError;
use crate::scope::{first_match, RawWhen, Subject, When};

/// The sidecar's largest `ttl` by default (`--max-ttl`); a larger `ttl_s` needs the
/// sidecar started with a larger `--max-ttl`, or every store gets 400.
const MAX_TTL_S: u64 = 30 * 86_400;
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// `cache`: the exact response cache, through the cache sidecar.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// The Envoy cluster of the cache sidecar (sidecars/cache). Default `cache_sidecar`.
    pub cluster: Option<String>,
    /// The `:authority` of the calls to it. Default: the cluster name.
    pub authority: Option<String>,
    /// How long a lookup may take, in ms, 1 to 10000; past it Envoy answers the call
    /// with 504 and the request goes to the provider (`x-llm-cache: error`). Default 5.
    pub lookup_timeout_ms: Option<u64>,
    /// How long a store may take, in ms, 1 to 60000. Stores are made from the VM's root
    /// context: the client never waits for them. Default 1000.
    pub store_timeout_ms: Option<u64>,
    /// What a failed lookup (the sidecar down, slow, or answering an error) does: `open`
    /// sends the request to the provider (`x-llm-cache: error`); `closed` refuses it
    /// with 503 (`cache_unavailable`). Default `open`.
    pub fail: Option<String>,
    /// How long an entry lives, in seconds, 1 to 2592000 (30 days); at most the
    /// sidecar's `--max-ttl` (86400 by default). Default 3600.
    pub ttl_s: Option<u64>,
    /// Requests whose `temperature` is above this bypass the cache (neither looked up nor
    /// stored): they ask for variety. 0 to 2. A request without `temperature` is
    /// cached. Default 1.0.
    pub max_temperature: Option<f64>,
    /// The tenant of callers that `identity` does not name: their entries are shared
    /// under this name (the sidecar namespace `a:<name>`). `[A-Za-z0-9_.-]{1,64}`.
    /// Default `anonymous`.
    pub anonymous_namespace: Option<String>,
    /// The largest entry stored, in bytes, 1 to 67108864; a larger answer is not
    /// stored. At most the sidecar's `--max-entry-bytes` (4 MiB by default). Default
    /// 1048576.
    pub max_entry_bytes: Option<u64>,
    /// Whether requests are cached unless an override says otherwise. Default `true`.
    pub enabled: Option<bool>,
    /// The semantic tier (after an exact miss, through the semantic-index sidecar).
    /// Absent: exact only.
    pub semantic: Option<RawSemantic>,
    /// Other settings for some requests; the first override whose `when` matches
    /// applies. Default none.
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
}

/// `cache.semantic`: reworded questions answered from the cache (src/cache/semantic.rs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemantic {
    /// Whether requests the cache stores are also compared by meaning, unless an
    /// override says otherwise. Default `false` (opt in here or per override).
    pub enabled: Option<bool>,
    /// The Envoy cluster of the semantic-index sidecar (sidecars/semantic). Default
    /// `semantic_sidecar`.
    pub cluster: Option<String>,
    /// The `:authority` of the calls to it. Default: the cluster name.
    pub authority: Option<String>,
    /// The cosine similarity a neighbour needs, 0 to 1 (the sidecar's verifier then
    /// rejects hard negatives). Default: the sidecar's `--threshold` (0.64, calibrated
    /// on bench/semantic/dev.jsonl).
    pub threshold: Option<f64>,
    /// How many neighbours a lookup asks for, 1 to 100; the first verified one answers.
    /// Default 3.
    pub k: Option<u64>,
    /// How long a semantic lookup (embed + search + verify) may take, in ms, 1 to
    /// 10000; past it the request goes to the provider (`x-llm-cache: miss`). Default 50.
    pub lookup_timeout_ms: Option<u64>,
    /// How long an upsert may take, in ms, 1 to 60000 (from the root context: the
    /// client never waits). Default 1000.
    pub store_timeout_ms: Option<u64>,
    /// The longest last user turn compared, in bytes, 1 to 16384 (the sidecar's
    /// `--max-text-bytes`); a longer one is exact only. Default 4096.
    pub max_text_bytes: Option<u64>,
}

/// The compiled `cache.semantic` section.
#[derive(Debug, Clone)]
pub struct SemanticTier {
    pub cluster: String,
    pub authority: String,
    pub k: usize,
    pub lookup_timeout_ms: u64,
    pub store_timeout_ms: u64,
    pub max_text_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Which requests (path prefixes, consumer groups, consumers); every condition given
    /// must hold.
    pub when: RawWhen,
    /// Cache these requests or not. Default: `cache.enabled`.
    pub enabled: Option<bool>,
    /// As `cache.ttl_s`, for these requests. Default: `cache.ttl_s`.
    pub ttl_s: Option<u64>,
    /// As `cache.semantic.enabled`, for these requests (needs `cache.semantic`).
    /// Default: `cache.semantic.enabled`.
    pub semantic: Option<bool>,
    /// As `cache.semantic.threshold`, for these requests. Default:
    /// `cache.semantic.threshold`.
    pub semantic_threshold: Option<f64>,
}

/// The compiled `cache` section.
#[derive(Debug, Clone)]
pub struct Cache {
    pub cluster: String,
    pub authority: String,
    pub lookup_timeout_ms: u64,
    pub store_timeout_ms: u64,
    pub fail_closed: bool,
    pub max_temperature: f64,
    pub anonymous_namespace: String,
    pub max_entry_bytes: usize,
    /// `cache.semantic`; `None`: exact only.
    pub semantic: Option<SemanticTier>,
    default: Policy,
    overrides: Vec<(When, Policy)>,
}

/// Whether one request is cached, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub enabled: bool,
    pub ttl_s: u64,
    /// Compared by meaning after an exact miss.
    pub semantic: bool,
    /// The similarity the semantic tier asks for; `None`: the sidecar's.
    pub threshold: Option<f64>,
}

impl Cache {
    /// The policy for a request on `path` from this caller (first matching override).
    pub fn policy_for(&self, path: &str, group: Option<&str>, consumer: Option<&str>) -> Policy {
        *first_match(
            &self.overrides,
            &self.default,
            &Subject::caller(path, group, consumer),
        )
    }
}

fn ranged(
    field: &str,
    value: Option<u64>,
    default: u64,
    range: (u64, u64),
) -> Result<u64, ConfigError> {
    let v = value.unwrap_or(default);
    if v < range.0 || v > range.1 {
        return Err(ConfigError(format!(
            "{field} must be between {} and {} (got {v})",
            range.0, range.1
        )));
    }
    Ok(v)
}

fn ttl(field: &str, value: Option<u64>, default: u64) -> Result<u64, ConfigError> {
    ranged(field, value, default, (1, MAX_TTL_S))
}

fn similarity(field: &str, value: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match value {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(ConfigError(format!(
            "{field} must be between 0 and 1 (got {t})"
        ))),
        other => Ok(other),
    }
}

fn compile_semantic(raw: RawSemantic) -> Result<SemanticTier, ConfigError> {
    let cluster = raw.cluster.unwrap_or_else(|| "semantic_sidecar".into());
    if cluster.is_empty() || cluster.chars().any(char::is_whitespace) {
        return Err(ConfigError(format!(
            "cache.semantic.cluster must be a cluster name without spaces (got {cluster:?})"
        )));
    }
    let authority = raw.authority.unwrap_or_else(|| cluster.clone());
    if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError(format!(
            "cache.semantic.authority must be a host name of visible ASCII (got {authority:?})"
        )));
    }
    Ok(SemanticTier {
        cluster,
        authority,
        k: ranged("cache.semantic.k", raw.k, 3, (1, 100))? as usize,
        lookup_timeout_ms: ranged(
            "cache.semantic.lookup_timeout_ms",
            raw.lookup_timeout_ms,
            50,
            (1, 10_000),
        )?,
        store_timeout_ms: ranged(
            "cache.semantic.store_timeout_ms",
            raw.store_timeout_ms,
            1000,
            (1, 60_000),
        )?,
        max_text_bytes: ranged(
            "cache.semantic.max_text_bytes",
            raw.max_text_bytes,
            4096,
            (1, 16_384),
        )? as usize,
    })
}

pub fn compile(raw: RawCache) -> Result<Cache, ConfigError> {
    let cluster = raw.cluster.unwrap_or_else(|| "cache_sidecar".into());
    if cluster.is_empty() || cluster.chars().any(char::is_whitespace) {
        return Err(ConfigError(format!(
            "cache.cluster must be a cluster name without spaces (got {cluster:?})"
        )));
    }
    let authority = raw.authority.unwrap_or_else(|| cluster.clone());
    if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError(format!(
            "cache.authority must be a host name of visible ASCII (got {authority:?})"
        )));
    }
    let fail_closed = match raw.fail.as_deref() {
        None | Some("open") => false,
        Some("closed") => true,
        Some(other) => {
            return Err(ConfigError(format!(
                "cache.fail must be one of open, closed (got {other:?})"
            )))
        }
    };
    let max_temperature = raw.max_temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&max_temperature) {
        return Err(ConfigError(format!(
            "cache.max_temperature must be between 0 and 2 (got {max_temperature})"
        )));
    }
    let anonymous_namespace = raw
        .anonymous_namespace
        .unwrap_or_else(|| "anonymous".into());
    let plain = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if anonymous_namespace.is_empty()
        || anonymous_namespace.len() > 64
        || !anonymous_namespace.chars().all(plain)
    {
        return Err(ConfigError(format!(
            "cache.anonymous_namespace must be 1-64 characters of [A-Za-z0-9_.-] (got {anonymous_namespace:?})"
        )));
    }
    let semantic_raw = raw.semantic;
    let default = Policy {
        enabled: raw.enabled.unwrap_or(true),
        ttl_s: ttl("cache.ttl_s", raw.ttl_s, 3600)?,
        semantic: semantic_raw
            .as_ref()
            .and_then(|s| s.enabled)
            .unwrap_or(false),
        threshold: similarity(
            "cache.semantic.threshold",
            semantic_raw.as_ref().and_then(|s| s.threshold),
        )?,
    };
    let semantic = semantic_raw.map(compile_semantic).transpose()?;
    let mut overrides = Vec::with_capacity(raw.overrides.len());
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let field = format!("cache.overrides[{i}]");
        let when = When::compile(&field, o.when)?;
        if o.enabled.is_none()
            && o.ttl_s.is_none()
            && o.semantic.is_none()
            && o.semantic_threshold.is_none()
        {
            return Err(ConfigError(format!(
                "{field} must set enabled, ttl_s, semantic or semantic_threshold (it changes nothing)"
            )));
        }
        if (o.semantic.is_some() || o.semantic_threshold.is_some()) && semantic.is_none() {
            return Err(ConfigError(format!(
                "{field}.semantic needs a cache.semantic section (the sidecar to ask)"
            )));
        }
        let threshold = similarity(&format!("{field}.semantic_threshold"), o.semantic_threshold)?;
        let policy = Policy {
            enabled: o.enabled.unwrap_or(default.enabled),
            ttl_s: ttl(&format!("{field}.ttl_s"), o.ttl_s, default.ttl_s)?,
            semantic: o.semantic.unwrap_or(default.semantic),
            threshold: threshold.or(default.threshold),
        };
        overrides.push((when, policy));
    }
    Ok(Cache {
        cluster,
        authority,
        lookup_timeout_ms: ranged(
            "cache.lookup_timeout_ms",
            raw.lookup_timeout_ms,
            5,
            (1, 10_000),
        )?,
        store_timeout_ms: ranged(
            "cache.store_timeout_ms",
            raw.store_timeout_ms,
            1000,
            (1, 60_000),
        )?,
        fail_closed,
        max_temperature,
        anonymous_namespace,
        max_entry_bytes: ranged(
            "cache.max_entry_bytes",
            raw.max_entry_bytes,
            1024 * 1024,
            (1, MAX_ENTRY_BYTES),
        )? as usize,
        semantic,
        default,
        overrides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::section;

    fn parse(json: &str) -> Result<Cache, ConfigError> {
        compile(section::<RawCache>(json.as_bytes(), "cache")?)
    }

    fn err(json: &str) -> String {
        parse(json).unwrap_err().0
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = parse(r#"{"cache":{}}"#).unwrap();
        assert_eq!(
            (c.cluster.as_str(), c.authority.as_str()),
            ("cache_sidecar", "cache_sidecar")
        );
        assert_eq!((c.lookup_timeout_ms, c.store_timeout_ms), (5, 1000));
        assert!(!c.fail_closed);
        assert_eq!(c.max_temperature, 1.0);
        assert_eq!(c.anonymous_namespace, "anonymous");
        assert_eq!(c.max_entry_bytes, 1 << 20);
        assert_eq!(
            c.policy_for("/v1/chat/completions", None, None),
            Policy {
                enabled: true,
                ttl_s: 3600,
                semantic: false,
                threshold: None
            }
        );
        assert!(c.semantic.is_none());
    }

    #[test]
    fn the_semantic_tier_is_opt_in_with_documented_defaults() {
        let c = parse(r#"{"cache":{"semantic":{}}}"#).unwrap();
        let s = c.semantic.as_ref().unwrap();
        assert_eq!(
            (s.cluster.as_str(), s.authority.as_str(), s.k),
            ("semantic_sidecar", "semantic_sidecar", 3)
        );
        assert_eq!((s.lookup_timeout_ms, s.store_timeout_ms), (50, 1000));
        assert_eq!(s.max_text_bytes, 4096);
        let p = c.policy_for("/v1/chat/completions", None, None);
        assert_eq!((p.semantic, p.threshold), (false, None));
        let c = parse(
            r#"{"cache":{"semantic":{"enabled":true,"threshold":0.8},"overrides":[
                {"when":{"groups":["strict"]},"semantic_threshold":0.9},
                {"when":{"paths":["/v1/messages"]},"semantic":false}]}}"#,
        )
        .unwrap();
        let p = c.policy_for("/v1/chat/completions", None, None);
        assert_eq!((p.semantic, p.threshold), (true, Some(0.8)));
        let p = c.policy_for("/v1/chat/completions", Some("strict"), None);
        assert_eq!((p.semantic, p.threshold), (true, Some(0.9)));
        let p = c.policy_for("/v1/messages", None, None);
        assert!(!p.semantic && p.enabled);
    }

    #[test]
    fn overrides_turn_the_cache_off_or_on_by_path_and_group() {
        let c = parse(
            r#"{"cache":{"enabled":false,"overrides":[
                {"when":{"paths":["/v1/embeddings"]},"enabled":true,"ttl_s":86400},
                {"when":{"groups":["pro"]},"enabled":true}]}}"#,
        )
        .unwrap();
        assert!(!c.policy_for("/v1/chat/completions", None, None).enabled);
        assert_eq!(
            c.policy_for("/v1/embeddings?x=1", None, None),
            Policy {
                enabled: true,
                ttl_s: 86400,
                semantic: false,
                threshold: None
            }
        );
        assert_eq!(
            c.policy_for("/v1/messages", Some("pro"), Some("bob")),
            Policy {
                enabled: true,
                ttl_s: 3600,
                semantic: false,
                threshold: None
            }
        );
        assert!(
            !c.policy_for("/v1/messages", Some("free"), Some("al"))
                .enabled
        );
    }

    #[test]
    fn bad_values_name_the_field_and_the_rule() {
        for (json, message) in [
            (
                r#"{"cache":{"ttl_s":0}}"#,
                "cache.ttl_s must be between 1 and 2592000 (got 0)",
            ),
            (
                r#"{"cache":{"lookup_timeout_ms":0}}"#,
                "cache.lookup_timeout_ms must be between 1 and 10000 (got 0)",
            ),
            (
                r#"{"cache":{"fail":"shut"}}"#,
                "cache.fail must be one of open, closed (got \"shut\")",
            ),
            (
                r#"{"cache":{"max_temperature":2.5}}"#,
                "cache.max_temperature must be between 0 and 2 (got 2.5)",
            ),
            (
                r#"{"cache":{"anonymous_namespace":"a/b"}}"#,
                "cache.anonymous_namespace must be 1-64 characters of [A-Za-z0-9_.-] (got \"a/b\")",
            ),
            (
                r#"{"cache":{"max_entry_bytes":0}}"#,
                "cache.max_entry_bytes must be between 1 and 67108864 (got 0)",
            ),
            (
                r#"{"cache":{"cluster":""}}"#,
                "cache.cluster must be a cluster name without spaces (got \"\")",
            ),
            (
                r#"{"cache":{"overrides":[{"when":{},"enabled":false}]}}"#,
                "cache.overrides[0].when must name at least one of paths, groups, consumers",
            ),
            (
                r#"{"cache":{"overrides":[{"when":{"groups":["x"]}}]}}"#,
                "cache.overrides[0] must set enabled, ttl_s, semantic or semantic_threshold (it changes nothing)",
            ),
            (
                r#"{"cache":{"overrides":[{"when":{"groups":["x"]},"semantic":true}]}}"#,
                "cache.overrides[0].semantic needs a cache.semantic section (the sidecar to ask)",
            ),
            (
                r#"{"cache":{"semantic":{"threshold":1.5}}}"#,
                "cache.semantic.threshold must be between 0 and 1 (got 1.5)",
            ),
            (
                r#"{"cache":{"semantic":{},"overrides":[{"when":{"groups":["x"]},"semantic_threshold":-0.1}]}}"#,
                "cache.overrides[0].semantic_threshold must be between 0 and 1 (got -0.1)",
            ),
            (
                r#"{"cache":{"semantic":{"k":0}}}"#,
                "cache.semantic.k must be between 1 and 100 (got 0)",
            ),
            (
                r#"{"cache":{"semantic":{"lookup_timeout_ms":20000}}}"#,
                "cache.semantic.lookup_timeout_ms must be between 1 and 10000 (got 20000)",
            ),
            (
                r#"{"cache":{"semantic":{"max_text_bytes":20000}}}"#,
                "cache.semantic.max_text_bytes must be between 1 and 16384 (got 20000)",
            ),
            (
                r#"{"cache":{"semantic":{"cluster":"a b"}}}"#,
                "cache.semantic.cluster must be a cluster name without spaces (got \"a b\")",
            ),
            (
                r#"{"cache":{"overrides":[{"when":{"groups":["x"]},"ttl_s":0}]}}"#,
                "cache.overrides[0].ttl_s must be between 1 and 2592000 (got 0)",
            ),
        ] {
            assert_eq!(err(json), message, "{json}");
        }
        assert!(err(r#"{"cache":{"ttl":5}}"#).contains("unknown field `ttl`"));
        assert!(err(r#"{"cache":{"semantic":{"on":true}}}"#).contains("unknown field `on`"));
    }
}
