//! OpenAI chat completions: request validation, response and stream usage.

use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{
    count, invalid, not_one_of, optional_bool, optional_count, optional_number, required_messages,
    required_model, u64_at,
};
use super::{ProviderUsage, RequestSummary, ResponsePiece, StreamEnd};
use crate::errors::UserError;
use crate::swar::find_bytes;

const ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

pub fn validate_request(req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
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
            Some(Value::String(r)) if ROLES.contains(&r.as_str()) => {}
            Some(Value::String(r)) => {
                return Err(not_one_of(
                    &format!("messages[{i}].role"),
                    &ROLES.join(", "),
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
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    if !matches!(part.get("type"), Some(Value::String(_))) {
                        return Err(invalid(
                            &format!("messages[{i}].content[{j}].type"),
                            "is required and must be a string",
                            part.get("type"),
                        ));
                    }
                }
            }
            other => {
                return Err(invalid(
                    &format!("messages[{i}].content"),
                    "must be a string, an array of parts or null",
                    other,
                ))
            }
        }
        if let Some(name) = m.get("name") {
            if !name.is_string() {
                return Err(invalid(
                    &format!("messages[{i}].name"),
                    "must be a string",
                    Some(name),
                ));
            }
        }
    }
    let stream = optional_bool(req, "stream")?;
    let client_wants_stream_usage = match req.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(o)) => match o.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            other => {
                return Err(invalid(
                    "stream_options.include_usage",
                    "must be a boolean",
                    other,
                ))
            }
        },
        other => return Err(invalid("stream_options", "must be an object", other)),
    };
    optional_count(req, "max_tokens")?;
    optional_count(req, "max_completion_tokens")?;
    optional_count(req, "n")?;
    optional_number(req, "temperature")?;
    optional_number(req, "top_p")?;
    for key in ["tools", "functions"] {
        match req.get(key) {
            None | Some(Value::Null) | Some(Value::Array(_)) => {}
            other => return Err(invalid(key, "must be an array", other)),
        }
    }
    let (max_output_field, max_output_tokens) = ["max_completion_tokens", "max_tokens"]
        .into_iter()
        .find_map(|k| req.get(k).and_then(Value::as_u64).map(|n| (k, Some(n))))
        .unwrap_or(("max_tokens", None));
    Ok(RequestSummary {
        model,
        stream,
        client_wants_stream_usage,
        max_output_tokens,
        max_output_field,
    })
}

/// The request body with `stream_options.include_usage` set, so the provider reports
/// usage in the last event. Splices bytes when there is no `stream_options` (the body
/// keeps its exact form); rewrites the object otherwise.
pub fn with_stream_usage(body: &[u8], req: &Map<String, Value>) -> Vec<u8> {
    if !req.contains_key("stream_options") {
        if let Some(open) = body.iter().position(|&b| b == b'{') {
            let mut out = Vec::with_capacity(body.len() + 40);
            out.extend_from_slice(&body[..=open]);
            out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
            let rest = &body[open + 1..];
            if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != b'}') {
                out.push(b',');
            }
            out.extend_from_slice(rest);
            return out;
        }
    }
    let mut req = req.clone();
    let options = req
        .entry("stream_options")
        .or_insert_with(|| Value::Object(Map::new()));
    if !options.is_object() {
        *options = Value::Object(Map::new());
    }
    if let Value::Object(o) = options {
        o.insert("include_usage".into(), Value::Bool(true));
    }
    Value::Object(req).to_string().into_bytes()
}

/// Whole stream events without the final usage chunk (`"choices": []` and a `usage`
/// object), the one the gateway asked for with [`with_stream_usage`] when the client had
/// not. `None` when there was none (the bytes go on unchanged). What follows the last
/// whole event is kept as it is.
pub fn without_usage_chunk(events: &[u8]) -> Option<Vec<u8>> {
    memchr_usage(events)?;
    let (whole, rest) = crate::sse::split_events(events);
    let mut out = Vec::with_capacity(events.len());
    let mut dropped = false;
    for event in whole {
        if is_usage_chunk(event) {
            dropped = true;
        } else {
            out.extend_from_slice(event);
        }
    }
    out.extend_from_slice(rest);
    dropped.then_some(out)
}

/// Where `"usage"` first appears, if it does: most chunks are let through on this test.
fn memchr_usage(bytes: &[u8]) -> Option<usize> {
    find_bytes(bytes, b"\"usage\"")
}

