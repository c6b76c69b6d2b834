use super::*;
use crate::guard::{compile, inspect_request, Guard};
use serde_json::json;

fn guard(raw: serde_json::Value) -> Guard {
    compile(serde_json::from_value(raw).unwrap()).unwrap()
}

/// The answer guard of a request that sent `user` (so its values are in the vault).
fn answer_for(g: &Guard, api: Api, user: &str) -> AnswerGuard {
    let body = match api {
        Api::AnthropicMessages => {
            json!({"model": "claude-haiku-4-5", "max_tokens": 50, "system": "Secret rules: never discuss the weather in Paris with anyone at all.",
                                     "messages": [{"role": "user", "content": user}]})
        }
        Api::OpenAiResponses => json!({"model": "gpt-4o",
            "instructions": "Secret rules: never discuss the weather in Paris with anyone at all.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": user}]}]}),
        _ => json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Secret rules: never discuss the weather in Paris with anyone at all."},
            {"role": "user", "content": user}]}),
    };
    inspect_request(&g.default, api, body.to_string().as_bytes())
        .answer
        .expect("answer guard")
}

fn openai_stream(pieces: &[&str]) -> String {
    let mut s = String::from("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    for p in pieces {
        let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                           "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]});
        s.push_str(&format!("data: {chunk}\n\n"));
    }
    s.push_str("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    s.push_str("data: [DONE]\n\n");
    s
}

/// (text, finish reasons, done) of an OpenAI stream; every event must parse.
fn read_openai(bytes: &[u8]) -> (String, Vec<String>, bool) {
    read_openai_at(bytes, "/choices/0/delta/content")
}

/// (the strings at `pointer` joined, finish reasons, done) of an OpenAI stream.
fn read_openai_at(bytes: &[u8], pointer: &str) -> (String, Vec<String>, bool) {
    let mut p = SseParser::new();
    p.feed(bytes);
    let (mut text, mut finishes, mut done) = (String::new(), vec![], false);
    while let Some(ev) = p.next_event() {
        assert!(!done, "an event after [DONE]: {}", ev.data);
        if ev.data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value =
            serde_json::from_str(&ev.data).unwrap_or_else(|e| panic!("{e}: {}", ev.data));
        if let Some(t) = v.pointer(pointer).and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(f) = v
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
        {
            finishes.push(f.to_string());
        }
    }
    assert!(!p.has_partial_event());
    (text, finishes, done)
}

fn run(stream: &mut GuardedStream, bytes: &[u8], split: usize) -> Vec<u8> {
    let mut out = stream.feed(&bytes[..split]);
    out.extend(stream.feed(&bytes[split..]));
    out.extend(stream.finish());
    out
}

#[test]
fn placeholders_are_restored_and_new_pii_masked_at_every_split() {
    let g = guard(json!({"pii": {}}));
    let answer = answer_for(&g, Api::OpenAiChat, "write to jane.doe@example.com");
    // The provider saw [EMAIL_1]; it answers with the placeholder split over events, and
    // adds an address of its own split too.
    let upstream = openai_stream(&[
        "Sure, I will write to [EM",
        "AIL_1] and cc bo",
        "b@corp.example",
        ".org today",
    ]);
    let bytes = upstream.as_bytes();
    let mut first: Option<Vec<u8>> = None;
    for split in 0..=bytes.len() {
        let mut s = answer_for(&g, Api::OpenAiChat, "write to jane.doe@example.com").stream();
        let out = run(&mut s, bytes, split);
        let (text, finishes, done) = read_openai(&out);
        assert_eq!(
            text, "Sure, I will write to jane.doe@example.com and cc [EMAIL_2] today",
            "split {split}"
        );
        assert_eq!(finishes, vec!["stop"]);
        assert!(done);
        assert_eq!(header_of(&s.acted), "pii.email:mask");
        if let Some(f) = &first {
            assert_eq!(read_openai(f).0, text);
        } else {
            first = Some(out);
        }
    }
    let _ = answer;
}

fn header_of(acted: &[Acted]) -> String {
    crate::guard::header_value(acted)
}

#[test]
fn text_without_pii_flows_at_once() {
    let g = guard(json!({"pii": {}}));
    let mut s = answer_for(&g, Api::OpenAiChat, "hello").stream();
    let upstream = openai_stream(&["The weather is fine. ", "Bye now. "]);
    let events: Vec<&str> = upstream.split_inclusive("\n\n").collect();
    // After the second content event, its text (but maybe a short tail) is out.
    let mut out = Vec::new();
    for e in &events[..3] {
        out.extend(s.feed(e.as_bytes()));
    }
    let (text, _, _) = read_openai(&out);
    assert!(text.starts_with("The weather is fine."), "{text:?}");
}

#[test]
fn a_blocked_value_ends_the_stream_with_content_filter() {
    let g = guard(json!({"pii": {"output": {"action": "block"}}}));
    let upstream = openai_stream(&[
        "Here is a card: 4111 1111 ",
        "1111 1111 and more text",
        " never sent",
    ]);
    let mut s = answer_for(&g, Api::OpenAiChat, "hello").stream();
    let out = run(&mut s, upstream.as_bytes(), 40);
    let (text, finishes, done) = read_openai(&out);
    assert_eq!(text.trim_end(), "Here is a card:");
    assert_eq!(finishes, vec!["content_filter"]);
    assert!(done && s.stopped());
    assert_eq!(header_of(&s.acted), "pii.credit_card:block");
}

#[test]
fn an_anthropic_stream_is_restored_and_stopped_with_an_error_event() {
    let events = |texts: &[&str]| {
        let mut s = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n");
        for t in texts {
            let d = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}});
            s.push_str(&format!("event: content_block_delta\ndata: {d}\n\n"));
        }
        s.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        s
    };
    let read = |bytes: &[u8]| {
        let mut p = SseParser::new();
        p.feed(bytes);
        let (mut text, mut names) = (String::new(), vec![]);
        while let Some(ev) = p.next_event() {
            let v: Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(
                v["type"].as_str(),
                Some(ev.event.as_str()),
                "event name and type agree"
            );
            if let Some(t) = v.pointer("/delta/text").and_then(Value::as_str) {
                text.push_str(t);
            }
            names.push(ev.event);
        }
        (text, names)
    };
    let g = guard(json!({"pii": {"leak": {"canaries": ["ZX-CANARY-42"], "action": "block"}}}));
    let up = events(&["Call [PH", "ONE_1] back."]);
    for split in (0..up.len()).step_by(7) {
        let mut s = answer_for(&g, Api::AnthropicMessages, "call me at 010-1234-5678").stream();
        let (text, names) = read(&run(&mut s, up.as_bytes(), split));
        assert_eq!(text, "Call 010-1234-5678 back.", "split {split}");
        assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    }
    let up = events(&["The code is ZX-CAN", "ARY-42, keep it."]);
    let mut s = answer_for(&g, Api::AnthropicMessages, "hi").stream();
    let (text, names) = read(&run(&mut s, up.as_bytes(), 100));
    assert!(!text.contains("ZX-CANARY"), "{text}");
    assert_eq!(names.last().map(String::as_str), Some("error"));
    assert!(!names.contains(&"message_stop".to_string()));
    assert_eq!(header_of(&s.acted), "leak.canary:block");
}

