//! Tests of the Responses wire format: validation, usage of answers and streams, the
//! chat view the counter reads, the texts the guard reads.

use serde_json::{json, Value};

use super::*;
use crate::api::Api;
use crate::errors::UserError;
use crate::providers::parse_object;
use crate::tokens::{count_openai_chat, count_text, Encoding};
use crate::usage::meter::ResponseMeter;

fn check(body: Value) -> Result<RequestSummary, (String, Option<String>)> {
    let req = parse_object(body.to_string().as_bytes()).unwrap();
    validate_request(&req).map_err(|e| match e {
        UserError::InvalidRequest { message, param } => (message, param),
        other => (other.message(), None),
    })
}

fn every_item_kind() -> Value {
    json!({
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "What is the weather in Paris?"},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Use metric units."}]},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "And this picture?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Look up the weather."}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C and sunny"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is 18C.", "annotations": []}]},
            {"type": "item_reference", "id": "msg_0"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather by city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                  {"type": "web_search"}],
        "stream": true,
        "max_output_tokens": 300,
        "previous_response_id": "resp_0",
        "store": false,
        "include": ["reasoning.encrypted_content"],
    })
}

#[test]
fn accepts_every_input_item_kind() {
    assert_eq!(
        check(every_item_kind()).unwrap(),
        RequestSummary {
            max_output_field: "max_output_tokens",
            model: "gpt-4o".into(),
            stream: true,
            client_wants_stream_usage: true,
            max_output_tokens: Some(300),
        }
    );
    let plain = check(json!({"model": "gpt-4o", "input": "hi"})).unwrap();
    assert!(!plain.stream && plain.max_output_tokens.is_none());
    // A continuation may leave `input` out.
    check(json!({"model": "gpt-4o", "previous_response_id": "resp_1"})).unwrap();
}

#[test]
fn rejects_bad_input_naming_the_field() {
    let cases = [
        (json!({"input": "hi"}), "`model` is required and must be a string (got nothing)", "model"),
        (json!({"model": "m"}), "`input` is required and must be a string or an array of input items (got nothing)", "input"),
        (json!({"model": "m", "input": 5}), "`input` is required and must be a string or an array of input items (got number)", "input"),
        (json!({"model": "m", "input": [7]}), "`input[0]` must be an object (got number)", "input[0]"),
        (json!({"model": "m", "input": [{"content": "x"}]}), "`input[0].type` is required and must be a string (or the item a message with a `role`) (got nothing)", "input[0].type"),
        (json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}), "`input[0].role` must be one of user, assistant, system, developer (got \"robot\")", "input[0].role"),
        (json!({"model": "m", "input": [{"role": "user"}]}), "`input[0].content` is required and must be a string or an array of content parts (got nothing)", "input[0].content"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}), "`input[0].content[0].text` is required and must be a string (got nothing)", "input[0].content[0].text"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"text": "x"}]}]}), "`input[0].content[0].type` is required and must be a string (got nothing)", "input[0].content[0].type"),
        (json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": {"url": "x"}}]}]}), "`input[0].content[0].image_url` must be a string (got object)", "input[0].content[0].image_url"),
        (json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]}), "`input[0].arguments` is required and must be a string (got object)", "input[0].arguments"),
        (json!({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]}), "`input[0].call_id` is required and must be a string (got nothing)", "input[0].call_id"),
        (json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": 1}]}), "`input[0].output` is required and must be a string or an array of content parts (got number)", "input[0].output"),
        (json!({"model": "m", "input": [{"type": "reasoning", "summary": [{"type": "summary_text"}]}]}), "`input[0].summary[0].text` is required and must be a string (got nothing)", "input[0].summary[0].text"),
        (json!({"model": "m", "input": "x", "instructions": ["a"]}), "`instructions` must be a string (got array)", "instructions"),
        (json!({"model": "m", "input": "x", "tools": {}}), "`tools` must be an array (got object)", "tools"),
        (json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}), "`tools[0].name` is required and must be a string (got nothing)", "tools[0].name"),
        (json!({"model": "m", "input": "x", "stream": "yes"}), "`stream` must be a boolean (got string)", "stream"),
        (json!({"model": "m", "input": "x", "max_output_tokens": -1}), "`max_output_tokens` must be a non-negative integer (got number)", "max_output_tokens"),
        (json!({"model": "m", "input": "x", "previous_response_id": 3}), "`previous_response_id` must be a string (got number)", "previous_response_id"),
    ];
    for (body, message, param) in cases {
        let (m, p) = check(body.clone()).unwrap_err();
        assert_eq!(m, message, "{body}");
        assert_eq!(p.as_deref(), Some(param), "{body}");
    }
    // The OpenAI envelope, as the SDK raises it.
    let e = validate_request(&parse_object(br#"{"model":"m"}"#).unwrap()).unwrap_err();
    let v: Value = serde_json::from_slice(&e.envelope(Api::OpenAiResponses)).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], "input");
}

