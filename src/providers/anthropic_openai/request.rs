//! Anthropic Messages request -> OpenAI chat-completions request, so a client of the
//! Anthropic API (the `anthropic` SDK, Claude Code) can be served by a model behind an
//! OpenAI-format backend (OpenAI, vLLM, Ollama, llama.cpp).
//!
//! What such a backend cannot honour is refused with a message naming the field, never
//! dropped silently: `top_k`, extended `thinking`, server tools, documents, an assistant
//! prefill. Hints with no effect on the answer's meaning (`cache_control`,
//! `service_tier`, citations and thinking blocks of earlier turns) are ignored.
//!
//! The output cap is sent as `max_tokens`, not `max_completion_tokens`: Ollama and LM
//! Studio accept only `max_tokens` and silently ignore the other (an uncapped answer),
//! while OpenAI's reasoning models that want `max_completion_tokens` refuse `max_tokens`
//! with a 400 the client sees. A loud refusal beats a silent overrun.

use serde_json::{json, Map, Value};

use crate::errors::UserError;
use crate::providers::fields::{
    insert_stops, invalid, not_one_of, required_array, required_field, required_str, text_parts,
    type_name, unsupported,
};

/// The OpenAI chat-completions body for an Anthropic Messages request.
///
/// `upstream_model` replaces the client's `model`. A streamed request asks for
/// `stream_options.include_usage`, so the backend reports usage in its last chunk.
pub fn translate_request(
    req: &Map<String, Value>,
    upstream_model: &str,
) -> Result<Vec<u8>, UserError> {
    refuse_unsupported(req)?;
    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());

    let mut messages = Vec::new();
    let system = system_text(req.get("system"))?;
    if !system.is_empty() {
        messages.push(json!({ "role": "system", "content": system }));
    }
    translate_messages(req, &mut messages)?;
    out.insert("messages".into(), Value::Array(messages));

    match req.get("max_tokens") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            out.insert("max_tokens".into(), Value::Number(n.clone()));
        }
        other => {
            return Err(invalid(
                "max_tokens",
                "must be a non-negative integer",
                other,
            ))
        }
    }
    match req.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => insert_stops(&mut out, "stop", list, "stop_sequences")?,
        other => {
            return Err(invalid(
                "stop_sequences",
                "must be an array of strings",
                other,
            ))
        }
    }
    // Anthropic's temperature range (0..1) lies inside OpenAI's (0..2) with the same
    // meaning at each point, so it passes unchanged.
    for key in ["temperature", "top_p"] {
        match req.get(key) {
            None | Some(Value::Null) => {}
            Some(n @ Value::Number(_)) => {
                out.insert(key.into(), n.clone());
            }
            other => return Err(invalid(key, "must be a number", other)),
        }
    }
    match req.get("stream") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            out.insert("stream".into(), true.into());
            // The gateway meters from the backend's usage, which OpenAI-format streams
            // only carry when asked.
            out.insert("stream_options".into(), json!({ "include_usage": true }));
        }
        other => return Err(invalid("stream", "must be a boolean", other)),
    }
    match req.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => match m.get("user_id") {
            None | Some(Value::Null) => {}
            Some(u @ Value::String(_)) => {
                out.insert("user".into(), u.clone());
            }
            other => return Err(invalid("metadata.user_id", "must be a string", other)),
        },
        other => return Err(invalid("metadata", "must be an object", other)),
    }

    let tools = match req.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => translate_tools(tools)?,
        other => return Err(invalid("tools", "must be an array", other)),
    };
    translate_tool_choice(req, !tools.is_empty(), &mut out)?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }

    Ok(Value::Object(out).to_string().into_bytes())
}

const NOT_HERE: &str =
    "is not supported for this model (it is served through an OpenAI-format API)";

