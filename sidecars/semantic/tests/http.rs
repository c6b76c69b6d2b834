//! The HTTP contract's limits against the real binary.

mod common;

use serde_json::json;
use sidecar_kit::client::Client;

use common::Sidecar;

#[tokio::test]
async fn oversized_bodies_are_413_and_the_connection_goes_on() {
    let sc = Sidecar::start(&[]);
    let mut c = Client::connect(sc.addr).await.expect("connect");
    // Past the 1 MiB limit: refused after the body is read, so a client still writing
    // it gets the 413 rather than a reset connection, and may send the next request.
    let huge = json!({"text": "x".repeat(2 << 20), "k": 1});
    for _ in 0..10 {
        let r = c.post_json("/v1/ns/t/query", &huge).await.unwrap();
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("1048576"));
    }
    let health = c.get("/healthz").await.unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
}
