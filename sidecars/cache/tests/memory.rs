//! The embedded store's memory stays under its bound after far more than the bound has
//! been written: cache entries (16x the bound) and counters (until the bound refuses
//! more), by what the store counts and by the process's resident memory.

mod common;

use hyper::Method;
use serde_json::json;

use common::Sidecar;

const MAX_BYTES: u64 = 16 << 20;
const BODY: usize = 128 << 10;
/// Resident memory the process may use beyond its bound: code, runtime, allocator
/// arenas and per-connection buffers.
const SLACK: u64 = 48 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_under_the_bound() {
    let sc = Sidecar::start(&[
        "--max-bytes",
        &MAX_BYTES.to_string(),
        "--max-entry-bytes",
        "256KiB",
    ]);
    let mut c = common::client(sc.addr).await;
    assert_eq!(c.get("/healthz").await.unwrap().status, 200);
    let baseline = sc.rss_bytes();

    // 16x the bound in cache entries, from 4 connections.
    let writes = (16 * MAX_BYTES / BODY as u64) as usize;
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let addr = sc.addr;
            tokio::spawn(async move {
                let mut c = common::client(addr).await;
                let body = vec![b'a' + w as u8; BODY];
                for i in (w..writes).step_by(4) {
                    let r = c
                        .send(
                            Method::PUT,
                            &format!("/v1/cache/mem/k{i}?ttl=3600"),
                            body.clone(),
                        )
                        .await
                        .unwrap();
                    assert_eq!(r.status, 204, "{}", r.text());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Counters until the bound refuses more (long windows: none expires meanwhile).
    let mut full = 0;
    for i in 0..40_000 {
        let check = json!({"checks": [{"key": format!("mem/req/consumer-{i:06}"), "kind": "window",
            "window_ms": 3_600_000, "amount": 10, "cost": 1}]});
        let r = c.post_json("/v1/limits/admit", &check).await.unwrap();
        match r.status {
            200 => {}
            503 => {
                assert!(
                    r.json()["error"]
                        .as_str()
                        .unwrap_or("")
                        .contains("--max-bytes"),
                    "{}",
                    r.text()
                );
                full += 1;
                if full == 200 {
                    break;
                }
            }
            other => panic!("admit answered {other}: {}", r.text()),
        }
    }
    assert!(
        full > 0,
        "40k counters should not fit in 1/8 of {MAX_BYTES} bytes"
    );

    let stats = c.get("/v1/stats").await.unwrap().json();
    let held: u64 = ["cache", "counters"]
        .iter()
        .map(|k| stats["bytes"][k].as_u64().unwrap())
        .sum();
    assert!(
        held <= MAX_BYTES,
        "the store holds {held} > {MAX_BYTES}: {stats}"
    );
    assert!(stats["evictions"]["size"].as_u64() > Some(0), "{stats}");
    let rss = sc.rss_bytes();
    eprintln!("rss baseline {baseline}, after {rss}, store holds {held}, bound {MAX_BYTES}");
    assert!(
        rss <= baseline + MAX_BYTES + SLACK,
        "resident memory grew from {baseline} to {rss} bytes with a bound of {MAX_BYTES}"
    );
}
