//! Tests of the Anthropic client / OpenAI provider translation: request, answer, stream.

use serde_json::{json, Value};

use super::{request, translate_error, translate_request, translate_response, StreamTranslator};
use crate::errors::UserError;
use crate::providers::parse_object;
use crate::sse::SseParser;

fn translate(body: Value) -> Result<Value, String> {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    translate_request(&req, "qwen3-32b")
        .map(|b| serde_json::from_slice(&b).unwrap())
        .map_err(|e| e.message())
}

fn error_param(body: Value) -> (String, Option<String>) {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    match translate_request(&req, "m").unwrap_err() {
        UserError::InvalidRequest { message, param } => (message, param),
        other => panic!("unexpected {other:?}"),
    }
}

fn with(extra: Value) -> Value {
    let mut body = json!({"model": "claude", "max_tokens": 10,
        "messages": [{"role": "user", "content": "x"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[test]
fn a_simple_message_becomes_a_chat_request() {
    let out = translate(json!({
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Answer in French."}],
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 50,
        "stop_sequences": ["END"],
        "temperature": 0.7,
        "top_p": 0.9,
        "stream": true,
        "metadata": {"user_id": "u-42"},
        "service_tier": "auto",
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "model": "qwen3-32b",
            "messages": [
                {"role": "system", "content": "Be brief.\n\nAnswer in French."},
                {"role": "user", "content": "Hello"},
            ],
            "max_tokens": 50,
            "stop": ["END"],
            "temperature": 0.7,
            "top_p": 0.9,
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "u-42",
        })
    );
}

#[test]
fn optional_fields_stay_absent() {
    let out = translate(json!({"model": "m", "max_tokens": 5, "system": "",
        "stop_sequences": [], "stream": false, "metadata": {},
        "messages": [{"role": "user", "content": "x"}]}))
    .unwrap();
    assert_eq!(
        out,
        json!({"model": "qwen3-32b", "max_tokens": 5,
               "messages": [{"role": "user", "content": "x"}]})
    );
    let system = translate(with(json!({"system": "Be brief."}))).unwrap();
    assert_eq!(
        system["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
}

#[test]
fn block_content_becomes_text_or_parts() {
    let out = translate(with(json!({"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "<reminder>be kind</reminder>"},
            {"type": "text", "text": ""},
            {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello"}, {"type": "text", "text": "again"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]},
    ]})))
    .unwrap();
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "<reminder>be kind</reminder>\n\nHi"},
            {"role": "assistant", "content": "Hello\n\nagain"},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]},
        ])
    );
}

#[test]
fn tools_tool_choice_and_tool_turns_translate() {
    let out = translate(with(json!({
        "tools": [
            {"name": "get_weather", "description": "Weather by city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
             "cache_control": {"type": "ephemeral"}},
            {"type": "custom", "name": "now", "input_schema": {"type": "object"}},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": true,
                 "content": [{"type": "text", "text": "Rome is"}, {"type": "text", "text": "unreachable"}]},
                {"type": "text", "text": "Thanks"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_3", "name": "now", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3"}]},
        ],
    })))
    .unwrap();
    assert_eq!(
        out["tools"],
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}},
        ])
    );
    assert_eq!(out["tool_choice"], "required");
    assert_eq!(out["parallel_tool_calls"], false);
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: Rome is\n\nunreachable"},
            {"role": "user", "content": "Thanks"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_3", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "toolu_3", "content": ""},
        ])
    );
}

