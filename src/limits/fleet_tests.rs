//! The sidecar store without Envoy and without a sidecar: rules -> the admit's checks,
//! the sidecar's answers -> admissions, refusals and headers (the same as shared data
//! gives for the same state), settle payloads, and `limits.store` / `limits.sidecar`
//! config errors.

use serde_json::{json, Value};

use super::*;
use crate::limits::{
    admit, compile, Actual, Admission, Budget, ClientPolicy, Demand, LimitKind, Limits,
    MemoryStore, PolicyUnit, RawLimits, Subject,
};

const SEC: u64 = 1_000_000;
/// 2024-03-15T12:00:00Z
const NOW: u64 = 1_710_504_000 * SEC;
/// 2024-03-16T00:00:00Z and 2024-04-01T00:00:00Z, in ms.
const DAY_END_MS: u64 = 1_710_547_200_000;
const MONTH_END_MS: u64 = 1_711_929_600_000;

fn limits(v: Value) -> Limits {
    compile(serde_json::from_value(v).expect("raw limits")).expect("compiles")
}

fn compile_err(v: Value) -> String {
    match serde_json::from_value::<RawLimits>(v) {
        Ok(raw) => compile(raw).expect_err("must not compile").0,
        Err(e) => e.to_string(),
    }
}

fn sidecar_of(l: &Limits) -> &Sidecar {
    match &l.store {
        Store::Sidecar(s) => s,
        Store::SharedData => panic!("store is shared data"),
    }
}

fn sidecar_limits(rules: Value) -> Limits {
    limits(json!({"store": "sidecar", "rules": rules, "client_policy": true}))
}

fn alice() -> Subject<'static> {
    Subject {
        consumer: Some("alice"),
        group: Some("free"),
        model: "gpt-4o-mini",
        budget: Some(Budget {
            daily_micro_usd: Some(1_000_000),
            monthly_micro_usd: Some(5_000_000),
        }),
    }
}

fn demand(input: u64, output: u64, cost: u64) -> Demand {
    Demand {
        input_tokens: input,
        reserved_output_tokens: output,
        estimated_cost_micro_usd: cost,
    }
}

fn ask_of(l: &Limits, sub: &Subject, d: &Demand, policy: Option<&ClientPolicy>) -> AdmitAsk {
    ask(l, sidecar_of(l), sub, d, policy, NOW)
        .expect("not refused")
        .expect("some counter applies")
}

fn checks(a: &AdmitAsk) -> Vec<Value> {
    let v: Value = serde_json::from_slice(a.body()).unwrap();
    v["checks"].as_array().unwrap().clone()
}

fn by_key<'a>(checks: &'a [Value], key: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no check {key} in {checks:?}"))
}

/// What the sidecar answers when it admits every check: one reservation each, and the
/// given `remaining` / `reset_ms` per check.
fn admitted_answer(a: &AdmitAsk, status: &[(u64, u64)]) -> Vec<u8> {
    let checks = checks(a);
    let reservations: Vec<Value> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cost = if c["kind"] == "concurrency" {
                json!(1)
            } else {
                c["cost"].clone()
            };
            json!({"id": format!("{i:032x}"), "key": c["key"], "kind": c["kind"], "cost": cost})
        })
        .collect();
    let status: Vec<Value> = checks
        .iter()
        .zip(status)
        .map(|(c, (remaining, reset))| {
            json!({"key": c["key"], "remaining": remaining, "reset_ms": reset})
        })
        .collect();
    json!({"admitted": true, "reservations": reservations, "status": status})
        .to_string()
        .into_bytes()
}

fn refused_answer(
    a: &AdmitAsk,
    index: usize,
    retry: Option<u64>,
    status: &[(u64, u64)],
) -> Vec<u8> {
    let status: Vec<Value> = checks(a)
        .iter()
        .zip(status)
        .map(|(c, (remaining, reset))| {
            json!({"key": c["key"], "remaining": remaining, "reset_ms": reset})
        })
        .collect();
    json!({"admitted": false, "refused": index, "retry_after_ms": retry, "status": status})
        .to_string()
        .into_bytes()
}

