use super::*;
use crate::config::Config;
use crate::exchange::{plan_request, settle};
use crate::usage::meter::ResponseMeter;

fn config(json: &str) -> Config {
    let env = |k: &str| (k == "OPENAI_API_KEY").then(|| "sk-secret".to_string());
    Config::parse(json.as_bytes(), &env).unwrap()
}

const ROUTED: &str = r#"{"route":{"default_provider":"mock","providers":[
    {"name":"openai","format":"openai","models":["gpt-"],"api_key_env":"OPENAI_API_KEY"},
    {"name":"anthropic","format":"anthropic","models":["claude-"],"api_key_env":"ANTHROPIC_API_KEY"},
    {"name":"mock","format":"both"}]},"usage":{}}"#;

#[test]
fn openai_request_is_counted_and_routed_with_the_key() {
    let c = config(ROUTED);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    assert_eq!(plan.provider, "openai");
    assert_eq!(plan.input_tokens, Some(3 + 1 + 2 + 3));
    assert_eq!(plan.input_accuracy, Accuracy::Exact);
    assert!(plan
        .set_headers
        .contains(&("authorization", "Bearer sk-secret".to_string())));
    assert!(plan.new_body.is_none());
}

#[test]
fn models_of_a_provider_without_key_go_to_the_default() {
    let c = config(ROUTED);
    let body = br#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::AnthropicMessages, body).unwrap();
    assert_eq!(plan.provider, "mock");
    assert_eq!(
        plan.set_headers,
        vec![
            ("x-llm-provider", "mock".to_string()),
            ("accept-encoding", "identity".to_string())
        ]
    );
    assert_eq!(plan.input_accuracy, Accuracy::Estimate);
}

