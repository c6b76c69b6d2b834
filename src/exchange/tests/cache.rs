//! Whole exchanges through the cache stage: the lookup callout, hits answered from the
//! gateway (plain and replayed as streams, through the output guard), misses stored from
//! the root context, the controls, a failing sidecar, and the limits on a hit.

use super::*;
use crate::cache::entry::Entry;
use serde_json::json;

const CACHE: &str = r#"{"usage":{},"cache":{}}"#;

fn body_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

fn header_of(reply: &LocalReply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn header(call: &Callout, name: &str) -> String {
    call.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The lookup the exchange asked for, after sending `body`.
fn lookup(run: &mut Run, body: &[u8]) -> Callout {
    match run.send(body) {
        Flow::Call(call) => call,
        other => panic!("expected a lookup, got {other:?} {:?}", run.seen.reply),
    }
}

fn sidecar(status: u32, body: Vec<u8>, age: Option<&str>) -> Option<CallAnswer> {
    let mut headers = vec![(":status".to_string(), status.to_string())];
    if let Some(a) = age {
        headers.push(("age".to_string(), a.to_string()));
    }
    Some(CallAnswer {
        status,
        headers,
        body,
    })
}

/// One miss: lookup, 404, the provider answers; returns the store the exchange made.
fn miss(run: &mut Run, request: &[u8], content_type: &str, answer: &[&[u8]]) -> Option<Callout> {
    let call = lookup(run, request);
    assert_eq!(
        run.callout_answer(sidecar(404, vec![], None)),
        Flow::Continue
    );
    run.answer(200, content_type, answer);
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    let stores: Vec<Callout> = run.seen.background.clone();
    assert!(stores.len() <= 1);
    let store = stores.into_iter().next()?;
    // Stored under the key it was looked up by.
    let looked = header(&call, ":path");
    let stored = header(&store, ":path");
    assert_eq!(looked.split('?').next(), stored.split('?').next());
    Some(store)
}

fn entry_of(store: &Callout) -> Entry {
    let api = Api::from_name(body_of(&store.body)["api"].as_str().unwrap()).unwrap();
    Entry::decode(&store.body, api).expect("an entry")
}

#[test]
fn a_miss_goes_to_the_provider_and_its_answer_is_stored_in_the_background() {
    let c = config(CACHE);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let call = lookup(&mut run, CHAT);
    assert_eq!(call.cluster, "cache_sidecar");
    assert_eq!(call.timeout_ms, 5);
    assert_eq!(header(&call, ":method"), "GET");
    assert_eq!(header(&call, ":authority"), "cache_sidecar");
    let path = header(&call, ":path");
    assert!(path.starts_with("/v1/cache/a:anonymous/"), "{path}");
    assert_eq!(path.len(), "/v1/cache/a:anonymous/".len() + 64);
    assert_eq!(
        run.callout_answer(sidecar(404, vec![], None)),
        Flow::Continue
    );
    assert!(
        run.seen.background.is_empty(),
        "nothing is stored before the answer"
    );
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(
        run.seen.client_body, OPENAI_ANSWER,
        "the provider's answer, untouched"
    );
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    assert_eq!(run.fact("llm_cache"), Some("miss"));
    assert_eq!(
        run.seen
            .counter("llm.cache_requests.status.miss.gen_ai_request_model.gpt-4o"),
        1
    );
    let lookups: Vec<u64> = run
        .seen
        .metrics
        .iter()
        .filter_map(|m| match m {
            Metric::Histogram(n, v) if n == "llm.cache_lookup_us" => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(lookups.len(), 1, "the sidecar's latency");
    let [store] = &run.seen.background[..] else {
        panic!("one store: {:?}", run.seen.background)
    };
    assert_eq!(header(store, ":method"), "PUT");
    assert_eq!(header(store, ":path"), format!("{path}?ttl=3600"));
    assert_eq!(
        header(store, "content-length"),
        store.body.len().to_string()
    );
    assert_eq!(store.timeout_ms, 1000);
    let entry = entry_of(store);
    assert_eq!(
        (entry.model.as_str(), entry.provider.as_str()),
        ("gpt-4o", "openai")
    );
    assert_eq!(entry.answer, body_of(OPENAI_ANSWER));
    assert_eq!(
        run.seen
            .counter("llm.cache_stores.gen_ai_request_model.gpt-4o"),
        1
    );
}

#[test]
fn a_hit_answers_from_the_gateway_with_the_providers_usage_and_costs_nothing() {
    let c = config(CACHE);
    let mut first = Run::new(&c, "/v1/chat/completions", &[]);
    let store = miss(&mut first, CHAT, "application/json", &[OPENAI_ANSWER]).unwrap();
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let call = lookup(&mut run, CHAT);
    assert_eq!(
        header(&call, ":path"),
        header(&store, ":path").split('?').next().unwrap(),
        "the same request, the same key"
    );
    let flow = run.callout_answer(sidecar(200, store.body.clone(), Some("7")));
    let Flow::Respond(reply) = flow else {
        panic!("a hit answers: {flow:?}")
    };
    assert_eq!(reply.status, 200);
    assert_eq!(
        body_of(&reply.body),
        body_of(OPENAI_ANSWER),
        "the same usage too"
    );
    let h = |n| header_of(&reply, n);
    assert_eq!(h("content-type").as_deref(), Some("application/json"));
    assert_eq!(h("x-llm-cache").as_deref(), Some("hit-exact"));
    assert_eq!(h("age").as_deref(), Some("7"));
    assert_eq!(h("x-llm-model").as_deref(), Some("gpt-4o"));
    assert_eq!(h("x-llm-cost-usd").as_deref(), Some("0"));
    assert_eq!(h("x-llm-input-tokens").as_deref(), Some("0"));
    assert_eq!(run.fact("llm_cache"), Some("hit-exact"));
    assert_eq!(run.fact("llm_cost_usd"), Some("0"));
    assert_eq!(run.fact("llm_usage_source"), Some("cache"));
    assert_eq!(run.fact("llm_cache_saved_input_tokens"), Some("9"));
    assert_eq!(run.fact("llm_cache_saved_output_tokens"), Some("2"));
    let saved = (9.0 * 2.5 + 2.0 * 10.0) / 1e6;
    assert_eq!(
        run.fact("llm_cache_saved_usd"),
        Some(crate::facts::format_usd(saved).as_str())
    );
    assert_eq!(
        run.seen
            .counter("llm.cache_requests.status.hit-exact.gen_ai_request_model.gpt-4o"),
        1
    );
    assert_eq!(
        run.seen
            .counter("llm.cache_saved_tokens.gen_ai_request_model.gpt-4o"),
        11
    );
    assert_eq!(
        run.seen
            .counter("llm.cache_saved_micro_usd.gen_ai_request_model.gpt-4o"),
        43
    );
    assert_eq!(
        run.seen
            .counter("llm.requests.gen_ai_request_model.gpt-4o.gen_ai_provider_name.openai.consumer.anonymous"),
        1
    );
    assert_eq!(
        run.seen
            .counter("llm.cost_micro_usd.gen_ai_request_model.gpt-4o.gen_ai_provider_name.openai.consumer.anonymous"),
        0
    );
    assert!(run.seen.background.is_empty(), "a hit is not stored again");
    // Nothing went upstream, and the exchange is settled: the log adds nothing.
    assert_eq!(run.seen.upstream_body, CHAT, "the body was never forwarded");
    let before = run.seen.metrics.len();
    run.log();
    assert_eq!(run.seen.metrics.len(), before);
}

#[test]
fn a_plain_entry_serves_a_streaming_request_as_a_real_stream() {
    let c = config(CACHE);
    let mut first = Run::new(&c, "/v1/chat/completions", &[]);
    let store = miss(&mut first, CHAT, "application/json", &[OPENAI_ANSWER]).unwrap();
    let with_usage = br#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello world"}]}"#;
    for (request, usage_chunk) in [(CHAT_STREAM, false), (&with_usage[..], true)] {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        let call = lookup(&mut run, request);
        assert_eq!(
            header(&call, ":path"),
            header(&store, ":path").split('?').next().unwrap()
        );
        let Flow::Respond(reply) = run.callout_answer(sidecar(200, store.body.clone(), Some("0")))
        else {
            panic!("a hit")
        };
        assert_eq!(
            header_of(&reply, "content-type").as_deref(),
            Some("text/event-stream")
        );
        let text = String::from_utf8(reply.body.clone()).unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(
            text.matches("data: ").count() >= 4,
            "several events: {text}"
        );
        assert!(text.contains("\"object\":\"chat.completion.chunk\""));
        assert_eq!(text.contains("\"choices\":[]"), usage_chunk, "{text}");
        let mut meter =
            ResponseMeter::new(Api::OpenAiChat, 200, Some("text/event-stream"), 1 << 20);
        meter.feed(&reply.body, 0);
        let outcome = meter.finish(0);
        assert_eq!(outcome.generated_text, "Hi there");
        assert!(!outcome.cut);
        assert_eq!(run.fact("llm_cache_saved_output_tokens"), Some("2"));
    }
}

#[test]
fn a_streamed_miss_is_stored_as_the_plain_answer_at_every_split_point() {
    let c = config(CACHE);
    let stream = OPENAI_STREAM.as_bytes();
    let mut stored = None;
    for split in 0..=stream.len() {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        let store = miss(
            &mut run,
            CHAT_STREAM,
            "text/event-stream",
            &[&stream[..split], &stream[split..]],
        )
        .unwrap_or_else(|| panic!("split {split}: stored"));
        let without_usage_chunk: String = OPENAI_STREAM
            .split_inclusive("\n\n")
            .filter(|e| !e.contains("\"choices\":[]"))
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&run.seen.client_body),
            without_usage_chunk,
            "split {split}: the client's stream is unchanged"
        );
        let entry = entry_of(&store);
        if let Some(first) = &stored {
            assert_eq!(&entry, first, "split {split}");
        }
        stored = Some(entry);
    }
    let entry = stored.unwrap();
    assert_eq!(entry.answer["object"], "chat.completion");
    assert_eq!(
        entry.answer["choices"][0]["message"]["content"],
        "Hello world"
    );
    assert_eq!(entry.answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        entry.answer["usage"]["completion_tokens"], 2,
        "the usage chunk the client did not get"
    );
    // It serves a plain request.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, CHAT);
    run.callout_answer(sidecar(200, entry.encode(), None));
    let reply = run.seen.reply.clone().expect("a hit");
    let v = body_of(&reply.body);
    assert_eq!(v["choices"][0]["message"]["content"], "Hello world");
    assert_eq!(v["usage"]["prompt_tokens"], 9);
}

#[test]
fn cut_failed_and_guard_stopped_answers_are_not_stored() {
    let c = config(CACHE);
    let cut = &OPENAI_STREAM.as_bytes()[..OPENAI_STREAM.find(" world").unwrap()];
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    assert!(miss(&mut run, CHAT_STREAM, "text/event-stream", &[cut]).is_none());
    assert_eq!(
        run.seen.counter("llm.cache_store_skips.reason.incomplete"),
        1
    );
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, CHAT);
    run.callout_answer(sidecar(404, vec![], None));
    run.answer(
        500,
        "application/json",
        &[br#"{"error":{"message":"boom"}}"#],
    );
    assert!(run.seen.background.is_empty());
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    // A stream that never ended settles in the log callback: nothing stored.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, CHAT_STREAM);
    run.callout_answer(sidecar(404, vec![], None));
    *run.host.response.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    let fx = run.ex.on_response_headers(&run.host, false);
    run.apply(fx, true);
    run.log();
    assert!(run.seen.background.is_empty());
    // The output guard stops an answer that leaks the canary: plain and streamed.
    let guarded = config(
        r#"{"usage":{},"cache":{},"guard":{"pii":{"leak":{"canaries":["CANARY-123"],"action":"block"}}}}"#,
    );
    let leak = br#"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"the secret is CANARY-123"},"finish_reason":"stop"}]}"#;
    let mut run = Run::new(&guarded, "/v1/chat/completions", &[]);
    assert!(miss(&mut run, CHAT, "application/json", &[leak]).is_none());
    assert!(String::from_utf8_lossy(&run.seen.client_body).contains("content_filter"));
    let leaking_stream = OPENAI_STREAM.replace(" world", " CANARY-123");
    let mut run = Run::new(&guarded, "/v1/chat/completions", &[]);
    assert!(miss(
        &mut run,
        CHAT_STREAM,
        "text/event-stream",
        &[leaking_stream.as_bytes()]
    )
    .is_none());
}

#[test]
fn the_controls_skip_the_lookup_the_store_or_both() {
    let c = config(CACHE);
    // no-store: neither looked up nor stored.
    let mut run = Run::new(&c, "/v1/chat/completions", &[("cache-control", "no-store")]);
    assert_eq!(run.send(CHAT), Flow::Continue);
    assert!(run.seen.calls.is_empty());
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(
        run.response_header("x-llm-cache").as_deref(),
        Some("bypass")
    );
    assert!(run.seen.background.is_empty());
    assert_eq!(
        run.seen
            .counter("llm.cache_requests.status.bypass.gen_ai_request_model.gpt-4o"),
        1
    );
    // no-cache: not looked up, the fresh answer stored.
    let mut run = Run::new(&c, "/v1/chat/completions", &[("cache-control", "no-cache")]);
    assert_eq!(run.send(CHAT), Flow::Continue);
    assert!(run.seen.calls.is_empty());
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(
        run.response_header("x-llm-cache").as_deref(),
        Some("bypass")
    );
    assert_eq!(run.seen.background.len(), 1);
    // max-age: the sidecar's max_age.
    let mut run = Run::new(
        &c,
        "/v1/chat/completions",
        &[("cache-control", "max-age=30")],
    );
    let call = lookup(&mut run, CHAT);
    assert!(header(&call, ":path").ends_with("?max_age=30"));
    // A malformed max-age is refused, naming the header.
    let mut run = Run::new(
        &c,
        "/v1/chat/completions",
        &[("cache-control", "max-age=soon")],
    );
    run.send(CHAT);
    let (status, v) = refused(&run);
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (400, Some("cache-control"))
    );
    assert_eq!(
        v["error"]["message"],
        "Header `cache-control`: `max-age` must be a whole number of seconds (got \"soon\")"
    );
    // Above the temperature threshold: bypass.
    let hot = br#"{"model":"gpt-4o","temperature":1.5,"messages":[{"role":"user","content":"hello world"}]}"#;
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    assert_eq!(run.send(hot), Flow::Continue);
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(
        run.response_header("x-llm-cache").as_deref(),
        Some("bypass")
    );
    assert!(run.seen.background.is_empty());
    // Off for a path by an override.
    let off = config(
        r#"{"usage":{},"cache":{"overrides":[{"when":{"paths":["/v1/messages"]},"enabled":false}]}}"#,
    );
    let mut run = Run::new(&off, "/v1/messages", &[]);
    assert_eq!(
        run.send(br#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#),
        Flow::Continue
    );
    assert_eq!(run.fact("llm_cache"), Some("bypass"));
}

#[test]
fn the_key_separates_tenants_models_and_parameters() {
    let c = config(
        r#"{"usage":{},"cache":{},"identity":{"required":false,"consumers":[
            {"id":"alice","key_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
            {"id":"bob@example.com","key_sha256":"60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"}]}}"#,
    );
    let path_of = |headers: &[(&str, &str)], body: &[u8]| {
        let mut run = Run::new(&c, "/v1/chat/completions", headers);
        header(&lookup(&mut run, body), ":path")
    };
    let alice = path_of(&[("authorization", "Bearer test")], CHAT);
    let bob = path_of(&[("authorization", "Bearer test2")], CHAT);
    let anonymous = path_of(&[], CHAT);
    assert!(alice.starts_with("/v1/cache/c:alice/"), "{alice}");
    assert!(bob.starts_with("/v1/cache/c:bob:example.com/"), "{bob}");
    let key = |p: &str| p.rsplit('/').next().unwrap().to_string();
    assert_ne!(key(&alice), key(&bob));
    assert_ne!(key(&alice), key(&anonymous));
    assert_eq!(
        alice,
        path_of(&[("authorization", "Bearer test")], CHAT_STREAM),
        "stream is not in the key"
    );
    let other_model =
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world"}]}"#;
    let system = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello world"}]}"#;
    let temperature = br#"{"model":"gpt-4o","temperature":0.5,"messages":[{"role":"user","content":"hello world"}]}"#;
    let tools = br#"{"model":"gpt-4o","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hello world"}]}"#;
    let keys: std::collections::BTreeSet<String> = [
        CHAT,
        &other_model[..],
        &system[..],
        &temperature[..],
        &tools[..],
    ]
    .iter()
    .map(|b| key(&path_of(&[("authorization", "Bearer test")], b)))
    .collect();
    assert_eq!(keys.len(), 5);
}

