use super::*;
use crate::providers::parse_object;

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