#[test]
fn streams_ask_for_usage_unless_the_client_did() {
    let c = config(r#"{"usage":{}}"#);
    let body = br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    assert!(plan.added_stream_usage);
    let v: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(v["stream_options"]["include_usage"], true);
    let asked = br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}"#;
    assert!(plan_request(&c, Api::OpenAiChat, asked)
        .unwrap()
        .new_body
        .is_none());
    let off = config(r#"{"usage":{"request_stream_usage":false}}"#);
    assert!(plan_request(&off, Api::OpenAiChat, body)
        .unwrap()
        .new_body
        .is_none());
}

#[test]
fn oversized_body_is_rejected() {
    let c = config(r#"{"api":{"max_body_bytes":10}}"#);
    let e = plan_request(&c, Api::OpenAiChat, br#"{"model":"gpt-4o","messages":[]}"#).unwrap_err();
    assert_eq!(e, UserError::BodyTooLarge { limit: 10 });
}

fn meter_stream(c: &Config, plan: &RequestPlan, stream: &[u8], split: usize) -> Facts {
    let mut m = ResponseMeter::new(plan.api, 200, Some("text/event-stream"), 1 << 20);
    m.feed(&stream[..split], 1);
    m.feed(&stream[split..], 2);
    let out = m.finish(3);
    settle(c, plan, &out, 200)
}

const OPENAI_STREAM: &str = concat!(
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}],\"usage\":null}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\" world\"}}],\"usage\":null}\n\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
    "data: [DONE]\n\n"
);

#[test]
fn stream_usage_is_read_at_every_split_point() {
    let c = config(r#"{"usage":{}}"#);
    let body =
        br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello world"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    for split in 0..=OPENAI_STREAM.len() {
        let f = meter_stream(&c, &plan, OPENAI_STREAM.as_bytes(), split);
        assert_eq!(
            (f.input_tokens, f.output_tokens, f.usage_source, f.error),
            (Some(9), Some(2), Some("provider"), None)
        );
        let expected = (9.0 * 2.5 + 2.0 * 10.0) / 1e6;
        assert!((f.cost_usd.unwrap() - expected).abs() < 1e-15);
    }
}

#[test]
fn stream_without_usage_is_counted_and_a_cut_is_reported() {
    let c = config(r#"{"usage":{}}"#);
    let body =
        br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello world"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    let no_usage: String = OPENAI_STREAM
        .lines()
        .filter(|l| !l.contains("prompt_tokens"))
        .map(|l| format!("{l}\n"))
        .collect();
    let f = meter_stream(&c, &plan, no_usage.as_bytes(), 10);
    assert_eq!(
        (f.input_tokens, f.output_tokens, f.usage_source),
        (Some(9), Some(2), Some("counted"))
    );
    let cut = &OPENAI_STREAM.as_bytes()[..OPENAI_STREAM.find(" world").unwrap()];
    let f = meter_stream(&c, &plan, cut, 5);
    assert_eq!((f.output_tokens, f.error), (Some(1), Some("stream_cut")));
}

#[test]
fn plain_json_response_and_non_json_response() {
    let c = config(r#"{"usage":{}}"#);
    let body = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    let mut m = ResponseMeter::new(Api::OpenAiChat, 200, Some("application/json"), 1 << 20);
    m.feed(br#"{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":8,"completion_tokens":1}}"#, 5);
    let f = settle(&c, &plan, &m.finish(5), 200);
    assert_eq!(
        (f.input_tokens, f.output_tokens, f.price_key.as_deref()),
        (Some(8), Some(1), Some("gpt-4o-mini"))
    );
    let mut m = ResponseMeter::new(Api::OpenAiChat, 502, Some("text/plain"), 1 << 20);
    m.feed(b"upstream connect error", 5);
    let f = settle(&c, &plan, &m.finish(5), 502);
    assert_eq!(
        (f.input_tokens, f.output_tokens, f.error),
        (Some(0), Some(0), Some("upstream_5xx")),
        "a failure without usage costs nothing"
    );
}

#[test]
fn anthropic_stream_usage() {
    let c = config(r#"{"usage":{}}"#);
    let body = br#"{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::AnthropicMessages, body).unwrap();
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi!\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
    );
    let f = meter_stream(&c, &plan, stream.as_bytes(), 77);
    assert_eq!(
        (f.input_tokens, f.output_tokens, f.error),
        (Some(12), Some(3), None)
    );
    assert!((f.cost_usd.unwrap() - (12.0 * 1.0 + 3.0 * 5.0) / 1e6).abs() < 1e-15);
}

#[test]
fn openai_request_for_an_anthropic_provider_is_translated() {
    let env = |k: &str| (k == "ANTHROPIC_API_KEY").then(|| "sk-ant".to_string());
    let c = Config::parse(ROUTED.as_bytes(), &env).unwrap();
    let body = br#"{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    assert!(plan.translated());
    assert_eq!(
        (plan.provider.as_str(), plan.upstream_format),
        ("anthropic", Api::AnthropicMessages)
    );
    assert!(plan
        .set_headers
        .contains(&(":path", "/v1/messages".to_string())));
    assert!(plan
        .set_headers
        .contains(&("x-api-key", "sk-ant".to_string())));
    assert!(
        !plan.added_stream_usage,
        "Anthropic streams carry usage; no stream_options upstream"
    );
    let up: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(up["system"], "be brief");
    assert_eq!(up["max_tokens"], DEFAULT_TRANSLATED_MAX_TOKENS);
    assert_eq!(up["stream"], true);
    assert!(up.get("stream_options").is_none());
}

#[test]
fn auto_alias_is_routed_and_explained() {
    let c = config(
        r#"{"route":{"default_provider":"mock","providers":[{"name":"mock","format":"both"}],
            "auto":{"aliases":{"auto":{"tiers":{"simple":"gpt-4o-mini","complex":"o3"}}}}},"usage":{}}"#,
    );
    let simple = br#"{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, simple).unwrap();
    assert_eq!(plan.model, "gpt-4o-mini");
    assert!(plan
        .route_reason
        .as_deref()
        .unwrap()
        .starts_with("tier=simple"));
    let up: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(up["model"], "gpt-4o-mini");
    let hard = br#"{"model":"auto","messages":[{"role":"user","content":"Prove step by step that there are infinitely many primes, then analyze the proof's assumptions."}]}"#;
    assert_eq!(plan_request(&c, Api::OpenAiChat, hard).unwrap().model, "o3");
    let plain = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, plain).unwrap();
    assert_eq!(
        (
            plan.model.as_str(),
            plan.route_reason.is_none(),
            plan.new_body.is_none()
        ),
        ("gpt-4o", true, true)
    );
}

#[test]
fn an_alias_sends_the_providers_own_model_name() {
    let c = config(
        r#"{"route":{"default_provider":"mock","providers":[
            {"name":"anthropic","format":"anthropic","models":["claude-"]},
            {"name":"mock","format":"both"}],
            "aliases":{"sonnet":{"provider":"anthropic","model":"claude-sonnet-4-5-20250929"}}},"usage":{}}"#,
    );
    let body = br#"{"model":"sonnet","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::AnthropicMessages, body).unwrap();
    assert_eq!(plan.provider, "anthropic");
    assert_eq!(plan.model, "claude-sonnet-4-5-20250929");
    assert_eq!(
        plan.route_reason.as_deref(),
        Some("alias=sonnet provider=anthropic")
    );
    let sent: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-5-20250929");
    // Through translation too: an OpenAI client asking for the alias.
    let body = br#"{"model":"sonnet","messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    let sent: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(
        (sent["model"].as_str(), plan.upstream_format),
        (Some("claude-sonnet-4-5-20250929"), Api::AnthropicMessages)
    );
    let err = Config::parse(
        br#"{"route":{"default_provider":"m","providers":[{"name":"m","format":"both"}],"aliases":{"x":{"provider":"nope","model":"y"}}}}"#,
        &|_| None,
    )
    .unwrap_err();
    assert!(err.0.contains("route.aliases.x.provider"), "{}", err.0);
}

