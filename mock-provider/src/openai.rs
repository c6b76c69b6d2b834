//! OpenAI chat-completions bodies: plain, streamed chunks, and the error envelope.

use serde_json::{json, Value};

use crate::answer::split_even;
use crate::stream::{data_event, EventStream};

/// A fixed `created` time, so answers are deterministic.
pub const CREATED: u64 = 1_700_000_000;

/// Token usage of one exchange.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
}

/// One answered exchange, in the shape both protocols need.
#[derive(Debug)]
pub struct Completion<'a> {
    pub id: String,
    pub model: &'a str,
    pub answer: &'a str,
    pub chunks: Vec<&'a str>,
    /// `None` when usage is omitted.
    pub usage: Option<Usage>,
    /// Answer with this tool call (name, input) instead of text.
    pub tool_call: Option<&'a (String, Value)>,
    /// Choices in a plain OpenAI answer (the request's `n`), each the same answer.
    pub choices: u64,
}

fn usage_json(usage: Usage) -> Value {
    json!({"prompt_tokens": usage.input, "completion_tokens": usage.output, "total_tokens": usage.input + usage.output})
}

/// Characters of tool call arguments per streamed chunk, about what OpenAI sends.
const ARGUMENT_PIECE_CHARS: usize = 8;

/// `call_<n>` for the completion `chatcmpl-mock-<n>`.
fn tool_call_id(c: &Completion) -> String {
    format!("call_{}", c.id.trim_start_matches("chatcmpl-"))
}

/// The tool call's arguments as OpenAI streams them: pieces of a few characters.
pub fn argument_pieces(arguments: &str) -> Vec<&str> {
    let pieces = arguments.chars().count().div_ceil(ARGUMENT_PIECE_CHARS);
    split_even(arguments, pieces)
}

/// The `chat.completion` object: the answer text, or the tool call with `content: null`.
pub fn plain_body(c: &Completion) -> Value {
    let mut body = json!({
        "id": c.id,
        "object": "chat.completion",
        "created": CREATED,
        "model": c.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": c.answer},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "system_fingerprint": "fp_mock",
    });
    if let Some((name, input)) = c.tool_call {
        body["choices"][0]["message"] = json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{"id": tool_call_id(c), "type": "function",
                            "function": {"name": name, "arguments": input.to_string()}}],
        });
        body["choices"][0]["finish_reason"] = json!("tool_calls");
    }
    let first = body["choices"][0].clone();
    for i in 1..c.choices {
        let mut choice = first.clone();
        choice["index"] = json!(i);
        if let Value::Array(all) = &mut body["choices"] {
            all.push(choice);
        }
    }
    if let Some(usage) = c.usage {
        body["usage"] = usage_json(usage);
    }
    body
}

/// The `chat.completion.chunk` events: role, content chunks, finish, then usage when
/// `include_usage` was asked (and usage is not omitted), then `[DONE]`. A tool call
/// streams as OpenAI's do: the role chunk names the call (id, type, name, empty
/// arguments), then the arguments arrive in pieces, then `finish_reason: tool_calls`.
pub fn stream_events(c: &Completion, include_usage: bool) -> EventStream {
    let with_usage = include_usage && c.usage.is_some();
    let chunk = |delta: Value, finish: Value| {
        let mut chunk = json!({
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": c.model,
            "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        if with_usage {
            chunk["usage"] = Value::Null;
        }
        data_event(&chunk)
    };
    let mut events = Vec::new();
    if let Some((name, input)) = c.tool_call {
        let call = json!({"index": 0, "id": tool_call_id(c), "type": "function",
                          "function": {"name": name, "arguments": ""}});
        events.push(chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [call]}),
            Value::Null,
        ));
        let arguments = input.to_string();
        events.extend(argument_pieces(&arguments).into_iter().map(|piece| {
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                Value::Null,
            )
        }));
        events.push(chunk(json!({}), json!("tool_calls")));
    } else {
        events.push(chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        events.extend(
            c.chunks
                .iter()
                .map(|text| chunk(json!({"content": text}), Value::Null)),
        );
        events.push(chunk(json!({}), json!("stop")));
    }
    if let (true, Some(usage)) = (with_usage, c.usage) {
        events.push(data_event(&json!({
            "id": c.id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": c.model,
            "system_fingerprint": "fp_mock",
            "choices": [],
            "usage": usage_json(usage),
        })));
    }
    events.push(b"data: [DONE]\n\n".to_vec());
    EventStream {
        events,
        preamble: 1,
    }
}

