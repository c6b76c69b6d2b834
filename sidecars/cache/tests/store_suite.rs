//! One suite, two stores: every scenario below runs against the embedded store (on a
//! manual clock: time moves instantly) and against a real redis-server (time is Redis's
//! clock: the suite sleeps). Both must give the same answers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cache_sidecar::clock::{Clock, ManualClock, SystemClock};
use cache_sidecar::counters::{answer, Check, Reservation};
use cache_sidecar::store::{EmbeddedStore, RedisStore, Store, StoreError};
use serde_json::Value;

use common::RedisServer;

/// A store and a way to move its time.
trait Harness {
    type S: Store;
    fn store(&self) -> &Self::S;
    /// Lets `by` pass on the store's clock.
    async fn advance(&self, by: Duration);
    /// The store's clock, milliseconds (callers compute period ends from it).
    fn now_ms(&self) -> u64;
    /// What the store's byte bound is.
    fn bound(&self) -> u64;
}

struct Embedded {
    store: EmbeddedStore,
    clock: Arc<ManualClock>,
    max_bytes: u64,
}

impl Harness for Embedded {
    type S = EmbeddedStore;
    fn store(&self) -> &EmbeddedStore {
        &self.store
    }
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
    fn now_ms(&self) -> u64 {
        self.clock.now_ns() / 1_000_000
    }
    fn bound(&self) -> u64 {
        self.max_bytes
    }
}

fn embedded(max_bytes: u64) -> Embedded {
    let clock = Arc::new(ManualClock::at_system_time());
    Embedded {
        store: EmbeddedStore::new(max_bytes, Arc::clone(&clock) as Arc<dyn Clock>),
        clock,
        max_bytes,
    }
}

struct Redis {
    store: RedisStore,
    maxmemory: u64,
    _server: RedisServer,
}

impl Harness for Redis {
    type S = RedisStore;
    fn store(&self) -> &RedisStore {
        &self.store
    }
    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }
    fn now_ms(&self) -> u64 {
        SystemClock.now_ns() / 1_000_000
    }
    fn bound(&self) -> u64 {
        self.maxmemory
    }
}

async fn redis(maxmemory: u64) -> Redis {
    let server = if maxmemory > 0 {
        RedisServer::start(&[
            "--maxmemory",
            &maxmemory.to_string(),
            "--maxmemory-policy",
            "volatile-lru",
        ])
    } else {
        RedisServer::start(&[])
    };
    let store = RedisStore::connect(&server.url())
        .await
        .expect("connect to redis-server");
    Redis {
        store,
        maxmemory,
        _server: server,
    }
}

const BIG: u64 = 64 << 20;

/// Runs each scenario against both stores.
macro_rules! both {
    ($($name:ident $(($bound:expr))?),* $(,)?) => {
        mod embedded_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(&super::embedded(both!(@bound $($bound)?))).await
            })*
        }
        mod redis_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(&super::redis(both!(@redis $($bound)?)).await).await
            })*
        }
    };
    (@bound) => { super::BIG };
    (@bound $b:expr) => { $b };
    (@redis) => { 0 };
    (@redis $b:expr) => { $b };
}

both!(
    cache_put_get_replace,
    cache_ttl_expires,
    cache_max_age,
    purge_isolates_namespaces,
    byte_bound_evicts(4 << 20),
    window_burst_refusal_refill,
    window_cost_above_amount_never_fits,
    concurrency_leases_expire_and_release,
    budget_resets_at_period_end,
    budget_period_over_is_refused,
    settle_corrects_and_is_idempotent,
    admit_is_all_or_nothing,
    settle_of_unknown_reservation_changes_nothing,
);

async fn get<H: Harness>(
    h: &H,
    ns: &str,
    key: &str,
    max_age: Option<u64>,
) -> Option<(String, u64)> {
    h.store()
        .get(ns, key, max_age)
        .await
        .expect("get")
        .map(|hit| {
            (
                String::from_utf8_lossy(&hit.body).into_owned(),
                hit.age_secs,
            )
        })
}

async fn put<H: Harness>(h: &H, ns: &str, key: &str, body: &str, ttl: u64) {
    h.store()
        .put(ns, key, Bytes::from(body.to_string()), ttl)
        .await
        .expect("put");
}

/// Admits and answers as the HTTP layer does: the answer's JSON.
async fn admit<H: Harness>(h: &H, checks: &[Check]) -> Value {
    let ev = h.store().admit(checks).await.expect("admit");
    serde_json::to_value(answer(checks, ev)).expect("json")
}

fn reservations(answer: &Value) -> Vec<Reservation> {
    serde_json::from_value(answer["reservations"].clone()).expect("reservations")
}

