//! The HTTP contract against the real binary: statuses, envelopes, headers, limits,
//! health, metrics and shutdown.

mod common;

use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::json;

use common::{client, now_ms, RedisServer, Sidecar};

fn error_of(r: &cache_sidecar::client::Reply) -> String {
    r.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {:?}", r.text()))
        .to_string()
}

#[tokio::test]
async fn cache_round_trip_headers_and_purge() {
    let sc = Sidecar::start(&[]);
    let mut c = client(sc.addr).await;
    let key = "a".repeat(64);
    let path = format!("/v1/cache/tenant-1/{key}");
    assert_eq!(c.get(&path).await.unwrap().status, 404);
    let put = c
        .send(Method::PUT, &format!("{path}?ttl=60"), "stored bytes")
        .await
        .unwrap();
    assert_eq!(put.status, 204, "{}", put.text());
    let hit = c.get(&path).await.unwrap();
    assert_eq!(hit.status, 200);
    assert_eq!(hit.text(), "stored bytes");
    assert_eq!(hit.header("content-type"), Some("application/octet-stream"));
    assert!(
        matches!(hit.header("age"), Some("0" | "1")),
        "{:?}",
        hit.headers
    );
    assert_eq!(
        c.get(&format!("{path}?max_age=60")).await.unwrap().status,
        200
    );
    let purge = c
        .send(Method::DELETE, "/v1/cache/tenant-1", Bytes::new())
        .await
        .unwrap();
    assert_eq!(purge.status, 200);
    assert_eq!(purge.json(), json!({"purged": null}));
    let gone = c.get(&path).await.unwrap();
    assert_eq!(gone.status, 404);
    assert!(gone.json()["error"].is_string());
}