#[test]
fn the_key_is_made_after_the_gateways_rewrites() {
    let c = config(
        r#"{"usage":{},"cache":{},"guard":{"pii":{"entities":{"email":"mask"},"restore":true}},
            "limits":{"over_max_output":"clamp"}}"#,
    );
    let path_of = |body: &str| {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        header(&lookup(&mut run, body.as_bytes()), ":path")
    };
    // Two addresses are masked to the same placeholder: the provider sees one request.
    let a = path_of(
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail ann@example.com"}]}"#,
    );
    let b = path_of(
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail bob@example.org"}]}"#,
    );
    assert_eq!(a, b);
    // Two output caps over the model's are clamped to the same one.
    let over = |n: u64| {
        format!(
            r#"{{"model":"gpt-4o","max_tokens":{n},"messages":[{{"role":"user","content":"hi"}}]}}"#
        )
    };
    assert_eq!(path_of(&over(20000)), path_of(&over(30000)));
    assert_ne!(path_of(&over(20000)), path_of(&over(100)));
}

#[test]
fn a_hit_goes_through_the_output_guard_of_its_own_request() {
    let c = config(
        r#"{"usage":{},"cache":{},"guard":{"pii":{"entities":{"email":"mask"},"restore":true}}}"#,
    );
    let ann =
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail ann@example.com"}]}"#;
    let bob =
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"mail bob@example.org"}]}"#;
    // The provider saw the placeholder and answered with it.
    let answer = br#"{"id":"c1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Mailing [EMAIL_1] now."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}"#;
    let mut first = Run::new(&c, "/v1/chat/completions", &[]);
    let store = miss(&mut first, ann, "application/json", &[answer]).unwrap();
    assert!(String::from_utf8_lossy(&first.seen.client_body).contains("ann@example.com"));
    let stored = String::from_utf8_lossy(&store.body).to_string();
    assert!(
        stored.contains("[EMAIL_1]") && !stored.contains("ann@example.com"),
        "stored before the output guard: {stored}"
    );
    // Bob's request has the same key; his answer names his address, not Ann's.
    for stream in [false, true] {
        let body = if stream {
            br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"mail bob@example.org"}]}"#.to_vec()
        } else {
            bob.to_vec()
        };
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        lookup(&mut run, &body);
        let Flow::Respond(reply) = run.callout_answer(sidecar(200, store.body.clone(), None))
        else {
            panic!("a hit")
        };
        let text = String::from_utf8(reply.body.clone()).unwrap();
        assert!(
            text.contains("bob@example.org") && !text.contains("ann@example.com"),
            "{text}"
        );
        assert!(header_of(&reply, "x-llm-guard")
            .unwrap()
            .contains("pii.email:mask"));
    }
}

