//! Tests of the OpenAI client / Anthropic provider translation: request, answer, stream.

use serde_json::{json, Value};

use super::{request, translate_error, translate_request, translate_response, StreamTranslator};
use crate::errors::UserError;
use crate::providers::parse_object;
use crate::sse::SseParser;

fn translate(body: Value) -> Result<Value, String> {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    translate_request(&req, "claude-sonnet-4-5", 4096)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .map_err(|e| e.message())
}

fn error_param(body: Value) -> (String, Option<String>) {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    match translate_request(&req, "c", 1).unwrap_err() {
        UserError::InvalidRequest { message, param } => (message, param),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_simple_chat_becomes_a_messages_request() {
    let out = translate(json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hello"},
        ],
        "max_tokens": 50,
        "stop": "END",
        "temperature": 1.6,
        "top_p": 0.9,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "u-42",
        "frequency_penalty": 0,
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5",
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "max_tokens": 50,
            "stop_sequences": ["END"],
            "temperature": 1.0,
            "top_p": 0.9,
            "stream": true,
            "metadata": {"user_id": "u-42"},
        })
    );
}

#[test]
fn max_tokens_prefers_max_completion_tokens_then_the_default() {
    let msgs = json!([{"role": "user", "content": "x"}]);
    let both = translate(
        json!({"model": "m", "messages": msgs, "max_tokens": 9, "max_completion_tokens": 7}),
    )
    .unwrap();
    assert_eq!(both["max_tokens"], 7);
    let none = translate(json!({"model": "m", "messages": msgs})).unwrap();
    assert_eq!(none["max_tokens"], 4096);
    assert!(none.get("system").is_none());
    assert!(none.get("stream").is_none());
    let stops =
        translate(json!({"model": "m", "messages": msgs, "stop": ["a", "b"], "temperature": 0.3}))
            .unwrap();
    assert_eq!(stops["stop_sequences"], json!(["a", "b"]));
    assert_eq!(stops["temperature"], 0.3);
}

#[test]
fn same_role_messages_merge_so_roles_alternate() {
    let out = translate(json!({"model": "m", "messages": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": "three"},
        {"role": "system", "content": "late system"},
        {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
        {"role": "user", "content": ""},
        {"role": "user", "content": "five"},
    ]}))
    .unwrap();
    assert_eq!(out["system"], "late system");
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "three"}, {"type": "text", "text": "four"}]},
            {"role": "user", "content": [{"type": "text", "text": "five"}]},
        ])
    );
}

#[test]
fn images_become_base64_or_url_blocks() {
    let out = translate(json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]}]}))
    .unwrap();
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ])
    );
    let (msg, param) = error_param(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
    );
    assert_eq!(
        param.as_deref(),
        Some("messages[0].content[0].image_url.url")
    );
    assert!(msg.contains("http(s) URL or a base64 data: URL"), "{msg}");
    let (_, param) = error_param(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}),
    );
    assert_eq!(param.as_deref(), Some("messages[0].content[0].type"));
}

#[test]
fn tools_tool_choice_and_tool_turns_translate() {
    let out = translate(json!({"model": "m",
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "now"}},
        ],
        "tool_choice": "required",
        "parallel_tool_calls": false,
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "Thanks"},
        ]}))
    .unwrap();
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
                {"type": "text", "text": "Thanks"},
            ]},
        ])
    );
}

#[test]
fn every_tool_choice_form_maps() {
    let base = |choice: Value| {
        translate(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": choice}),
        )
        .map(|o| o["tool_choice"].clone())
    };
    assert_eq!(base(json!("auto")).unwrap(), json!({"type": "auto"}));
    assert_eq!(base(json!("none")).unwrap(), json!({"type": "none"}));
    assert_eq!(base(json!("required")).unwrap(), json!({"type": "any"}));
    assert_eq!(
        base(json!({"type": "function", "function": {"name": "f"}})).unwrap(),
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(base(Value::Null).unwrap(), Value::Null);
    assert!(base(json!("sometimes"))
        .unwrap_err()
        .contains("must be one of auto, none, required"));
    let no_tools = translate(json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"})).unwrap();
    assert!(no_tools.get("tool_choice").is_none());
    let (_, param) = error_param(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
    );
    assert_eq!(param.as_deref(), Some("tool_choice"));
}

#[test]
fn bad_tool_arguments_name_the_field() {
    let call = |args: &str| {
        json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]},
        ]})
    };
    let (msg, param) = error_param(call("{\"city\":"));
    assert_eq!(
        param.as_deref(),
        Some("messages[1].tool_calls[0].function.arguments")
    );
    assert!(
        msg.starts_with("`messages[1].tool_calls[0].function.arguments` is not valid JSON: "),
        "{msg}"
    );
    let (msg, _) = error_param(call("[1]"));
    assert_eq!(
        msg,
        "`messages[1].tool_calls[0].function.arguments` must encode a JSON object (got array)"
    );
    let empty = translate(call("")).unwrap();
    assert_eq!(empty["messages"][1]["content"][0]["input"], json!({}));
    let (_, param) =
        error_param(json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}));
    assert_eq!(param.as_deref(), Some("messages[0].tool_call_id"));
}