#[test]
fn every_tool_choice_form_maps() {
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let choice = |c: Value| {
        translate(with(json!({"tools": tools, "tool_choice": c}))).map(|o| {
            (
                o["tool_choice"].clone(),
                o.get("parallel_tool_calls").cloned(),
            )
        })
    };
    assert_eq!(
        choice(json!({"type": "auto"})).unwrap(),
        (json!("auto"), None)
    );
    assert_eq!(
        choice(json!({"type": "none"})).unwrap(),
        (json!("none"), None)
    );
    assert_eq!(
        choice(json!({"type": "any"})).unwrap(),
        (json!("required"), None)
    );
    assert_eq!(
        choice(json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})).unwrap(),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            Some(json!(false))
        )
    );
    // `none` with parallel use disabled: OpenAI has nothing to disable.
    assert_eq!(
        choice(json!({"type": "none", "disable_parallel_tool_use": true})).unwrap(),
        (json!("none"), None)
    );
    assert_eq!(choice(Value::Null).unwrap(), (Value::Null, None));
    assert_eq!(
        choice(json!({"type": "sometimes"})).unwrap_err(),
        "`tool_choice.type` must be one of auto, any, tool, none (got \"sometimes\")"
    );
    assert_eq!(
        choice(json!({"type": "tool"})).unwrap_err(),
        "`tool_choice.name` is required and must be a string (got nothing)"
    );
    let no_tools = translate(with(json!({"tool_choice": {"type": "auto"}}))).unwrap();
    assert!(no_tools.get("tool_choice").is_none());
    let (_, param) = error_param(with(json!({"tool_choice": {"type": "any"}})));
    assert_eq!(param.as_deref(), Some("tool_choice"));
}

#[test]
fn semantics_an_openai_backend_cannot_honour_are_refused() {
    let refused = |extra: Value| error_param(with(extra));
    assert_eq!(
        refused(json!({"top_k": 40})),
        (
            "`top_k` is not supported for this model (it is served through an OpenAI-format API)"
                .into(),
            Some("top_k".into())
        )
    );
    let (msg, param) = refused(json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}));
    assert_eq!(param.as_deref(), Some("thinking"));
    assert!(
        msg.ends_with("omit it or set {\"type\": \"disabled\"}"),
        "{msg}"
    );
    for key in ["container", "output_format", "mcp_servers"] {
        let (_, param) = refused(json!({ key: [{"x": 1}] }));
        assert_eq!(param.as_deref(), Some(key));
    }
    assert_eq!(
        refused(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]})).0,
        "`tools[0].type` \"web_search_20250305\" (a server tool) is not supported for this model (it is served through an OpenAI-format API)"
    );
    let block = |b: Value| refused(json!({"messages": [{"role": "user", "content": [b]}]})).1;
    assert_eq!(
        block(json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": ""}})).as_deref(),
        Some("messages[0].content[0].type")
    );
    assert_eq!(
        block(json!({"type": "image", "source": {"type": "file", "file_id": "f"}})).as_deref(),
        Some("messages[0].content[0].source.type")
    );
    assert_eq!(
        block(
            json!({"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]})
        )
        .as_deref(),
        Some("messages[0].content[0].content[0].type")
    );
    let (msg, param) = refused(json!({"messages": [
        {"role": "user", "content": "Give JSON"},
        {"role": "assistant", "content": "{"}]}));
    assert_eq!(param.as_deref(), Some("messages[1].content"));
    assert!(msg.contains("(a prefill)"), "{msg}");
    // Harmless forms of the same fields pass.
    let ok = translate(with(
        json!({"top_k": null, "thinking": {"type": "disabled"},
        "mcp_servers": [], "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "", "signature": "s"}]}]}),
    ));
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(ok.unwrap()["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn malformed_fields_are_named() {
    let param = |extra: Value| error_param(with(extra)).1;
    assert_eq!(
        param(json!({"messages": "hi"})).as_deref(),
        Some("messages")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "system", "content": "x"}]})).as_deref(),
        Some("messages[0].role")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "user", "content": 5}]})).as_deref(),
        Some("messages[0].content")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "user", "content": [{"text": "x"}]}]})).as_deref(),
        Some("messages[0].content[0].type")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}))
            .as_deref(),
        Some("messages[0].content[0].tool_use_id")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": [1]}]}, {"role": "user", "content": "y"}]}))
        .as_deref(),
        Some("messages[1].content[0].input")
    );
    assert_eq!(
        param(json!({"stop_sequences": [1]})).as_deref(),
        Some("stop_sequences[0]")
    );
    assert_eq!(
        param(json!({"max_tokens": -1})).as_deref(),
        Some("max_tokens")
    );
    assert_eq!(
        param(json!({"temperature": "hot"})).as_deref(),
        Some("temperature")
    );
    assert_eq!(
        param(json!({"metadata": {"user_id": 7}})).as_deref(),
        Some("metadata.user_id")
    );
    assert_eq!(
        param(json!({"tools": [{"name": "f"}]})).as_deref(),
        Some("tools[0].input_schema")
    );
    assert_eq!(
        param(json!({"system": [{"type": "image"}]})).as_deref(),
        Some("system[0].type")
    );
    assert_eq!(
        param(json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}]}))
        .as_deref(),
        Some("messages[0].content[0].is_error")
    );
}

