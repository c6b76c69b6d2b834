//! OpenAI chat-completions request -> Anthropic Messages request, so a client of the
//! OpenAI API can be served by a Claude model.
//!
//! What Anthropic cannot honour is refused with a message naming the field, never
//! dropped silently: a client asking for `n: 3` or `logprobs` would otherwise get an
//! answer that looks right and is not. Sampling hints without an Anthropic equivalent
//! (`frequency_penalty`, `presence_penalty`, `seed`, `logit_bias`) are ignored.

use serde_json::{json, Map, Value};

use crate::errors::UserError;
use crate::providers::fields::{
    insert_stops, invalid, not_one_of, required_array, required_field, required_str, text_parts,
    type_name, unsupported,
};

/// The Anthropic Messages body for an OpenAI chat-completions request.
///
/// `upstream_model` replaces the client's `model`; `default_max_tokens` fills Anthropic's
/// required `max_tokens` when the client set neither `max_completion_tokens` nor
/// `max_tokens`. System and developer messages are hoisted to the top-level `system`
/// wherever they appear, joined with a blank line.
pub fn translate_request(
    req: &Map<String, Value>,
    upstream_model: &str,
    default_max_tokens: u64,
) -> Result<Vec<u8>, UserError> {
    refuse_unsupported(req)?;
    let mut out = Map::new();
    out.insert("model".into(), upstream_model.into());

    let (system, messages) = translate_messages(req)?;
    if !system.is_empty() {
        out.insert("system".into(), system.join("\n\n").into());
    }
    out.insert("messages".into(), Value::Array(messages));

    let max_tokens = match ["max_completion_tokens", "max_tokens"]
        .iter()
        .find(|k| !matches!(req.get(**k), None | Some(Value::Null)))
    {
        Some(key) => match req.get(*key).and_then(Value::as_u64) {
            Some(n) => n,
            None => {
                return Err(invalid(
                    key,
                    "must be a non-negative integer",
                    req.get(*key),
                ))
            }
        },
        None => default_max_tokens,
    };
    out.insert("max_tokens".into(), max_tokens.into());

    match req.get("stop") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(list)) => insert_stops(&mut out, "stop_sequences", list, "stop")?,
        other => {
            return Err(invalid(
                "stop",
                "must be a string or an array of strings",
                other,
            ))
        }
    }

    copy_sampling(req, &mut out)?;

    let mut tools = match req.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => translate_tools(tools, ToolShape::Chat)?,
        other => return Err(invalid("tools", "must be an array", other)),
    };
    let mut tool_choice = translate_tool_choice(req, !tools.is_empty(), ToolShape::Chat)?;
    if let Some(tool) = response_format_tool(req)? {
        // Structured output: a tool the model must call, whose input schema is the
        // requested schema; the answer's tool call is turned back into the content.
        tool_choice = Some(json!({ "type": "tool", "name": tool["name"] }));
        tools.push(tool);
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = tool_choice {
        out.insert("tool_choice".into(), choice);
    }

    Ok(Value::Object(out).to_string().into_bytes())
}

/// `temperature` (clamped to Anthropic's range), `top_p`, `stream`, and `user` /
/// `safety_identifier` as `metadata.user_id`: fields both OpenAI APIs spell alike.
pub(crate) fn copy_sampling(
    req: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), UserError> {
    match req.get("temperature") {
        None | Some(Value::Null) => {}
        // OpenAI's range is 0..2, Anthropic's 0..1: clamp rather than refuse, so clients
        // tuned for OpenAI keep working (at Anthropic's most random setting).
        Some(Value::Number(t)) => {
            let t = t.as_f64().unwrap_or(1.0).clamp(0.0, 1.0);
            out.insert("temperature".into(), json!(t));
        }
        other => return Err(invalid("temperature", "must be a number", other)),
    }
    match req.get("top_p") {
        None | Some(Value::Null) => {}
        Some(p @ Value::Number(_)) => {
            out.insert("top_p".into(), p.clone());
        }
        other => return Err(invalid("top_p", "must be a number", other)),
    }
    match req.get("stream") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            out.insert("stream".into(), true.into());
        }
        other => return Err(invalid("stream", "must be a boolean", other)),
    }
    for key in ["user", "safety_identifier"] {
        match req.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(u)) => {
                out.entry("metadata")
                    .or_insert_with(|| json!({ "user_id": u }));
            }
            other => return Err(invalid(key, "must be a string", other)),
        }
    }
    Ok(())
}