#[test]
fn a_failing_sidecar_fails_open_by_default_and_closed_when_asked() {
    let c = config(CACHE);
    for answer in [
        None,
        sidecar(504, b"upstream request timeout".to_vec(), None),
        sidecar(503, vec![], None),
    ] {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        lookup(&mut run, CHAT);
        assert_eq!(
            run.callout_answer(answer.clone()),
            Flow::Continue,
            "{answer:?}"
        );
        run.answer(200, "application/json", &[OPENAI_ANSWER]);
        assert_eq!(run.seen.client_body, OPENAI_ANSWER);
        assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("error"));
        assert_eq!(run.fact("llm_cache"), Some("error"));
        assert_eq!(
            run.seen
                .counter("llm.cache_requests.status.error.gen_ai_request_model.gpt-4o"),
            1
        );
        // Only a lookup that timed out stores the answer (the sidecar is alive, slow).
        let stores = usize::from(answer.as_ref().is_some_and(|a| a.status == 504));
        assert_eq!(run.seen.background.len(), stores, "{answer:?}");
    }
    // An entry that is not one of ours is a miss, replaced by the next store.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, CHAT);
    assert_eq!(
        run.callout_answer(sidecar(200, b"garbage".to_vec(), None)),
        Flow::Continue
    );
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    assert_eq!(run.seen.background.len(), 1);

    let closed = config(
        r#"{"usage":{},"cache":{"fail":"closed"},"limits":{"rules":[
            {"name":"c","scope":"global","concurrent":1},{"name":"t","scope":"global","window":"1m","total_tokens":100000}]}}"#,
    );
    let mut run = Run::new(&closed, "/v1/messages", &[]);
    let call = lookup(
        &mut run,
        br#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert_eq!(header(&call, ":method"), "GET");
    run.callout_answer(sidecar(504, vec![], None));
    let (status, v) = refused(&run);
    assert_eq!(
        (status, v["type"].as_str(), v["error"]["type"].as_str()),
        (503, Some("error"), Some("api_error"))
    );
    let reply = run.seen.reply.clone().unwrap();
    assert_eq!(header_of(&reply, "x-llm-cache").as_deref(), Some("error"));
    assert_eq!(run.fact("llm_error"), Some("cache_unavailable"));
    // The admission went back: the next request is admitted (one in flight at most).
    let mut next = run.next("/v1/chat/completions", &[]);
    assert!(
        matches!(next.send(CHAT), Flow::Call(_)),
        "{:?}",
        next.seen.reply
    );
}

