//! Final events the gateway writes when it ends a client's stream itself, in the
//! client's protocol. A stream must never end in a way that looks complete when it is not.

use serde_json::json;

use crate::api::Api;

/// Message of the error event for a provider event that is not JSON.
pub const NOT_JSON_MESSAGE: &str = "The upstream stream sent an event that is not JSON";

/// Message of the error event that ends a stream the provider stopped early.
pub const TRUNCATED_MESSAGE: &str = "The upstream stream ended before the response was complete";

/// The error event for a stream that the provider ended before its final event.
/// OpenAI: an `error` chunk (the SDK raises `APIError`), then `[DONE]`; Anthropic: an
/// `error` event (the SDK raises), the way Anthropic reports an overloaded stream;
/// Responses: a typed `error` event numbered `next_sequence` (the number after the
/// stream's last event; the other APIs number no events), which pydantic-ai and
/// LangChain raise and after which the SDK's `responses.stream()` has no final response.
pub fn truncated(api: Api, next_sequence: u64) -> Vec<u8> {
    match api {
        Api::OpenAiResponses => {
            responses_error(next_sequence, "stream_truncated", TRUNCATED_MESSAGE)
        }
        Api::AnthropicMessages => {
            let error = json!({"type": "error", "error": {"type": "api_error", "message": TRUNCATED_MESSAGE}});
            format!("event: error\ndata: {error}\n\n").into_bytes()
        }
        _ => {
            let error = json!({"error": {
                "message": TRUNCATED_MESSAGE,
                "type": "server_error",
                "param": null,
                "code": "stream_truncated",
            }});
            format!("data: {error}\n\ndata: [DONE]\n\n").into_bytes()
        }
    }
}

/// A Responses `error` event: `code` and `message`, numbered `sequence`.
pub fn responses_error(sequence: u64, code: &str, message: &str) -> Vec<u8> {
    let error = json!({"type": "error", "code": code, "message": message, "param": null,
                       "sequence_number": sequence});
    format!("event: error\ndata: {error}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    #[test]
    fn truncation_events_parse_as_each_protocols_error() {
        let mut p = SseParser::new();
        p.feed(&truncated(Api::OpenAiChat, 0));
        let first = p.next_event().unwrap();
        let v: serde_json::Value = serde_json::from_str(&first.data).unwrap();
        assert_eq!(v["error"]["code"], "stream_truncated");
        assert_eq!(p.next_event().unwrap().data, "[DONE]");

        let mut p = SseParser::new();
        p.feed(&truncated(Api::AnthropicMessages, 0));
        let ev = p.next_event().unwrap();
        assert_eq!(ev.event, "error");
        let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "api_error");

        let mut p = SseParser::new();
        p.feed(&truncated(Api::OpenAiResponses, 7));
        let ev = p.next_event().unwrap();
        assert_eq!(ev.event, "error");
        let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "stream_truncated");
        assert_eq!(v["sequence_number"], 7);
        assert!(p.next_event().is_none());
    }
}
