use super::*;
use crate::config::Config;
use crate::route::plan::CLIENT_API_HEADER;

fn config() -> Config {
    let json = r#"{
        "role": "upstream",
        "route": {
            "default_provider": "local",
            "providers": [
                {"name": "openai", "format": "openai", "models": ["gpt-"], "api_key_env": "OPENAI_API_KEY"},
                {"name": "anthropic", "format": "anthropic", "models": ["claude-"], "api_key_env": "ANTHROPIC_API_KEY"},
                {"name": "local", "format": "openai"},
                {"name": "mock", "format": "both"}
            ],
            "fallback": {
                "providers": ["openai", "anthropic", "local"],
                "models": {"gpt-4o-mini": ["gpt-4o-mini-2024-07-18", "claude-haiku-4-5", "llama3.2"]}
            }
        }
    }"#;
    let env = |name: &str| match name {
        "OPENAI_API_KEY" => Some("sk-openai".to_string()),
        "ANTHROPIC_API_KEY" => Some("sk-ant".to_string()),
        _ => None,
    };
    Config::parse(json.as_bytes(), &env).expect("valid config")
}

const CHAT: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":50}"#;

fn header<'a>(plan: &'a AttemptPlan, name: &str) -> Option<&'a str> {
    plan.set_headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

fn body_json(plan: &AttemptPlan) -> Value {
    serde_json::from_slice(&plan.body).unwrap()
}

#[test]
fn openai_attempt_gets_the_providers_model_path_and_key() {
    let plan = plan_attempt(&config(), Api::OpenAiChat, "openai", CHAT.as_bytes()).unwrap();
    assert_eq!(plan.model, "gpt-4o-mini-2024-07-18");
    assert!(!plan.translated());
    assert_eq!(body_json(&plan)["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(body_json(&plan)["messages"][1]["content"], "hi");
    assert_eq!(header(&plan, ":path"), Some("/v1/chat/completions"));
    assert_eq!(header(&plan, "authorization"), Some("Bearer sk-openai"));
    assert!(plan.remove_headers.contains(&"x-api-key"));
    assert!(plan.remove_headers.contains(&"anthropic-version"));
}

#[test]
fn anthropic_attempt_of_an_openai_request_is_translated() {
    let plan = plan_attempt(&config(), Api::OpenAiChat, "anthropic", CHAT.as_bytes()).unwrap();
    assert!(plan.translated());
    assert_eq!(plan.upstream_format, Api::AnthropicMessages);
    let body = body_json(&plan);
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(body["max_tokens"], 50);
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(header(&plan, ":path"), Some("/v1/messages"));
    assert_eq!(header(&plan, "x-api-key"), Some("sk-ant"));
    assert_eq!(header(&plan, "anthropic-version"), Some("2023-06-01"));
    assert!(plan.remove_headers.contains(&"authorization"));
}

#[test]
fn a_provider_without_key_gets_no_key_from_an_earlier_attempt() {
    let plan = plan_attempt(&config(), Api::OpenAiChat, "local", CHAT.as_bytes()).unwrap();
    assert_eq!(plan.model, "llama3.2");
    assert!(plan.remove_headers.contains(&"authorization"));
    assert!(plan.remove_headers.contains(&"x-api-key"));
    assert_eq!(header(&plan, "authorization"), None);
}

#[test]
fn mismatches_between_envoy_and_the_config_pass_through() {
    let c = config();
    assert_eq!(
        plan_attempt(&c, Api::OpenAiChat, "azure", CHAT.as_bytes()),
        Err(AttemptError::UnknownProvider("azure".into()))
    );
    // A provider of route.providers that is not in the chain.
    assert_eq!(
        plan_attempt(&c, Api::OpenAiChat, "mock", CHAT.as_bytes()),
        Err(AttemptError::UnknownProvider("mock".into()))
    );
    let other = CHAT.replace("gpt-4o-mini", "gpt-4.1");
    assert_eq!(
        plan_attempt(&c, Api::OpenAiChat, "openai", other.as_bytes()),
        Err(AttemptError::UnknownModel("gpt-4.1".into()))
    );
}

#[test]
fn bad_bodies_are_user_errors() {
    let c = config();
    assert!(matches!(
        plan_attempt(&c, Api::OpenAiChat, "openai", b"{not json"),
        Err(AttemptError::User(_))
    ));
    // Something Anthropic cannot honour skips the Anthropic attempt, naming the field
    // (the client reads it only if no provider can serve the request).
    let n3 = CHAT.replace("\"max_tokens\":50", "\"max_tokens\":50,\"n\":3");
    match plan_attempt(&c, Api::OpenAiChat, "anthropic", n3.as_bytes()) {
        Err(AttemptError::Skip(e)) => assert!(e.message().contains("`n`"), "{}", e.message()),
        other => panic!("expected a skip, got {other:?}"),
    }
    // Embeddings never reach the chain; an attempt that got one refuses an Anthropic
    // provider instead of sending it a body it has no API for.
    let embed = br#"{"model":"gpt-4o-mini","input":"hi"}"#;
    match plan_attempt(&c, Api::OpenAiEmbeddings, "anthropic", embed) {
        Err(AttemptError::User(e)) => assert!(
            e.message()
                .contains("cannot serve openai_embeddings requests"),
            "{}",
            e.message()
        ),
        other => panic!("expected a user error, got {other:?}"),
    }
    // The OpenAI-format hops serve it.
    assert!(plan_attempt(&c, Api::OpenAiChat, "local", n3.as_bytes()).is_ok());
}

#[test]
fn a_provider_skips_what_it_declares_it_cannot_serve() {
    let json = r#"{"role": "upstream", "route": {"default_provider": "local", "providers": [
        {"name": "openai", "format": "openai"},
        {"name": "local", "format": "openai", "unsupported": ["images", "tools"]}],
        "fallback": {"providers": ["openai", "local"], "models": {"m": ["gpt-4o", "llama3.2"]}}}}"#;
    let c = Config::parse(json.as_bytes(), &|_| None).unwrap();
    let image = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#;
    match plan_attempt(&c, Api::OpenAiChat, "local", image.as_bytes()) {
        Err(AttemptError::Skip(e)) => assert_eq!(
            e.message(),
            "`messages` (images) is not supported by provider local"
        ),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(plan_attempt(&c, Api::OpenAiChat, "openai", image.as_bytes()).is_ok());
    let bad = json.replace("\"tools\"]", "\"vision\"]");
    assert_eq!(
        Config::parse(bad.as_bytes(), &|_| None).err().map(|e| e.0),
        Some("route.providers[1].unsupported[1] must be one of structured_output, n, logprobs, images, tools (got \"vision\")".into())
    );
}