#[test]
fn a_hit_counts_as_a_request_for_the_limits_but_settles_no_tokens() {
    let c = config(
        r#"{"usage":{},"cache":{},"limits":{"rules":[
            {"name":"rpm","scope":"global","window":"1m","requests":2},
            {"name":"tpm","scope":"global","window":"1m","total_tokens":100000},
            {"name":"inflight","scope":"global","concurrent":1}]}}"#,
    );
    let mut first = Run::new(&c, "/v1/chat/completions", &[]);
    let store = miss(&mut first, CHAT, "application/json", &[OPENAI_ANSWER]).unwrap();
    assert_eq!(
        first
            .seen
            .counter("llm.limits_settled_tokens.group.anonymous"),
        11
    );
    let mut hit = first.next("/v1/chat/completions", &[]);
    lookup(&mut hit, CHAT);
    assert!(
        hit.seen
            .counter("llm.limits_reserved_tokens.group.anonymous")
            > 0
    );
    let Flow::Respond(reply) = hit.callout_answer(sidecar(200, store.body.clone(), None)) else {
        panic!("a hit")
    };
    assert!(header_of(&reply, "x-ratelimit-remaining-requests").is_some());
    assert_eq!(
        hit.seen
            .metrics
            .iter()
            .filter(|m| matches!(m, Metric::Counter(n, _) if n == "llm.limits_settled_tokens.group.anonymous"))
            .count(),
        1,
        "settled once"
    );
    assert_eq!(
        hit.seen
            .counter("llm.limits_settled_tokens.group.anonymous"),
        0
    );
    // Two requests in the minute: the third is refused; the hit released its slot in
    // flight (else the concurrency rule would refuse first).
    let mut third = hit.next("/v1/chat/completions", &[]);
    third.send(CHAT);
    assert_eq!(refused(&third).0, 429);
    assert_eq!(
        third
            .seen
            .counter("llm.limits_refused.kind.requests.rule.rpm.group.anonymous"),
        1
    );
}