async fn settle<H: Harness>(h: &H, rs: &[Reservation], actual: &[u64]) {
    h.store().settle(rs, actual).await.expect("settle");
}

fn window(key: &str, window_ms: u64, amount: u64, cost: u64) -> Check {
    Check::window(key, window_ms, amount, cost)
}

fn lease(key: &str, limit: u64, lease_ms: u64) -> Check {
    Check::concurrency(key, limit, lease_ms)
}

fn budget(key: &str, limit: u64, period_end_ms: u64, cost: u64) -> Check {
    Check::budget(key, limit, period_end_ms, cost)
}

fn admitted(a: &Value) -> bool {
    a["admitted"] == Value::Bool(true)
}

fn remaining(a: &Value, i: usize) -> u64 {
    a["status"][i]["remaining"].as_u64().expect("remaining")
}

/// Just stored: this body, and an age of 0 (1 when the machine stalled a second: Redis's
/// clock runs on while the test waits for a core).
fn assert_fresh(found: Option<(String, u64)>, body: &str) {
    let (b, age) = found.unwrap_or_else(|| panic!("{body:?} is not there"));
    assert_eq!(b, body);
    assert!(age <= 1, "age {age} right after the PUT");
}

async fn cache_put_get_replace<H: Harness>(h: &H) {
    assert_eq!(get(h, "t1", "k1", None).await, None);
    put(h, "t1", "k1", "first", 60).await;
    assert_fresh(get(h, "t1", "k1", None).await, "first");
    put(h, "t1", "k1", "second", 60).await;
    assert_eq!(
        get(h, "t1", "k1", None).await.map(|(b, _)| b),
        Some("second".into())
    );
    assert_eq!(get(h, "t1", "k2", None).await, None);
    assert_eq!(get(h, "t2", "k1", None).await, None, "namespaces are apart");
    // Bodies are opaque bytes.
    let raw = Bytes::from_static(b"\x00\xff\x10binary");
    h.store()
        .put("t1", "bin", raw.clone(), 60)
        .await
        .expect("put");
    assert_eq!(
        h.store()
            .get("t1", "bin", None)
            .await
            .expect("get")
            .map(|x| x.body),
        Some(raw)
    );
}

async fn cache_ttl_expires<H: Harness>(h: &H) {
    put(h, "t", "short", "x", 1).await;
    put(h, "t", "long", "y", 600).await;
    h.advance(Duration::from_millis(1300)).await;
    assert_eq!(
        get(h, "t", "short", None).await,
        None,
        "a 1 s entry is gone after 1.3 s"
    );
    assert!(get(h, "t", "long", None).await.is_some());
}

async fn cache_max_age<H: Harness>(h: &H) {
    put(h, "t", "k", "x", 600).await;
    h.advance(Duration::from_millis(2100)).await;
    let (_, age) = get(h, "t", "k", None).await.expect("still there");
    assert!((2..=5).contains(&age), "age {age}");
    assert_eq!(
        get(h, "t", "k", Some(1)).await,
        None,
        "older than max_age=1"
    );
    assert_eq!(
        get(h, "t", "k", Some(60)).await.map(|(_, a)| a >= 2),
        Some(true)
    );
    // A later PUT replaces the entry and its age.
    put(h, "t", "k", "fresh", 600).await;
    assert_fresh(get(h, "t", "k", Some(1)).await, "fresh");
}

async fn purge_isolates_namespaces<H: Harness>(h: &H) {
    for ns in ["a", "b", "a.b"] {
        put(h, ns, "k", ns, 600).await;
        put(h, ns, "k2", ns, 600).await;
    }
    h.store().purge("a").await.expect("purge");
    assert_eq!(get(h, "a", "k", None).await, None);
    assert_eq!(get(h, "a", "k2", None).await, None);
    assert_eq!(
        get(h, "b", "k", None).await.map(|(b, _)| b),
        Some("b".into())
    );
    assert_eq!(
        get(h, "a.b", "k", None).await.map(|(b, _)| b),
        Some("a.b".into())
    );
    // The namespace works again at once, and a second purge empties it again.
    put(h, "a", "k", "again", 600).await;
    assert_eq!(
        get(h, "a", "k", None).await.map(|(b, _)| b),
        Some("again".into())
    );
    h.store().purge("a").await.expect("purge");
    assert_eq!(get(h, "a", "k", None).await, None);
    // Purging a namespace nobody wrote to is fine.
    h.store().purge("never-used").await.expect("purge");
}

