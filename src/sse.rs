//! Incremental Server-Sent Events parser: feed bytes as they arrive, take whole events.
//!
//! Follows the WHATWG rules that matter for LLM streams: lines end in `\n`, `\r\n` or
//! `\r`; `data:` lines of one event are joined with `\n`; a blank line ends an event;
//! lines starting with `:` are comments. Bytes are kept as bytes until an event is
//! complete, so a UTF-8 character split across network reads is never mangled.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, empty when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// A `\r` ended the last line; a `\n` right after it belongs to the same line end.
    after_cr: bool,
    event: String,
    data: Vec<u8>,
    has_data: bool,
    ready: std::collections::VecDeque<SseEvent>,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        // A line at a time: the bytes up to the next line end are copied in one piece.
        while let Some(i) = rest.iter().position(|&c| c == b'\n' || c == b'\r') {
            self.line.extend_from_slice(&rest[..i]);
            self.end_line();
            if rest[i] == b'\r' {
                match rest.get(i + 1) {
                    Some(b'\n') => rest = &rest[i + 2..],
                    Some(_) => rest = &rest[i + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[i + 1..];
            }
        }
        self.line.extend_from_slice(rest);
    }

    pub fn next_event(&mut self) -> Option<SseEvent> {
        self.ready.pop_front()
    }

    /// Whether bytes of an unfinished event are pending (the stream was cut mid-event
    /// if it ends now).
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.has_data || !self.event.is_empty()
    }

    /// Ends the stream: an unterminated final event is returned if it carried data
    /// (servers may omit the last blank line), together with whether it was cut.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.line.is_empty() {
            self.end_line();
        }
        if self.has_data {
            Some(self.take_event())
        } else {
            None
        }
    }

    fn end_line(&mut self) {
        // The line buffer is handed back afterwards, so its capacity serves every line.
        let mut line = std::mem::take(&mut self.line);
        self.read_line(&line);
        line.clear();
        self.line = line;
    }

    fn read_line(&mut self, line: &[u8]) {
        if line.is_empty() {
            if self.has_data {
                let ev = self.take_event();
                self.ready.push_back(ev);
            } else {
                self.event.clear();
            }
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&c| c == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }

    fn take_event(&mut self) -> SseEvent {
        self.has_data = false;
        SseEvent {
            event: std::mem::take(&mut self.event),
            data: String::from_utf8(std::mem::take(&mut self.data))
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = vec![];
        for c in chunks {
            p.feed(c);
            while let Some(e) = p.next_event() {
                out.push(e);
            }
        }
        out.extend(p.finish());
        out
    }

    const STREAM: &str = "event: message_start\ndata: {\"a\":\"h\u{e9}llo \u{1F600}\"}\n\n: keep-alive\r\n\r\ndata: line1\r\ndata: line2\r\n\r\nevent: x\rdata: [DONE]\r\r";

    #[test]
    fn parses_events_and_line_endings() {
        let events = parse_all(&[STREAM.as_bytes()]);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event, "message_start");
        assert_eq!(events[0].data, "{\"a\":\"h\u{e9}llo \u{1F600}\"}");
        assert_eq!(events[1].data, "line1\nline2");
        assert_eq!(
            events[2],
            SseEvent {
                event: "x".into(),
                data: "[DONE]".into()
            }
        );
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let whole = parse_all(&[STREAM.as_bytes()]);
        let bytes = STREAM.as_bytes();
        for i in 0..=bytes.len() {
            assert_eq!(
                parse_all(&[&bytes[..i], &bytes[i..]]),
                whole,
                "split at {i}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_all(&singles), whole);
    }

    #[test]
    fn cut_stream_reports_partial_event() {
        let mut p = SseParser::new();
        p.feed(b"data: {\"complete\":1}\n\ndata: {\"cut");
        assert_eq!(p.next_event().unwrap().data, "{\"complete\":1}");
        assert!(p.next_event().is_none());
        assert!(p.has_partial_event());
        assert_eq!(p.finish().unwrap().data, "{\"cut");
    }
}

/// Passes a stream on in whole events: the bytes of an unfinished event wait for the
/// rest, so a stream the gateway has to end early can end with a clean final event
/// instead of half an event.
#[derive(Debug, Default)]
pub struct WholeEvents {
    tail: Vec<u8>,
}

impl WholeEvents {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes that may go on now. `None` means the chunk goes on as it is (it ends on
    /// an event boundary and nothing was waiting), so the caller need not copy it.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        if self.tail.is_empty() && ends_event(chunk) {
            return None;
        }
        self.tail.extend_from_slice(chunk);
        let cut = last_boundary(&self.tail);
        let rest = self.tail.split_off(cut);
        Some(std::mem::replace(&mut self.tail, rest))
    }

    /// The bytes of an unfinished last event (empty when the stream ended on a boundary).
    pub fn take_tail(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tail)
    }
}