#[test]
fn a_client_gone_during_the_lookup_gives_its_admission_back() {
    let c = config(
        r#"{"usage":{},"cache":{},"limits":{"rules":[{"name":"one","scope":"global","concurrent":1}]}}"#,
    );
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, CHAT);
    run.log();
    let mut next = run.next("/v1/chat/completions", &[]);
    assert!(
        matches!(next.send(CHAT), Flow::Call(_)),
        "admitted: {:?}",
        next.seen.reply
    );
}

const MESSAGES: &[u8] =
    br#"{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}"#;
const MESSAGES_STREAM_REQUEST: &[u8] = br#"{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn anthropic_and_responses_streams_are_stored_and_replayed_both_ways() {
    let c = config(CACHE);
    // Anthropic: a streamed miss, then a plain hit and a streamed hit.
    let mut run = Run::new(&c, "/v1/messages", &[]);
    let store = miss(
        &mut run,
        MESSAGES_STREAM_REQUEST,
        "text/event-stream",
        &[ANTHROPIC_STREAM.as_bytes()],
    )
    .unwrap();
    let entry = entry_of(&store);
    assert_eq!(entry.answer["content"][0]["text"], "Hello there");
    assert_eq!(entry.answer["stop_reason"], "end_turn");
    let mut plain = Run::new(&c, "/v1/messages", &[]);
    lookup(&mut plain, MESSAGES);
    plain.callout_answer(sidecar(200, store.body.clone(), None));
    let v = body_of(&plain.seen.reply.as_ref().unwrap().body);
    assert_eq!(
        (v["type"].as_str(), v["usage"]["output_tokens"].as_u64()),
        (Some("message"), Some(3))
    );
    let mut streamed = Run::new(&c, "/v1/messages", &[]);
    lookup(&mut streamed, MESSAGES_STREAM_REQUEST);
    streamed.callout_answer(sidecar(200, store.body.clone(), None));
    let text = String::from_utf8(streamed.seen.reply.as_ref().unwrap().body.clone()).unwrap();
    assert!(
        text.starts_with("event: message_start\n")
            && text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    assert_eq!(streamed.fact("llm_cache_saved_output_tokens"), Some("3"));

    // Responses: a plain miss, then a streamed hit ending with response.completed.
    let mut run = Run::new(&c, "/v1/responses", &[]);
    let store = miss(&mut run, RESPONSES, "application/json", &[RESPONSES_ANSWER]).unwrap();
    let streaming = br#"{"model":"gpt-4o","stream":true,"instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hello world"}]}]}"#;
    let mut hit = Run::new(&c, "/v1/responses", &[]);
    lookup(&mut hit, streaming);
    hit.callout_answer(sidecar(200, store.body.clone(), None));
    let text = String::from_utf8(hit.seen.reply.as_ref().unwrap().body.clone()).unwrap();
    assert!(text.starts_with("event: response.created\n"), "{text}");
    assert!(text.contains("\"delta\":\"Hi there\""), "{text}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: response.completed\n"), "{last}");
    assert_eq!(hit.fact("llm_cache_saved_input_tokens"), Some("2000"));
    // Embeddings: plain only, stored and served.
    let emb = br#"{"model":"text-embedding-3-small","input":"hello"}"#;
    let vectors = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":1}}"#;
    let mut run = Run::new(&c, "/v1/embeddings", &[]);
    let store = miss(&mut run, emb, "application/json", &[vectors]).unwrap();
    let mut hit = Run::new(&c, "/v1/embeddings", &[]);
    lookup(&mut hit, emb);
    hit.callout_answer(sidecar(200, store.body.clone(), None));
    assert_eq!(
        body_of(&hit.seen.reply.as_ref().unwrap().body),
        body_of(vectors)
    );
}