/// Fields whose meaning an OpenAI-format backend cannot honour.
fn refuse_unsupported(req: &Map<String, Value>) -> Result<(), UserError> {
    // OpenAI's API has no top-k sampling; OpenAI itself refuses the unknown field and
    // other backends would ignore it.
    if !matches!(req.get("top_k"), None | Some(Value::Null)) {
        return Err(unsupported("top_k", NOT_HERE));
    }
    match req.get("thinking") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) if t.get("type").and_then(Value::as_str) == Some("disabled") => {}
        Some(Value::Object(_)) => {
            return Err(unsupported(
                "thinking",
                &format!("{NOT_HERE}; omit it or set {{\"type\": \"disabled\"}}"),
            ))
        }
        other => return Err(invalid("thinking", "must be an object", other)),
    }
    for key in [
        "container",
        "output_format",
        "output_config",
        "context_management",
    ] {
        if !matches!(req.get(key), None | Some(Value::Null)) {
            return Err(unsupported(key, NOT_HERE));
        }
    }
    match req.get("mcp_servers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.is_empty() => {}
        Some(_) => return Err(unsupported("mcp_servers", NOT_HERE)),
    }
    Ok(())
}

/// A block type this translation does not carry, refused by name.
fn unsupported_block(at: &str, kind: &str) -> UserError {
    unsupported(&format!("{at}.type"), &format!("{kind:?} {NOT_HERE}"))
}

/// The system prompt: a string or text blocks, joined with a blank line.
fn system_text(system: Option<&Value>) -> Result<String, UserError> {
    match system {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                let at = format!("system[{i}]");
                match required_field(block, &at, "type")? {
                    "text" => {
                        let text = required_field(block, &at, "text")?;
                        if !text.is_empty() {
                            texts.push(text);
                        }
                    }
                    other => return Err(unsupported_block(&at, other)),
                }
            }
            Ok(texts.join("\n\n"))
        }
        Some(other) => Err(invalid(
            "system",
            "must be a string or an array of text blocks",
            Some(other),
        )),
    }
}

fn translate_messages(req: &Map<String, Value>, out: &mut Vec<Value>) -> Result<(), UserError> {
    let messages = required_array(req, "messages")?;
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Value::Object(m) = m else {
            return Err(invalid(&at, "must be an object", Some(m)));
        };
        match m.get("role").and_then(Value::as_str) {
            Some("user") => user_messages(m.get("content"), &at, out)?,
            Some("assistant") => {
                let last = i + 1 == messages.len();
                if let Some(message) = assistant_message(m.get("content"), &at, last)? {
                    out.push(message);
                }
            }
            Some(other) => return Err(not_one_of(&format!("{at}.role"), "user, assistant", other)),
            None => {
                return Err(invalid(
                    &format!("{at}.role"),
                    "is required and must be a string",
                    m.get("role"),
                ))
            }
        }
    }
    Ok(())
}