/// The whole events of `bytes`, each with its blank line, then whatever follows the last
/// one (empty when `bytes` ends on an event boundary). Concatenated, they are `bytes`.
pub fn split_events(bytes: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut events = Vec::new();
    let mut start = 0;
    for i in 2..=bytes.len() {
        if i > start + 1 && is_boundary(bytes, i) {
            events.push(&bytes[start..i]);
            start = i;
        }
    }
    (events, &bytes[start..])
}

/// Whether a blank line ends just before `i` (`\n\n`, `\r\r` or `\r\n\r\n`).
fn is_boundary(bytes: &[u8], i: usize) -> bool {
    let pair = &bytes[i - 2..i];
    pair == b"\n\n" || pair == b"\r\r" || (pair == b"\r\n" && i >= 3 && bytes[i - 3] == b'\n')
}

fn ends_event(bytes: &[u8]) -> bool {
    bytes.is_empty() || last_boundary(bytes) == bytes.len()
}

/// Offset just past the last blank line (`\n\n`, `\r\r` or `\r\n\r\n`), 0 if none.
fn last_boundary(bytes: &[u8]) -> usize {
    let mut i = bytes.len();
    while i >= 2 {
        if is_boundary(bytes, i) {
            return i;
        }
        i -= 1;
    }
    0
}

#[cfg(test)]
mod whole_events_tests {
    use super::*;

    const STREAM: &[u8] = b"data: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\n: c\n\nevent: x\ndata: y\n\n";

    #[test]
    fn every_split_passes_only_whole_events_and_loses_nothing() {
        for split in 0..=STREAM.len() {
            let mut w = WholeEvents::new();
            let mut out = Vec::new();
            for part in [&STREAM[..split], &STREAM[split..]] {
                let passed = w.feed(part).unwrap_or_else(|| part.to_vec());
                if !passed.is_empty() {
                    assert!(ends_event(&passed), "split {split}: {passed:?}");
                }
                out.extend(passed);
            }
            assert!(w.take_tail().is_empty(), "split {split}");
            assert_eq!(out, STREAM, "split {split}");
        }
    }

    #[test]
    fn split_events_gives_whole_events_and_the_rest() {
        let (events, rest) = split_events(STREAM);
        assert_eq!(events.len(), 4);
        assert_eq!(events[1], b"data: {\"b\":2}\r\n\r\n");
        assert_eq!((events.concat(), rest), (STREAM.to_vec(), &b""[..]));
        let (events, rest) = split_events(b"data: 1\n\ndata: 2");
        assert_eq!((events, rest), (vec![&b"data: 1\n\n"[..]], &b"data: 2"[..]));
    }

    #[test]
    fn an_unfinished_event_waits_in_the_tail() {
        let mut w = WholeEvents::new();
        assert_eq!(
            w.feed(b"data: 1\n\ndata: {\"par"),
            Some(b"data: 1\n\n".to_vec())
        );
        assert_eq!(w.take_tail(), b"data: {\"par".to_vec());
        assert_eq!(w.feed(b"data: 2\n\n"), None);
    }
}
