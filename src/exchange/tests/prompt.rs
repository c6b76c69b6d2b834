//! Whole exchanges through the prompt stage: decorated and templated requests as they go
//! upstream (after the guard), refused templates, and structured output checked, retried
//! through the provider's cluster, refused, streamed and translated.

use super::*;
use serde_json::json;

fn body_of(seen: &[u8]) -> Value {
    serde_json::from_slice(seen).expect("JSON body")
}

const PROMPT: &str = r#"{"usage":{},"guard":{"pii":{"entities":{"email":"mask"}}},
  "prompt":{
    "prepend":[{"role":"system","content":"You are the docs assistant of {{consumer.group}}."}],
    "templates":[{"id":"qa","version":"1","variables":{"product":{}},
      "messages":[{"role":"system","content":"Answer about {{product}}."},
                  {"role":"user","content":"Example question"},{"role":"assistant","content":"Example answer"}]}]
  }}"#;

#[test]
fn a_templated_request_goes_upstream_decorated_and_guarded() {
    let c = config(PROMPT);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}],
        "prompt_template":{"id":"qa","variables":{"product":"mail me at jane@example.com"}}}"#;
    assert_eq!(run.send(body), Flow::Continue);
    let up = body_of(&run.seen.upstream_body);
    assert!(up.get("prompt_template").is_none());
    let roles: Vec<&str> = up["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "system", "user", "assistant", "user"]);
    assert_eq!(
        up["messages"][0]["content"],
        "You are the docs assistant of anonymous."
    );
    // The guard judged the final prompt: the variable's e-mail is masked.
    let product = up["messages"][1]["content"].as_str().unwrap();
    assert!(product.starts_with("Answer about mail me at "), "{product}");
    assert!(!product.contains("jane@example.com"), "{product}");
    assert_eq!(
        run.host.request_header("content-length"),
        Some(run.seen.upstream_body.len().to_string())
    );
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.fact("llm_prompt_template"), Some("qa@1"));
    assert_eq!(
        run.seen
            .counter("llm.prompt_template.template.qa.version.1"),
        1
    );
}

