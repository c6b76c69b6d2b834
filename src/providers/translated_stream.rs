//! A provider's event stream translated into the client's, event by event: the reading
//! and ending both directions share, around each direction's own event translation.

use serde_json::Value;

use crate::sse::{SseEvent, SseParser};

/// One direction's translation of whole provider events into client events.
pub trait EventTranslation {
    /// Writes the client events for one whole provider event.
    fn translate(&mut self, event: &SseEvent, out: &mut Vec<u8>);

    /// Whether the client stream has ended, cleanly or with an error event.
    fn is_done(&self) -> bool;

    /// Whether a final event that came without its blank line is whole. One cut
    /// mid-line is not JSON, and counts as the truncation it is.
    fn is_whole(data: &str) -> bool {
        serde_json::from_str::<Value>(data).is_ok()
    }

    /// Ends the client stream after the provider's stream ended without its final
    /// event, so a cut never looks like a complete answer to the client.
    fn end_early(&mut self, out: &mut Vec<u8>);
}

/// A provider's SSE stream, read as it arrives and translated by `T`.
///
/// Output depends only on complete input events, so however the upstream bytes are
/// split, the concatenated output is the same, and every `feed` returns whole events.
/// Once the client stream has ended, further input is ignored.
#[derive(Debug)]
pub struct TranslatedStream<T> {
    parser: SseParser,
    events: T,
}

impl<T: EventTranslation> TranslatedStream<T> {
    pub fn of(events: T) -> Self {
        Self {
            parser: SseParser::new(),
            events,
        }
    }

    /// Whether the stream ended, cleanly or with an error event.
    pub fn is_done(&self) -> bool {
        self.events.is_done()
    }

    /// Client events for the provider's bytes so far.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_done() {
            return out;
        }
        self.parser.feed(bytes);
        while let Some(event) = self.parser.next_event() {
            self.events.translate(&event, &mut out);
            if self.is_done() {
                break;
            }
        }
        out
    }

    /// Ends the stream; servers may omit the blank line after the last event.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_done() {
            return out;
        }
        if let Some(event) = self.parser.finish() {
            if T::is_whole(&event.data) {
                self.events.translate(&event, &mut out);
            }
        }
        if !self.is_done() {
            self.events.end_early(&mut out);
        }
        out
    }
}
