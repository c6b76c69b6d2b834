//! Anthropic Messages answers -> OpenAI Responses: the `response` object (shared by the
//! stream's lifecycle events), its output items, usage, status; errors come back in
//! OpenAI's envelope (`openai_anthropic::translate_error`).
//!
//! Text blocks in a row become one assistant `message` item (one `output_text` part
//! each), `tool_use` blocks `function_call` items; thinking blocks are dropped (their
//! signature has no place in a reasoning summary). `max_tokens` ends the response as
//! `incomplete` (`max_output_tokens`), `refusal` as `incomplete` (`content_filter`).

use serde_json::{json, Value};

use crate::providers::openai_anthropic::answer::openai_usage;

/// Responses usage from Anthropic usage: `input_tokens` counts every input token,
/// cache reads (`cached_tokens`) and writes included.
pub(crate) fn responses_usage(u: &Value) -> Value {
    let o = openai_usage(u);
    json!({
        "input_tokens": o["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": o["prompt_tokens_details"]["cached_tokens"]},
        "output_tokens": o["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": o["total_tokens"],
    })
}

/// The Responses id for an Anthropic message id (`msg_X` -> `<prefix>_X`).
pub(crate) fn id_for(prefix: &str, anthropic_id: &str) -> String {
    format!(
        "{prefix}_{}",
        anthropic_id.strip_prefix("msg_").unwrap_or(anthropic_id)
    )
}

/// Status and `incomplete_details` of a response that stopped for `stop_reason`.
pub(crate) fn status_of(stop_reason: Option<&str>) -> (&'static str, Value) {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => {
            ("incomplete", json!({"reason": "max_output_tokens"}))
        }
        Some("refusal") => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

/// A `response` object; `usage` null while it runs.
pub(crate) fn response_object(
    id: &str,
    model: &str,
    created: u64,
    status: &str,
    incomplete: Value,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
        "metadata": {},
    })
}

/// An `output_text` part.
pub(crate) fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// An assistant `message` item with these parts.
pub(crate) fn message_item(id: &str, status: &str, content: Vec<Value>) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant", "content": content})
}

/// A `function_call` item for a `tool_use` block's id and name.
pub(crate) fn function_call_item(
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({"type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
           "name": name, "arguments": arguments, "status": status})
}

/// A whole `response` for a successful Anthropic message.
pub fn translate_response(body: &Value, requested_model: &str, created: u64) -> Value {
    let id = body.get("id").and_then(Value::as_str).unwrap_or("unknown");
    let mut output = Vec::new();
    let mut parts = Vec::new();
    let close = |parts: &mut Vec<Value>, output: &mut Vec<Value>| {
        if !parts.is_empty() {
            let n = output.len();
            let item_id = format!("{}_{n}", id_for("msg", id));
            output.push(message_item(&item_id, "completed", std::mem::take(parts)));
        }
    };
    for block in body
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(text_part(
                block.get("text").and_then(Value::as_str).unwrap_or(""),
            )),
            Some("tool_use") => {
                close(&mut parts, &mut output);
                let arguments = match block.get("input") {
                    Some(input) if !input.is_null() => input.to_string(),
                    _ => "{}".to_string(),
                };
                let text = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or("");
                output.push(function_call_item(
                    text("id"),
                    text("name"),
                    &arguments,
                    "completed",
                ));
            }
            _ => {}
        }
    }
    close(&mut parts, &mut output);
    let (status, incomplete) = status_of(body.get("stop_reason").and_then(Value::as_str));
    response_object(
        &id_for("resp", id),
        requested_model,
        created,
        status,
        incomplete,
        output,
        responses_usage(body.get("usage").unwrap_or(&Value::Null)),
    )
}