#[test]
fn semantics_claude_cannot_honour_are_refused() {
    let msgs = json!([{"role": "user", "content": "x"}]);
    let refused = |extra: Value| {
        let mut body = json!({"model": "m", "messages": msgs});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        error_param(body)
    };
    assert_eq!(
        refused(json!({"n": 2})),
        (
            "`n` must be 1 for Claude models, which return one choice (got 2)".into(),
            Some("n".into())
        )
    );
    assert_eq!(
        refused(json!({"logprobs": true})).1.as_deref(),
        Some("logprobs")
    );
    assert_eq!(
        refused(json!({"top_logprobs": 3})).1.as_deref(),
        Some("top_logprobs")
    );
    assert_eq!(
        refused(json!({"response_format": {"type": "json_schema"}})).0,
        "`response_format.json_schema` is required and must be an object (got nothing)"
    );
    assert_eq!(
        refused(json!({"response_format": {"type": "grammar"}})).0,
        "`response_format` of type grammar is not supported for Claude models"
    );
    assert_eq!(
        refused(json!({"response_format": {"type": "json_object"},
            "tools": [{"type": "function", "function": {"name": "f"}}]})).0,
        "`response_format` of type json_object together with `tools` is not supported for Claude models"
    );
    assert_eq!(
        refused(json!({"functions": []})).1.as_deref(),
        Some("functions")
    );
    assert_eq!(
        refused(json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}))
            .1
            .as_deref(),
        Some("tools[0].type")
    );
    assert_eq!(
        refused(json!({"messages": [{"role": "function", "name": "f", "content": "x"}]}))
            .1
            .as_deref(),
        Some("messages[0].role")
    );
    assert_eq!(refused(json!({"stop": [1]})).1.as_deref(), Some("stop[0]"));
    // Harmless forms of the same fields pass.
    let ok = translate(
        json!({"model": "m", "messages": msgs, "n": 1, "logprobs": false,
        "response_format": {"type": "text"}, "modalities": ["text"]}),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_text_answer_becomes_a_chat_completion() {
    let body = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 5, "output_tokens": 7},
    });
    assert_eq!(
        translate_response(&body, "claude", 1_700_000_000),
        json!({
            "id": "msg_01",
            "object": "chat.completion",
            "created": 1_700_000_000u64,
            "model": "claude",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world", "refusal": null},
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 115, "completion_tokens": 7, "total_tokens": 122,
                      "prompt_tokens_details": {"cached_tokens": 100}},
        })
    );
}