#[test]
fn a_translated_stream_is_stored_with_the_providers_usage() {
    let c = config(
        r#"{"usage":{},"cache":{},"route":{"default_provider":"anthropic","providers":[
            {"name":"anthropic","format":"anthropic","models":["claude-"]}]}}"#,
    );
    // The OpenAI SDK streams from a Claude model without asking for usage.
    let body = br#"{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let store = miss(
        &mut run,
        body,
        "text/event-stream",
        &[ANTHROPIC_STREAM.as_bytes()],
    )
    .unwrap();
    let entry = entry_of(&store);
    assert_eq!(entry.api, Api::OpenAiChat, "stored in the client's API");
    assert_eq!(
        entry.answer["choices"][0]["message"]["content"],
        "Hello there"
    );
    assert_eq!(
        (
            entry.answer["usage"]["prompt_tokens"].as_u64(),
            entry.answer["usage"]["completion_tokens"].as_u64()
        ),
        (Some(12), Some(3))
    );
    assert_eq!(entry.provider, "anthropic");
}

const SEMANTIC: &str = r#"{"usage":{},"cache":{"semantic":{"enabled":true,"threshold":0.8}}}"#;
const BAGS: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"Airline help."},{"role":"user","content":"How many bags can I check in on a long-haul flight?"}]}"#;
const BAGS_REWORDED: &[u8] = br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"Airline help."},{"role":"user","content":"What is the checked baggage allowance for long-haul flights?"}]}"#;