#[test]
fn structured_output_rides_on_a_forced_tool_for_the_claude_attempt() {
    let c = config();
    let schema = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"Answer","schema":{"type":"object"}}}}"#;
    let plan = plan_attempt(&c, Api::OpenAiChat, "anthropic", schema.as_bytes()).unwrap();
    assert_eq!(plan.structured_tool.as_deref(), Some("Answer"));
    assert_eq!(body_json(&plan)["tool_choice"]["name"], "Answer");
    assert_eq!(header(&plan, ":method"), Some("POST"));
    let same = plan_attempt(&c, Api::OpenAiChat, "openai", schema.as_bytes()).unwrap();
    assert_eq!(same.structured_tool, None);
    assert_eq!(body_json(&same)["response_format"]["type"], "json_schema");
}

#[test]
fn client_api_header_values() {
    assert_eq!(client_api("openai_chat"), Some(Api::OpenAiChat));
    assert_eq!(
        client_api("anthropic_messages"),
        Some(Api::AnthropicMessages)
    );
    assert_eq!(client_api("other"), None);
}

fn plan_for(provider: &str, stream: bool) -> AttemptPlan {
    let body = CHAT.replace(
        "\"max_tokens\":50",
        &format!("\"max_tokens\":50,\"stream\":{stream}"),
    );
    plan_attempt(&config(), Api::OpenAiChat, provider, body.as_bytes()).unwrap()
}