async fn byte_bound_evicts<H: Harness>(h: &H) {
    let bound = h.bound();
    let body = "x".repeat(32 << 10);
    let n = (4 * bound / body.len() as u64) as usize;
    for i in 0..n {
        put(h, "fill", &format!("k{i}"), &body, 3600).await;
    }
    let mut held = 0u64;
    for i in 0..n {
        if get(h, "fill", &format!("k{i}"), None).await.is_some() {
            held += body.len() as u64;
        }
    }
    assert!(held > 0, "the cache still serves entries");
    assert!(
        held <= bound,
        "entries readable after writing 4x the bound weigh {held} > bound {bound}"
    );
    let stats = h.store().stats().await;
    if stats.backend == "embedded" {
        let total: u64 = stats.bytes.iter().map(|(_, b)| b).sum();
        assert!(
            total <= bound,
            "embedded store holds {total} > {bound}: {stats:?}"
        );
        let size_evictions = stats
            .evictions
            .iter()
            .find(|(c, _)| *c == "size")
            .map(|(_, n)| *n);
        assert!(size_evictions > Some(0), "{stats:?}");
    }
}

async fn window_burst_refusal_refill<H: Harness>(h: &H) {
    // 2 per 6 s: T = 3 s.
    let w = [window("r/req/a", 6000, 2, 1)];
    let a = admit(h, &w).await;
    assert!(admitted(&a), "{a}");
    assert_eq!(remaining(&a, 0), 1);
    assert!(admitted(&admit(h, &w).await));
    let refused = admit(h, &w).await;
    assert!(!admitted(&refused), "{refused}");
    assert_eq!(refused["refused"], 0);
    assert_eq!(remaining(&refused, 0), 0);
    let retry = refused["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=3000).contains(&retry), "retry after {retry}");
    let reset = refused["status"][0]["reset_ms"].as_u64().expect("reset_ms");
    assert!((3000..=6000).contains(&reset), "reset {reset}");
    assert!(refused.get("reservations").is_none());
    h.advance(Duration::from_millis(retry + 20)).await;
    let again = admit(h, &w).await;
    assert!(admitted(&again), "refilled after retry_after_ms: {again}");
    assert_eq!(remaining(&again, 0), 0);
    // Tokens: a cost of several units at once, within the same GCRA.
    let t = [window("r/tok/a", 60_000, 1000, 600)];
    assert!(admitted(&admit(h, &t).await));
    assert!(!admitted(&admit(h, &t).await));
    let rest = [window("r/tok/a", 60_000, 1000, 400)];
    assert!(admitted(&admit(h, &rest).await));
}

async fn window_cost_above_amount_never_fits<H: Harness>(h: &H) {
    let a = admit(h, &[window("r/tok/b", 60_000, 100, 101)]).await;
    assert!(!admitted(&a));
    assert_eq!(a["retry_after_ms"], Value::Null, "never fits: {a}");
    assert_eq!(remaining(&a, 0), 100, "nothing was taken");
}

async fn concurrency_leases_expire_and_release<H: Harness>(h: &H) {
    let c = [lease("r/conc/a", 2, 3000)];
    let first = admit(h, &c).await;
    assert!(admitted(&first));
    assert_eq!(remaining(&first, 0), 1);
    assert!(admitted(&admit(h, &c).await));
    let refused = admit(h, &c).await;
    assert!(!admitted(&refused));
    let retry = refused["retry_after_ms"].as_u64().expect("retry");
    assert!((1..=3000).contains(&retry), "retry {retry}");
    // Nobody settles: the leases run out by themselves.
    h.advance(Duration::from_millis(3100)).await;
    let after = admit(h, &c).await;
    assert!(admitted(&after), "leases expired: {after}");
    // Settling releases a lease at once.
    let one = [lease("r/conc/b", 1, 60_000)];
    let held = admit(h, &one).await;
    assert!(admitted(&held));
    assert!(!admitted(&admit(h, &one).await));
    settle(h, &reservations(&held), &[0]).await;
    assert!(admitted(&admit(h, &one).await), "released by settle");
}

async fn budget_resets_at_period_end<H: Harness>(h: &H) {
    let end = h.now_ms() + 3000;
    let b = |cost| [budget("$budget/day/x", 100, end, cost)];
    let a = admit(h, &b(60)).await;
    assert!(admitted(&a));
    assert_eq!(remaining(&a, 0), 40);
    let refused = admit(h, &b(50)).await;
    assert!(!admitted(&refused));
    let retry = refused["retry_after_ms"].as_u64().expect("retry");
    assert!(
        (1..=3000).contains(&retry),
        "retry until the period ends: {retry}"
    );
    assert!(admitted(&admit(h, &b(40)).await));
    assert!(
        !admitted(&admit(h, &b(0)).await),
        "a spent budget admits nothing"
    );
    let never = admit(h, &b(101)).await;
    assert_eq!(never["retry_after_ms"], Value::Null, "{never}");
    // The period ends: the next one starts from zero.
    h.advance(Duration::from_millis(3100)).await;
    let next_end = end + 86_400_000;
    let fresh = admit(h, &[budget("$budget/day/x", 100, next_end, 100)]).await;
    assert!(admitted(&fresh), "{fresh}");
    assert_eq!(remaining(&fresh, 0), 0);
    // A caller still naming an older period is counted in the newest one.
    let old = h.now_ms() + 60_000;
    assert!(!admitted(
        &admit(h, &[budget("$budget/day/x", 100, old, 1)]).await
    ));
}

async fn budget_period_over_is_refused<H: Harness>(h: &H) {
    let past = h.now_ms() - 1000;
    let err = h
        .store()
        .admit(&[budget("$budget/day/y", 100, past, 1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("period_end_ms")),
        "{err:?}"
    );
}

async fn settle_corrects_and_is_idempotent<H: Harness>(h: &H) {
    // A window: reserve 8 of 10, use 2: 6 come back; settling again changes nothing.
    let w = |cost| [window("r/tok/c", 3_600_000, 10, cost)];
    let a = admit(h, &w(8)).await;
    assert_eq!(remaining(&a, 0), 2);
    let rs = reservations(&a);
    assert_eq!(rs[0].cost, 8);
    settle(h, &rs, &[2]).await;
    settle(h, &rs, &[2]).await;
    assert!(!admitted(&admit(h, &w(9)).await));
    let b = admit(h, &w(8)).await;
    assert!(admitted(&b), "2 used, 8 left: {b}");
    assert_eq!(remaining(&b, 0), 0);
    // Used more than reserved: the difference is charged.
    let u = |cost| [window("r/tok/d", 3_600_000, 10, cost)];
    let c = admit(h, &u(2)).await;
    settle(h, &reservations(&c), &[6]).await;
    settle(h, &reservations(&c), &[6]).await;
    assert!(!admitted(&admit(h, &u(5)).await));
    assert!(admitted(&admit(h, &u(4)).await));
    // A budget: reserve 60 of 100, spend 10.
    let end = h.now_ms() + 3_600_000;
    let m = |cost| [budget("$budget/month/z", 100, end, cost)];
    let d = admit(h, &m(60)).await;
    settle(h, &reservations(&d), &[10]).await;
    settle(h, &reservations(&d), &[10]).await;
    let e = admit(h, &m(90)).await;
    assert!(admitted(&e), "10 spent, 90 left: {e}");
    assert!(!admitted(&admit(h, &m(1)).await));
    // Settling the open 90 with 0 frees them again.
    settle(h, &reservations(&e), &[0]).await;
    assert_eq!(remaining(&admit(h, &m(0)).await, 0), 90);
}

async fn admit_is_all_or_nothing<H: Harness>(h: &H) {
    let end = h.now_ms() + 3_600_000;
    let hold = admit(h, &[lease("r/conc/z", 1, 60_000)]).await;
    assert!(admitted(&hold));
    let checks = [
        window("r/req/z", 60_000, 5, 1),
        budget("$budget/day/z", 100, end, 30),
        lease("r/conc/z", 1, 60_000),
    ];
    let refused = admit(h, &checks).await;
    assert!(!admitted(&refused));
    assert_eq!(refused["refused"], 2, "{refused}");
    assert_eq!(remaining(&refused, 0), 5, "the window was not charged");
    assert_eq!(remaining(&refused, 1), 100, "the budget was not charged");
    assert!(admitted(
        &admit(h, &[window("r/req/z", 60_000, 5, 5)]).await
    ));
    assert!(admitted(
        &admit(h, &[budget("$budget/day/z", 100, end, 100)]).await
    ));
    // The first refusal is the one reported.
    let both = [
        window("r/req/z", 60_000, 5, 1),
        budget("$budget/day/z", 100, end, 1),
    ];
    assert_eq!(admit(h, &both).await["refused"], 0);
}

async fn settle_of_unknown_reservation_changes_nothing<H: Harness>(h: &H) {
    let ghost = Reservation {
        id: cache_sidecar::ids::new_id(),
        key: "r/req/ghost".into(),
        kind: cache_sidecar::counters::Kind::Window,
        cost: 1,
    };
    settle(h, &[ghost], &[100]).await;
    assert_eq!(
        remaining(&admit(h, &[window("r/req/ghost", 60_000, 3, 0)]).await, 0),
        3
    );
}
