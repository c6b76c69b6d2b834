//! Admission, settlement and storage tests, with an injected clock and stores that
//! simulate other workers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::json;

use super::calendar::days_from_civil;
use super::slot::{slot_of, Slot};
use super::*;

const SEC: u64 = 1_000_000;
/// 2024-03-15T12:00:00Z
const NOW: u64 = 1_710_504_000 * SEC;

fn limits(v: serde_json::Value) -> Limits {
    compile(serde_json::from_value(v).expect("raw limits")).expect("compiles")
}

fn compile_err(v: serde_json::Value) -> String {
    match serde_json::from_value::<RawLimits>(v) {
        Ok(raw) => compile(raw).expect_err("must not compile").0,
        Err(e) => e.to_string(),
    }
}

fn store_for(l: &Limits) -> MemoryStore {
    let s = MemoryStore::new();
    for k in l.slot_keys() {
        s.create(&k, &empty_slot_value());
    }
    s
}

fn who(consumer: Option<&str>) -> Subject<'_> {
    Subject {
        consumer,
        group: Some("free"),
        model: "gpt-4o-mini",
        budget: None,
    }
}

fn demand(input: u64, output: u64) -> Demand {
    Demand {
        input_tokens: input,
        reserved_output_tokens: output,
        estimated_cost_micro_usd: 0,
    }
}

fn count_admitted(
    l: &Limits,
    s: &dyn CounterStore,
    sub: &Subject,
    d: &Demand,
    now: u64,
    n: usize,
) -> usize {
    (0..n)
        .filter(|_| admit(l, s, sub, d, None, now).is_ok())
        .count()
}

/// Every slot decoded, expired entries dropped.
fn snapshot(l: &Limits, s: &MemoryStore, now: u64) -> Vec<Slot> {
    l.slot_keys()
        .iter()
        .map(|k| {
            let mut slot = Slot::decode(&s.value(k).unwrap()).unwrap();
            slot.drop_expired(now);
            slot
        })
        .collect()
}

#[test]
fn the_documented_example_compiles() {
    let l = limits(json!({
        "rules": [
            {"name": "free-tier-rpm", "scope": "consumer", "groups": ["free"], "window": "1m", "requests": 5, "total_tokens": 2000},
            {"name": "per-consumer-concurrency", "scope": "consumer", "concurrent": 2},
            {"name": "gpt-4o-global-tpm", "scope": "model", "models": ["gpt-4o"], "window": "1m", "input_tokens": 100000},
            {"name": "global-rps", "scope": "global", "window": "1s", "requests": 50}
        ],
        "expected_output_tokens": 256,
        "max_output_tokens": 32768,
        "client_policy": false,
        "slots": 256
    }));
    assert_eq!(l.rules.len(), 4);
    assert_eq!(l.slot_keys().len(), 256);
    assert_eq!(l.slot_keys()[7], "llm-gw:v1:slot:7");
    let d = limits(json!({}));
    assert_eq!(
        (d.expected_output_tokens, d.output.default_cap, d.slots),
        (256, 32768, 256)
    );
    assert!(!d.client_policy);
}