#[test]
fn the_chat_view_counts_as_the_chat_request_it_amounts_to() {
    let req = parse_object(every_item_kind().to_string().as_bytes()).unwrap();
    let view = chat_view(&req);
    let chat = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the weather in Paris?"},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": "And this picture?"},
            {"role": "assistant", "content": "Look up the weather."},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
            {"role": "assistant", "content": "It is 18C."},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    });
    assert_eq!(Value::Object(view.clone()), chat);
    // A string input is one user message: 3 per message, the role, the text, 3 priming.
    let hello = parse_object(br#"{"model":"gpt-4o","input":"Hello, gateway!"}"#).unwrap();
    let expected = 3 + 1 + count_text(Encoding::O200kBase, "Hello, gateway!") + 3;
    assert_eq!(count_openai_chat("gpt-4o", &chat_view(&hello)), expected);
}

#[test]
fn input_texts_name_every_text_the_model_reads() {
    let body = every_item_kind();
    let spots = input_texts(&body);
    let seen: Vec<(Option<usize>, InputText, &str)> = spots
        .iter()
        .map(|s| {
            (
                s.item,
                s.kind,
                body.pointer(&s.pointer).unwrap().as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (None, InputText::System, "Be brief."),
            (Some(0), InputText::User, "What is the weather in Paris?"),
            (Some(1), InputText::System, "Use metric units."),
            (Some(2), InputText::User, "And this picture?"),
            (Some(3), InputText::Assistant, "Look up the weather."),
            (Some(4), InputText::ToolArguments, "{\"city\":\"Paris\"}"),
            (Some(5), InputText::ToolOutput, "18C and sunny"),
            (Some(6), InputText::Assistant, "It is 18C."),
        ]
    );
    let obj = body.as_object().unwrap();
    assert_eq!(spots[3].text_in(obj), Some("And this picture?"));
    assert_eq!(spots[0].text_in(obj), Some("Be brief."));
    assert_eq!(item_text(&body, Some(2)), "And this picture?");
    let string_input = json!({"model": "m", "input": "just this"});
    let spots = input_texts(&string_input);
    assert_eq!(spots.len(), 1);
    assert_eq!(
        spots[0].text_in(string_input.as_object().unwrap()),
        Some("just this")
    );
}

#[test]
fn reads_usage_text_and_model_of_a_whole_answer() {
    let body = json!({"id": "resp_1", "object": "response", "model": "gpt-4o-2024-08-06", "status": "completed",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi there", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"},
        ],
        "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4},
                  "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 17}});
    let p = read_response(&body);
    assert_eq!(
        p.usage,
        Some(ProviderUsage {
            input: Some(12),
            output: Some(5),
            cached_input: 4,
            cache_write: 0
        })
    );
    assert_eq!(p.text, "Hi theref{}");
    assert_eq!(p.model.as_deref(), Some("gpt-4o-2024-08-06"));
}

/// A Responses stream as OpenAI sends it: text, then a function call, usage at the end.
pub(crate) const STREAM: &str = concat!(
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"gpt-4o-2024-08-06\",\"output\":[],\"usage\":null}}\n\n",
    "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"gpt-4o-2024-08-06\",\"output\":[],\"usage\":null}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\",\"logprobs\":[]}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo\",\"logprobs\":[]}\n\n",
    "event: response.output_text.done\ndata: {\"type\":\"response.output_text.done\",\"sequence_number\":6,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello\",\"logprobs\":[]}\n\n",
    "event: response.content_part.done\ndata: {\"type\":\"response.content_part.done\",\"sequence_number\":7,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":8,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":9,\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"in_progress\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"\"}}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":10,\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\"{\\\"city\\\":\"}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":11,\"item_id\":\"fc_1\",\"output_index\":1,\"delta\":\"\\\"Paris\\\"}\"}\n\n",
    "event: response.function_call_arguments.done\ndata: {\"type\":\"response.function_call_arguments.done\",\"sequence_number\":12,\"item_id\":\"fc_1\",\"output_index\":1,\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"sequence_number\":13,\"output_index\":1,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":14,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\",\"model\":\"gpt-4o-2024-08-06\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]},{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}],\"usage\":{\"input_tokens\":20,\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":9,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":29}}}\n\n",
);

#[test]
fn a_stream_reads_the_same_at_every_split_point() {
    let bytes = STREAM.as_bytes();
    for split in 0..=bytes.len() {
        let mut meter = ResponseMeter::new(
            Api::OpenAiResponses,
            200,
            Some("text/event-stream"),
            1 << 20,
        );
        meter.feed(&bytes[..split], 1);
        meter.feed(&bytes[split..], 2);
        assert!(meter.stream_ended_explicitly(), "split {split}");
        assert_eq!(meter.next_sequence(), 15, "split {split}");
        let out = meter.finish(3);
        assert!(!out.cut, "split {split}");
        assert_eq!(
            out.usage,
            ProviderUsage {
                input: Some(20),
                output: Some(9),
                cached_input: 8,
                cache_write: 0
            },
            "split {split}"
        );
        assert_eq!(out.generated_text, "Helloget_weather{\"city\":\"Paris\"}");
        assert_eq!(out.response_model.as_deref(), Some("gpt-4o-2024-08-06"));
    }
}

#[test]
fn a_stream_without_its_final_event_is_cut_and_errors_end_it() {
    let cut_at = STREAM.find("event: response.completed").unwrap();
    let mut meter = ResponseMeter::new(
        Api::OpenAiResponses,
        200,
        Some("text/event-stream"),
        1 << 20,
    );
    meter.feed(&STREAM.as_bytes()[..cut_at], 1);
    assert!(!meter.stream_ended_explicitly());
    assert_eq!(meter.next_sequence(), 14);
    let out = meter.finish(2);
    assert!(out.cut);
    assert_eq!(out.usage.input, None);

    for (event, end) in [
        (
            json!({"type": "error", "code": "server_error", "message": "boom", "sequence_number": 3}),
            StreamEnd::Error,
        ),
        (
            json!({"type": "response.failed", "sequence_number": 3, "response": {"id": "r", "status": "failed",
            "error": {"code": "server_error", "message": "boom"}, "usage": null}}),
            StreamEnd::Error,
        ),
        (
            json!({"type": "response.incomplete", "sequence_number": 3, "response": {"id": "r", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"}, "usage": {"input_tokens": 3, "output_tokens": 16}}}),
            StreamEnd::Done,
        ),
    ] {
        let piece = read_stream_event(&event);
        assert_eq!(piece.end, Some(end), "{event}");
        assert_eq!(piece.sequence, Some(3));
        assert!(starts_answer(&event));
    }
    let delta = json!({"type": "response.output_text.delta", "delta": "x", "sequence_number": 1});
    assert!(starts_answer(&delta));
    let created = json!({"type": "response.created", "sequence_number": 0, "response": {"id": "r", "model": "m"}});
    assert!(!starts_answer(&created));
    assert_eq!(read_stream_event(&created).model.as_deref(), Some("m"));
}
