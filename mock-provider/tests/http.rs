//! The mock provider over real sockets: the binary is started on a free port and talked
//! to with a tiny HTTP/1.1 client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start mock-provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("mock-provider listening on ")
        .expect(&line)
        .to_string();
    Server { child, addr }
}

struct Client {
    reader: BufReader<TcpStream>,
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The body ended before its framing said it would.
    truncated: bool,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
    }

    fn call(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        self.send(method, path, headers, body);
        self.response().expect("a response")
    }

    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// Reads one response; `None` if the connection closed before a status line.
    fn response(&mut self) -> Option<Response> {
        let status_line = self.line()?;
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let line = self.line().unwrap();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
            truncated: false,
        };
        if response.header("transfer-encoding") == Some("chunked") {
            loop {
                let Some(size) = self.line() else {
                    response.truncated = true;
                    break;
                };
                let size = usize::from_str_radix(&size, 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line().as_deref(), Some(""));
                    break;
                }
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                assert!(chunk.ends_with(b"\r\n"));
                response.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let length: usize = response.header("content-length").unwrap().parse().unwrap();
            let got = self
                .reader
                .by_ref()
                .take(length as u64)
                .read_to_end(&mut response.body)
                .unwrap();
            response.truncated = got < length;
        }
        Some(response)
    }

    /// Whether the server closed the connection (a read sees end of input).
    fn closed(&mut self) -> bool {
        let mut byte = [0];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

fn chat(content: &str) -> String {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": content}]})
        .to_string()
}

fn data_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect(e).to_string())
        .collect()
}

#[test]
fn plain_answers_echo_and_report_usage() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    let health = client.call("GET", "/__mock/health", &[], "");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));

    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[],
        &chat("Say hi to the tests"),
    );
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Say hi to the tests"
    );
    let usage = &body["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 5);
    assert_eq!(usage["completion_tokens"], 5);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().unwrap() + 5)
    );

    // Same connection: keep-alive.
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Bonjour "}, {"type": "text", "text": "été"}]}]});
    let response = client.call(
        "POST",
        "/v1/messages",
        &[("anthropic-version", "2023-06-01")],
        &anthropic.to_string(),
    );
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "Bonjour été");
    assert_eq!(body["stop_reason"], "end_turn");
    assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(body["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[test]
fn openai_stream_with_include_usage_reassembles_and_ends_with_usage() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    let mut request: Value = serde_json::from_str(&chat("one two three four")).unwrap();
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-write-bytes", "7")],
        &request.to_string(),
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let events = data_events(&response.text());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three four");
    assert_eq!(
        chunks.len(),
        1 + 4 + 1 + 1,
        "role, one per word, finish, usage"
    );
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 4);
    assert!(chunks[..chunks.len() - 1]
        .iter()
        .all(|c| c["usage"].is_null()));

    // Still usable afterwards.
    assert_eq!(client.call("GET", "/__mock/health", &[], "").status, 200);
}

#[test]
fn status_header_gives_rate_limit_envelope() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-status", "429")],
        &chat("x"),
    );
    assert_eq!(response.status, 429);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.json()["error"]["code"], "rate_limit_exceeded");
    let response = client.call(
        "POST",
        "/v1/messages",
        &[("x-mock-status", "429")],
        &chat("x"),
    );
    assert_eq!(
        response.json(),
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "mock error 429 (x-mock-status)"}})
    );
    let response = client.call("GET", "/nowhere", &[], "");
    assert_eq!(response.status, 404);
    assert_eq!(response.json()["error"]["type"], "invalid_request_error");
}

#[test]
fn cut_after_bytes_closes_mid_stream() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    let mut request: Value = serde_json::from_str(&chat("a long enough answer to be cut")).unwrap();
    request["stream"] = json!(true);
    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-cut-after-bytes", "100")],
        &request.to_string(),
    );
    assert_eq!(response.status, 200);
    assert!(response.truncated);
    assert_eq!(response.body.len(), 100);
    assert!(client.closed());

    let mut client = Client::connect(&server.addr);
    let response = client.call(
        "POST",
        "/v1/messages",
        &[("x-mock-cut-after-bytes", "10")],
        &chat("plain"),
    );
    assert!(response.truncated);
    assert_eq!(response.body.len(), 10);
    assert!(client.closed());
}

#[test]
fn drop_connection_answers_nothing() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    client.send(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-drop-connection", "true")],
        &chat("x"),
    );
    assert!(client.response().is_none());
}

