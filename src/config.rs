//! Plugin configuration: the raw JSON form (serde) and the compiled runtime form.
//!
//! Parsed once in `on_configure`. Unknown fields are errors, and every rule that a value
//! breaks is reported with the field's path, e.g.
//! `api.max_body_bytes must be between 1 and 67108864 (got 0)`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::api::{Api, ProviderFormat};
use crate::config_error::valid_name;
pub use crate::config_error::ConfigError;
use crate::pricing::{default_prices, Price, PriceTable};

/// Largest request body the filter will buffer (64 MiB). Envoy's own buffer limit must be
/// raised to match, see `envoy/envoy.yaml`.
pub const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// Raw configuration as the operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Which paths carry LLM traffic, and body limits. Optional; defaults apply.
    #[serde(default)]
    pub api: RawApi,
    /// Who is calling: virtual API keys, JWT claims, trusted headers. Absent: the stage is
    /// off and every caller is anonymous.
    pub identity: Option<crate::identity::RawIdentity>,
    /// Rate limits, token limits, concurrency and budgets. Absent: the stage is off.
    pub limits: Option<crate::limits::RawLimits>,
    /// Provider selection. Absent: requests go wherever Envoy's route sends them, and the
    /// provider is reported by API family (`openai` or `anthropic`).
    pub route: Option<RawRoute>,
    /// Token counting, cost and usage facts. Absent: the stage is off.
    pub usage: Option<RawUsage>,
    /// Guardrails: input validation, prompt injection, PII in and out, leak checks.
    /// Absent: the stage is off. See src/guard.
    pub guard: Option<crate::guard::RawGuard>,
    /// Where this instance of the filter is installed: `downstream` (the listener's HTTP
    /// filters; every stage runs there) or `upstream` (an upstream HTTP filter of the
    /// fallback chain's aggregate cluster, see envoy/FALLBACK.md: per attempt it adapts
    /// the request to the attempt's provider and the answer back, and holds a stream's
    /// headers until its first token). Default `downstream`.
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// Paths served as OpenAI chat completions. Default `["/v1/chat/completions"]`.
    #[serde(default = "default_openai_paths")]
    pub openai_chat_paths: Vec<String>,
    /// Paths served as Anthropic messages. Default `["/v1/messages"]`.
    #[serde(default = "default_anthropic_paths")]
    pub anthropic_messages_paths: Vec<String>,
    /// Largest request body accepted on the LLM paths, in bytes. Default 1048576 (1 MiB).
    /// Larger bodies get 413 with the protocol's error envelope. Envoy's
    /// `per_connection_buffer_limit_bytes` must be at least this plus one network read.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
}

impl Default for RawApi {
    fn default() -> Self {
        RawApi {
            openai_chat_paths: default_openai_paths(),
            anthropic_messages_paths: default_anthropic_paths(),
            max_body_bytes: default_max_body_bytes(),
        }
    }
}

fn default_openai_paths() -> Vec<String> {
    vec!["/v1/chat/completions".to_string()]
}
fn default_anthropic_paths() -> Vec<String> {
    vec!["/v1/messages".to_string()]
}
fn default_max_body_bytes() -> u64 {
    1024 * 1024
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Provider used when no other provider claims the model (or its key is missing).
    pub default_provider: String,
    /// Providers in order of preference; the first whose `models` matches wins.
    pub providers: Vec<RawProvider>,
    /// Routing aliases such as `model: "auto"` (OpenAI chat requests): a tier picked from
    /// cheap signals, and the tier's model. See src/route/auto. Default off.
    pub auto: Option<crate::route::auto::RawRouting>,
    /// Models served by a fallback chain (an Envoy aggregate cluster that retries the next
    /// provider). Absent: no chain; every model goes to one provider.
    pub fallback: Option<RawFallback>,
    /// Public model names served by one provider under the provider's own name, e.g.
    /// `"claude-sonnet": {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929"}`.
    /// The provider's name is what is sent, counted, priced and limited. Default none.
    #[serde(default)]
    pub aliases: BTreeMap<String, RawAlias>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    /// One of `route.providers`.
    pub provider: String,
    /// The model name the provider knows.
    pub model: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    /// The `x-llm-provider` value whose Envoy route leads to the aggregate cluster, also
    /// reported as the provider until an attempt answers. Default `chain`.
    #[serde(default = "default_chain_name")]
    pub name: String,
    /// The providers of the aggregate cluster, in its order (the first is the primary).
    /// Each names one of `route.providers`; the cluster's endpoints carry the same name in
    /// `metadata.filter_metadata.llm_gateway.provider`.
    pub providers: Vec<String>,
    /// Public model name -> the model each provider of `providers` serves for it, in the
    /// same order, e.g. `"gpt-4o-mini": ["gpt-4o-mini", "claude-haiku-4-5", "llama3.2"]`.
    /// Usage, cost and limits account for the model that answered.
    pub models: BTreeMap<String, Vec<String>>,
}