#[test]
fn config_errors_name_the_field_and_rule() {
    let rule = |extra: serde_json::Value| {
        let mut r = json!({"name": "r", "scope": "global", "window": "1m", "requests": 5});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                r.as_object_mut().unwrap().remove(k);
            } else {
                r[k] = v.clone();
            }
        }
        json!({"rules": [{"name": "ok", "scope": "global", "concurrent": 1}, r]})
    };
    assert_eq!(
        compile_err(rule(json!({"window": "5x"}))),
        "limits.rules[1].window must be one of 1s, 1m, 1h, 1d, or a number of seconds like 30s (got \"5x\")"
    );
    assert_eq!(
        compile_err(rule(json!({"name": "ok"}))),
        "limits.rules[1].name must be unique (got \"ok\" twice)"
    );
    assert!(compile_err(rule(json!({"name": "Bad Name"})))
        .starts_with("limits.rules[1].name must be 1-64 characters of [a-z0-9_-]"));
    assert!(compile_err(rule(json!({"scope": "tenant"})))
        .starts_with("limits.rules[1].scope must be one of consumer, group, model, global"));
    assert_eq!(
        compile_err(rule(json!({"requests": 0}))),
        "limits.rules[1].requests must be > 0 (got 0)"
    );
    assert!(compile_err(rule(json!({"requests": null})))
        .starts_with("limits.rules[1] must set at least one of"));
    assert!(compile_err(rule(json!({"window": null})))
        .starts_with("limits.rules[1].window is required"));
    assert!(
        compile_err(rule(json!({"requests": null, "concurrent": 3})))
            .starts_with("limits.rules[1].window must only be set with a windowed limit")
    );
    assert!(compile_err(rule(json!({"models": [""]})))
        .starts_with("limits.rules[1].models[0] must not be empty"));
    assert!(compile_err(rule(
        json!({"window": "1s", "input_tokens": 2_000_000_000u64})
    ))
    .starts_with("limits.rules[1].input_tokens must be at most 1000000000 per 1s"));
    assert!(compile_err(rule(json!({"burst": 3}))).contains("unknown field `burst`"));
    assert_eq!(
        compile_err(json!({"slots": 0})),
        "limits.slots must be between 1 and 65536 (got 0)"
    );
    assert_eq!(
        compile_err(json!({"slots": 65537})),
        "limits.slots must be between 1 and 65536 (got 65537)"
    );
    assert!(
        compile_err(json!({"expected_output_tokens": 10, "max_output_tokens": 5}))
            .starts_with("limits.expected_output_tokens must be at most limits.max_output_tokens")
    );
    assert!(compile_err(json!({"rule": []})).contains("unknown field `rule`"));
}

#[test]
fn windows_parse() {
    assert_eq!(parse_window("1s"), Some(1_000_000_000));
    assert_eq!(parse_window("1m"), Some(60_000_000_000));
    assert_eq!(parse_window("1h"), Some(3_600_000_000_000));
    assert_eq!(parse_window("1d"), Some(86_400_000_000_000));
    assert_eq!(parse_window("30s"), Some(30_000_000_000));
    assert_eq!(parse_window("86400s"), Some(86_400_000_000_000));
    for bad in [
        "", "s", "0s", "86401s", "2m", "5x", "-1s", "+5s", "1.5s", " 1s", "1S",
    ] {
        assert_eq!(parse_window(bad), None, "{bad:?}");
    }
}

#[test]
fn the_reservation_uses_the_requested_output_within_the_models_cap() {
    let l = limits(
        json!({"expected_output_tokens": 300, "max_output_tokens": 4096,
        "model_max_output_tokens": {"tiny": 100}}),
    );
    assert_eq!(l.reserved_output("llama3", None), 300);
    assert_eq!(l.reserved_output("llama3", Some(4096)), 4096);
    assert_eq!(l.reserved_output("claude-sonnet-4-5", Some(64_000)), 64_000);
    assert_eq!(l.reserved_output("tiny-1", None), 100, "expected, capped");
    assert_eq!(l.output.cap("o3"), 100_000);
    assert_eq!(l.output.cap("llama3"), 4096);
}