#[test]
fn rules_become_one_check_per_counter() {
    let l = sidecar_limits(json!([
        {"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5, "total_tokens": 2000},
        {"name": "inout", "scope": "group", "window": "1h", "input_tokens": 9000, "output_tokens": 3000},
        {"name": "conc", "scope": "consumer", "concurrent": 2},
        {"name": "per-model", "scope": "model", "window": "30s", "requests": 7},
        {"name": "all", "scope": "global", "window": "1d", "requests": 1000},
        {"name": "other-group", "scope": "global", "groups": ["pro"], "window": "1s", "requests": 1}
    ]));
    let policy = ClientPolicy {
        quota: 500,
        window_secs: 10,
        unit: PolicyUnit::Token,
    };
    let a = ask_of(&l, &alice(), &demand(40, 60, 1234), Some(&policy));
    let c = checks(&a);
    assert_eq!(c.len(), 10, "{c:?}");
    assert_eq!(
        by_key(&c, "rpm/req/consumer:alice"),
        &json!({"kind": "window", "key": "rpm/req/consumer:alice", "window_ms": 60_000, "amount": 5, "cost": 1})
    );
    assert_eq!(by_key(&c, "rpm/tot/consumer:alice")["cost"], 100);
    assert_eq!(
        by_key(&c, "inout/in/group:free"),
        &json!({"kind": "window", "key": "inout/in/group:free", "window_ms": 3_600_000, "amount": 9000, "cost": 40})
    );
    assert_eq!(by_key(&c, "inout/out/group:free")["cost"], 60);
    assert_eq!(
        by_key(&c, "conc/conc/consumer:alice"),
        &json!({"kind": "concurrency", "key": "conc/conc/consumer:alice", "limit": 2, "lease_ms": 600_000})
    );
    assert_eq!(
        by_key(&c, "per-model/req/model:gpt-4o-mini")["window_ms"],
        30_000
    );
    assert_eq!(by_key(&c, "all/req/global")["window_ms"], 86_400_000);
    assert_eq!(
        by_key(&c, "$policy/tot/consumer:alice"),
        &json!({"kind": "window", "key": "$policy/tot/consumer:alice", "window_ms": 10_000, "amount": 500, "cost": 100})
    );
    // Budgets end where the UTC calendar says: midnight, and the first of next month.
    assert_eq!(
        by_key(&c, "$budget/day/alice"),
        &json!({"kind": "budget", "key": "$budget/day/alice", "limit": 1_000_000, "period_end_ms": DAY_END_MS, "cost": 1234})
    );
    assert_eq!(
        by_key(&c, "$budget/month/alice")["period_end_ms"],
        MONTH_END_MS
    );
    // Anonymous callers share one consumer counter, have no budget, and no group.
    let anon = Subject {
        consumer: None,
        group: None,
        model: "gpt-4o-mini",
        budget: None,
    };
    let c = checks(&ask_of(&l, &anon, &demand(1, 1, 0), None));
    assert!(c.iter().any(|c| c["key"] == "rpm/req/anonymous"));
    assert!(c.iter().any(|c| c["key"] == "inout/in/ungrouped"));
    assert!(c.iter().all(|c| c["kind"] != "budget"));
    // The lease is the configured one.
    let l = limits(json!({"store": "sidecar", "sidecar": {"lease_ms": 90_000},
        "rules": [{"name": "conc", "scope": "global", "concurrent": 1}]}));
    assert_eq!(
        checks(&ask_of(&l, &anon, &demand(1, 1, 0), None))[0]["lease_ms"],
        90_000
    );
}

#[test]
fn keys_are_visible_ascii_of_at_most_512_bytes_and_distinct() {
    assert_eq!(
        counter_key("rpm/req/consumer:alice"),
        "rpm/req/consumer:alice"
    );
    assert_eq!(counter_key("m/req/model:gpt 4o"), "m/req/model:gpt%204o");
    assert_eq!(counter_key("m/req/model:50%"), "m/req/model:50%25");
    assert_eq!(counter_key("m/req/model:é"), "m/req/model:%C3%A9");
    let long = format!("m/req/model:{}", "x".repeat(600));
    let k = counter_key(&long);
    assert_eq!(k.len(), 440 + 2 + 64);
    assert!(k.starts_with("m/req/model:xxx") && k[440..].starts_with("%h"));
    assert_ne!(counter_key(&format!("{long}y")), k);
    let keys = [
        "a b",
        "a%20b",
        "a%2520b",
        &long,
        &format!("{long}y"),
        &"é".repeat(300),
        &"%".repeat(200),
    ];
    let encoded: std::collections::BTreeSet<String> = keys.iter().map(|k| counter_key(k)).collect();
    assert_eq!(encoded.len(), keys.len());
    for k in &encoded {
        assert!(
            k.len() <= 512 && k.bytes().all(|b| b.is_ascii_graphic()),
            "{k}"
        );
    }
    // A model name with a space reaches the sidecar escaped.
    let l = sidecar_limits(json!([{"name": "m", "scope": "model", "window": "1m", "requests": 1}]));
    let sub = Subject {
        model: "my model",
        ..alice()
    };
    assert!(checks(&ask_of(&l, &sub, &demand(1, 1, 0), None))
        .iter()
        .any(|c| c["key"] == "m/req/model:my%20model"));
}

#[test]
fn nothing_is_asked_when_no_counter_applies_or_a_cost_never_fits() {
    let l = sidecar_limits(
        json!([{"name": "pro", "scope": "consumer", "groups": ["pro"], "window": "1m", "requests": 1}]),
    );
    let anon = Subject {
        budget: None,
        ..alice()
    };
    assert!(ask(&l, sidecar_of(&l), &anon, &demand(1, 1, 0), None, NOW)
        .unwrap()
        .is_none());
    let l = sidecar_limits(
        json!([{"name": "tpm", "scope": "global", "window": "1m", "total_tokens": 100}]),
    );
    let r = ask(&l, sidecar_of(&l), &alice(), &demand(80, 30, 0), None, NOW).unwrap_err();
    assert_eq!((r.kind, r.retry_after_secs), (LimitKind::Tokens, None));
    assert!(r.message.contains("needs 110 tokens"), "{}", r.message);
}

#[test]
fn an_admitted_answer_holds_every_reservation_and_carries_the_headers() {
    let l = sidecar_limits(json!([
        {"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5, "total_tokens": 2000},
        {"name": "conc", "scope": "consumer", "concurrent": 2}
    ]));
    let a = ask_of(&l, &alice(), &demand(40, 60, 1234), None);
    let keys: Vec<Value> = checks(&a).iter().map(|c| c["key"].clone()).collect();
    // The status the sidecar reports per check, in the checks' order.
    let status: Vec<(u64, u64)> = keys
        .iter()
        .map(|k| match k.as_str().unwrap() {
            "rpm/req/consumer:alice" => (4, 12_000),
            "rpm/tot/consumer:alice" => (1900, 3_000),
            _ => (1, 0),
        })
        .collect();
    let Answer::Admitted(admission) = a.read(200, &admitted_answer(&a, &status), NOW) else {
        panic!("admitted")
    };
    assert!(!admission.degraded && admission.reservations.is_empty());
    assert_eq!(admission.sidecar.len(), 5);
    let hold = |key: &str| admission.sidecar.iter().find(|h| h.key == key).unwrap();
    assert_eq!(hold("rpm/req/consumer:alice").settles, Settles::AsReserved);
    assert_eq!(
        hold("rpm/tot/consumer:alice").settles,
        Settles::Tokens(Counted::TotalTokens)
    );
    assert_eq!(hold("conc/conc/consumer:alice").kind, "concurrency");
    assert_eq!(hold("$budget/day/alice").settles, Settles::Spend);
    let h = admission.headers.openai_headers();
    let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("x-ratelimit-limit-requests"), Some("5"));
    assert_eq!(get("x-ratelimit-remaining-requests"), Some("4"));
    assert_eq!(get("x-ratelimit-reset-requests"), Some("12s"));
    assert_eq!(get("x-ratelimit-limit-tokens"), Some("2000"));
    assert_eq!(get("x-ratelimit-remaining-tokens"), Some("1900"));
    assert_eq!(get("x-ratelimit-reset-tokens"), Some("3s"));
}

/// A shared-data store with its slots, as the host creates them.
fn shared_store(l: &Limits) -> MemoryStore {
    let store = MemoryStore::new();
    for k in l.slot_keys() {
        store.create(&k, &crate::limits::empty_slot_value());
    }
    store
}

/// The refusal of `d` by shared data, once `admitted` requests of `d` have been admitted
/// under `rules`.
fn shared_refusal(rules: &Value, sub: &Subject, d: &Demand, admitted: usize) -> Refusal {
    let shared = limits(json!({ "rules": rules }));
    let store = shared_store(&shared);
    for _ in 0..admitted {
        admit(&shared, &store, sub, d, None, NOW).unwrap();
    }
    admit(&shared, &store, sub, d, None, NOW).unwrap_err()
}

/// The refusal of `d` by the sidecar, which refused its only check with `retry` and
/// reported `status` for it.
fn sidecar_refusal(
    rules: &Value,
    sub: &Subject,
    d: &Demand,
    retry: u64,
    status: (u64, u64),
) -> Refusal {
    let l = sidecar_limits(rules.clone());
    let a = ask_of(&l, sub, d, None);
    match a.read(200, &refused_answer(&a, 0, Some(retry), &[status]), NOW) {
        Answer::Refused(r) => r,
        other => panic!("refused: {other:?}"),
    }
}

/// The shared-data store and the sidecar, in the same state, refuse alike.
#[test]
fn refusals_are_those_of_shared_data_for_the_same_state() {
    let me = Subject {
        budget: None,
        ..alice()
    };
    let d = demand(1, 1, 0);
    // Five admitted a moment ago: full for a whole window, the next fits in 12 s.
    let rules = json!([{"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5}]);
    let r = sidecar_refusal(&rules, &me, &d, 12_000, (0, 60_000));
    assert_eq!(r, shared_refusal(&rules, &me, &d, 5));
    assert_eq!(r.retry_after_secs, Some(12));
    // Concurrency: the same message, and 1 s to wait (not the lease's end).
    let rules = json!([{"name": "conc", "scope": "consumer", "concurrent": 2}]);
    let r = sidecar_refusal(&rules, &me, &d, 599_000, (0, 599_000));
    assert_eq!(r, shared_refusal(&rules, &me, &d, 2));
    assert_eq!(r.retry_after_secs, Some(1));

    // Budgets: spent, or not enough left for the estimate; both renew at midnight UTC.
    let only_daily = Subject {
        budget: Some(Budget {
            daily_micro_usd: Some(1_000_000),
            monthly_micro_usd: None,
        }),
        ..alice()
    };
    let shared = limits(json!({}));
    for (spent, estimate, words) in [
        (1_000_000, 1, "You have used your daily budget of $1.00"),
        (
            700_000,
            400_000,
            "would exceed your daily budget of $1.00 ($0.30 left)",
        ),
    ] {
        let store = shared_store(&shared);
        let first = admit(
            &shared,
            &store,
            &only_daily,
            &demand(1, 1, spent),
            None,
            NOW,
        )
        .unwrap();
        crate::limits::settle(
            &shared,
            &store,
            &first,
            &Actual {
                cost_micro_usd: spent,
                ..Actual::default()
            },
            NOW,
        );
        let expected = admit(
            &shared,
            &store,
            &only_daily,
            &demand(1, 1, estimate),
            None,
            NOW,
        )
        .unwrap_err();
        let left = (1_000_000 - spent, 43_200_000);
        let r = sidecar_refusal(
            &json!([]),
            &only_daily,
            &demand(1, 1, estimate),
            43_200_000,
            left,
        );
        assert_eq!(r, expected);
        assert!(r.message.contains(words), "{}", r.message);
        assert_eq!(r.retry_after_secs, Some(12 * 3600));
    }
}

#[test]
fn a_refusal_carries_the_headers_of_every_window() {
    let l = sidecar_limits(json!([
        {"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5},
        {"name": "tpm", "scope": "consumer", "window": "1m", "total_tokens": 1000}
    ]));
    let a = ask_of(&l, &alice(), &demand(100, 100, 0), None);
    let keys: Vec<String> = checks(&a)
        .iter()
        .map(|c| c["key"].as_str().unwrap().to_string())
        .collect();
    let tpm = keys.iter().position(|k| k.starts_with("tpm/")).unwrap();
    let status: Vec<(u64, u64)> = keys
        .iter()
        .map(|k| match k.as_str() {
            "rpm/req/consumer:alice" => (3, 24_000),
            "tpm/tot/consumer:alice" => (150, 51_000),
            _ => (1_000_000, 43_200_000),
        })
        .collect();
    let Answer::Refused(r) = a.read(200, &refused_answer(&a, tpm, Some(3_001), &status), NOW)
    else {
        panic!("refused")
    };
    assert_eq!((r.kind, r.rule.as_str()), (LimitKind::Tokens, "tpm"));
    assert_eq!(r.retry_after_secs, Some(4));
    assert!(r.message.contains("try again in 4s"), "{}", r.message);
    let h = r.headers.anthropic_headers(NOW);
    let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("anthropic-ratelimit-requests-remaining"), Some("3"));
    assert_eq!(get("anthropic-ratelimit-tokens-remaining"), Some("150"));
    assert_eq!(
        get("anthropic-ratelimit-tokens-reset"),
        Some("2024-03-15T12:00:51Z")
    );
}

#[test]
fn anything_but_a_matching_answer_is_a_failure() {
    let l =
        sidecar_limits(json!([{"name": "rpm", "scope": "global", "window": "1m", "requests": 5}]));
    let anon = Subject {
        consumer: None,
        group: None,
        model: "m",
        budget: None,
    };
    let a = ask_of(&l, &anon, &demand(1, 1, 0), None);
    let failed = |status: u32, body: &[u8]| match a.read(status, body, NOW) {
        Answer::Failed(why) => why,
        other => panic!("{status} {:?}: {other:?}", String::from_utf8_lossy(body)),
    };
    assert!(failed(0, b"").contains("could not be made"));
    assert!(failed(504, b"upstream request timeout").contains("504"));
    assert!(failed(503, br#"{"error":"store: redis down"}"#).contains("redis down"));
    assert!(failed(
        400,
        br#"{"error":"checks[0].period_end_ms is not after the store's clock"}"#
    )
    .contains("400"));
    failed(200, b"not json");
    failed(200, br#"{"admitted": true}"#);
    // Status for another key, or for fewer checks.
    failed(
        200,
        br#"{"admitted": true, "reservations": [], "status": [{"key": "x", "remaining": 1, "reset_ms": 0}]}"#,
    );
    failed(
        200,
        br#"{"admitted": false, "refused": 0, "retry_after_ms": 5, "status": []}"#,
    );
    // A refusal of a check that does not exist, or of a window without retry-after.
    let st = br#"[{"key": "rpm/req/global", "remaining": 0, "reset_ms": 5}]"#;
    let st = std::str::from_utf8(st).unwrap();
    failed(
        200,
        format!(r#"{{"admitted": false, "refused": 3, "retry_after_ms": 5, "status": {st}}}"#)
            .as_bytes(),
    );
    failed(
        200,
        format!(r#"{{"admitted": false, "refused": 0, "retry_after_ms": null, "status": {st}}}"#)
            .as_bytes(),
    );
    // Reservations that do not match the checks.
    failed(
        200,
        format!(r#"{{"admitted": true, "reservations": [], "status": {st}}}"#).as_bytes(),
    );
    failed(
        200,
        format!(r#"{{"admitted": true, "reservations": [{{"id": "1", "key": "rpm/req/global", "kind": "budget", "cost": 1}}], "status": {st}}}"#).as_bytes(),
    );
    assert!(matches!(
        a.read(200, &admitted_answer(&a, &[(4, 12_000)]), NOW),
        Answer::Admitted(_)
    ));
}

#[test]
fn the_settle_gives_back_every_reservation_with_what_it_really_cost() {
    let l = sidecar_limits(json!([
        {"name": "r", "scope": "consumer", "window": "1m", "requests": 5, "input_tokens": 1000, "output_tokens": 1000, "total_tokens": 2000},
        {"name": "conc", "scope": "consumer", "concurrent": 2}
    ]));
    let a = ask_of(&l, &alice(), &demand(40, 300, 5000), None);
    let Answer::Admitted(admission) = a.read(200, &admitted_answer(&a, &[(1, 1); 7]), NOW) else {
        panic!("admitted")
    };
    let actual = Actual {
        input_tokens: 42,
        output_tokens: 7,
        cost_micro_usd: 99,
    };
    let body: Value = serde_json::from_slice(&settle_body(&admission, &actual).unwrap()).unwrap();
    let reservations = body["reservations"].as_array().unwrap();
    let used = body["actual"].as_array().unwrap();
    assert_eq!(reservations.len(), 7);
    assert_eq!(used.len(), 7);
    let settled: std::collections::BTreeMap<String, (Value, Value)> = reservations
        .iter()
        .zip(used)
        .map(|(r, n)| {
            (
                r["key"].as_str().unwrap().to_string(),
                (r.clone(), n.clone()),
            )
        })
        .collect();
    let expect = [
        ("r/req/consumer:alice", "window", 1, 1),
        ("r/in/consumer:alice", "window", 40, 42),
        ("r/out/consumer:alice", "window", 300, 7),
        ("r/tot/consumer:alice", "window", 340, 49),
        ("conc/conc/consumer:alice", "concurrency", 1, 1),
        ("$budget/day/alice", "budget", 5000, 99),
        ("$budget/month/alice", "budget", 5000, 99),
    ];
    for (key, kind, cost, actual) in expect {
        let (r, n) = &settled[key];
        assert_eq!(r["kind"], kind, "{key}");
        assert_eq!(r["cost"], cost, "{key}");
        assert_eq!(r["id"].as_str().unwrap().len(), 32, "{key}");
        assert_eq!(
            r.as_object().unwrap().len(),
            4,
            "only id, key, kind, cost: {r}"
        );
        assert_eq!(n, &json!(actual), "{key}");
    }
    // Nothing held, nothing to settle (shared data, or admitted while the sidecar failed).
    assert_eq!(settle_body(&Admission::default(), &actual), None);
}

#[test]
fn store_and_sidecar_config() {
    assert_eq!(limits(json!({})).store, Store::SharedData);
    assert_eq!(
        limits(json!({"store": "shared_data"})).store,
        Store::SharedData
    );
    let l = limits(json!({"store": "sidecar"}));
    assert_eq!(
        sidecar_of(&l),
        &Sidecar {
            cluster: "cache_sidecar".into(),
            authority: "cache_sidecar".into(),
            timeout_ms: 100,
            fail_closed: false,
            lease_ms: 600_000,
        }
    );
    assert_eq!(sidecar_of(&l).settle_timeout_ms(), 1000);
    let l = limits(
        json!({"store": "sidecar", "sidecar": {"cluster": "limits", "authority": "limits.local",
        "timeout_ms": 2500, "fail": "closed", "lease_ms": 1000}}),
    );
    let s = sidecar_of(&l);
    assert_eq!(
        (
            s.cluster.as_str(),
            s.authority.as_str(),
            s.timeout_ms,
            s.fail_closed,
            s.lease_ms
        ),
        ("limits", "limits.local", 2500, true, 1000)
    );
    assert_eq!(s.settle_timeout_ms(), 2500);
    assert_eq!(
        s.headers(ADMIT_PATH, 12),
        vec![
            (":method".to_string(), "POST".to_string()),
            (":path".into(), "/v1/limits/admit".into()),
            (":authority".into(), "limits.local".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), "12".into()),
        ]
    );
    let errs = [
        (json!({"store": "redis"}), "limits.store must be one of shared_data, sidecar (got \"redis\")"),
        (json!({"sidecar": {}}), "limits.sidecar must only be set when limits.store is sidecar"),
        (json!({"store": "sidecar", "sidecar": {"cluster": ""}}), "limits.sidecar.cluster must not be empty"),
        (json!({"store": "sidecar", "sidecar": {"authority": ""}}), "limits.sidecar.authority must not be empty"),
        (json!({"store": "sidecar", "sidecar": {"timeout_ms": 0}}), "limits.sidecar.timeout_ms must be between 1 and 5000 (got 0)"),
        (json!({"store": "sidecar", "sidecar": {"timeout_ms": 5001}}), "limits.sidecar.timeout_ms must be between 1 and 5000 (got 5001)"),
        (json!({"store": "sidecar", "sidecar": {"fail": "maybe"}}), "limits.sidecar.fail must be one of open, closed (got \"maybe\")"),
        (json!({"store": "sidecar", "sidecar": {"lease_ms": 999}}), "limits.sidecar.lease_ms must be between 1000 and 86400000 (got 999)"),
        (json!({"store": "sidecar", "rules": [{"name": "c", "scope": "global", "concurrent": 1_000_001}]}),
         "limits.rules[0].concurrent must be at most 1000000 when limits.store is sidecar (got 1000001)"),
    ];
    for (raw, message) in errs {
        assert_eq!(compile_err(raw.clone()), message, "{raw}");
    }
    assert!(
        compile_err(json!({"store": "sidecar", "sidecar": {"port": 1}}))
            .contains("unknown field `port`")
    );
    // 13 rules of 5 counters, the client's policy and two budgets: 68 > 64.
    let rules: Vec<Value> = (0..13)
        .map(|i| {
            json!({"name": format!("r{i}"), "scope": "global", "window": "1m", "requests": 9,
            "input_tokens": 9, "output_tokens": 9, "total_tokens": 9, "concurrent": 9})
        })
        .collect();
    assert!(compile_err(json!({"store": "sidecar", "client_policy": true, "rules": rules}))
        .starts_with("limits.rules: a request may meet at most 64 counters when limits.store is sidecar (these rules, the client policy and two budgets make up to 68)"));
    let ok: Vec<Value> = rules[..12].to_vec();
    limits(json!({"store": "sidecar", "client_policy": true, "rules": ok}));
}