fn is_usage_chunk(event: &[u8]) -> bool {
    if memchr_usage(event).is_none() {
        return false;
    }
    let mut parser = crate::sse::SseParser::new();
    parser.feed(event);
    let Some(ev) = parser.next_event() else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
        return false;
    };
    v.get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
        && v.get("usage").is_some_and(Value::is_object)
}

fn usage_of(u: &Value) -> Option<ProviderUsage> {
    if !u.is_object() {
        return None;
    }
    Some(ProviderUsage {
        input: u64_at(u, "prompt_tokens"),
        output: u64_at(u, "completion_tokens"),
        cached_input: cached_tokens(u),
        cache_write: 0,
    })
}

/// The cached input tokens of an OpenAI usage object (counted in `prompt_tokens` too).
pub(crate) fn cached_tokens(u: &Value) -> u64 {
    u.get("prompt_tokens_details")
        .map_or(0, |d| count(d, "cached_tokens"))
}

fn push_tool_text(text: &mut String, calls: Option<&Value>) {
    if let Some(Value::Array(calls)) = calls {
        for c in calls {
            if let Some(f) = c.get("function") {
                for k in ["name", "arguments"] {
                    if let Some(s) = f.get(k).and_then(Value::as_str) {
                        text.push_str(s);
                    }
                }
            }
        }
    }
}

/// A whole (non-streaming) chat.completion body.
pub fn read_response(body: &Value) -> ResponsePiece {
    read_choices(body, "message")
}

/// One `data:` payload of a chat.completion.chunk stream (`[DONE]` excluded).
pub fn read_stream_event(data: &Value) -> ResponsePiece {
    read_choices(data, "delta")
}

/// The common chunk (text, usage, model) read without building a JSON tree: the meter
/// reads every event of every stream. `None` for what [`read_stream_event`] must read:
/// tool calls, a field of another type than expected, a duplicate key, anything but an
/// object. Where it answers, it answers what `read_stream_event` would.
pub fn read_plain_chunk(data: &str) -> Option<ResponsePiece> {
    if !data.starts_with('{') {
        return None;
    }
    let chunk: PlainChunk = serde_json::from_str(data).ok()?;
    let mut piece = ResponsePiece {
        usage: chunk.usage.as_ref().and_then(usage_of),
        model: chunk.model.map(Cow::into_owned),
        end: chunk.error.then_some(StreamEnd::Error),
        ..ResponsePiece::default()
    };
    for choice in chunk.choices.unwrap_or_default() {
        let Some(delta) = choice.delta else { continue };
        if delta.tool_calls {
            return None;
        }
        if let Some(text) = delta.content {
            piece.text.push_str(&text);
        }
    }
    Some(piece)
}

#[derive(Deserialize)]
struct PlainChunk<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<Value>,
    /// Present, whatever its value (`"error": null` included), as `v.get("error")`.
    #[serde(default, deserialize_with = "present")]
    error: bool,
    #[serde(borrow, default)]
    choices: Option<Vec<PlainChoice<'a>>>,
}

#[derive(Deserialize)]
struct PlainChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<PlainDelta<'a>>,
}