/// Fields whose meaning a Claude model cannot honour.
fn refuse_unsupported(req: &Map<String, Value>) -> Result<(), UserError> {
    match req.get("n") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            return Err(unsupported(
                "n",
                &format!("must be 1 for Claude models, which return one choice (got {n})"),
            ))
        }
        other => return Err(invalid("n", "must be a non-negative integer", other)),
    }
    match req.get("logprobs") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(unsupported(
                "logprobs",
                "is not supported for Claude models",
            ))
        }
        other => return Err(invalid("logprobs", "must be a boolean", other)),
    }
    if !matches!(req.get("top_logprobs"), None | Some(Value::Null)) {
        return Err(unsupported(
            "top_logprobs",
            "is not supported for Claude models",
        ));
    }
    response_format_tool(req)?;
    for key in ["functions", "function_call"] {
        if !matches!(req.get(key), None | Some(Value::Null)) {
            return Err(unsupported(
                key,
                "is not supported for Claude models; use `tools` and `tool_choice`",
            ));
        }
    }
    if !matches!(req.get("audio"), None | Some(Value::Null)) {
        return Err(unsupported("audio", "is not supported for Claude models"));
    }
    if let Some(Value::Array(m)) = req.get("modalities") {
        if m.iter().any(|m| m != "text") {
            return Err(unsupported(
                "modalities",
                "may only contain \"text\" for Claude models",
            ));
        }
    }
    Ok(())
}

/// The forced tool's name for a `json_object` response format (a `json_schema` one uses
/// its own `name`).
pub const JSON_OBJECT_TOOL: &str = "json_response";

/// The name of the tool that carries the request's `response_format` (`json_schema` or
/// `json_object`) for a Claude model; `None` without one. The answer's call of this tool
/// is the client's content.
pub fn structured_output_tool(req: &Map<String, Value>) -> Option<String> {
    let tool = response_format_tool(req).ok()??;
    tool["name"].as_str().map(str::to_string)
}

/// The Anthropic tool for a `json_schema` / `json_object` response format, `None` for
/// `text` or none; an error for a format a Claude model cannot be made to follow.
fn response_format_tool(req: &Map<String, Value>) -> Result<Option<Value>, UserError> {
    let format = match req.get("response_format") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(f)) => f,
        other => return Err(invalid("response_format", "must be an object", other)),
    };
    let kind = format
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    let (name, description, schema) = match kind {
        "text" => return Ok(None),
        "json_object" => (
            JSON_OBJECT_TOOL.to_string(),
            "Respond with a JSON object.".to_string(),
            json!({ "type": "object" }),
        ),
        "json_schema" => {
            let spec = match format.get("json_schema") {
                Some(Value::Object(spec)) => spec,
                other => {
                    return Err(invalid(
                        "response_format.json_schema",
                        "is required and must be an object",
                        other,
                    ))
                }
            };
            let name = required_str(spec.get("name"), "response_format.json_schema.name")?;
            let schema = match spec.get("schema") {
                None | Some(Value::Null) => json!({ "type": "object" }),
                Some(s @ Value::Object(o)) if o.get("type").is_none_or(|t| t == "object") => {
                    s.clone()
                }
                Some(_) => {
                    return Err(unsupported(
                        "response_format.json_schema.schema",
                        "must describe an object for Claude models",
                    ))
                }
            };
            let mut description = "Respond with JSON that follows this schema.".to_string();
            if let Some(d) = spec.get("description").and_then(Value::as_str) {
                description = format!("{d} {description}");
            }
            (name.to_string(), description, schema)
        }
        other => {
            return Err(unsupported(
                "response_format",
                &format!("of type {other} is not supported for Claude models"),
            ))
        }
    };
    let has_tools = matches!(req.get("tools"), Some(Value::Array(t)) if !t.is_empty());
    if has_tools {
        return Err(unsupported(
            "response_format",
            &format!("of type {kind} together with `tools` is not supported for Claude models"),
        ));
    }
    Ok(Some(json!({
        "name": name,
        "description": description,
        "input_schema": schema,
    })))
}