/// `{"error":{"message","type","param","code"}}` with the type and code OpenAI uses for
/// `status`.
pub fn error_body(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => ("permission_error", Value::Null),
        404 => ("invalid_request_error", json!("not_found")),
        429 => ("rate_limit_error", json!("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(usage: Option<Usage>) -> Completion<'static> {
        Completion {
            id: "chatcmpl-mock-1".into(),
            model: "gpt-4o",
            answer: "Hi there",
            chunks: vec!["Hi", " there"],
            usage,
            tool_call: None,
            choices: 1,
        }
    }

    fn parse(events: &[Vec<u8>]) -> Vec<Value> {
        events
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap();
                let data = text
                    .strip_prefix("data: ")
                    .unwrap()
                    .strip_suffix("\n\n")
                    .unwrap();
                if data == "[DONE]" {
                    json!("[DONE]")
                } else {
                    serde_json::from_str(data).unwrap()
                }
            })
            .collect()
    }

    #[test]
    fn plain_body_has_answer_and_usage() {
        let body = plain_body(&completion(Some(Usage {
            input: 10,
            output: 2,
        })));
        assert_eq!(body["choices"][0]["message"]["content"], "Hi there");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
        );
        assert!(plain_body(&completion(None)).get("usage").is_none());
    }

    #[test]
    fn stream_with_usage_ends_with_usage_then_done() {
        let stream = stream_events(
            &completion(Some(Usage {
                input: 10,
                output: 2,
            })),
            true,
        );
        let events = parse(&stream.events);
        assert_eq!(events.len(), 6);
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(events[0]["usage"], Value::Null);
        assert_eq!(events[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(events[2]["choices"][0]["delta"]["content"], " there");
        assert_eq!(events[3]["choices"][0]["finish_reason"], "stop");
        assert_eq!(events[4]["choices"], json!([]));
        assert_eq!(events[4]["usage"]["total_tokens"], 12);
        assert_eq!(events[5], "[DONE]");
    }

    #[test]
    fn stream_without_include_usage_or_with_omit_has_no_usage() {
        for stream in [
            stream_events(
                &completion(Some(Usage {
                    input: 1,
                    output: 1,
                })),
                false,
            ),
            stream_events(&completion(None), true),
        ] {
            let events = parse(&stream.events);
            assert_eq!(events.len(), 5);
            assert!(events.iter().all(|e| e.get("usage").is_none()));
        }
    }

    fn tool_completion(usage: Option<Usage>, call: &(String, Value)) -> Completion<'_> {
        Completion {
            tool_call: Some(call),
            choices: 1,
            ..completion(usage)
        }
    }

    #[test]
    fn plain_tool_call_has_null_content_and_json_arguments() {
        let call = ("get_weather".to_string(), json!({"city": "Paris"}));
        let body = plain_body(&tool_completion(
            Some(Usage {
                input: 10,
                output: 2,
            }),
            &call,
        ));
        assert_eq!(
            body["choices"][0],
            json!({"index": 0, "logprobs": null, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_mock-1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}})
        );
        assert_eq!(body["usage"]["total_tokens"], 12);
    }

    #[test]
    fn streamed_tool_call_names_the_call_then_sends_argument_pieces() {
        let call = (
            "get_weather".to_string(),
            json!({"city": "Paris \u{e9}t\u{e9}"}),
        );
        let stream = stream_events(
            &tool_completion(
                Some(Usage {
                    input: 10,
                    output: 2,
                }),
                &call,
            ),
            true,
        );
        assert_eq!(stream.preamble, 1);
        let events = parse(&stream.events);
        assert_eq!(
            events[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": "call_mock-1", "type": "function",
                 "function": {"name": "get_weather", "arguments": ""}}]})
        );
        let n = events.len();
        let pieces: Vec<&str> = events[1..n - 3]
            .iter()
            .map(|e| {
                let calls = &e["choices"][0]["delta"]["tool_calls"];
                assert_eq!(calls[0]["index"], 0);
                assert!(calls[0].get("id").is_none());
                calls[0]["function"]["arguments"].as_str().unwrap()
            })
            .collect();
        assert!(pieces.len() >= 3, "{pieces:?}");
        assert!(pieces.iter().all(|p| p.chars().count() <= 8));
        assert_eq!(pieces.concat(), call.1.to_string());
        assert_eq!(events[n - 3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(events[n - 3]["choices"][0]["delta"], json!({}));
        assert_eq!(events[n - 2]["usage"]["total_tokens"], 12);
        assert_eq!(events[n - 1], "[DONE]");
        // The same input gives the same stream.
        assert_eq!(
            stream_events(&tool_completion(None, &call), false).events[1..],
            stream_events(&tool_completion(None, &call), false).events[1..]
        );
        let empty = ("now".to_string(), json!({}));
        let events = parse(&stream_events(&tool_completion(None, &empty), false).events);
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{}"
        );
    }

    /// What the gateway does with this stream for an Anthropic client: the mock's tool
    /// call comes out as the same `tool_use` block the plain answer translates to.
    #[test]
    fn the_gateway_translates_the_tool_stream_for_anthropic_clients() {
        use llm_gateway::providers::anthropic_openai::{translate_response, StreamTranslator};
        let call = ("get_weather".to_string(), json!({"city": "Paris"}));
        let usage = Some(Usage {
            input: 10,
            output: 2,
        });
        let mut t = StreamTranslator::new("claude-x", "seed");
        let mut out = Vec::new();
        for event in stream_events(&tool_completion(usage, &call), true).events {
            out.extend(t.feed(&event));
        }
        out.extend(t.finish());
        let text = String::from_utf8(out).unwrap();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.split_once("\ndata: "))
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        let partial_json: String = events
            .iter()
            .filter_map(|e| e["delta"]["partial_json"].as_str())
            .collect();
        assert_eq!(partial_json, call.1.to_string());
        let plain = translate_response(&plain_body(&tool_completion(usage, &call)), "claude-x");
        let block = json!({"type": "tool_use", "id": "call_mock-1", "name": "get_weather", "input": {"city": "Paris"}});
        assert_eq!(plain["content"], json!([block]));
        assert_eq!(
            events[1]["content_block"],
            json!({"type": "tool_use", "id": "call_mock-1", "name": "get_weather", "input": {}})
        );
        let n = events.len();
        assert_eq!(events[n - 2]["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[n - 2]["usage"]["input_tokens"], 10);
        assert_eq!(events[n - 1]["type"], "message_stop");
    }

    #[test]
    fn error_envelopes() {
        assert_eq!(
            error_body(429, "slow down"),
            json!({"error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
        );
        assert_eq!(error_body(503, "x")["error"]["type"], "server_error");
        assert_eq!(
            error_body(400, "x")["error"]["type"],
            "invalid_request_error"
        );
    }
}