fn default_chain_name() -> String {
    "chain".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// Name reported in `x-llm-provider`, metrics and the access log; also the value of
    /// the `x-llm-provider` request header that Envoy's route matches to pick a cluster.
    pub name: String,
    /// Wire format the provider speaks: `openai`, `anthropic`, or `both` (the mock).
    pub format: String,
    /// Model-name prefixes this provider serves, e.g. `["gpt-", "o3"]`. Empty: none
    /// (only reachable as the default provider).
    #[serde(default)]
    pub models: Vec<String>,
    /// Environment variable of the Envoy process that holds this provider's API key
    /// (exposed to the VM by `vm_config.environment_variables.host_env_keys`). When set
    /// here but empty in the environment, the provider is skipped and its models go to
    /// the default provider. The key is sent upstream only, never to clients or logs.
    pub api_key_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    /// Ask OpenAI-format providers for usage on streams (`stream_options.include_usage`)
    /// when the client did not. The client then also receives the final usage chunk
    /// (`choices: []`). Default true.
    pub request_stream_usage: Option<bool>,
    /// Prices in USD per million tokens, by model name or prefix (longest prefix wins).
    /// Merged over the built-in table; an entry here replaces the built-in one.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// Start from the built-in price table. Default true.
    pub builtin_prices: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million cached input tokens (cache reads). Default: `input`.
    pub cached_input: Option<f64>,
    /// USD per million tokens written to the provider's prompt cache. Default: `input`.
    pub cache_write: Option<f64>,
    /// USD per million output tokens.
    pub output: f64,
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub format: ProviderFormat,
    pub models: Vec<String>,
    /// The key, read from the environment at configure time. `None`: no key to inject.
    pub api_key: Option<String>,
    /// True when `api_key_env` was configured but the variable is empty.
    pub missing_key: bool,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub default_provider: usize,
    pub providers: Vec<Provider>,
    pub auto: Option<crate::route::auto::Routing>,
    pub fallback: Option<Fallback>,
    /// Public model -> (provider index, provider's model name).
    pub aliases: BTreeMap<String, (usize, String)>,
}

/// A compiled fallback chain.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub name: String,
    /// Indexes into `Route::providers`, in chain order.
    pub providers: Vec<usize>,
    /// Public model -> upstream model per chain provider (same order as `providers`).
    pub models: BTreeMap<String, Vec<String>>,
}

impl Fallback {
    /// The model that `provider` serves for the public `model`, when the chain covers it.
    pub fn upstream_model(&self, model: &str, provider: usize) -> Option<&str> {
        let slot = self.providers.iter().position(|p| *p == provider)?;
        self.models.get(model).map(|list| list[slot].as_str())
    }
}

/// Where this instance of the filter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Downstream,
    Upstream,
}

#[derive(Debug, Clone)]
pub struct Usage {
    pub request_stream_usage: bool,
    pub prices: PriceTable,
}

/// Compiled runtime configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub openai_chat_paths: Vec<String>,
    pub anthropic_messages_paths: Vec<String>,
    pub max_body_bytes: u64,
    pub identity: Option<crate::identity::Identity>,
    pub limits: Option<crate::limits::Limits>,
    pub route: Option<Route>,
    pub usage: Option<Usage>,
    pub guard: Option<crate::guard::Guard>,
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
    let api = raw.api;
    check_paths("api.openai_chat_paths", &api.openai_chat_paths)?;
    check_paths(
        "api.anthropic_messages_paths",
        &api.anthropic_messages_paths,
    )?;
    for p in &api.openai_chat_paths {
        if api.anthropic_messages_paths.contains(p) {
            return Err(ConfigError(format!(
                "api.anthropic_messages_paths must not repeat a path of api.openai_chat_paths (got {p:?} in both)"
            )));
        }
    }
    if api.max_body_bytes == 0 || api.max_body_bytes > MAX_BODY_LIMIT {
        return Err(ConfigError(format!(
            "api.max_body_bytes must be between 1 and {MAX_BODY_LIMIT} (got {})",
            api.max_body_bytes
        )));
    }
    let identity = raw.identity.map(crate::identity::compile).transpose()?;
    let limits = raw.limits.map(crate::limits::compile).transpose()?;
    let route = raw.route.map(|r| compile_route(r, env)).transpose()?;
    let usage = raw.usage.map(compile_usage).transpose()?;
    let guard = raw.guard.map(crate::guard::compile).transpose()?;
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
    Ok(Config {
        openai_chat_paths: api.openai_chat_paths,
        anthropic_messages_paths: api.anthropic_messages_paths,
        max_body_bytes: api.max_body_bytes,
        identity,
        limits,
        route,
        usage,
        guard,
        role,
    })
}

