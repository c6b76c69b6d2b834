//! A small HTTP/1.1 server side: read one request (Content-Length or chunked body), and
//! deliver one reply with the pacing, write splitting and cutting a behaviour asked for.

use std::io::{self, BufRead, Read, Write};
use std::thread;
use std::time::Duration;

use crate::stream::Piece;

const MAX_LINE: usize = 64 * 1024;
const MAX_HEADERS: usize = 256;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One request as received. Header names are lowercased.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    pub http10: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The first value of a header, by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if self.http10 {
            connection.contains("keep-alive")
        } else {
            !connection.contains("close")
        }
    }
}

/// The first value of a header in a lowercased header list.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug)]
pub enum ReadError {
    /// The bytes are not an HTTP/1.x request; answer 400 and close.
    Malformed(String),
    /// The connection failed or closed mid-request; nothing can be answered.
    Io,
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn malformed(message: impl Into<String>) -> ReadError {
    ReadError::Malformed(message.into())
}

/// Reads one line without its CRLF; `None` at end of input before any byte.
fn read_line(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>, ReadError> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            malformed("line too long")
        } else {
            ReadError::Io
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn required_line(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    read_line(reader)?.ok_or(ReadError::Io)
}

/// Reads the next request; `Ok(None)` when the client closed the connection between
/// requests. `interim` receives `100 Continue` when the client waits for it (curl does
/// for bodies over 1 KiB).
pub fn read_request(
    reader: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<Option<Request>, ReadError> {
    // Clients may send stray CRLFs between requests (RFC 9112 section 2.2).
    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break String::from_utf8_lossy(&line).into_owned(),
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(format!("bad request line {request_line:?}")));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        other => return Err(malformed(format!("unsupported version {other:?}"))),
    };
    let headers = read_headers(reader)?;
    let mut request = Request {
        method: method.to_string(),
        target: target.to_string(),
        http10,
        headers,
        body: Vec::new(),
    };

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match request.header("content-length") {
        Some(value) if !chunked => Some(
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| malformed(format!("bad content-length {value:?}")))?,
        ),
        _ => None,
    };
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(malformed("body too large"));
    }
    if (chunked || length.is_some_and(|n| n > 0))
        && request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        interim.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        interim.flush()?;
    }
    request.body = if chunked {
        read_chunked_body(reader)?
    } else {
        let mut body = vec![0; length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(request))
}

fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, ReadError> {
    let mut headers = Vec::new();
    loop {
        let line = required_line(reader)?;
        if line.is_empty() {
            return Ok(headers);
        }
        if headers.len() == MAX_HEADERS {
            return Err(malformed("too many headers"));
        }
        let line = String::from_utf8_lossy(&line);
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(format!("bad header line {line:?}")));
        };
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(malformed(format!("bad header name {name:?}")));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn read_chunked_body(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = required_line(reader)?;
        let line = String::from_utf8_lossy(&line);
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| malformed(format!("bad chunk size {size:?}")))?;
        if size == 0 {
            // Trailers, ignored, up to the empty line.
            while !required_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(malformed("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !required_line(reader)?.is_empty() {
            return Err(malformed("chunk data longer than its size"));
        }
    }
}

/// What to send back.
#[derive(Debug)]
pub enum Reply {
    /// Close the connection without a byte.
    Drop,
    /// A body with a Content-Length.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A chunked body written piece by piece, each after its delay.
    Stream {
        status: u16,
        headers: Vec<(String, String)>,
        pieces: Vec<Piece>,
    },
}

/// How to send it: the network-level behaviours.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delivery {
    /// Wait before the response headers.
    pub latency_ms: u64,
    /// Write the body in socket writes of at most this many bytes.
    pub write_bytes: Option<usize>,
    /// Send only this many body bytes, then close the connection.
    pub cut_after_bytes: Option<usize>,
}

