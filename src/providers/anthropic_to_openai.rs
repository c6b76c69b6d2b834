//! Anthropic Messages answers -> OpenAI chat completions: whole bodies, error envelopes
//! and the event stream, so the `openai` SDK can use Claude models unchanged.
//!
//! `created` (Unix seconds) is a parameter: OpenAI bodies carry it and SDKs expect it,
//! but nothing here reads a clock.

use serde_json::{json, Map, Value};

use crate::sse::SseParser;

/// OpenAI's `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later.
        _ => "stop",
    }
}

fn count(u: &Value, key: &str) -> u64 {
    u.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// OpenAI usage from Anthropic usage: OpenAI's `prompt_tokens` counts every input
/// token, Anthropic's `input_tokens` only those neither read from nor written to cache.
fn openai_usage(u: &Value) -> Value {
    let cache_read = count(u, "cache_read_input_tokens");
    let prompt = count(u, "input_tokens") + cache_read + count(u, "cache_creation_input_tokens");
    let completion = count(u, "output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": { "cached_tokens": cache_read },
    })
}

fn tool_call(block: &Value) -> Value {
    let arguments = match block.get("input") {
        Some(input) if !input.is_null() => input.to_string(),
        _ => "{}".to_string(),
    };
    json!({
        "id": block.get("id").cloned().unwrap_or(Value::Null),
        "type": "function",
        "function": {
            "name": block.get("name").cloned().unwrap_or(Value::Null),
            "arguments": arguments,
        },
    })
}

/// A whole chat.completion for a successful Anthropic message. Text blocks are joined
/// into `content`; thinking blocks are dropped (OpenAI's format has no place for them).
pub fn translate_response(body: &Value, requested_model: &str, created: u64) -> Value {
    let mut text = String::new();
    let mut has_text = false;
    let mut tool_calls = Vec::new();
    if let Some(Value::Array(blocks)) = body.get("content") {
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("text") => {
                    has_text = true;
                    text.push_str(b.get("text").and_then(Value::as_str).unwrap_or(""));
                }
                Some("tool_use") => tool_calls.push(tool_call(b)),
                _ => {}
            }
        }
    }
    let mut message = json!({
        "role": "assistant",
        // OpenAI sends null content beside tool calls, "" only for an empty answer.
        "content": if has_text || tool_calls.is_empty() { Value::String(text) } else { Value::Null },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let finish = body
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason);
    json!({
        "id": body.get("id").and_then(Value::as_str).unwrap_or("chatcmpl-unknown"),
        "object": "chat.completion",
        "created": created,
        "model": requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": openai_usage(body.get("usage").unwrap_or(&Value::Null)),
    })
}

/// OpenAI's error `type` and `code` for an Anthropic error type, falling back on the
/// HTTP status for types Anthropic adds later.
fn openai_error_kind(anthropic_type: &str, status: u32) -> (&'static str, &'static str) {
    match anthropic_type {
        "invalid_request_error" => ("invalid_request_error", "invalid_request_error"),
        "authentication_error" => ("invalid_request_error", "invalid_api_key"),
        "permission_error" => ("invalid_request_error", "permission_denied"),
        "not_found_error" => ("invalid_request_error", "not_found"),
        "request_too_large" => ("invalid_request_error", "request_too_large"),
        "rate_limit_error" => ("rate_limit_exceeded", "rate_limit_exceeded"),
        "api_error" | "timeout_error" => ("server_error", "server_error"),
        "overloaded_error" => ("server_error", "overloaded"),
        _ => match status {
            401 => ("invalid_request_error", "invalid_api_key"),
            403 => ("invalid_request_error", "permission_denied"),
            404 => ("invalid_request_error", "not_found"),
            413 => ("invalid_request_error", "request_too_large"),
            429 => ("rate_limit_exceeded", "rate_limit_exceeded"),
            400..=499 => ("invalid_request_error", "invalid_request_error"),
            _ => ("server_error", "server_error"),
        },
    }
}