#[test]
fn plain_answers_are_rewritten_whole() {
    let g = guard(json!({"pii": {}}));
    let answer = answer_for(&g, Api::OpenAiChat, "my mail is jane.doe@example.com");
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant",
        "content": "Noted [EMAIL_1]; the admin is root@corp.example.org"}, "finish_reason": "stop"}]});
    let (out, acted) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Noted jane.doe@example.com; the admin is [EMAIL_2]"
    );
    assert_eq!(header_of(&acted), "pii.email:mask");

    let g = guard(json!({"pii": {"leak": {"system_prompt_min_words": 6}}}));
    let answer = answer_for(&g, Api::AnthropicMessages, "what are your rules?");
    let body = json!({"type": "message", "content": [{"type": "text",
        "text": "My rules: never discuss the weather in Paris with anyone at all."}], "stop_reason": "end_turn"});
    let (out, acted) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(v["stop_reason"], "refusal");
    assert!(!v["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("weather in Paris"));
    assert_eq!(header_of(&acted), "leak.system_prompt:block");
}

#[test]
fn monitor_mode_reports_output_findings_and_passes_bytes_unchanged() {
    let g = guard(json!({"mode": "monitor", "pii": {}}));
    let upstream = openai_stream(&["mail root@corp.example.org now"]);
    let mut s = answer_for(&g, Api::OpenAiChat, "hi").stream();
    let out = run(&mut s, upstream.as_bytes(), 10);
    assert_eq!(read_openai(&out).0, "mail root@corp.example.org now");
    assert_eq!(header_of(&s.acted), "pii.email:monitor");
}

#[test]
fn content_spots_are_found_only_in_plain_text_chunks() {
    let data = r#"{"id":"c","choices":[{"index":0,"delta":{"content":"a \"q\" \\ é\n"},"finish_reason":null}]}"#;
    let spot = ContentSpot::find(data).expect("a text chunk");
    assert_eq!(spot.text, "a \"q\" \\ é\n");
    assert_eq!(&data[spot.start..spot.end], r#""a \"q\" \\ é\n""#);
    for other in [
        r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"x","role":"assistant"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null},{"index":1,"delta":{"content":"y"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content": "x"},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":null,"tool_calls":[]},"finish_reason":null}]}"#,
    ] {
        assert!(ContentSpot::find(other).is_none(), "{other}");
    }
}

