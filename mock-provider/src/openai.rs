//! OpenAI chat-completions bodies: plain, streamed chunks, and the error envelope.

use serde_json::{json, Value};

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
    /// Answer with this tool call (name, input) instead of text (Anthropic only).
    pub tool_call: Option<&'a (String, Value)>,
}

fn usage_json(usage: Usage) -> Value {
    json!({"prompt_tokens": usage.input, "completion_tokens": usage.output, "total_tokens": usage.input + usage.output})
}

/// The `chat.completion` object.
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
    if let Some(usage) = c.usage {
        body["usage"] = usage_json(usage);
    }
    body
}

/// The `chat.completion.chunk` events: role, content chunks, finish, then usage when
/// `include_usage` was asked (and usage is not omitted), then `[DONE]`.
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
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    events.extend(
        c.chunks
            .iter()
            .map(|text| chunk(json!({"content": text}), Value::Null)),
    );
    events.push(chunk(json!({}), json!("stop")));
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