#[tokio::test]
async fn bad_names_and_queries_are_400() {
    let sc = Sidecar::start(&[]);
    let mut c = client(sc.addr).await;
    let long = "k".repeat(129);
    for path in [
        "/v1/cache/ten%20ant/key".to_string(),
        "/v1/cache/tenant/a%2Fb".to_string(),
        "/v1/cache/tenant/a/b".to_string(),
        format!("/v1/cache/tenant/{long}"),
        format!("/v1/cache/{long}/key"),
        "/v1/cache/t%C3%A9/key".to_string(),
        "/v1/cache/t%FF/key".to_string(),
        "/v1/cache/tenant/key?max_age=soon".to_string(),
        "/v1/cache/tenant/key?max_age=-1".to_string(),
        "/v1/cache/tenant/key?foo=1".to_string(),
        "/v1/cache/tenant/key?max_age=1&max_age=2".to_string(),
    ] {
        let r = c.get(&path).await.unwrap();
        assert_eq!(r.status, 400, "GET {path}: {}", r.text());
        assert!(!error_of(&r).is_empty());
    }
    for query in [
        "",
        "?ttl=0",
        "?ttl=86401",
        "?ttl=x",
        "?ttl=",
        "?ttl=60&extra=1",
    ] {
        let r = c
            .send(Method::PUT, &format!("/v1/cache/t/k{query}"), "x")
            .await
            .unwrap();
        assert_eq!(r.status, 400, "PUT {query}: {}", r.text());
        assert!(
            error_of(&r).contains("ttl") || error_of(&r).contains("extra"),
            "{}",
            r.text()
        );
    }
    let r = c
        .send(Method::DELETE, "/v1/cache/bad%20ns", Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let r = c.get("/v1/nothing-here").await.unwrap();
    assert_eq!(r.status, 404);
    assert!(!error_of(&r).is_empty());
    let r = c.send(Method::POST, "/v1/cache/t/k", "x").await.unwrap();
    assert_eq!(r.status, 405);
    assert!(!error_of(&r).is_empty());
    let r = c.get("/v1/limits/admit").await.unwrap();
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let sc = Sidecar::start(&["--max-entry-bytes", "1024", "--max-ttl", "600"]);
    let mut c = client(sc.addr).await;
    let ok = c
        .send(Method::PUT, "/v1/cache/t/k?ttl=600", vec![b'x'; 1024])
        .await
        .unwrap();
    assert_eq!(ok.status, 204);
    let big = c
        .send(Method::PUT, "/v1/cache/t/k?ttl=600", vec![b'x'; 1025])
        .await
        .unwrap();
    assert_eq!(big.status, 413);
    assert!(error_of(&big).contains("1024"), "{}", big.text());
    let ttl = c
        .send(Method::PUT, "/v1/cache/t/k?ttl=601", "x")
        .await
        .unwrap();
    assert_eq!(ttl.status, 400, "--max-ttl 600");
    // The entry that fitted is still the one stored.
    assert_eq!(c.get("/v1/cache/t/k").await.unwrap().body.len(), 1024);
    // The refused body is read before the 413 goes out: a client still writing it
    // gets the answer, not a reset connection (this raced before), and may go on.
    let huge = json!({"checks": [], "pad": "x".repeat(2 << 20)});
    let mut c = client(sc.addr).await;
    for _ in 0..20 {
        let r = c.post_json("/v1/limits/admit", &huge).await.unwrap();
        assert_eq!(r.status, 413, "{}", r.text());
    }
    assert_eq!(c.get("/v1/cache/t/k").await.unwrap().body.len(), 1024);
}

#[tokio::test]
async fn limits_over_http() {
    let sc = Sidecar::start(&[]);
    let mut c = client(sc.addr).await;
    let end = now_ms() + 3_600_000;
    let checks = json!({"checks": [
        {"key": "free-rpm/req/demo", "kind": "window", "window_ms": 60000, "amount": 1, "cost": 1},
        {"key": "free-conc/conc/demo", "kind": "concurrency", "limit": 2, "lease_ms": 30000},
        {"key": "$budget/day/demo", "kind": "budget", "limit": 50000, "period_end_ms": end, "cost": 100}
    ]});
    let a = c.post_json("/v1/limits/admit", &checks).await.unwrap();
    assert_eq!(a.status, 200);
    let a = a.json();
    assert_eq!(a["admitted"], true);
    assert_eq!(a["reservations"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        a["status"][0],
        json!({"key": "free-rpm/req/demo", "remaining": 0, "reset_ms": 60000})
    );
    let r = c
        .post_json("/v1/limits/admit", &checks)
        .await
        .unwrap()
        .json();
    assert_eq!(r["admitted"], false);
    assert_eq!(r["refused"], 0);
    assert!(
        r["retry_after_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 0 && ms <= 60_000),
        "{r}"
    );
    assert!(r.get("reservations").is_none());
    let settle = json!({"reservations": a["reservations"], "actual": [1, 0, 42]});
    let s = c.post_json("/v1/limits/settle", &settle).await.unwrap();
    assert_eq!(s.status, 204, "{}", s.text());
    let again = c.post_json("/v1/limits/settle", &settle).await.unwrap();
    assert_eq!(again.status, 204, "settling twice is fine");

    for (body, needle) in [
        (
            json!({"checks": [{"key": "k", "kind": "window", "window_ms": 0, "amount": 1, "cost": 1}]}),
            "checks[0].window_ms",
        ),
        (
            json!({"checks": [{"key": "k", "kind": "bucket"}]}),
            "unknown variant",
        ),
        (
            json!({"checks": [{"key": "k", "kind": "concurrency", "limit": 1}]}),
            "lease_ms",
        ),
        (
            json!({"checks": [{"key": "k", "kind": "budget", "limit": 1, "period_end_ms": 1000, "cost": 1}]}),
            "period_end_ms",
        ),
        (
            json!({"checks": [{"key": "a b", "kind": "concurrency", "limit": 1, "lease_ms": 1}]}),
            "checks[0].key",
        ),
        (json!({"check": []}), "unknown field"),
        (
            json!({"checks": [{"key": "k", "kind": "budget", "limit": 1, "period_end_ms": 10_000_000_000_001_u64, "cost": 1}]}),
            "checks[0].period_end_ms must be 1..=10000000000000",
        ),
    ] {
        let r = c.post_json("/v1/limits/admit", &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(error_of(&r).contains(needle), "{body}: {}", r.text());
    }
    // The latest period end there is still answers (its reset is far away, not a panic).
    let far = json!({"checks": [{"key": "far", "kind": "budget", "limit": 1, "period_end_ms": 10_000_000_000_000_u64, "cost": 1}]});
    let r = c.post_json("/v1/limits/admit", &far).await.unwrap().json();
    assert_eq!(r["admitted"], true, "{r}");
    assert!(r["status"][0]["reset_ms"].as_u64() > Some(1 << 40), "{r}");
    let r = c
        .send(Method::POST, "/v1/limits/admit", "{not json")
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        error_of(&r).starts_with("invalid JSON body"),
        "{}",
        r.text()
    );
    for (body, needle) in [
        (
            json!({"reservations": a["reservations"], "actual": [1]}),
            "one cost per reservation",
        ),
        (
            json!({"reservations": [{"id": "nope", "key": "k", "kind": "window", "cost": 1}], "actual": [1]}),
            "reservations[0].id",
        ),
    ] {
        let r = c.post_json("/v1/limits/settle", &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(error_of(&r).contains(needle), "{}", r.text());
    }
}

#[tokio::test]
async fn health_metrics_and_stats() {
    let sc = Sidecar::start(&[]);
    let mut c = client(sc.addr).await;
    let h = c.get("/healthz").await.unwrap();
    assert_eq!((h.status, h.text().as_str()), (200, "ok"));
    c.send(Method::PUT, "/v1/cache/t/k?ttl=60", "x")
        .await
        .unwrap();
    c.get("/v1/cache/t/k").await.unwrap();
    c.get("/v1/cache/t/missing").await.unwrap();
    let check =
        json!({"checks": [{"key": "k", "kind": "concurrency", "limit": 1, "lease_ms": 60000}]});
    c.post_json("/v1/limits/admit", &check).await.unwrap();
    c.post_json("/v1/limits/admit", &check).await.unwrap();
    let m = c.get("/metrics").await.unwrap();
    assert_eq!(m.status, 200);
    assert!(m
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let text = m.text();
    for name in [
        "cache_sidecar_requests_total{route=\"cache_get\",status=\"200\"} 1",
        "cache_sidecar_requests_total{route=\"cache_get\",status=\"404\"} 1",
        "cache_sidecar_request_duration_seconds_bucket{route=\"cache_get\",le=\"+Inf\"} 2",
        "cache_sidecar_request_duration_seconds_count{route=\"admit\"} 2",
        "cache_sidecar_entries{kind=\"cache\"} 1",
        "cache_sidecar_bytes{kind=\"cache\"}",
        "cache_sidecar_bytes{kind=\"counters\"}",
        "cache_sidecar_max_bytes 268435456",
        "cache_sidecar_cache_hits_total 1",
        "cache_sidecar_cache_misses_total 1",
        "cache_sidecar_evictions_total{cause=\"size\"} 0",
        "cache_sidecar_admits_total 1",
        "cache_sidecar_refusals_total{kind=\"concurrency\"} 1",
        "cache_sidecar_store_errors_total 0",
        "cache_sidecar_info{backend=\"embedded\"} 1",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    let s = c.get("/v1/stats").await.unwrap().json();
    assert_eq!(s["backend"], "embedded");
    assert_eq!(s["cache"], json!({"hits": 1, "misses": 1}));
    assert_eq!(s["limits"]["admits"], 1);
    assert_eq!(s["limits"]["refusals"]["concurrency"], 1);
    assert_eq!(s["requests"]["cache_put"]["204"], 1);
    assert_eq!(s["entries"]["cache"], 1);
    assert!(s["request_duration_seconds"]["cache_get"]["count"].as_u64() == Some(2));
}

#[tokio::test]
async fn the_redis_backend_serves_the_same_contract() {
    let redis = RedisServer::start(&[]);
    let sc = Sidecar::start(&["--redis-url", &redis.url()]);
    let mut c = client(sc.addr).await;
    assert_eq!(
        c.send(Method::PUT, "/v1/cache/t/k?ttl=60", "via redis")
            .await
            .unwrap()
            .status,
        204
    );
    let hit = c.get("/v1/cache/t/k").await.unwrap();
    assert_eq!((hit.status, hit.text().as_str()), (200, "via redis"));
    assert!(
        matches!(hit.header("age"), Some("0" | "1")),
        "{:?}",
        hit.headers
    );
    let check = json!({"checks": [{"key": "k", "kind": "window", "window_ms": 1000, "amount": 1, "cost": 1}]});
    assert_eq!(
        c.post_json("/v1/limits/admit", &check)
            .await
            .unwrap()
            .json()["admitted"],
        true
    );
    assert_eq!(
        c.post_json("/v1/limits/admit", &check)
            .await
            .unwrap()
            .json()["admitted"],
        false
    );
    let m = c.get("/metrics").await.unwrap().text();
    assert!(m.contains("cache_sidecar_info{backend=\"redis\"} 1"), "{m}");
    assert!(m.contains("cache_sidecar_entries{kind=\"keys\"}"), "{m}");
    // Redis goes away: a clear 503, and the sidecar keeps serving its health.
    drop(redis);
    let r = c.get("/v1/cache/t/k").await.unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(error_of(&r).starts_with("redis:"), "{}", r.text());
    assert_eq!(c.get("/healthz").await.unwrap().status, 200);
}

#[test]
fn an_unreachable_redis_stops_the_start_with_a_message() {
    let port = common::free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cache-sidecar"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            &format!("redis://127.0.0.1:{port}/"),
        ])
        .output()
        .expect("run cache-sidecar");
    assert!(!child.status.success());
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(err.contains("cannot reach redis"), "{err}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_cache-sidecar"))
        .args(["--max-bytes", "lots"])
        .output()
        .expect("run cache-sidecar");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--max-bytes"));
}

#[tokio::test]
async fn sigterm_drains_then_stops() {
    let sc = Sidecar::start(&["--drain-ms", "30000"]);
    let mut c = client(sc.addr).await;
    assert_eq!(c.get("/healthz").await.unwrap().status, 200);
    sc.terminate();
    // During the drain the listener still accepts, and health says 503.
    let mut seen = None;
    for _ in 0..200 {
        let r = client(sc.addr).await.get("/healthz").await.unwrap();
        if r.status == 503 {
            seen = Some(r.text());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.as_deref(), Some("shutting down"));
    // Other requests are still served while draining.
    assert_eq!(
        c.send(Method::PUT, "/v1/cache/t/k?ttl=5", "x")
            .await
            .unwrap()
            .status,
        204
    );
    drop(c);
    let sc2 = Sidecar::start(&[]);
    sc2.terminate();
    let (status, err) = sc2.wait(Duration::from_secs(30));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "exits cleanly on SIGTERM: {err}"
    );
    assert!(err.contains("\"message\":\"stopped\""), "{err}");
}
