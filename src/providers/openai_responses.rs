//! OpenAI Responses (`POST /v1/responses`): request validation, the request seen as the
//! chat request it amounts to (for counting and routing), usage of whole answers and of
//! the typed stream events, and the texts of a request and of an answer for the guard.
//!
//! A request's `input` is a string (one user message) or a list of items: messages
//! (`input_text`, `input_image`, `input_file` parts; `output_text` and `refusal` parts in
//! assistant messages), `function_call`, `function_call_output`, `reasoning`,
//! `item_reference` and the built-in tools' items. Fields the gateway does not read
//! (`previous_response_id`, `store`, `include`, `text`, `reasoning`, ...) pass through
//! untouched.

use serde_json::{json, Map, Value};

use super::fields::{
    count, invalid, not_one_of, optional_bool, optional_count, optional_number, required_model,
    u64_at,
};
use super::{ProviderUsage, RequestSummary, ResponsePiece, StreamEnd};
use crate::errors::UserError;

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];

pub fn validate_request(req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
    let model = required_model(req)?;
    match req.get("input") {
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                validate_item(item, &format!("input[{i}]"))?;
            }
        }
        None | Some(Value::Null) if continues_elsewhere(req) => {}
        other => {
            return Err(invalid(
                "input",
                "is required and must be a string or an array of input items",
                other,
            ))
        }
    }
    for key in ["instructions", "previous_response_id"] {
        match req.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            other => return Err(invalid(key, "must be a string", other)),
        }
    }
    match req.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, tool) in tools.iter().enumerate() {
                let at = format!("tools[{i}]");
                if type_of(tool, &at)? == "function" {
                    required_str_field(tool, &at, "name")?;
                }
            }
        }
        other => return Err(invalid("tools", "must be an array", other)),
    }
    match req.get("tool_choice") {
        None | Some(Value::Null) | Some(Value::String(_)) | Some(Value::Object(_)) => {}
        other => {
            return Err(invalid(
                "tool_choice",
                "must be a string or an object",
                other,
            ))
        }
    }
    let stream = optional_bool(req, "stream")?;
    optional_bool(req, "store")?;
    optional_bool(req, "parallel_tool_calls")?;
    optional_count(req, "max_output_tokens")?;
    optional_number(req, "temperature")?;
    optional_number(req, "top_p")?;
    Ok(RequestSummary {
        max_output_field: "max_output_tokens",
        model,
        stream,
        // Responses streams always end with `response.completed` and its usage.
        client_wants_stream_usage: stream,
        max_output_tokens: req.get("max_output_tokens").and_then(Value::as_u64),
    })
}

/// A request without `input` continues a stored conversation or prompt.
fn continues_elsewhere(req: &Map<String, Value>) -> bool {
    ["previous_response_id", "conversation", "prompt"]
        .iter()
        .any(|k| !matches!(req.get(*k), None | Some(Value::Null)))
}

/// The item's `type`; an item with a `role` and no `type` is a message.
pub(crate) fn item_type(item: &Value) -> Option<&str> {
    match item.get("type") {
        Some(Value::String(t)) => Some(t),
        None | Some(Value::Null) if item.get("role").is_some() => Some("message"),
        _ => None,
    }
}

fn type_of<'a>(v: &'a Value, at: &str) -> Result<&'a str, UserError> {
    if !v.is_object() {
        return Err(invalid(at, "must be an object", Some(v)));
    }
    v.get("type").and_then(Value::as_str).ok_or_else(|| {
        invalid(
            &format!("{at}.type"),
            "is required and must be a string",
            v.get("type"),
        )
    })
}

fn required_str_field<'a>(v: &'a Value, at: &str, key: &str) -> Result<&'a str, UserError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| {
        invalid(
            &format!("{at}.{key}"),
            "is required and must be a string",
            v.get(key),
        )
    })
}