#[test]
fn burst_then_refusal_then_refill() {
    let l = limits(
        json!({"rules": [{"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5}]}),
    );
    let s = store_for(&l);
    let me = who(Some("alice"));
    let d = demand(10, 10);
    let first = admit(&l, &s, &me, &d, None, NOW).unwrap();
    assert!(!first.degraded);
    let st = first.headers.requests.unwrap();
    assert_eq!((st.limit, st.remaining, st.reset_us), (5, 4, 12 * SEC));
    assert_eq!(count_admitted(&l, &s, &me, &d, NOW, 10), 4);
    let refusal = admit(&l, &s, &me, &d, None, NOW).unwrap_err();
    assert_eq!(refusal.kind, LimitKind::Requests);
    assert_eq!(refusal.kind.as_str(), "requests");
    assert_eq!(refusal.rule, "rpm");
    assert_eq!(refusal.retry_after_secs, Some(12));
    assert!(
        refusal.message.contains("try again in 12s"),
        "{}",
        refusal.message
    );
    let h = refusal.headers.openai_headers();
    assert!(h.contains(&("x-ratelimit-remaining-requests".into(), "0".into())));
    assert!(h.contains(&("x-ratelimit-reset-requests".into(), "1m0s".into())));
    // Others are not affected; one more fits every T = 12 s.
    assert!(admit(&l, &s, &who(Some("bob")), &d, None, NOW).is_ok());
    assert_eq!(count_admitted(&l, &s, &me, &d, NOW + 12 * SEC - 1, 3), 0);
    assert_eq!(count_admitted(&l, &s, &me, &d, NOW + 12 * SEC, 3), 1);
    assert_eq!(count_admitted(&l, &s, &me, &d, NOW + 72 * SEC, 10), 5);
}

#[test]
fn no_burst_at_window_boundaries() {
    let l = limits(
        json!({"rules": [{"name": "rpm", "scope": "global", "window": "1m", "requests": 100}]}),
    );
    let s = store_for(&l);
    let d = demand(1, 1);
    assert_eq!(count_admitted(&l, &s, &who(None), &d, NOW, 300), 100);
    assert_eq!(
        count_admitted(&l, &s, &who(None), &d, NOW + 30 * SEC, 300),
        50
    );
    assert_eq!(
        count_admitted(&l, &s, &who(None), &d, NOW + 60 * SEC, 300),
        50
    );
}

#[test]
fn a_cost_above_the_amount_is_refused_without_retry() {
    let l = limits(json!({"rules": [
        {"name": "rpm", "scope": "consumer", "window": "1m", "requests": 5},
        {"name": "tpm", "scope": "consumer", "window": "1m", "total_tokens": 2000}
    ]}));
    let s = store_for(&l);
    let before = snapshot(&l, &s, NOW);
    let r = admit(&l, &s, &who(Some("a")), &demand(1900, 256), None, NOW).unwrap_err();
    assert_eq!(r.kind, LimitKind::Tokens);
    assert_eq!(r.rule, "tpm");
    assert_eq!(r.retry_after_secs, None);
    assert!(r.message.contains("needs 2156 tokens"), "{}", r.message);
    assert_eq!(snapshot(&l, &s, NOW), before);
}

#[test]
fn settlement_refunds_and_charges_tokens() {
    let l = limits(json!({"rules": [
        {"name": "tpm", "scope": "consumer", "window": "1m", "total_tokens": 2000, "requests": 100}
    ]}));
    let s = store_for(&l);
    let me = who(Some("a"));
    // Reserve 1000 (200 in + 800 out): another 1000 fits, then nothing.
    let a = admit(&l, &s, &me, &demand(200, 800), None, NOW).unwrap();
    assert_eq!(a.headers.tokens.unwrap().remaining, 1000);
    assert!(admit(&l, &s, &me, &demand(1, 1000), None, NOW).is_err());
    // It really used 300: 700 come back at once.
    let used = Actual {
        input_tokens: 200,
        output_tokens: 100,
        cost_micro_usd: 0,
    };
    settle(&l, &s, &a, &used, NOW + SEC);
    // At NOW + 1s, 1s of refill (33 tokens) has also come back.
    let b = admit(&l, &s, &me, &demand(1000, 700), None, NOW + SEC).unwrap();
    assert_eq!(b.headers.tokens.unwrap().remaining, 33);
    // b really used 1900: 200 more are charged, and the bucket is over: 0 tokens fit
    // until 167 tokens' worth of time (5.01 s) has passed.
    settle(
        &l,
        &s,
        &b,
        &Actual {
            input_tokens: 1000,
            output_tokens: 900,
            cost_micro_usd: 0,
        },
        NOW + SEC,
    );
    let r = admit(&l, &s, &me, &demand(1, 0), None, NOW + SEC).unwrap_err();
    assert_eq!(r.kind, LimitKind::Tokens);
    assert_eq!(r.retry_after_secs, Some(6));
    assert!(admit(&l, &s, &me, &demand(1, 0), None, NOW + 6 * SEC).is_err());
    assert!(admit(&l, &s, &me, &demand(1, 0), None, NOW + 7 * SEC).is_ok());
    // Requests are never refunded.
    let reqs = s
        .value(&slot_key(slot_of("tpm/req/consumer:a", l.slots)))
        .unwrap();
    assert!(!Slot::decode(&reqs).unwrap().entries.is_empty());
}

#[test]
fn a_cut_stream_settles_with_zero_output() {
    let l = limits(
        json!({"rules": [{"name": "otpm", "scope": "global", "window": "1m", "output_tokens": 1000}]}),
    );
    let s = store_for(&l);
    let a = admit(&l, &s, &who(None), &demand(5, 1000), None, NOW).unwrap();
    assert!(admit(&l, &s, &who(None), &demand(5, 1), None, NOW).is_err());
    settle(&l, &s, &a, &Actual::default(), NOW);
    assert_eq!(
        count_admitted(&l, &s, &who(None), &demand(5, 500), NOW, 3),
        2
    );
}

#[test]
fn a_charge_after_the_entry_expired_still_counts() {
    let l = limits(
        json!({"rules": [{"name": "otpm", "scope": "global", "window": "1m", "output_tokens": 600}]}),
    );
    let s = store_for(&l);
    // 6 tokens reserved (0.6 s), the stream runs 10 s and produces 600.
    let a = admit(&l, &s, &who(None), &demand(0, 6), None, NOW).unwrap();
    sweep(&l, &s, NOW + 10 * SEC);
    assert!(snapshot(&l, &s, NOW + 10 * SEC)
        .iter()
        .all(|s| s.entries.is_empty()));
    settle(
        &l,
        &s,
        &a,
        &Actual {
            input_tokens: 0,
            output_tokens: 600,
            cost_micro_usd: 0,
        },
        NOW + 10 * SEC,
    );
    // TAT = NOW + 60 s: 10 s of the window has refilled, so 100 tokens fit.
    let st = admit(&l, &s, &who(None), &demand(0, 100), None, NOW + 10 * SEC).unwrap();
    assert_eq!(st.headers.tokens.unwrap().remaining, 0);
}

#[test]
fn a_refusal_rolls_back_every_earlier_reservation() {
    let mut rules: Vec<serde_json::Value> = (0..8)
        .map(|i| json!({"name": format!("r{i}"), "scope": "consumer", "window": "1m", "requests": 10, "input_tokens": 5000}))
        .collect();
    rules.push(json!({"name": "conc", "scope": "consumer", "concurrent": 4}));
    rules.push(json!({"name": "tight", "scope": "global", "window": "1h", "requests": 1}));
    let l = limits(json!({"rules": rules, "slots": 16}));
    let s = store_for(&l);
    let tight = slot_of("tight/req/global", 16);
    assert!(
        (0..8).any(|i| slot_of(&format!("r{i}/req/consumer:y"), 16) < tight),
        "some reservation must come before the refusing rule"
    );
    let budget = Some(Budget {
        daily_micro_usd: Some(1_000_000),
        monthly_micro_usd: Some(5_000_000),
    });
    let d = Demand {
        input_tokens: 100,
        reserved_output_tokens: 100,
        estimated_cost_micro_usd: 1000,
    };
    let x = Subject {
        budget,
        ..who(Some("x"))
    };
    assert!(admit(&l, &s, &x, &d, None, NOW).is_ok());
    let before = snapshot(&l, &s, NOW);
    let y = Subject {
        budget,
        ..who(Some("y"))
    };
    let r = admit(&l, &s, &y, &d, None, NOW).unwrap_err();
    assert_eq!(r.rule, "tight");
    assert_eq!(snapshot(&l, &s, NOW), before, "no trace of y");
}

#[test]
fn concurrency_goes_up_and_down_but_never_below_zero() {
    let l = limits(json!({"rules": [{"name": "conc", "scope": "consumer", "concurrent": 2}]}));
    let s = store_for(&l);
    let me = who(Some("a"));
    let d = demand(1, 1);
    let a = admit(&l, &s, &me, &d, None, NOW).unwrap();
    let b = admit(&l, &s, &me, &d, None, NOW).unwrap();
    let r = admit(&l, &s, &me, &d, None, NOW).unwrap_err();
    assert_eq!(r.kind, LimitKind::Concurrency);
    assert_eq!(r.retry_after_secs, Some(1));
    // Not windowed: time alone frees nothing.
    assert!(admit(&l, &s, &me, &d, None, NOW + 3600 * SEC).is_err());
    settle(&l, &s, &a, &Actual::default(), NOW);
    let c = admit(&l, &s, &me, &d, None, NOW).unwrap();
    for adm in [&b, &c, &a, &a, &b] {
        settle(&l, &s, adm, &Actual::default(), NOW);
    }
    assert!(snapshot(&l, &s, NOW).iter().all(|s| s.entries.is_empty()));
    assert_eq!(count_admitted(&l, &s, &me, &d, NOW, 5), 2);
}

#[test]
fn budgets_per_day_and_month() {
    let l = limits(json!({}));
    let s = store_for(&l);
    let budget = Some(Budget {
        daily_micro_usd: Some(1_000_000),
        monthly_micro_usd: Some(1_500_000),
    });
    let me = Subject {
        budget,
        ..who(Some("a"))
    };
    let est = |c: u64| Demand {
        input_tokens: 10,
        reserved_output_tokens: 10,
        estimated_cost_micro_usd: c,
    };
    let a = admit(&l, &s, &me, &est(400_000), None, NOW).unwrap();
    let _b = admit(&l, &s, &me, &est(400_000), None, NOW).unwrap();
    let r = admit(&l, &s, &me, &est(400_000), None, NOW).unwrap_err();
    assert_eq!(r.kind, LimitKind::Budget);
    assert_eq!(r.kind.as_str(), "budget");
    assert_eq!(r.retry_after_secs, Some(12 * 3600), "until midnight UTC");
    assert!(r.message.contains("$1.00"), "{}", r.message);
    // a really cost 0.10: 0.10 + 0.40 (b reserved) + 0.40 fits.
    settle(
        &l,
        &s,
        &a,
        &Actual {
            cost_micro_usd: 100_000,
            ..Actual::default()
        },
        NOW,
    );
    let c = admit(&l, &s, &me, &est(400_000), None, NOW).unwrap();
    settle(
        &l,
        &s,
        &c,
        &Actual {
            cost_micro_usd: 500_000,
            ..Actual::default()
        },
        NOW,
    );
    // Spent 0.60, reserved 0.40 (b): the daily budget is used up.
    let r = admit(&l, &s, &me, &est(0), None, NOW).unwrap_err();
    assert!(
        r.message.contains("used your daily budget"),
        "{}",
        r.message
    );
    // Anonymous callers and other consumers have no budget here.
    assert!(admit(&l, &s, &who(None), &est(5_000_000), None, NOW).is_ok());
    // Next day: the daily budget starts from zero; b still has not settled, its
    // reservation stays in yesterday. The month has spent 0.60 (+0.40 held).
    let tomorrow = NOW + 86_400 * SEC;
    let r = admit(&l, &s, &me, &est(600_000), None, tomorrow).unwrap_err();
    assert!(r.message.contains("monthly budget"), "{}", r.message);
    let d = admit(&l, &s, &me, &est(400_000), None, tomorrow).unwrap();
    settle(
        &l,
        &s,
        &d,
        &Actual {
            cost_micro_usd: 400_000,
            ..Actual::default()
        },
        tomorrow,
    );
    // Month: spent 1.00, reserved 0.40 -> 0.10 left.
    assert!(admit(&l, &s, &me, &est(200_000), None, tomorrow).is_err());
    // A new month starts from zero.
    let april = days_from_civil(2024, 4, 1) as u64 * 86_400 * SEC;
    let r = admit(&l, &s, &me, &est(200_000), None, april - SEC).unwrap_err();
    assert_eq!(r.retry_after_secs, Some(1));
    assert!(admit(&l, &s, &me, &est(900_000), None, april).is_ok());
    // Sweeping drops last month's entries.
    sweep(&l, &s, april + 86_400 * SEC * 31);
    assert!(snapshot(&l, &s, april + 86_400 * SEC * 31)
        .iter()
        .all(|s| s.entries.is_empty()));
}

#[test]
fn client_policy_only_tightens_and_only_when_enabled() {
    let rule = json!({"name": "rpm", "scope": "consumer", "window": "1m", "requests": 3});
    let policy = parse_client_policy("2;w=60;s=user").unwrap();
    let off = limits(json!({"rules": [rule]}));
    let s = store_for(&off);
    let me = who(Some("a"));
    let admitted = (0..5)
        .filter(|_| admit(&off, &s, &me, &demand(1, 1), Some(&policy), NOW).is_ok())
        .count();
    assert_eq!(admitted, 3, "ignored when client_policy is off");

    let on = limits(json!({"rules": [rule], "client_policy": true}));
    let s = store_for(&on);
    let admitted = (0..5)
        .filter(|_| admit(&on, &s, &me, &demand(1, 1), Some(&policy), NOW).is_ok())
        .count();
    assert_eq!(admitted, 2);
    let r = admit(&on, &s, &me, &demand(1, 1), Some(&policy), NOW).unwrap_err();
    assert_eq!(r.rule, CLIENT_POLICY_RULE);
    assert_eq!(r.retry_after_secs, Some(30));
    // Scoped to the caller: bob is not affected by alice's policy.
    assert!(admit(&on, &s, &who(Some("b")), &demand(1, 1), None, NOW).is_ok());
    // A generous policy never loosens the operator's rule.
    let loose = parse_client_policy("1000;w=1").unwrap();
    let s = store_for(&on);
    let admitted = (0..10)
        .filter(|_| admit(&on, &s, &me, &demand(1, 1), Some(&loose), NOW).is_ok())
        .count();
    assert_eq!(admitted, 3);
    // Token policies count total tokens.
    let tokens = parse_client_policy("100;w=60;u=token").unwrap();
    let s = store_for(&on);
    assert!(admit(&on, &s, &me, &demand(30, 30), Some(&tokens), NOW).is_ok());
    let r = admit(&on, &s, &me, &demand(30, 30), Some(&tokens), NOW).unwrap_err();
    assert_eq!(r.kind, LimitKind::Tokens);
}

#[test]
fn model_group_and_consumer_filters() {
    let l = limits(json!({"rules": [
        {"name": "gpt4o", "scope": "model", "models": ["gpt-4o"], "window": "1m", "requests": 1},
        {"name": "vip-only", "scope": "group", "groups": ["vip"], "window": "1m", "requests": 1},
        {"name": "carol", "scope": "consumer", "consumers": ["carol"], "window": "1m", "requests": 1}
    ]}));
    let s = store_for(&l);
    let sub = |c, g, m| Subject {
        consumer: c,
        group: g,
        model: m,
        budget: None,
    };
    let d = demand(1, 1);
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("a"), None, "gpt-4o"), &d, NOW, 3),
        1
    );
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("a"), None, "gpt-4o-mini"), &d, NOW, 3),
        1
    );
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("a"), None, "claude-3"), &d, NOW, 3),
        3
    );
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("b"), Some("vip"), "x"), &d, NOW, 3),
        1
    );
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("c"), Some("vip"), "x"), &d, NOW, 3),
        0,
        "group shares"
    );
    assert_eq!(
        count_admitted(&l, &s, &sub(Some("carol"), None, "x"), &d, NOW, 3),
        1
    );
    assert_eq!(count_admitted(&l, &s, &sub(None, None, "x"), &d, NOW, 3), 3);
}

