//! Anthropic Messages in the cache: which whole answers are complete, a stream of
//! Messages events read into the `message` a plain request gets, and that message
//! replayed as events.

use serde_json::{json, Map, Value};

use super::pieces;

/// The stop reasons of a complete answer. `refusal`, `pause_turn` (and anything else)
/// are not stored.
const COMPLETE: &[&str] = &["end_turn", "max_tokens", "stop_sequence", "tool_use"];

pub(super) fn complete(answer: &Value) -> bool {
    answer.get("content").is_some_and(Value::is_array)
        && answer
            .get("stop_reason")
            .and_then(Value::as_str)
            .is_some_and(|r| COMPLETE.contains(&r))
}

#[derive(Debug, Default)]
struct Block {
    /// As `content_block_start` gave it, text fields filled from the deltas.
    block: Map<String, Value>,
    /// `input_json_delta` pieces of a tool's input.
    json: String,
}

/// A Messages stream read into its whole message.
#[derive(Debug, Default)]
pub(super) struct Accumulator {
    message: Option<Map<String, Value>>,
    blocks: Vec<Block>,
    done: bool,
    unusable: bool,
    /// Bytes of text held.
    pub(super) held: usize,
}

impl Accumulator {
    pub(super) fn on_event(&mut self, data: &str) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            self.unusable = true;
            return;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("message_start") => match v.get("message").and_then(Value::as_object) {
                Some(m) => self.message = Some(m.clone()),
                None => self.unusable = true,
            },
            Some("content_block_start") => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                match v.get("content_block").and_then(Value::as_object) {
                    Some(b) if index == self.blocks.len() => self.blocks.push(Block {
                        block: b.clone(),
                        json: String::new(),
                    }),
                    _ => self.unusable = true,
                }
            }
            Some("content_block_delta") => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let (Some(block), Some(delta)) = (self.blocks.get_mut(index), v.get("delta"))
                else {
                    self.unusable = true;
                    return;
                };
                let text = |name: &str| delta.get(name).and_then(Value::as_str).unwrap_or("");
                let append = |b: &mut Map<String, Value>, field: &str, piece: &str| {
                    let mut s = b
                        .get(field)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    s.push_str(piece);
                    b.insert(field.into(), json!(s));
                };
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => append(&mut block.block, "text", text("text")),
                    Some("thinking_delta") => {
                        append(&mut block.block, "thinking", text("thinking"))
                    }
                    Some("signature_delta") => {
                        append(&mut block.block, "signature", text("signature"))
                    }
                    Some("input_json_delta") => block.json.push_str(text("partial_json")),
                    Some("citations_delta") => match delta.get("citation") {
                        Some(c) => {
                            let list = block.block.entry("citations").or_insert_with(|| json!([]));
                            match list.as_array_mut() {
                                Some(list) => list.push(c.clone()),
                                None => self.unusable = true,
                            }
                        }
                        None => self.unusable = true,
                    },
                    _ => self.unusable = true,
                }
                self.held += data.len();
            }
            Some("content_block_stop") => {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let Some(block) = self.blocks.get_mut(index) else {
                    self.unusable = true;
                    return;
                };
                if !block.json.is_empty() {
                    match serde_json::from_str::<Value>(&block.json) {
                        Ok(input) => {
                            block.block.insert("input".into(), input);
                        }
                        Err(_) => self.unusable = true,
                    }
                    block.json.clear();
                }
            }
            Some("message_delta") => {
                let Some(m) = self.message.as_mut() else {
                    self.unusable = true;
                    return;
                };
                for (name, value) in v
                    .get("delta")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    m.insert(name.clone(), value.clone());
                }
                if let Some(Value::Object(later)) = v.get("usage") {
                    let usage = m.entry("usage").or_insert_with(|| json!({}));
                    if let Some(usage) = usage.as_object_mut() {
                        for (name, value) in later.iter().filter(|(_, v)| !v.is_null()) {
                            usage.insert(name.clone(), value.clone());
                        }
                    }
                }
            }
            Some("message_stop") => self.done = true,
            Some("ping") => {}
            _ => self.unusable = true,
        }
    }

    /// The whole message, when the stream reached `message_stop` and is [`complete`].
    pub(super) fn finish(self) -> Option<Value> {
        if !self.done || self.unusable {
            return None;
        }
        let mut message = self.message?;
        let content = self
            .blocks
            .into_iter()
            .map(|b| Value::Object(b.block))
            .collect();
        message.insert("content".into(), Value::Array(content));
        let message = Value::Object(message);
        complete(&message).then_some(message)
    }
}

