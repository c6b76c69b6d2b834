//! The structured-output check on the way back: the answer's text read from a JSON
//! answer or a stream in the client's API, checked against the schema; the retry request
//! that shows the model its invalid answer and the error; the error the client gets.

use serde_json::{json, Value};

use super::schema::Invalid;
use super::Check;
use crate::api::Api;
use crate::errors::UserError;
use crate::sse::split_events;

/// Longest streamed answer text the check collects; past it the answer is not checked.
pub const MAX_CHECKED_TEXT: usize = 3 * 1024 * 1024;

/// The check's verdict on one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// The text, and why it fails (not JSON, or the schema's violations).
    Invalid(String),
    /// Nothing to check: a tool call, a refusal, an error answer, an answer too long.
    Unchecked,
}

/// The result the access log and metrics report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Valid first time.
    Valid,
    /// Invalid, then valid after a retry.
    Fixed,
    /// Still invalid: the client got the error.
    Failed,
    /// Still invalid: the answer passed as configured (`on_invalid: pass`).
    Passed,
    /// Not checked (see [`Verdict::Unchecked`]).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Fixed => "fixed",
            Outcome::Failed => "failed",
            Outcome::Passed => "passed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The answer's text in a whole JSON answer of `api` (`None`: no text to check).
pub fn answer_text(api: Api, body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match api {
        Api::AnthropicMessages => {
            let blocks = v.get("content")?.as_array()?;
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => v
            .get("choices")?
            .get(0)?
            .get("message")?
            .get("content")?
            .as_str()
            .map(str::to_string),
    }
}

/// Checks one answer's text.
pub fn judge(check: &Check, text: Option<&str>) -> Verdict {
    let Some(text) = text else {
        return Verdict::Unchecked;
    };
    match serde_json::from_str::<Value>(text.trim()) {
        Err(e) => Verdict::Invalid(format!("the answer is not valid JSON ({e})")),
        Ok(value) => match check.schema.validate(&value) {
            Ok(()) => Verdict::Valid,
            Err(Invalid(errors)) => Verdict::Invalid(format!(
                "the answer does not match the schema: {}",
                errors.join("; ")
            )),
        },
    }
}

/// The text the model gets with its invalid answer.
pub fn feedback(why: &str) -> String {
    format!("Your previous answer was rejected: {why}. Answer again with only a JSON value that matches the required JSON schema, without prose or code fences.")
}

/// The retry request in the provider's API (`upstream`): the request that went up, the
/// invalid answer as the assistant's turn, and the validation error as the user's.
pub fn retry_body(upstream: Api, sent: &[u8], invalid: &str, why: &str) -> Option<Vec<u8>> {
    let mut req: serde_json::Map<String, Value> = serde_json::from_slice(sent).ok()?;
    let messages = req.get_mut("messages")?.as_array_mut()?;
    messages.push(json!({"role": "assistant", "content": invalid}));
    messages.push(json!({"role": "user", "content": feedback(why)}));
    req.remove("stream");
    if upstream != Api::AnthropicMessages {
        req.remove("stream_options");
    }
    Some(Value::Object(req).to_string().into_bytes())
}

/// The error the client gets for an answer still invalid.
pub fn error(why: &str, retries: u32) -> UserError {
    UserError::InvalidStructuredOutput {
        message: format!(
            "The model's answer did not match the required JSON schema after {retries} {}: {why}",
            if retries == 1 { "retry" } else { "retries" }
        ),
    }
}

/// The schema check of a stream in the client's API: passes whole events on, collects the
/// answer's text, and holds the final event (`[DONE]`, `message_stop`) until the text is
/// checked; an invalid answer ends with the protocol's error event instead.
#[derive(Debug)]
pub struct StreamCheck {
    api: Api,
    check: Check,
    tail: Vec<u8>,
    text: String,
    /// The final event, held back.
    last: Option<Vec<u8>>,
    /// The text grew past [`MAX_CHECKED_TEXT`], or the stream carried no text to check
    /// (an error event, a tool call).
    unchecked: bool,
    saw_text: bool,
}

impl StreamCheck {
    pub fn new(api: Api, check: Check) -> StreamCheck {
        StreamCheck {
            api,
            check,
            tail: Vec::new(),
            text: String::new(),
            last: None,
            unchecked: false,
            saw_text: false,
        }
    }

    /// The bytes that go on now.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.tail.extend_from_slice(chunk);
        let tail = std::mem::take(&mut self.tail);
        let (events, rest) = split_events(&tail);
        let mut out = Vec::with_capacity(tail.len());
        for event in events {
            if self.read(event) {
                self.last = Some(event.to_vec());
            } else {
                out.extend_from_slice(event);
            }
        }
        self.tail = rest.to_vec();
        out
    }

    /// Reads one whole event; `true` when it is the final one (held back).
    fn read(&mut self, event: &[u8]) -> bool {
        let text = String::from_utf8_lossy(event);
        let data: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect::<Vec<_>>()
            .join("\n");
        if data.trim() == "[DONE]" {
            return true;
        }
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            return false;
        };
        let piece = match self.api {
            Api::AnthropicMessages => match v.get("type").and_then(Value::as_str) {
                Some("message_stop") => return true,
                Some("error") => {
                    self.unchecked = true;
                    None
                }
                Some("content_block_start") => {
                    if v["content_block"]["type"] == "tool_use" {
                        self.unchecked = true;
                    }
                    None
                }
                Some("content_block_delta") if v["delta"]["type"] == "text_delta" => {
                    v["delta"]["text"].as_str().map(str::to_string)
                }
                _ => None,
            },
            _ => {
                if v.get("error").is_some() {
                    self.unchecked = true;
                }
                let delta = &v["choices"][0]["delta"];
                if delta.get("tool_calls").is_some_and(|t| !t.is_null()) {
                    self.unchecked = true;
                }
                delta["content"].as_str().map(str::to_string)
            }
        };
        if let Some(p) = piece {
            self.saw_text = true;
            if self.text.len() + p.len() > MAX_CHECKED_TEXT {
                self.unchecked = true;
            } else {
                self.text.push_str(&p);
            }
        }
        false
    }

    /// The stream ended: the rest, then the final event or the error event. Returns the
    /// bytes and the check's outcome.
    pub fn finish(&mut self) -> (Vec<u8>, Outcome) {
        let mut out = std::mem::take(&mut self.tail);
        let last = self.last.take();
        if self.unchecked || !self.saw_text {
            out.extend(last.unwrap_or_default());
            return (out, Outcome::Skipped);
        }
        match judge(&self.check, Some(&self.text)) {
            Verdict::Invalid(why) if self.check.on_invalid == super::OnInvalid::Error => {
                out.extend(error_event(self.api, &why));
                (out, Outcome::Failed)
            }
            Verdict::Invalid(_) => {
                out.extend(last.unwrap_or_default());
                (out, Outcome::Passed)
            }
            _ => {
                out.extend(last.unwrap_or_default());
                (out, Outcome::Valid)
            }
        }
    }
}

/// The protocol's error event for a streamed answer that does not match its schema. A
/// streamed answer is not retried: its text has reached the client already.
/// OpenAI: an `error` chunk then `[DONE]`; Anthropic: an `error` event (no
/// `message_stop`, as when Anthropic ends a stream with an error).
pub fn error_event(api: Api, why: &str) -> Vec<u8> {
    let message =
        format!("The model's streamed answer did not match the required JSON schema: {why}");
    match api {
        Api::AnthropicMessages => {
            let e = json!({"type": "error", "error": {"type": "api_error", "message": message}});
            format!("event: error\ndata: {e}\n\n").into_bytes()
        }
        _ => {
            let e = json!({"error": {"message": message, "type": "server_error", "param": null,
                                     "code": "invalid_structured_output"}});
            format!("data: {e}\n\ndata: [DONE]\n\n").into_bytes()
        }
    }
}