fn json_of(call: &Callout) -> Value {
    body_of(&call.body)
}

/// The semantic query the exchange asked after an exact 404.
fn semantic_query(run: &mut Run, body: &[u8]) -> (Callout, Callout) {
    let exact = lookup(run, body);
    match run.callout_answer(sidecar(404, vec![], None)) {
        Flow::Call(query) => (exact, query),
        other => panic!("expected a semantic query, got {other:?}"),
    }
}

#[test]
fn an_exact_miss_asks_the_index_and_a_stored_answer_is_upserted_under_its_key() {
    let c = config(SEMANTIC);
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let (exact, query) = semantic_query(&mut run, BAGS);
    assert_eq!(query.cluster, "semantic_sidecar");
    assert_eq!(query.timeout_ms, 50);
    assert_eq!(header(&query, ":method"), "POST");
    assert_eq!(header(&query, ":path"), "/v1/ns/a:anonymous/query");
    let asked = json_of(&query);
    assert_eq!(
        asked["text"],
        "How many bags can I check in on a long-haul flight?"
    );
    assert_eq!(
        (asked["k"].clone(), asked["verify"].clone()),
        (json!(3), json!(true))
    );
    assert_eq!(asked["threshold"], json!(0.8));
    let partition = asked["partition"].as_str().unwrap().to_string();
    assert_eq!(partition.len(), 64);
    // Only a rejected neighbour: a miss.
    let rejected = json!({"neighbours": [{"id": "x", "score": 0.91, "verified": false,
        "rejected_by": "scope", "payload": {"key": "a".repeat(64)}}]});
    assert_eq!(
        run.callout_answer(sidecar(200, rejected.to_string().into_bytes(), None)),
        Flow::Continue
    );
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    assert_eq!(run.fact("llm_cache_semantic"), Some("miss"));
    assert_eq!(
        run.seen.counter("llm.cache_semantic_lookups.status.miss"),
        1
    );
    let [store, upsert] = &run.seen.background[..] else {
        panic!("a store and an upsert: {:?}", run.seen.background)
    };
    let key = header(&exact, ":path")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(header(store, ":method"), "PUT");
    assert_eq!(upsert.cluster, "semantic_sidecar");
    assert_eq!(header(upsert, ":path"), "/v1/ns/a:anonymous/upsert");
    assert_eq!(upsert.timeout_ms, 1000);
    assert_eq!(
        json_of(upsert),
        json!({"id": key, "partition": partition, "payload": {"key": key},
               "text": "How many bags can I check in on a long-haul flight?", "ttl_s": 3600})
    );
}