/// The system prompt parts and the alternating user/assistant messages.
fn translate_messages(req: &Map<String, Value>) -> Result<(Vec<String>, Vec<Value>), UserError> {
    let messages = required_array(req, "messages")?;
    let mut system = Vec::new();
    // Anthropic requires user and assistant to alternate: consecutive messages of one
    // role (e.g. several `tool` results, or a `tool` result then a user turn) become one
    // message with several content blocks.
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let Value::Object(m) = m else {
            return Err(invalid(&at, "must be an object", Some(m)));
        };
        let content = m.get("content");
        let content_at = format!("{at}.content");
        let (role, blocks) = match m.get("role").and_then(Value::as_str) {
            Some("system") | Some("developer") => {
                let text = plain_text(content, &content_at)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            Some("user") => ("user", user_blocks(content, &content_at)?),
            Some("assistant") => ("assistant", assistant_blocks(m, &at)?),
            Some("tool") => ("user", vec![tool_result(m, &at)?]),
            Some("function") => {
                return Err(unsupported(
                    &format!("{at}.role"),
                    "\"function\" is not supported for Claude models; use `tool` messages",
                ))
            }
            Some(other) => {
                return Err(not_one_of(
                    &format!("{at}.role"),
                    "system, developer, user, assistant, tool",
                    other,
                ))
            }
            None => {
                return Err(invalid(
                    &format!("{at}.role"),
                    "is required and must be a string",
                    m.get("role"),
                ))
            }
        };
        push_turn(&mut turns, role, blocks);
    }
    Ok((system, messages_of(turns)))
}

/// Adds content blocks of `role`, merged into the last turn when it has the same role:
/// Anthropic requires user and assistant to alternate.
pub(crate) fn push_turn(
    turns: &mut Vec<(&'static str, Vec<Value>)>,
    role: &'static str,
    blocks: Vec<Value>,
) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, acc)) if *last == role => acc.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// Anthropic messages of the merged turns.
pub(crate) fn messages_of(turns: Vec<(&'static str, Vec<Value>)>) -> Vec<Value> {
    turns
        .into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect()
}

fn text_block(text: &str) -> Value {
    json!({ "type": "text", "text": text })
}

/// Content that may only hold text (system prompts), joined into one string.
fn plain_text(content: Option<&Value>, at: &str) -> Result<String, UserError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => text_parts(parts, at, |other| {
            format!("{other:?} is not supported here; only text parts are")
        }),
        Some(other) => Err(invalid(
            at,
            "must be a string, an array of parts or null",
            Some(other),
        )),
    }
}

fn user_blocks(content: Option<&Value>, at: &str) -> Result<Vec<Value>, UserError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        // Anthropic refuses empty text blocks.
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![text_block(s)]),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let part_at = format!("{at}[{j}]");
                match required_field(part, &part_at, "type")? {
                    "text" => {
                        let text = required_field(part, &part_at, "text")?;
                        if !text.is_empty() {
                            blocks.push(text_block(text));
                        }
                    }
                    "image_url" => blocks.push(image_block(part, &part_at)?),
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
        Some(other) => Err(invalid(
            at,
            "must be a string, an array of parts or null",
            Some(other),
        )),
    }
}

fn image_block(part: &Value, at: &str) -> Result<Value, UserError> {
    let url_at = format!("{at}.image_url.url");
    let url = match part.get("image_url") {
        Some(Value::Object(o)) => o.get("url"),
        Some(s @ Value::String(_)) => Some(s),
        other => other,
    };
    let Some(Value::String(url)) = url else {
        return Err(invalid(&url_at, "is required and must be a string", url));
    };
    image_from_url(url, &url_at)
}

