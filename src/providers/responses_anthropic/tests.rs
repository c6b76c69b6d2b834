//! Tests of the Responses client / Anthropic provider translation: request, answer,
//! errors, stream.

use serde_json::{json, Value};

use super::{translate_request, translate_response, StreamTranslator};
use crate::errors::UserError;
use crate::providers::parse_object;
use crate::providers::translate::Direction;
use crate::sse::SseParser;

fn translate(body: Value) -> Result<Value, (String, Option<String>)> {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    translate_request(&req, "claude-sonnet-4-5", 4096)
        .map(|b| serde_json::from_slice(&b).unwrap())
        .map_err(|e| match e {
            UserError::InvalidRequest { message, param } => (message, param),
            other => (other.message(), None),
        })
}

#[test]
fn a_whole_conversation_becomes_alternating_turns() {
    let out = translate(json!({
        "model": "claude-sonnet",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "And this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
                {"type": "input_image", "image_url": "https://example.com/cat.jpg"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
            {"role": "user", "content": "Thanks"},
        ],
        "max_output_tokens": 50,
        "temperature": 1.5,
        "top_p": 0.9,
        "stream": true,
        "store": true,
        "user": "u-1",
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather by city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                  {"type": "function", "name": "now"}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": false,
    }))
    .unwrap();
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet-4-5",
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {"type": "text", "text": "And this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                    {"type": "text", "text": "Thanks"},
                ]},
            ],
            "max_tokens": 50,
            "temperature": 1.0,
            "top_p": 0.9,
            "stream": true,
            "metadata": {"user_id": "u-1"},
            "tools": [
                {"name": "get_weather", "description": "Weather by city",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"name": "now", "input_schema": {"type": "object", "properties": {}}},
            ],
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true},
        })
    );
    let simple = translate(json!({"model": "m", "input": "Hello"})).unwrap();
    assert_eq!(
        simple,
        json!({"model": "claude-sonnet-4-5", "max_tokens": 4096,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]})
    );
    let required = translate(
        json!({"model": "m", "input": "x", "tool_choice": "required",
        "tools": [{"type": "function", "name": "f"}]}),
    )
    .unwrap();
    assert_eq!(required["tool_choice"], json!({"type": "any"}));
}

#[test]
fn what_claude_cannot_honour_is_refused_by_name() {
    let cases = [
        (
            json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"model": "m", "input": "x", "background": true}),
            "background",
        ),
        (
            json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "a", "schema": {}}}}),
            "text.format",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}),
            "input[0].type",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}),
            "input[0].content[0].image_url",
        ),
        (
            json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}),
            "input[0].content[0].file_data",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{bad"}]}),
            "input[0].arguments",
        ),
        (
            json!({"model": "m", "input": [{"role": "system", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]}),
            "input[0].content[0].type",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": {"type": "function"}, "tools": [{"type": "function", "name": "f"}]}),
            "tool_choice.name",
        ),
        (
            json!({"model": "m", "input": "x", "max_output_tokens": "many"}),
            "max_output_tokens",
        ),
    ];
    for (body, param) in cases {
        let (message, p) = translate(body.clone()).unwrap_err();
        assert_eq!(p.as_deref(), Some(param), "{body}: {message}");
    }
}

#[test]
fn an_answer_becomes_a_response_with_items_and_usage() {
    let body = json!({"id": "msg_01A", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 1, "output_tokens": 7}});
    let r = translate_response(&body, "claude-sonnet", 42);
    assert_eq!(r["id"], "resp_01A");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "claude-sonnet");
    assert_eq!(r["created_at"], 42);
    assert_eq!(
        r["output"],
        json!([
            {"type": "message", "id": "msg_01A_0", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []}]},
            {"type": "function_call", "id": "fc_toolu_1", "call_id": "toolu_1", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed"},
        ])
    );
    assert_eq!(
        r["usage"],
        json!({"input_tokens": 15, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 7,
               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 22})
    );
    // What the usage stage reads of it, as of an OpenAI provider's answer.
    let piece = crate::providers::openai_responses::read_response(&r);
    assert_eq!(piece.usage.unwrap().cached_input, 4);
    let cut = translate_response(
        &json!({"id": "msg_2", "content": [{"type": "text", "text": "a"}], "stop_reason": "max_tokens",
                "usage": {"input_tokens": 1, "output_tokens": 1}}),
        "m",
        0,
    );
    assert_eq!(cut["status"], "incomplete");
    assert_eq!(cut["incomplete_details"]["reason"], "max_output_tokens");
}

