//! Errors a client can see: a closed set, each mapped once to a status and to the
//! envelope of the protocol the client speaks. Internal detail goes to the log only.

use serde_json::json;

use crate::config::Format;

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
}

impl UserError {
    pub fn status(&self) -> u32 {
        match self {
            UserError::MalformedBody(_) | UserError::InvalidRequest { .. } => 400,
            UserError::BodyTooLarge { .. } => 413,
        }
    }

    /// The kind used in metrics and the access log.
    pub fn kind(&self) -> &'static str {
        match self {
            UserError::MalformedBody(_) => "malformed_body",
            UserError::InvalidRequest { .. } => "invalid_request",
            UserError::BodyTooLarge { .. } => "body_too_large",
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
        }
    }

    /// The response body in the protocol's own error envelope.
    pub fn envelope(&self, format: Format) -> Vec<u8> {
        let param = match self {
            UserError::InvalidRequest { param, .. } => param.clone(),
            _ => None,
        };
        let code = match self {
            UserError::BodyTooLarge { .. } => "request_too_large",
            _ => "invalid_request_error",
        };
        let body = match format {
            Format::Anthropic => {
                let kind = match self {
                    UserError::BodyTooLarge { .. } => "request_too_large",
                    _ => "invalid_request_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": self.message()}})
            }
            Format::OpenAi | Format::Both => json!({"error": {
                "message": self.message(),
                "type": "invalid_request_error",
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
        let o: Value = serde_json::from_slice(&e.envelope(Format::OpenAi)).unwrap();
        assert_eq!(o["error"]["type"], "invalid_request_error");
        assert_eq!(o["error"]["param"], "messages");
        assert_eq!(o["error"]["code"], "invalid_request_error");
        let a: Value = serde_json::from_slice(&e.envelope(Format::Anthropic)).unwrap();
        assert_eq!(a["type"], "error");
        assert_eq!(a["error"]["type"], "invalid_request_error");
        assert_eq!(a["error"]["message"], "`messages` is required");
        let big = UserError::BodyTooLarge { limit: 10 };
        assert_eq!(big.status(), 413);
        let o: Value = serde_json::from_slice(&big.envelope(Format::OpenAi)).unwrap();
        assert_eq!(o["error"]["code"], "request_too_large");
    }
}