fn check_paths(field: &str, paths: &[String]) -> Result<(), ConfigError> {
    for (i, p) in paths.iter().enumerate() {
        if !p.starts_with('/') || p.contains('?') || p.chars().any(char::is_whitespace) {
            return Err(ConfigError(format!(
                "{field}[{i}] must be a path starting with '/' without query or spaces (got {p:?})"
            )));
        }
    }
    Ok(())
}

fn compile_route(
    raw: RawRoute,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Route, ConfigError> {
    if raw.providers.is_empty() {
        return Err(ConfigError(
            "route.providers must list at least one provider (got none)".into(),
        ));
    }
    let mut providers = Vec::with_capacity(raw.providers.len());
    for (i, p) in raw.providers.into_iter().enumerate() {
        let field = format!("route.providers[{i}]");
        if !valid_name(&p.name) {
            return Err(ConfigError(format!(
                "{field}.name must be 1-64 characters of [A-Za-z0-9_-] (got {:?})",
                p.name
            )));
        }
        if providers.iter().any(|q: &Provider| q.name == p.name) {
            return Err(ConfigError(format!(
                "{field}.name must be unique (got {:?} twice)",
                p.name
            )));
        }
        let format = match p.format.as_str() {
            "openai" => ProviderFormat::OpenAi,
            "anthropic" => ProviderFormat::Anthropic,
            "both" => ProviderFormat::Both,
            other => {
                return Err(ConfigError(format!(
                    "{field}.format must be one of openai, anthropic, both (got {other:?})"
                )))
            }
        };
        if let Some(j) = p.models.iter().position(String::is_empty) {
            return Err(ConfigError(format!(
                "{field}.models[{j}] must not be empty"
            )));
        }
        let (api_key, missing_key) = match &p.api_key_env {
            None => (None, false),
            Some(var) if var.is_empty() => {
                return Err(ConfigError(format!(
                    "{field}.api_key_env must not be empty"
                )));
            }
            Some(var) => match env(var).filter(|k| !k.trim().is_empty()) {
                Some(key) => (Some(key.trim().to_string()), false),
                None => (None, true),
            },
        };
        providers.push(Provider {
            name: p.name,
            format,
            models: p.models,
            api_key,
            missing_key,
        });
    }
    let default_provider = providers
        .iter()
        .position(|p| p.name == raw.default_provider)
        .ok_or_else(|| {
            ConfigError(format!(
                "route.default_provider must name one of route.providers (got {:?})",
                raw.default_provider
            ))
        })?;
    if providers[default_provider].missing_key {
        return Err(ConfigError(format!(
            "route.default_provider must not need a missing API key (provider {:?} has none in its api_key_env)",
            raw.default_provider
        )));
    }
    let auto = raw.auto.map(crate::route::auto::compile).transpose()?;
    let fallback = raw
        .fallback
        .map(|f| compile_fallback(f, &providers))
        .transpose()?;
    let mut aliases = BTreeMap::new();
    for (public, a) in raw.aliases {
        let field = format!("route.aliases.{public}");
        let Some(p) = providers.iter().position(|p| p.name == a.provider) else {
            return Err(ConfigError(format!(
                "{field}.provider must name one of route.providers (got {:?})",
                a.provider
            )));
        };
        if public.is_empty() || a.model.is_empty() {
            return Err(ConfigError(format!(
                "{field}: the public name and model must not be empty"
            )));
        }
        aliases.insert(public, (p, a.model));
    }
    Ok(Route {
        default_provider,
        providers,
        auto,
        fallback,
        aliases,
    })
}

fn compile_fallback(raw: RawFallback, providers: &[Provider]) -> Result<Fallback, ConfigError> {
    if !valid_name(&raw.name) {
        return Err(ConfigError(format!(
            "route.fallback.name must be 1-64 characters of [A-Za-z0-9_-] (got {:?})",
            raw.name
        )));
    }
    if providers.iter().any(|p| p.name == raw.name) {
        return Err(ConfigError(format!(
            "route.fallback.name must differ from every provider's name (got {:?})",
            raw.name
        )));
    }
    if raw.providers.len() < 2 {
        return Err(ConfigError(format!(
            "route.fallback.providers must list at least 2 providers (got {})",
            raw.providers.len()
        )));
    }
    let mut chain = Vec::with_capacity(raw.providers.len());
    for (i, name) in raw.providers.iter().enumerate() {
        let Some(p) = providers.iter().position(|p| &p.name == name) else {
            return Err(ConfigError(format!(
                "route.fallback.providers[{i}] must name one of route.providers (got {name:?})"
            )));
        };
        if chain.contains(&p) {
            return Err(ConfigError(format!(
                "route.fallback.providers[{i}] must not repeat a provider (got {name:?} twice)"
            )));
        }
        chain.push(p);
    }
    if raw.models.is_empty() {
        return Err(ConfigError(
            "route.fallback.models must map at least one model (got none)".into(),
        ));
    }
    for (model, list) in &raw.models {
        if model.is_empty() {
            return Err(ConfigError(
                "route.fallback.models must not have an empty model name".into(),
            ));
        }
        if list.len() != chain.len() {
            return Err(ConfigError(format!(
                "route.fallback.models.{model} must list one model per chain provider ({} expected, got {})",
                chain.len(),
                list.len()
            )));
        }
        if let Some(j) = list.iter().position(String::is_empty) {
            return Err(ConfigError(format!(
                "route.fallback.models.{model}[{j}] must not be empty"
            )));
        }
    }
    Ok(Fallback {
        name: raw.name,
        providers: chain,
        models: raw.models,
    })
}

fn compile_usage(raw: RawUsage) -> Result<Usage, ConfigError> {
    let mut prices = if raw.builtin_prices.unwrap_or(true) {
        default_prices()
    } else {
        PriceTable::default()
    };
    for (model, p) in raw.prices {
        let field = format!("usage.prices.{model}");
        if model.is_empty() {
            return Err(ConfigError(
                "usage.prices keys must be non-empty model names".into(),
            ));
        }
        let check = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=100_000.0).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError(format!(
                    "{field}.{name} must be between 0 and 100000 USD per million tokens (got {v})"
                )))
            }
        };
        let input = check("input", p.input)?;
        let price = Price {
            input,
            cached_input: check("cached_input", p.cached_input.unwrap_or(input))?,
            cache_write: check("cache_write", p.cache_write.unwrap_or(input))?,
            output: check("output", p.output)?,
        };
        prices.insert(model, price);
    }
    Ok(Usage {
        request_stream_usage: raw.request_stream_usage.unwrap_or(true),
        prices,
    })
}

