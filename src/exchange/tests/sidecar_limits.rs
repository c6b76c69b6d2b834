//! Whole exchanges with `limits.store: "sidecar"`: the limits stage asks the cache
//! sidecar (a callout the test answers as the sidecar would), the request is admitted,
//! refused with `retry-after`, or the sidecar fails (open: admitted and counted; closed:
//! 503 in the client's envelope), and the settle goes out as a background call with the
//! real usage, at the end of the answer or in the log callback of a stream that never
//! ended.

use serde_json::json;

use super::*;

const FLEET: &str = r#"{"usage":{},"identity":{"required":true,"consumers":[
    {"id":"alice","group":"free","key_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
     "budget":{"daily_usd":1.0}}]},
    "limits":{"store":"sidecar","sidecar":{"timeout_ms":250},"expected_output_tokens":100,"rules":[
        {"name":"rpm","scope":"consumer","window":"1m","requests":5,"total_tokens":2000},
        {"name":"conc","scope":"consumer","concurrent":2}]}}"#;

fn fleet(fail: &str) -> Rc<Config> {
    config(&FLEET.replace(
        r#""timeout_ms":250"#,
        &format!(r#""timeout_ms":250,"fail":"{fail}""#),
    ))
}

const ALICE: &[(&str, &str)] = &[("authorization", "Bearer test")];

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

fn header<'a>(call: &'a Callout, name: &str) -> Option<&'a str> {
    call.headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The request went to the sidecar's admit; its checks.
fn admit_call(flow: &Flow) -> Vec<Value> {
    let Flow::Call(call) = flow else {
        panic!("the limits stage asks the sidecar: {flow:?}")
    };
    assert_eq!(call.cluster, "cache_sidecar");
    assert_eq!(header(call, ":path"), Some("/v1/limits/admit"));
    assert_eq!(header(call, ":method"), Some("POST"));
    assert_eq!(header(call, ":authority"), Some("cache_sidecar"));
    assert_eq!(call.timeout_ms, 250);
    json_of(&call.body)["checks"].as_array().unwrap().clone()
}

/// The sidecar admits every check; a window's `remaining` is what is left after it.
fn admits(checks: &[Value]) -> CallAnswer {
    let reservations: Vec<Value> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cost = c.get("cost").cloned().unwrap_or(json!(1));
            json!({"id": format!("{:032x}", i + 1), "key": c["key"], "kind": c["kind"], "cost": cost})
        })
        .collect();
    let status: Vec<Value> = checks
        .iter()
        .map(|c| {
            let limit = c["amount"].as_u64().or(c["limit"].as_u64()).unwrap_or(1);
            let left = limit.saturating_sub(c["cost"].as_u64().unwrap_or(1));
            json!({"key": c["key"], "remaining": left, "reset_ms": 12_000})
        })
        .collect();
    CallAnswer {
        status: 200,
        headers: vec![],
        body: json!({"admitted": true, "reservations": reservations, "status": status})
            .to_string()
            .into_bytes(),
    }
}

/// The sidecar refuses the request per-minute window: 5 admitted a moment ago.
fn refusal_answer(checks: &[Value]) -> CallAnswer {
    let index = checks
        .iter()
        .position(|c| c["key"] == "rpm/req/consumer:alice")
        .unwrap();
    let status: Vec<Value> = checks
        .iter()
        .map(|c| json!({"key": c["key"], "remaining": 0, "reset_ms": 60_000}))
        .collect();
    CallAnswer {
        status: 200,
        headers: vec![],
        body:
            json!({"admitted": false, "refused": index, "retry_after_ms": 12_000, "status": status})
                .to_string()
                .into_bytes(),
    }
}

