//! Anthropic's event stream -> OpenAI Responses typed events, numbered from 0 as OpenAI
//! numbers them (`sequence_number`), named on their `event:` line.
//!
//! `message_start` -> `response.created`, `response.in_progress`; a text block -> a
//! content part of the open assistant `message` item (`response.output_item.added` when
//! the item opens, `response.content_part.added`, `response.output_text.delta`,
//! `.output_text.done`, `.content_part.done`); a `tool_use` block -> a `function_call`
//! item (its arguments as `response.function_call_arguments.delta` and `.done`);
//! `message_stop` -> the items' `response.output_item.done`, then `response.completed`
//! (or `response.incomplete`) with the whole output and usage. An Anthropic `error` event
//! -> a Responses `error` event; a stream cut before `message_stop` -> an `error` event
//! with code `stream_truncated`.

use serde_json::{json, Map, Value};

use super::answer::{
    function_call_item, id_for, message_item, response_object, responses_usage, status_of,
    text_part,
};
use crate::api::Api;
use crate::providers::anthropic::merge_usage;
use crate::providers::openai_anthropic::answer::anthropic_error;
use crate::providers::stream_end;
use crate::providers::translated_stream::{EventTranslation, TranslatedStream};
use crate::sse::SseEvent;

/// Anthropic's event stream -> Responses events; once the response ended, further input
/// is ignored.
pub type StreamTranslator = TranslatedStream<EventsToResponses>;

impl StreamTranslator {
    /// `id_seed` names the response (`resp_<seed>`) until the upstream message id is
    /// known; `created` in Unix seconds.
    pub fn new(requested_model: &str, id_seed: &str, created: u64) -> Self {
        TranslatedStream::of(EventsToResponses {
            model: requested_model.to_string(),
            id: format!("resp_{id_seed}"),
            message_id: format!("msg_{id_seed}"),
            created,
            sequence: 0,
            started: false,
            done: false,
            output: Vec::new(),
            message: None,
            text: None,
            tools: Vec::new(),
            usage: Map::new(),
            stop_reason: None,
        })
    }
}

/// The assistant message item being written.
#[derive(Debug)]
struct OpenMessage {
    output_index: usize,
    item_id: String,
    parts: Vec<Value>,
}

/// The text part being written: its Anthropic block index and its text so far.
#[derive(Debug)]
struct OpenText {
    block: u64,
    text: String,
}

/// A tool call being written.
#[derive(Debug)]
struct OpenTool {
    block: u64,
    output_index: usize,
    call_id: String,
    name: String,
    arguments: String,
}

/// What the Responses events written so far depend on.
#[derive(Debug)]
pub struct EventsToResponses {
    model: String,
    id: String,
    /// The Anthropic message id as a Responses message id (`msg_<id>`).
    message_id: String,
    created: u64,
    /// The next event's `sequence_number`.
    sequence: u64,
    started: bool,
    done: bool,
    /// Output items by output index (`Null` until an item is done).
    output: Vec<Value>,
    message: Option<OpenMessage>,
    text: Option<OpenText>,
    tools: Vec<OpenTool>,
    /// Anthropic usage fields, later events overwriting earlier ones.
    usage: Map<String, Value>,
    stop_reason: Option<String>,
}

impl EventTranslation for EventsToResponses {
    fn translate(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        self.translate_event(&event.event, &event.data, out);
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end_early(&mut self, out: &mut Vec<u8>) {
        out.extend(stream_end::truncated(Api::OpenAiResponses, self.sequence));
        self.sequence += 1;
        self.done = true;
    }
}

impl EventsToResponses {
    /// Writes one typed event, numbered.
    fn emit(&mut self, kind: &str, mut v: Value, out: &mut Vec<u8>) {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        out.extend(format!("event: {kind}\ndata: {v}\n\n").into_bytes());
    }

    fn response(&self, status: &str, incomplete: Value, output: Vec<Value>, usage: Value) -> Value {
        response_object(
            &self.id,
            &self.model,
            self.created,
            status,
            incomplete,
            output,
            usage,
        )
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let r = self.response("in_progress", Value::Null, Vec::new(), Value::Null);
        self.emit("response.created", json!({ "response": r }), out);
        self.emit("response.in_progress", json!({ "response": r }), out);
    }

    fn fail(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        out.extend(stream_end::responses_error(self.sequence, code, message));
        self.sequence += 1;
        self.done = true;
    }

    /// The open message item, opened (`response.output_item.added`) if need be.
    fn open_message(&mut self, out: &mut Vec<u8>) -> (usize, String) {
        if let Some(m) = &self.message {
            return (m.output_index, m.item_id.clone());
        }
        let output_index = self.output.len();
        let item_id = format!("{}_{output_index}", self.message_id);
        self.output.push(Value::Null);
        let item = message_item(&item_id, "in_progress", Vec::new());
        self.emit(
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
            out,
        );
        self.message = Some(OpenMessage {
            output_index,
            item_id: item_id.clone(),
            parts: Vec::new(),
        });
        (output_index, item_id)
    }

    /// Where the open text part is: item id, output index, content index.
    fn text_at(&self) -> Value {
        match &self.message {
            Some(m) => json!({"item_id": m.item_id, "output_index": m.output_index,
                              "content_index": m.parts.len()}),
            None => json!({}),
        }
    }

    fn text_delta(&mut self, delta: &str, out: &mut Vec<u8>) {
        if delta.is_empty() || self.text.is_none() {
            return;
        }
        if let Some(t) = self.text.as_mut() {
            t.text.push_str(delta);
        }
        let mut v = self.text_at();
        v["delta"] = json!(delta);
        v["logprobs"] = json!([]);
        self.emit("response.output_text.delta", v, out);
    }

