//! The `api` section: which paths carry LLM traffic, and the body limit, as the operator
//! writes it (serde) and compiled.

use serde::Deserialize;

use super::{Api, Endpoint};
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
    /// Paths served as OpenAI embeddings. Default `["/v1/embeddings"]`.
    #[serde(default = "default_embeddings_paths")]
    pub openai_embeddings_paths: Vec<String>,
    /// Paths served as OpenAI Responses. `POST <path>` is an LLM request; `GET`/`DELETE
    /// <path>/{id}`, `GET <path>/{id}/input_items` and `POST <path>/{id}/cancel` reach the
    /// provider that holds stored responses. Default `["/v1/responses"]`.
    #[serde(default = "default_responses_paths")]
    pub openai_responses_paths: Vec<String>,
    /// Paths the gateway answers itself with the models the caller may use: `GET <path>`
    /// lists them, `GET <path>/<id>` shows one (OpenAI's shape; Anthropic's when the
    /// request carries `anthropic-version`). Default `["/v1/models"]`.
    #[serde(default = "default_models_paths")]
    pub models_paths: Vec<String>,
    /// Paths the gateway answers itself with its count of a Messages request's input
    /// tokens (Anthropic's `count_tokens`). Default `["/v1/messages/count_tokens"]`.
    #[serde(default = "default_count_tokens_paths")]
    pub count_tokens_paths: Vec<String>,
    /// Path prefixes passed on to Envoy's route (after the identity stage: the client's
    /// key never leaves the gateway), e.g. `["/v1/files", "/health"]`. Default none.
    #[serde(default)]
    pub allow_paths: Vec<String>,
    /// Any other path: `reject` (404 in the protocol's envelope, so no spelling of an LLM
    /// path skips the stages) or `pass` (on to Envoy's route, after the identity stage).
    /// Default `reject`.
    pub unknown_paths: Option<String>,
    /// Largest request body accepted on the LLM paths, in bytes. Default 33554432
    /// (32 MiB: a few photos as base64 image parts). Larger bodies get 413 with the
    /// protocol's error envelope. Envoy's buffer limit for the request body (the route's
    /// `request_body_buffer_limit`) must be at least this plus one network read.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
}