#[test]
fn a_responses_request_is_routed_counted_and_translated_like_the_chat_request_it_amounts_to() {
    let c = config(
        r#"{"route":{"default_provider":"mock","providers":[
            {"name":"openai","format":"openai","models":["gpt-","o3"],"api_key_env":"OPENAI_API_KEY"},
            {"name":"anthropic","format":"anthropic","models":["claude-"]},
            {"name":"mock","format":"both"}],
            "auto":{"aliases":{"auto":{"tiers":{"simple":"gpt-4o-mini","complex":"o3"}}}}},"usage":{}}"#,
    );
    let hard = br#"{"model":"auto","input":[{"role":"user","content":[{"type":"input_text","text":"Prove step by step that there are infinitely many primes, then analyze the proof's assumptions."}]}]}"#;
    let plan = plan_request(&c, Api::OpenAiResponses, hard).unwrap();
    assert_eq!(
        (plan.model.as_str(), plan.provider.as_str()),
        ("o3", "openai")
    );
    assert!(plan
        .route_reason
        .as_deref()
        .unwrap()
        .starts_with("tier=complex"));
    let up: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(up["model"], "o3");
    assert_eq!(
        up["input"][0]["content"][0]["type"], "input_text",
        "still Responses"
    );
    assert!(!plan.translated() && plan.upstream_format == Api::OpenAiResponses);

    let hello = br#"{"model":"gpt-4o","input":"hello world"}"#;
    let plan = plan_request(&c, Api::OpenAiResponses, hello).unwrap();
    assert_eq!(plan.input_tokens, Some(3 + 1 + 2 + 3));
    assert_eq!(plan.input_accuracy, Accuracy::Estimate);
    assert!(plan.new_body.is_none() && !plan.added_stream_usage);

    let claude = br#"{"model":"claude-sonnet-4-5","input":"hi","stream":true}"#;
    let plan = plan_request(&c, Api::OpenAiResponses, claude).unwrap();
    assert_eq!(plan.translation(), Some(Direction::ResponsesToAnthropic));
    assert!(plan
        .set_headers
        .contains(&(":path", "/v1/messages".to_string())));
    assert!(plan
        .set_headers
        .contains(&("anthropic-version", "2023-06-01".to_string())));
}