fn openai_error(anthropic_type: &str, status: u32, message: &str) -> Value {
    let (kind, code) = openai_error_kind(anthropic_type, status);
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The `error` object of an Anthropic envelope (`{"type":"error","error":{..}}`) as
/// (type, message).
fn anthropic_error(v: &Value) -> Option<(&str, &str)> {
    let e = v.get("error")?;
    Some((
        e.get("type").and_then(Value::as_str).unwrap_or(""),
        e.get("message").and_then(Value::as_str)?,
    ))
}

/// Longest upstream text quoted in a wrapped non-JSON error (an HTML page from a proxy
/// can be large; its start says enough).
const QUOTE_LIMIT: usize = 200;

/// An OpenAI error envelope for an Anthropic error response. A body that is not an
/// Anthropic envelope (an HTML page from a proxy, Envoy's own "upstream connect error")
/// is wrapped, its start quoted.
pub fn translate_error(status: u32, body: &[u8]) -> Vec<u8> {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let envelope = match parsed.as_ref().and_then(anthropic_error) {
        Some((kind, message)) => openai_error(kind, status, message),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let mut quoted: String = text.chars().take(QUOTE_LIMIT).collect();
            if quoted.len() < text.len() {
                quoted.push_str("...");
            }
            let message = if quoted.is_empty() {
                format!("The upstream provider returned HTTP {status} with an empty body")
            } else {
                format!("The upstream provider returned HTTP {status}: {quoted}")
            };
            openai_error("", status, &message)
        }
    };
    envelope.to_string().into_bytes()
}

fn sse_data(v: &Value) -> Vec<u8> {
    format!("data: {v}\n\n").into_bytes()
}

const DONE: &[u8] = b"data: [DONE]\n\n";

/// Anthropic's event stream -> OpenAI chat.completion.chunk events.
///
/// Output depends only on complete input events, so however the upstream bytes are
/// split, the concatenated output is the same, and every `feed` returns whole SSE
/// events. Once `[DONE]` is out, further input is ignored.
#[derive(Debug)]
pub struct StreamTranslator {
    parser: SseParser,
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
}

impl StreamTranslator {
    /// `id_seed` names the chunks (`chatcmpl-<seed>`) until the upstream message id is
    /// known; `include_usage` is the client's `stream_options.include_usage`.
    pub fn new(requested_model: &str, id_seed: &str, include_usage: bool, created: u64) -> Self {
        Self {
            parser: SseParser::new(),
            model: requested_model.to_string(),
            id: format!("chatcmpl-{id_seed}"),
            created,
            include_usage,
            started: false,
            done: false,
            tool_blocks: Vec::new(),
            usage: Map::new(),
        }
    }