    /// Ends the open text part: `.output_text.done`, `.content_part.done`.
    fn close_text(&mut self, out: &mut Vec<u8>) {
        let Some(t) = self.text.take() else {
            return;
        };
        let mut v = self.text_at();
        v["text"] = json!(t.text);
        v["logprobs"] = json!([]);
        self.emit("response.output_text.done", v, out);
        let mut v = self.text_at();
        v["part"] = text_part(&t.text);
        self.emit("response.content_part.done", v, out);
        if let Some(m) = self.message.as_mut() {
            m.parts.push(text_part(&t.text));
        }
    }

    /// Ends the open message item: `response.output_item.done`.
    fn close_message(&mut self, out: &mut Vec<u8>) {
        self.close_text(out);
        let Some(m) = self.message.take() else {
            return;
        };
        let item = message_item(&m.item_id, "completed", m.parts);
        if let Some(slot) = self.output.get_mut(m.output_index) {
            *slot = item.clone();
        }
        self.emit(
            "response.output_item.done",
            json!({"output_index": m.output_index, "item": item}),
            out,
        );
    }

    fn close_tool(&mut self, block: u64, out: &mut Vec<u8>) {
        let Some(at) = self.tools.iter().position(|t| t.block == block) else {
            return;
        };
        let tool = self.tools.remove(at);
        let arguments = if tool.arguments.is_empty() {
            "{}".to_string()
        } else {
            tool.arguments
        };
        let item = function_call_item(&tool.call_id, &tool.name, &arguments, "completed");
        self.emit(
            "response.function_call_arguments.done",
            json!({"item_id": item["id"], "output_index": tool.output_index, "arguments": arguments}),
            out,
        );
        if let Some(slot) = self.output.get_mut(tool.output_index) {
            *slot = item.clone();
        }
        self.emit(
            "response.output_item.done",
            json!({"output_index": tool.output_index, "item": item}),
            out,
        );
    }

    fn translate_event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            self.fail("api_error", stream_end::NOT_JSON_MESSAGE, out);
            return;
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let message = v.get("message");
                if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                    if !self.started {
                        self.id = id_for("resp", id);
                        self.message_id = id_for("msg", id);
                    }
                }
                merge_usage(&mut self.usage, message.and_then(|m| m.get("usage")));
                self.start(out);
            }
            "content_block_start" => {
                self.start(out);
                let block = v.get("content_block").unwrap_or(&Value::Null);
                let text = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or("");
                match text("type") {
                    "text" => {
                        self.close_text(out);
                        self.open_message(out);
                        let mut at = self.text_at();
                        at["part"] = text_part("");
                        self.emit("response.content_part.added", at, out);
                        self.text = Some(OpenText {
                            block: index,
                            text: String::new(),
                        });
                        self.text_delta(text("text"), out);
                    }
                    "tool_use" => {
                        self.close_message(out);
                        let output_index = self.output.len();
                        self.output.push(Value::Null);
                        let (call_id, name) = (text("id").to_string(), text("name").to_string());
                        let item = function_call_item(&call_id, &name, "", "in_progress");
                        self.emit(
                            "response.output_item.added",
                            json!({"output_index": output_index, "item": item}),
                            out,
                        );
                        self.tools.push(OpenTool {
                            block: index,
                            output_index,
                            call_id,
                            name,
                            arguments: String::new(),
                        });
                    }
                    // Thinking and server tool blocks: no Responses item.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                let text = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or("");
                match text("type") {
                    "text_delta" => self.text_delta(text("text"), out),
                    "input_json_delta" => {
                        let part = text("partial_json");
                        let Some(tool) = self.tools.iter_mut().find(|t| t.block == index) else {
                            return;
                        };
                        if part.is_empty() {
                            return;
                        }
                        tool.arguments.push_str(part);
                        let at = json!({"item_id": format!("fc_{}", tool.call_id),
                                        "output_index": tool.output_index, "delta": part});
                        self.emit("response.function_call_arguments.delta", at, out);
                    }
                    // thinking_delta, signature_delta, citations: no Responses event.
                    _ => {}
                }
            }
            "content_block_stop" => {
                if self.text.as_ref().is_some_and(|t| t.block == index) {
                    self.close_text(out);
                } else {
                    self.close_tool(index, out);
                }
            }
            "message_delta" => {
                merge_usage(&mut self.usage, v.get("usage"));
                if let Some(reason) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
            }
            "message_stop" => {
                self.start(out);
                self.close_message(out);
                let blocks: Vec<u64> = self.tools.iter().map(|t| t.block).collect();
                for block in blocks {
                    self.close_tool(block, out);
                }
                let (status, incomplete) = status_of(self.stop_reason.as_deref());
                let output = self
                    .output
                    .iter()
                    .filter(|o| !o.is_null())
                    .cloned()
                    .collect();
                let usage = responses_usage(&Value::Object(self.usage.clone()));
                let r = self.response(status, incomplete, output, usage);
                let event = if status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                self.emit(event, json!({ "response": r }), out);
                self.done = true;
            }
            "error" => {
                let (kind, message) =
                    anthropic_error(&v).unwrap_or(("api_error", "The upstream stream failed"));
                let (kind, message) = (kind.to_string(), message.to_string());
                self.fail(&kind, &message, out);
            }
            // ping and event types Anthropic adds later.
            _ => {}
        }
    }
}