#[test]
fn request_log_lists_bodies_and_clears() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-content", "fixed")],
        &chat("first body"),
    );
    let mut dropped = Client::connect(&server.addr);
    dropped.send(
        "POST",
        "/v1/messages",
        &[("x-mock-drop-connection", "true")],
        &chat("second body"),
    );
    assert!(dropped.response().is_none());

    let log = client.call("GET", "/__mock/requests", &[], "").json();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["path"], "/v1/chat/completions");
    assert_eq!(log[0]["headers"]["x-mock-content"], "fixed");
    assert_eq!(log[0]["body"], chat("first body"));
    assert_eq!(log[1]["path"], "/v1/messages");
    assert!(log[1]["body"].as_str().unwrap().contains("second body"));

    assert_eq!(
        client.call("DELETE", "/__mock/requests", &[], "").status,
        200
    );
    assert_eq!(
        client.call("GET", "/__mock/requests", &[], "").json(),
        json!([])
    );
}

#[test]
fn anthropic_stream_and_chunked_request_body() {
    let server = start();
    let mut client = Client::connect(&server.addr);
    let body = json!({"model": "claude-x", "max_tokens": 8, "stream": true, "messages": [{"role": "user", "content": "abcdef"}]})
        .to_string();
    // A chunked request body, as some clients send.
    let (first, second) = body.split_at(10);
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\nx-mock-stream-chunks: 3\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    client
        .reader
        .get_mut()
        .write_all(request.as_bytes())
        .unwrap();
    let response = client.response().unwrap();
    assert_eq!(response.status, 200);
    let text = response.text();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count(),
        3
    );
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
}

