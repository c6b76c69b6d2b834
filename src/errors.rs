//! Errors a client can see: a closed set, each mapped once to a status and to the
//! envelope of the protocol the client speaks. Internal detail goes to the log only.

use serde_json::json;

use crate::api::Api;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserError {
    /// The body is not valid JSON (or not UTF-8). The message says where.
    MalformedBody(String),
    /// The JSON is well-formed but breaks the API's schema. `param` names the field.
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    /// The body is larger than `api.max_body_bytes`.
    BodyTooLarge { limit: u64 },
    /// No valid credential (unknown, missing or malformed key).
    InvalidApiKey(String),
    /// The consumer may not use this model.
    ModelNotAllowed { model: String },
    /// A request header the gateway reads is malformed.
    InvalidHeader { name: String, message: String },
    /// A rate limit refused the request. `unit` is `requests` or `tokens`.
    RateLimited { message: String, unit: &'static str },
    /// The consumer's budget is spent.
    QuotaExceeded { message: String },
    /// No such endpoint on this gateway (`api.unknown_paths: reject`).
    NotFound { method: String, path: String },
    /// An endpoint of the gateway called with another method.
    MethodNotAllowed { method: String, path: String },
    /// `GET /v1/models/{id}` of a model the caller cannot use or the gateway does not serve.
    ModelNotFound { model: String },
    /// The limits' store (the cache sidecar) could not be asked, and
    /// `limits.sidecar.fail` is `closed`.
    LimitsUnavailable,
    /// The guard stage blocked the request. `category` names the rule (`pii.credit_card`,
    /// `injection`, ...), never the value that triggered it.
    ContentFilter { category: String },
    /// The cache sidecar failed a lookup and `cache.fail` is `closed`: the request was
    /// not sent to the provider.
    CacheUnavailable,
    /// The model's answer did not match the required JSON schema, after the gateway's
    /// retries (`prompt.on_invalid: error`). An upstream failure, not the client's: 502,
    /// with `x-should-retry: false` (the gateway retried already).
    InvalidStructuredOutput { message: String },
}

impl UserError {
    pub fn status(&self) -> u32 {
        match self {
            UserError::MalformedBody(_)
            | UserError::InvalidRequest { .. }
            | UserError::InvalidHeader { .. }
            | UserError::ContentFilter { .. } => 400,
            UserError::BodyTooLarge { .. } => 413,
            UserError::NotFound { .. } | UserError::ModelNotFound { .. } => 404,
            UserError::MethodNotAllowed { .. } => 405,
            UserError::InvalidApiKey(_) => 401,
            UserError::ModelNotAllowed { .. } => 403,
            UserError::RateLimited { .. } | UserError::QuotaExceeded { .. } => 429,
            UserError::CacheUnavailable => 503,
            UserError::LimitsUnavailable => 503,
            UserError::InvalidStructuredOutput { .. } => 502,
        }
    }

    /// The kind used in metrics and the access log.
    pub fn kind(&self) -> &'static str {
        match self {
            UserError::MalformedBody(_) => "malformed_body",
            UserError::InvalidRequest { .. } => "invalid_request",
            UserError::BodyTooLarge { .. } => "body_too_large",
            UserError::InvalidApiKey(_) => "invalid_api_key",
            UserError::ModelNotAllowed { .. } => "model_not_allowed",
            UserError::InvalidHeader { .. } => "invalid_header",
            UserError::RateLimited { .. } => "rate_limited",
            UserError::QuotaExceeded { .. } => "insufficient_quota",
            UserError::ContentFilter { .. } => "content_filter",
            UserError::NotFound { .. } => "not_found",
            UserError::MethodNotAllowed { .. } => "method_not_allowed",
            UserError::ModelNotFound { .. } => "model_not_found",
            UserError::CacheUnavailable => "cache_unavailable",
            UserError::LimitsUnavailable => "limits_unavailable",
            UserError::InvalidStructuredOutput { .. } => "invalid_structured_output",
        }
    }

    pub fn message(&self) -> String {
        match self {
            UserError::MalformedBody(detail) => {
                format!("We could not parse the JSON body of your request: {detail}")
            }
            UserError::InvalidRequest { message, .. } => message.clone(),
            UserError::BodyTooLarge { limit } => {
                format!("Request body is larger than the gateway's limit of {limit} bytes")
            }
            UserError::InvalidApiKey(detail) => format!("Incorrect API key provided: {detail}"),
            UserError::ModelNotAllowed { model } => {
                format!("This API key may not use the model `{model}`")
            }
            UserError::InvalidHeader { name, message } => format!("Header `{name}`: {message}"),
            UserError::RateLimited { message, .. }
            | UserError::QuotaExceeded { message }
            | UserError::InvalidStructuredOutput { message } => message.clone(),
            UserError::ContentFilter { category } => format!(
                "The request was blocked by the gateway's content policy (category: {category})"
            ),
            UserError::NotFound { method, path } => {
                format!("Invalid URL ({method} {path}): this gateway serves no such endpoint")
            }
            UserError::MethodNotAllowed { method, path } => {
                format!("Method {method} is not allowed on {path}")
            }
            UserError::ModelNotFound { model } => {
                format!("The model `{model}` does not exist or you do not have access to it.")
            }
            UserError::CacheUnavailable => {
                "The gateway's response cache is unavailable and this gateway does not answer without it; the request was not sent. Retry later.".to_string()
            }
            UserError::LimitsUnavailable => "The gateway cannot check this request against its rate limits right now. Please try again shortly.".to_string(),
        }
    }

    /// The response body in the protocol's own error envelope.
    pub fn envelope(&self, format: Api) -> Vec<u8> {
        let param = match self {
            UserError::InvalidRequest { param, .. } => param.clone(),
            UserError::InvalidHeader { name, .. } => Some(name.clone()),
            UserError::ModelNotAllowed { .. } => Some("model".to_string()),
            _ => None,
        };
        let (openai_type, code) = match self {
            UserError::BodyTooLarge { .. } => ("invalid_request_error", "request_too_large"),
            UserError::InvalidApiKey(_) => ("invalid_request_error", "invalid_api_key"),
            UserError::ModelNotAllowed { .. } => ("invalid_request_error", "model_not_allowed"),
            UserError::RateLimited { unit, .. } => (*unit, "rate_limit_exceeded"),
            UserError::QuotaExceeded { .. } => ("insufficient_quota", "insufficient_quota"),
            UserError::ContentFilter { .. } => ("invalid_request_error", "content_filter"),
            UserError::NotFound { .. } => ("invalid_request_error", "not_found"),
            UserError::MethodNotAllowed { .. } => ("invalid_request_error", "method_not_allowed"),
            UserError::ModelNotFound { .. } => ("invalid_request_error", "model_not_found"),
            UserError::CacheUnavailable => ("server_error", "cache_unavailable"),
            UserError::LimitsUnavailable => ("server_error", "service_unavailable"),
            UserError::InvalidStructuredOutput { .. } => {
                ("server_error", "invalid_structured_output")
            }
            _ => ("invalid_request_error", "invalid_request_error"),
        };
        let body = match format {
            Api::AnthropicMessages => {
                let kind = match self {
                    UserError::BodyTooLarge { .. } => "request_too_large",
                    UserError::InvalidApiKey(_) => "authentication_error",
                    UserError::ModelNotAllowed { .. } => "permission_error",
                    UserError::NotFound { .. } | UserError::ModelNotFound { .. } => {
                        "not_found_error"
                    }
                    UserError::RateLimited { .. } | UserError::QuotaExceeded { .. } => {
                        "rate_limit_error"
                    }
                    UserError::CacheUnavailable
                    | UserError::LimitsUnavailable
                    | UserError::InvalidStructuredOutput { .. } => "api_error",
                    _ => "invalid_request_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": self.message()}})
            }
            Api::OpenAiChat | Api::OpenAiEmbeddings | Api::OpenAiResponses => json!({"error": {
                "message": self.message(),
                "type": openai_type,
                "param": param,
                "code": code,
            }}),
        };
        body.to_string().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn envelopes_follow_each_protocol() {
        let e = UserError::InvalidRequest {
            message: "`messages` is required".into(),
            param: Some("messages".into()),
        };
        let o: Value = serde_json::from_slice(&e.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert_eq!(o["error"]["param"], "messages");
        assert_eq!(o["error"]["code"], "invalid_request_error");
        let a: Value = serde_json::from_slice(&e.envelope(Api::AnthropicMessages)).unwrap();
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "invalid_request_error");
        assert_eq!(a["error"]["message"], "`messages` is required");
        let big = UserError::BodyTooLarge { limit: 10 };
        assert_eq!(big.status(), 413);
        let o: Value = serde_json::from_slice(&big.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(o["error"]["code"], "request_too_large");
    }

    #[test]
    fn content_filter_names_the_category_only() {
        let e = UserError::ContentFilter {
            category: "pii.credit_card".into(),
        };
        assert_eq!(e.status(), 400);
        let o: Value = serde_json::from_slice(&e.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(o["error"]["code"], "content_filter");
        assert!(o["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pii.credit_card"));
        let a: Value = serde_json::from_slice(&e.envelope(Api::AnthropicMessages)).unwrap();
        assert_eq!(a["error"]["type"], "invalid_request_error");
    }

    #[test]
    fn gateway_refusals_use_the_codes_sdks_know() {
        let limited = UserError::RateLimited {
            message: "Rate limit reached".into(),
            unit: "requests",
        };
        assert_eq!(limited.status(), 429);
        let o: Value = serde_json::from_slice(&limited.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(
            (o["error"]["type"].as_str(), o["error"]["code"].as_str()),
            (Some("requests"), Some("rate_limit_exceeded"))
        );
        let quota = UserError::QuotaExceeded {
            message: "Budget spent".into(),
        };
        let o: Value = serde_json::from_slice(&quota.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(o["error"]["code"], "insufficient_quota");
        let key = UserError::InvalidApiKey("unknown key".into());
        assert_eq!(key.status(), 401);
        let a: Value = serde_json::from_slice(&key.envelope(Api::AnthropicMessages)).unwrap();
        assert_eq!(a["error"]["type"], "authentication_error");
        let o: Value = serde_json::from_slice(&key.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(o["error"]["code"], "invalid_api_key");
        let cache = UserError::CacheUnavailable;
        assert_eq!((cache.status(), cache.kind()), (503, "cache_unavailable"));
        let o: Value = serde_json::from_slice(&cache.envelope(Api::OpenAiResponses)).unwrap();
        assert_eq!(
            (o["error"]["type"].as_str(), o["error"]["code"].as_str()),
            (Some("server_error"), Some("cache_unavailable"))
        );
        let a: Value = serde_json::from_slice(&cache.envelope(Api::AnthropicMessages)).unwrap();
        assert_eq!(a["error"]["type"], "api_error");
    }
}
