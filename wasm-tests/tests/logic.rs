//! The gateway's pure logic, compiled to wasm32-unknown-unknown and run under Node by
//! wasm-bindgen-test: the same code the Envoy module runs, in a wasm engine.

use llm_gateway::api::Api;
use llm_gateway::config::Config;
use llm_gateway::exchange::{plan_request, settle, ResponseMeter};
use llm_gateway::sse::SseParser;
use llm_gateway::tokens::{count_openai_chat, count_text, Encoding};
use wasm_bindgen_test::wasm_bindgen_test;

fn no_env(_: &str) -> Option<String> {
    None
}

#[wasm_bindgen_test]
fn tokenizer_counts_like_tiktoken_in_wasm() {
    assert_eq!(count_text(Encoding::Cl100kBase, "tiktoken is great!"), 6);
    assert_eq!(count_text(Encoding::O200kBase, "hello world"), 2);
    let req: serde_json::Value = serde_json::from_str(
        r#"{"model":"gpt-4-0613","messages":[
        {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
        {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
        {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
        {"role":"system","name":"example_user","content":"Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
        {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
        {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]}"#,
    )
    .unwrap();
    assert_eq!(
        count_openai_chat("gpt-4-0613", req.as_object().unwrap()),
        129
    );
    assert_eq!(count_openai_chat("gpt-4o", req.as_object().unwrap()), 124);
}

#[wasm_bindgen_test]
fn config_errors_name_the_field() {
    let e = Config::parse(br#"{"api":{"max_body_bytes":0}}"#, &no_env).unwrap_err();
    assert_eq!(
        e.0,
        "api.max_body_bytes must be between 1 and 67108864 (got 0)"
    );
    let e = Config::parse(br#"{"usage":{"bogus":true}}"#, &no_env).unwrap_err();
    assert!(e.0.contains("unknown field `bogus`"), "{}", e.0);
}

#[wasm_bindgen_test]
fn bad_requests_get_envelopes() {
    let c = Config::parse(b"{}", &no_env).unwrap();
    for body in [
        &b"not json"[..],
        b"[]",
        b"{\"model\":1}",
        b"{\"model\":\"gpt-4o\",\"messages\":[\xff]}",
    ] {
        let e = plan_request(&c, Api::OpenAiChat, body).unwrap_err();
        let v: serde_json::Value = serde_json::from_slice(&e.envelope(Api::OpenAiChat)).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let v: serde_json::Value =
            serde_json::from_slice(&e.envelope(Api::AnthropicMessages)).unwrap();
        assert_eq!(v["type"], "error");
    }
}

#[wasm_bindgen_test]
fn stream_is_metered_at_every_split_point() {
    let c = Config::parse(br#"{"usage":{}}"#, &no_env).unwrap();
    let plan = plan_request(
        &c,
        Api::OpenAiChat,
        br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    )
    .unwrap();
    let stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"lo \u{1F600}\"}}]}\r\n\r\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":4}}\n\n",
        "data: [DONE]\n\n"
    )
    .as_bytes();
    for split in 0..=stream.len() {
        let mut m = ResponseMeter::new(Api::OpenAiChat, 200, Some("text/event-stream"), 1 << 20);
        m.feed(&stream[..split], 1);
        m.feed(&stream[split..], 2);
        let f = settle(&c, &plan, &m.finish(3), 200);
        assert_eq!(
            (f.input_tokens, f.output_tokens, f.error),
            (Some(8), Some(4), None),
            "split {split}"
        );
    }
    let mut p = SseParser::new();
    p.feed(b"data: cut");
    assert!(p.next_event().is_none() && p.has_partial_event());
}
