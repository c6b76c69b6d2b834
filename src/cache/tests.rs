//! The key, the entry, and answers recorded from streams and replayed as streams, for
//! each API at every split point.

use serde_json::{json, Map, Value};

use super::entry::Entry;
use super::key::{self, KeyParts};
use super::record::AnswerRecorder;
use super::*;
use crate::api::Api;
use crate::usage::meter::ResponseMeter;

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

fn chat_request() -> Map<String, Value> {
    object(json!({
        "model": "gpt-4o", "temperature": 0.2,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    }))
}

fn key_of(tenant: &Tenant, model: &str, provider: &str, request: &Map<String, Value>) -> String {
    key::key(&KeyParts {
        tenant,
        api: Api::OpenAiChat,
        model,
        provider,
        request,
    })
}

#[test]
fn the_key_separates_tenants_models_providers_and_every_parameter() {
    let alice = Tenant::Consumer("alice".into());
    let base = chat_request();
    let k = key_of(&alice, "gpt-4o", "openai", &base);
    assert_eq!(k.len(), 64);
    assert!(k
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let changed = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut r = base.clone();
        edit(&mut r);
        key_of(&alice, "gpt-4o", "openai", &r)
    };
    let others = [
        key_of(&Tenant::Consumer("bob".into()), "gpt-4o", "openai", &base),
        key_of(
            &Tenant::Anonymous("alice".into()),
            "gpt-4o",
            "openai",
            &base,
        ),
        key_of(&alice, "gpt-4o-mini", "openai", &base),
        key_of(&alice, "gpt-4o", "mock", &base),
        changed(&|r| {
            r.insert("temperature".into(), json!(0.3));
        }),
        changed(&|r| {
            r.insert("temperature".into(), json!(1));
        }),
        changed(&|r| {
            r.remove("tools");
        }),
        changed(&|r| r["tools"][0]["function"]["name"] = json!("g")),
        changed(&|r| r["messages"][0]["content"] = json!("Be long.")),
        changed(&|r| {
            r.insert("max_tokens".into(), json!(10));
        }),
        changed(&|r| {
            r.insert("seed".into(), json!(1));
        }),
        changed(&|r| {
            r.insert("some_future_field".into(), json!(true));
        }),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_ne!(&k, other, "change {i} must miss");
    }
    let mut apis = std::collections::BTreeSet::new();
    for api in [
        Api::OpenAiChat,
        Api::AnthropicMessages,
        Api::OpenAiResponses,
        Api::OpenAiEmbeddings,
    ] {
        apis.insert(key::key(&KeyParts {
            tenant: &alice,
            api,
            model: "m",
            provider: "p",
            request: &base,
        }));
    }
    assert_eq!(apis.len(), 4, "the API is in the key");
}

#[test]
fn the_key_ignores_stream_flags_and_field_order() {
    let alice = Tenant::Consumer("alice".into());
    let k = key_of(&alice, "gpt-4o", "openai", &chat_request());
    let mut streamed = chat_request();
    streamed.insert("stream".into(), json!(true));
    streamed.insert("stream_options".into(), json!({"include_usage": true}));
    assert_eq!(key_of(&alice, "gpt-4o", "openai", &streamed), k);
    // The same request written with its keys in another order.
    let reordered: Map<String, Value> = serde_json::from_str(
        r#"{"tools":[{"function":{"parameters":{"type":"object"},"name":"f"},"type":"function"}],
            "messages":[{"content":"Be brief.","role":"system"},{"content":"hi","role":"user"}],
            "temperature":0.2,"model":"gpt-4o"}"#,
    )
    .unwrap();
    assert_eq!(key_of(&alice, "gpt-4o", "openai", &reordered), k);
}

#[test]
fn the_canonical_form_is_versioned_sorted_and_compact() {
    let request = object(
        json!({"stream": true, "b": [1, 2.5, "x\"y", null, false], "a": {"z": 1, "é": "ü", "Z": 0}}),
    );
    let tenant = Tenant::Anonymous("anonymous".into());
    let parts = KeyParts {
        tenant: &tenant,
        api: Api::AnthropicMessages,
        model: "claude-x",
        provider: "anthropic",
        request: &request,
    };
    let text = String::from_utf8(key::canonical(&parts)).unwrap();
    assert_eq!(
        text,
        r#"["llm-gateway/cache-key/v1","anonymous:anonymous","anthropic_messages","claude-x","anthropic",{"a":{"Z":0,"z":1,"é":"ü"},"b":[1,2.5,"x\"y",null,false]}]"#
    );
    use sha2::Digest;
    let expected: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(key::key(&parts), expected);
}