/// Sends a reply. Returns whether the connection may serve another request.
pub fn deliver(
    out: &mut impl Write,
    reply: Reply,
    delivery: &Delivery,
    keep_alive: bool,
) -> io::Result<bool> {
    if delivery.latency_ms > 0 {
        thread::sleep(Duration::from_millis(delivery.latency_ms));
    }
    let mut sink = BodySink {
        out,
        write_bytes: delivery.write_bytes,
        budget: delivery.cut_after_bytes,
    };
    match reply {
        Reply::Drop => Ok(false),
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let head = response_head(status, &headers, Framing::Length(body.len()), keep_alive);
            if sink.write_bytes.is_none() && sink.budget.is_none() {
                // The common case in a load test: one write for the whole response.
                let mut all = head.into_bytes();
                all.extend_from_slice(&body);
                sink.out.write_all(&all)?;
                sink.out.flush()?;
                return Ok(keep_alive);
            }
            sink.head(&head)?;
            Ok(sink.body(&body, false)? && keep_alive)
        }
        Reply::Stream {
            status,
            headers,
            pieces,
        } => {
            let head = response_head(status, &headers, Framing::Chunked, keep_alive);
            sink.head(&head)?;
            for piece in pieces {
                if piece.delay_ms > 0 {
                    thread::sleep(Duration::from_millis(piece.delay_ms));
                }
                if !sink.body(&piece.bytes, true)? {
                    return Ok(false);
                }
            }
            sink.raw(b"0\r\n\r\n")?;
            Ok(keep_alive)
        }
    }
}

enum Framing {
    Length(usize),
    Chunked,
}

fn response_head(
    status: u16,
    headers: &[(String, String)],
    framing: Framing,
    keep_alive: bool,
) -> String {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::Length(n) => head.push_str(&format!("content-length: {n}\r\n")),
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    head
}

/// Writes body bytes honouring `x-mock-write-bytes` and `x-mock-cut-after-bytes`.
struct BodySink<'a, W: Write> {
    out: &'a mut W,
    write_bytes: Option<usize>,
    /// Body bytes left before the cut; `None` when no cut was asked for.
    budget: Option<usize>,
}

