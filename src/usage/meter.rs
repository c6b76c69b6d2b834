//! The usage stage's reader: a response read as it passes (JSON whole, SSE event by
//! event) for the provider's usage, the generated text and the answering model.

use serde_json::Value;

use crate::api::Api;
use crate::providers::{self, openai, ProviderUsage, ResponsePiece, StreamEnd};
use crate::sse::SseParser;

/// How the response body is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    EventStream,
    /// Neither JSON nor SSE: passed on untouched and not metered.
    Other,
}

impl BodyKind {
    pub fn from_content_type(content_type: Option<&str>) -> BodyKind {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("text/event-stream") {
            BodyKind::EventStream
        } else if ct.starts_with("application/json") || ct.contains("+json") {
            BodyKind::Json
        } else {
            BodyKind::Other
        }
    }
}

/// Reads a response as it passes, collecting usage and generated text.
#[derive(Debug)]
pub struct ResponseMeter {
    api: Api,
    pub kind: BodyKind,
    pub status: u32,
    sse: SseParser,
    json: Vec<u8>,
    json_limit: usize,
    usage: ProviderUsage,
    text: String,
    model: Option<String>,
    saw_done: bool,
    /// The stream carried an error event (an explicit, if unhappy, end).
    saw_error: bool,
    /// The number of the stream's last numbered event (Responses' `sequence_number`).
    last_sequence: Option<u64>,
    /// Time of the first generated content of a stream, in ms since the request started.
    pub first_token_ms: Option<u64>,
    /// The body could not be read as its content type claims.
    pub unreadable: bool,
    pub bytes: u64,
}

impl ResponseMeter {
    pub fn new(api: Api, status: u32, content_type: Option<&str>, json_limit: usize) -> Self {
        ResponseMeter {
            api,
            kind: BodyKind::from_content_type(content_type),
            status,
            sse: SseParser::new(),
            json: Vec::new(),
            json_limit,
            usage: ProviderUsage::default(),
            text: String::new(),
            model: None,
            saw_done: false,
            saw_error: false,
            last_sequence: None,
            first_token_ms: None,
            unreadable: false,
            bytes: 0,
        }
    }

    /// Feeds a body chunk. `elapsed_ms` is the time since the request started.
    pub fn feed(&mut self, chunk: &[u8], elapsed_ms: u64) {
        self.bytes += chunk.len() as u64;
        match self.kind {
            BodyKind::EventStream => {
                self.sse.feed(chunk);
                while let Some(ev) = self.sse.next_event() {
                    self.on_event(&ev.data, elapsed_ms);
                }
            }
            BodyKind::Json => {
                if !self.unreadable && self.json.len() + chunk.len() <= self.json_limit {
                    self.json.extend_from_slice(chunk);
                } else {
                    self.unreadable = true;
                }
            }
            BodyKind::Other => {}
        }
    }

    fn on_event(&mut self, data: &str, elapsed_ms: u64) {
        let data = data.trim();
        if data == "[DONE]" {
            self.saw_done = true;
            return;
        }
        let plain = match self.api {
            Api::OpenAiChat => openai::read_plain_chunk(data),
            _ => None,
        };
        let parsed = match plain {
            Some(piece) => Ok(piece),
            None => serde_json::from_str::<Value>(data)
                .map(|v| providers::read_stream_event(self.api, &v)),
        };
        match parsed {
            Ok(mut piece) => {
                match piece.end.take() {
                    Some(StreamEnd::Done) => self.saw_done = true,
                    Some(StreamEnd::Error) => self.saw_error = true,
                    None => {}
                }
                if let Some(n) = piece.sequence {
                    self.last_sequence = Some(n);
                }
                if !piece.text.is_empty() && self.first_token_ms.is_none() {
                    self.first_token_ms = Some(elapsed_ms);
                }
                self.take(piece);
            }
            Err(_) => self.unreadable = true,
        }
    }

    fn take(&mut self, piece: ResponsePiece) {
        if let Some(u) = piece.usage {
            self.usage.merge(u);
        }
        self.text.push_str(&piece.text);
        if self.model.is_none() {
            self.model = piece.model;
        }
    }

    /// The wire format this meter reads.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The number an event the gateway adds after the stream's last one takes.
    pub fn next_sequence(&self) -> u64 {
        self.last_sequence.map_or(0, |n| n + 1)
    }

    /// The stream reached its final event (`[DONE]`, `message_stop`) or an error event.
    pub fn stream_ended_explicitly(&self) -> bool {
        self.saw_done || self.saw_error
    }

    /// Ends the body; returns what was learned. Safe to call on a cut stream.
    pub fn finish(&mut self, elapsed_ms: u64) -> ResponseOutcome {
        let mut cut = false;
        match self.kind {
            BodyKind::EventStream => {
                let partial = self.sse.has_partial_event();
                if let Some(ev) = self.sse.finish() {
                    self.on_event(&ev.data, elapsed_ms);
                }
                cut = partial || (!self.saw_done && self.status < 400);
            }
            BodyKind::Json if !self.unreadable => match serde_json::from_slice::<Value>(&self.json)
            {
                Ok(v) => {
                    let piece = providers::read_response(self.api, &v);
                    self.take(piece);
                }
                Err(_) => self.unreadable = true,
            },
            _ => {}
        }
        self.json = Vec::new();
        ResponseOutcome {
            usage: self.usage,
            generated_text: std::mem::take(&mut self.text),
            response_model: self.model.take(),
            cut,
            unreadable: self.unreadable || self.kind == BodyKind::Other,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ResponseOutcome {
    pub usage: ProviderUsage,
    pub generated_text: String,
    pub response_model: Option<String>,
    /// An event stream that ended without its final event, or mid-event.
    pub cut: bool,
    pub unreadable: bool,
}