impl Config {
    /// The API family a request path belongs to, if any. Query strings are ignored.
    pub fn api_for_path(&self, path: &str) -> Option<Api> {
        let path = path.split('?').next().unwrap_or(path);
        if self.openai_chat_paths.iter().any(|p| p == path) {
            Some(Api::OpenAiChat)
        } else if self.anthropic_messages_paths.iter().any(|p| p == path) {
            Some(Api::AnthropicMessages)
        } else {
            None
        }
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
        assert_eq!(c.max_body_bytes, 1024 * 1024);
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

    #[test]
    fn invalid_values_name_the_field_and_rule() {
        assert_eq!(
            err(r#"{"api":{"max_body_bytes":0}}"#),
            "api.max_body_bytes must be between 1 and 67108864 (got 0)"
        );
        assert_eq!(
            err(r#"{"api":{"openai_chat_paths":["v1/chat"]}}"#),
            "api.openai_chat_paths[0] must be a path starting with '/' without query or spaces (got \"v1/chat\")"
        );
        assert_eq!(
            err(r#"{"usage":{"prices":{"m":{"input":-1,"output":1}}}}"#),
            "usage.prices.m.input must be between 0 and 100000 USD per million tokens (got -1)"
        );
        assert_eq!(
            err(
                r#"{"route":{"default_provider":"x","providers":[{"name":"mock","format":"both"}]}}"#
            ),
            "route.default_provider must name one of route.providers (got \"x\")"
        );
        assert_eq!(
            err(r#"{"route":{"default_provider":"m","providers":[{"name":"m","format":"grpc"}]}}"#),
            "route.providers[0].format must be one of openai, anthropic, both (got \"grpc\")"
        );
    }

    #[test]
    fn provider_keys_come_from_the_environment() {
        let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-test".to_string());
        let json = br#"{"route":{"default_provider":"mock","providers":[
            {"name":"openai","format":"openai","models":["gpt-"],"api_key_env":"OPENAI_API_KEY"},
            {"name":"anthropic","format":"anthropic","models":["claude-"],"api_key_env":"ANTHROPIC_API_KEY"},
            {"name":"mock","format":"both"}]}}"#;
        let c = Config::parse(json, &env).unwrap();
        let r = c.route.unwrap();
        assert_eq!(r.providers[0].api_key.as_deref(), Some("sk-test"));
        assert!(r.providers[1].missing_key);
        assert_eq!(r.default_provider, 2);
    }

    #[test]
    fn configured_prices_override_builtins() {
        let c = Config::parse(
            br#"{"usage":{"prices":{"gpt-4o":{"input":1,"output":2}}}}"#,
            &no_env,
        )
        .unwrap();
        let usage = c.usage.unwrap();
        let p = usage.prices.lookup("gpt-4o-2024-08-06").unwrap().1;
        assert_eq!((p.input, p.cached_input, p.output), (1.0, 1.0, 2.0));
    }
}