fn reply_header<'a>(reply: &'a LocalReply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn admitted_by_the_sidecar_and_settled_with_the_real_usage_in_the_background() {
    let c = fleet("open");
    let mut run = Run::new(&c, "/v1/chat/completions", ALICE);
    let flow = run.send(CHAT);
    let checks = admit_call(&flow);
    let keys: Vec<&str> = checks.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for key in [
        "rpm/req/consumer:alice",
        "rpm/tot/consumer:alice",
        "conc/conc/consumer:alice",
        "$budget/day/alice",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    let input = run.ex.plan.as_ref().unwrap().input_tokens.unwrap();
    let tot = checks
        .iter()
        .find(|c| c["key"] == "rpm/tot/consumer:alice")
        .unwrap();
    assert_eq!(tot["cost"], input + 100, "counted input + expected output");
    // Nothing has gone upstream, nor been counted, before the answer.
    assert_eq!(run.seen.counter("llm.limits_admitted.group.free"), 0);
    assert_eq!(run.callout_answer(Some(admits(&checks))), Flow::Continue);
    assert_eq!(run.seen.counter("llm.limits_admitted.group.free"), 1);
    assert!(run.seen.background.is_empty(), "settled only at the end");
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert_eq!(
        run.response_header("x-ratelimit-limit-requests").as_deref(),
        Some("5")
    );
    assert_eq!(
        run.response_header("x-ratelimit-remaining-requests")
            .as_deref(),
        Some("4")
    );
    assert_eq!(
        run.response_header("x-ratelimit-limit-tokens").as_deref(),
        Some("2000")
    );
    // One settle, from the root context, with what the provider reported.
    assert_eq!(run.seen.background.len(), 1);
    let settle = &run.seen.background[0];
    assert_eq!(settle.cluster, "cache_sidecar");
    assert_eq!(header(settle, ":path"), Some("/v1/limits/settle"));
    assert_eq!(settle.timeout_ms, 1000);
    let body = json_of(&settle.body);
    let answer = json_of(&admits(&checks).body);
    assert_eq!(body["reservations"], answer["reservations"]);
    let actual: Vec<u64> = checks
        .iter()
        .map(|c| match c["key"].as_str().unwrap() {
            "rpm/req/consumer:alice" | "conc/conc/consumer:alice" => 1,
            "rpm/tot/consumer:alice" => 11,
            // 9 input and 2 output tokens of gpt-4o, in micro-USD (rounded up).
            _ => 43,
        })
        .collect();
    assert_eq!(body["actual"], json!(actual));
    assert_eq!(run.seen.counter("llm.limits_settled_tokens.group.free"), 11);
    // Shared data was not touched.
    for key in c.limits.as_ref().unwrap().slot_keys() {
        assert_eq!(run.host.store.value(&key), Some(empty_slot_value()));
    }
    run.log();
    assert_eq!(run.seen.background.len(), 1, "settled once");
}

#[test]
fn refused_by_the_sidecar_with_retry_after_and_the_headers_of_its_windows() {
    let c = fleet("open");
    for (path, body) in [
        ("/v1/chat/completions", CHAT),
        (
            "/v1/messages",
            &br#"{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#[..],
        ),
    ] {
        let mut run = Run::new(&c, path, ALICE);
        let checks = admit_call(&run.send(body));
        run.callout_answer(Some(refusal_answer(&checks)));
        let reply = run.seen.reply.clone().expect("refused");
        assert_eq!(reply.status, 429);
        let v = json_of(&reply.body);
        if path == "/v1/messages" {
            assert_eq!(v["error"]["type"], "rate_limit_error");
            assert_eq!(
                reply_header(&reply, "anthropic-ratelimit-requests-remaining"),
                Some("0")
            );
        } else {
            assert_eq!(v["error"]["code"], "rate_limit_exceeded");
            assert_eq!(v["error"]["type"], "requests");
        }
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("rule rpm: 5 per 1m") && message.contains("try again in 12s"),
            "{message}"
        );
        assert_eq!(reply_header(&reply, "retry-after"), Some("12"));
        assert_eq!(reply_header(&reply, "retry-after-ms"), Some("12000"));
        assert_eq!(
            reply_header(&reply, "x-ratelimit-limit-requests"),
            Some("5")
        );
        assert_eq!(
            reply_header(&reply, "x-ratelimit-remaining-requests"),
            Some("0")
        );
        assert_eq!(
            reply_header(&reply, "x-ratelimit-reset-requests"),
            Some("1m0s")
        );
        assert_eq!(
            run.seen
                .counter("llm.limits_refused.kind.requests.rule.rpm.group.free"),
            1
        );
        run.log();
        assert!(run.seen.background.is_empty(), "nothing to settle");
    }
}

#[test]
fn a_failed_sidecar_fails_open_by_default_counted_and_with_nothing_to_settle() {
    let c = fleet("open");
    let answers = [
        None,
        Some(CallAnswer {
            status: 503,
            headers: vec![],
            body: br#"{"error":"store: redis down"}"#.to_vec(),
        }),
        Some(CallAnswer {
            status: 504,
            headers: vec![],
            body: b"upstream request timeout".to_vec(),
        }),
        Some(CallAnswer {
            status: 200,
            headers: vec![],
            body: b"<html>".to_vec(),
        }),
    ];
    for answer in answers {
        let mut run = Run::new(&c, "/v1/chat/completions", ALICE);
        admit_call(&run.send(CHAT));
        assert_eq!(
            run.callout_answer(answer.clone()),
            Flow::Continue,
            "{answer:?}"
        );
        assert_eq!(run.seen.counter("llm.limits_store_errors.group.free"), 1);
        assert_eq!(run.seen.counter("llm.limits_admitted.group.free"), 1);
        run.answer(200, "application/json", &[OPENAI_ANSWER]);
        assert_eq!(run.fact("llm_error"), None);
        assert!(run.response_header("x-ratelimit-limit-requests").is_none());
        assert!(
            run.seen.background.is_empty(),
            "nothing held, nothing to settle"
        );
    }
}