    /// Whether the stream ended, cleanly or with an error event.
    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        self.parser.feed(bytes);
        while let Some(event) = self.parser.next_event() {
            self.translate_event(&event.event, &event.data, &mut out);
            if self.done {
                break;
            }
        }
        out
    }

    /// Ends the stream. One that stopped before `message_stop` ends with an explicit
    /// error event, so a cut never looks like a complete answer to the client.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        // Servers may omit the blank line after the last event; one cut mid-line is
        // not JSON and counts as the truncation it is.
        if let Some(event) = self.parser.finish() {
            if serde_json::from_str::<Value>(&event.data).is_ok() {
                self.translate_event(&event.event, &event.data, &mut out);
            }
        }
        if !self.done {
            self.fail(
                "server_error",
                "stream_truncated",
                "The upstream stream ended before the response was complete",
                &mut out,
            );
        }
        out
    }

    fn fail(&mut self, kind: &str, code: &str, message: &str, out: &mut Vec<u8>) {
        let error =
            json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
        out.extend(sse_data(&error));
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

    fn merge_usage(&mut self, u: Option<&Value>) {
        if let Some(Value::Object(u)) = u {
            for (k, v) in u {
                if !v.is_null() {
                    self.usage.insert(k.clone(), v.clone());
                }
            }
        }
    }

    fn translate_event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            self.fail(
                "server_error",
                "server_error",
                "The upstream stream sent an event that is not JSON",
                out,
            );
            return;
        };
        let kind = v.get("type").and_then(Value::as_str).unwrap_or(name);
        match kind {
            "message_start" => {
                let message = v.get("message");
                if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                    self.id = id.to_string();
                }
                self.merge_usage(message.and_then(|m| m.get("usage")));
                if !self.started {
                    self.chunk(json!({ "role": "assistant", "content": "" }), None, out);
                }
            }
            "content_block_start" => {
                let block = v.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                        if !text.is_empty() {
                            self.chunk(json!({ "content": text }), None, out);
                        }
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
                        let text = delta.get("text").and_then(Value::as_str).unwrap_or("");
                        if !text.is_empty() {
                            self.chunk(json!({ "content": text }), None, out);
                        }
                    }
                    Some("input_json_delta") => {
                        let part = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
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
                self.merge_usage(v.get("usage"));
                if let Some(reason) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.chunk(json!({}), Some(finish_reason(reason)), out);
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
                let error = openai_error(anthropic_type, 500, message);
                out.extend(sse_data(&error));
                out.extend_from_slice(DONE);
                self.done = true;
            }
            // ping, content_block_stop and event types Anthropic adds later.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::openai_to_anthropic;
    use crate::providers::parse_object;

    #[test]
    fn a_text_answer_becomes_a_chat_completion() {
        let body = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                      "cache_creation_input_tokens": 5, "output_tokens": 7},
        });
        assert_eq!(
            translate_response(&body, "claude", 1_700_000_000),
            json!({
                "id": "msg_01",
                "object": "chat.completion",
                "created": 1_700_000_000u64,
                "model": "claude",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello, world", "refusal": null},
                    "logprobs": null,
                    "finish_reason": "stop",
                }],
                "usage": {"prompt_tokens": 115, "completion_tokens": 7, "total_tokens": 122,
                          "prompt_tokens_details": {"cached_tokens": 100}},
            })
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        for (stop, finish) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ] {
            let body = json!({"content": [], "stop_reason": stop, "usage": {}});
            assert_eq!(
                translate_response(&body, "m", 0)["choices"][0]["finish_reason"],
                finish
            );
        }
        let empty = translate_response(&json!({"content": []}), "m", 0);
        assert_eq!(empty["choices"][0]["message"]["content"], "");
        assert_eq!(empty["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(empty["usage"]["total_tokens"], 0);
    }

    /// OpenAI request with tools -> Anthropic; Anthropic's tool_use answer -> OpenAI;
    /// that answer and the tool's result sent back -> the ids pair up on Anthropic's side.
    #[test]
    fn tools_round_trip() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
        let first = json!({"model": "claude", "tools": tools,
            "messages": [{"role": "user", "content": "Weather in Paris?"}]});
        let req = parse_object(first.to_string().as_bytes()).unwrap();
        let upstream: Value = serde_json::from_slice(
            &openai_to_anthropic::translate_request(&req, "claude-x", 100).unwrap(),
        )
        .unwrap();
        assert_eq!(upstream["tools"][0]["name"], "get_weather");

        let answer = json!({
            "id": "msg_02", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 15},
        });
        let openai = translate_response(&answer, "claude", 0);
        let message = &openai["choices"][0]["message"];
        assert_eq!(openai["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(message["content"], "Let me check.");
        assert_eq!(
            message["tool_calls"],
            json!([{"id": "toolu_01", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
        );

        let second = json!({"model": "claude", "tools": tools, "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            message,
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18C and sunny"},
        ]});
        let req = parse_object(second.to_string().as_bytes()).unwrap();
        let upstream: Value = serde_json::from_slice(
            &openai_to_anthropic::translate_request(&req, "claude-x", 100).unwrap(),
        )
        .unwrap();
        assert_eq!(
            upstream["messages"][1],
            json!({"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
            ]})
        );
        assert_eq!(
            upstream["messages"][2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C and sunny"}]})
        );

        let only_tools = translate_response(
            &json!({"content": [{"type": "tool_use", "id": "t", "name": "now", "input": {}}]}),
            "m",
            0,
        );
        assert_eq!(only_tools["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            only_tools["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
    }

    fn error_of(status: u32, body: &str) -> Value {
        serde_json::from_slice(&translate_error(status, body.as_bytes())).unwrap()
    }

    #[test]
    fn errors_map_to_openai_envelopes() {
        for (status, anthropic, kind, code) in [
            (
                400,
                "invalid_request_error",
                "invalid_request_error",
                "invalid_request_error",
            ),
            (
                401,
                "authentication_error",
                "invalid_request_error",
                "invalid_api_key",
            ),
            (
                403,
                "permission_error",
                "invalid_request_error",
                "permission_denied",
            ),
            (404, "not_found_error", "invalid_request_error", "not_found"),
            (
                413,
                "request_too_large",
                "invalid_request_error",
                "request_too_large",
            ),
            (
                429,
                "rate_limit_error",
                "rate_limit_exceeded",
                "rate_limit_exceeded",
            ),
            (500, "api_error", "server_error", "server_error"),
            (529, "overloaded_error", "server_error", "overloaded"),
            (
                418,
                "teapot_error",
                "invalid_request_error",
                "invalid_request_error",
            ),
            (503, "new_error", "server_error", "server_error"),
        ] {
            let body = json!({"type": "error", "error": {"type": anthropic, "message": "Details here"},
                "request_id": "req_1"});
            assert_eq!(
                error_of(status, &body.to_string()),
                json!({"error": {"message": "Details here", "type": kind, "param": null, "code": code}}),
                "{anthropic}"
            );
        }
    }

    #[test]
    fn non_json_errors_are_wrapped() {
        let e = error_of(
            503,
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
        );
        assert_eq!(
            e["error"]["message"],
            "The upstream provider returned HTTP 503: upstream connect error or disconnect/reset before headers. reset reason: connection failure"
        );
        assert_eq!(e["error"]["type"], "server_error");
        assert_eq!(
            error_of(429, "")["error"],
            json!({"message": "The upstream provider returned HTTP 429 with an empty body",
                   "type": "rate_limit_exceeded", "param": null, "code": "rate_limit_exceeded"})
        );
        let long = "x".repeat(1000);
        let msg = error_of(502, &long)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.ends_with(&format!("{}...", "x".repeat(200))), "{msg}");
        assert!(msg.len() < 300);
        // JSON that is not Anthropic's envelope is wrapped too.
        assert_eq!(
            error_of(404, "{\"detail\":\"no\"}")["error"]["code"],
            "not_found"
        );
    }

    /// A stream as Anthropic sends it: ping, a text block with multi-byte characters, a
    /// tool_use block whose input arrives in pieces, usage with cache tokens.
    const STREAM: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_S1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1000,\"output_tokens\":1}}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Caf\u{e9} \u{2615}, \"}}\n\n",
        "event: content_block_delta\r\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"let me check \u{1F50D}\\n\"}}\r\n\r\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Par\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"is\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn run(chunks: &[&[u8]], include_usage: bool) -> Vec<u8> {
        let mut t = StreamTranslator::new("claude", "seed", include_usage, 1_700_000_000);
        let mut out = Vec::new();
        for c in chunks {
            let piece = t.feed(c);
            assert_is_whole_sse(&piece);
            out.extend(piece);
        }
        out.extend(t.finish());
        out
    }

    /// Every output piece is whole `data:` events, each one JSON or `[DONE]`.
    fn assert_is_whole_sse(bytes: &[u8]) {
        let text = std::str::from_utf8(bytes).expect("output is UTF-8");
        if text.is_empty() {
            return;
        }
        assert!(text.ends_with("\n\n"), "{text:?}");
        for event in text[..text.len() - 2].split("\n\n") {
            let data = event.strip_prefix("data: ").expect("one data line");
            assert!(!data.contains('\n'));
            assert!(
                data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok(),
                "{data}"
            );
        }
    }

    fn events(bytes: &[u8]) -> Vec<Value> {
        let mut p = SseParser::new();
        p.feed(bytes);
        let mut out = Vec::new();
        while let Some(e) = p.next_event() {
            out.push(if e.data == "[DONE]" {
                Value::String(e.data)
            } else {
                serde_json::from_str(&e.data).unwrap()
            });
        }
        assert!(p.finish().is_none());
        out
    }

    fn anthropic_text(stream: &str) -> String {
        let mut p = SseParser::new();
        p.feed(stream.as_bytes());
        let mut text = String::new();
        while let Some(e) = p.next_event() {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            if let Some(t) = v["delta"]["text"].as_str() {
                text.push_str(t);
            }
        }
        text
    }

    #[test]
    fn a_stream_translates_to_chunks() {
        let out = events(&run(&[STREAM.as_bytes()], true));
        let deltas: Vec<&Value> = out.iter().map(|e| &e["choices"][0]["delta"]).collect();
        assert_eq!(out.len(), 9, "{out:#?}");
        assert_eq!(out[0]["id"], "msg_S1");
        assert_eq!(out[0]["object"], "chat.completion.chunk");
        assert_eq!(out[0]["created"], 1_700_000_000u64);
        assert_eq!(out[0]["model"], "claude");
        assert_eq!(out[0]["usage"], Value::Null);
        assert_eq!(*deltas[0], json!({"role": "assistant", "content": ""}));
        assert_eq!(*deltas[1], json!({"content": "Caf\u{e9} \u{2615}, "}));
        assert_eq!(*deltas[2], json!({"content": "let me check \u{1F50D}\n"}));
        assert_eq!(
            *deltas[3],
            json!({"tool_calls": [{"index": 0, "id": "toolu_01", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]})
        );
        assert_eq!(
            *deltas[4],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Par"}}]})
        );
        assert_eq!(
            *deltas[5],
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "is\"}"}}]})
        );
        assert_eq!(*deltas[6], json!({}));
        assert_eq!(out[6]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out[7]["choices"], json!([]));
        assert_eq!(
            out[7]["usage"],
            json!({"prompt_tokens": 1025, "completion_tokens": 89, "total_tokens": 1114,
                   "prompt_tokens_details": {"cached_tokens": 1000}})
        );
        // finish() after a clean end adds nothing.
        assert_eq!(out[8], Value::String("[DONE]".into()));
    }

    #[test]
    fn every_split_point_gives_the_same_output() {
        let bytes = STREAM.as_bytes();
        for include_usage in [false, true] {
            let whole = run(&[bytes], include_usage);
            for i in 0..=bytes.len() {
                assert_eq!(
                    run(&[&bytes[..i], &bytes[i..]], include_usage),
                    whole,
                    "split at {i}"
                );
            }
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(&singles, include_usage), whole);

            let out = events(&whole);
            let content: String = out
                .iter()
                .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
                .collect();
            assert_eq!(content, anthropic_text(STREAM));
            let arguments: String = out
                .iter()
                .filter_map(|e| {
                    e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
                })
                .collect();
            assert_eq!(arguments, "{\"city\": \"Paris\"}");
            assert_eq!(*out.last().unwrap(), Value::String("[DONE]".into()));
            assert_eq!(
                out.iter().filter(|e| e["choices"] == json!([])).count(),
                usize::from(include_usage)
            );
        }
    }

    #[test]
    fn a_cut_stream_ends_with_an_error_event() {
        let bytes = STREAM.as_bytes();
        let stop = STREAM.find("event: message_stop").unwrap();
        for cut in [0, 10, 200, stop - 5, stop, bytes.len() - 3] {
            let out = events(&run(&[&bytes[..cut]], false));
            let n = out.len();
            assert_eq!(out[n - 1], Value::String("[DONE]".into()), "cut at {cut}");
            assert_eq!(
                out[n - 2]["error"]["code"],
                "stream_truncated",
                "cut at {cut}"
            );
            assert_eq!(out[n - 2]["error"]["type"], "server_error");
        }
        // Only the final blank line missing: the last event still counts, the end is clean.
        let out = events(&run(&[&bytes[..bytes.len() - 1]], false));
        assert_eq!(
            out[out.len() - 2]["choices"][0]["finish_reason"],
            "tool_calls"
        );
        assert_eq!(*out.last().unwrap(), Value::String("[DONE]".into()));
    }

    #[test]
    fn an_error_event_ends_the_stream() {
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_E\",\"usage\":{\"input_tokens\":3}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
            "event: error\n",
            "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            "event: message_stop\n",
            "data: {\"type\":\"message_stop\"}\n\n",
        );
        let mut t = StreamTranslator::new("claude", "seed", true, 0);
        let mut out = t.feed(stream.as_bytes());
        assert!(t.is_done());
        out.extend(t.finish());
        out.extend(t.feed(b"data: {\"type\":\"ping\"}\n\n"));
        let out = events(&out);
        assert_eq!(out.len(), 4, "{out:#?}");
        assert_eq!(out[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            out[2],
            json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded"}})
        );
        assert_eq!(out[3], Value::String("[DONE]".into()));

        // Garbage from upstream is an error too, never a silent end.
        let out = events(&run(&[b"data: <html>\n\n"], false));
        assert_eq!(out[0]["error"]["type"], "server_error");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn chunks_before_message_start_use_the_seed() {
        let out = events(&run(
            &[b"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"],
            false,
        ));
        assert_eq!(out[0]["id"], "chatcmpl-seed");
        assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(out[1]["choices"][0]["delta"]["content"], "x");
        assert!(out[1].get("usage").is_none());
    }
}