fn validate_item(item: &Value, at: &str) -> Result<(), UserError> {
    if !item.is_object() {
        return Err(invalid(at, "must be an object", Some(item)));
    }
    let Some(kind) = item_type(item) else {
        return Err(invalid(
            &format!("{at}.type"),
            "is required and must be a string (or the item a message with a `role`)",
            item.get("type"),
        ));
    };
    match kind {
        "message" => {
            let role = required_str_field(item, at, "role")?;
            if !ROLES.contains(&role) {
                return Err(not_one_of(&format!("{at}.role"), &ROLES.join(", "), role));
            }
            match item.get("content") {
                Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (j, part) in parts.iter().enumerate() {
                        validate_part(part, &format!("{at}.content[{j}]"))?;
                    }
                }
                other => {
                    return Err(invalid(
                        &format!("{at}.content"),
                        "is required and must be a string or an array of content parts",
                        other,
                    ))
                }
            }
        }
        "function_call" => {
            for key in ["call_id", "name", "arguments"] {
                required_str_field(item, at, key)?;
            }
        }
        "function_call_output" => {
            required_str_field(item, at, "call_id")?;
            match item.get("output") {
                Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (j, part) in parts.iter().enumerate() {
                        validate_part(part, &format!("{at}.output[{j}]"))?;
                    }
                }
                other => {
                    return Err(invalid(
                        &format!("{at}.output"),
                        "is required and must be a string or an array of content parts",
                        other,
                    ))
                }
            }
        }
        "reasoning" => match item.get("summary") {
            None | Some(Value::Null) => {}
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    let part_at = format!("{at}.summary[{j}]");
                    type_of(part, &part_at)?;
                    required_str_field(part, &part_at, "text")?;
                }
            }
            other => return Err(invalid(&format!("{at}.summary"), "must be an array", other)),
        },
        "item_reference" => {
            required_str_field(item, at, "id")?;
        }
        // Built-in tools' calls and outputs, and item types added later: as they are.
        _ => {}
    }
    Ok(())
}

fn validate_part(part: &Value, at: &str) -> Result<(), UserError> {
    match type_of(part, at)? {
        "input_text" | "output_text" => {
            required_str_field(part, at, "text")?;
        }
        "refusal" => {
            required_str_field(part, at, "refusal")?;
        }
        "input_image" => {
            for key in ["image_url", "file_id"] {
                match part.get(key) {
                    None | Some(Value::Null) | Some(Value::String(_)) => {}
                    other => {
                        return Err(invalid(&format!("{at}.{key}"), "must be a string", other))
                    }
                }
            }
        }
        "input_file" => {
            for key in ["file_id", "file_data", "file_url", "filename"] {
                match part.get(key) {
                    None | Some(Value::Null) | Some(Value::String(_)) => {}
                    other => {
                        return Err(invalid(&format!("{at}.{key}"), "must be a string", other))
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The text of a content list or string: text parts (`input_text`, `output_text`,
/// `summary_text`, ...) and refusals, joined with newlines.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| {
                    p.get("text")
                        .or_else(|| p.get("refusal"))
                        .and_then(Value::as_str)
                })
                .collect();
            texts.join("\n")
        }
        _ => String::new(),
    }
}

/// What a text of a request is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputText {
    /// `instructions`, or a system or developer message.
    System,
    User,
    /// An assistant message of an earlier turn, or a reasoning summary.
    Assistant,
    /// A `function_call`'s arguments (JSON text).
    ToolArguments,
    /// A `function_call_output`.
    ToolOutput,
}

/// One text of a request: the input item it belongs to (`None`: `instructions`), what it
/// is, and where it is (a JSON pointer to a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSpot {
    pub item: Option<usize>,
    pub kind: InputText,
    pub pointer: String,
}

impl TextSpot {
    /// The text in a request object (the pointer read below its top-level field).
    pub fn text_in<'a>(&self, req: &'a Map<String, Value>) -> Option<&'a str> {
        let rest = self.pointer.strip_prefix('/')?;
        let (field, below) = rest.split_once('/').map_or((rest, ""), |(f, r)| (f, r));
        let v = req.get(field)?;
        let v = if below.is_empty() {
            v
        } else {
            v.pointer(&format!("/{below}"))?
        };
        v.as_str()
    }
}