#[test]
fn what_is_held_back() {
    let direct = plan_for("openai", true);
    let translated = plan_for("anthropic", true);
    let sse = Some("text/event-stream");
    let json = Some("application/json");
    let hold = |p: &AttemptPlan, status, ct| AttemptAnswer::new(p, status, ct, 0).hold;
    assert_eq!(hold(&direct, 200, sse), Hold::FirstToken);
    assert_eq!(hold(&direct, 200, json), Hold::None);
    assert_eq!(hold(&direct, 503, json), Hold::None);
    assert_eq!(hold(&translated, 200, sse), Hold::FirstToken);
    assert_eq!(hold(&translated, 200, json), Hold::WholeBody);
    assert_eq!(hold(&translated, 429, json), Hold::WholeBody);
    assert!(AttemptAnswer::new(&translated, 200, sse, 0).rewrites_body());
    assert!(!AttemptAnswer::new(&direct, 200, sse, 0).rewrites_body());
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    ": keep-alive\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

/// Byte offset just past the first event that carries `marker`.
fn end_of_event_with(stream: &str, marker: &str) -> usize {
    let at = stream.find(marker).unwrap();
    at + stream[at..].find("\n\n").unwrap() + 2
}

#[test]
fn the_gate_opens_exactly_when_the_first_token_event_is_complete() {
    for (format, stream, marker) in [
        (Api::OpenAiChat, OPENAI_STREAM, "\"Hel\""),
        (Api::AnthropicMessages, ANTHROPIC_STREAM, "\"Hel\""),
    ] {
        let opens_at = end_of_event_with(stream, marker);
        for split in 0..stream.len() {
            let mut gate = FirstTokenGate::new(format);
            let (a, b) = stream.as_bytes().split_at(split);
            let after_a = gate.feed(a);
            assert_eq!(after_a, split >= opens_at, "{format:?} split at {split}");
            assert!(gate.feed(b), "{format:?} split at {split}");
        }
    }
}

#[test]
fn the_gate_opens_on_errors_and_tool_calls_too() {
    let mut gate = FirstTokenGate::new(Api::OpenAiChat);
    assert!(gate.feed(b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n"));
    let mut gate = FirstTokenGate::new(Api::AnthropicMessages);
    assert!(gate.feed(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n"));
    let mut gate = FirstTokenGate::new(Api::OpenAiChat);
    assert!(gate.feed(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"));
    let mut gate = FirstTokenGate::new(Api::AnthropicMessages);
    assert!(gate.feed(b"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n"));
    // Keep-alive comments alone never open it, but a flood of them eventually does.
    let mut gate = FirstTokenGate::new(Api::OpenAiChat);
    assert!(!gate.feed(b": ping\n\n"));
    let flood = b": ping\n\n".repeat(MAX_HELD_BYTES / 8 + 1);
    assert!(gate.feed(&flood));
}

#[test]
fn a_translated_stream_reaches_the_client_as_openai_chunks_naming_the_served_model() {
    let plan = plan_for("anthropic", true);
    let mut answer =
        AttemptAnswer::new(&plan, 200, Some("text/event-stream"), 1_700_000_000_000_000);
    let out = answer
        .stream_chunk(ANTHROPIC_STREAM.as_bytes(), true)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"model\":\"claude-haiku-4-5\""), "{text}");
    assert!(text.contains("\"content\":\"Hel\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(!text.contains("error"), "{text}");

    // Cut before message_stop: the client gets an explicit error event, then [DONE].
    let cut = &ANTHROPIC_STREAM[..end_of_event_with(ANTHROPIC_STREAM, "\"Hel\"")];
    let mut answer = AttemptAnswer::new(&plan, 200, Some("text/event-stream"), 0);
    let out = String::from_utf8(answer.stream_chunk(cut.as_bytes(), true).unwrap()).unwrap();
    assert!(out.contains("\"code\":\"stream_truncated\""), "{out}");
    assert!(out.ends_with("data: [DONE]\n\n"), "{out}");

    // Direct streams are not rewritten here.
    let direct = plan_for("openai", true);
    let mut answer = AttemptAnswer::new(&direct, 200, Some("text/event-stream"), 0);
    assert_eq!(answer.stream_chunk(OPENAI_STREAM.as_bytes(), true), None);
}

#[test]
fn translated_errors_and_answers_use_the_clients_envelope() {
    let plan = plan_for("anthropic", false);
    let answer = AttemptAnswer::new(&plan, 429, Some("application/json"), 0);
    let err: Value = serde_json::from_slice(&answer.whole_body(
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        0,
    ))
    .unwrap();
    assert_eq!(err["error"]["message"], "slow down");
    let answer = AttemptAnswer::new(&plan, 200, Some("application/json"), 0);
    let ok: Value = serde_json::from_slice(&answer.whole_body(
        br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#,
        0,
    ))
    .unwrap();
    assert_eq!(ok["model"], "claude-haiku-4-5");
    assert_eq!(ok["choices"][0]["message"]["content"], "hi");
    assert_eq!(ok["usage"]["prompt_tokens"], 3);
}

#[test]
fn a_held_buffer_is_read_once_however_often_it_grows() {
    let plan = plan_for("openai", true);
    let mut answer = AttemptAnswer::new(&plan, 200, Some("text/event-stream"), 0);
    let opens_at = end_of_event_with(OPENAI_STREAM, "\"Hel\"");
    // The host hands over the whole held buffer each time, one byte longer.
    for n in 0..OPENAI_STREAM.len() {
        let seen = answer.first_token_in(&OPENAI_STREAM.as_bytes()[..=n]);
        assert_eq!(seen, n + 1 >= opens_at, "after {} bytes", n + 1);
    }
}

const MESSAGES: &str = r#"{"model":"gpt-4o-mini","system":"Be brief.","max_tokens":30,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn an_anthropic_client_is_served_by_every_provider_of_the_chain() {
    let c = config();
    let openai = plan_attempt(&c, Api::AnthropicMessages, "openai", MESSAGES.as_bytes()).unwrap();
    assert_eq!(openai.translation(), Some(Direction::AnthropicToOpenAi));
    let body = body_json(&openai);
    assert_eq!(body["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(
        body["messages"][0],
        serde_json::json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(header(&openai, ":path"), Some("/v1/chat/completions"));
    assert_eq!(header(&openai, "authorization"), Some("Bearer sk-openai"));

    let claude =
        plan_attempt(&c, Api::AnthropicMessages, "anthropic", MESSAGES.as_bytes()).unwrap();
    assert!(!claude.translated());
    assert_eq!(body_json(&claude)["model"], "claude-haiku-4-5");
    assert_eq!(body_json(&claude)["system"], "Be brief.");
    assert_eq!(header(&claude, ":path"), Some("/v1/messages"));

    // The OpenAI-format answer goes back as an Anthropic message.
    let answer = AttemptAnswer::new(&openai, 200, Some("application/json"), 0);
    let msg: Value = serde_json::from_slice(&answer.whole_body(
        br#"{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"hey"},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8}}"#,
        0,
    ))
    .unwrap();
    assert_eq!(
        (msg["type"].as_str(), msg["content"][0]["text"].as_str()),
        (Some("message"), Some("hey"))
    );
    assert_eq!(msg["stop_reason"], "end_turn");
}

const RESPONSES: &str =
    r#"{"model":"gpt-4o-mini","instructions":"Be brief.","input":"hi","max_output_tokens":30}"#;

#[test]
fn a_responses_client_is_served_by_every_provider_of_the_chain() {
    let c = config();
    let openai = plan_attempt(&c, Api::OpenAiResponses, "openai", RESPONSES.as_bytes()).unwrap();
    assert!(!openai.translated());
    assert_eq!(openai.upstream_format, Api::OpenAiResponses);
    assert_eq!(body_json(&openai)["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(body_json(&openai)["input"], "hi");
    assert_eq!(header(&openai, ":path"), Some("/v1/responses"));
    assert_eq!(header(&openai, "authorization"), Some("Bearer sk-openai"));

    let claude = plan_attempt(&c, Api::OpenAiResponses, "anthropic", RESPONSES.as_bytes()).unwrap();
    assert_eq!(claude.translation(), Some(Direction::ResponsesToAnthropic));
    let body = body_json(&claude);
    assert_eq!(
        (
            body["model"].as_str(),
            body["system"].as_str(),
            body["max_tokens"].as_u64()
        ),
        (Some("claude-haiku-4-5"), Some("Be brief."), Some(30))
    );
    assert_eq!(header(&claude, ":path"), Some("/v1/messages"));
    assert_eq!(header(&claude, "x-api-key"), Some("sk-ant"));

    // The Anthropic answer goes back as a Responses object; a stream opens its gate on
    // its first text.
    let answer = AttemptAnswer::new(&claude, 200, Some("application/json"), 0);
    let r: Value = serde_json::from_slice(&answer.whole_body(
        br#"{"id":"msg_9","content":[{"type":"text","text":"hey"}],"stop_reason":"end_turn","usage":{"input_tokens":7,"output_tokens":1}}"#,
        0,
    ))
    .unwrap();
    assert_eq!(
        (
            r["object"].as_str(),
            r["output"][0]["content"][0]["text"].as_str()
        ),
        (Some("response"), Some("hey"))
    );
    let mut gate = FirstTokenGate::new(Api::OpenAiResponses);
    let created = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"r\"}}\n\n";
    assert!(!gate.feed(created.as_bytes()));
    let delta = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"delta\":\"h\"}\n\n";
    assert!(gate.feed(delta.as_bytes()));
}

/// The attempt's view of Envoy: request and response headers, the endpoint's metadata.
struct Endpoint {
    request: Vec<(&'static str, String)>,
    response: Vec<(&'static str, String)>,
    provider: &'static str,
}

impl crate::effects::HostView for Endpoint {
    fn now_us(&self) -> u64 {
        1_700_000_000_000_000
    }
    fn request_header(&self, name: &str) -> Option<String> {
        let found = self.request.iter().find(|(k, _)| *k == name);
        found.map(|(_, v)| v.clone())
    }
    fn response_header(&self, name: &str) -> Option<String> {
        let found = self.response.iter().find(|(k, _)| *k == name);
        found.map(|(_, v)| v.clone())
    }
    fn property(&self, path: &[&str]) -> Option<String> {
        (path.last() == Some(&"provider")).then(|| self.provider.to_string())
    }
    fn counters(&self) -> &dyn crate::limits::CounterStore {
        unreachable!("an attempt keeps no counters")
    }
}

fn set(fx: &crate::effects::Effects, name: &str) -> Option<String> {
    let edit = fx.headers.iter().rev().find(|(k, _)| k == name);
    edit.and_then(|(_, v)| v.clone())
}

#[test]
fn the_upstream_filter_adapts_an_attempt_and_its_answer() {
    use crate::effects::{Filter, Flow};
    let mut host = Endpoint {
        request: vec![
            (":path", "/v1/chat/completions?trace=1".into()),
            (CLIENT_API_HEADER, "openai_chat".into()),
        ],
        response: vec![],
        provider: "anthropic",
    };
    let mut attempt = upstream::UpstreamAttempt::new(std::rc::Rc::new(config()));
    assert_eq!(attempt.on_request_headers(&host, false).flow, Flow::Pause);
    let fx = attempt.on_request_body(&host, CHAT.len(), true, &|| CHAT.as_bytes().to_vec());
    let sent: Value = serde_json::from_slice(fx.body.as_ref().unwrap()).unwrap();
    assert_eq!(sent["model"], "claude-haiku-4-5");
    assert_eq!(
        set(&fx, "content-length"),
        Some(fx.body.as_ref().unwrap().len().to_string())
    );
    assert_eq!(set(&fx, ":path").as_deref(), Some("/v1/messages?trace=1"));
    assert_eq!(set(&fx, "x-api-key").as_deref(), Some("sk-ant"));
    host.response = vec![
        (":status", "200".into()),
        ("content-type", "application/json".into()),
    ];
    let fx = attempt.on_response_headers(&host, false);
    assert_eq!(fx.flow, Flow::Pause, "a translated answer is held whole");
    assert_eq!(set(&fx, "x-llm-provider").as_deref(), Some("anthropic"));
    let answer = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
    let fx = attempt.on_response_body(&host, answer.len(), true, &|| answer.to_vec());
    let back: Value = serde_json::from_slice(fx.body.as_ref().unwrap()).unwrap();
    assert_eq!(back["choices"][0]["message"]["content"], "hello");
    assert_eq!(
        set(&fx, "content-length"),
        Some(fx.body.as_ref().unwrap().len().to_string())
    );
}

#[test]
fn the_upstream_filter_turns_a_skip_into_a_probe_and_its_answer_into_the_skip() {
    use crate::effects::Filter;
    let mut host = Endpoint {
        request: vec![
            (":path", "/v1/chat/completions".into()),
            (CLIENT_API_HEADER, "openai_chat".into()),
        ],
        response: vec![],
        provider: "anthropic",
    };
    let mut attempt = upstream::UpstreamAttempt::new(std::rc::Rc::new(config()));
    attempt.on_request_headers(&host, false);
    let n3 = CHAT.replace("\"max_tokens\":50", "\"max_tokens\":50,\"n\":3");
    let fx = attempt.on_request_body(&host, n3.len(), true, &|| n3.as_bytes().to_vec());
    assert_eq!(
        fx.body.as_deref(),
        Some(&b""[..]),
        "the probe costs no tokens"
    );
    assert_eq!(set(&fx, ":method").as_deref(), Some("GET"));
    assert_eq!(set(&fx, "x-api-key"), None, "no key goes with the probe");
    host.response = vec![(":status", "200".into())];
    let fx = attempt.on_response_headers(&host, false);
    assert_eq!(set(&fx, ":status").as_deref(), Some("400"));
    assert_eq!(set(&fx, SKIP_HEADER).as_deref(), Some("anthropic"));
    let fx = attempt.on_response_body(&host, 10, true, &|| b"{\"data\":[]}".to_vec());
    let why: Value = serde_json::from_slice(fx.body.as_ref().unwrap()).unwrap();
    assert!(why["error"]["message"].as_str().unwrap().contains("`n`"));
    // A request the downstream filter did not send to the chain passes untouched.
    let plain = Endpoint {
        request: vec![(":path", "/v1/chat/completions".into())],
        response: vec![],
        provider: "openai",
    };
    let mut other = upstream::UpstreamAttempt::new(std::rc::Rc::new(config()));
    assert_eq!(
        other.on_request_headers(&plain, false),
        crate::effects::Effects::go_on()
    );
}
