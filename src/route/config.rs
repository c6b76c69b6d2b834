//! The `route` section: the providers, public model aliases and the fallback chain, as
//! the operator writes them (serde) and compiled. The `auto` alias router has its own
//! section, `route.auto`, in `super::auto`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::{Api, ProviderFormat};
use crate::config_error::{valid_name, ConfigError};
use crate::errors::UserError;
use crate::providers::features::{self, Feature};

/// The `route` section as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Provider used when no other provider claims the model (or its key is missing).
    pub default_provider: String,
    /// Providers in order of preference; the first whose `models` matches wins.
    pub providers: Vec<RawProvider>,
    /// Routing aliases such as `model: "auto"` (OpenAI chat requests): a tier picked from
    /// cheap signals, and the tier's model. See src/route/auto. Default off.
    pub auto: Option<super::auto::RawRouting>,
    /// Models served by a fallback chain (an Envoy aggregate cluster that retries the next
    /// provider). Absent: no chain; every model goes to one provider.
    pub fallback: Option<RawFallback>,
    /// Public model names served by one provider under the provider's own name, e.g.
    /// `"claude-sonnet": {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929"}`.
    /// The provider's name is what is sent, counted, priced and limited. Default none.
    #[serde(default)]
    pub aliases: BTreeMap<String, RawAlias>,
    /// The provider that holds stored OpenAI Responses: `GET`/`DELETE /v1/responses/{id}`
    /// (and `.../input_items`, `.../cancel`) go there, with its key. Default: the first
    /// provider of format `openai` whose key is present, else `default_provider`.
    pub stored_responses_provider: Option<String>,
}

/// One entry of `route.aliases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    /// One of `route.providers`.
    pub provider: String,
    /// The model name the provider knows.
    pub model: String,
}

/// `route.fallback`: the chain of an Envoy aggregate cluster.
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

/// One entry of `route.providers`.
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
    /// What this provider cannot serve, of `structured_output`, `n`, `logprobs`,
    /// `images`, `tools` (e.g. a small self-hosted text model). A request that needs one
    /// is refused (400) when routed to it, and skipped to the next provider when it is a
    /// hop of the fallback chain. A Claude model's own limits (`n`, `logprobs`) need not
    /// be listed. Default none.
    #[serde(default)]
    pub unsupported: Vec<String>,
}

/// A compiled provider.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    pub format: ProviderFormat,
    pub models: Vec<String>,
    /// The key, read from the environment at configure time. `None`: no key to inject.
    pub api_key: Option<String>,
    /// True when `api_key_env` was configured but the variable is empty.
    pub missing_key: bool,
    /// Features it cannot serve.
    pub unsupported: Vec<Feature>,
}

impl Provider {
    /// The first feature of the request that this provider cannot serve, as the error
    /// its client gets (naming the field that asks for it).
    pub fn cannot_serve(&self, api: Api, req: &Map<String, Value>) -> Option<UserError> {
        let (feature, field) = features::used(api, req)
            .into_iter()
            .find(|(f, _)| self.unsupported.contains(f))?;
        Some(UserError::InvalidRequest {
            message: format!(
                "`{field}` ({}) is not supported by provider {}",
                feature.name(),
                self.name
            ),
            param: Some(field.to_string()),
        })
    }
}

/// The compiled `route` section.
#[derive(Debug, Clone)]
pub struct Route {
    pub default_provider: usize,
    pub providers: Vec<Provider>,
    pub auto: Option<super::auto::Routing>,
    pub fallback: Option<Fallback>,
    /// Public model -> (provider index, provider's model name).
    pub aliases: BTreeMap<String, (usize, String)>,
    /// The provider that holds stored OpenAI Responses (index into `providers`).
    pub stored_responses: usize,
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

/// Compiles the `route` section. `env` looks up the providers' API keys.
pub fn compile(raw: RawRoute, env: &dyn Fn(&str) -> Option<String>) -> Result<Route, ConfigError> {
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
        let mut unsupported = Vec::new();
        for (j, name) in p.unsupported.iter().enumerate() {
            match Feature::from_name(name) {
                Some(f) => unsupported.push(f),
                None => {
                    return Err(ConfigError(format!(
                        "route.providers[{i}].unsupported[{j}] must be one of {} (got {name:?})",
                        Feature::ALL.map(Feature::name).join(", ")
                    )))
                }
            }
        }
        providers.push(Provider {
            name: p.name,
            format,
            models: p.models,
            api_key,
            missing_key,
            unsupported,
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
    let auto = raw.auto.map(super::auto::compile).transpose()?;
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
    let stored_responses = match raw.stored_responses_provider {
        Some(name) => match providers.iter().position(|p| p.name == name) {
            Some(p) if !providers[p].missing_key => p,
            Some(_) => {
                return Err(ConfigError(format!(
                    "route.stored_responses_provider must not need a missing API key (provider {name:?} has none in its api_key_env)"
                )))
            }
            None => {
                return Err(ConfigError(format!(
                    "route.stored_responses_provider must name one of route.providers (got {name:?})"
                )))
            }
        },
        None => providers
            .iter()
            .position(|p| p.format == ProviderFormat::OpenAi && p.api_key.is_some())
            .unwrap_or(default_provider),
    };
    Ok(Route {
        default_provider,
        providers,
        auto,
        fallback,
        aliases,
        stored_responses,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::section;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(json: &[u8], env: &dyn Fn(&str) -> Option<String>) -> Result<Route, ConfigError> {
        compile(section(json, "route")?, env)
    }

    fn err(json: &str) -> String {
        parse(json.as_bytes(), &no_env).unwrap_err().0
    }

    #[test]
    fn invalid_values_name_the_field_and_rule() {
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
        let r = parse(json, &env).unwrap();
        assert_eq!(r.providers[0].api_key.as_deref(), Some("sk-test"));
        assert!(r.providers[1].missing_key);
        assert_eq!(r.default_provider, 2);
    }
}