#[test]
fn namespaces_fit_the_sidecar_and_never_collide() {
    assert_eq!(Tenant::Consumer("alice".into()).namespace(), "c:alice");
    assert_eq!(
        Tenant::Consumer("bob@example.com".into()).namespace(),
        "c:bob:example.com"
    );
    assert_eq!(
        Tenant::Anonymous("anonymous".into()).namespace(),
        "a:anonymous"
    );
    assert_ne!(
        Tenant::Consumer("anonymous".into()).namespace(),
        Tenant::Anonymous("anonymous".into()).namespace()
    );
    let ns = Tenant::Consumer("x".repeat(64)).namespace();
    assert!(
        ns.len() <= 128
            && ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
    );
    assert_eq!(
        lookup_path("c:a", "k", Some(5)),
        "/v1/cache/c:a/k?max_age=5"
    );
    assert_eq!(lookup_path("c:a", "k", None), "/v1/cache/c:a/k");
    assert_eq!(store_path("c:a", "k", 60), "/v1/cache/c:a/k?ttl=60");
}

#[test]
fn replayed_text_comes_in_several_pieces_that_join_to_it() {
    let text = "The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun. 안녕하세요 👋";
    let p = pieces(text);
    assert!(p.len() >= 3, "{p:?}");
    assert_eq!(p.concat(), text);
    assert!(p.iter().all(|s| !s.is_empty() && s.len() <= 96));
    let long = "x".repeat(300);
    assert_eq!(pieces(&long).len(), 4);
    assert!(pieces("").is_empty());
    assert_eq!(pieces("hi"), ["hi"]);
}

#[test]
fn an_entry_round_trips_and_refuses_other_apis_and_versions() {
    let entry = Entry {
        api: Api::OpenAiChat,
        model: "gpt-4o".into(),
        provider: "openai".into(),
        answer: json!({"choices": []}),
    };
    let bytes = entry.encode();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["format"], "llm-gateway/cache-entry");
    assert_eq!(v["version"], 1);
    assert_eq!(Entry::decode(&bytes, Api::OpenAiChat).unwrap(), entry);
    assert!(Entry::decode(&bytes, Api::AnthropicMessages)
        .unwrap_err()
        .contains("written for"));
    let v2 = String::from_utf8(bytes)
        .unwrap()
        .replace("\"version\":1", "\"version\":2");
    assert!(Entry::decode(v2.as_bytes(), Api::OpenAiChat).is_err());
    assert!(Entry::decode(b"not json", Api::OpenAiChat).is_err());
    assert!(Entry::decode(br#"{"format":"llm-gateway/cache-entry","version":1,"api":"openai_chat","model":"m","provider":"p","answer":3}"#, Api::OpenAiChat).is_err());
}

// ---------------------------------------------------------------- streams, per API

const CHAT_STREAM: &str = concat!(
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":6,\"total_tokens\":15}}\n\n",
    "data: [DONE]\n\n",
);

fn chat_whole() -> Value {
    json!({"id": "c1", "object": "chat.completion", "created": 7, "model": "gpt-4o-2024-08-06",
           "system_fingerprint": "fp_1",
           "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls",
               "message": {"role": "assistant", "content": "Hello wörld", "refusal": null,
                   "tool_calls": [{"id": "call_1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
           "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15}})
}

const MESSAGES_STREAM: &str = concat!(
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":2,\"output_tokens\":1}}}\n\n",
    "event: ping\ndata: {\"type\":\"ping\"}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me see.\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"sig==\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello \"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n",
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n",
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":30}}\n\n",
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
);

fn messages_whole() -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
           "content": [{"type": "thinking", "thinking": "Let me see.", "signature": "sig=="},
                       {"type": "text", "text": "Hello there"},
                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}],
           "stop_reason": "tool_use", "stop_sequence": null,
           "usage": {"input_tokens": 12, "cache_read_input_tokens": 2, "output_tokens": 30}})
}

fn responses_stream() -> &'static str {
    crate::providers::openai_responses::tests::STREAM
}

fn responses_whole() -> Value {
    let last = responses_stream().trim_end().rsplit("\n\n").next().unwrap();
    let data: Value = serde_json::from_str(last.split_once("data: ").unwrap().1).unwrap();
    data["response"].clone()
}

fn cases() -> Vec<(Api, &'static str, Value)> {
    vec![
        (Api::OpenAiChat, CHAT_STREAM, chat_whole()),
        (Api::AnthropicMessages, MESSAGES_STREAM, messages_whole()),
        (Api::OpenAiResponses, responses_stream(), responses_whole()),
    ]
}

fn record(api: Api, pieces: &[&[u8]]) -> Option<Value> {
    let mut r = AnswerRecorder::new(api, true, 1 << 20);
    for p in pieces {
        r.feed(p);
    }
    r.finish()
}

#[test]
fn a_stream_is_recorded_into_the_plain_answer_at_every_split_point() {
    for (api, stream, whole) in cases() {
        let bytes = stream.as_bytes();
        for split in 0..=bytes.len() {
            let got = record(api, &[&bytes[..split], &bytes[split..]]);
            assert_eq!(got.as_ref(), Some(&whole), "{api:?} split {split}");
        }
        // Byte by byte too.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(
            record(api, &singles).as_ref(),
            Some(&whole),
            "{api:?} byte by byte"
        );
    }
}