#[test]
fn anonymous_callers_share_one_consumer_counter() {
    let l = limits(
        json!({"rules": [{"name": "rpm", "scope": "consumer", "window": "1m", "requests": 2}]}),
    );
    let s = store_for(&l);
    assert_eq!(count_admitted(&l, &s, &who(None), &demand(1, 1), NOW, 5), 2);
    assert_eq!(
        count_admitted(&l, &s, &who(Some("anonymous")), &demand(1, 1), NOW, 5),
        2
    );
}

#[test]
fn sweep_keeps_shared_data_bounded() {
    let l = limits(json!({"rules": [
        {"name": "rpm", "scope": "consumer", "window": "1m", "requests": 10, "total_tokens": 10000},
        {"name": "conc", "scope": "consumer", "concurrent": 5}
    ], "slots": 8}));
    let s = store_for(&l);
    let empty = s.total_bytes();
    let ids: Vec<String> = (0..500).map(|i| format!("consumer-{i}")).collect();
    let mut held = Vec::new();
    for id in &ids {
        held.push(admit(&l, &s, &who(Some(id)), &demand(10, 10), None, NOW).unwrap());
    }
    assert!(s.total_bytes() > empty + 500 * 3 * 20);
    for a in &held {
        settle(&l, &s, a, &Actual::default(), NOW + SEC);
    }
    sweep(&l, &s, NOW + 61 * SEC);
    assert_eq!(s.total_bytes(), empty);
    // Rewrites drop expired entries too, without a sweep.
    for id in &ids {
        let a = admit(
            &l,
            &s,
            &who(Some(id)),
            &demand(10, 10),
            None,
            NOW + 100 * SEC,
        )
        .unwrap();
        settle(&l, &s, &a, &Actual::default(), NOW + 100 * SEC);
    }
    let later = NOW + 200 * SEC;
    for id in &ids[..8] {
        admit(&l, &s, &who(Some(id)), &demand(10, 10), None, later).unwrap();
    }
    let live: usize = snapshot(&l, &s, later)
        .iter()
        .map(|s| s.entries.len())
        .sum();
    let stored: usize = l
        .slot_keys()
        .iter()
        .map(|k| Slot::decode(&s.value(k).unwrap()).unwrap().entries.len())
        .sum();
    assert!(stored < 8 * 3 + 8 * 70, "stored {stored}, live {live}");
}

