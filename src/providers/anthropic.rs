//! Anthropic messages: request validation, response and stream usage.

use serde_json::{Map, Value};

use super::fields::{
    count, invalid, not_one_of, optional_bool, optional_count, optional_number, required_messages,
    required_model, u64_at,
};
use super::{ProviderUsage, RequestSummary, ResponsePiece, StreamEnd};
use crate::errors::UserError;

pub fn validate_request(req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
    let model = validate_prompt(req)?;
    match req.get("max_tokens") {
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        other => {
            return Err(invalid(
                "max_tokens",
                "is required and must be a non-negative integer",
                other,
            ))
        }
    }
    optional_count(req, "top_k")?;
    optional_number(req, "temperature")?;
    let stream = optional_bool(req, "stream")?;
    Ok(RequestSummary {
        model,
        stream,
        client_wants_stream_usage: stream,
        max_output_tokens: req.get("max_tokens").and_then(Value::as_u64),
        max_output_field: "max_tokens",
    })
}

/// The part of a Messages request that `count_tokens` takes too: `model`, `messages`,
/// `system`. Returns the model.
pub fn validate_prompt(req: &Map<String, Value>) -> Result<String, UserError> {
    let model = required_model(req)?;
    let messages = required_messages(req)?;
    for (i, m) in messages.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(invalid(
                &format!("messages[{i}]"),
                "must be an object",
                Some(m),
            ));
        };
        match m.get("role") {
            Some(Value::String(r)) if r == "user" || r == "assistant" => {}
            Some(Value::String(r)) => {
                return Err(not_one_of(
                    &format!("messages[{i}].role"),
                    "user, assistant",
                    r,
                ))
            }
            other => {
                return Err(invalid(
                    &format!("messages[{i}].role"),
                    "is required and must be a string",
                    other,
                ))
            }
        }
        match m.get("content") {
            Some(Value::String(_)) | Some(Value::Array(_)) => {}
            other => {
                return Err(invalid(
                    &format!("messages[{i}].content"),
                    "is required and must be a string or an array",
                    other,
                ))
            }
        }
    }
    match req.get("system") {
        None | Some(Value::String(_)) | Some(Value::Array(_)) => {}
        other => return Err(invalid("system", "must be a string or an array", other)),
    }
    Ok(model)
}

fn usage_of(u: &Value) -> Option<ProviderUsage> {
    if !u.is_object() {
        return None;
    }
    let cached_input = count(u, "cache_read_input_tokens");
    let cache_write = count(u, "cache_creation_input_tokens");
    Some(ProviderUsage {
        input: u64_at(u, "input_tokens").map(|n| n + cached_input + cache_write),
        output: u64_at(u, "output_tokens"),
        cached_input,
        cache_write,
    })
}

/// Merges the fields of an Anthropic usage object into `acc`, later events overwriting
/// earlier ones (`message_start` has input, `message_delta` the final output).
pub(crate) fn merge_usage(acc: &mut Map<String, Value>, u: Option<&Value>) {
    if let Some(Value::Object(u)) = u {
        for (k, v) in u {
            if !v.is_null() {
                acc.insert(k.clone(), v.clone());
            }
        }
    }
}

fn push_block_text(text: &mut String, block: &Value) {
    for k in ["text", "partial_json", "thinking"] {
        if let Some(s) = block.get(k).and_then(Value::as_str) {
            text.push_str(s);
        }
    }
    if let Some(input) = block
        .get("input")
        .filter(|i| i.as_object().is_some_and(|o| !o.is_empty()))
    {
        text.push_str(&input.to_string());
    }
}

pub fn read_response(body: &Value) -> ResponsePiece {
    let mut piece = ResponsePiece::of(body, usage_of);
    if let Some(Value::Array(blocks)) = body.get("content") {
        for b in blocks {
            push_block_text(&mut piece.text, b);
        }
    }
    piece
}

/// One event of a messages stream (the `data:` payload; its `type` names the event).
pub fn read_stream_event(data: &Value) -> ResponsePiece {
    let mut piece = ResponsePiece::default();
    match data.get("type").and_then(Value::as_str) {
        Some("message_start") => {
            if let Some(m) = data.get("message") {
                piece = ResponsePiece::of(m, usage_of);
                // message_start's output_tokens is a placeholder; the final count comes
                // in message_delta.
                if let Some(u) = piece.usage.as_mut() {
                    u.output = None;
                }
            }
        }
        Some("content_block_delta") => {
            if let Some(d) = data.get("delta") {
                push_block_text(&mut piece.text, d);
            }
        }
        Some("message_delta") => {
            if let Some(u) = data.get("usage").and_then(usage_of) {
                piece.usage = Some(ProviderUsage { input: None, ..u });
                if let Some(all) = data.get("usage").and_then(|u| u64_at(u, "input_tokens")) {
                    let p = piece.usage.as_mut().expect("set above");
                    p.input = Some(all + p.cached_input + p.cache_write);
                }
            }
        }
        Some("message_stop") => piece.end = Some(StreamEnd::Done),
        Some("error") => piece.end = Some(StreamEnd::Error),
        _ => {}
    }
    piece
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::parse_object;
    use serde_json::json;

    #[test]
    fn validates_messages_requests() {
        let ok = parse_object(br#"{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(validate_request(&ok).unwrap().model, "claude-sonnet-4-5");
        let no_max =
            parse_object(br#"{"model":"c","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(
            validate_request(&no_max).unwrap_err().message(),
            "`max_tokens` is required and must be a non-negative integer (got nothing)"
        );
        let empty = parse_object(br#"{"model":"c","max_tokens":1,"messages":[]}"#).unwrap();
        assert_eq!(
            validate_request(&empty).unwrap_err().message(),
            "`messages` must contain at least one message"
        );
        let system_role = parse_object(
            br#"{"model":"c","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#,
        )
        .unwrap();
        assert!(validate_request(&system_role)
            .unwrap_err()
            .message()
            .contains("must be one of user, assistant"));
    }

    #[test]
    fn stream_usage_comes_from_start_and_delta() {
        let start = json!({"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":1}}});
        let delta = json!({"type":"message_delta","usage":{"output_tokens":9}});
        let mut u = read_stream_event(&start).usage.unwrap();
        u.merge(read_stream_event(&delta).usage.unwrap());
        assert_eq!(
            u,
            ProviderUsage {
                input: Some(7),
                output: Some(9),
                cached_input: 2,
                cache_write: 0
            }
        );
        let text = json!({"type":"content_block_delta","delta":{"type":"text_delta","text":"hey"}});
        assert_eq!(read_stream_event(&text).text, "hey");
    }
}
