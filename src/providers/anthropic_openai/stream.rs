//! OpenAI's chat.completion.chunk stream -> Anthropic's event stream.

use serde_json::{json, Value};

use super::answer::{
    anthropic_error, anthropic_usage, error_type, fallback_tool_id, message_id, stop_of,
};
use crate::api::Api;
use crate::providers::stream_end;
use crate::providers::translated_stream::{EventTranslation, TranslatedStream};
use crate::sse::SseEvent;

/// The status an error object sent inside a stream stands for: vLLM puts it in `code`;
/// OpenAI names the kind in `type` or `code`.
fn stream_error_status(e: &Value) -> u32 {
    if let Some(code) = e.get("code").and_then(Value::as_u64) {
        if (400..600).contains(&code) {
            return code as u32;
        }
    }
    let named = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    let kind = format!("{} {}", named("type"), named("code"));
    if kind.contains("rate_limit") {
        429
    } else if kind.contains("overloaded") {
        529
    } else if kind.contains("invalid_request") {
        400
    } else {
        500
    }
}

/// `event: <type>` and `data:`; the `anthropic` SDK skips events without a name.
fn sse_event(v: &Value) -> Vec<u8> {
    let name = v.get("type").and_then(Value::as_str).unwrap_or("error");
    format!("event: {name}\ndata: {v}\n\n").into_bytes()
}

/// The content block being streamed. Anthropic streams blocks one after the other, each
/// `content_block_start`, deltas, `content_block_stop`, indexed 0, 1, 2...; the SDK
/// appends each delta to `content[index]`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum OpenBlock {
    Text { index: u64 },
    Tool { index: u64, call: u64 },
}

/// OpenAI's chat.completion.chunk stream -> Anthropic's event stream.
///
/// `message_start` goes out with the first chunk, its usage 0: OpenAI-format backends
/// report usage in their last chunk only, and Anthropic's `message_delta` carries the
/// real `input_tokens`, `cache_read_input_tokens` and `output_tokens`, which the SDK
/// writes over the start's (anthropic 2.14 `accumulate_event`). `message_delta` and
/// `message_stop` wait for `[DONE]`, after the usage chunk.
pub type StreamTranslator = TranslatedStream<ChunksToEvents>;

impl StreamTranslator {
    /// `id_seed` names the message (`msg_<seed>`) when the backend's chunks carry no id.
    pub fn new(requested_model: &str, id_seed: &str) -> Self {
        TranslatedStream::of(ChunksToEvents {
            model: requested_model.to_string(),
            id: format!("msg_{id_seed}"),
            started: false,
            done: false,
            open: None,
            next_index: 0,
            closed_calls: Vec::new(),
            last_call: None,
            saw_tool_call: false,
            refused: false,
            stop: None,
            usage: None,
        })
    }
}

/// What the Anthropic events written so far depend on.
#[derive(Debug)]
pub struct ChunksToEvents {
    model: String,
    /// Message id until the first chunk names one.
    id: String,
    started: bool,
    done: bool,
    open: Option<OpenBlock>,
    next_index: u64,
    /// OpenAI tool call indexes whose block is closed.
    closed_calls: Vec<u64>,
    /// The id of the last tool call, for backends that omit `index`.
    last_call: Option<(u64, String)>,
    saw_tool_call: bool,
    refused: bool,
    /// (stop_reason, stop_sequence) once a choice finished.
    stop: Option<(&'static str, Value)>,
    /// The backend's usage, later chunks replacing earlier ones (it is cumulative).
    usage: Option<Value>,
}

impl EventTranslation for ChunksToEvents {
    fn translate(&mut self, event: &SseEvent, out: &mut Vec<u8>) {
        self.translate_event(&event.data, out);
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn is_whole(data: &str) -> bool {
        let data = data.trim();
        data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok()
    }

    /// A stream that ends after a `finish_reason` but without `[DONE]` ends cleanly
    /// (the answer is whole; usage may be missing); one that stopped before any
    /// `finish_reason` ends with an error event.
    fn end_early(&mut self, out: &mut Vec<u8>) {
        if self.stop.is_some() {
            self.end(out);
        } else {
            out.extend(stream_end::truncated(Api::AnthropicMessages, 0));
            self.done = true;
        }
    }
}

impl ChunksToEvents {
    fn fail(&mut self, kind: &str, message: &str, out: &mut Vec<u8>) {
        out.extend(sse_event(&anthropic_error(kind, message)));
        self.done = true;
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = json!({
            "type": "message_start",
            "message": {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        });
        out.extend(sse_event(&message));
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some(block) = self.open.take() {
            let index = match block {
                OpenBlock::Text { index } => index,
                OpenBlock::Tool { index, call } => {
                    self.closed_calls.push(call);
                    index
                }
            };
            out.extend(sse_event(
                &json!({ "type": "content_block_stop", "index": index }),
            ));
        }
    }

    fn open_block(&mut self, block: OpenBlock, content_block: Value, out: &mut Vec<u8>) {
        self.close_block(out);
        let index = match block {
            OpenBlock::Text { index } | OpenBlock::Tool { index, .. } => index,
        };
        self.next_index += 1;
        self.open = Some(block);
        out.extend(sse_event(&json!({
            "type": "content_block_start",
            "index": index,
            "content_block": content_block,
        })));
    }

    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let index = match self.open {
            Some(OpenBlock::Text { index }) => index,
            _ => {
                let index = self.next_index;
                self.open_block(
                    OpenBlock::Text { index },
                    json!({ "type": "text", "text": "" }),
                    out,
                );
                index
            }
        };
        out.extend(sse_event(&json!({
            "type": "content_block_delta",
            "index": index,
            "delta": { "type": "text_delta", "text": text },
        })));
    }