/// A store that refuses the next `conflicts` writes as if another worker got there
/// first, or fails every write.
struct Flaky {
    inner: MemoryStore,
    conflicts: Cell<u32>,
    fail: bool,
    stores: Cell<u32>,
}

impl CounterStore for Flaky {
    fn load(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.load(key)
    }
    fn store(&self, key: &str, value: &[u8], cas: u32) -> StoreOutcome {
        self.stores.set(self.stores.get() + 1);
        if self.fail {
            return StoreOutcome::Failed;
        }
        if self.conflicts.get() > 0 {
            self.conflicts.set(self.conflicts.get() - 1);
            return StoreOutcome::Conflict;
        }
        self.inner.store(key, value, cas)
    }
}

#[test]
fn cas_conflicts_are_retried_then_fail_open() {
    let l = limits(
        json!({"rules": [{"name": "rpm", "scope": "global", "window": "1m", "requests": 1}]}),
    );
    let flaky = |conflicts, fail| Flaky {
        inner: store_for(&l),
        conflicts: Cell::new(conflicts),
        fail,
        stores: Cell::new(0),
    };
    let s = flaky(5, false);
    let a = admit(&l, &s, &who(None), &demand(1, 1), None, NOW).unwrap();
    assert!(!a.degraded);
    assert_eq!(s.stores.get(), 6);
    assert!(
        admit(&l, &s, &who(None), &demand(1, 1), None, NOW).is_err(),
        "the write landed"
    );

    let s = flaky(1000, false);
    let a = admit(&l, &s, &who(None), &demand(1, 1), None, NOW).unwrap();
    assert!(a.degraded);
    assert!(a.reservations.is_empty());
    assert_eq!(s.stores.get(), CAS_ATTEMPTS as u32);

    let s = flaky(0, true);
    let a = admit(&l, &s, &who(None), &demand(1, 1), None, NOW).unwrap();
    assert!(a.degraded);
    settle(&l, &s, &a, &Actual::default(), NOW);

    // Slot keys that were never created: fail open.
    let a = admit(
        &l,
        &MemoryStore::new(),
        &who(None),
        &demand(1, 1),
        None,
        NOW,
    )
    .unwrap();
    assert!(a.degraded);
}

