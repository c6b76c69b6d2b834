//! OpenAI Responses in the cache: which whole answers are complete, a stream read into
//! the `response` a plain request gets (its final `response.completed` event carries
//! it), and that response replayed as typed, numbered events.

use serde_json::{json, Map, Value};

use super::messages::push;
use super::pieces;

/// A `completed` response, or one `incomplete` for its output cap (`max_output_tokens`,
/// the Responses form of `finish_reason: length`). Failed, cancelled, queued and
/// content-filtered responses are not stored.
pub(super) fn complete(answer: &Value) -> bool {
    if !answer.get("output").is_some_and(Value::is_array) {
        return false;
    }
    match answer.get("status").and_then(Value::as_str) {
        Some("completed") => true,
        Some("incomplete") => {
            answer
                .pointer("/incomplete_details/reason")
                .and_then(Value::as_str)
                == Some("max_output_tokens")
        }
        _ => false,
    }
}

/// A Responses stream read into its whole response.
#[derive(Debug, Default)]
pub(super) struct Accumulator {
    response: Option<Value>,
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
            Some("response.completed") | Some("response.incomplete") => {
                self.held += data.len();
                self.response = v.get("response").cloned();
            }
            Some("error") | Some("response.failed") => self.unusable = true,
            _ => {}
        }
    }

    /// The final response, when it is [`complete`].
    pub(super) fn finish(self) -> Option<Value> {
        let response = self.response.filter(|_| !self.unusable)?;
        complete(&response).then_some(response)
    }
}

/// Numbered events, as the API sends them.
struct Events {
    out: Vec<u8>,
    sequence: u64,
}

impl Events {
    fn send(&mut self, kind: &str, mut fields: Value) {
        if let Some(f) = fields.as_object_mut() {
            f.insert("type".into(), json!(kind));
            f.insert("sequence_number".into(), json!(self.sequence));
        }
        self.sequence += 1;
        push(&mut self.out, kind, fields);
    }
}

/// The response as a stream: `response.created` and `response.in_progress` (no output
/// yet), then per output item `response.output_item.added`, its parts' text in pieces
/// (`response.output_text.delta` / `response.refusal.delta`, their `.done`, the
/// `content_part` events) or a function call's arguments in pieces, and
/// `response.output_item.done`; then `response.completed` (or `response.incomplete`)
/// with the whole response. Items of other kinds (reasoning, built-in tool calls) come
/// whole in `.added` and `.done`.
pub(super) fn replay(answer: &Value) -> Option<Vec<u8>> {
    let response = answer.as_object()?;
    let output = response.get("output")?.as_array()?;
    let mut ev = Events {
        out: Vec::new(),
        sequence: 0,
    };
    let mut early = response.clone();
    early.insert("status".into(), json!("in_progress"));
    early.insert("output".into(), json!([]));
    early.insert("usage".into(), Value::Null);
    early.insert("incomplete_details".into(), Value::Null);
    ev.send("response.created", json!({"response": early}));
    ev.send("response.in_progress", json!({"response": early}));
    for (output_index, item) in output.iter().enumerate() {
        let it = item.as_object()?;
        let item_id = it.get("id").cloned().unwrap_or(Value::Null);
        match it.get("type").and_then(Value::as_str) {
            Some("message") => {
                let parts = it.get("content").and_then(Value::as_array)?;
                let mut added = it.clone();
                added.insert("content".into(), json!([]));
                added.insert("status".into(), json!("in_progress"));
                ev.send(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                for (content_index, part) in parts.iter().enumerate() {
                    let at = |mut f: Map<String, Value>| {
                        f.insert("item_id".into(), item_id.clone());
                        f.insert("output_index".into(), json!(output_index));
                        f.insert("content_index".into(), json!(content_index));
                        Value::Object(f)
                    };
                    let one = |name: &str, v: Value| {
                        let mut m = Map::new();
                        m.insert(name.into(), v);
                        m
                    };
                    let kind = part.get("type").and_then(Value::as_str);
                    let (field, delta_event, done_event) = match kind {
                        Some("output_text") => (
                            "text",
                            "response.output_text.delta",
                            "response.output_text.done",
                        ),
                        Some("refusal") => {
                            ("refusal", "response.refusal.delta", "response.refusal.done")
                        }
                        _ => {
                            ev.send("response.content_part.added", at(one("part", part.clone())));
                            ev.send("response.content_part.done", at(one("part", part.clone())));
                            continue;
                        }
                    };
                    let text = part.get(field).and_then(Value::as_str).unwrap_or("");
                    let mut opening = part.as_object()?.clone();
                    opening.insert(field.into(), json!(""));
                    if opening.contains_key("annotations") {
                        opening.insert("annotations".into(), json!([]));
                    }
                    ev.send(
                        "response.content_part.added",
                        at(one("part", Value::Object(opening))),
                    );
                    // Text events carry the (empty) logprobs the API sends with them.
                    let logprobs = |mut m: Map<String, Value>| {
                        if field == "text" {
                            m.insert("logprobs".into(), json!([]));
                        }
                        m
                    };
                    for piece in pieces(text) {
                        ev.send(delta_event, at(logprobs(one("delta", json!(piece)))));
                    }
                    ev.send(done_event, at(logprobs(one(field, json!(text)))));
                    ev.send("response.content_part.done", at(one("part", part.clone())));
                }
            }
            Some("function_call") => {
                let arguments = it.get("arguments").and_then(Value::as_str).unwrap_or("");
                let mut added = it.clone();
                added.insert("arguments".into(), json!(""));
                added.insert("status".into(), json!("in_progress"));
                ev.send(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                for piece in pieces(arguments) {
                    ev.send(
                        "response.function_call_arguments.delta",
                        json!({"item_id": item_id, "output_index": output_index, "delta": piece}),
                    );
                }
                ev.send(
                    "response.function_call_arguments.done",
                    json!({"item_id": item_id, "output_index": output_index, "arguments": arguments}),
                );
            }
            _ => ev.send(
                "response.output_item.added",
                json!({"output_index": output_index, "item": item}),
            ),
        }
        ev.send(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }
    let last = match response.get("status").and_then(Value::as_str) {
        Some("incomplete") => "response.incomplete",
        _ => "response.completed",
    };
    ev.send(last, json!({"response": answer}));
    Some(ev.out)
}
