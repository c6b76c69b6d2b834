//! OpenAI chat-completions answers -> Anthropic Messages answers: whole bodies and
//! error envelopes, so the `anthropic` SDK can use a model behind an OpenAI-format
//! backend unchanged.
//!
//! Usage follows Anthropic's meaning: `input_tokens` counts only uncached input, cached
//! input is `cache_read_input_tokens` (OpenAI's `prompt_tokens` counts both). Reasoning
//! text some backends add (`reasoning_content`) is dropped: the client did not ask for
//! thinking (`request.rs` refuses it), and Anthropic thinking blocks need a signature no
//! backend can give.

use serde_json::{json, Value};

use crate::providers::fields::count;
use crate::providers::openai::cached_tokens;
use crate::providers::upstream_error;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        // stop, eos (some servers) and reasons added later.
        _ => "end_turn",
    }
}

/// (stop_reason, stop_sequence) of a finished choice. vLLM names the stop string that
/// matched in `stop_reason`; OpenAI does not say, so its stops read as `end_turn`. A
/// `stop` beside tool calls is `tool_use` (Ollama answers tool calls with `stop`, and
/// Anthropic clients run tools only on `tool_use`); a refusal is `refusal`.
pub(super) fn stop_of(
    choice: &Value,
    finish: &str,
    has_tools: bool,
    refused: bool,
) -> (&'static str, Value) {
    if refused {
        return ("refusal", Value::Null);
    }
    if finish == "stop" {
        if has_tools {
            return ("tool_use", Value::Null);
        }
        if let Some(Value::String(s)) = choice.get("stop_reason") {
            return ("stop_sequence", Value::String(s.clone()));
        }
    }
    (stop_reason(finish), Value::Null)
}

/// Anthropic usage from OpenAI usage.
pub(super) fn anthropic_usage(u: &Value) -> Value {
    let cached = cached_tokens(u);
    json!({
        "input_tokens": count(u, "prompt_tokens").saturating_sub(cached),
        "output_tokens": count(u, "completion_tokens"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    })
}

/// `msg_<id>` from a `chatcmpl-<id>`, keeping the backend's id visible for debugging.
pub(super) fn message_id(openai_id: &str) -> String {
    format!(
        "msg_{}",
        openai_id.strip_prefix("chatcmpl-").unwrap_or(openai_id)
    )
}

/// An id for a tool call the backend sent without one (`toolu_<message>_<n>`).
pub(super) fn fallback_tool_id(message_id: &str, n: u64) -> String {
    format!(
        "toolu_{}_{n}",
        message_id.strip_prefix("msg_").unwrap_or(message_id)
    )
}

/// A `tool_use` input from a tool call's `arguments`. Empty arguments are `{}` (servers
/// send them for tools without parameters). Arguments that are not a JSON object are
/// kept whole as `{"_raw_arguments": "..."}`: Anthropic's `input` must be an object, and
/// the client's schema check then fails loudly instead of running the tool with `{}`.
fn tool_input(arguments: Option<&Value>) -> Value {
    match arguments {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => v,
            _ => json!({ "_raw_arguments": s }),
        },
        Some(v @ Value::Object(_)) => v.clone(),
        Some(other) => json!({ "_raw_arguments": other.to_string() }),
    }
}

/// Text of a `content` that is a string or (some servers) an array of text parts.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// A whole Anthropic message for a successful chat.completion (its first choice; the
/// gateway never asks for more).
pub fn translate_response(body: &Value, requested_model: &str) -> Value {
    let choice = body
        .get("choices")
        .and_then(|c| c.get(0))
        .unwrap_or(&Value::Null);
    let message = choice.get("message").unwrap_or(&Value::Null);
    let mut content = Vec::new();
    let text = content_text(message.get("content"));
    if !text.is_empty() {
        content.push(json!({ "type": "text", "text": text }));
    }
    let refusal = message
        .get("refusal")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    if let Some(r) = refusal {
        content.push(json!({ "type": "text", "text": r }));
    }
    let id = message_id(body.get("id").and_then(Value::as_str).unwrap_or("unknown"));
    let mut has_tools = false;
    if let Some(Value::Array(calls)) = message.get("tool_calls") {
        for (i, call) in calls.iter().enumerate() {
            let function = call.get("function").unwrap_or(&Value::Null);
            let call_id = match call.get("id").and_then(Value::as_str) {
                Some(call_id) if !call_id.is_empty() => call_id.to_string(),
                _ => fallback_tool_id(&id, i as u64),
            };
            content.push(json!({
                "type": "tool_use",
                "id": call_id,
                "name": function.get("name").and_then(Value::as_str).unwrap_or(""),
                "input": tool_input(function.get("arguments")),
            }));
            has_tools = true;
        }
    }
    let (stop, stop_sequence) = match choice.get("finish_reason").and_then(Value::as_str) {
        Some(finish) => {
            let (s, seq) = stop_of(choice, finish, has_tools, refusal.is_some());
            (Value::from(s), seq)
        }
        None => (Value::Null, Value::Null),
    };
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": stop_sequence,
        "usage": anthropic_usage(body.get("usage").unwrap_or(&Value::Null)),
    })
}

/// Anthropic's error `type` for an HTTP status.
pub fn error_type(status: u32) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

pub(super) fn anthropic_error(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The message of an OpenAI-format error body: OpenAI's `{"error":{"message"}}`,
/// Ollama's `{"error":"..."}`, older vLLM's `{"object":"error","message"}`.
fn openai_error_message(v: &Value) -> Option<&str> {
    match v.get("error") {
        Some(Value::Object(e)) => e.get("message").and_then(Value::as_str),
        Some(Value::String(s)) => Some(s),
        _ => v.get("message").and_then(Value::as_str),
    }
}

/// An Anthropic error envelope for an OpenAI-format error response, its type from the
/// status. A body that is not an OpenAI-format error (an HTML page from a proxy,
/// Envoy's own "upstream connect error") is wrapped, its start quoted.
pub fn translate_error(status: u32, body: &[u8]) -> Vec<u8> {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let envelope = match parsed.as_ref().and_then(openai_error_message) {
        Some(message) => anthropic_error(error_type(status), message),
        None => anthropic_error(error_type(status), &upstream_error::message(status, body)),
    };
    envelope.to_string().into_bytes()
}
