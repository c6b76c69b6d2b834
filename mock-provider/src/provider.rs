//! Turns a received request into a reply: control endpoints, behaviours, and the two
//! completion protocols.

use std::sync::atomic::{AtomicU64, Ordering};

use llm_gateway::providers::openai_responses;
use llm_gateway::tokens::{
    count_anthropic_messages, count_openai_chat, count_text, encoding_for_model, Encoding,
};
use serde_json::{Map, Value};

use crate::answer::{answer_text, chunks};
use crate::behaviour::{Behaviour, InvalidJson};
use crate::faults::{DownMode, FaultConfig, Faults, Injected};
use crate::gzip::accepts_gzip;
use crate::http::{Delivery, Reply, Request};
use crate::log::RequestLog;
use crate::openai::{Completion, Usage};
use crate::responses::{self, ResponseStore};
use crate::stream::pace;
use crate::{anthropic, openai};

/// Which wire format a path speaks, for answers and error envelopes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    OpenAi,
    Anthropic,
    /// OpenAI Responses: OpenAI's error envelope, the `response` object and typed events.
    Responses,
}

impl Protocol {
    pub fn for_path(path: &str) -> Protocol {
        if path.starts_with("/v1/messages") {
            Protocol::Anthropic
        } else if path.starts_with("/v1/responses") {
            Protocol::Responses
        } else {
            Protocol::OpenAi
        }
    }

    fn error_body(self, status: u16, message: &str) -> Value {
        match self {
            Protocol::OpenAi | Protocol::Responses => openai::error_body(status, message),
            Protocol::Anthropic => anthropic::error_body(status, message),
        }
    }
}

/// Headers that choose a request's outcome; they win over the failure rate.
const OUTCOME_HEADERS: [&str; 4] = [
    "x-mock-status",
    "x-mock-drop-connection",
    "x-mock-raw-body",
    "x-mock-cut-after-bytes",
];

/// Headers that choose a request's timing; they win over the default `ttft_ms`.
const TIMING_HEADERS: [&str; 2] = ["x-mock-latency-ms", "x-mock-ttft-ms"];

/// The provider's state: the request log, the id counter and failure injection.
#[derive(Debug, Default)]
pub struct MockProvider {
    log: RequestLog,
    next_id: AtomicU64,
    faults: Faults,
    /// Responses created with `store`, for `GET`/`DELETE /v1/responses/{id}`.
    stored: ResponseStore,
}

impl MockProvider {
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_faults(config: FaultConfig) -> Self {
        MockProvider {
            faults: Faults::new(config),
            ..Self::default()
        }
    }

    /// Answers one request; every answer carries `x-mock-name`.
    pub fn handle(&self, request: &Request) -> (Reply, Delivery) {
        let (mut reply, delivery) = self.answer(request);
        if let Reply::Full { headers, .. } | Reply::Stream { headers, .. } = &mut reply {
            headers.push(("x-mock-name".to_string(), self.faults.name()));
        }
        // As real providers do: a client that accepts gzip gets its JSON answer gzipped.
        let gzip = request.header("accept-encoding").is_some_and(accepts_gzip);
        if let (true, Reply::Full { headers, body, .. }) = (gzip, &mut reply) {
            let json = crate::http::header(headers, "content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            if json && !request.path().starts_with("/__mock/") {
                *body = crate::gzip::gzip(body);
                headers.push(("content-encoding".to_string(), "gzip".to_string()));
            }
        }
        (reply, delivery)
    }

