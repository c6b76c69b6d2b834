//! Anthropic's event stream -> OpenAI chat.completion.chunk events.

use serde_json::{json, Map, Value};

use super::answer::{anthropic_error, finish_reason, openai_error, openai_usage};
use crate::api::Api;
use crate::providers::anthropic::merge_usage;
use crate::providers::stream_end;
use crate::providers::translated_stream::{EventTranslation, TranslatedStream};
use crate::sse::SseEvent;

fn sse_data(v: &Value) -> Vec<u8> {
    format!("data: {v}\n\n").into_bytes()
}

const DONE: &[u8] = b"data: [DONE]\n\n";

/// Anthropic's event stream -> OpenAI chat.completion.chunk events; once `[DONE]` is
/// out, further input is ignored.
pub type StreamTranslator = TranslatedStream<EventsToChunks>;

impl StreamTranslator {
    /// `id_seed` names the chunks (`chatcmpl-<seed>`) until the upstream message id is
    /// known; `include_usage` is the client's `stream_options.include_usage`.
    /// `structured` names the forced tool of a structured-output request: its input
    /// streams as the content.
    pub fn new(
        requested_model: &str,
        id_seed: &str,
        include_usage: bool,
        created: u64,
        structured: Option<&str>,
    ) -> Self {
        TranslatedStream::of(EventsToChunks {
            model: requested_model.to_string(),
            id: format!("chatcmpl-{id_seed}"),
            created,
            include_usage,
            started: false,
            done: false,
            tool_blocks: Vec::new(),
            usage: Map::new(),
            structured: structured.map(str::to_string),
            structured_block: None,
        })
    }
}

/// What the OpenAI chunks written so far depend on.
#[derive(Debug)]
pub struct EventsToChunks {
    model: String,
    /// Chunk id until message_start names the message.
    id: String,
    created: u64,
    include_usage: bool,
    started: bool,
    done: bool,
    /// Anthropic content block index -> OpenAI tool call index, for tool_use blocks.
    tool_blocks: Vec<(u64, usize)>,
    /// Anthropic usage fields, later events overwriting earlier ones.
    usage: Map<String, Value>,
    /// The forced tool of a structured-output request, and its content block's index
    /// once it started: its input is the client's content.
    structured: Option<String>,
    structured_block: Option<u64>,
}

impl EventTranslation for EventsToChunks {
    fn translate(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        self.translate_event(&event.event, &event.data, out);
    }

    fn is_done(&self) -> bool {
        self.done
    }

    /// A stream that stopped before `message_stop` ends with an error chunk.
    fn end_early(&mut self, out: &mut Vec<u8>) {
        out.extend(stream_end::truncated(Api::OpenAiChat, 0));
        self.done = true;
    }
}

impl EventsToChunks {
    /// Ends the stream with an OpenAI error chunk and `[DONE]`.
    fn fail(&mut self, error: &Value, out: &mut Vec<u8>) {
        out.extend(sse_data(error));
        out.extend_from_slice(DONE);
        self.done = true;
    }

    fn chunk(&mut self, delta: Value, finish: Option<&str>, out: &mut Vec<u8>) {
        if !self.started {
            self.started = true;
            if delta.get("role").is_none() {
                self.chunk(json!({ "role": "assistant", "content": "" }), None, out);
            }
        }
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        if self.include_usage {
            // OpenAI sends `usage: null` on every chunk but the last when asked for usage.
            c["usage"] = Value::Null;
        }
        out.extend(sse_data(&c));
    }

    /// A content chunk; none for empty text.
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if !text.is_empty() {
            self.chunk(json!({ "content": text }), None, out);
        }
    }

    fn translate_event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            let message = stream_end::NOT_JSON_MESSAGE;
            self.fail(&openai_error("api_error", 500, message), out);
            return;
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
        match kind {
            "message_start" => {
                let message = v.get("message");
                if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                merge_usage(&mut self.usage, message.and_then(|m| m.get("usage")));
                if !self.started {
                    self.chunk(json!({ "role": "assistant", "content": "" }), None, out);
                }
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        self.text(block.get("text").and_then(Value::as_str).unwrap_or(""), out);
                    }
                    Some("tool_use")
                        if self.structured.is_some()
                            && block.get("name").and_then(Value::as_str)
                                == self.structured.as_deref() =>
                    {
                        self.structured_block = v.get("index").and_then(Value::as_u64);
                    }
                    Some("tool_use") => {
                        let tool = self.tool_blocks.len();
                        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                        self.tool_blocks.push((index, tool));
                        let call = json!({
                            "index": tool,
                            "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {
                                "name": block.get("name").cloned().unwrap_or(Value::Null),
                                "arguments": "",
                            },
                        });
                        self.chunk(json!({ "tool_calls": [call] }), None, out);
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        self.text(delta.get("text").and_then(Value::as_str).unwrap_or(""), out);
                    }
                    Some("input_json_delta") => {
                        let part = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                        if self.structured_block == Some(index) {
                            self.text(part, out);
                            return;
                        }
                        let tool = self
                            .tool_blocks
                            .iter()
                            .find(|(block, _)| *block == index)
                            .map(|(_, tool)| *tool);
                        if let (false, Some(tool)) = (part.is_empty(), tool) {
                            let call = json!({ "index": tool, "function": { "arguments": part } });
                            self.chunk(json!({ "tool_calls": [call] }), None, out);
                        }
                    }
                    // thinking_delta, signature_delta, citations: no OpenAI equivalent.
                    _ => {}
                }
            }
            "message_delta" => {
                merge_usage(&mut self.usage, v.get("usage"));
                if let Some(reason) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    let finish = match reason {
                        "tool_use" if self.structured_block.is_some() => "stop",
                        _ => finish_reason(reason),
                    };
                    self.chunk(json!({}), Some(finish), out);
                }
            }
            "message_stop" => {
                if self.include_usage {
                    let c = json!({
                        "id": self.id,
                        "object": "chat.completion.chunk",
                        "created": self.created,
                        "model": self.model,
                        "choices": [],
                        "usage": openai_usage(&Value::Object(self.usage.clone())),
                    });
                    out.extend(sse_data(&c));
                }
                out.extend_from_slice(DONE);
                self.done = true;
            }
            "error" => {
                let (anthropic_type, message) =
                    anthropic_error(&v).unwrap_or(("api_error", "The upstream stream failed"));
                // Mid-stream errors carry no status; overloaded and api errors are 5xx.
                self.fail(&openai_error(anthropic_type, 500, message), out);
            }
            // ping, content_block_stop and event types Anthropic adds later.
            _ => {}
        }
    }
}