#[test]
fn a_verified_neighbour_is_replayed_from_its_exact_entry_as_an_exact_hit_is() {
    let c = config(SEMANTIC);
    let mut first = Run::new(&c, "/v1/chat/completions", &[]);
    let (_, _) = semantic_query(&mut first, BAGS);
    let none = br#"{"neighbours":[]}"#.to_vec();
    first.callout_answer(sidecar(200, none, None));
    first.answer(200, "application/json", &[OPENAI_ANSWER]);
    let store = first.seen.background[0].clone();
    let upsert = json_of(&first.seen.background[1]);
    let key = upsert["id"].as_str().unwrap().to_string();

    // The reworded question, streamed: same partition, another exact key.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let (exact, query) = semantic_query(&mut run, BAGS_REWORDED);
    assert!(!header(&exact, ":path").ends_with(&key));
    assert_eq!(json_of(&query)["partition"], upsert["partition"]);
    let found = json!({"neighbours": [
        {"id": "other", "score": 0.93, "verified": false, "rejected_by": "number",
         "payload": {"key": "b".repeat(64)}},
        {"id": key, "score": 0.8712, "verified": true, "payload": {"key": key}}]});
    let fetch = match run.callout_answer(sidecar(200, found.to_string().into_bytes(), None)) {
        Flow::Call(call) => call,
        other => panic!("expected the entry's read, got {other:?}"),
    };
    assert_eq!(fetch.cluster, "cache_sidecar");
    assert_eq!(header(&fetch, ":method"), "GET");
    assert_eq!(
        header(&fetch, ":path"),
        format!("/v1/cache/a:anonymous/{key}")
    );
    let Flow::Respond(reply) = run.callout_answer(sidecar(200, store.body.clone(), Some("3")))
    else {
        panic!("a semantic hit answers")
    };
    let h = |n| header_of(&reply, n);
    assert_eq!(h("x-llm-cache").as_deref(), Some("hit-semantic"));
    assert_eq!(h("x-llm-cache-similarity").as_deref(), Some("0.87"));
    assert_eq!(h("content-type").as_deref(), Some("text/event-stream"));
    assert_eq!(h("x-llm-cost-usd").as_deref(), Some("0"));
    assert_eq!(h("age").as_deref(), Some("3"));
    let text = String::from_utf8(reply.body.clone()).unwrap();
    assert!(
        text.contains("Hi") && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
    assert_eq!(run.fact("llm_cache"), Some("hit-semantic"));
    assert_eq!(run.fact("llm_cache_semantic"), Some("hit"));
    assert_eq!(run.fact("llm_cache_semantic_id"), Some(key.as_str()));
    assert_eq!(run.fact("llm_cache_similarity"), Some("0.8712"));
    // A replayed stream without a usage chunk: the input saved is this request's count.
    let saved: u64 = run
        .fact("llm_cache_saved_input_tokens")
        .unwrap()
        .parse()
        .unwrap();
    assert!(saved > 9, "{saved}");
    assert_eq!(
        run.seen
            .counter("llm.cache_requests.status.hit-semantic.gen_ai_request_model.gpt-4o"),
        1
    );
    assert!(
        run.seen
            .counter("llm.cache_saved_tokens.gen_ai_request_model.gpt-4o")
            > saved
    );
    assert!(run.seen.background.is_empty(), "a hit is not stored again");
}

#[test]
fn a_failing_index_or_a_gone_entry_is_a_miss_never_a_failed_request() {
    let c = config(SEMANTIC);
    for (status, fact) in [(0, "error"), (504, "error"), (503, "error"), (200, "error")] {
        let mut run = Run::new(&c, "/v1/chat/completions", &[]);
        semantic_query(&mut run, BAGS);
        let body = if status == 200 {
            b"<html>".to_vec()
        } else {
            vec![]
        };
        assert_eq!(
            run.callout_answer(sidecar(status, body, None)),
            Flow::Continue
        );
        run.answer(200, "application/json", &[OPENAI_ANSWER]);
        assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
        assert_eq!(run.fact("llm_cache_semantic"), Some(fact));
        assert_eq!(
            run.seen.counter("llm.cache_semantic_lookups.status.error"),
            1
        );
        assert_eq!(run.seen.background.len(), 2, "still stored and upserted");
    }
    // The matched entry expired: a miss.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    semantic_query(&mut run, BAGS);
    let key = "c".repeat(64);
    let found = json!({"neighbours": [{"id": key, "score": 0.9, "verified": true,
        "payload": {"key": key}}]});
    let Flow::Call(_) = run.callout_answer(sidecar(200, found.to_string().into_bytes(), None))
    else {
        panic!("the entry's read")
    };
    assert_eq!(
        run.callout_answer(sidecar(404, vec![], None)),
        Flow::Continue
    );
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("miss"));
    assert_eq!(run.fact("llm_cache_semantic"), Some("stale"));
    // The exact sidecar down: no semantic query, `error` as before.
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    lookup(&mut run, BAGS);
    assert_eq!(run.callout_answer(sidecar(0, vec![], None)), Flow::Continue);
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(run.response_header("x-llm-cache").as_deref(), Some("error"));
}

#[test]
fn requests_without_a_last_user_text_turn_or_with_the_tier_off_are_exact_only() {
    let off = config(
        r#"{"usage":{},"cache":{"semantic":{},"overrides":[
        {"when":{"groups":["none"]},"semantic":true}]}}"#,
    );
    let on = config(SEMANTIC);
    for (c, body) in [
        (&off, BAGS),
        (
            &on,
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hel"}]}"#
                as &[u8],
        ),
        (
            &on,
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}"#,
        ),
    ] {
        let mut run = Run::new(c, "/v1/chat/completions", &[]);
        lookup(&mut run, body);
        assert_eq!(
            run.callout_answer(sidecar(404, vec![], None)),
            Flow::Continue,
            "{}",
            String::from_utf8_lossy(body)
        );
        run.answer(200, "application/json", &[OPENAI_ANSWER]);
        assert_eq!(run.seen.background.len(), 1, "stored, not upserted");
        assert_eq!(run.fact("llm_cache_semantic"), None);
    }
}