    fn answer(&self, request: &Request) -> (Reply, Delivery) {
        let path = request.path();
        if path.starts_with("/__mock/") {
            return (
                self.control(&request.method, path, &request.body),
                Delivery::default(),
            );
        }
        self.log.record(request, &self.faults.name());
        let protocol = Protocol::for_path(path);
        let headers = behaviour_headers(&request.headers, &self.faults.name());
        let has = |name: &str| crate::http::header(&headers, name).is_some();
        let behaviour = Behaviour::from_headers(&headers);
        let overridden = behaviour.is_err() || OUTCOME_HEADERS.iter().any(|h| has(h));
        let (injected, config) = self.faults.decide(overridden);
        // Timing headers win over the instance's slow first byte.
        let timed_by_headers = TIMING_HEADERS.iter().any(|h| has(h));
        let latency_ms = match &behaviour {
            Ok(b) if timed_by_headers => b.latency_ms,
            _ => config.ttft_ms,
        };
        let first_byte = Delivery {
            latency_ms,
            ..Delivery::default()
        };
        match injected {
            Some(Injected::Down(DownMode::Reset)) => return (Reply::Drop, Delivery::default()),
            Some(Injected::Down(_)) => {
                let message = format!("mock provider {} is down", config.name);
                return (
                    error_reply(protocol, config.failure_status, &message),
                    Delivery::default(),
                );
            }
            Some(Injected::Rate) => {
                let message = format!(
                    "mock failure injected by {} (failure_rate {})",
                    config.name, config.failure_rate
                );
                return (
                    error_reply(protocol, config.failure_status, &message),
                    first_byte,
                );
            }
            None => {}
        }
        let behaviour = match behaviour {
            Ok(behaviour) => behaviour,
            Err(message) => return (error_reply(protocol, 400, &message), Delivery::default()),
        };
        let delivery = Delivery {
            latency_ms,
            ..behaviour.delivery()
        };
        if behaviour.drop_connection {
            return (Reply::Drop, delivery);
        }
        if let Some(body) = &behaviour.raw_body {
            let content_type = behaviour.content_type.as_deref().unwrap_or("text/plain");
            let headers = vec![("content-type".to_string(), content_type.to_string())];
            let reply = Reply::Full {
                status: behaviour.status.unwrap_or(200),
                headers,
                body: body.clone().into_bytes(),
            };
            return (reply, delivery);
        }
        if let Some(status) = behaviour.status.filter(|s| *s >= 400) {
            return (
                error_reply(
                    protocol,
                    status,
                    &format!("mock error {status} (x-mock-status)"),
                ),
                delivery,
            );
        }
        let reply = match (request.method.as_str(), path) {
            ("POST", "/v1/chat/completions")
            | ("POST", "/v1/messages")
            | ("POST", "/v1/responses") => self.complete(protocol, &request.body, &behaviour),
            (method, _) if path.starts_with("/v1/responses/") => {
                match self.stored.answer(method, &path["/v1/responses/".len()..]) {
                    Some((status, body)) => {
                        full(status, "application/json", body.to_string().into_bytes())
                    }
                    None => error_reply(protocol, 404, &format!("no route for {method} {path}")),
                }
            }
            ("POST", "/v1/embeddings") => embed(&request.body, &behaviour),
            _ => error_reply(
                protocol,
                404,
                &format!("no route for {} {path}", request.method),
            ),
        };
        (with_status(reply, behaviour.status), delivery)
    }

    fn control(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let json = |value: Value| full(200, "application/json", value.to_string().into_bytes());
        match (method, path) {
            ("GET", "/__mock/health") => full(200, "text/plain", b"ok".to_vec()),
            ("POST", "/__mock/down") => {
                self.faults.set_down(true);
                json(self.faults.stats())
            }
            ("POST", "/__mock/up") => {
                self.faults.set_down(false);
                json(self.faults.stats())
            }
            ("GET", "/__mock/config") => json(serde_json::json!(self.faults.config())),
            ("POST", "/__mock/config") => match self.faults.patch(body) {
                Ok(config) => json(serde_json::json!(config)),
                Err(message) => error_reply(Protocol::OpenAi, 400, &message),
            },
            ("GET", "/__mock/stats") => json(self.faults.stats()),
            ("DELETE", "/__mock/stats") => {
                self.faults.reset_stats();
                json(self.faults.stats())
            }
            ("GET", "/__mock/requests") => full(200, "application/json", self.log.to_json()),
            ("DELETE", "/__mock/requests") => {
                self.log.clear();
                full(200, "application/json", b"[]".to_vec())
            }
            _ => error_reply(
                Protocol::OpenAi,
                404,
                &format!("no route for {method} {path}"),
            ),
        }
    }

