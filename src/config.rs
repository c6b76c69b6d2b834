//! Plugin configuration: the raw JSON form (serde) and the compiled runtime form.
//!
//! Parsed once in `on_configure`. Unknown fields are errors, and every rule that a value
//! breaks is reported with the field's path, e.g.
//! `api.max_body_bytes must be between 1 and 67108864 (got 0)`.
//!
//! Each section's raw form and compile step live with its stage (`api::config`,
//! `identity`, `limits`, `route::config`, `usage::config`, `guard`, `prompt`,
//! `cache::config`); this file holds the document, the `role`, and the checks that span
//! sections.

use serde::Deserialize;

use crate::api::Api;
pub use crate::config_error::ConfigError;
pub use crate::route::config::{Fallback, Provider, Route};
pub use crate::usage::config::Usage;

/// Raw configuration as the operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Which paths carry LLM traffic, and body limits. Optional; defaults apply.
    #[serde(default)]
    pub api: crate::api::config::RawApi,
    /// Who is calling: virtual API keys, JWT claims, trusted headers. Absent: the stage is
    /// off and every caller is anonymous.
    pub identity: Option<crate::identity::RawIdentity>,
    /// Rate limits, token limits, concurrency and budgets. Absent: the stage is off.
    pub limits: Option<crate::limits::RawLimits>,
    /// Provider selection. Absent: requests go wherever Envoy's route sends them, and the
    /// provider is reported by API family (`openai` or `anthropic`).
    pub route: Option<crate::route::config::RawRoute>,
    /// Token counting, cost and usage facts. Absent: the stage is off.
    pub usage: Option<crate::usage::config::RawUsage>,
    /// Guardrails: input validation, prompt injection, PII in and out, leak checks.
    /// Absent: the stage is off. See src/guard.
    pub guard: Option<crate::guard::RawGuard>,
    /// The exact response cache, through the cache sidecar. Absent: the stage is off.
    /// See src/cache/config.rs.
    pub cache: Option<crate::cache::RawCache>,
    /// The prompt engine: decorators, templates, chain-of-thought, structured output.
    /// Absent: the stage is off. See src/prompt.
    pub prompt: Option<crate::prompt::RawPrompt>,
    /// Where this instance of the filter is installed: `downstream` (the listener's HTTP
    /// filters; every stage runs there) or `upstream` (an upstream HTTP filter of the
    /// fallback chain's aggregate cluster, see envoy/FALLBACK.md: per attempt it adapts
    /// the request to the attempt's provider and the answer back, and holds a stream's
    /// headers until its first token). Default `downstream`.
    pub role: Option<String>,
}

/// Where this instance of the filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Downstream,
    Upstream,
}

/// Compiled runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `api` section: which paths are what, the body limit.
    pub api: crate::api::config::ApiConfig,
    pub identity: Option<crate::identity::Identity>,
    pub limits: Option<crate::limits::Limits>,
    pub route: Option<Route>,
    pub usage: Option<Usage>,
    pub guard: Option<crate::guard::Guard>,
    pub cache: Option<crate::cache::Cache>,
    pub prompt: Option<crate::prompt::Prompt>,
    pub role: Role,
}

impl Config {
    /// Parses and compiles a configuration. `env` looks up environment variables (the
    /// host passes `std::env::var`; tests pass a map).
    pub fn parse(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let raw: RawConfig = if json.iter().all(|b| b.is_ascii_whitespace()) {
            RawConfig::default()
        } else {
            serde_json::from_slice(json).map_err(|e| ConfigError(e.to_string()))?
        };
        compile(raw, env)
    }
}

fn compile(raw: RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let api = crate::api::config::compile(raw.api)?;
    let identity = raw.identity.map(crate::identity::compile).transpose()?;
    let limits = raw.limits.map(crate::limits::compile).transpose()?;
    let route = raw
        .route
        .map(|r| crate::route::config::compile(r, env))
        .transpose()?;
    let usage = raw.usage.map(crate::usage::config::compile).transpose()?;
    let guard = raw.guard.map(crate::guard::compile).transpose()?;
    let cache = raw.cache.map(crate::cache::config::compile).transpose()?;
    let prompt = raw.prompt.map(crate::prompt::compile).transpose()?;
    let role = match raw.role.as_deref() {
        None | Some("downstream") => Role::Downstream,
        Some("upstream") => Role::Upstream,
        Some(other) => {
            return Err(ConfigError(format!(
                "role must be one of downstream, upstream (got {other:?})"
            )))
        }
    };
    if role == Role::Upstream && route.as_ref().and_then(|r| r.fallback.as_ref()).is_none() {
        return Err(ConfigError(
            "route.fallback must be set when role is upstream (the attempt filter serves a fallback chain)".into(),
        ));
    }
    if role == Role::Upstream && cache.is_some() {
        return Err(ConfigError(
            "cache must not be set when role is upstream (the cache stage runs in the downstream filter)".into(),
        ));
    }
    Ok(Config {
        api,
        identity,
        limits,
        route,
        usage,
        guard,
        cache,
        prompt,
        role,
    })
}

impl Config {
    /// What the route stage's plan reads of the other sections.
    pub fn plan_rules(&self) -> crate::route::plan::PlanRules<'_> {
        crate::route::plan::PlanRules {
            route: self.route.as_ref(),
            max_body_bytes: self.api.max_body_bytes,
            count_tokens: self.usage.is_some() || self.limits.is_some(),
            request_stream_usage: self.usage.as_ref().is_some_and(|u| u.request_stream_usage),
            output_caps: self.limits.as_ref().map(|l| &l.output),
        }
    }

    /// The LLM API a request path is served as, if any. Query strings are ignored.
    pub fn api_for_path(&self, path: &str) -> Option<Api> {
        self.api.api_for_path(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn err(json: &str) -> String {
        Config::parse(json.as_bytes(), &no_env).unwrap_err().0
    }

    #[test]
    fn empty_config_uses_defaults() {
        let c = Config::parse(b"", &no_env).unwrap();
        assert_eq!(c.api.max_body_bytes, 32 * 1024 * 1024);
        assert_eq!(
            c.api_for_path("/v1/chat/completions?x=1"),
            Some(Api::OpenAiChat)
        );
        assert_eq!(c.api_for_path("/v1/messages"), Some(Api::AnthropicMessages));
        assert_eq!(c.api_for_path("/v1/models"), None);
        assert!(c.usage.is_none());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        assert!(err(r#"{"usage":{"pricez":{}}}"#).contains("unknown field `pricez`"));
        assert!(err(r#"{"bogus":1}"#).contains("unknown field `bogus`"));
    }
}