#[test]
fn a_corrupt_slot_is_reset_and_reported() {
    let l = limits(
        json!({"rules": [{"name": "rpm", "scope": "global", "window": "1m", "requests": 1}], "slots": 1}),
    );
    let s = MemoryStore::new();
    s.create(&slot_key(0), b"garbage");
    let a = admit(&l, &s, &who(None), &demand(1, 1), None, NOW).unwrap();
    assert!(a.degraded);
    assert!(!a.reservations.is_empty());
    assert!(admit(&l, &s, &who(None), &demand(1, 1), None, NOW).is_err());
    // An empty value (as a host may create keys) is an empty slot.
    let s = MemoryStore::new();
    s.create(&slot_key(0), b"");
    assert!(
        !admit(&l, &s, &who(None), &demand(1, 1), None, NOW)
            .unwrap()
            .degraded
    );
}

type Job = Box<dyn FnOnce(&Interleaved)>;

/// Simulated workers: while one worker is between its load and its store, the store
/// runs another worker's whole step (chosen by a seeded generator), so writes race
/// exactly the way they do across Envoy workers.
struct Interleaved {
    inner: MemoryStore,
    jobs: RefCell<Vec<Job>>,
    rng: Cell<u64>,
    conflicts: Cell<u32>,
}

impl Interleaved {
    fn roll(&self) -> u64 {
        let x = self
            .rng
            .get()
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.rng.set(x);
        x >> 33
    }