#[test]
fn cut_failed_or_unfinished_streams_are_not_recorded() {
    for (api, stream, _) in cases() {
        let events: Vec<&str> = stream.split_inclusive("\n\n").collect();
        // Every prefix of whole events but the whole stream.
        for n in 0..events.len() {
            let prefix = events[..n].concat();
            assert_eq!(
                record(api, &[prefix.as_bytes()]),
                None,
                "{api:?} first {n} events"
            );
        }
        // The whole stream but the last byte (mid-event).
        let cut = &stream.as_bytes()[..stream.len() - 1];
        assert_eq!(record(api, &[cut]), None, "{api:?} cut mid-event");
        // An error event in the middle.
        let error = match api {
            Api::OpenAiChat => "data: {\"error\":{\"message\":\"boom\"}}\n\n",
            _ => "event: error\ndata: {\"type\":\"error\",\"error\":{\"message\":\"boom\"}}\n\n",
        };
        let with_error = format!("{}{error}{}", events[..2].concat(), events[2..].concat());
        assert_eq!(
            record(api, &[with_error.as_bytes()]),
            None,
            "{api:?} with an error event"
        );
    }
    // The guard's or the provider's content filter, and a limit below the answer.
    let filtered = CHAT_STREAM.replace(
        "\"finish_reason\":\"tool_calls\"",
        "\"finish_reason\":\"content_filter\"",
    );
    assert_eq!(record(Api::OpenAiChat, &[filtered.as_bytes()]), None);
    let refused = MESSAGES_STREAM.replace(
        "\"stop_reason\":\"tool_use\"",
        "\"stop_reason\":\"refusal\"",
    );
    assert_eq!(record(Api::AnthropicMessages, &[refused.as_bytes()]), None);
    let mut small = AnswerRecorder::new(Api::OpenAiChat, true, 8);
    small.feed(CHAT_STREAM.as_bytes());
    assert_eq!(small.finish(), None, "over max_entry_bytes");
    let mut embeddings = AnswerRecorder::new(Api::OpenAiEmbeddings, true, 1 << 20);
    embeddings.feed(CHAT_STREAM.as_bytes());
    assert_eq!(embeddings.finish(), None);
}

