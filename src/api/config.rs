//! The `api` section: which paths carry LLM traffic, and the body limit, as the operator
//! writes it (serde) and compiled.

use serde::Deserialize;

use crate::config_error::ConfigError;

/// Largest request body the filter will buffer (64 MiB). Envoy's own buffer limit must be
/// raised to match, see `envoy/envoy.yaml`.
pub const MAX_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// The `api` section as the operator writes it.
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

/// The compiled `api` section.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Paths served as OpenAI chat completions.
    pub openai_chat_paths: Vec<String>,
    /// Paths served as Anthropic messages.
    pub anthropic_messages_paths: Vec<String>,
    /// Largest request body accepted on the LLM paths, in bytes.
    pub max_body_bytes: u64,
}

/// Compiles the `api` section: paths are absolute and distinct between the APIs, and the
/// body limit is within `MAX_BODY_LIMIT`.
pub fn compile(api: RawApi) -> Result<ApiConfig, ConfigError> {
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
    Ok(ApiConfig {
        openai_chat_paths: api.openai_chat_paths,
        anthropic_messages_paths: api.anthropic_messages_paths,
        max_body_bytes: api.max_body_bytes,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::section;

    fn err(json: &str) -> String {
        compile(section(json.as_bytes(), "api").unwrap())
            .unwrap_err()
            .0
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
    }
}