    fn complete(&self, protocol: Protocol, body: &[u8], behaviour: &Behaviour) -> Reply {
        let request: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(request)) => request,
            Ok(_) => return error_reply(protocol, 400, "request body must be a JSON object"),
            Err(err) => {
                return error_reply(
                    protocol,
                    400,
                    &format!("request body is not valid JSON: {err}"),
                )
            }
        };
        // A Responses request is answered as the chat request it amounts to.
        let chat = match protocol {
            Protocol::Responses => {
                if let Err(reply) = self.check_responses_request(&request) {
                    return reply;
                }
                openai_responses::chat_view(&request)
            }
            _ if !request.get("messages").is_some_and(Value::is_array) => {
                return error_reply(protocol, 400, "messages: field required (an array)");
            }
            _ => request.clone(),
        };
        let model = request.get("model").and_then(Value::as_str).unwrap_or("");
        let encoding = match protocol {
            Protocol::OpenAi | Protocol::Responses => encoding_for_model(model).0,
            Protocol::Anthropic => Encoding::O200kBase,
        };
        let invalid = match behaviour.invalid_json {
            Some(InvalidJson::Always) => true,
            Some(InvalidJson::Once) => !holds_invalid_answer(&chat),
            None => false,
        };
        let answer = match invalid {
            true => INVALID_JSON_ANSWER.to_string(),
            false => answer_text(&chat, behaviour, encoding),
        };
        let usage = (!behaviour.omit_usage).then(|| Usage {
            input: match protocol {
                Protocol::OpenAi | Protocol::Responses => count_openai_chat(model, &chat),
                Protocol::Anthropic => count_anthropic_messages(&request),
            },
            output: count_text(encoding, &answer),
        });
        // A request that forces a tool gets a call of it, as a model would: its input is
        // the answer when that is a JSON object (e.g. `x-mock-content`), else `{}`.
        let forced_call = forced_tool(&request).map(|name| {
            if invalid {
                return (name, serde_json::json!({"mock_invalid": true}));
            }
            let input = serde_json::from_str::<Value>(&answer)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| Value::Object(Map::new()));
            (name, input)
        });
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = match protocol {
            Protocol::OpenAi => format!("chatcmpl-mock-{n}"),
            Protocol::Anthropic => format!("msg_mock_{n}"),
            Protocol::Responses => format!("resp_mock_{n}"),
        };
        let completion = Completion {
            id,
            model,
            answer: &answer,
            chunks: chunks(&answer, behaviour.stream_chunks),
            usage,
            tool_call: behaviour.tool_call.as_ref().or(forced_call.as_ref()),
            choices: request
                .get("n")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 16),
        };

        if protocol == Protocol::Responses && request.get("store") != Some(&Value::Bool(false)) {
            let done = responses::response_object(&completion, &request, true);
            self.stored.keep(&done, &request);
        }
        if request.get("stream").and_then(Value::as_bool) != Some(true) {
            let body = match protocol {
                Protocol::OpenAi => openai::plain_body(&completion),
                Protocol::Anthropic => anthropic::plain_body(&completion),
                Protocol::Responses => responses::response_object(&completion, &request, true),
            };
            return full(200, "application/json", body.to_string().into_bytes());
        }
        let events = match protocol {
            Protocol::OpenAi => {
                let include_usage = request
                    .get("stream_options")
                    .and_then(|o| o.get("include_usage"))
                    .and_then(Value::as_bool);
                openai::stream_events(&completion, include_usage == Some(true))
            }
            Protocol::Anthropic => anthropic::stream_events(&completion),
            Protocol::Responses => responses::stream_events(&completion, &request),
        };
        let headers = vec![
            ("content-type".to_string(), "text/event-stream".to_string()),
            ("cache-control".to_string(), "no-cache".to_string()),
        ];
        let mut events = events;
        if let Some(n) = behaviour.end_after_events {
            // A clean end (last chunk, no reset) before the stream's final events.
            events.events.truncate(n);
        }
        Reply::Stream {
            status: 200,
            headers,
            pieces: pace(events, behaviour.ttft_ms, behaviour.chunk_delay_ms),
        }
    }
}

/// An embeddings answer (see `embeddings.rs`); a bad request gets a 400.
fn embed(body: &[u8], behaviour: &Behaviour) -> Reply {
    let answer = match serde_json::from_slice(body) {
        Ok(Value::Object(request)) => crate::embeddings::body(&request, behaviour.omit_usage),
        Ok(_) => Err("request body must be a JSON object".to_string()),
        Err(err) => Err(format!("request body is not valid JSON: {err}")),
    };
    match answer {
        Ok(text) => full(200, "application/json", text.into_bytes()),
        Err(message) => error_reply(Protocol::OpenAi, 400, &message),
    }
}

impl MockProvider {
    /// A Responses request needs `input` (a string or an array) unless it continues a
    /// stored response, which must exist (OpenAI's 404 otherwise).
    fn check_responses_request(&self, request: &Map<String, Value>) -> Result<(), Reply> {
        let previous = request.get("previous_response_id").and_then(Value::as_str);
        if let Some(id) = previous.filter(|id| !self.stored.has(id)) {
            let body = serde_json::json!({"error": {
                "message": format!("Previous response with id '{id}' not found."),
                "type": "invalid_request_error", "param": "previous_response_id",
                "code": "previous_response_not_found"}});
            return Err(full(404, "application/json", body.to_string().into_bytes()));
        }
        match request.get("input") {
            Some(Value::String(_)) | Some(Value::Array(_)) => Ok(()),
            None if previous.is_some() => Ok(()),
            _ => Err(error_reply(
                Protocol::Responses,
                400,
                "input: field required (a string or an array of input items)",
            )),
        }
    }
}

/// The tool a request forces (Anthropic `{"type":"tool","name"}`, OpenAI
/// `{"type":"function","function":{"name"}}`), if any.
fn forced_tool(request: &Map<String, Value>) -> Option<String> {
    let choice = request.get("tool_choice")?;
    let name = match choice.get("type").and_then(Value::as_str)? {
        "tool" => choice.get("name"),
        "function" => choice.pointer("/function/name"),
        _ => None,
    };
    name.and_then(Value::as_str).map(str::to_string)
}

