//! Limits hold exactly across a fleet: two sidecar processes in front of one
//! redis-server, admits from several threads at once, and not one admission over the
//! limit (and not one under it: a refusal is only ever for a full counter).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use serde_json::{json, Value};

use common::{now_ms, RedisServer, Sidecar};

const THREADS: usize = 4;
const CONNECTIONS_PER_THREAD: usize = 4;

/// Sends `attempts` admits of `checks` per thread, from `THREADS` threads, each
/// spreading its concurrent requests over every sidecar; returns how many were admitted.
fn hammer(sidecars: &[SocketAddr], checks: &Value, attempts: usize) -> u64 {
    let admitted = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let sidecars = sidecars.to_vec();
            let checks = checks.clone();
            let admitted = Arc::clone(&admitted);
            thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let tasks: Vec<_> = (0..CONNECTIONS_PER_THREAD)
                        .map(|k| {
                            let addr = sidecars[(t + k) % sidecars.len()];
                            let checks = checks.clone();
                            let admitted = Arc::clone(&admitted);
                            let share = attempts / CONNECTIONS_PER_THREAD
                                + usize::from(k < attempts % CONNECTIONS_PER_THREAD);
                            tokio::spawn(async move {
                                let mut c = common::client(addr).await;
                                for _ in 0..share {
                                    let r = c
                                        .post_json("/v1/limits/admit", &checks)
                                        .await
                                        .expect("admit");
                                    assert_eq!(r.status, 200, "{}", r.text());
                                    if r.json()["admitted"] == true {
                                        admitted.fetch_add(1, Ordering::SeqCst);
                                    }
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("admit task");
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    admitted.load(Ordering::SeqCst)
}

fn remaining(addr: SocketAddr, checks: &Value) -> Vec<u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let r = common::client(addr)
            .await
            .post_json("/v1/limits/admit", checks)
            .await
            .expect("admit");
        r.json()["status"]
            .as_array()
            .expect("status")
            .iter()
            .map(|s| s["remaining"].as_u64().expect("remaining"))
            .collect()
    })
}

fn two_sidecars_one_redis() -> (RedisServer, Sidecar, Sidecar) {
    let redis = RedisServer::start(&[]);
    let a = Sidecar::start(&["--redis-url", &redis.url()]);
    let b = Sidecar::start(&["--redis-url", &redis.url()]);
    (redis, a, b)
}

#[test]
fn a_window_admits_exactly_its_amount_across_two_sidecars() {
    let (_redis, a, b) = two_sidecars_one_redis();
    let checks = json!({"checks": [{"key": "fleet/req/w", "kind": "window", "window_ms": 3_600_000, "amount": 40, "cost": 1}]});
    assert_eq!(hammer(&[a.addr, b.addr], &checks, 100), 40);
}

#[test]
fn concurrency_admits_exactly_its_limit_across_two_sidecars() {
    let (_redis, a, b) = two_sidecars_one_redis();
    let checks = json!({"checks": [{"key": "fleet/conc/c", "kind": "concurrency", "limit": 7, "lease_ms": 3_600_000}]});
    assert_eq!(hammer(&[a.addr, b.addr], &checks, 20), 7);
}

#[test]
fn a_budget_admits_exactly_what_fits_across_two_sidecars() {
    let (_redis, a, b) = two_sidecars_one_redis();
    let end = now_ms() + 3_600_000;
    let checks = json!({"checks": [{"key": "$budget/day/f", "kind": "budget", "limit": 1000, "period_end_ms": end, "cost": 7}]});
    assert_eq!(hammer(&[a.addr, b.addr], &checks, 50), 142);
}

#[test]
fn all_or_nothing_holds_under_contention() {
    let (_redis, a, b) = two_sidecars_one_redis();
    let end = now_ms() + 3_600_000;
    // The budget runs out after 25 admits; the window would allow 30.
    let checks = json!({"checks": [
        {"key": "fleet/req/m", "kind": "window", "window_ms": 3_600_000, "amount": 30, "cost": 1},
        {"key": "$budget/day/m", "kind": "budget", "limit": 1000, "period_end_ms": end, "cost": 40}
    ]});
    assert_eq!(hammer(&[a.addr, b.addr], &checks, 20), 25);
    let probe = json!({"checks": [
        {"key": "fleet/req/m", "kind": "window", "window_ms": 3_600_000, "amount": 30, "cost": 0},
        {"key": "$budget/day/m", "kind": "budget", "limit": 1000, "period_end_ms": end, "cost": 0}
    ]});
    assert_eq!(
        remaining(b.addr, &probe),
        vec![5, 0],
        "refused admits charged nothing"
    );
}

#[test]
fn the_embedded_store_holds_exactly_too() {
    let sc = Sidecar::start(&[]);
    let checks = json!({"checks": [{"key": "one/req/w", "kind": "window", "window_ms": 3_600_000, "amount": 33, "cost": 1}]});
    assert_eq!(hammer(&[sc.addr], &checks, 25), 33);
}