#[test]
fn many_keep_alive_connections() {
    let server = start();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut client = Client::connect(&addr);
                for j in 0..20 {
                    let content = format!("conn {i} request {j}");
                    let response =
                        client.call("POST", "/v1/chat/completions", &[], &chat(&content));
                    assert_eq!(response.json()["choices"][0]["message"]["content"], content);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Statuses of `count` plain requests, one connection each way (a reset closes it).
fn statuses(addr: &str, path: &str, count: usize) -> Vec<u16> {
    let mut client = Client::connect(addr);
    (0..count)
        .map(|_| {
            let response = client.call("POST", path, &[], &chat("x"));
            assert!(!response.truncated);
            response.status
        })
        .collect()
}

#[test]
fn failure_rate_is_seeded_reproducible_and_counted() {
    let args = ["--name", "openai", "--failure-rate", "0.3", "--seed", "42"];
    let (one, two) = (start_with(&args), start_with(&args));
    let first = statuses(&one.addr, "/v1/chat/completions", 400);
    assert_eq!(first, statuses(&two.addr, "/v1/chat/completions", 400));
    let failed = first.iter().filter(|s| **s == 503).count();
    assert!((90..=150).contains(&failed), "{failed} of 400 failed");
    assert!(first.iter().all(|s| *s == 200 || *s == 503));

    let mut client = Client::connect(&one.addr);
    let stats = client.call("GET", "/__mock/stats", &[], "");
    assert_eq!(stats.header("x-mock-name"), Some("openai"));
    let stats = stats.json();
    assert_eq!(stats["requests"], 400);
    assert_eq!(stats["failures_injected"], failed);

    // Another seed, another sequence; the envelope follows the protocol.
    let other = start_with(&["--failure-rate", "0.3", "--seed", "43"]);
    assert_ne!(first, statuses(&other.addr, "/v1/chat/completions", 400));
    let anthropic = start_with(&["--failure-rate", "1", "--failure-status", "529"]);
    let response = Client::connect(&anthropic.addr).call("POST", "/v1/messages", &[], &chat("x"));
    assert_eq!(response.status, 529);
    assert_eq!(response.header("x-mock-name"), Some("mock"));
    assert_eq!(response.json()["error"]["type"], "overloaded_error");
}

#[test]
fn headers_win_over_the_failure_rate() {
    let server = start_with(&["--failure-rate", "1"]);
    let mut client = Client::connect(&server.addr);
    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-status", "200")],
        &chat("pinned"),
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json()["choices"][0]["message"]["content"],
        "pinned"
    );
    let response = client.call(
        "POST",
        "/v1/chat/completions",
        &[("x-mock-status", "429")],
        &chat("x"),
    );
    assert_eq!(response.status, 429);
    assert_eq!(response.header("retry-after"), Some("1"));
}

#[test]
fn ttft_slows_the_first_byte_of_every_request() {
    let server = start_with(&["--ttft-ms", "300"]);
    let mut client = Client::connect(&server.addr);
    let mut request: Value = serde_json::from_str(&chat("slow start")).unwrap();
    for stream in [false, true] {
        request["stream"] = json!(stream);
        let started = Instant::now();
        client.send("POST", "/v1/chat/completions", &[], &request.to_string());
        let mut byte = [0];
        client.reader.read_exact(&mut byte).unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "stream {stream}"
        );
        client = Client::connect(&server.addr);
    }
    // A timing header wins over the default; control requests are never slowed.
    let started = Instant::now();
    let response = client.call(
        "POST",
        "/v1/messages",
        &[("x-mock-latency-ms", "0")],
        &chat("x"),
    );
    assert_eq!(response.status, 200);
    client.call("GET", "/__mock/stats", &[], "");
    assert!(started.elapsed() < Duration::from_millis(300));
    // Changed at runtime.
    let config = client.call("POST", "/__mock/config", &[], r#"{"ttft_ms":0}"#);
    assert_eq!(config.json()["ttft_ms"], 0);
    let started = Instant::now();
    client.call("POST", "/v1/chat/completions", &[], &chat("x"));
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[test]
fn config_changes_the_failure_rate_at_runtime() {
    let server = start_with(&["--name", "local"]);
    let mut client = Client::connect(&server.addr);
    assert!(statuses(&server.addr, "/v1/messages", 20)
        .iter()
        .all(|s| *s == 200));
    let config = client.call(
        "POST",
        "/__mock/config",
        &[],
        r#"{"failure_rate":1.0,"failure_status":500}"#,
    );
    assert_eq!(config.status, 200);
    assert_eq!(config.json()["failure_rate"], 1.0);
    assert!(statuses(&server.addr, "/v1/messages", 20)
        .iter()
        .all(|s| *s == 500));
    let bad = client.call("POST", "/__mock/config", &[], r#"{"failure_rate":-0.1}"#);
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json()["error"]["message"],
        "failure_rate must be 0.0..=1.0 (got -0.1)"
    );
    let stats = client.call("GET", "/__mock/stats", &[], "").json();
    assert_eq!(
        (
            stats["requests"].as_u64(),
            stats["failures_injected"].as_u64()
        ),
        (Some(40), Some(20))
    );
    let log = client.call("GET", "/__mock/requests", &[], "").json();
    assert!(log.as_array().unwrap().iter().all(|e| e["name"] == "local"));
}

#[test]
fn down_status_and_reset_modes_then_up() {
    let server = start_with(&["--name", "anthropic"]);
    let mut control = Client::connect(&server.addr);
    assert_eq!(
        control.call("POST", "/__mock/down", &[], "").json()["down"],
        true
    );
    let response = Client::connect(&server.addr).call(
        "POST",
        "/v1/messages",
        &[("x-mock-status", "200")],
        &chat("x"),
    );
    assert_eq!(response.status, 503);
    assert_eq!(response.header("x-mock-name"), Some("anthropic"));
    assert_eq!(response.json()["error"]["type"], "api_error");

    control.call("POST", "/__mock/config", &[], r#"{"down_mode":"reset"}"#);
    let mut client = Client::connect(&server.addr);
    client.send("POST", "/v1/chat/completions", &[], &chat("x"));
    assert!(client.response().is_none());

    assert_eq!(
        control.call("POST", "/__mock/up", &[], "").json()["down"],
        false
    );
    assert_eq!(statuses(&server.addr, "/v1/chat/completions", 3), [200; 3]);
    let stats = control.call("GET", "/__mock/stats", &[], "").json();
    assert_eq!(stats["failed_while_down"], 2);
    assert_eq!(stats["requests"], 5);
}

#[test]
fn down_hang_answers_nothing_until_up() {
    let server = start_with(&["--down-mode", "hang"]);
    let mut control = Client::connect(&server.addr);
    control.call("POST", "/__mock/down", &[], "");
    let mut client = Client::connect(&server.addr);
    client
        .reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    client.send("POST", "/v1/chat/completions", &[], &chat("held"));
    let mut byte = [0];
    let err = client.reader.get_mut().read(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    // Control endpoints still answer while down.
    assert_eq!(control.call("GET", "/__mock/health", &[], "").status, 200);
    control.call("POST", "/__mock/up", &[], "");
    client
        .reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let response = client.response().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["choices"][0]["message"]["content"], "held");
}

#[test]
fn bad_flags_exit_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_mock-provider"))
        .args(["--failure-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--failure-rate must be 0.0..=1.0 (got 2)"),
        "{stderr}"
    );
}