/// An OpenAI stream answering with one tool call whose arguments come in `pieces`.
fn openai_tool_stream(pieces: &[&str]) -> String {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut s = chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_1",
               "type": "function", "function": {"name": "send_mail", "arguments": ""}}]}),
        Value::Null,
    );
    for p in pieces {
        s.push_str(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
            Value::Null,
        ));
    }
    s.push_str(&chunk(json!({}), json!("tool_calls")));
    s.push_str("data: [DONE]\n\n");
    s
}

/// (the tool call's arguments, finish reasons, done) of an OpenAI stream.
fn read_openai_tool(bytes: &[u8]) -> (String, Vec<String>, bool) {
    read_openai_at(bytes, "/choices/0/delta/tool_calls/0/function/arguments")
}

#[test]
fn tool_call_arguments_are_restored_and_masked_in_plain_answers() {
    let g = guard(json!({"pii": {}}));
    let answer = answer_for(&g, Api::OpenAiChat, "my mail is jane.doe@example.com");
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "send_mail",
            "arguments": "{\"to\":\"[EMAIL_1]\",\"cc\":\"root@corp.example.org\"}"}}]},
        "finish_reason": "tool_calls"}]});
    let (out, acted) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    let args = v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"to": "jane.doe@example.com", "cc": "[EMAIL_2]"})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(header_of(&acted), "pii.email:mask");

    let answer = answer_for(&g, Api::AnthropicMessages, "call me at 010-1234-5678");
    let body = json!({"type": "message", "content": [{"type": "tool_use", "id": "toolu_1",
        "name": "dial", "input": {"number": "[PHONE_1]", "retry": 2, "notes": ["ok"]}}],
        "stop_reason": "tool_use"});
    let (out, _) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(
        v["content"][0]["input"],
        json!({"number": "010-1234-5678", "retry": 2, "notes": ["ok"]})
    );
    assert_eq!(v["stop_reason"], "tool_use");
}

#[test]
fn a_blocked_value_in_tool_arguments_stops_the_answer_without_the_call() {
    let g = guard(json!({"pii": {"output": {"action": "block"}}}));
    let answer = answer_for(&g, Api::OpenAiChat, "hi");
    let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "pay",
            "arguments": "{\"card\":\"4111 1111 1111 1111\"}"}}]}, "finish_reason": "tool_calls"}]});
    let (out, acted) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "content_filter");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    assert!(!v.to_string().contains("4111"));
    assert_eq!(header_of(&acted), "pii.credit_card:block");

    let up = openai_tool_stream(&["{\"card\":\"4111 1111 ", "1111 1111\"}"]);
    for split in (0..up.len()).step_by(11) {
        let mut s = answer_for(&g, Api::OpenAiChat, "hi").stream();
        let out = run(&mut s, up.as_bytes(), split);
        let (args, finishes, done) = read_openai_tool(&out);
        assert!(!args.contains("1111 1111 1111"), "split {split}: {args}");
        assert_eq!(finishes, vec!["content_filter"], "split {split}");
        assert!(done && s.stopped());
    }
}