#[test]
fn a_decorated_request_without_other_rewrites_still_goes_up_rewritten() {
    let c = config(r#"{"prompt":{"append":[{"role":"user","content":"Answer in one line."}]}}"#);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    assert_eq!(run.send(CHAT), Flow::Continue);
    let up = body_of(&run.seen.upstream_body);
    assert_eq!(up["messages"][1]["content"], "Answer in one line.");
}

#[test]
fn a_bad_template_request_is_refused_in_the_clients_envelope() {
    let c = config(PROMPT);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(br#"{"model":"gpt-4o","messages":[],"prompt_template":{"id":"qa","variables":{}}}"#);
    let (status, v) = refused(&run);
    assert_eq!(status, 400);
    assert_eq!(
        v["error"]["message"],
        "Variable `product` of prompt template `qa@1` is required"
    );
    assert_eq!(v["error"]["param"], "prompt_template.variables.product");
    let mut run = Run::new(&c, "/v1/messages", &[]);
    run.send(br#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}],"prompt_template":{"id":"qa","variables":{"product":"a","x":1}}}"#);
    let (status, v) = refused(&run);
    assert_eq!(status, 400);
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("`x` is not a variable of prompt template `qa@1`"));
    assert!(run.seen.calls.is_empty());
}

const SCHEMA_ROUTE: &str = r#"{"usage":{},
  "route":{"default_provider":"mock","providers":[{"name":"mock","format":"both"},
    {"name":"anthropic","format":"anthropic","models":["claude-"]}]},
  "prompt":{"retry_clusters":{"mock":"mock_cluster"},
    "schema":{"name":"doc_answer","schema":{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"],"additionalProperties":false}}}}"#;

fn chat_answer(content: &str) -> Vec<u8> {
    json!({"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,
        "message":{"role":"assistant","content":content},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})
    .to_string()
    .into_bytes()
}

#[test]
fn a_valid_answer_passes_checked() {
    let c = config(SCHEMA_ROUTE);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    assert_eq!(run.send(CHAT), Flow::Continue);
    let up = body_of(&run.seen.upstream_body);
    assert_eq!(up["response_format"]["json_schema"]["name"], "doc_answer");
    let answer = chat_answer(r#"{"answer":"yes"}"#);
    run.answer(200, "application/json", &[&answer]);
    assert_eq!(run.seen.client_body, answer);
    assert!(run.seen.calls.is_empty());
    assert_eq!(
        (run.fact("llm_schema"), run.fact("llm_schema_source")),
        (Some("valid"), Some("operator"))
    );
    assert_eq!(
        run.seen.counter("llm.schema.result.valid.source.operator"),
        1
    );
}

#[test]
fn an_invalid_answer_is_retried_through_the_providers_cluster_and_replaced() {
    let c = config(SCHEMA_ROUTE);
    let mut run = Run::new(
        &c,
        "/v1/chat/completions",
        &[(":authority", "gw"), ("x-mock-a", "1")],
    );
    assert_eq!(run.send(CHAT), Flow::Continue);
    let first = chat_answer("Sure! Here it is: {answer: yes}");
    run.answer(200, "application/json", &[&first]);
    assert!(run.seen.client_body.is_empty(), "the answer waits");
    let call = run.seen.calls.last().expect("a retry").clone();
    assert_eq!(call.cluster, "mock_cluster");
    assert_eq!(call.headers[0], (":method".into(), "POST".into()));
    assert_eq!(
        call.headers[1],
        (":path".into(), "/v1/chat/completions".into())
    );
    assert!(call.headers.contains(&("x-mock-a".into(), "1".into())));
    assert!(call
        .headers
        .contains(&("content-length".into(), call.body.len().to_string())));
    let sent = body_of(&call.body);
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[1],
        json!({"role":"assistant","content":"Sure! Here it is: {answer: yes}"})
    );
    assert!(messages[2]["content"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(sent["response_format"]["type"], "json_schema");
    let fixed = chat_answer(r#"{"answer":"yes"}"#);
    let flow = run.retry_answer(Some(CallAnswer {
        status: 200,
        headers: vec![],
        body: fixed.clone(),
    }));
    assert_eq!(flow, Flow::Continue);
    assert_eq!(run.seen.client_body, fixed);
    assert_eq!(
        run.response_header("content-length"),
        Some(fixed.len().to_string())
    );
    assert_eq!(
        (run.fact("llm_schema"), run.fact("llm_schema_retries")),
        (Some("fixed"), Some("1"))
    );
    assert_eq!(run.seen.counter("llm.schema_retries"), 1);
    // The retry is billed too: both calls' usage.
    assert_eq!(
        (run.fact("llm_input_tokens"), run.fact("llm_output_tokens")),
        (Some("18"), Some("4"))
    );
}

#[test]
fn an_answer_invalid_twice_is_a_502_in_the_clients_envelope() {
    let c = config(SCHEMA_ROUTE);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(CHAT);
    run.answer(200, "application/json", &[&chat_answer("nope")]);
    assert_eq!(run.seen.calls.len(), 1);
    let flow = run.retry_answer(Some(CallAnswer {
        status: 200,
        headers: vec![],
        body: chat_answer(r#"{"answer":7}"#),
    }));
    assert_eq!(flow, Flow::Continue);
    assert_eq!(run.seen.calls.len(), 1, "max_retries 1: no second retry");
    assert_eq!(run.response_header(":status").as_deref(), Some("502"));
    assert_eq!(
        run.response_header("x-should-retry").as_deref(),
        Some("false")
    );
    let v = body_of(&run.seen.client_body);
    assert_eq!(v["error"]["code"], "invalid_structured_output");
    assert!(v["error"]["message"].as_str().unwrap().ends_with(
        "after 1 retry: the answer does not match the schema: /answer: expected string, got number"
    ));
    assert_eq!(run.fact("llm_schema"), Some("failed"));
    assert_eq!(run.fact("llm_error"), Some("invalid_structured_output"));
    // A retry that cannot be made at all: the first answer's error.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(CHAT);
    run.answer(200, "application/json", &[&chat_answer("nope")]);
    run.retry_answer(None);
    assert_eq!(run.response_header(":status").as_deref(), Some("502"));
}

#[test]
fn on_invalid_pass_lets_the_last_answer_through() {
    let c = config(&SCHEMA_ROUTE.replace(
        r#""retry_clusters""#,
        r#""on_invalid":"pass","max_retries":0,"retry_clusters""#,
    ));
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(CHAT);
    let answer = chat_answer("nope");
    run.answer(200, "application/json", &[&answer]);
    assert!(run.seen.calls.is_empty());
    assert_eq!(run.seen.client_body, answer);
    assert_eq!(run.fact("llm_schema"), Some("passed"));
}

#[test]
fn a_streamed_invalid_answer_ends_with_an_error_event() {
    let c = config(SCHEMA_ROUTE);
    let stream = OPENAI_STREAM.as_bytes();
    for split in (0..=stream.len()).step_by(7) {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        assert_eq!(run.send(CHAT_STREAM), Flow::Continue);
        run.answer(
            200,
            "text/event-stream",
            &[&stream[..split], &stream[split..]],
        );
        let text = String::from_utf8(run.seen.client_body.clone()).unwrap();
        assert!(text.contains("\"content\":\" world\""), "split {split}");
        let tail = text.rsplit_once("\n\ndata: {\"error\"").map(|(_, t)| t);
        assert!(
            tail.is_some_and(|t| t.contains("invalid_structured_output")),
            "split {split}: {text}"
        );
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert!(run.seen.calls.is_empty(), "a stream is not retried");
        assert_eq!(run.fact("llm_schema"), Some("failed"), "split {split}");
    }
}

#[test]
fn an_anthropic_model_answers_through_translation_and_is_checked_there() {
    let c = config(SCHEMA_ROUTE);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let body = br#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(run.send(body), Flow::Continue);
    let up = body_of(&run.seen.upstream_body);
    assert_eq!(up["tool_choice"]["name"], "doc_answer", "{up}");
    let tool = |input: Value| {
        json!({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
            "content":[{"type":"tool_use","id":"toolu_1","name":"doc_answer","input":input}],
            "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":3}})
        .to_string()
        .into_bytes()
    };
    run.answer(200, "application/json", &[&tool(json!({"wrong": 1}))]);
    let call = run.seen.calls.last().expect("a retry").clone();
    assert_eq!(call.cluster, "anthropic");
    let sent = body_of(&call.body);
    assert_eq!(sent["tool_choice"]["name"], "doc_answer");
    assert_eq!(sent["messages"][1]["role"], "assistant");
    assert_eq!(sent["messages"][1]["content"], r#"{"wrong":1}"#);
    run.retry_answer(Some(CallAnswer {
        status: 200,
        headers: vec![],
        body: tool(json!({"answer": "yes"})),
    }));
    let v = body_of(&run.seen.client_body);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], r#"{"answer":"yes"}"#);
    assert_eq!(run.fact("llm_schema"), Some("fixed"));
}

#[test]
fn cot_is_added_on_complex_questions_only() {
    let c = config(r#"{"prompt":{"cot":"complex","cot_instruction":"Think step by step."}}"#);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(CHAT);
    assert_eq!(
        body_of(&run.seen.upstream_body)["messages"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(run.fact("llm_prompt_cot"), None);
    let hard = json!({"model":"gpt-4o","messages":[{"role":"user","content":
        "Prove step by step that the algorithm's time complexity is O(n log n), derive the recurrence, analyze the trade-offs of each design decision, and then implement and optimize it in Rust with a rigorous proof of correctness for the concurrent version."}]});
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(hard.to_string().as_bytes());
    let up = body_of(&run.seen.upstream_body);
    assert_eq!(up["messages"][1]["content"], "Think step by step.");
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.fact("llm_prompt_cot"), Some("complex"));
    assert_eq!(run.seen.counter("llm.prompt_cot.reason.complex"), 1);
}