impl Default for RawApi {
    fn default() -> Self {
        RawApi {
            openai_chat_paths: default_openai_paths(),
            anthropic_messages_paths: default_anthropic_paths(),
            openai_embeddings_paths: default_embeddings_paths(),
            openai_responses_paths: default_responses_paths(),
            models_paths: default_models_paths(),
            count_tokens_paths: default_count_tokens_paths(),
            allow_paths: Vec::new(),
            unknown_paths: None,
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
fn default_embeddings_paths() -> Vec<String> {
    vec!["/v1/embeddings".to_string()]
}
fn default_responses_paths() -> Vec<String> {
    vec!["/v1/responses".to_string()]
}
fn default_models_paths() -> Vec<String> {
    vec!["/v1/models".to_string()]
}
fn default_count_tokens_paths() -> Vec<String> {
    vec!["/v1/messages/count_tokens".to_string()]
}
fn default_max_body_bytes() -> u64 {
    32 * 1024 * 1024
}

/// The compiled `api` section.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Paths served as OpenAI chat completions.
    pub openai_chat_paths: Vec<String>,
    /// Paths served as Anthropic messages.
    pub anthropic_messages_paths: Vec<String>,
    /// Paths served as OpenAI embeddings.
    pub openai_embeddings_paths: Vec<String>,
    /// Paths served as OpenAI Responses (and their stored responses below them).
    pub openai_responses_paths: Vec<String>,
    pub models_paths: Vec<String>,
    pub count_tokens_paths: Vec<String>,
    pub allow_paths: Vec<String>,
    /// Unknown paths pass (`unknown_paths: pass`) instead of getting 404.
    pub pass_unknown: bool,
    /// Largest request body accepted on the LLM paths, in bytes.
    pub max_body_bytes: u64,
}

/// Compiles the `api` section: paths are absolute and distinct between the APIs, and the
/// body limit is within `MAX_BODY_LIMIT`.
pub fn compile(api: RawApi) -> Result<ApiConfig, ConfigError> {
    let lists = [
        ("api.openai_chat_paths", &api.openai_chat_paths),
        (
            "api.anthropic_messages_paths",
            &api.anthropic_messages_paths,
        ),
        ("api.openai_embeddings_paths", &api.openai_embeddings_paths),
        ("api.openai_responses_paths", &api.openai_responses_paths),
        ("api.models_paths", &api.models_paths),
        ("api.count_tokens_paths", &api.count_tokens_paths),
        ("api.allow_paths", &api.allow_paths),
    ];
    for (field, paths) in lists {
        check_paths(field, paths)?;
    }
    for (i, (field, paths)) in lists.iter().enumerate() {
        for (earlier, others) in &lists[..i] {
            if let Some(p) = paths.iter().find(|p| others.contains(p)) {
                return Err(ConfigError(format!(
                    "{field} must not repeat a path of {earlier} (got {p:?} in both)"
                )));
            }
        }
    }
    let pass_unknown = match api.unknown_paths.as_deref() {
        None | Some("reject") => false,
        Some("pass") => true,
        Some(other) => {
            return Err(ConfigError(format!(
                "api.unknown_paths must be one of reject, pass (got {other:?})"
            )))
        }
    };
    if api.max_body_bytes == 0 || api.max_body_bytes > MAX_BODY_LIMIT {
        return Err(ConfigError(format!(
            "api.max_body_bytes must be between 1 and {MAX_BODY_LIMIT} (got {})",
            api.max_body_bytes
        )));
    }
    Ok(ApiConfig {
        openai_chat_paths: api.openai_chat_paths,
        anthropic_messages_paths: api.anthropic_messages_paths,
        openai_embeddings_paths: api.openai_embeddings_paths,
        openai_responses_paths: api.openai_responses_paths,
        models_paths: api.models_paths,
        count_tokens_paths: api.count_tokens_paths,
        allow_paths: api.allow_paths,
        pass_unknown,
        max_body_bytes: api.max_body_bytes,
    })
}

impl ApiConfig {
    /// What a request is for the gateway, by its method and path (query ignored).
    pub fn endpoint(&self, method: &str, path: &str) -> Endpoint {
        let path = path.split('?').next().unwrap_or(path);
        let post = method == "POST";
        let get = method == "GET";
        if let Some(api) = self.api_for_path(path) {
            return if post {
                Endpoint::Llm(api)
            } else {
                Endpoint::WrongMethod
            };
        }
        if self.count_tokens_paths.iter().any(|p| p == path) {
            return if post {
                Endpoint::CountTokens
            } else {
                Endpoint::WrongMethod
            };
        }
        if let Some(endpoint) = self.stored_response(method, path) {
            return endpoint;
        }
        for base in &self.models_paths {
            let id = match path.strip_prefix(base.as_str()) {
                Some("") | Some("/") => None,
                Some(rest) if rest.starts_with('/') => Some(rest[1..].to_string()),
                _ => continue,
            };
            return if get {
                Endpoint::Models { id }
            } else {
                Endpoint::WrongMethod
            };
        }
        if self
            .allow_paths
            .iter()
            .any(|p| path.starts_with(p.as_str()))
            || self.pass_unknown
        {
            Endpoint::Allowed
        } else {
            Endpoint::Unknown
        }
    }

    /// The LLM API a path is served as, if any.
    pub fn api_for_path(&self, path: &str) -> Option<Api> {
        let path = path.split('?').next().unwrap_or(path);
        if self.openai_chat_paths.iter().any(|p| p == path) {
            Some(Api::OpenAiChat)
        } else if self.anthropic_messages_paths.iter().any(|p| p == path) {
            Some(Api::AnthropicMessages)
        } else if self.openai_embeddings_paths.iter().any(|p| p == path) {
            Some(Api::OpenAiEmbeddings)
        } else if self.openai_responses_paths.iter().any(|p| p == path) {
            Some(Api::OpenAiResponses)
        } else {
            None
        }
    }

    /// A stored response below a Responses path: `{id}` (`GET`, `DELETE`),
    /// `{id}/input_items` (`GET`), `{id}/cancel` (`POST`); another method is 405, another
    /// shape below the path is `None` (unknown).
    fn stored_response(&self, method: &str, path: &str) -> Option<Endpoint> {
        let rest = self
            .openai_responses_paths
            .iter()
            .find_map(|base| path.strip_prefix(base.as_str())?.strip_prefix('/'))?;
        let mut parts = rest.split('/');
        parts.next().filter(|id| !id.is_empty())?;
        let allowed: &[&str] = match (parts.next(), parts.next()) {
            (None, _) => &["GET", "DELETE"],
            (Some("input_items"), None) => &["GET"],
            (Some("cancel"), None) => &["POST"],
            _ => return None,
        };
        Some(if allowed.contains(&method) {
            Endpoint::StoredResponse
        } else {
            Endpoint::WrongMethod
        })
    }
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
        assert_eq!(
            err(r#"{"api":{"openai_embeddings_paths":["/v1/chat/completions"]}}"#),
            "api.openai_embeddings_paths must not repeat a path of api.openai_chat_paths (got \"/v1/chat/completions\" in both)"
        );
    }

    #[test]
    fn embeddings_paths_name_the_embeddings_api() {
        let api = compile(RawApi::default()).unwrap();
        assert_eq!(
            api.endpoint("POST", "/v1/embeddings?x=1"),
            Endpoint::Llm(Api::OpenAiEmbeddings)
        );
        assert_eq!(api.endpoint("GET", "/v1/embeddings"), Endpoint::WrongMethod);
        let raw: RawApi =
            serde_json::from_str(r#"{"openai_embeddings_paths":["/embed"]}"#).unwrap();
        let api = compile(raw).unwrap();
        assert_eq!(api.api_for_path("/embed"), Some(Api::OpenAiEmbeddings));
        assert_eq!(api.endpoint("POST", "/v1/embeddings"), Endpoint::Unknown);
    }

    #[test]
    fn responses_paths_and_their_stored_responses() {
        let api = compile(RawApi::default()).unwrap();
        assert_eq!(
            api.endpoint("POST", "/v1/responses?x=1"),
            Endpoint::Llm(Api::OpenAiResponses)
        );
        assert_eq!(api.endpoint("GET", "/v1/responses"), Endpoint::WrongMethod);
        for (method, path) in [
            ("GET", "/v1/responses/resp_1"),
            ("DELETE", "/v1/responses/resp_1"),
            ("GET", "/v1/responses/resp_1/input_items?limit=5"),
            ("POST", "/v1/responses/resp_1/cancel"),
        ] {
            assert_eq!(
                api.endpoint(method, path),
                Endpoint::StoredResponse,
                "{path}"
            );
        }
        assert_eq!(
            api.endpoint("POST", "/v1/responses/resp_1"),
            Endpoint::WrongMethod
        );
        assert_eq!(
            api.endpoint("DELETE", "/v1/responses/resp_1/cancel"),
            Endpoint::WrongMethod
        );
        for path in [
            "/v1/responses/",
            "/v1/responses/resp_1/other",
            "/v1/responses/resp_1/cancel/x",
            "/v1/responsesX",
        ] {
            assert_eq!(api.endpoint("GET", path), Endpoint::Unknown, "{path}");
        }
        assert_eq!(
            err(r#"{"api":{"openai_responses_paths":["/v1/chat/completions"]}}"#),
            "api.openai_responses_paths must not repeat a path of api.openai_chat_paths (got \"/v1/chat/completions\" in both)"
        );
    }
}