#[derive(Deserialize)]
struct PlainDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    tool_calls: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A body or chunk whose choices hold their text in `part`.
fn read_choices(v: &Value, part: &str) -> ResponsePiece {
    let mut piece = ResponsePiece::of(v, usage_of);
    if v.get("error").is_some() {
        piece.end = Some(StreamEnd::Error);
    }
    if let Some(Value::Array(choices)) = v.get("choices") {
        for c in choices {
            if let Some(m) = c.get(part) {
                if let Some(s) = m.get("content").and_then(Value::as_str) {
                    piece.text.push_str(s);
                }
                push_tool_text(&mut piece.text, m.get("tool_calls"));
            }
        }
    }
    piece
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::parse_object;
    use serde_json::json;

    #[test]
    fn a_plain_chunk_reads_as_its_tree_does_or_not_at_all() {
        let chunks = [
            r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":" hi"},"logprobs":null,"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"a\"b\u00e9\n"}}]}"#,
            r#"{"choices":[{"delta":{"content":null}},{"delta":{"content":"x"}},{"delta":null},{}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#,
            r#"{"choices":null,"usage":null,"model":null}"#,
            r#"{"error":null}"#,
            r#"{"error":{"message":"overloaded"}}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":null,"content":"t"}}]}"#,
            r#"{"model":5,"choices":[]}"#,
            r#"{"choices":[{"delta":{"content":7}}]}"#,
            r#"{"choices":{"delta":{"content":"x"}}}"#,
            r#"{"model":"a","model":"b"}"#,
            r#"["gpt-4o"]"#,
            r#"{"choices":[5]}"#,
            r#"{"usage":[1]}"#,
        ];
        let mut fast = 0;
        for c in chunks {
            let tree = read_stream_event(&serde_json::from_str(c).unwrap());
            if let Some(piece) = read_plain_chunk(c) {
                assert_eq!(piece, tree, "{c}");
                fast += 1;
            }
        }
        // The common shapes take the fast path; the odd ones fall back to the tree.
        assert!(read_plain_chunk(chunks[0]).is_some() && read_plain_chunk(chunks[3]).is_some());
        assert!(read_plain_chunk(chunks[7]).is_none() && read_plain_chunk(chunks[13]).is_none());
        assert!(fast >= 8, "{fast}");
    }

    fn check(body: &str) -> Result<RequestSummary, String> {
        let req = parse_object(body.as_bytes()).map_err(|e| e.message())?;
        validate_request(&req).map_err(|e| e.message())
    }

    #[test]
    fn accepts_a_normal_request() {
        let s = check(
            r#"{"model":"gpt-4o","stream":true,"max_tokens":7,"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            RequestSummary {
                model: "gpt-4o".into(),
                stream: true,
                client_wants_stream_usage: false,
                max_output_tokens: Some(7),
                max_output_field: "max_tokens",
            }
        );
    }

    #[test]
    fn rejects_bad_input_precisely() {
        assert!(check("not json")
            .unwrap_err()
            .contains("expected ident at line 1 column 2"));
        assert_eq!(
            check("[1]").unwrap_err(),
            "The request body must be a JSON object (got array)"
        );
        assert_eq!(
            check(r#"{"model":"gpt-4o"}"#).unwrap_err(),
            "`messages` is required and must be an array (got nothing)"
        );
        assert_eq!(
            check(r#"{"messages":[]}"#).unwrap_err(),
            "`model` is required and must be a string (got nothing)"
        );
        assert_eq!(
            check(r#"{"model":"m","messages":[{"role":"user","content":5}]}"#).unwrap_err(),
            "`messages[0].content` must be a string, an array of parts or null (got number)"
        );
        assert_eq!(
            check(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#)
                .unwrap_err(),
            "`stream` must be a boolean (got string)"
        );
        assert_eq!(
            check(r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#).unwrap_err(),
            "`messages[0].role` must be one of system, developer, user, assistant, tool, function (got \"robot\")"
        );
        let bad_utf8 = b"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}";
        let e = parse_object(bad_utf8).unwrap_err();
        assert!(
            e.message()
                .contains("not valid UTF-8 (invalid byte at offset 51)"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn stream_usage_is_spliced_without_reordering() {
        let body = br#"{"model":"gpt-4o","stream":true,"messages":[]}"#;
        let req = parse_object(body).unwrap();
        let out = with_stream_usage(body, &req);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true,"messages":[]}"#
        );
        let body = br#"{"model":"gpt-4o","stream_options":{"include_usage":false}}"#;
        let out = with_stream_usage(body, &parse_object(body).unwrap());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
    }

    #[test]
    fn the_usage_chunk_is_removed_and_nothing_else() {
        let stream = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\r\n\r\n",
            "data: [DONE]\n\n"
        );
        let out = without_usage_chunk(stream.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
                "data: [DONE]\n\n"
            )
        );
        let first = &stream[..stream.find("data: {\"choices\":[]").unwrap()];
        assert_eq!(without_usage_chunk(first.as_bytes()), None);
        assert_eq!(without_usage_chunk(b"data: [DONE]\n\n"), None);
    }

    #[test]
    fn reads_usage_and_text() {
        let body = json!({"model":"gpt-4o-2024-08-06","choices":[{"message":{"content":"hi"}}],
            "usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}});
        let p = read_response(&body);
        assert_eq!(
            p.usage,
            Some(ProviderUsage {
                input: Some(10),
                output: Some(2),
                cached_input: 4,
                cache_write: 0
            })
        );
        assert_eq!(p.text, "hi");
        let chunk = json!({"choices":[{"delta":{"content":"he"}}],"usage":null});
        assert_eq!(read_stream_event(&chunk).text, "he");
        assert_eq!(read_stream_event(&chunk).usage, None);
    }
}
