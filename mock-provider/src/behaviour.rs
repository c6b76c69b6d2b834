//! What a request asks the mock to do, read from its `x-mock-*` headers.

use crate::http::{header, Delivery};

/// The behaviours one request chose. Absent headers leave the default.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Behaviour {
    /// `x-mock-status`: answer with this status (an error envelope from 400 on).
    pub status: Option<u16>,
    /// `x-mock-latency-ms`: wait before the response headers.
    pub latency_ms: u64,
    /// `x-mock-ttft-ms`: streaming, wait before the first content event.
    pub ttft_ms: u64,
    /// `x-mock-chunk-delay-ms`: streaming, wait between events.
    pub chunk_delay_ms: u64,
    /// `x-mock-stream-chunks`: split the answer into exactly this many content chunks.
    pub stream_chunks: Option<usize>,
    /// `x-mock-write-bytes`: socket writes of at most this many body bytes.
    pub write_bytes: Option<usize>,
    /// `x-mock-content` or `x-mock-content-b64`: the answer text instead of the echo.
    pub content: Option<String>,
    /// `x-mock-output-tokens`: answer with exactly this many tokens.
    pub output_tokens: Option<u64>,
    /// `x-mock-omit-usage`: no usage anywhere.
    pub omit_usage: bool,
    /// `x-mock-cut-after-bytes`: send this many body bytes, then close.
    pub cut_after_bytes: Option<usize>,
    /// `x-mock-end-after-events`: streaming, send this many events, then end the
    /// response cleanly (its last chunk) without the final events (`[DONE]`,
    /// `message_stop`): a stream that looks ended but is not complete.
    pub end_after_events: Option<usize>,
    /// `x-mock-drop-connection`: close without answering.
    pub drop_connection: bool,
    /// `x-mock-raw-body`: answer exactly this body.
    pub raw_body: Option<String>,
    /// `x-mock-content-type`: the content type of a raw body (default `text/plain`).
    pub content_type: Option<String>,
    /// `x-mock-tool-call: NAME` with `x-mock-tool-args: JSON object` (default `{}`):
    /// answer with a tool call instead of text (`tool_use` block / `tool_calls`).
    pub tool_call: Option<(String, serde_json::Value)>,
    /// `x-mock-invalid-json: once | always`: answer text that is not JSON (a forced tool
    /// gets the input `{"mock_invalid": true}`), for every request (`always`) or until
    /// the conversation holds that invalid answer as an assistant turn (`once`: the
    /// gateway's schema retry shows it to the model, and then gets the normal answer).
    pub invalid_json: Option<InvalidJson>,
}

/// When the mock answers invalid JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidJson {
    Once,
    Always,
}

impl Behaviour {
    /// Reads the behaviour headers; the error names the header and the rule it broke.
    pub fn from_headers(headers: &[(String, String)]) -> Result<Behaviour, String> {
        let get = |name: &str| header(headers, name);
        let content = match (get("x-mock-content-b64"), get("x-mock-content")) {
            (Some(b64), _) => {
                Some(decode_base64_utf8(b64).map_err(|e| format!("x-mock-content-b64 {e}"))?)
            }
            (None, text) => text.map(str::to_string),
        };
        let status = match get("x-mock-status") {
            Some(value) => Some(number::<u16>("x-mock-status", value).and_then(|s| {
                if (200..=599).contains(&s) {
                    Ok(s)
                } else {
                    Err(format!("x-mock-status must be 200..=599 (got {s})"))
                }
            })?),
            None => None,
        };
        let stream_chunks = optional_number::<usize>(&get, "x-mock-stream-chunks")?;
        if stream_chunks == Some(0) {
            return Err("x-mock-stream-chunks must be >= 1 (got 0)".into());
        }
        let write_bytes = optional_number::<usize>(&get, "x-mock-write-bytes")?;
        if write_bytes == Some(0) {
            return Err("x-mock-write-bytes must be >= 1 (got 0)".into());
        }
        Ok(Behaviour {
            status,
            latency_ms: optional_number(&get, "x-mock-latency-ms")?.unwrap_or(0),
            ttft_ms: optional_number(&get, "x-mock-ttft-ms")?.unwrap_or(0),
            chunk_delay_ms: optional_number(&get, "x-mock-chunk-delay-ms")?.unwrap_or(0),
            stream_chunks,
            write_bytes,
            content,
            output_tokens: optional_number(&get, "x-mock-output-tokens")?,
            omit_usage: flag(&get, "x-mock-omit-usage")?,
            cut_after_bytes: optional_number(&get, "x-mock-cut-after-bytes")?,
            end_after_events: optional_number(&get, "x-mock-end-after-events")?,
            drop_connection: flag(&get, "x-mock-drop-connection")?,
            raw_body: get("x-mock-raw-body").map(str::to_string),
            content_type: get("x-mock-content-type").map(str::to_string),
            invalid_json: match get("x-mock-invalid-json").map(str::trim) {
                None => None,
                Some("once") => Some(InvalidJson::Once),
                Some("always") => Some(InvalidJson::Always),
                Some(other) => {
                    return Err(format!(
                        "x-mock-invalid-json must be once or always (got {other:?})"
                    ))
                }
            },
            tool_call: match get("x-mock-tool-call") {
                None => None,
                Some(name) => {
                    let args = get("x-mock-tool-args").unwrap_or("{}");
                    match serde_json::from_str::<serde_json::Value>(args) {
                        Ok(v) if v.is_object() => Some((name.to_string(), v)),
                        _ => {
                            return Err(format!(
                                "x-mock-tool-args must be a JSON object (got {args:?})"
                            ))
                        }
                    }
                }
            },
        })
    }

