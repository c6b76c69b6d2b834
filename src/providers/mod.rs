//! Wire formats: request validation and usage extraction, one file per protocol.

pub mod anthropic;
pub mod anthropic_openai;
pub mod openai;
pub mod openai_anthropic;
pub mod stream_end;
pub mod translate;
pub mod translated_stream;
mod upstream_error;

use serde_json::{Map, Value};

use crate::api::Api;
use crate::errors::UserError;

/// Validates a request body of `api` and says what the gateway needs to know of it.
pub fn validate_request(api: Api, req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
    match api {
        Api::OpenAiChat => openai::validate_request(req),
        Api::AnthropicMessages => anthropic::validate_request(req),
    }
}

/// Usage, text and model of a whole answer of `api`.
pub fn read_response(api: Api, body: &Value) -> ResponsePiece {
    match api {
        Api::OpenAiChat => openai::read_response(body),
        Api::AnthropicMessages => anthropic::read_response(body),
    }
}

/// Usage, text and model of one stream event's `data:` of `api`.
pub fn read_stream_event(api: Api, data: &Value) -> ResponsePiece {
    match api {
        Api::OpenAiChat => openai::read_stream_event(data),
        Api::AnthropicMessages => anthropic::read_stream_event(data),
    }
}

/// What the gateway needs to know about a validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    pub model: String,
    pub stream: bool,
    /// The client itself asked for usage in the stream (OpenAI `stream_options`).
    pub client_wants_stream_usage: bool,
    /// The output cap the client asked for (`max_completion_tokens` / `max_tokens`).
    pub max_output_tokens: Option<u64>,
}

/// Usage as a provider reported it, normalised: `input` counts every input token,
/// cached or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderUsage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cached_input: u64,
    pub cache_write: u64,
}

impl ProviderUsage {
    pub fn is_empty(&self) -> bool {
        self.input.is_none() && self.output.is_none()
    }

    /// Later reports win field by field (Anthropic sends input first, output last).
    pub fn merge(&mut self, later: ProviderUsage) {
        self.input = later.input.or(self.input);
        self.output = later.output.or(self.output);
        self.cached_input = self.cached_input.max(later.cached_input);
        self.cache_write = self.cache_write.max(later.cache_write);
    }
}

/// What one parsed response event or body contributed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResponsePiece {
    pub usage: Option<ProviderUsage>,
    /// Generated text (content, tool arguments), for counting when usage is missing.
    pub text: String,
    pub model: Option<String>,
}

impl ResponsePiece {
    /// The usage and model of a body or event, `usage_of` reading its `usage` object;
    /// the text is for the caller to add.
    pub(crate) fn of(
        v: &Value,
        usage_of: impl FnOnce(&Value) -> Option<ProviderUsage>,
    ) -> ResponsePiece {
        ResponsePiece {
            usage: v.get("usage").and_then(usage_of),
            text: String::new(),
            model: v.get("model").and_then(Value::as_str).map(str::to_string),
        }
    }
}

/// Parses a request body as a JSON object, with precise messages for each failure.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, UserError> {
    if let Err(e) = std::str::from_utf8(body) {
        return Err(UserError::MalformedBody(format!(
            "the body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(UserError::MalformedBody("the body is empty".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(UserError::InvalidRequest {
            message: format!(
                "The request body must be a JSON object (got {})",
                type_name(&other)
            ),
            param: None,
        }),
        Err(e) => Err(UserError::MalformedBody(e.to_string())),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn invalid(param: &str, rule: &str, got: Option<&Value>) -> UserError {
    let got = match got {
        Some(v) => type_name(v),
        None => "nothing",
    };
    UserError::InvalidRequest {
        message: format!("`{param}` {rule} (got {got})"),
        param: Some(param.to_string()),
    }
}

/// `req[key]` as an array, or the error naming the field.
pub(crate) fn required_array<'a>(
    req: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Vec<Value>, UserError> {
    match req.get(key) {
        Some(Value::Array(items)) => Ok(items),
        other => Err(invalid(key, "is required and must be an array", other)),
    }
}

/// A string at `at`, or the error naming it.
pub(crate) fn required_str<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a str, UserError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        other => Err(invalid(at, "is required and must be a string", other)),
    }
}

/// `v[key]` as a string, or the error naming `<at>.<key>`.
pub(crate) fn required_field<'a>(v: &'a Value, at: &str, key: &str) -> Result<&'a str, UserError> {
    required_str(v.get(key), &format!("{at}.{key}"))
}

/// A field whose meaning the provider cannot honour, refused with the reason.
pub(crate) fn unsupported(param: &str, why: &str) -> UserError {
    UserError::InvalidRequest {
        message: format!("`{param}` {why}"),
        param: Some(param.to_string()),
    }
}

/// The client's stop strings (its field `at`) as the provider's `key`, left out when
/// there are none.
pub(crate) fn insert_stops(
    out: &mut Map<String, Value>,
    key: &str,
    list: &[Value],
    at: &str,
) -> Result<(), UserError> {
    for (i, s) in list.iter().enumerate() {
        if !s.is_string() {
            return Err(invalid(&format!("{at}[{i}]"), "must be a string", Some(s)));
        }
    }
    if !list.is_empty() {
        out.insert(key.into(), Value::Array(list.to_vec()));
    }
    Ok(())
}

/// The texts of parts that may only be text (`at` names the list), joined with a blank
/// line; a part of another type is refused, `refusal` saying why.
pub(crate) fn text_parts(
    parts: &[Value],
    at: &str,
    refusal: impl FnOnce(&str) -> String,
) -> Result<String, UserError> {
    let mut texts = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let part_at = format!("{at}[{i}]");
        match required_field(part, &part_at, "type")? {
            "text" => texts.push(required_field(part, &part_at, "text")?),
            other => return Err(unsupported(&format!("{part_at}.type"), &refusal(other))),
        }
    }
    Ok(texts.join("\n\n"))
}

/// A string field whose value is not one of the allowed ones.
pub(crate) fn not_one_of(param: &str, allowed: &str, got: &str) -> UserError {
    UserError::InvalidRequest {
        message: format!("`{param}` must be one of {allowed} (got {got:?})"),
        param: Some(param.to_string()),
    }
}

pub(crate) fn required_model(req: &Map<String, Value>) -> Result<String, UserError> {
    match req.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(m.clone()),
        Some(Value::String(_)) => Err(UserError::InvalidRequest {
            message: "`model` must not be empty".into(),
            param: Some("model".into()),
        }),
        other => Err(invalid("model", "is required and must be a string", other)),
    }
}

pub(crate) fn optional_bool(req: &Map<String, Value>, key: &str) -> Result<bool, UserError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        other => Err(invalid(key, "must be a boolean", other)),
    }
}

pub(crate) fn optional_count(req: &Map<String, Value>, key: &str) -> Result<(), UserError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(()),
        other => Err(invalid(key, "must be a non-negative integer", other)),
    }
}

pub(crate) fn optional_number(req: &Map<String, Value>, key: &str) -> Result<(), UserError> {
    match req.get(key) {
        None | Some(Value::Null) | Some(Value::Number(_)) => Ok(()),
        other => Err(invalid(key, "must be a number", other)),
    }
}

pub(crate) fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// `v[key]` as a count, 0 when absent.
pub(crate) fn count(v: &Value, key: &str) -> u64 {
    u64_at(v, key).unwrap_or(0)
}