/// Every text of a request body that the model reads, in order: `instructions`, then
/// each input item's (message content or its text and refusal parts, function call
/// arguments, function call output, reasoning summaries). `input` as a string is item 0,
/// a user message. Read the texts with `Value::pointer` or [`TextSpot::text_in`].
pub fn input_texts(req: &Value) -> Vec<TextSpot> {
    match req.as_object() {
        Some(obj) => input_texts_of(obj),
        None => Vec::new(),
    }
}

/// [`input_texts`] of a request object.
pub fn input_texts_of(req: &Map<String, Value>) -> Vec<TextSpot> {
    let mut spots = Vec::new();
    let mut spot = |item, kind, pointer: String| {
        spots.push(TextSpot {
            item,
            kind,
            pointer,
        })
    };
    if req.get("instructions").is_some_and(Value::is_string) {
        spot(None, InputText::System, "/instructions".into());
    }
    let items = match req.get("input") {
        Some(Value::String(_)) => {
            spot(Some(0), InputText::User, "/input".into());
            return spots;
        }
        Some(Value::Array(items)) => items,
        _ => return spots,
    };
    for (i, item) in items.iter().enumerate() {
        let (kind, field) = match item_type(item) {
            Some("message") => {
                let kind = match item.get("role").and_then(Value::as_str) {
                    Some("user") => InputText::User,
                    Some("assistant") => InputText::Assistant,
                    _ => InputText::System,
                };
                (kind, "content")
            }
            Some("function_call") => (InputText::ToolArguments, "arguments"),
            Some("function_call_output") => (InputText::ToolOutput, "output"),
            Some("reasoning") => (InputText::Assistant, "summary"),
            _ => continue,
        };
        match item.get(field) {
            Some(Value::String(_)) => spot(Some(i), kind, format!("/input/{i}/{field}")),
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    for key in ["text", "refusal"] {
                        if part.get(key).is_some_and(Value::is_string) {
                            spot(Some(i), kind, format!("/input/{i}/{field}/{j}/{key}"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    spots
}

/// The texts of one input item (`None`: `instructions`), joined with newlines.
pub fn item_text(req: &Value, item: Option<usize>) -> String {
    let texts: Vec<&str> = input_texts(req)
        .into_iter()
        .filter(|s| s.item == item)
        .filter_map(|s| req.pointer(&s.pointer).and_then(Value::as_str))
        .collect();
    texts.join("\n")
}

/// The chat-completions request a Responses request amounts to, for the counter and
/// the `auto` router: `instructions` as a system message, the input items as the
/// messages they stand for (a `function_call` as an assistant tool call, its output as a
/// `tool` message, a reasoning summary as assistant text), function tools as chat tools,
/// `text.format` as `response_format`. Images and files keep no part (they count by
/// their text only, as in chat).
pub fn chat_view(req: &Map<String, Value>) -> Map<String, Value> {
    let mut messages = Vec::new();
    if let Some(Value::String(s)) = req.get("instructions") {
        if !s.is_empty() {
            messages.push(json!({"role": "system", "content": s}));
        }
    }
    match req.get("input") {
        Some(Value::String(s)) => messages.push(json!({"role": "user", "content": s})),
        Some(Value::Array(items)) => {
            for item in items {
                if let Some(m) = chat_message(item) {
                    messages.push(m);
                }
            }
        }
        _ => {}
    }
    let mut out = Map::new();
    if let Some(model) = req.get("model") {
        out.insert("model".into(), model.clone());
    }
    out.insert("messages".into(), Value::Array(messages));
    if let Some(Value::Array(tools)) = req.get("tools") {
        let functions: Vec<Value> = tools
            .iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
            .map(|t| {
                let mut f = Map::new();
                for key in ["name", "description", "parameters"] {
                    if let Some(v) = t.get(key) {
                        f.insert(key.into(), v.clone());
                    }
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        if !functions.is_empty() {
            out.insert("tools".into(), Value::Array(functions));
        }
    }
    if let Some(format) = req.get("text").and_then(|t| t.get("format")) {
        out.insert("response_format".into(), format.clone());
    }
    out
}

fn chat_message(item: &Value) -> Option<Value> {
    let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("");
    Some(match item_type(item)? {
        "message" => json!({"role": text("role"), "content": content_text(item.get("content"))}),
        "function_call" => json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": text("call_id"), "type": "function",
            "function": {"name": text("name"), "arguments": text("arguments")}}]}),
        "function_call_output" => json!({"role": "tool", "tool_call_id": text("call_id"),
            "content": content_text(item.get("output"))}),
        "reasoning" => {
            let summary = content_text(item.get("summary"));
            if summary.is_empty() {
                return None;
            }
            json!({"role": "assistant", "content": summary})
        }
        _ => return None,
    })
}

/// Responses usage: `input_tokens` counts every input token, cached ones
/// (`input_tokens_details.cached_tokens`) included.
fn usage_of(u: &Value) -> Option<ProviderUsage> {
    if !u.is_object() {
        return None;
    }
    Some(ProviderUsage {
        input: u64_at(u, "input_tokens"),
        output: u64_at(u, "output_tokens"),
        cached_input: u
            .get("input_tokens_details")
            .map_or(0, |d| count(d, "cached_tokens")),
        cache_write: 0,
    })
}

/// The generated text of output items: message text and refusals, function calls' name
/// and arguments, reasoning summaries.
fn push_output_text(text: &mut String, output: Option<&Value>) {
    for item in output.and_then(Value::as_array).into_iter().flatten() {
        match item_type(item) {
            Some("message") => text.push_str(&content_text(item.get("content"))),
            Some("function_call") => {
                for k in ["name", "arguments"] {
                    if let Some(s) = item.get(k).and_then(Value::as_str) {
                        text.push_str(s);
                    }
                }
            }
            Some("reasoning") => text.push_str(&content_text(item.get("summary"))),
            _ => {}
        }
    }
}

/// A whole `response` object.
pub fn read_response(body: &Value) -> ResponsePiece {
    let mut piece = ResponsePiece::of(body, usage_of);
    push_output_text(&mut piece.text, body.get("output"));
    piece
}

/// One typed stream event (its `type` names it; the `event:` line repeats it).
pub fn read_stream_event(data: &Value) -> ResponsePiece {
    let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
    let mut piece = match data.get("response") {
        Some(r) if kind.starts_with("response.") => ResponsePiece::of(r, usage_of),
        _ => ResponsePiece::default(),
    };
    piece.sequence = u64_at(data, "sequence_number");
    match kind {
        "response.output_text.delta"
        | "response.refusal.delta"
        | "response.function_call_arguments.delta"
        | "response.reasoning_summary_text.delta" => {
            if let Some(s) = data.get("delta").and_then(Value::as_str) {
                piece.text.push_str(s);
            }
        }
        "response.output_item.added" => {
            if let Some(item) = data
                .get("item")
                .filter(|i| item_type(i) == Some("function_call"))
            {
                if let Some(s) = item.get("name").and_then(Value::as_str) {
                    piece.text.push_str(s);
                }
            }
        }
        "response.completed" | "response.incomplete" => piece.end = Some(StreamEnd::Done),
        "response.failed" | "error" => piece.end = Some(StreamEnd::Error),
        _ => {}
    }
    piece
}

/// Whether a stream event shows the answer has begun (or will not come): its first
/// text or tool call, or its end. For the fallback chain's first-token gate.
pub fn starts_answer(data: &Value) -> bool {
    let piece = read_stream_event(data);
    piece.end.is_some() || !piece.text.is_empty()
}

#[cfg(test)]
pub(crate) mod tests;