    pub fn delivery(&self) -> Delivery {
        Delivery {
            latency_ms: self.latency_ms,
            write_bytes: self.write_bytes,
            cut_after_bytes: self.cut_after_bytes,
        }
    }
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name} must be a non-negative integer (got {value:?})"))
}

fn optional_number<'a, T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<&'a str>,
    name: &str,
) -> Result<Option<T>, String> {
    get(name).map(|value| number(name, value)).transpose()
}

fn flag<'a>(get: &impl Fn(&str) -> Option<&'a str>, name: &str) -> Result<bool, String> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
        Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
        Some(v) => Err(format!("{name} must be true or false (got {v:?})")),
    }
}

/// Decodes standard or URL-safe base64, padding optional, whitespace ignored, into UTF-8.
pub fn decode_base64_utf8(text: &str) -> Result<String, String> {
    String::from_utf8(decode_base64(text)?).map_err(|_| "must decode to UTF-8 text".into())
}

/// Decodes standard or URL-safe base64, padding optional, whitespace ignored.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return Err("must be base64: data after '=' padding".into());
        }
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return Err(format!("must be base64 (bad character {:?})", c as char)),
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err("must be base64 (truncated)".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_headers_is_the_default() {
        assert_eq!(Behaviour::from_headers(&[]).unwrap(), Behaviour::default());
    }

    #[test]
    fn reads_every_header() {
        let b = Behaviour::from_headers(&headers(&[
            ("x-mock-status", "429"),
            ("x-mock-latency-ms", "10"),
            ("x-mock-ttft-ms", "20"),
            ("x-mock-chunk-delay-ms", "3"),
            ("x-mock-stream-chunks", "4"),
            ("x-mock-write-bytes", "7"),
            ("x-mock-content", "hi there"),
            ("x-mock-output-tokens", "12"),
            ("x-mock-omit-usage", "true"),
            ("x-mock-cut-after-bytes", "100"),
            ("x-mock-drop-connection", "false"),
            ("x-mock-raw-body", "<html>"),
            ("x-mock-content-type", "text/html"),
        ]))
        .unwrap();
        assert_eq!(b.status, Some(429));
        assert_eq!((b.latency_ms, b.ttft_ms, b.chunk_delay_ms), (10, 20, 3));
        assert_eq!(
            (b.stream_chunks, b.write_bytes, b.cut_after_bytes),
            (Some(4), Some(7), Some(100))
        );
        assert_eq!(b.content.as_deref(), Some("hi there"));
        assert_eq!(b.output_tokens, Some(12));
        assert!(b.omit_usage && !b.drop_connection);
        assert_eq!(b.raw_body.as_deref(), Some("<html>"));
        assert_eq!(b.content_type.as_deref(), Some("text/html"));
        assert_eq!(
            b.delivery(),
            Delivery {
                latency_ms: 10,
                write_bytes: Some(7),
                cut_after_bytes: Some(100)
            }
        );
    }

    #[test]
    fn rejects_bad_values_with_the_rule() {
        let err = |name: &str, value: &str| {
            Behaviour::from_headers(&headers(&[(name, value)])).unwrap_err()
        };
        assert_eq!(
            err("x-mock-status", "abc"),
            "x-mock-status must be a non-negative integer (got \"abc\")"
        );
        assert_eq!(
            err("x-mock-status", "100"),
            "x-mock-status must be 200..=599 (got 100)"
        );
        assert_eq!(
            err("x-mock-stream-chunks", "0"),
            "x-mock-stream-chunks must be >= 1 (got 0)"
        );
        assert_eq!(
            err("x-mock-omit-usage", "maybe"),
            "x-mock-omit-usage must be true or false (got \"maybe\")"
        );
        assert!(err("x-mock-latency-ms", "-1").contains("non-negative"));
        assert!(err("x-mock-content-b64", "@@@").starts_with("x-mock-content-b64 must be base64"));
    }

    #[test]
    fn b64_content_wins_over_plain_content() {
        let b = Behaviour::from_headers(&headers(&[
            ("x-mock-content", "plain"),
            ("x-mock-content-b64", "w6l0w6k="),
        ]))
        .unwrap();
        assert_eq!(b.content.as_deref(), Some("été"));
    }

    #[test]
    fn base64_decodes_all_forms() {
        assert_eq!(decode_base64_utf8("").unwrap(), "");
        assert_eq!(decode_base64_utf8("aGVsbG8=").unwrap(), "hello");
        assert_eq!(decode_base64_utf8("aGVsbG8").unwrap(), "hello");
        assert_eq!(decode_base64_utf8("aGVs bG8h").unwrap(), "hello!");
        assert_eq!(decode_base64_utf8("8J+YgA==").unwrap(), "😀");
        assert_eq!(
            decode_base64_utf8("-_8").unwrap_err(),
            "must decode to UTF-8 text"
        );
        assert!(decode_base64_utf8("aGVsbG8=x").is_err());
        assert!(decode_base64_utf8("a").is_err());
    }
}