/// The request headers that choose this instance's behaviour: all of them, unless
/// `x-mock-for` names other instances, in which case none of the `x-mock-*` headers
/// apply here (so a test can make one provider of a chain misbehave).
fn behaviour_headers(headers: &[(String, String)], name: &str) -> Vec<(String, String)> {
    match crate::http::header(headers, "x-mock-for") {
        Some(names) if !names.split(',').any(|n| n.trim() == name) => headers
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("x-mock-"))
            .cloned()
            .collect(),
        _ => headers.to_vec(),
    }
}

fn full(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    Reply::Full {
        status,
        headers: vec![("content-type".to_string(), content_type.to_string())],
        body,
    }
}

fn error_reply(protocol: Protocol, status: u16, message: &str) -> Reply {
    let mut reply = full(
        status,
        "application/json",
        protocol
            .error_body(status, message)
            .to_string()
            .into_bytes(),
    );
    if let (429, Reply::Full { headers, .. }) = (status, &mut reply) {
        headers.push(("retry-after".to_string(), "1".to_string()));
    }
    reply
}

/// Applies an `x-mock-status` below 400 to a successful answer.
fn with_status(reply: Reply, status: Option<u16>) -> Reply {
    match (reply, status) {
        (
            Reply::Full {
                status: 200,
                headers,
                body,
            },
            Some(s),
        ) => Reply::Full {
            status: s,
            headers,
            body,
        },
        (
            Reply::Stream {
                status: 200,
                headers,
                pieces,
            },
            Some(s),
        ) => Reply::Stream {
            status: s,
            headers,
            pieces,
        },
        (reply, _) => reply,
    }
}

/// The answer to bytes that are not HTTP/1.x.
pub fn malformed_http(message: &str) -> Reply {
    error_reply(
        Protocol::OpenAi,
        400,
        &format!("malformed HTTP request: {message}"),
    )
}

/// The answer of `x-mock-invalid-json`: prose around a JSON fragment, as a model that
/// ignored the format answers.
pub const INVALID_JSON_ANSWER: &str = "Sure! Here is the JSON: {\"answer\": ";

