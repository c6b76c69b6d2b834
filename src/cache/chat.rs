//! OpenAI chat completions in the cache: which whole answers are complete, a stream of
//! `chat.completion.chunk` events read into the `chat.completion` a plain request gets,
//! and that answer replayed as chunks.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::pieces;

/// The finish reasons of a complete answer: the model stopped, hit its output cap, or
/// called tools. `content_filter` (and anything else) is not stored.
const COMPLETE: &[&str] = &["stop", "length", "tool_calls"];

/// Every choice finished for a reason [`COMPLETE`] lists.
pub(super) fn complete(answer: &Value) -> bool {
    match answer.get("choices").and_then(Value::as_array) {
        Some(choices) if !choices.is_empty() => choices.iter().all(|c| {
            c.get("finish_reason")
                .and_then(Value::as_str)
                .is_some_and(|r| COMPLETE.contains(&r))
        }),
        _ => false,
    }
}

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<Value>,
    kind: Option<Value>,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
struct Choice {
    role: Option<Value>,
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u64, ToolCall>,
    finish_reason: Option<Value>,
}

/// A chat stream read into its whole answer.
#[derive(Debug, Default)]
pub(super) struct Accumulator {
    /// `id`, `created`, `model`, `system_fingerprint`, `service_tier` of the first chunk.
    head: Map<String, Value>,
    choices: BTreeMap<u64, Choice>,
    usage: Option<Value>,
    done: bool,
    /// Something the whole answer cannot say (an error, logprobs, a legacy
    /// `function_call`, an unknown delta field): the stream is not stored.
    unusable: bool,
    /// Bytes of text held.
    pub(super) held: usize,
}

impl Accumulator {
    pub(super) fn on_event(&mut self, data: &str) {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return;
        }
        let Ok(Value::Object(chunk)) = serde_json::from_str::<Value>(data) else {
            self.unusable = true;
            return;
        };
        if chunk.contains_key("error") {
            self.unusable = true;
            return;
        }
        for name in [
            "id",
            "created",
            "model",
            "system_fingerprint",
            "service_tier",
        ] {
            if let Some(v) = chunk.get(name).filter(|v| !v.is_null()) {
                self.head.entry(name).or_insert_with(|| v.clone());
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
            if c.get("logprobs").is_some_and(|l| !l.is_null()) {
                self.unusable = true;
            }
            let mut held = 0;
            let choice = self.choices.entry(index).or_default();
            if let Some(r) = c.get("finish_reason").filter(|r| !r.is_null()) {
                choice.finish_reason = Some(r.clone());
            }
            let Some(delta) = c.get("delta").and_then(Value::as_object) else {
                continue;
            };
            for (name, value) in delta {
                match (name.as_str(), value) {
                    (_, Value::Null) => {}
                    ("role", v) => choice.role = Some(v.clone()),
                    ("content", Value::String(s)) => {
                        held += s.len();
                        choice.content.get_or_insert_with(String::new).push_str(s);
                    }
                    ("refusal", Value::String(s)) => {
                        held += s.len();
                        choice.refusal.get_or_insert_with(String::new).push_str(s);
                    }
                    ("tool_calls", Value::Array(calls)) => {
                        for call in calls {
                            let i = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                            let t = choice.tool_calls.entry(i).or_default();
                            if let Some(id) = call.get("id").filter(|v| !v.is_null()) {
                                t.id = Some(id.clone());
                            }
                            if let Some(k) = call.get("type").filter(|v| !v.is_null()) {
                                t.kind = Some(k.clone());
                            }
                            let f = call.get("function");
                            if let Some(n) = f.and_then(|f| f.get("name")).and_then(Value::as_str) {
                                t.name.push_str(n);
                            }
                            if let Some(a) =
                                f.and_then(|f| f.get("arguments")).and_then(Value::as_str)
                            {
                                held += a.len();
                                t.arguments.push_str(a);
                            }
                        }
                    }
                    _ => self.unusable = true,
                }
            }
            self.held += held;
        }
    }