#[test]
fn a_text_answer_becomes_a_message() {
    let body = json!({
        "id": "chatcmpl-01", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, world", "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1100, "completion_tokens": 7, "total_tokens": 1107,
                  "prompt_tokens_details": {"cached_tokens": 1000}},
    });
    assert_eq!(
        translate_response(&body, "claude-via-gpt"),
        json!({
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-via-gpt",
            "content": [{"type": "text", "text": "Hello, world"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 100, "output_tokens": 7,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1000},
        })
    );
}

/// The gateway's metering reads Anthropic usage as input + cache reads: the translated
/// usage must add back up to OpenAI's `prompt_tokens`.
#[test]
fn translated_usage_meters_like_the_original() {
    let body = json!({"choices": [], "usage": {"prompt_tokens": 1100, "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 1000}}});
    let original = crate::providers::openai::read_response(&body).usage;
    let translated =
        crate::providers::anthropic::read_response(&translate_response(&body, "m")).usage;
    assert_eq!(translated, original);
    let empty = translate_response(&json!({}), "m");
    assert_eq!(empty["content"], json!([]));
    assert_eq!(empty["stop_reason"], Value::Null);
    assert_eq!(empty["id"], "msg_unknown");
    assert_eq!(
        empty["usage"],
        json!({"input_tokens": 0, "output_tokens": 0,
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
}

#[test]
fn finish_reasons_map_to_stop_reasons() {
    let answer = |choice: Value| {
        let out = translate_response(&json!({"choices": [choice]}), "m");
        (out["stop_reason"].clone(), out["stop_sequence"].clone())
    };
    for (finish, stop) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("eos", "end_turn"),
    ] {
        assert_eq!(
            answer(json!({"message": {"content": "x"}, "finish_reason": finish})),
            (json!(stop), Value::Null),
            "{finish}"
        );
    }
    // vLLM names the stop string that matched; a stop token id is not a sequence.
    assert_eq!(
        answer(json!({"message": {"content": "x"}, "finish_reason": "stop", "stop_reason": "END"})),
        (json!("stop_sequence"), json!("END"))
    );
    assert_eq!(
        answer(
            json!({"message": {"content": "x"}, "finish_reason": "stop", "stop_reason": 128009})
        ),
        (json!("end_turn"), Value::Null)
    );
    // Ollama finishes tool calls with `stop`.
    assert_eq!(
        answer(json!({"message": {"content": null, "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "stop"})),
        (json!("tool_use"), Value::Null)
    );
    let refused = translate_response(
        &json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that."},
            "finish_reason": "stop"}]}),
        "m",
    );
    assert_eq!(
        refused["content"],
        json!([{"type": "text", "text": "I can't help with that."}])
    );
    assert_eq!(refused["stop_reason"], "refusal");
}

#[test]
fn tool_calls_become_tool_use_blocks() {
    let body = json!({"id": "chatcmpl-T", "choices": [{"index": 0, "finish_reason": "tool_calls",
    "message": {"role": "assistant", "content": "Let me check.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
        {"type": "function", "function": {"name": "broken", "arguments": "{\"city\": \"Par"}},
        {"id": "call_4", "type": "function", "function": {"name": "listy", "arguments": "[1]"}},
    ]}}]});
    let out = translate_response(&body, "m");
    assert_eq!(
        out["content"],
        json!([
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
            {"type": "tool_use", "id": "toolu_T_2", "name": "broken",
             "input": {"_raw_arguments": "{\"city\": \"Par"}},
            {"type": "tool_use", "id": "call_4", "name": "listy", "input": {"_raw_arguments": "[1]"}},
        ])
    );
    assert_eq!(out["stop_reason"], "tool_use");
}

/// Anthropic request with tools -> OpenAI; OpenAI's tool call answer -> Anthropic; that
/// answer and the tool's result sent back -> the ids pair up on OpenAI's side.
#[test]
fn tools_round_trip() {
    let tools = json!([{"name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let first = json!({"model": "m", "max_tokens": 100, "tools": tools,
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let req = parse_object(first.to_string().as_bytes()).unwrap();
    let upstream: Value =
        serde_json::from_slice(&request::translate_request(&req, "gpt-4o").unwrap()).unwrap();
    assert_eq!(upstream["tools"][0]["function"]["name"], "get_weather");

    let answer = json!({"id": "chatcmpl-2", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 15}});
    let message = translate_response(&answer, "m");
    assert_eq!(message["stop_reason"], "tool_use");

    let second = json!({"model": "m", "max_tokens": 100, "tools": tools, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_9", "content": "18C"}]},
    ]});
    let req = parse_object(second.to_string().as_bytes()).unwrap();
    let upstream: Value =
        serde_json::from_slice(&request::translate_request(&req, "gpt-4o").unwrap()).unwrap();
    assert_eq!(
        upstream["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "18C"},
        ])
    );
}

fn error_of(status: u32, body: &str) -> Value {
    serde_json::from_slice(&translate_error(status, body.as_bytes())).unwrap()
}

#[test]
fn errors_map_to_anthropic_envelopes() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "billing_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (418, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "timeout_error"),
        (529, "overloaded_error"),
    ] {
        let body = json!({"error": {"message": "Details here", "type": "whatever", "param": null, "code": null}});
        assert_eq!(
            error_of(status, &body.to_string()),
            json!({"type": "error", "error": {"type": kind, "message": "Details here"}}),
            "{status}"
        );
    }
    // Ollama's and older vLLM's shapes.
    assert_eq!(
        error_of(
            404,
            r#"{"error":"model \"llama9\" not found, try pulling it first"}"#
        )["error"],
        json!({"type": "not_found_error", "message": "model \"llama9\" not found, try pulling it first"})
    );
    assert_eq!(
        error_of(
            400,
            r#"{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}"#
        )["error"]["message"],
        "max_tokens is too large"
    );
}

#[test]
fn non_json_errors_are_wrapped() {
    let e = error_of(
        503,
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
    );
    assert_eq!(
        e,
        json!({"type": "error", "error": {"type": "overloaded_error", "message":
            "The upstream provider returned HTTP 503: upstream connect error or disconnect/reset before headers. reset reason: connection failure"}})
    );
    assert_eq!(
        error_of(429, "")["error"]["message"],
        "The upstream provider returned HTTP 429 with an empty body"
    );
    let long = "\u{e9}".repeat(1000);
    let msg = error_of(502, &long)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.ends_with(&format!("{}...", "\u{e9}".repeat(200))),
        "{msg}"
    );
    // JSON that is not an error envelope is wrapped too.
    assert_eq!(
        error_of(404, "{\"detail\":\"no\"}")["error"]["message"],
        "The upstream provider returned HTTP 404: {\"detail\":\"no\"}"
    );
}

/// A stream as OpenAI sends it with `include_usage`: role chunk, text with multi-byte
/// characters, a comment, CRLF line ends, two tool calls whose arguments arrive in
/// pieces, the finish chunk, the usage chunk with cached tokens, `[DONE]`.
const STREAM: &str = concat!(
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    ": keep-alive\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Caf\u{e9} \u{2615}, \"},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"let me check \u{1F50D}\\n\"},\"finish_reason\":null}],\"usage\":null}\r\n\r\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_A\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\": \\\"Par\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"is\\\"}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":1025,\"completion_tokens\":89,\"total_tokens\":1114,\"prompt_tokens_details\":{\"cached_tokens\":1000}}}\n\n",
    "data: [DONE]\n\n",
);

/// The same answer as one chat.completion.
fn stream_as_body() -> Value {
    json!({"id": "chatcmpl-S1", "choices": [{"index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "Caf\u{e9} \u{2615}, let me check \u{1F50D}\n", "tool_calls": [
            {"id": "call_A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_B", "type": "function", "function": {"name": "now", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 1025, "completion_tokens": 89, "total_tokens": 1114,
                  "prompt_tokens_details": {"cached_tokens": 1000}}})
}

fn run(chunks: &[&[u8]]) -> Vec<u8> {
    let mut t = StreamTranslator::new("claude", "seed");
    let mut out = Vec::new();
    for c in chunks {
        let piece = t.feed(c);
        assert_is_whole_sse(&piece);
        out.extend(piece);
    }
    let end = t.finish();
    assert_is_whole_sse(&end);
    out.extend(end);
    out
}

/// Every output piece is whole events, each named by its `type` with one JSON `data:`
/// line (the SDK skips events without a name).
fn assert_is_whole_sse(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("output is UTF-8");
    if text.is_empty() {
        return;
    }
    assert!(text.ends_with("\n\n"), "{text:?}");
    for event in text[..text.len() - 2].split("\n\n") {
        let (name, data) = event.split_once('\n').expect("two lines");
        let name = name.strip_prefix("event: ").expect("an event line");
        let data = data.strip_prefix("data: ").expect("a data line");
        assert!(!data.contains('\n'));
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["type"], name);
    }
}

fn events(bytes: &[u8]) -> Vec<Value> {
    let mut p = SseParser::new();
    p.feed(bytes);
    let mut out = Vec::new();
    while let Some(e) = p.next_event() {
        out.push(serde_json::from_str(&e.data).unwrap());
    }
    assert!(p.finish().is_none());
    out
}

/// The message the `anthropic` SDK builds from the events (`accumulate_event` in
/// anthropic 2.14: blocks appended at content_block_start, deltas applied to
/// `content[index]`, tool input parsed from the joined partial JSON, message_delta's
/// usage written over the start's).
fn accumulate(events: &[Value]) -> Value {
    let mut message = Value::Null;
    let mut json_bufs: Vec<(u64, String)> = Vec::new();
    for e in events {
        match e["type"].as_str().unwrap() {
            "message_start" => {
                assert!(message.is_null(), "one message_start");
                message = e["message"].clone();
            }
            kind => {
                assert!(!message.is_null(), "{kind} before message_start");
                let index = e["index"].as_u64().unwrap_or(0);
                match kind {
                    "content_block_start" => {
                        let content = message["content"].as_array_mut().unwrap();
                        assert_eq!(content.len() as u64, index, "blocks in order");
                        content.push(e["content_block"].clone());
                    }
                    "content_block_delta" => {
                        let block = &mut message["content"][index as usize];
                        let delta = &e["delta"];
                        match delta["type"].as_str().unwrap() {
                            "text_delta" => {
                                let text = format!(
                                    "{}{}",
                                    block["text"].as_str().unwrap(),
                                    delta["text"].as_str().unwrap()
                                );
                                block["text"] = text.into();
                            }
                            "input_json_delta" => {
                                let buf = match json_bufs.iter_mut().find(|(i, _)| *i == index) {
                                    Some((_, buf)) => buf,
                                    None => {
                                        json_bufs.push((index, String::new()));
                                        &mut json_bufs.last_mut().unwrap().1
                                    }
                                };
                                buf.push_str(delta["partial_json"].as_str().unwrap());
                                if let Ok(v) = serde_json::from_str::<Value>(buf) {
                                    block["input"] = v;
                                }
                            }
                            other => panic!("delta {other}"),
                        }
                    }
                    "content_block_stop" => {
                        assert!(index < message["content"].as_array().unwrap().len() as u64)
                    }
                    "message_delta" => {
                        message["stop_reason"] = e["delta"]["stop_reason"].clone();
                        message["stop_sequence"] = e["delta"]["stop_sequence"].clone();
                        for (k, v) in e["usage"].as_object().unwrap() {
                            message["usage"][k] = v.clone();
                        }
                    }
                    "message_stop" => {}
                    other => panic!("event {other}"),
                }
            }
        }
    }
    message
}

#[test]
fn a_stream_translates_to_events() {
    let out = events(&run(&[STREAM.as_bytes()]));
    let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_eq!(
        out[0]["message"],
        json!({"id": "msg_S1", "type": "message", "role": "assistant", "model": "claude",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
    );
    assert_eq!(
        out[1],
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(
        out[2]["delta"],
        json!({"type": "text_delta", "text": "Caf\u{e9} \u{2615}, "})
    );
    assert_eq!(
        out[5],
        json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "tool_use", "id": "call_A", "name": "get_weather", "input": {}}})
    );
    assert_eq!(
        out[6],
        json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Par"}})
    );
    assert_eq!(out[8], json!({"type": "content_block_stop", "index": 1}));
    assert_eq!(out[9]["content_block"]["id"], "call_B");
    assert_eq!(out[9]["index"], 2);
    assert_eq!(
        out[12],
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"input_tokens": 25, "output_tokens": 89,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1000}})
    );
}