/// A user turn: its `tool_result` blocks become `tool` messages, sent first because
/// OpenAI wants them right after the assistant's tool calls; the rest becomes one user
/// message after them.
fn user_messages(content: Option<&Value>, at: &str, out: &mut Vec<Value>) -> Result<(), UserError> {
    let content_at = format!("{at}.content");
    let blocks = match content {
        Some(Value::String(s)) => {
            out.push(json!({ "role": "user", "content": s }));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        other => {
            return Err(invalid(
                &content_at,
                "is required and must be a string or an array of blocks",
                other,
            ))
        }
    };
    let mut parts = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_at = format!("{content_at}[{j}]");
        match required_field(block, &block_at, "type")? {
            "text" => {
                let text = required_field(block, &block_at, "text")?;
                if !text.is_empty() {
                    parts.push(json!({ "type": "text", "text": text }));
                }
            }
            "image" => parts.push(image_part(block, &block_at)?),
            "tool_result" => out.push(tool_message(block, &block_at)?),
            other => return Err(unsupported_block(&block_at, other)),
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    // Text alone goes as a string, which every OpenAI-format server accepts; parts
    // arrays are needed only beside images.
    let content = if parts.iter().all(|p| p["type"] == "text") {
        Value::String(joined_text(&parts))
    } else {
        Value::Array(parts)
    };
    out.push(json!({ "role": "user", "content": content }));
    Ok(())
}

fn joined_text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// An `image_url` part: base64 sources as a data: URL, URL sources as they are.
fn image_part(block: &Value, at: &str) -> Result<Value, UserError> {
    let source_at = format!("{at}.source");
    let Some(Value::Object(source)) = block.get("source") else {
        return Err(invalid(
            &source_at,
            "is required and must be an object",
            block.get("source"),
        ));
    };
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type =
                required_str(source.get("media_type"), &format!("{source_at}.media_type"))?;
            let data = required_str(source.get("data"), &format!("{source_at}.data"))?;
            format!("data:{media_type};base64,{data}")
        }
        Some("url") => required_str(source.get("url"), &format!("{source_at}.url"))?.to_string(),
        Some(other) => {
            return Err(unsupported(
                &format!("{source_at}.type"),
                &format!("{other:?} {NOT_HERE}; use base64 or url"),
            ))
        }
        None => {
            return Err(invalid(
                &format!("{source_at}.type"),
                "is required and must be a string",
                source.get("type"),
            ))
        }
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

/// A `tool` message for a `tool_result` block. Its content is text only (OpenAI's tool
/// messages take no images); `is_error` is said in the text, the only place a model
/// can read it.
fn tool_message(block: &Value, at: &str) -> Result<Value, UserError> {
    let id = required_str(block.get("tool_use_id"), &format!("{at}.tool_use_id"))?;
    let content_at = format!("{at}.content");
    let mut text = match block.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => text_parts(parts, &content_at, |other| {
            format!("{other:?} in a tool result {NOT_HERE}; only text is")
        })?,
        other => {
            return Err(invalid(
                &content_at,
                "must be a string or an array of blocks",
                other,
            ))
        }
    };
    match block.get("is_error") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            text = if text.is_empty() {
                "Error".to_string()
            } else {
                format!("Error: {text}")
            };
        }
        other => {
            return Err(invalid(
                &format!("{at}.is_error"),
                "must be a boolean",
                other,
            ))
        }
    }
    Ok(json!({ "role": "tool", "tool_call_id": id, "content": text }))
}

/// An assistant turn: text blocks joined into `content`, `tool_use` blocks as
/// `tool_calls`. Thinking blocks of earlier turns are dropped: an OpenAI-format model
/// has no way to read them. `None` for a turn with nothing left.
fn assistant_message(
    content: Option<&Value>,
    at: &str,
    last: bool,
) -> Result<Option<Value>, UserError> {
    let content_at = format!("{at}.content");
    let mut texts: Vec<&str> = Vec::new();
    let mut calls = Vec::new();
    match content {
        Some(Value::String(s)) => {
            if !s.is_empty() {
                texts.push(s);
            }
        }
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                let block_at = format!("{content_at}[{j}]");
                match required_field(block, &block_at, "type")? {
                    "text" => {
                        let text = required_field(block, &block_at, "text")?;
                        if !text.is_empty() {
                            texts.push(text);
                        }
                    }
                    "tool_use" => calls.push(tool_call(block, &block_at)?),
                    "thinking" | "redacted_thinking" => {}
                    other => return Err(unsupported_block(&block_at, other)),
                }
            }
        }
        other => {
            return Err(invalid(
                &content_at,
                "is required and must be a string or an array of blocks",
                other,
            ))
        }
    }
    if last && !texts.is_empty() {
        // Claude continues a final assistant message; an OpenAI-format model would
        // answer it with a new message instead, a different result.
        return Err(unsupported(
            &content_at,
            &format!("of a final assistant message (a prefill) {NOT_HERE}"),
        ));
    }
    if texts.is_empty() && calls.is_empty() {
        return Ok(None);
    }
    let mut message = json!({
        "role": "assistant",
        "content": if texts.is_empty() { Value::Null } else { Value::String(texts.join("\n\n")) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(Some(message))
}

fn tool_call(block: &Value, at: &str) -> Result<Value, UserError> {
    let id = required_str(block.get("id"), &format!("{at}.id"))?;
    let name = required_str(block.get("name"), &format!("{at}.name"))?;
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input @ Value::Object(_)) => input.to_string(),
        Some(other) => {
            return Err(UserError::InvalidRequest {
                message: format!("`{at}.input` must be an object (got {})", type_name(other)),
                param: Some(format!("{at}.input")),
            })
        }
    };
    Ok(json!({
        "id": id,
        "type": "function",
        "function": { "name": name, "arguments": arguments },
    }))
}