#[test]
fn streamed_tool_arguments_are_restored_and_masked_at_every_split() {
    let g = guard(json!({"pii": {}}));
    let up = openai_tool_stream(&[
        "{\"to\":\"[EMA",
        "IL_1]\",\"cc\":\"root@corp.exa",
        "mple.org\"}",
    ]);
    for split in 0..up.len() {
        let mut s = answer_for(&g, Api::OpenAiChat, "my mail is jane.doe@example.com").stream();
        let out = run(&mut s, up.as_bytes(), split);
        let (args, finishes, done) = read_openai_tool(&out);
        assert_eq!(
            serde_json::from_str::<Value>(&args).unwrap_or_else(|e| panic!("{e}: {args}")),
            json!({"to": "jane.doe@example.com", "cc": "[EMAIL_2]"}),
            "split {split}"
        );
        assert_eq!(finishes, vec!["tool_calls"], "split {split}");
        assert!(done);
        assert_eq!(header_of(&s.acted), "pii.email:mask");
    }

    // Anthropic: the tool's input arrives as pieces of JSON text.
    let mut up = String::from("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"dial\",\"input\":{}}}\n\n");
    for p in [
        "{\"number\": \"[PHO",
        "NE_1]\", \"alt\": \"010-9",
        "876-5432\"}",
    ] {
        let d = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}});
        up.push_str(&format!("event: content_block_delta\ndata: {d}\n\n"));
    }
    up.push_str("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    for split in (0..up.len()).step_by(3) {
        let mut s = answer_for(&g, Api::AnthropicMessages, "call me at 010-1234-5678").stream();
        let out = run(&mut s, up.as_bytes(), split);
        let mut p = SseParser::new();
        p.feed(&out);
        let (mut json_text, mut names) = (String::new(), vec![]);
        while let Some(ev) = p.next_event() {
            let v: Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(v["type"].as_str(), Some(ev.event.as_str()));
            if let Some(t) = v.pointer("/delta/partial_json").and_then(Value::as_str) {
                json_text.push_str(t);
            }
            names.push(ev.event);
        }
        assert_eq!(
            serde_json::from_str::<Value>(&json_text).unwrap(),
            json!({"number": "010-1234-5678", "alt": "[PHONE_2]"}),
            "split {split}"
        );
        let stop = names
            .iter()
            .position(|n| n == "content_block_stop")
            .unwrap();
        assert!(names[..stop].iter().all(|n| n != "message_delta"));
        assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    }
}

#[test]
fn text_beside_tool_calls_in_one_chunk_is_guarded_too() {
    let g = guard(json!({"pii": {}}));
    let c = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": "I will mail root@corp.example.org now. ",
            "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "send_mail", "arguments": "{}"}}]}, "finish_reason": null}]});
    let up = format!("data: {c}\n\n{}", openai_stream(&[]));
    let mut s = answer_for(&g, Api::OpenAiChat, "hi").stream();
    let out = run(&mut s, up.as_bytes(), up.len());
    let (text, _, done) = read_openai(&out);
    assert_eq!(text, "I will mail [EMAIL_1] now. ");
    assert!(done);
}

