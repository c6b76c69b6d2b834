//! Anthropic Messages answers -> OpenAI chat completions: whole bodies and error
//! envelopes, so the `openai` SDK can use Claude models unchanged.
//!
//! `created` (Unix seconds) is a parameter: OpenAI bodies carry it and SDKs expect it,
//! but nothing here reads a clock.

use serde_json::{json, Value};

use crate::providers::fields::count;
use crate::providers::upstream_error;

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later.
        _ => "stop",
    }
}

/// OpenAI usage from Anthropic usage: OpenAI's `prompt_tokens` counts every input
/// token, Anthropic's `input_tokens` only those neither read from nor written to cache.
pub(crate) fn openai_usage(u: &Value) -> Value {
    let cache_read = count(u, "cache_read_input_tokens");
    let prompt = count(u, "input_tokens") + cache_read + count(u, "cache_creation_input_tokens");
    let completion = count(u, "output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cache_read },
    })
}

fn tool_call(block: &Value) -> Value {
    let arguments = match block.get("input") {
        Some(input) if !input.is_null() => input.to_string(),
        _ => "{}".to_string(),
    };
    json!({
        "id": block.get("id").cloned().unwrap_or(Value::Null),
        "type": "function",
        "function": {
            "name": block.get("name").cloned().unwrap_or(Value::Null),
            "arguments": arguments,
        },
    })
}

/// A whole chat.completion for a successful Anthropic message. Text blocks are joined
/// into `content`; thinking blocks are dropped (OpenAI's format has no place for them).
pub fn translate_response(body: &Value, requested_model: &str, created: u64) -> Value {
    let mut text = String::new();
    let mut has_text = false;
    let mut tool_calls = Vec::new();
    if let Some(Value::Array(blocks)) = body.get("content") {
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("text") => {
                    has_text = true;
                    text.push_str(b.get("text").and_then(Value::as_str).unwrap_or(""));
                }
                Some("tool_use") => tool_calls.push(tool_call(b)),
                _ => {}
            }
        }
    }
    let mut message = json!({
        "role": "assistant",
        // OpenAI sends null content beside tool calls, "" only for an empty answer.
        "content": if has_text || tool_calls.is_empty() { Value::String(text) } else { Value::Null },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let finish = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason);
    json!({
        "id": body.get("id").and_then(Value::as_str).unwrap_or("chatcmpl-unknown"),
        "object": "chat.completion",
        "created": created,
        "model": requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": openai_usage(body.get("usage").unwrap_or(&Value::Null)),
    })
}

/// A translated chat.completion whose request asked for structured output: the call of
/// the forced tool `tool` (see `request::structured_output_tool`) becomes the message's
/// JSON content, as OpenAI answers a `response_format`, and the answer stops normally.
pub fn structured_as_content(answer: &mut Value, tool: &str) {
    let Some(message) = answer.pointer_mut("/choices/0/message") else {
        return;
    };
    let Some(Value::Array(calls)) = message.get_mut("tool_calls") else {
        return;
    };
    let Some(i) = calls
        .iter()
        .position(|c| c.pointer("/function/name").and_then(Value::as_str) == Some(tool))
    else {
        return;
    };
    let call = calls.remove(i);
    let json = call
        .pointer("/function/arguments")
        .cloned()
        .unwrap_or_else(|| Value::String("{}".into()));
    if calls.is_empty() {
        if let Value::Object(m) = message {
            m.remove("tool_calls");
        }
    }
    message["content"] = json;
    if let Some(finish) = answer.pointer_mut("/choices/0/finish_reason") {
        if finish == "tool_calls" {
            *finish = Value::String("stop".into());
        }
    }
}

/// OpenAI's error `type` and `code` for an Anthropic error type, falling back on the
/// HTTP status for types Anthropic adds later.
fn openai_error_kind(anthropic_type: &str, status: u32) -> (&'static str, &'static str) {
    match anthropic_type {
        "invalid_request_error" => ("invalid_request_error", "invalid_request_error"),
        "authentication_error" => ("invalid_request_error", "invalid_api_key"),
        "permission_error" => ("invalid_request_error", "permission_denied"),
        "not_found_error" => ("invalid_request_error", "not_found"),
        "request_too_large" => ("invalid_request_error", "request_too_large"),
        "rate_limit_error" => ("rate_limit_exceeded", "rate_limit_exceeded"),
        "api_error" | "timeout_error" => ("server_error", "server_error"),
        "overloaded_error" => ("server_error", "overloaded"),
        _ => match status {
            401 => ("invalid_request_error", "invalid_api_key"),
            403 => ("invalid_request_error", "permission_denied"),
            404 => ("invalid_request_error", "not_found"),
            413 => ("invalid_request_error", "request_too_large"),
            429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
            400..=499 => ("invalid_request_error", "invalid_request_error"),
            _ => ("server_error", "server_error"),
        },
    }
}

pub(crate) fn openai_error(anthropic_type: &str, status: u32, message: &str) -> Value {
    let (kind, code) = openai_error_kind(anthropic_type, status);
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The `error` object of an Anthropic envelope (`{"type":"error","error":{..}}`) as
/// (type, message).
pub(crate) fn anthropic_error(v: &Value) -> Option<(&str, &str)> {
    let e = v.get("error")?;
    Some((
        e.get("type").and_then(Value::as_str).unwrap_or(""),
        e.get("message").and_then(Value::as_str)?,
    ))
}

/// An OpenAI error envelope for an Anthropic error response. A body that is not an
/// Anthropic envelope (an HTML page from a proxy, Envoy's own "upstream connect error")
/// is wrapped, its start quoted.
pub fn translate_error(status: u32, body: &[u8]) -> Vec<u8> {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let envelope = match parsed.as_ref().and_then(anthropic_error) {
        Some((kind, message)) => openai_error(kind, status, message),
        None => openai_error("", status, &upstream_error::message(status, body)),
    };
    envelope.to_string().into_bytes()
}