fn translate_tools(tools: &[Value]) -> Result<Vec<Value>, UserError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        if !tool.is_object() {
            return Err(invalid(&at, "must be an object", Some(tool)));
        }
        // Client tools have no type or `custom`; typed ones (web_search_*, bash_*,
        // text_editor_*, computer_*) run on Anthropic's servers.
        match tool.get("type") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t == "custom" => {}
            Some(Value::String(t)) => {
                return Err(unsupported(
                    &format!("{at}.type"),
                    &format!("{t:?} (a server tool) {NOT_HERE}"),
                ))
            }
            other => return Err(invalid(&format!("{at}.type"), "must be a string", other)),
        }
        let name = required_str(tool.get("name"), &format!("{at}.name"))?;
        let mut function = Map::new();
        function.insert("name".into(), name.into());
        match tool.get("description") {
            None | Some(Value::Null) => {}
            Some(d @ Value::String(_)) => {
                function.insert("description".into(), d.clone());
            }
            other => {
                return Err(invalid(
                    &format!("{at}.description"),
                    "must be a string",
                    other,
                ))
            }
        }
        match tool.get("input_schema") {
            Some(schema @ Value::Object(_)) => {
                function.insert("parameters".into(), schema.clone());
            }
            other => {
                return Err(invalid(
                    &format!("{at}.input_schema"),
                    "is required and must be an object",
                    other,
                ))
            }
        }
        out.push(json!({ "type": "function", "function": function }));
    }
    Ok(out)
}

/// OpenAI's `tool_choice` and `parallel_tool_calls`. Omitted when there are no tools
/// (OpenAI refuses a choice without tools; `auto` and `none` mean the same then).
fn translate_tool_choice(
    req: &Map<String, Value>,
    has_tools: bool,
    out: &mut Map<String, Value>,
) -> Result<(), UserError> {
    let choice = match req.get("tool_choice") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(c)) => c,
        other => return Err(invalid("tool_choice", "must be an object", other)),
    };
    let (mapped, kind) = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => (json!("auto"), "auto"),
        Some("none") => (json!("none"), "none"),
        Some("any") => (json!("required"), "any"),
        Some("tool") => {
            let name = required_str(choice.get("name"), "tool_choice.name")?;
            (
                json!({ "type": "function", "function": { "name": name } }),
                "tool",
            )
        }
        Some(other) => {
            return Err(not_one_of(
                "tool_choice.type",
                "auto, any, tool, none",
                other,
            ))
        }
        None => {
            return Err(invalid(
                "tool_choice.type",
                "is required and must be a string",
                choice.get("type"),
            ))
        }
    };
    if !has_tools {
        return match kind {
            "auto" | "none" => Ok(()),
            _ => Err(unsupported(
                "tool_choice",
                "requires `tools` to name at least one tool",
            )),
        };
    }
    out.insert("tool_choice".into(), mapped);
    match choice.get("disable_parallel_tool_use") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            if kind != "none" {
                out.insert("parallel_tool_calls".into(), false.into());
            }
        }
        other => {
            return Err(invalid(
                "tool_choice.disable_parallel_tool_use",
                "must be a boolean",
                other,
            ))
        }
    }
    Ok(())
}