/// An Anthropic image block for an http(s) URL or a base64 `data:` URL (`url_at` names
/// the field in errors).
pub(crate) fn image_from_url(url: &str, url_at: &str) -> Result<Value, UserError> {
    let url_at = url_at.to_string();
    if let Some(rest) = url.strip_prefix("data:") {
        // data:<media type>;base64,<data>
        let Some((meta, data)) = rest.split_once(',') else {
            return Err(unsupported(
                &url_at,
                "must be a data: URL with a comma before the data",
            ));
        };
        let Some(media_type) = meta.strip_suffix(";base64") else {
            return Err(unsupported(
                &url_at,
                "must be a base64 data: URL (data:<type>;base64,...)",
            ));
        };
        return Ok(json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data },
        }));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(unsupported(
        &url_at,
        "must be an http(s) URL or a base64 data: URL",
    ))
}

fn assistant_blocks(m: &Map<String, Value>, at: &str) -> Result<Vec<Value>, UserError> {
    let content_at = format!("{at}.content");
    let mut blocks = Vec::new();
    match m.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) => blocks.push(text_block(s)),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                let part_at = format!("{content_at}[{j}]");
                let text = match required_field(part, &part_at, "type")? {
                    "text" => required_field(part, &part_at, "text")?,
                    "refusal" => required_field(part, &part_at, "refusal")?,
                    other => {
                        return Err(unsupported(
                            &format!("{part_at}.type"),
                            &format!("{other:?} is not supported in assistant messages"),
                        ))
                    }
                };
                if !text.is_empty() {
                    blocks.push(text_block(text));
                }
            }
        }
        Some(other) => {
            return Err(invalid(
                &content_at,
                "must be a string, an array of parts or null",
                Some(other),
            ))
        }
    }
    match m.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (j, call) in calls.iter().enumerate() {
                blocks.push(tool_use(call, &format!("{at}.tool_calls[{j}]"))?);
            }
        }
        other => {
            return Err(invalid(
                &format!("{at}.tool_calls"),
                "must be an array",
                other,
            ))
        }
    }
    Ok(blocks)
}

fn tool_use(call: &Value, at: &str) -> Result<Value, UserError> {
    match call.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "function" => {}
        Some(other) => {
            return Err(unsupported(
                &format!("{at}.type"),
                &format!("must be \"function\" (got {other})"),
            ))
        }
    }
    let id = required_str(call.get("id"), &format!("{at}.id"))?;
    let function = call.get("function");
    let name = required_str(
        function.and_then(|f| f.get("name")),
        &format!("{at}.function.name"),
    )?;
    let args_at = format!("{at}.function.arguments");
    let input = tool_input(function.and_then(|f| f.get("arguments")), &args_at)?;
    Ok(json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
}

/// A tool call's `arguments` (a JSON text, `args_at` names it) as Anthropic's `input`
/// object; none or blank is `{}`.
pub(crate) fn tool_input(arguments: Option<&Value>, args_at: &str) -> Result<Value, UserError> {
    let args_at = args_at.to_string();
    let input = match arguments {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => v,
            Ok(other) => {
                return Err(UserError::InvalidRequest {
                    message: format!(
                        "`{args_at}` must encode a JSON object (got {})",
                        type_name(&other)
                    ),
                    param: Some(args_at),
                })
            }
            Err(e) => {
                return Err(UserError::InvalidRequest {
                    message: format!("`{args_at}` is not valid JSON: {e}"),
                    param: Some(args_at),
                })
            }
        },
        other => return Err(invalid(&args_at, "must be a string of JSON", other)),
    };
    Ok(input)
}

fn tool_result(m: &Map<String, Value>, at: &str) -> Result<Value, UserError> {
    let id = required_str(m.get("tool_call_id"), &format!("{at}.tool_call_id"))?;
    let mut block = json!({ "type": "tool_result", "tool_use_id": id });
    let content_at = format!("{at}.content");
    match m.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(s @ Value::String(_)) => block["content"] = s.clone(),
        Some(Value::Array(_)) => {
            let blocks = user_blocks(m.get("content"), &content_at)?;
            if !blocks.is_empty() {
                block["content"] = Value::Array(blocks);
            }
        }
        other => {
            return Err(invalid(
                &content_at,
                "must be a string, an array of parts or null",
                other,
            ))
        }
    }
    Ok(block)
}

/// Where an OpenAI API writes a function tool's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolShape {
    /// Chat completions: `{"type":"function","function":{"name",...}}`.
    Chat,
    /// Responses: `{"type":"function","name",...}`.
    Flat,
}