#[test]
fn stop_reasons_map_to_finish_reasons() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ] {
        let body = json!({"content": [], "stop_reason": stop, "usage": {}});
        assert_eq!(
            translate_response(&body, "m", 0)["choices"][0]["finish_reason"],
            finish
        );
    }
    let empty = translate_response(&json!({"content": []}), "m", 0);
    assert_eq!(empty["choices"][0]["message"]["content"], "");
    assert_eq!(empty["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(empty["usage"]["total_tokens"], 0);
}

/// OpenAI request with tools -> Anthropic; Anthropic's tool_use answer -> OpenAI;
/// that answer and the tool's result sent back -> the ids pair up on Anthropic's side.
#[test]
fn tools_round_trip() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let first = json!({"model": "claude", "tools": tools,
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let req = parse_object(first.to_string().as_bytes()).unwrap();
    let upstream: Value =
        serde_json::from_slice(&request::translate_request(&req, "claude-x", 100).unwrap())
            .unwrap();
    assert_eq!(upstream["tools"][0]["name"], "get_weather");

    let answer = json!({
        "id": "msg_02", "type": "message", "role": "assistant",
        "content": [{"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 15},
    });
    let openai = translate_response(&answer, "claude", 0);
    let message = &openai["choices"][0]["message"];
    assert_eq!(openai["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(message["content"], "Let me check.");
    assert_eq!(
        message["tool_calls"],
        json!([{"id": "toolu_01", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );

    let second = json!({"model": "claude", "tools": tools, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        message,
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18C and sunny"},
    ]});
    let req = parse_object(second.to_string().as_bytes()).unwrap();
    let upstream: Value =
        serde_json::from_slice(&request::translate_request(&req, "claude-x", 100).unwrap())
            .unwrap();
    assert_eq!(
        upstream["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
        ]})
    );
    assert_eq!(
        upstream["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C and sunny"}]})
    );

    let only_tools = translate_response(
        &json!({"content": [{"type": "tool_use", "id": "t", "name": "now", "input": {}}]}),
        "m",
        0,
    );
    assert_eq!(only_tools["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        only_tools["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
}

fn error_of(status: u32, body: &str) -> Value {
    serde_json::from_slice(&translate_error(status, body.as_bytes())).unwrap()
}

#[test]
fn errors_map_to_openai_envelopes() {
    for (status, anthropic, kind, code) in [
        (
            400,
            "invalid_request_error",
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            401,
            "authentication_error",
            "invalid_request_error",
            "invalid_api_key",
        ),
        (
            403,
            "permission_error",
            "invalid_request_error",
            "permission_denied",
        ),
        (404, "not_found_error", "invalid_request_error", "not_found"),
        (
            413,
            "request_too_large",
            "invalid_request_error",
            "request_too_large",
        ),
        (
            429,
            "rate_limit_error",
            "rate_limit_exceeded",
            "rate_limit_exceeded",
        ),
        (500, "api_error", "server_error", "server_error"),
        (529, "overloaded_error", "server_error", "overloaded"),
        (
            418,
            "teapot_error",
            "invalid_request_error",
            "invalid_request_error",
        ),
        (503, "new_error", "server_error", "server_error"),
    ] {
        let body = json!({"type": "error", "error": {"type": anthropic, "message": "Details here"},
            "request_id": "req_1"});
        assert_eq!(
            error_of(status, &body.to_string()),
            json!({"error": {"message": "Details here", "type": kind, "param": null, "code": code}}),
            "{anthropic}"
        );
    }
}

#[test]
fn non_json_errors_are_wrapped() {
    let e = error_of(
        503,
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
    );
    assert_eq!(
        e["error"]["message"],
        "The upstream provider returned HTTP 503: upstream connect error or disconnect/reset before headers. reset reason: connection failure"
    );
    assert_eq!(e["error"]["type"], "server_error");
    assert_eq!(
        error_of(429, "")["error"],
        json!({"message": "The upstream provider returned HTTP 429 with an empty body",
               "type": "rate_limit_exceeded", "param": null, "code": "rate_limit_exceeded"})
    );
    let long = "x".repeat(1000);
    let msg = error_of(502, &long)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.ends_with(&format!("{}...", "x".repeat(200))), "{msg}");
    assert!(msg.len() < 300);
    // JSON that is not Anthropic's envelope is wrapped too.
    assert_eq!(
        error_of(404, "{\"detail\":\"no\"}")["error"]["code"],
        "not_found"
    );
}

/// A stream as Anthropic sends it: ping, a text block with multi-byte characters, a
/// tool_use block whose input arrives in pieces, usage with cache tokens.
const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_S1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1000,\"output_tokens\":1}}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Caf\u{e9} \u{2615}, \"}}\n\n",
    "event: content_block_delta\r\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"let me check \u{1F50D}\\n\"}}\r\n\r\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Par\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"is\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

fn run(chunks: &[&[u8]], include_usage: bool) -> Vec<u8> {
    let mut t = StreamTranslator::new("claude", "seed", include_usage, 1_700_000_000, None);
    let mut out = Vec::new();
    for c in chunks {
        let piece = t.feed(c);
        assert_is_whole_sse(&piece);
        out.extend(piece);
    }
    out.extend(t.finish());
    out
}

/// Every output piece is whole `data:` events, each one JSON or `[DONE]`.
fn assert_is_whole_sse(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("output is UTF-8");
    if text.is_empty() {
        return;
    }
    assert!(text.ends_with("\n\n"), "{text:?}");
    for event in text[..text.len() - 2].split("\n\n") {
        let data = event.strip_prefix("data: ").expect("one data line");
        assert!(!data.contains('\n'));
        assert!(
            data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok(),
            "{data}"
        );
    }
}

fn events(bytes: &[u8]) -> Vec<Value> {
    let mut p = SseParser::new();
    p.feed(bytes);
    let mut out = Vec::new();
    while let Some(e) = p.next_event() {
        out.push(if e.data == "[DONE]" {
            Value::String(e.data)
        } else {
            serde_json::from_str(&e.data).unwrap()
        });
    }
    assert!(p.finish().is_none());
    out
}

fn anthropic_text(stream: &str) -> String {
    let mut p = SseParser::new();
    p.feed(stream.as_bytes());
    let mut text = String::new();
    while let Some(e) = p.next_event() {
        let v: Value = serde_json::from_str(&e.data).unwrap();
        if let Some(t) = v["delta"]["text"].as_str() {
            text.push_str(t);
        }
    }
    text
}

#[test]
fn a_stream_translates_to_chunks() {
    let out = events(&run(&[STREAM.as_bytes()], true));
    let deltas: Vec<&Value> = out.iter().map(|e| &e["choices"][0]["delta"]).collect();
    assert_eq!(out.len(), 9, "{out:#?}");
    assert_eq!(out[0]["id"], "msg_S1");
    assert_eq!(out[0]["object"], "chat.completion.chunk");
    assert_eq!(out[0]["created"], 1_700_000_000u64);
    assert_eq!(out[0]["model"], "claude");
    assert_eq!(out[0]["usage"], Value::Null);
    assert_eq!(*deltas[0], json!({"role": "assistant", "content": ""}));
    assert_eq!(*deltas[1], json!({"content": "Caf\u{e9} \u{2615}, "}));
    assert_eq!(*deltas[2], json!({"content": "let me check \u{1F50D}\n"}));
    assert_eq!(
        *deltas[3],
        json!({"tool_calls": [{"index": 0, "id": "toolu_01", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}]})
    );
    assert_eq!(
        *deltas[4],
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Par"}}]})
    );
    assert_eq!(
        *deltas[5],
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "is\"}"}}]})
    );
    assert_eq!(*deltas[6], json!({}));
    assert_eq!(out[6]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(out[7]["choices"], json!([]));
    assert_eq!(
        out[7]["usage"],
        json!({"prompt_tokens": 1025, "completion_tokens": 89, "total_tokens": 1114,
               "prompt_tokens_details": {"cached_tokens": 1000}})
    );
    // finish() after a clean end adds nothing.
    assert_eq!(out[8], Value::String("[DONE]".into()));
}

