//! OpenAI Responses request -> Anthropic Messages request, so a client of the Responses
//! API can be served by a Claude model.
//!
//! `instructions` and system/developer items become `system`; user and assistant
//! messages, `function_call` (`tool_use`) and `function_call_output` (`tool_result`)
//! items become alternating turns. Reasoning items are dropped (Anthropic's thinking
//! blocks need Anthropic's signature). What a Claude model cannot honour is refused
//! with a message naming the field, never dropped silently: `previous_response_id`
//! (the gateway keeps no conversation for Claude), item references, built-in tools,
//! structured output formats, background mode.

use serde_json::{json, Map, Value};

use crate::errors::UserError;
use crate::providers::fields::{invalid, required_field, required_str, unsupported};
use crate::providers::openai_anthropic::request::{
    copy_sampling, image_from_url, messages_of, push_turn, tool_input, translate_tool_choice,
    translate_tools, ToolShape,
};
use crate::providers::openai_responses::item_type;

/// The Anthropic Messages body for a Responses request, for `upstream_model`;
/// `default_max_tokens` fills Anthropic's required `max_tokens` when the client set no
/// `max_output_tokens`.
pub fn translate_request(
    req: &Map<String, Value>,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Vec<u8>, UserError> {
    refuse_unsupported(req)?;
    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());
    let mut system = Vec::new();
    if let Some(Value::String(s)) = req.get("instructions") {
        if !s.is_empty() {
            system.push(s.clone());
        }
    }
    let messages = translate_input(req, &mut system)?;
    if !system.is_empty() {
        out.insert("system".into(), system.join("\n\n").into());
    }
    out.insert("messages".into(), Value::Array(messages));
    let max_tokens = match req.get("max_output_tokens") {
        None | Some(Value::Null) => default_max_tokens,
        Some(v) => v.as_u64().ok_or_else(|| {
            invalid(
                "max_output_tokens",
                "must be a non-negative integer",
                Some(v),
            )
        })?,
    };
    out.insert("max_tokens".into(), max_tokens.into());
    copy_sampling(req, &mut out)?;
    let tools = match req.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => translate_tools(tools, ToolShape::Flat)?,
        other => return Err(invalid("tools", "must be an array", other)),
    };
    let tool_choice = translate_tool_choice(req, !tools.is_empty(), ToolShape::Flat)?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out).to_string().into_bytes())
}

/// Fields whose meaning a Claude model cannot honour.
fn refuse_unsupported(req: &Map<String, Value>) -> Result<(), UserError> {
    for (key, why) in [
        (
            "previous_response_id",
            "is not supported for Claude models: the gateway stores no conversation for them; send the whole conversation in `input`",
        ),
        (
            "conversation",
            "is not supported for Claude models; send the whole conversation in `input`",
        ),
        ("prompt", "(a stored prompt) is not supported for Claude models"),
    ] {
        if !matches!(req.get(key), None | Some(Value::Null)) {
            return Err(unsupported(key, why));
        }
    }
    if req.get("background") == Some(&Value::Bool(true)) {
        return Err(unsupported(
            "background",
            "is not supported for Claude models",
        ));
    }
    match req.get("text").and_then(|t| t.get("format")) {
        None | Some(Value::Null) => {}
        Some(f) if f.get("type").and_then(Value::as_str) == Some("text") => {}
        Some(f) => {
            let kind = f.get("type").and_then(Value::as_str).unwrap_or("(none)");
            return Err(unsupported(
                "text.format",
                &format!("of type {kind} is not supported for Claude models"),
            ));
        }
    }
    Ok(())
}