impl<W: Write> BodySink<'_, W> {
    fn head(&mut self, head: &str) -> io::Result<()> {
        self.out.write_all(head.as_bytes())?;
        self.out.flush()
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let step = self.write_bytes.unwrap_or(usize::MAX).max(1);
        for part in bytes.chunks(step) {
            self.out.write_all(part)?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Writes `payload` (as one chunk when `chunked`). Returns false when the cut was
    /// reached inside it: the caller must close the connection.
    fn body(&mut self, payload: &[u8], chunked: bool) -> io::Result<bool> {
        let take = self.budget.map_or(payload.len(), |b| b.min(payload.len()));
        let cut = take < payload.len();
        if let Some(budget) = self.budget.as_mut() {
            *budget -= take;
        }
        if take > 0 {
            let sent = &payload[..take];
            if chunked {
                let mut frame = format!("{take:x}\r\n").into_bytes();
                frame.extend_from_slice(sent);
                frame.extend_from_slice(b"\r\n");
                self.raw(&frame)?;
            } else {
                self.raw(sent)?;
            }
        }
        Ok(!cut)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(bytes: &[u8]) -> (Result<Option<Request>, ReadError>, Vec<u8>) {
        let mut interim = Vec::new();
        let result = read_request(&mut Cursor::new(bytes.to_vec()), &mut interim);
        (result, interim)
    }

    #[test]
    fn reads_content_length_body_and_lowercases_headers() {
        let (req, _) = read(b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nX-Mock-Status:  429 \r\nContent-Length: 5\r\n\r\nhello");
        let req = req.unwrap().unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path(), "/v1/messages");
        assert_eq!(req.target, "/v1/messages?beta=true");
        assert_eq!(req.header("x-mock-status"), Some("429"));
        assert_eq!(req.body, b"hello");
        assert!(req.keep_alive());
    }

    #[test]
    fn reads_chunked_body_with_extensions_and_trailers() {
        let (req, _) = read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n");
        assert_eq!(req.unwrap().unwrap().body, b"hello world");
    }

    #[test]
    fn keeps_alive_by_version_and_connection_header() {
        let (req, _) = read(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!req.unwrap().unwrap().keep_alive());
        let (req, _) = read(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(req.unwrap().unwrap().keep_alive());
        let (req, _) = read(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(!req.unwrap().unwrap().keep_alive());
    }

    #[test]
    fn sends_100_continue_when_asked() {
        let (req, interim) =
            read(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
        assert_eq!(req.unwrap().unwrap().body, b"hi");
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn end_of_input_and_garbage() {
        assert!(matches!(read(b"").0, Ok(None)));
        assert!(matches!(read(b"\r\n").0, Ok(None)));
        assert!(matches!(
            read(b"hello\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read(b"GET / HTTP/2\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").0,
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nhi").0,
            Err(ReadError::Io)
        ));
    }

    #[test]
    fn reads_two_pipelined_requests() {
        let mut input = Cursor::new(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n".to_vec());
        let mut sink = Vec::new();
        assert_eq!(
            read_request(&mut input, &mut sink).unwrap().unwrap().target,
            "/a"
        );
        assert_eq!(
            read_request(&mut input, &mut sink).unwrap().unwrap().target,
            "/b"
        );
        assert!(read_request(&mut input, &mut sink).unwrap().is_none());
    }

    fn stream_reply() -> Reply {
        let pieces = vec![
            Piece {
                delay_ms: 0,
                bytes: b"data: a\n\n".to_vec(),
            },
            Piece {
                delay_ms: 0,
                bytes: b"data: b\n\n".to_vec(),
            },
        ];
        Reply::Stream {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            pieces,
        }
    }

    #[test]
    fn delivers_full_and_streamed_replies() {
        let mut out = Vec::new();
        let full = Reply::Full {
            status: 429,
            headers: vec![("retry-after".into(), "1".into())],
            body: b"{}".to_vec(),
        };
        assert!(deliver(&mut out, full, &Delivery::default(), true).unwrap());
        assert_eq!(
            out,
            b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 2\r\n\r\n{}"
        );

        let mut out = Vec::new();
        assert!(!deliver(&mut out, stream_reply(), &Delivery::default(), false).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("transfer-encoding: chunked\r\nconnection: close\r\n\r\n9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n\r\n"), "{text}");
    }

    #[test]
    fn cut_keeps_chunk_framing_valid_and_stops() {
        let mut out = Vec::new();
        let delivery = Delivery {
            cut_after_bytes: Some(12),
            ..Delivery::default()
        };
        assert!(!deliver(&mut out, stream_reply(), &delivery, true).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("\r\n\r\n9\r\ndata: a\n\n\r\n3\r\ndat\r\n"),
            "{text}"
        );

        let mut out = Vec::new();
        let full = Reply::Full {
            status: 200,
            headers: vec![],
            body: b"0123456789".to_vec(),
        };
        assert!(!deliver(&mut out, full, &delivery_cut(4), true).unwrap());
        assert!(out.ends_with(b"content-length: 10\r\n\r\n0123"));

        // A body shorter than the cut is sent whole.
        let mut out = Vec::new();
        assert!(deliver(&mut out, stream_reply(), &delivery_cut(100), true).unwrap());
        assert!(out.ends_with(b"0\r\n\r\n"));
    }

    fn delivery_cut(n: usize) -> Delivery {
        Delivery {
            cut_after_bytes: Some(n),
            ..Delivery::default()
        }
    }

    /// Records each write separately.
    struct Writes(Vec<Vec<u8>>);
    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_bytes_splits_body_writes() {
        let mut out = Writes(Vec::new());
        let full = Reply::Full {
            status: 200,
            headers: vec![],
            body: b"0123456789".to_vec(),
        };
        deliver(
            &mut out,
            full,
            &Delivery {
                write_bytes: Some(4),
                ..Delivery::default()
            },
            true,
        )
        .unwrap();
        let body: Vec<&[u8]> = out.0[1..].iter().map(|w| w.as_slice()).collect();
        assert_eq!(body, [&b"0123"[..], b"4567", b"89"]);
    }
}