#[test]
fn every_split_point_gives_the_same_output() {
    let bytes = STREAM.as_bytes();
    for include_usage in [false, true] {
        let whole = run(&[bytes], include_usage);
        for i in 0..=bytes.len() {
            assert_eq!(
                run(&[&bytes[..i], &bytes[i..]], include_usage),
                whole,
                "split at {i}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(&singles, include_usage), whole);

        let out = events(&whole);
        let content: String = out
            .iter()
            .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(content, anthropic_text(STREAM));
        let arguments: String = out
            .iter()
            .filter_map(|e| {
                e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(arguments, "{\"city\": \"Paris\"}");
        assert_eq!(*out.last().unwrap(), Value::String("[DONE]".into()));
        assert_eq!(
            out.iter().filter(|e| e["choices"] == json!([])).count(),
            usize::from(include_usage)
        );
    }
}

#[test]
fn a_cut_stream_ends_with_an_error_event() {
    let bytes = STREAM.as_bytes();
    let stop = STREAM.find("event: message_stop").unwrap();
    for cut in [0, 10, 200, stop - 5, stop, bytes.len() - 3] {
        let out = events(&run(&[&bytes[..cut]], false));
        let n = out.len();
        assert_eq!(out[n - 1], Value::String("[DONE]".into()), "cut at {cut}");
        assert_eq!(
            out[n - 2]["error"]["code"],
            "stream_truncated",
            "cut at {cut}"
        );
        assert_eq!(out[n - 2]["error"]["type"], "server_error");
    }
    // Only the final blank line missing: the last event still counts, the end is clean.
    let out = events(&run(&[&bytes[..bytes.len() - 1]], false));
    assert_eq!(
        out[out.len() - 2]["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(*out.last().unwrap(), Value::String("[DONE]".into()));
}

#[test]
fn an_error_event_ends_the_stream() {
    let stream = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_E\",\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );
    let mut t = StreamTranslator::new("claude", "seed", true, 0, None);
    let mut out = t.feed(stream.as_bytes());
    assert!(t.is_done());
    out.extend(t.finish());
    out.extend(t.feed(b"data: {\"type\":\"ping\"}\n\n"));
    let out = events(&out);
    assert_eq!(out.len(), 4, "{out:#?}");
    assert_eq!(out[1]["choices"][0]["delta"]["content"], "Hi");
    assert_eq!(
        out[2],
        json!({"error": {"message": "Overloaded", "type": "server_error", "param": null, "code": "overloaded"}})
    );
    assert_eq!(out[3], Value::String("[DONE]".into()));

    // Garbage from upstream is an error too, never a silent end.
    let out = events(&run(&[b"data: <html>\n\n"], false));
    assert_eq!(out[0]["error"]["type"], "server_error");
    assert_eq!(out.len(), 2);
}

#[test]
fn chunks_before_message_start_use_the_seed() {
    let out = events(&run(
        &[b"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"],
        false,
    ));
    assert_eq!(out[0]["id"], "chatcmpl-seed");
    assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(out[1]["choices"][0]["delta"]["content"], "x");
    assert!(out[1].get("usage").is_none());
}

const SCHEMA_FORMAT: &str = r#"{"type": "json_schema", "json_schema": {"name": "CalendarEvent",
    "strict": true, "schema": {"type": "object", "properties": {"name": {"type": "string"},
    "participants": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "participants"], "additionalProperties": false}}}"#;

#[test]
fn a_json_schema_becomes_a_forced_tool_whose_input_schema_is_the_schema() {
    let format: Value = serde_json::from_str(SCHEMA_FORMAT).unwrap();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "Alice and Bob meet"}],
        "response_format": format});
    let out = translate(body.clone()).unwrap();
    assert_eq!(out["tools"][0]["name"], "CalendarEvent");
    assert_eq!(
        out["tools"][0]["input_schema"],
        format["json_schema"]["schema"]
    );
    assert_eq!(
        out["tool_choice"],
        json!({"type": "tool", "name": "CalendarEvent"})
    );
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        request::structured_output_tool(&req).as_deref(),
        Some("CalendarEvent")
    );
    let object = translate(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"}}),
    )
    .unwrap();
    assert_eq!(
        (
            &object["tools"][0]["name"],
            &object["tools"][0]["input_schema"]
        ),
        (&json!("json_response"), &json!({"type": "object"}))
    );
    assert_eq!(object["tool_choice"]["name"], "json_response");
    let plain = parse_object(br#"{"model":"m","messages":[]}"#).unwrap();
    assert_eq!(request::structured_output_tool(&plain), None);
}