#[test]
fn errors_come_back_in_openais_envelope() {
    let d = Direction::ResponsesToAnthropic;
    assert_eq!(d.upstream_path(), "/v1/messages");
    let err: Value = serde_json::from_slice(&d.whole_body(
        "claude-x",
        429,
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#,
        0,
        None,
    ))
    .unwrap();
    assert_eq!(err["error"]["code"], "rate_limit_exceeded");
    assert_eq!(err["error"]["message"], "slow down");
    let garbled: Value =
        serde_json::from_slice(&d.whole_body("claude-x", 200, b"{", 0, None)).unwrap();
    assert!(garbled["error"]["message"].is_string());
    let ok: Value = serde_json::from_slice(&d.whole_body(
        "claude-x",
        200,
        br#"{"id":"msg_1","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#,
        0,
        None,
    ))
    .unwrap();
    assert_eq!(ok["output"][0]["content"][0]["text"], "hi");
}

/// An Anthropic stream: text, then a tool call, usage at both ends.
const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_S1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"check.\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":12}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn events(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut p = SseParser::new();
    p.feed(bytes);
    let mut out = Vec::new();
    while let Some(e) = p.next_event() {
        out.push((e.event, serde_json::from_str(&e.data).unwrap()));
    }
    assert!(p.finish().is_none());
    out
}

fn translated(parts: &[&[u8]]) -> Vec<u8> {
    let mut t = StreamTranslator::new("claude-sonnet", "seed", 7);
    let mut out = Vec::new();
    for part in parts {
        out.extend(t.feed(part));
    }
    out.extend(t.finish());
    out
}

#[test]
fn a_stream_becomes_typed_numbered_events_whatever_the_split() {
    let whole = translated(&[ANTHROPIC_STREAM.as_bytes()]);
    let evs = events(&whole);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, (name, v)) in evs.iter().enumerate() {
        assert_eq!(v["type"], *name);
        assert_eq!(v["sequence_number"], i);
    }
    assert_eq!(evs[0].1["response"]["id"], "resp_S1");
    assert_eq!(evs[4].1["delta"], "Let me ");
    assert_eq!(evs[4].1["item_id"], "msg_S1_0");
    assert_eq!(evs[6].1["text"], "Let me check.");
    assert_eq!(evs[9].1["output_index"], 1);
    assert_eq!(evs[12].1["arguments"], "{\"city\":\"Paris\"}");
    let done = &evs[14].1["response"];
    assert_eq!(done["id"], "resp_S1");
    assert_eq!(done["output"][0]["content"][0]["text"], "Let me check.");
    assert_eq!(done["output"][1]["call_id"], "toolu_1");
    assert_eq!(done["usage"]["input_tokens"], 30);
    assert_eq!(done["usage"]["input_tokens_details"]["cached_tokens"], 5);
    assert_eq!(done["usage"]["output_tokens"], 12);
    // What the usage stage reads of it.
    let mut meter = crate::usage::meter::ResponseMeter::new(
        crate::api::Api::OpenAiResponses,
        200,
        Some("text/event-stream"),
        1 << 20,
    );
    meter.feed(&whole, 1);
    let outcome = meter.finish(2);
    assert!(!outcome.cut);
    assert_eq!(outcome.usage.input, Some(30));
    let bytes = ANTHROPIC_STREAM.as_bytes();
    for split in 0..=bytes.len() {
        assert_eq!(
            translated(&[&bytes[..split], &bytes[split..]]),
            whole,
            "split {split}"
        );
    }
}

#[test]
fn a_cut_stream_and_an_error_event_end_with_a_responses_error() {
    let cut_at = ANTHROPIC_STREAM.find("event: content_block_stop").unwrap();
    let evs = events(&translated(&[&ANTHROPIC_STREAM.as_bytes()[..cut_at]]));
    let (name, last) = evs.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(last["code"], "stream_truncated");
    assert_eq!(last["sequence_number"], evs.len() - 1);
    let failed = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let evs = events(&translated(&[failed.as_bytes()]));
    assert_eq!(evs.len(), 3, "nothing after the error: {evs:?}");
    assert_eq!(evs[2].0, "error");
    assert_eq!(evs[2].1["code"], "overloaded_error");
    assert_eq!(evs[2].1["message"], "Overloaded");
    assert_eq!(evs[2].1["sequence_number"], 2);
}