impl ToolShape {
    /// The object holding the function's fields, and its name in errors.
    fn function<'a>(self, tool: &'a Value, at: &str) -> (Option<&'a Value>, String) {
        match self {
            ToolShape::Chat => (tool.get("function"), format!("{at}.function")),
            ToolShape::Flat => (Some(tool), at.to_string()),
        }
    }
}

/// Anthropic tools for OpenAI function tools; other tool types are refused.
pub(crate) fn translate_tools(tools: &[Value], shape: ToolShape) -> Result<Vec<Value>, UserError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        match tool.get("type") {
            Some(Value::String(t)) if t == "function" => {}
            Some(Value::String(t)) => {
                return Err(unsupported(
                    &format!("{at}.type"),
                    &format!("must be \"function\" for Claude models (got {t:?})"),
                ))
            }
            other => {
                return Err(invalid(
                    &format!("{at}.type"),
                    "is required and must be a string",
                    other,
                ))
            }
        }
        let (function, fat) = shape.function(tool, &at);
        let name = required_str(function.and_then(|f| f.get("name")), &format!("{fat}.name"))?;
        let mut t = Map::new();
        t.insert("name".into(), name.into());
        match function.and_then(|f| f.get("description")) {
            None | Some(Value::Null) => {}
            Some(d @ Value::String(_)) => {
                t.insert("description".into(), d.clone());
            }
            other => {
                return Err(invalid(
                    &format!("{fat}.description"),
                    "must be a string",
                    other,
                ))
            }
        }
        // Anthropic requires a schema; OpenAI's default for a missing one is "no
        // arguments".
        let schema = match function.and_then(|f| f.get("parameters")) {
            None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
            Some(p @ Value::Object(_)) => p.clone(),
            other => {
                return Err(invalid(
                    &format!("{fat}.parameters"),
                    "must be an object",
                    other,
                ))
            }
        };
        t.insert("input_schema".into(), schema);
        out.push(Value::Object(t));
    }
    Ok(out)
}

/// Anthropic's `tool_choice`, with `parallel_tool_calls: false` folded in as
/// `disable_parallel_tool_use`. Omitted when there are no tools (Anthropic refuses a
/// choice without tools; `auto` and `none` mean the same thing then).
pub(crate) fn translate_tool_choice(
    req: &Map<String, Value>,
    has_tools: bool,
    shape: ToolShape,
) -> Result<Option<Value>, UserError> {
    let mut choice = match req.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => Some(json!({ "type": "auto" })),
            "none" => Some(json!({ "type": "none" })),
            "required" => Some(json!({ "type": "any" })),
            other => {
                return Err(UserError::InvalidRequest {
                    message: format!(
                        "`tool_choice` must be one of auto, none, required or an object naming a function (got {other:?})"
                    ),
                    param: Some("tool_choice".into()),
                })
            }
        },
        Some(Value::Object(o)) => {
            match o.get("type") {
                Some(Value::String(t)) if t == "function" => {}
                other => {
                    return Err(unsupported(
                        "tool_choice.type",
                        &format!(
                            "must be \"function\" for Claude models (got {})",
                            other.map_or("nothing".to_string(), Value::to_string)
                        ),
                    ))
                }
            }
            let choice = Value::Object(o.clone());
            let (function, fat) = shape.function(&choice, "tool_choice");
            let name = required_str(
                function.and_then(|f| f.get("name")),
                &format!("{fat}.name"),
            )?;
            Some(json!({ "type": "tool", "name": name }))
        }
        other => {
            return Err(invalid(
                "tool_choice",
                "must be a string or an object",
                other,
            ))
        }
    };
    if !has_tools {
        return match choice {
            Some(c) if c["type"] != "auto" && c["type"] != "none" => Err(unsupported(
                "tool_choice",
                "requires `tools` to name at least one function",
            )),
            _ => Ok(None),
        };
    }
    match req.get("parallel_tool_calls") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            let c = choice.get_or_insert_with(|| json!({ "type": "auto" }));
            if c["type"] != "none" {
                c["disable_parallel_tool_use"] = true.into();
            }
        }
        other => return Err(invalid("parallel_tool_calls", "must be a boolean", other)),
    }
    Ok(choice)
}