    /// One entry of a delta's `tool_calls`: a new call opens a `tool_use` block, its
    /// argument pieces become `input_json_delta`s, passed as they come (the SDK parses
    /// them as partial JSON and reports arguments that are not JSON itself).
    fn tool_call(&mut self, tc: &Value, out: &mut Vec<u8>) {
        let id = tc
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let call = match tc.get("index").and_then(Value::as_u64) {
            Some(i) => i,
            // Without `index`: a new id is a new call, otherwise the last call goes on.
            None => match (&self.last_call, id) {
                (Some((i, last)), Some(id)) if last != id => i + 1,
                (Some((i, _)), _) => *i,
                (None, _) => 0,
            },
        };
        let function = tc.get("function").unwrap_or(&Value::Null);
        let arguments = function
            .get("arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let index = match self.open {
            Some(OpenBlock::Tool { index, call: open }) if open == call => index,
            _ => {
                if self.closed_calls.contains(&call) {
                    // Anthropic streams one block at a time and clients finish a tool's
                    // input at its content_block_stop: arguments for a closed call
                    // cannot be placed, and dropping them would run the tool wrongly.
                    self.fail(
                        "api_error",
                        "The upstream stream interleaved tool calls, which cannot be translated",
                        out,
                    );
                    return;
                }
                let index = self.next_index;
                let id = id.map_or_else(|| fallback_tool_id(&self.id, call), str::to_string);
                let name = function.get("name").and_then(Value::as_str).unwrap_or("");
                self.last_call = Some((call, id.clone()));
                self.saw_tool_call = true;
                self.open_block(
                    OpenBlock::Tool { index, call },
                    json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
                    out,
                );
                index
            }
        };
        if !arguments.is_empty() {
            out.extend(sse_event(&json!({
                "type": "content_block_delta",
                "index": index,
                "delta": { "type": "input_json_delta", "partial_json": arguments },
            })));
        }
    }

    /// message_delta (stop reason, the backend's usage) and message_stop.
    fn end(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        self.close_block(out);
        let (stop, stop_sequence) = self.stop.take().unwrap_or(("end_turn", Value::Null));
        let usage = match &self.usage {
            Some(u) => anthropic_usage(u),
            // output_tokens is required; 0 says "unknown" no worse than leaving it out.
            None => json!({ "output_tokens": 0 }),
        };
        out.extend(sse_event(&json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop, "stop_sequence": stop_sequence },
            "usage": usage,
        })));
        out.extend(sse_event(&json!({ "type": "message_stop" })));
        self.done = true;
    }

    fn translate_event(&mut self, data: &str, out: &mut Vec<u8>) {
        let data = data.trim();
        if data == "[DONE]" {
            self.end(out);
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            self.fail("api_error", stream_end::NOT_JSON_MESSAGE, out);
            return;
        };
        if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
            let message = match e {
                Value::String(s) => s.as_str(),
                _ => e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("The upstream stream failed"),
            };
            self.fail(error_type(stream_error_status(e)), message, out);
            return;
        }
        if !self.started {
            if let Some(id) = v
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                self.id = message_id(id);
            }
        }
        self.start(out);
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(Value::Array(choices)) = v.get("choices") else {
            return;
        };
        // The gateway never asks for more than one choice; others are not Anthropic's.
        let Some(choice) = choices
            .iter()
            .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                self.text(text, out);
            }
            if let Some(refusal) = delta.get("refusal").and_then(Value::as_str) {
                if !refusal.is_empty() {
                    self.refused = true;
                    self.text(refusal, out);
                }
            }
            if let Some(Value::Array(calls)) = delta.get("tool_calls") {
                for tc in calls {
                    self.tool_call(tc, out);
                    if self.done {
                        return;
                    }
                }
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.close_block(out);
            self.stop = Some(stop_of(choice, finish, self.saw_tool_call, self.refused));
        }
    }
}