#[test]
fn the_forced_tool_call_comes_back_as_the_content() {
    let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "c",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "CalendarEvent",
                     "input": {"name": "meet", "participants": ["Alice", "Bob"]}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 20}});
    let d = crate::providers::translate::Direction::OpenAiToAnthropic;
    let out: Value = serde_json::from_slice(&d.whole_body(
        "claude-haiku-4-5",
        200,
        answer.to_string().as_bytes(),
        0,
        Some("CalendarEvent"),
    ))
    .unwrap();
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["message"].get("tool_calls").is_none(), "{out}");
    let content: Value =
        serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        content,
        json!({"name": "meet", "participants": ["Alice", "Bob"]})
    );
    assert_eq!(out["usage"]["completion_tokens"], 20);
    // Without a structured request the same answer stays a tool call.
    let call: Value =
        serde_json::from_slice(&d.whole_body("c", 200, answer.to_string().as_bytes(), 0, None))
            .unwrap();
    assert_eq!(call["choices"][0]["finish_reason"], "tool_calls");
}

const STRUCTURED_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_J\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"CalendarEvent\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"name\\\": \\\"me\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"et\\\", \\\"participants\\\": [\\\"Al\u{e9}\\\"]}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":12}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

#[test]
fn a_streamed_forced_tool_call_streams_as_content_at_every_split_point() {
    let stream = STRUCTURED_STREAM.as_bytes();
    let mut whole = None;
    for split in 0..=stream.len() {
        let mut t = StreamTranslator::new("claude", "seed", false, 0, Some("CalendarEvent"));
        let mut out = Vec::new();
        for part in [&stream[..split], &stream[split..]] {
            let piece = t.feed(part);
            assert_is_whole_sse(&piece);
            out.extend(piece);
        }
        out.extend(t.finish());
        match &whole {
            None => whole = Some(out),
            Some(w) => assert_eq!(&out, w, "split {split}"),
        }
    }
    let evs = events(whole.as_ref().unwrap());
    let text: String = evs
        .iter()
        .filter_map(|e| {
            e.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"name": "meet", "participants": ["Al\u{e9}"]})
    );
    assert!(evs
        .iter()
        .all(|e| e.pointer("/choices/0/delta/tool_calls").is_none()));
    let finish: Vec<&Value> = evs
        .iter()
        .filter_map(|e| e.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&json!("stop")]);
}
