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

/// The first neighbour's verdict for `question` against one stored entry.
async fn verdict(c: &mut Client, question: &str) -> (bool, serde_json::Value) {
    let r = c
        .post_json(
            "/v1/ns/t/query",
            &json!({"partition": "p", "text": question, "k": 1}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let n = r.json()["neighbours"][0].clone();
    assert!(
        n.is_object(),
        "no neighbour above the threshold: {}",
        r.text()
    );
    (n["verified"] == true, n["rejected_by"].clone())
}

#[tokio::test]
async fn small_talk_the_word_lists_do_not_know_is_left_out_by_the_model() {
    let stored = "How do I reset my password?";
    let remark = "How do I reset my password? I'm pulling my hair out.";
    let fact = "How do I reset my password? I signed up through the app store.";
    for (flags, remark_served) in [(&[][..], true), (&["--no-asides"][..], false)] {
        let sc = Sidecar::start(flags);
        let mut c = Client::connect(sc.addr).await.expect("connect");
        let up = c
            .post_json(
                "/v1/ns/t/upsert",
                &json!({"id": "a", "partition": "p", "text": stored, "payload": 1}),
            )
            .await
            .unwrap();
        assert_eq!(up.status, 200, "{}", up.text());
        let (served, why) = verdict(&mut c, remark).await;
        assert_eq!(served, remark_served, "{flags:?}: {why}");
        // Asked again: the answer the model gave is remembered, and the same.
        assert_eq!(verdict(&mut c, remark).await.0, remark_served);
        let (served, why) = verdict(&mut c, fact).await;
        assert!(
            !served,
            "{flags:?}: a fact added to the question was served"
        );
        assert_eq!(why, "scope");
    }
}