#[test]
fn output_caps_refuse_naming_the_clients_field_or_clamp_the_body() {
    let refuse = config(r#"{"usage":{},"limits":{}}"#);
    let sonnet = br#"{"model":"claude-sonnet-4-5","max_tokens":64000,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&refuse, Api::AnthropicMessages, sonnet).unwrap();
    assert_eq!(plan.max_output_tokens, Some(64_000));
    assert!(
        plan.new_body.is_none(),
        "within the cap: the body is untouched"
    );
    let o3 = br#"{"model":"o3","max_completion_tokens":100000,"messages":[{"role":"user","content":"hi"}]}"#;
    assert!(plan_request(&refuse, Api::OpenAiChat, o3).is_ok());
    let over = br#"{"model":"o3","max_completion_tokens":200000,"messages":[{"role":"user","content":"hi"}]}"#;
    let e = plan_request(&refuse, Api::OpenAiChat, over).unwrap_err();
    assert_eq!(
        e.message(),
        "`max_completion_tokens` must be at most 100000 for o3 (got 200000)"
    );
    let v: serde_json::Value = serde_json::from_slice(&e.envelope(Api::OpenAiChat)).unwrap();
    assert_eq!(v["error"]["param"], "max_completion_tokens");

    let clamp = config(
        r#"{"usage":{},"limits":{"over_max_output":"clamp","model_max_output_tokens":{"claude-haiku-4-5":1000}},
        "route":{"default_provider":"anthropic","providers":[{"name":"anthropic","format":"anthropic"}]}}"#,
    );
    let plan = plan_request(&clamp, Api::OpenAiChat, over).unwrap();
    assert_eq!(plan.max_output_tokens, Some(100_000));
    // The translated body carries the clamped value, in Anthropic's field.
    let v: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(v["max_tokens"], 100_000);
    let haiku = br#"{"model":"claude-haiku-4-5","max_tokens":64000,"messages":[{"role":"user","content":"hi"}]}"#;
    let plan = plan_request(&clamp, Api::AnthropicMessages, haiku).unwrap();
    let v: serde_json::Value = serde_json::from_slice(plan.new_body.as_ref().unwrap()).unwrap();
    assert_eq!(
        (v["max_tokens"].as_u64(), plan.max_output_tokens),
        (Some(1000), Some(1000))
    );
    assert_eq!(
        v["messages"][0]["content"], "hi",
        "the rest of the body is kept"
    );
}

#[test]
fn failures_without_usage_cost_nothing() {
    let c = config(r#"{"usage":{},"limits":{}}"#);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, body).unwrap();
    for (status, answer) in [
        (
            500,
            &br#"{"error":{"message":"boom","type":"server_error"}}"#[..],
        ),
        (
            429,
            br#"{"error":{"message":"slow down","type":"rate_limit_exceeded"}}"#,
        ),
        (503, b"upstream connect error"),
    ] {
        let mut meter =
            ResponseMeter::new(Api::OpenAiChat, status, Some("application/json"), 1 << 20);
        meter.feed(answer, 1);
        let f = settle(&c, &plan, &meter.finish(1), status);
        assert_eq!(
            (f.input_tokens, f.output_tokens, f.cost_usd, f.usage_source),
            (Some(0), Some(0), Some(0.0), Some("none")),
            "{status}"
        );
        assert_eq!(
            f.input_tokens_counted,
            Some(9),
            "our count stays in the log"
        );
        assert_eq!(crate::usage::settle::actual(&f).cost_micro_usd, 0);
    }
    // A stream cut before its first token produced nothing either.
    let stream =
        br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello world"}]}"#;
    let plan = plan_request(&c, Api::OpenAiChat, stream).unwrap();
    let f = meter_stream(&c, &plan, &OPENAI_STREAM.as_bytes()[..30], 10);
    assert_eq!((f.cost_usd, f.error), (Some(0.0), Some("stream_cut")));
    // An error that did report usage is billed as reported.
    let mut meter = ResponseMeter::new(Api::OpenAiChat, 400, Some("application/json"), 1 << 20);
    meter.feed(
        br#"{"error":{"message":"x"},"usage":{"prompt_tokens":4,"completion_tokens":0}}"#,
        1,
    );
    let f = settle(&c, &plan, &meter.finish(1), 400);
    assert_eq!(
        (f.input_tokens, f.usage_source),
        (Some(4), Some("provider"))
    );
}

#[test]
fn a_provider_that_lacks_a_feature_refuses_it_by_name() {
    let c = config(
        r#"{"route":{"default_provider":"local","providers":[
        {"name":"local","format":"openai","unsupported":["logprobs"]}]}}"#,
    );
    let body = br#"{"model":"llama3","logprobs":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let e = plan_request(&c, Api::OpenAiChat, body).unwrap_err();
    assert_eq!(
        e.message(),
        "`logprobs` (logprobs) is not supported by provider local"
    );
    let fine = br#"{"model":"llama3","messages":[{"role":"user","content":"hi"}]}"#;
    assert!(plan_request(&c, Api::OpenAiChat, fine).is_ok());
}
