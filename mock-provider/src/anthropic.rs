//! Anthropic messages bodies: plain, the streamed event sequence, and the error envelope.

use serde_json::{json, Value};

use crate::openai::Completion;
use crate::stream::{named_event, EventStream};

/// The `message` object.
pub fn plain_body(c: &Completion) -> Value {
    let mut body = json!({
        "id": c.id,
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": [{"type": "text", "text": c.answer}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
    });
    if let Some((name, input)) = c.tool_call {
        body["content"] =
            json!([{"type": "tool_use", "id": tool_use_id(c), "name": name, "input": input}]);
        body["stop_reason"] = json!("tool_use");
    }
    if let Some(usage) = c.usage {
        body["usage"] = json!({
            "input_tokens": usage.input,
            "output_tokens": usage.output,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        });
    }
    body
}

/// message_start, content_block_start, ping, one content_block_delta per chunk,
/// content_block_stop, message_delta, message_stop: Anthropic's own sequence.
pub fn stream_events(c: &Completion) -> EventStream {
    let mut message = json!({
        "id": c.id,
        "type": "message",
        "role": "assistant",
        "model": c.model,
        "content": [],
        "stop_reason": null,
        "stop_sequence": null,
    });
    let mut message_delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}});
    if let Some(usage) = c.usage {
        message["usage"] = json!({
            "input_tokens": usage.input,
            "output_tokens": 1,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        });
        message_delta["usage"] = json!({"output_tokens": usage.output});
    }
    let mut events = vec![
        named_event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        ),
        named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        named_event("ping", &json!({"type": "ping"})),
    ];
    if let Some((name, input)) = c.tool_call {
        // The tool block replaces the text block; its input arrives as JSON pieces.
        events.pop();
        events.pop();
        events.push(named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "tool_use", "id": tool_use_id(c), "name": name, "input": {}}}),
        ));
        events.push(named_event("ping", &json!({"type": "ping"})));
        let input = input.to_string();
        let mid = input
            .char_indices()
            .nth(input.chars().count() / 2)
            .map_or(0, |(i, _)| i);
        for piece in [&input[..mid], &input[mid..]] {
            events.push(named_event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(named_event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ));
        message_delta["delta"]["stop_reason"] = json!("tool_use");
        events.push(named_event("message_delta", &message_delta));
        events.push(named_event(
            "message_stop",
            &json!({"type": "message_stop"}),
        ));
        return EventStream {
            events,
            preamble: 3,
        };
    }
    events.extend(c.chunks.iter().map(|text| {
        named_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        )
    }));
    events.push(named_event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(named_event("message_delta", &message_delta));
    events.push(named_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    EventStream {
        events,
        preamble: 3,
    }
}

fn tool_use_id(c: &Completion) -> String {
    format!("toolu_{}", c.id.trim_start_matches("msg_"))
}

/// `{"type":"error","error":{"type","message"}}` with the type Anthropic uses for `status`.
pub fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::Usage;

    fn completion(usage: Option<Usage>) -> Completion<'static> {
        Completion {
            id: "msg_mock_1".into(),
            model: "claude-x",
            answer: "Hi there",
            chunks: vec!["Hi", " there"],
            usage,
            tool_call: None,
            choices: 1,
        }
    }

    /// (event name, data) of each event.
    fn parse(stream: &EventStream) -> Vec<(String, Value)> {
        stream
            .events
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap();
                let (name, data) = text.strip_suffix("\n\n").unwrap().split_once('\n').unwrap();
                (
                    name.strip_prefix("event: ").unwrap().to_string(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn plain_body_has_answer_and_usage() {
        let body = plain_body(&completion(Some(Usage {
            input: 9,
            output: 2,
        })));
        assert_eq!(body["content"][0]["text"], "Hi there");
        assert_eq!(body["stop_reason"], "end_turn");
        assert_eq!(body["usage"]["input_tokens"], 9);
        assert_eq!(body["usage"]["output_tokens"], 2);
        assert!(plain_body(&completion(None)).get("usage").is_none());
    }

    #[test]
    fn stream_follows_anthropic_sequence() {
        let stream = stream_events(&completion(Some(Usage {
            input: 9,
            output: 2,
        })));
        let events = parse(&stream);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(events
            .iter()
            .all(|(name, data)| data["type"] == name.as_str()));
        assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 9);
        assert_eq!(events[0].1["message"]["usage"]["output_tokens"], 1);
        let text: String = events[3..5]
            .iter()
            .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, "Hi there");
        assert_eq!(events[6].1["usage"]["output_tokens"], 2);
        assert_eq!(stream.preamble, 3);
    }

    #[test]
    fn omitted_usage_leaves_no_usage_field() {
        let events = parse(&stream_events(&completion(None)));
        assert!(events[0].1["message"].get("usage").is_none());
        assert!(events[6].1.get("usage").is_none());
    }

    #[test]
    fn error_envelopes() {
        assert_eq!(
            error_body(429, "m"),
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "m"}})
        );
        assert_eq!(error_body(500, "m")["error"]["type"], "api_error");
        assert_eq!(
            error_body(400, "m")["error"]["type"],
            "invalid_request_error"
        );
    }
}
