//! `cache` as the operator writes it, and its compiled form. Absent: the stage is off and
//! responses carry no `x-llm-cache`.

use serde::Deserialize;

use crate::config_error::ConfigError;
use crate::scope::{RawWhen, When};

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
    /// Other settings for some requests; the first override whose `when` matches
    /// applies. Default none.
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
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
    default: Policy,
    overrides: Vec<(When, Policy)>,
}

/// Whether one request is cached, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub enabled: bool,
    pub ttl_s: u64,
}

impl Cache {
    /// The policy for a request on `path` from this caller (first matching override).
    pub fn policy_for(&self, path: &str, group: Option<&str>, consumer: Option<&str>) -> Policy {
        self.overrides
            .iter()
            .find(|(w, _)| w.matches(path, group, consumer))
            .map_or(self.default, |(_, p)| *p)
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
    let default = Policy {
        enabled: raw.enabled.unwrap_or(true),
        ttl_s: ttl("cache.ttl_s", raw.ttl_s, 3600)?,
    };
    let mut overrides = Vec::with_capacity(raw.overrides.len());
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let field = format!("cache.overrides[{i}]");
        let when = When::compile(&field, o.when)?;
        if o.enabled.is_none() && o.ttl_s.is_none() {
            return Err(ConfigError(format!(
                "{field} must set enabled or ttl_s (it changes nothing)"
            )));
        }
        let policy = Policy {
            enabled: o.enabled.unwrap_or(default.enabled),
            ttl_s: ttl(&format!("{field}.ttl_s"), o.ttl_s, default.ttl_s)?,
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
                ttl_s: 3600
            }
        );
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
                ttl_s: 86400
            }
        );
        assert_eq!(
            c.policy_for("/v1/messages", Some("pro"), Some("bob")),
            Policy {
                enabled: true,
                ttl_s: 3600
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
                "cache.overrides[0] must set enabled or ttl_s (it changes nothing)",
            ),
            (
                r#"{"cache":{"overrides":[{"when":{"groups":["x"]},"ttl_s":0}]}}"#,
                "cache.overrides[0].ttl_s must be between 1 and 2592000 (got 0)",
            ),
        ] {
            assert_eq!(err(json), message, "{json}");
        }
        assert!(err(r#"{"cache":{"ttl":5}}"#).contains("unknown field `ttl`"));
    }
}