#[test]
fn plain_answers_are_recorded_only_when_complete() {
    for (api, _, whole) in cases() {
        let mut r = AnswerRecorder::new(api, false, 1 << 20);
        r.whole(whole.to_string().as_bytes());
        assert_eq!(r.finish().as_ref(), Some(&whole), "{api:?}");
        let mut small = AnswerRecorder::new(api, false, 10);
        small.whole(whole.to_string().as_bytes());
        assert_eq!(small.finish(), None, "{api:?} over the limit");
    }
    let mut r = AnswerRecorder::new(Api::OpenAiChat, false, 1 << 20);
    r.whole(
        br#"{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"content_filter"}]}"#,
    );
    assert_eq!(r.finish(), None);
    let mut r = AnswerRecorder::new(Api::OpenAiResponses, false, 1 << 20);
    r.whole(
        br#"{"status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}"#,
    );
    assert_eq!(r.finish(), None);
    let mut r = AnswerRecorder::new(Api::OpenAiResponses, false, 1 << 20);
    let capped = json!({"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]});
    r.whole(capped.to_string().as_bytes());
    assert_eq!(r.finish(), Some(capped), "the Responses form of `length`");
    let mut r = AnswerRecorder::new(Api::OpenAiEmbeddings, false, 1 << 20);
    r.whole(br#"{"object":"list","data":[{"embedding":[0.5]}],"usage":{"prompt_tokens":1}}"#);
    assert!(r.finish().is_some());
    let mut r = AnswerRecorder::new(Api::OpenAiChat, false, 1 << 20);
    r.whole(b"{not json");
    assert_eq!(r.finish(), None);
}

/// What the usage meter reads of a stream or body in `api`: (input, output, text).
fn metered(api: Api, bytes: &[u8], stream: bool) -> (Option<u64>, Option<u64>, String) {
    let ct = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let mut meter = ResponseMeter::new(api, 200, Some(ct), 1 << 22);
    meter.feed(bytes, 0);
    let o = meter.finish(0);
    assert!(!o.cut, "{api:?}: the stream ends with its final event");
    (o.usage.input, o.usage.output, o.generated_text)
}

#[test]
fn a_replayed_stream_has_several_events_the_usage_and_reads_back_into_the_answer() {
    for (api, stream, whole) in cases() {
        let replayed = replay::stream(api, &whole, true).expect("replayable");
        let text = String::from_utf8(replayed.clone()).unwrap();
        assert!(
            text.matches("\n\n").count() >= 6,
            "{api:?}: several events\n{text}"
        );
        let last = text.trim_end().rsplit("\n\n").next().unwrap();
        let expected_last = match api {
            Api::OpenAiChat => "data: [DONE]",
            Api::AnthropicMessages => "event: message_stop",
            _ => "event: response.completed",
        };
        assert!(last.starts_with(expected_last), "{api:?}: {last}");
        // The meter reads the same usage and text from the replay as from the provider.
        assert_eq!(
            metered(api, &replayed, true),
            metered(api, stream.as_bytes(), true),
            "{api:?}"
        );
        // Recorded again, at every split point, it is the same answer.
        for split in 0..=replayed.len() {
            let got = record(api, &[&replayed[..split], &replayed[split..]]);
            assert_eq!(got.as_ref(), Some(&whole), "{api:?} split {split}");
        }
    }
}

#[test]
fn responses_replay_numbers_every_event_in_order() {
    let replayed = replay::stream(Api::OpenAiResponses, &responses_whole(), false).unwrap();
    let numbers: Vec<u64> = String::from_utf8(replayed)
        .unwrap()
        .split("\n\n")
        .filter_map(|e| e.split_once("data: "))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["sequence_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>());
}

#[test]
fn the_openai_usage_chunk_is_replayed_only_when_asked_for() {
    let with =
        String::from_utf8(replay::stream(Api::OpenAiChat, &chat_whole(), true).unwrap()).unwrap();
    let without =
        String::from_utf8(replay::stream(Api::OpenAiChat, &chat_whole(), false).unwrap()).unwrap();
    assert!(with.contains("\"choices\":[],") && with.contains("\"usage\":null"));
    assert!(!without.contains("\"choices\":[]") && !without.contains("usage"));
    assert!(without.ends_with("data: [DONE]\n\n"));
}

#[test]
fn answers_a_stream_cannot_carry_are_not_replayed() {
    let mut logprobs = chat_whole();
    logprobs["choices"][0]["logprobs"] = json!({"content": []});
    assert_eq!(replay::stream(Api::OpenAiChat, &logprobs, false), None);
    let mut audio = chat_whole();
    audio["choices"][0]["message"]["audio"] = json!({"id": "a"});
    assert_eq!(replay::stream(Api::OpenAiChat, &audio, false), None);
    let mut cited = messages_whole();
    cited["content"][1]["citations"] = json!([{"type": "char_location"}]);
    assert_eq!(replay::stream(Api::AnthropicMessages, &cited, false), None);
    let embeddings = json!({"object": "list", "data": []});
    assert_eq!(
        replay::stream(Api::OpenAiEmbeddings, &embeddings, false),
        None
    );
}

#[test]
fn a_plain_answer_replays_and_a_refusal_keeps_its_shape() {
    // A plain OpenAI answer as a provider writes it (no refusal field, null logprobs).
    let plain = json!({"id": "c2", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "A fairly long answer that will surely be cut into several pieces when replayed."},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 15, "total_tokens": 20}});
    let replayed = replay::stream(Api::OpenAiChat, &plain, true).unwrap();
    let (input, output, text) = metered(Api::OpenAiChat, &replayed, true);
    assert_eq!((input, output), (Some(5), Some(15)));
    assert_eq!(text, plain["choices"][0]["message"]["content"]);
    let back = record(Api::OpenAiChat, &[&replayed]).unwrap();
    assert_eq!(
        back["choices"][0]["message"]["content"],
        plain["choices"][0]["message"]["content"]
    );
    assert_eq!(back["usage"], plain["usage"]);
    let refusal = json!({"id": "c3", "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]});
    let replayed = replay::stream(Api::OpenAiChat, &refusal, false).unwrap();
    let back = record(Api::OpenAiChat, &[&replayed]).unwrap();
    assert_eq!(back["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        back["choices"][0]["message"]["refusal"],
        "I can't help with that."
    );
}