#[test]
fn a_failed_sidecar_fails_closed_with_503_in_the_clients_envelope() {
    let c = fleet("closed");
    let mut run = Run::new(&c, "/v1/chat/completions", ALICE);
    admit_call(&run.send(CHAT));
    run.callout_answer(None);
    let (status, v) = refused(&run);
    assert_eq!(status, 503);
    assert_eq!(v["error"]["type"], "server_error");
    assert_eq!(v["error"]["code"], "service_unavailable");
    assert_eq!(run.seen.counter("llm.limits_store_errors.group.free"), 1);
    assert_eq!(run.seen.counter("llm.limits_admitted.group.free"), 0);
    assert_eq!(run.fact("llm_error"), Some("limits_unavailable"));
    let mut run = Run::new(&c, "/v1/messages", ALICE);
    admit_call(&run.send(
        br#"{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#,
    ));
    run.callout_answer(Some(CallAnswer {
        status: 503,
        headers: vec![],
        body: br#"{"error":"no healthy upstream"}"#.to_vec(),
    }));
    let (status, v) = refused(&run);
    assert_eq!(status, 503);
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("api_error"))
    );
    // A real answer is still obeyed.
    let mut run = Run::new(&c, "/v1/chat/completions", ALICE);
    let checks = admit_call(&run.send(CHAT));
    assert_eq!(run.callout_answer(Some(admits(&checks))), Flow::Continue);
}

#[test]
fn a_stream_that_never_ends_settles_in_the_log_callback_as_a_background_call() {
    let c = fleet("open");
    let mut run = Run::new(&c, "/v1/chat/completions", ALICE);
    let checks = admit_call(&run.send(CHAT_STREAM));
    assert_eq!(run.callout_answer(Some(admits(&checks))), Flow::Continue);
    *run.host.response.borrow_mut() = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    let fx = run.ex.on_response_headers(&run.host, false);
    run.apply(fx, true);
    assert!(run.seen.background.is_empty());
    run.log();
    assert_eq!(run.fact("llm_error"), Some("stream_cut"));
    assert_eq!(run.seen.background.len(), 1);
    let body = json_of(&run.seen.background[0].body);
    // Cut before any usage: no tokens, no cost; the request and its lease as reserved.
    let actual: Vec<u64> = checks
        .iter()
        .map(|c| match c["key"].as_str().unwrap() {
            "rpm/req/consumer:alice" | "conc/conc/consumer:alice" => 1,
            _ => 0,
        })
        .collect();
    assert_eq!(body["actual"], json!(actual));
    run.log();
    assert_eq!(run.seen.background.len(), 1, "settled once");
}

#[test]
fn no_call_when_no_counter_applies_and_none_for_a_cost_that_never_fits() {
    // An anonymous caller under a rule for one group only.
    let c = config(
        r#"{"usage":{},"limits":{"store":"sidecar","rules":[
            {"name":"pro","scope":"consumer","groups":["pro"],"window":"1m","requests":1},
            {"name":"tiny","scope":"global","window":"1m","total_tokens":50}]}}"#,
    );
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    let body = br#"{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    assert!(matches!(run.send(body), Flow::Call(_)));
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    run.send(br#"{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#);
    assert!(run.seen.calls.is_empty());
    let (status, v) = refused(&run);
    assert_eq!(status, 429);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allows at most 50 per 1m"));
    let c = config(
        r#"{"usage":{},"limits":{"store":"sidecar","rules":[
            {"name":"pro","scope":"consumer","groups":["pro"],"window":"1m","requests":1}]}}"#,
    );
    let mut run = Run::new(&c, "/v1/chat/completions", &[]);
    assert_eq!(run.send(CHAT), Flow::Continue);
    assert!(run.seen.calls.is_empty());
    assert_eq!(run.seen.counter("llm.limits_admitted.group.anonymous"), 1);
    run.answer(200, "application/json", &[OPENAI_ANSWER]);
    assert!(run.seen.background.is_empty());
}
