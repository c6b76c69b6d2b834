//! Server-sent events as written on the wire, and their pacing.

use serde_json::Value;

/// Bytes to write after a pause.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub delay_ms: u64,
    pub bytes: Vec<u8>,
}

/// A rendered event stream: `preamble` events come before the first content event.
#[derive(Debug, Default)]
pub struct EventStream {
    pub events: Vec<Vec<u8>>,
    pub preamble: usize,
}

/// `data: <json>\n\n` (OpenAI).
pub fn data_event(json: &Value) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}

/// `event: <name>\ndata: <json>\n\n` (Anthropic).
pub fn named_event(name: &str, json: &Value) -> Vec<u8> {
    format!("event: {name}\ndata: {json}\n\n").into_bytes()
}

/// Timing of a stream: `chunk_delay_ms` between events, and `ttft_ms` more before the
/// first event after the preamble (the first content, or what ends an empty answer).
pub fn pace(stream: EventStream, ttft_ms: u64, chunk_delay_ms: u64) -> Vec<Piece> {
    stream
        .events
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let between = if i > 0 { chunk_delay_ms } else { 0 };
            let first_token = if i == stream.preamble { ttft_ms } else { 0 };
            Piece {
                delay_ms: between + first_token,
                bytes,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_events() {
        assert_eq!(data_event(&json!({"a": 1})), b"data: {\"a\":1}\n\n");
        assert_eq!(
            named_event("ping", &json!({"type": "ping"})),
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
    }

    #[test]
    fn paces_ttft_after_preamble_and_delay_between() {
        let stream = EventStream {
            events: vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()],
            preamble: 1,
        };
        let delays: Vec<u64> = pace(stream, 100, 5).iter().map(|p| p.delay_ms).collect();
        assert_eq!(delays, [0, 105, 5]);
    }
}