/// Whether an assistant turn of the conversation is the mock's own invalid answer (the
/// text, or the forced tool's input as the gateway shows it back).
fn holds_invalid_answer(chat: &Map<String, Value>) -> bool {
    let Some(messages) = chat.get("messages").and_then(Value::as_array) else {
        return false;
    };
    let invalid = |text: &str| {
        let text = text.trim();
        text == INVALID_JSON_ANSWER.trim()
            || serde_json::from_str::<Value>(text)
                .is_ok_and(|v| v == serde_json::json!({"mock_invalid": true}))
    };
    messages
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .any(|m| match m.get("content") {
            Some(Value::String(s)) => invalid(s),
            Some(Value::Array(blocks)) => blocks
                .iter()
                .any(|b| b.get("text").and_then(Value::as_str).is_some_and(invalid)),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(path: &str, headers: &[(&str, &str)], body: Value) -> Request {
        Request {
            method: "POST".into(),
            target: path.into(),
            http10: false,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_string().into_bytes(),
        }
    }

    fn json_of(reply: &Reply) -> (u16, Value) {
        match reply {
            Reply::Full { status, body, .. } => (*status, serde_json::from_slice(body).unwrap()),
            other => panic!("not a full reply: {other:?}"),
        }
    }

    fn chat(content: &str) -> Value {
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})
    }

    #[test]
    fn openai_usage_uses_the_gateway_tokenizer() {
        let provider = MockProvider::new();
        let body = chat("hello world");
        let (status, answer) = json_of(
            &provider
                .handle(&post("/v1/chat/completions", &[], body.clone()))
                .0,
        );
        assert_eq!(status, 200);
        assert_eq!(answer["id"], "chatcmpl-mock-1");
        assert_eq!(answer["model"], "gpt-4o");
        assert_eq!(answer["choices"][0]["message"]["content"], "hello world");
        let expected_input = count_openai_chat("gpt-4o", body.as_object().unwrap());
        assert_eq!(answer["usage"]["prompt_tokens"], expected_input);
        assert_eq!(answer["usage"]["completion_tokens"], 2);
        assert_eq!(answer["usage"]["total_tokens"], expected_input + 2);
    }

    #[test]
    fn embeddings_are_answered_logged_and_refused_in_openais_envelope() {
        let provider = MockProvider::new();
        let body =
            json!({"model": "text-embedding-3-small", "input": ["hello world"], "dimensions": 4});
        let (status, answer) = json_of(&provider.handle(&post("/v1/embeddings", &[], body)).0);
        assert_eq!(status, 200);
        assert_eq!(answer["data"][0]["embedding"].as_array().unwrap().len(), 4);
        assert_eq!(answer["usage"]["prompt_tokens"], 2);
        let omit = [("x-mock-omit-usage", "true")];
        let body = json!({"model": "m", "input": "x"});
        let (_, answer) = json_of(&provider.handle(&post("/v1/embeddings", &omit, body)).0);
        assert!(answer.get("usage").is_none());
        let (status, error) = json_of(
            &provider
                .handle(&post("/v1/embeddings", &[], json!({"model": "m"})))
                .0,
        );
        assert_eq!(
            (status, error["error"]["type"].as_str()),
            (400, Some("invalid_request_error"))
        );
        let logged: Value = serde_json::from_slice(&provider.log.to_json()).unwrap();
        assert_eq!(logged.as_array().map(Vec::len), Some(3));
        assert_eq!(logged[0]["path"], "/v1/embeddings");
    }

    #[test]
    fn anthropic_usage_and_output_tokens_header() {
        let provider = MockProvider::new();
        let body = json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let request = post(
            "/v1/messages",
            &[("x-mock-output-tokens", "50")],
            body.clone(),
        );
        let (_, answer) = json_of(&provider.handle(&request).0);
        assert_eq!(answer["id"], "msg_mock_1");
        assert_eq!(
            answer["usage"]["input_tokens"],
            count_anthropic_messages(body.as_object().unwrap())
        );
        assert_eq!(answer["usage"]["output_tokens"], 50);
    }

    #[test]
    fn invalid_json_once_answers_invalid_until_the_retry_shows_it_back() {
        let provider = MockProvider::new();
        let content = r#"{"answer":"ok"}"#;
        let once = [("x-mock-invalid-json", "once"), ("x-mock-content", content)];
        let ask = |headers: &[(&str, &str)], body: Value| {
            let (_, answer) = json_of(
                &provider
                    .handle(&post("/v1/chat/completions", headers, body))
                    .0,
            );
            answer["choices"][0]["message"]["content"].clone()
        };
        assert_eq!(ask(&once, chat("q")), INVALID_JSON_ANSWER);
        let retry = json!({"model": "gpt-4o", "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": INVALID_JSON_ANSWER},
            {"role": "user", "content": "fix it"}]});
        assert_eq!(ask(&once, retry.clone()), content);
        let always = [
            ("x-mock-invalid-json", "always"),
            ("x-mock-content", content),
        ];
        assert_eq!(ask(&always, retry), INVALID_JSON_ANSWER);
        // A forced tool (a translated json_schema) gets an input that fits no schema.
        let body = json!({"model": "claude-x", "max_tokens": 10,
            "tools": [{"name": "out", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "out"},
            "messages": [{"role": "user", "content": "q"}]});
        let (_, answer) = json_of(&provider.handle(&post("/v1/messages", &once, body)).0);
        assert_eq!(answer["content"][0]["input"], json!({"mock_invalid": true}));
        let bad = [("x-mock-invalid-json", "sometimes")];
        let (status, _) = json_of(
            &provider
                .handle(&post("/v1/chat/completions", &bad, chat("q")))
                .0,
        );
        assert_eq!(status, 400);
    }

    #[test]
    fn tool_call_headers_answer_tool_calls_in_both_formats() {
        let provider = MockProvider::new();
        let headers = [
            ("x-mock-tool-call", "get_weather"),
            ("x-mock-tool-args", r#"{"city":"Paris"}"#),
        ];
        let (_, answer) = json_of(
            &provider
                .handle(&post("/v1/chat/completions", &headers, chat("weather?")))
                .0,
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(answer["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(
            answer["choices"][0]["message"]["tool_calls"][0]["function"],
            json!({"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"})
        );
        // Usage is the text answer's, as for Anthropic tool calls.
        let (_, text) = json_of(
            &provider
                .handle(&post("/v1/chat/completions", &[], chat("weather?")))
                .0,
        );
        assert_eq!(answer["usage"], text["usage"]);
        let messages = json!({"model": "claude-x", "max_tokens": 10,
            "messages": [{"role": "user", "content": "weather?"}]});
        let (_, answer) = json_of(&provider.handle(&post("/v1/messages", &headers, messages)).0);
        assert_eq!(answer["stop_reason"], "tool_use");
        assert_eq!(answer["content"][0]["input"], json!({"city": "Paris"}));

        let mut streamed = chat("weather?");
        streamed["stream"] = json!(true);
        let reply = provider
            .handle(&post("/v1/chat/completions", &headers, streamed))
            .0;
        let Reply::Stream { pieces, .. } = reply else {
            panic!("{reply:?}")
        };
        let body: String = pieces
            .iter()
            .map(|p| String::from_utf8(p.bytes.clone()).unwrap())
            .collect();
        let arguments: String = body
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| {
                let v: Value = serde_json::from_str(d).unwrap();
                v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(arguments, r#"{"city":"Paris"}"#);
        assert!(body.contains(r#""finish_reason":"tool_calls""#));
    }

    #[test]
    fn errors_use_the_protocol_envelope() {
        let provider = MockProvider::new();
        let (status, body) = json_of(
            &provider
                .handle(&post("/v1/messages", &[], json!({"model": "m"})))
                .0,
        );
        assert_eq!(
            (
                status,
                body["type"].as_str(),
                body["error"]["type"].as_str()
            ),
            (400, Some("error"), Some("invalid_request_error"))
        );
        let mut bad = post("/v1/chat/completions", &[], json!(null));
        bad.body = b"{not json".to_vec();
        let (status, body) = json_of(&provider.handle(&bad).0);
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (400, Some("invalid_request_error"))
        );
        let (status, body) = json_of(&provider.handle(&post("/v1/models", &[], json!({}))).0);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found"))
        );
        let (status, body) = json_of(
            &provider
                .handle(&post(
                    "/v1/messages",
                    &[("x-mock-status", "529")],
                    chat("x"),
                ))
                .0,
        );
        assert_eq!(
            (status, body["error"]["type"].as_str()),
            (529, Some("overloaded_error"))
        );
        let (status, body) = json_of(
            &provider
                .handle(&post(
                    "/v1/messages",
                    &[("x-mock-latency-ms", "soon")],
                    chat("x"),
                ))
                .0,
        );
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-mock-latency-ms"));
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let provider = MockProvider::new();
        let (reply, _) = provider.handle(&post(
            "/v1/chat/completions",
            &[("x-mock-status", "429")],
            chat("x"),
        ));
        let Reply::Full {
            status: 429,
            headers,
            ..
        } = reply
        else {
            panic!()
        };
        assert!(headers.contains(&("retry-after".to_string(), "1".to_string())));
    }

    #[test]
    fn raw_body_drop_and_status_override() {
        let provider = MockProvider::new();
        let headers = [
            ("x-mock-raw-body", "<html>oops</html>"),
            ("x-mock-content-type", "text/html"),
            ("x-mock-status", "502"),
        ];
        let (reply, _) = provider.handle(&post("/v1/chat/completions", &headers, chat("x")));
        let Reply::Full {
            status: 502,
            headers,
            body,
        } = reply
        else {
            panic!()
        };
        assert_eq!(body, b"<html>oops</html>");
        assert_eq!(
            headers,
            [
                ("content-type".to_string(), "text/html".to_string()),
                ("x-mock-name".to_string(), "mock".to_string())
            ]
        );
        let (reply, delivery) = provider.handle(&post(
            "/v1/messages",
            &[
                ("x-mock-drop-connection", "true"),
                ("x-mock-latency-ms", "5"),
            ],
            chat("x"),
        ));
        assert!(matches!(reply, Reply::Drop));
        assert_eq!(delivery.latency_ms, 5);
        let (reply, _) = provider.handle(&post(
            "/v1/chat/completions",
            &[("x-mock-status", "201")],
            chat("x"),
        ));
        assert!(matches!(reply, Reply::Full { status: 201, .. }));
    }

    #[test]
    fn streams_are_paced_and_chunked_as_asked() {
        let provider = MockProvider::new();
        let mut body = chat("abcdef");
        body["stream"] = json!(true);
        let headers = [
            ("x-mock-stream-chunks", "3"),
            ("x-mock-ttft-ms", "50"),
            ("x-mock-chunk-delay-ms", "2"),
        ];
        let (reply, _) = provider.handle(&post("/v1/chat/completions", &headers, body));
        let Reply::Stream {
            status: 200,
            headers,
            pieces,
        } = reply
        else {
            panic!()
        };
        assert!(headers.contains(&("content-type".to_string(), "text/event-stream".to_string())));
        // role, 3 content chunks, finish, [DONE]
        assert_eq!(pieces.len(), 6);
        let delays: Vec<u64> = pieces.iter().map(|p| p.delay_ms).collect();
        assert_eq!(delays, [0, 52, 2, 2, 2, 2]);
    }

    #[test]
    fn log_records_completions_but_not_control_requests() {
        let provider = MockProvider::new();
        provider.handle(&post(
            "/v1/chat/completions",
            &[("x-mock-drop-connection", "1")],
            chat("secret"),
        ));
        let get = Request {
            method: "GET".into(),
            target: "/__mock/requests".into(),
            http10: false,
            headers: vec![],
            body: vec![],
        };
        let (status, list) = json_of(&provider.handle(&get).0);
        assert_eq!(status, 200);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["headers"]["x-mock-drop-connection"], "1");
        assert!(list[0]["body"].as_str().unwrap().contains("secret"));
        let delete = Request {
            method: "DELETE".into(),
            ..get
        };
        provider.handle(&delete);
        let get = Request {
            method: "GET".into(),
            target: "/__mock/requests".into(),
            http10: false,
            headers: vec![],
            body: vec![],
        };
        assert_eq!(json_of(&provider.handle(&get).0).1, json!([]));
    }

    fn control(provider: &MockProvider, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = Request {
            method: method.into(),
            target: path.into(),
            http10: false,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        json_of(&provider.handle(&request).0)
    }

    fn faulty(rate: f64) -> MockProvider {
        MockProvider::with_faults(FaultConfig {
            name: "openai".into(),
            failure_rate: rate,
            seed: 9,
            ..FaultConfig::default()
        })
    }

    #[test]
    fn failure_rate_answers_failure_status_in_the_protocol_envelope() {
        let provider = faulty(1.0);
        let (reply, delivery) = provider.handle(&post("/v1/messages", &[], chat("x")));
        assert_eq!(delivery, Delivery::default());
        let Reply::Full {
            status: 503,
            ref headers,
            ..
        } = reply
        else {
            panic!("{reply:?}")
        };
        assert!(headers.contains(&("x-mock-name".to_string(), "openai".to_string())));
        let (_, body) = json_of(&reply);
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failure_rate 1"));
        // Outcome headers win over the failure rate.
        let ok = post(
            "/v1/chat/completions",
            &[("x-mock-status", "200")],
            chat("x"),
        );
        assert_eq!(json_of(&provider.handle(&ok).0).0, 200);
        let stats = control(&provider, "GET", "/__mock/stats", "").1;
        assert_eq!(stats["requests"], 2);
        assert_eq!(stats["failures_injected"], 1);
        assert_eq!(stats["name"], "openai");
    }

    #[test]
    fn injected_429_carries_retry_after() {
        let provider = faulty(1.0);
        control(
            &provider,
            "POST",
            "/__mock/config",
            r#"{"failure_status":429}"#,
        );
        let (reply, _) = provider.handle(&post("/v1/chat/completions", &[], chat("x")));
        let Reply::Full {
            status: 429,
            headers,
            ..
        } = reply
        else {
            panic!()
        };
        assert!(headers.contains(&("retry-after".to_string(), "1".to_string())));
    }

    #[test]
    fn ttft_default_delays_the_first_byte_unless_headers_time_it() {
        let provider = faulty(0.0);
        control(&provider, "POST", "/__mock/config", r#"{"ttft_ms":40}"#);
        let (_, delivery) = provider.handle(&post("/v1/chat/completions", &[], chat("x")));
        assert_eq!(delivery.latency_ms, 40);
        let timed = [("x-mock-latency-ms", "5")];
        let (_, delivery) = provider.handle(&post("/v1/chat/completions", &timed, chat("x")));
        assert_eq!(delivery.latency_ms, 5);
        let streaming_ttft = [("x-mock-ttft-ms", "7")];
        let (_, delivery) =
            provider.handle(&post("/v1/chat/completions", &streaming_ttft, chat("x")));
        assert_eq!(delivery.latency_ms, 0);
        // Control requests are never slowed.
        let get = Request {
            method: "GET".into(),
            target: "/__mock/health".into(),
            http10: false,
            headers: vec![],
            body: vec![],
        };
        assert_eq!(provider.handle(&get).1.latency_ms, 0);
    }

    #[test]
    fn down_and_up_switch_every_request() {
        let provider = faulty(0.0);
        let (status, stats) = control(&provider, "POST", "/__mock/down", "");
        assert_eq!((status, stats["down"].as_bool()), (200, Some(true)));
        let pinned = [("x-mock-status", "200")];
        let (status, body) = json_of(
            &provider
                .handle(&post("/v1/chat/completions", &pinned, chat("x")))
                .0,
        );
        assert_eq!(status, 503);
        assert_eq!(body["error"]["message"], "mock provider openai is down");
        control(
            &provider,
            "POST",
            "/__mock/config",
            r#"{"down_mode":"reset"}"#,
        );
        assert!(matches!(
            provider.handle(&post("/v1/messages", &[], chat("x"))).0,
            Reply::Drop
        ));
        control(&provider, "POST", "/__mock/up", "");
        assert_eq!(
            json_of(&provider.handle(&post("/v1/messages", &[], chat("x"))).0).0,
            200
        );
        let stats = control(&provider, "GET", "/__mock/stats", "").1;
        assert_eq!(stats["failed_while_down"], 2);
        // Down requests are still logged, with the instance name.
        let log = control(&provider, "GET", "/__mock/requests", "").1;
        assert_eq!(log.as_array().unwrap().len(), 3);
        assert_eq!(log[0]["name"], "openai");
    }

    #[test]
    fn config_endpoint_reports_and_rejects() {
        let provider = faulty(0.25);
        let (status, config) = control(&provider, "GET", "/__mock/config", "");
        assert_eq!((status, config["failure_rate"].as_f64()), (200, Some(0.25)));
        assert_eq!(config["down_mode"], "status");
        let (status, body) = control(&provider, "POST", "/__mock/config", r#"{"ttft_ms":-1}"#);
        assert_eq!(status, 400);
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("config body"));
        let (status, _) = control(&provider, "DELETE", "/__mock/stats", "");
        assert_eq!(status, 200);
    }

    #[test]
    fn x_mock_for_scopes_behaviour_headers_to_named_instances() {
        let headers = vec![
            ("x-mock-for".to_string(), "primary, local".to_string()),
            ("x-mock-status".to_string(), "500".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        assert_eq!(behaviour_headers(&headers, "primary"), headers);
        assert_eq!(behaviour_headers(&headers, "local"), headers);
        assert_eq!(
            behaviour_headers(&headers, "secondary"),
            vec![("content-type".to_string(), "application/json".to_string())]
        );
        let unscoped = vec![("x-mock-status".to_string(), "500".to_string())];
        assert_eq!(behaviour_headers(&unscoped, "anyone"), unscoped);
    }

    #[test]
    fn end_after_events_ends_a_stream_cleanly_before_its_final_events() {
        let provider = MockProvider::new();
        let body = json!({"model": "gpt-4o", "stream": true,
                          "messages": [{"role": "user", "content": "one two three"}]});
        let request = post(
            "/v1/chat/completions",
            &[("x-mock-end-after-events", "2")],
            body,
        );
        match provider.handle(&request).0 {
            Reply::Stream { pieces, .. } => {
                assert_eq!(pieces.len(), 2);
                let all: Vec<u8> = pieces.into_iter().flat_map(|p| p.bytes).collect();
                assert!(!String::from_utf8(all).unwrap().contains("[DONE]"));
            }
            _ => panic!("expected a stream"),
        }
    }

    #[test]
    fn responses_are_answered_stored_and_continued() {
        let provider = MockProvider::new();
        let body = json!({"model": "gpt-4o", "instructions": "Be brief.",
                          "input": [{"role": "user", "content": [{"type": "input_text", "text": "Echo me"}]}]});
        let (status, answer) =
            json_of(&provider.handle(&post("/v1/responses", &[], body.clone())).0);
        assert_eq!(status, 200);
        assert_eq!(answer["object"], "response");
        assert_eq!(answer["output"][0]["content"][0]["text"], "Echo me");
        let view = openai_responses::chat_view(body.as_object().unwrap());
        assert_eq!(
            answer["usage"]["input_tokens"],
            count_openai_chat("gpt-4o", &view)
        );
        let id = answer["id"].as_str().unwrap().to_string();
        let get = Request {
            method: "GET".into(),
            ..post(&format!("/v1/responses/{id}"), &[], json!({}))
        };
        let (status, stored) = json_of(&provider.handle(&get).0);
        assert_eq!((status, &stored["id"]), (200, &answer["id"]));
        let next = json!({"model": "gpt-4o", "input": "again", "previous_response_id": id});
        let (status, _) = json_of(&provider.handle(&post("/v1/responses", &[], next)).0);
        assert_eq!(status, 200);
        let lost = json!({"model": "gpt-4o", "input": "x", "previous_response_id": "resp_nope"});
        let (status, error) = json_of(&provider.handle(&post("/v1/responses", &[], lost)).0);
        assert_eq!(status, 404);
        assert_eq!(error["error"]["param"], "previous_response_id");
        let (status, error) = json_of(
            &provider
                .handle(&post("/v1/responses", &[], json!({"model": "m"})))
                .0,
        );
        assert_eq!(status, 400);
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input"));
        let streamed = json!({"model": "gpt-4o", "input": "one two", "stream": true});
        match provider.handle(&post("/v1/responses", &[], streamed)).0 {
            Reply::Stream { pieces, .. } => {
                let text: Vec<u8> = pieces.into_iter().flat_map(|p| p.bytes).collect();
                let text = String::from_utf8(text).unwrap();
                assert!(text.starts_with("event: response.created\n"));
                assert!(text.contains("event: response.completed\n"));
            }
            other => panic!("expected a stream, got {other:?}"),
        }
    }
}