/// The alternating turns of the input; system and developer items join `system`.
fn translate_input(
    req: &Map<String, Value>,
    system: &mut Vec<String>,
) -> Result<Vec<Value>, UserError> {
    let items = match req.get("input") {
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![json!({"role": "user", "content": [text(s)]})]),
        Some(Value::Array(items)) => items,
        other => {
            return Err(invalid(
                "input",
                "is required and must be a string or an array of input items",
                other,
            ))
        }
    };
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        let (role, blocks) = match item_type(item) {
            Some("message") => match item.get("role").and_then(Value::as_str) {
                Some("system" | "developer") => {
                    let text = plain_text(item.get("content"), &format!("{at}.content"))?;
                    if !text.is_empty() {
                        system.push(text);
                    }
                    continue;
                }
                Some("assistant") => (
                    "assistant",
                    content_blocks(item.get("content"), &format!("{at}.content"))?,
                ),
                _ => (
                    "user",
                    content_blocks(item.get("content"), &format!("{at}.content"))?,
                ),
            },
            Some("function_call") => {
                let id = required_field(item, &at, "call_id")?;
                let name = required_field(item, &at, "name")?;
                let input = tool_input(item.get("arguments"), &format!("{at}.arguments"))?;
                let block = json!({"type": "tool_use", "id": id, "name": name, "input": input});
                ("assistant", vec![block])
            }
            Some("function_call_output") => {
                let id = required_field(item, &at, "call_id")?;
                let mut block = json!({"type": "tool_result", "tool_use_id": id});
                let output_at = format!("{at}.output");
                match item.get("output") {
                    Some(Value::String(s)) if s.is_empty() => {}
                    Some(s @ Value::String(_)) => block["content"] = s.clone(),
                    output @ Some(Value::Array(_)) => {
                        let blocks = content_blocks(output, &output_at)?;
                        if !blocks.is_empty() {
                            block["content"] = Value::Array(blocks);
                        }
                    }
                    other => {
                        return Err(invalid(
                            &output_at,
                            "is required and must be a string or an array of content parts",
                            other,
                        ))
                    }
                }
                ("user", vec![block])
            }
            // Anthropic's thinking blocks carry Anthropic's signature; a summary is not one.
            Some("reasoning") => continue,
            Some(other) => {
                return Err(unsupported(
                    &format!("{at}.type"),
                    &format!("{other:?} is not supported for Claude models"),
                ))
            }
            None => {
                return Err(invalid(
                    &format!("{at}.type"),
                    "is required and must be a string (or the item a message with a `role`)",
                    item.get("type"),
                ))
            }
        };
        push_turn(&mut turns, role, blocks);
    }
    Ok(messages_of(turns))
}

fn text(s: &str) -> Value {
    json!({"type": "text", "text": s})
}

/// Content that may only hold text (system prompts), joined with a blank line.
fn plain_text(content: Option<&Value>, at: &str) -> Result<String, UserError> {
    let blocks = content_blocks(content, at)?;
    let mut texts = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        match b.get("text").and_then(Value::as_str) {
            Some(t) => texts.push(t),
            None => {
                return Err(unsupported(
                    &format!("{at}[{j}].type"),
                    "is not supported here; only text parts are",
                ))
            }
        }
    }
    Ok(texts.join("\n\n"))
}

/// Anthropic content blocks for a message's content (a string or parts): text parts,
/// images (http(s) or base64 data URLs), PDF files (base64 data or a URL).
fn content_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, UserError> {
    let parts = match content {
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![text(s)]),
        Some(Value::Array(parts)) => parts,
        other => {
            return Err(invalid(
                at,
                "is required and must be a string or an array of content parts",
                other,
            ))
        }
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let part_at = format!("{at}[{j}]");
        match required_field(part, &part_at, "type")? {
            "input_text" | "output_text" => {
                let t = required_field(part, &part_at, "text")?;
                if !t.is_empty() {
                    blocks.push(text(t));
                }
            }
            "refusal" => blocks.push(text(required_field(part, &part_at, "refusal")?)),
            "input_image" => match part.get("image_url") {
                Some(Value::String(url)) => {
                    blocks.push(image_from_url(url, &format!("{part_at}.image_url"))?)
                }
                _ => {
                    return Err(unsupported(
                        &format!("{part_at}.image_url"),
                        "is required for Claude models (a `file_id` cannot be read there)",
                    ))
                }
            },
            "input_file" => blocks.push(document(part, &part_at)?),
            other => {
                return Err(unsupported(
                    &format!("{part_at}.type"),
                    &format!("{other:?} is not supported for Claude models"),
                ))
            }
        }
    }
    Ok(blocks)
}

/// A PDF `input_file` as an Anthropic document block.
fn document(part: &Value, at: &str) -> Result<Value, UserError> {
    if let Some(url) = part.get("file_url") {
        let url = required_str(Some(url), &format!("{at}.file_url"))?;
        return Ok(json!({"type": "document", "source": {"type": "url", "url": url}}));
    }
    let data_at = format!("{at}.file_data");
    let Some(data) = part.get("file_data") else {
        return Err(unsupported(
            &data_at,
            "or `file_url` is required for Claude models (a `file_id` cannot be read there)",
        ));
    };
    let data = required_str(Some(data), &data_at)?;
    match data
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
    {
        Some((media_type, data)) => Ok(json!({"type": "document",
            "source": {"type": "base64", "media_type": media_type, "data": data}})),
        None => Err(unsupported(
            &data_at,
            "must be a base64 data: URL (data:<type>;base64,...)",
        )),
    }
}
