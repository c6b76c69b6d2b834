//! Wire formats: request validation and usage extraction, one file per protocol
//! (openai.rs, anthropic.rs, openai_responses.rs, openai_embeddings.rs), and the
//! translations between them, one folder per client->provider pair (openai_anthropic/,
//! anthropic_openai/, responses_anthropic/) behind translate.rs.

pub mod anthropic;
pub mod anthropic_openai;
pub mod features;
pub(crate) mod fields;
pub mod openai;
pub mod openai_anthropic;
pub mod openai_embeddings;
pub mod openai_responses;
pub mod responses_anthropic;
pub mod stream_end;
pub mod translate;
pub mod translated_stream;
mod upstream_error;

use serde_json::{Map, Value};

use crate::api::Api;
use crate::errors::UserError;

pub use fields::type_name;

/// Validates a request body of `api` and says what the gateway needs to know of it.
pub fn validate_request(api: Api, req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
    match api {
        Api::OpenAiChat => openai::validate_request(req),
        Api::AnthropicMessages => anthropic::validate_request(req),
        Api::OpenAiEmbeddings => openai_embeddings::validate_request(req),
        Api::OpenAiResponses => openai_responses::validate_request(req),
    }
}

/// Usage, text and model of a whole answer of `api`.
pub fn read_response(api: Api, body: &Value) -> ResponsePiece {
    match api {
        Api::OpenAiChat => openai::read_response(body),
        Api::AnthropicMessages => anthropic::read_response(body),
        Api::OpenAiEmbeddings => openai_embeddings::read_response(body),
        Api::OpenAiResponses => openai_responses::read_response(body),
    }
}

/// Usage, text and model of one stream event's `data:` of `api`.
pub fn read_stream_event(api: Api, data: &Value) -> ResponsePiece {
    match api {
        Api::OpenAiChat => openai::read_stream_event(data),
        Api::AnthropicMessages => anthropic::read_stream_event(data),
        // Embeddings never stream; an event is read like a whole answer.
        Api::OpenAiEmbeddings => openai_embeddings::read_response(data),
        Api::OpenAiResponses => openai_responses::read_stream_event(data),
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
    /// The field that holds it, as the client sent it.
    pub max_output_field: &'static str,
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
    /// The event ends the stream: its final event, or an error event.
    pub end: Option<StreamEnd>,
    /// The event's number in its stream (Responses' `sequence_number`).
    pub sequence: Option<u64>,
}

/// How a stream event ends the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The provider's final event (`message_stop`, `response.completed`, ...).
    Done,
    /// An error event: an explicit, if unhappy, end.
    Error,
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
            model: v.get("model").and_then(Value::as_str).map(str::to_string),
            ..ResponsePiece::default()
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