    /// The whole answer, when the stream ended with `[DONE]` and is [`complete`].
    pub(super) fn finish(self) -> Option<Value> {
        if !self.done || self.unusable || self.choices.is_empty() {
            return None;
        }
        let mut answer = self.head;
        answer.insert("object".into(), json!("chat.completion"));
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .map(|(index, c)| {
                let tool_calls: Vec<Value> = c
                    .tool_calls
                    .into_values()
                    .map(|t| {
                        json!({"id": t.id, "type": t.kind.unwrap_or(json!("function")),
                               "function": {"name": t.name, "arguments": t.arguments}})
                    })
                    .collect();
                // A plain answer's content is null beside tool calls or a refusal.
                let content = match c.content.filter(|s| !s.is_empty()) {
                    Some(s) => json!(s),
                    None if tool_calls.is_empty() && c.refusal.is_none() => json!(""),
                    None => Value::Null,
                };
                let mut message = Map::new();
                message.insert("role".into(), c.role.unwrap_or(json!("assistant")));
                message.insert("content".into(), content);
                message.insert("refusal".into(), json!(c.refusal));
                if !tool_calls.is_empty() {
                    message.insert("tool_calls".into(), Value::Array(tool_calls));
                }
                json!({"index": index, "message": message, "logprobs": null,
                       "finish_reason": c.finish_reason})
            })
            .collect();
        answer.insert("choices".into(), Value::Array(choices));
        if let Some(u) = self.usage {
            answer.insert("usage".into(), u);
        }
        let answer = Value::Object(answer);
        complete(&answer).then_some(answer)
    }
}

/// The answer as a stream: per choice a role chunk, content (or refusal) pieces, each
/// tool call's name then its arguments in pieces, a finish chunk; the usage chunk when
/// the client asked for it (`include_usage`); `[DONE]`. `None` when the answer holds
/// what a stream cannot carry here (logprobs, audio, a legacy `function_call`).
pub(super) fn replay(answer: &Value, include_usage: bool) -> Option<Vec<u8>> {
    let choices = answer.get("choices")?.as_array()?;
    let mut head = Map::new();
    for name in [
        "id",
        "created",
        "model",
        "system_fingerprint",
        "service_tier",
    ] {
        if let Some(v) = answer.get(name) {
            head.insert(name.into(), v.clone());
        }
    }
    head.insert("object".into(), json!("chat.completion.chunk"));
    let mut out = Vec::new();
    let mut send = |choice: Value| {
        let mut chunk = head.clone();
        chunk.insert("choices".into(), json!([choice]));
        if include_usage {
            chunk.insert("usage".into(), Value::Null);
        }
        push_data(&mut out, &Value::Object(chunk));
    };
    for c in choices {
        let index = c.get("index").cloned().unwrap_or(json!(0));
        if c.get("logprobs").is_some_and(|l| !l.is_null()) {
            return None;
        }
        let message = c.get("message")?.as_object()?;
        let known = ["role", "content", "refusal", "tool_calls", "annotations"];
        let other = message
            .iter()
            .any(|(k, v)| !known.contains(&k.as_str()) && !v.is_null());
        let annotated = message
            .get("annotations")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if other || annotated {
            return None;
        }
        let delta =
            |d: Value| json!({"index": index, "delta": d, "logprobs": null, "finish_reason": null});
        let content = message.get("content").and_then(Value::as_str);
        let first = match content {
            Some(_) => json!({"role": "assistant", "content": ""}),
            None => json!({"role": "assistant", "content": null}),
        };
        send(delta(first));
        for piece in pieces(content.unwrap_or("")) {
            send(delta(json!({"content": piece})));
        }
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            for piece in pieces(refusal) {
                send(delta(json!({"refusal": piece})));
            }
        }
        let calls = message.get("tool_calls").and_then(Value::as_array);
        for (i, call) in calls.into_iter().flatten().enumerate() {
            let f = call.get("function")?;
            let name = f.get("name").and_then(Value::as_str)?;
            send(delta(
                json!({"tool_calls": [{"index": i, "id": call.get("id"),
                "type": call.get("type").cloned().unwrap_or(json!("function")),
                "function": {"name": name, "arguments": ""}}]}),
            ));
            for piece in pieces(f.get("arguments").and_then(Value::as_str).unwrap_or("")) {
                send(delta(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                ));
            }
        }
        send(json!({"index": index, "delta": {}, "logprobs": null,
                    "finish_reason": c.get("finish_reason")}));
    }
    if include_usage {
        if let Some(u) = answer.get("usage") {
            let mut chunk = head.clone();
            chunk.insert("choices".into(), json!([]));
            chunk.insert("usage".into(), u.clone());
            push_data(&mut out, &Value::Object(chunk));
        }
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    Some(out)
}

fn push_data(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(v.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}