#[test]
fn every_split_point_gives_the_same_output() {
    let bytes = STREAM.as_bytes();
    let whole = run(&[bytes]);
    for i in 0..=bytes.len() {
        assert_eq!(run(&[&bytes[..i], &bytes[i..]]), whole, "split at {i}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(run(&singles), whole);
    // What the SDK accumulates is the plain translation of the same answer.
    assert_eq!(
        accumulate(&events(&whole)),
        translate_response(&stream_as_body(), "claude")
    );
}

#[test]
fn a_cut_stream_ends_with_an_error_event() {
    let bytes = STREAM.as_bytes();
    let finish = STREAM.find("data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\"").unwrap();
    for cut in [0, 10, 200, 600, finish - 5, finish, finish + 20] {
        let out = events(&run(&[&bytes[..cut]]));
        let last = out.last().unwrap();
        assert_eq!(
            *last,
            json!({"type": "error", "error": {"type": "api_error",
                "message": "The upstream stream ended before the response was complete"}}),
            "cut at {cut}"
        );
        assert!(
            out.iter().all(|e| e["type"] != "message_stop"),
            "cut at {cut}"
        );
    }
    // A finish_reason without [DONE] is a whole answer; only the usage chunk is missing.
    let usage_at = STREAM
        .find("data: {\"id\":\"chatcmpl-S1\",\"object\":\"chat.completion.chunk\",\"choices\":[],")
        .unwrap();
    let out = events(&run(&[&bytes[..usage_at]]));
    let n = out.len();
    assert_eq!(out[n - 1]["type"], "message_stop");
    assert_eq!(out[n - 2]["delta"]["stop_reason"], "tool_use");
    assert_eq!(out[n - 2]["usage"], json!({"output_tokens": 0}));
    // Only the final blank line missing: [DONE] still counts.
    let out = events(&run(&[&bytes[..bytes.len() - 1]]));
    assert_eq!(out.last().unwrap()["type"], "message_stop");
    assert_eq!(out[out.len() - 2]["usage"]["output_tokens"], 89);
}

#[test]
fn an_error_object_ends_the_stream() {
    let stream = concat!(
        "data: {\"id\":\"chatcmpl-E\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
        "data: {\"id\":\"chatcmpl-E\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let mut t = StreamTranslator::new("claude", "seed");
    let mut out = t.feed(stream.as_bytes());
    assert!(t.is_done());
    out.extend(t.finish());
    out.extend(t.feed(b"data: {\"choices\":[]}\n\n"));
    let out = events(&out);
    assert_eq!(out.len(), 4, "{out:#?}");
    assert_eq!(out[2]["delta"]["text"], "Hi");
    assert_eq!(
        out[3],
        json!({"type": "error", "error": {"type": "api_error",
            "message": "The server had an error while processing your request."}})
    );
    // vLLM puts the status in `code`; OpenAI names rate limits in `type`.
    for (error, kind) in [
        (
            json!({"message": "m", "type": "BadRequestError", "code": 400}),
            "invalid_request_error",
        ),
        (
            json!({"message": "m", "type": "tokens", "code": "rate_limit_exceeded"}),
            "rate_limit_error",
        ),
        (json!("m"), "api_error"),
    ] {
        let out = events(&run(&[
            format!("data: {}\n\n", json!({"error": error})).as_bytes()
        ]));
        assert_eq!(
            out,
            [json!({"type": "error", "error": {"type": kind, "message": "m"}})]
        );
    }
    // Garbage from upstream is an error too, never a silent end.
    let out = events(&run(&[b"data: <html>\n\n"]));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["type"], "error");
}

#[test]
fn backends_that_differ_from_openai_still_translate() {
    // Ollama: a whole tool call in one chunk, `stop` as finish reason, usage beside it,
    // and no blank line after [DONE].
    let ollama = concat!(
        "data: {\"id\":\"chatcmpl-42\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",",
        "\"tool_calls\":[{\"id\":\"call_x\",\"index\":0,\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-42\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\"}],",
        "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3,\"total_tokens\":13}}\n\n",
        "data: [DONE]",
    );
    let message = accumulate(&events(&run(&[ollama.as_bytes()])));
    assert_eq!(
        message["content"],
        json!([{"type": "tool_use", "id": "call_x", "name": "f", "input": {"a": 1}}])
    );
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["usage"]["input_tokens"], 10);
    // No ids and no tool call `index`: the message and calls are named from the seed.
    let bare = concat!(
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let message = accumulate(&events(&run(&[bare.as_bytes()])));
    assert_eq!(message["id"], "msg_seed");
    assert_eq!(
        message["content"],
        json!([{"type": "tool_use", "id": "toolu_seed_0", "name": "f", "input": {}}])
    );
    assert_eq!(message["stop_reason"], "max_tokens");
    // A refusal streams as text and stops as a refusal.
    let refusal = concat!(
        "data: {\"id\":\"chatcmpl-R\",\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"No.\"}}]}\n\n",
        "data: {\"id\":\"chatcmpl-R\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let message = accumulate(&events(&run(&[refusal.as_bytes()])));
    assert_eq!(message["content"], json!([{"type": "text", "text": "No."}]));
    assert_eq!(message["stop_reason"], "refusal");
    // [DONE] alone still makes a well-formed, empty message.
    let message = accumulate(&events(&run(&[b"data: [DONE]\n\n"])));
    assert_eq!(message["content"], json!([]));
    assert_eq!(message["stop_reason"], "end_turn");
}

#[test]
fn interleaved_tool_calls_are_an_error_not_a_wrong_answer() {
    let stream = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n",
    );
    let out = events(&run(&[stream.as_bytes()]));
    assert_eq!(out.last().unwrap()["type"], "error");
    assert!(out.iter().all(|e| e["type"] != "message_stop"));
}