/// The message as an event stream: `message_start` (no content, the input usage), each
/// block's start, its text (`text_delta`, `thinking_delta`, a tool's input as
/// `input_json_delta`) in pieces and its stop, `message_delta` (stop reason, usage),
/// `message_stop`. Blocks of other kinds (`redacted_thinking`, server tool results) come
/// whole in their `content_block_start`, as the API sends them.
pub(super) fn replay(answer: &Value) -> Option<Vec<u8>> {
    let content = answer.get("content")?.as_array()?;
    let mut out = Vec::new();
    let mut start = answer.as_object()?.clone();
    start.insert("content".into(), json!([]));
    start.insert("stop_reason".into(), Value::Null);
    start.insert("stop_sequence".into(), Value::Null);
    let usage = answer.get("usage").cloned().unwrap_or(json!({}));
    if let Some(mut u) = usage.as_object().cloned() {
        // The API's first event carries a placeholder output count; the real one ends
        // the stream.
        u.insert("output_tokens".into(), json!(1));
        start.insert("usage".into(), Value::Object(u));
    }
    push(
        &mut out,
        "message_start",
        json!({"type": "message_start", "message": start}),
    );
    for (index, block) in content.iter().enumerate() {
        let b = block.as_object()?;
        let kind = b.get("type").and_then(Value::as_str)?;
        let delta = |out: &mut Vec<u8>, d: Value| {
            push(
                out,
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            );
        };
        let opening = match kind {
            "text" => {
                if b.get("citations")
                    .and_then(Value::as_array)
                    .is_some_and(|c| !c.is_empty())
                {
                    return None;
                }
                json!({"type": "text", "text": ""})
            }
            "thinking" => json!({"type": "thinking", "thinking": ""}),
            "tool_use" | "server_tool_use" => {
                let mut b = b.clone();
                b.insert("input".into(), json!({}));
                Value::Object(b)
            }
            _ => block.clone(),
        };
        push(
            &mut out,
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": opening}),
        );
        match kind {
            "text" => {
                for piece in pieces(b.get("text").and_then(Value::as_str).unwrap_or("")) {
                    delta(&mut out, json!({"type": "text_delta", "text": piece}));
                }
            }
            "thinking" => {
                for piece in pieces(b.get("thinking").and_then(Value::as_str).unwrap_or("")) {
                    delta(
                        &mut out,
                        json!({"type": "thinking_delta", "thinking": piece}),
                    );
                }
                if let Some(s) = b.get("signature").and_then(Value::as_str) {
                    delta(&mut out, json!({"type": "signature_delta", "signature": s}));
                }
            }
            "tool_use" | "server_tool_use" => {
                let input = b.get("input").cloned().unwrap_or(json!({})).to_string();
                for piece in pieces(&input) {
                    delta(
                        &mut out,
                        json!({"type": "input_json_delta", "partial_json": piece}),
                    );
                }
            }
            _ => {}
        }
        push(
            &mut out,
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        );
    }
    push(
        &mut out,
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": answer.get("stop_reason"), "stop_sequence": answer.get("stop_sequence")},
               "usage": usage}),
    );
    push(&mut out, "message_stop", json!({"type": "message_stop"}));
    Some(out)
}

/// One named event.
pub(super) fn push(out: &mut Vec<u8>, event: &str, data: Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}