/// A Responses stream: one message item whose text arrives in `pieces`, then (when
/// `args` is given) a function call whose arguments arrive in those pieces.
fn responses_stream(pieces: &[&str], args: &[&str]) -> String {
    let mut events = vec![
        json!({"type": "response.created", "response": {"id": "resp_1", "object": "response", "status": "in_progress", "model": "gpt-4o", "output": [], "usage": null}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}}),
        json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
    ];
    for p in pieces {
        events.push(json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": p, "logprobs": []}));
    }
    let text = pieces.concat();
    let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                         "content": [{"type": "output_text", "text": text, "annotations": []}]});
    events.push(json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text, "logprobs": []}));
    events.push(json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}));
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": message}));
    let mut output = vec![message];
    if !args.is_empty() {
        events.push(json!({"type": "response.output_item.added", "output_index": 1, "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "send", "arguments": "", "status": "in_progress"}}));
        for a in args {
            events.push(json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 1, "delta": a}));
        }
        let all = args.concat();
        let call = json!({"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "send", "arguments": all, "status": "completed"});
        events.push(json!({"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 1, "arguments": all}));
        events.push(json!({"type": "response.output_item.done", "output_index": 1, "item": call}));
        output.push(call);
    }
    events.push(json!({"type": "response.completed", "response": {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o", "output": output, "usage": {"input_tokens": 5, "output_tokens": 9}}}));
    let mut s = String::new();
    for (i, mut e) in events.into_iter().enumerate() {
        e["sequence_number"] = json!(i);
        s.push_str(&format!(
            "event: {}\ndata: {e}\n\n",
            e["type"].as_str().unwrap()
        ));
    }
    s
}

/// Every event of a Responses stream, checked: its name is its type and it is numbered
/// in order from 0.
fn read_responses(bytes: &[u8]) -> Vec<Value> {
    let mut p = SseParser::new();
    p.feed(bytes);
    let mut out = Vec::new();
    while let Some(ev) = p.next_event() {
        let v: Value =
            serde_json::from_str(&ev.data).unwrap_or_else(|e| panic!("{e}: {}", ev.data));
        assert_eq!(v["type"].as_str(), Some(ev.event.as_str()), "{v}");
        assert_eq!(v["sequence_number"], out.len(), "{v}");
        out.push(v);
    }
    assert!(!p.has_partial_event());
    out
}

fn joined(events: &[Value], kind: &str) -> String {
    events
        .iter()
        .filter(|e| e["type"] == kind)
        .filter_map(|e| e["delta"].as_str())
        .collect()
}

#[test]
fn a_responses_stream_is_restored_and_masked_at_every_split_and_its_done_events_agree() {
    let g = guard(json!({"pii": {}}));
    let upstream = responses_stream(
        &[
            "Sure, I will write to [EM",
            "AIL_1] and cc bo",
            "b@corp.example",
            ".org today",
        ],
        &["{\"to\":\"[EMAIL", "_1]\"}"],
    );
    let bytes = upstream.as_bytes();
    for split in (0..=bytes.len()).step_by(3) {
        let mut s = answer_for(&g, Api::OpenAiResponses, "write to jane.doe@example.com").stream();
        let events = read_responses(&run(&mut s, bytes, split));
        let text = joined(&events, "response.output_text.delta");
        assert_eq!(
            text, "Sure, I will write to jane.doe@example.com and cc [EMAIL_2] today",
            "split {split}"
        );
        let args = joined(&events, "response.function_call_arguments.delta");
        assert_eq!(args, "{\"to\":\"jane.doe@example.com\"}", "split {split}");
        let find = |kind: &str| events.iter().find(|e| e["type"] == kind).unwrap().clone();
        assert_eq!(find("response.output_text.done")["text"], text.as_str());
        assert_eq!(
            find("response.content_part.done")["part"]["text"],
            text.as_str()
        );
        assert_eq!(
            find("response.function_call_arguments.done")["arguments"],
            args.as_str()
        );
        let done = find("response.completed");
        assert_eq!(
            done["response"]["output"][0]["content"][0]["text"],
            text.as_str()
        );
        assert_eq!(done["response"]["output"][1]["arguments"], args.as_str());
        assert_eq!(events.last().unwrap()["type"], "response.completed");
        assert_eq!(header_of(&s.acted), "pii.email:mask");
    }
}

#[test]
fn a_blocked_value_ends_a_responses_stream_as_incomplete() {
    let g = guard(json!({"pii": {"output": {"action": "block"}}}));
    let upstream = responses_stream(
        &[
            "Here is a card: 4111 1111 ",
            "1111 1111 and more",
            " never sent",
        ],
        &[],
    );
    for split in [0, 100, upstream.len() / 2, upstream.len()] {
        let mut s = answer_for(&g, Api::OpenAiResponses, "hello").stream();
        let events = read_responses(&run(&mut s, upstream.as_bytes(), split));
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.incomplete", "split {split}");
        assert_eq!(last["response"]["id"], "resp_1");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "content_filter"
        );
        let text = joined(&events, "response.output_text.delta");
        assert_eq!(text.trim_end(), "Here is a card:");
        assert_eq!(
            last["response"]["output"][0]["content"][0]["text"],
            text.as_str()
        );
        assert!(s.stopped());
        assert_eq!(header_of(&s.acted), "pii.credit_card:block");
    }
}

#[test]
fn a_plain_response_is_restored_masked_and_cut_where_a_value_blocks() {
    let g = guard(json!({"pii": {}}));
    let answer = answer_for(&g, Api::OpenAiResponses, "my mail is jane.doe@example.com");
    let body = json!({"id": "resp_1", "object": "response", "status": "completed", "output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [
            {"type": "output_text", "text": "Noted [EMAIL_1]; the admin is root@corp.example.org", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "send", "arguments": "{\"to\":\"[EMAIL_1]\"}"}]});
    let (out, acted) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "Noted jane.doe@example.com; the admin is [EMAIL_2]"
    );
    assert_eq!(
        v["output"][1]["arguments"],
        "{\"to\":\"jane.doe@example.com\"}"
    );
    assert_eq!(v["status"], "completed");
    assert_eq!(header_of(&acted), "pii.email:mask");
    let g = guard(json!({"pii": {"output": {"action": "block"}}}));
    let answer = answer_for(&g, Api::OpenAiResponses, "hi");
    let body = json!({"id": "resp_1", "status": "completed", "output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [
            {"type": "output_text", "text": "Card 4111 1111 1111 1111 here", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "pay", "arguments": "{}"}]});
    let (out, _) = answer.filter_body(body.to_string().as_bytes());
    let v: Value = serde_json::from_slice(&out.expect("changed")).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "content_filter");
    assert_eq!(
        v["output"].as_array().unwrap().len(),
        1,
        "no call after the block"
    );
    assert!(!v["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("4111"));
}