    fn run(&self) {
        loop {
            let job = {
                let mut jobs = self.jobs.borrow_mut();
                if jobs.is_empty() {
                    return;
                }
                let i = self.roll() as usize % jobs.len();
                jobs.swap_remove(i)
            };
            job(self);
        }
    }
}

impl CounterStore for Interleaved {
    fn load(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let value = self.inner.load(key);
        if self.roll() % 3 != 0 {
            let job = {
                let mut jobs = self.jobs.borrow_mut();
                let n = jobs.len();
                (n > 0).then(|| jobs.swap_remove(self.roll() as usize % n))
            };
            if let Some(job) = job {
                job(self);
            }
        }
        value
    }
    fn store(&self, key: &str, value: &[u8], cas: u32) -> StoreOutcome {
        let out = self.inner.store(key, value, cas);
        if out == StoreOutcome::Conflict {
            self.conflicts.set(self.conflicts.get() + 1);
        }
        out
    }
}

#[test]
fn interleaved_workers_never_admit_more_than_the_limit() {
    let l = Rc::new(limits(json!({"rules": [
        {"name": "rpm", "scope": "global", "window": "1h", "requests": 40},
        {"name": "tpm", "scope": "consumer", "window": "1h", "total_tokens": 1000},
        {"name": "conc", "scope": "global", "concurrent": 7}
    ], "slots": 4})));
    for seed in 1..=20u64 {
        let store = Interleaved {
            inner: store_for(&l),
            jobs: RefCell::new(Vec::new()),
            rng: Cell::new(seed),
            conflicts: Cell::new(0),
        };
        let admitted = Rc::new(RefCell::new(Vec::<(String, u64)>::new()));
        let in_flight = Rc::new(Cell::new(0u32));
        let max_in_flight = Rc::new(Cell::new(0u32));
        for i in 0..300u64 {
            let (l, admitted, in_flight, max_in_flight) = (
                l.clone(),
                admitted.clone(),
                in_flight.clone(),
                max_in_flight.clone(),
            );
            let consumer = format!("c{}", i % 3);
            let cost = 17 + i % 13;
            store
                .jobs
                .borrow_mut()
                .push(Box::new(move |s: &Interleaved| {
                    let now = NOW + i * 1000; // 1 ms apart: nothing refills meaningfully
                    let sub = who(Some(&consumer));
                    let Ok(adm) = admit(&l, s, &sub, &demand(cost, 0), None, now) else {
                        return;
                    };
                    assert!(!adm.degraded);
                    admitted.borrow_mut().push((consumer.clone(), cost));
                    in_flight.set(in_flight.get() + 1);
                    max_in_flight.set(max_in_flight.get().max(in_flight.get()));
                    // The response comes back later, in another step.
                    let in_flight = in_flight.clone();
                    s.jobs.borrow_mut().push(Box::new(move |s: &Interleaved| {
                        in_flight.set(in_flight.get() - 1);
                        let used = Actual {
                            input_tokens: cost,
                            output_tokens: 0,
                            cost_micro_usd: 0,
                        };
                        settle(&l, s, &adm, &used, now);
                    }));
                }));
        }
        store.run();
        let admitted = admitted.borrow();
        // 300 jobs within 0.3 s: the hourly request rule allows 40 plus 0.3 s of refill.
        assert!(
            admitted.len() <= 40,
            "seed {seed}: {} admitted",
            admitted.len()
        );
        for c in ["c0", "c1", "c2"] {
            let tokens: u64 = admitted
                .iter()
                .filter(|(x, _)| x == c)
                .map(|(_, t)| t)
                .sum();
            assert!(tokens <= 1000, "seed {seed}: {c} used {tokens} tokens");
        }
        assert!(
            max_in_flight.get() <= 7,
            "seed {seed}: {} in flight",
            max_in_flight.get()
        );
        assert!(
            max_in_flight.get() >= 2,
            "seed {seed}: the schedule must overlap requests"
        );
        assert!(
            store.conflicts.get() > 0,
            "seed {seed}: the schedule must race"
        );
        assert_eq!(in_flight.get(), 0);
        let conc = slot_key(slot_of("conc/conc/global", l.slots));
        let slot = Slot::decode(&store.inner.value(&conc).unwrap()).unwrap();
        assert!(
            !slot.entries.contains_key("conc/conc/global"),
            "in-flight back to zero"
        );
    }
}
