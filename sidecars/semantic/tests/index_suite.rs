//! One suite, both indexes: the in-process index and PostgreSQL + pgvector (a real
//! Postgres started by the test). Every call gets `now`, so TTLs run out instantly.

mod common;

use common::{unit, Postgres};
use semantic_sidecar::index::{Index, MemoryIndex, NewEntry, PgIndex, Search};
use serde_json::json;

const DIM: usize = 384;
const T0: u64 = 1_700_000_000_000;

fn entry(id: &str, partition: &str, vector: Vec<f32>, ttl_s: Option<u64>) -> NewEntry {
    NewEntry {
        id: id.into(),
        partition: partition.into(),
        text: format!("text of {id}"),
        payload: json!({"answer": id}),
        vector,
        ttl_s,
    }
}

fn search<'a>(
    ns: &'a str,
    partition: &'a str,
    vector: &'a [f32],
    k: usize,
    threshold: f32,
) -> Search<'a> {
    Search {
        ns,
        partition,
        vector,
        k,
        threshold,
    }
}

/// `v` moved a little towards `w`, normalised: a neighbour with a known score order.
fn blend(v: &[f32], w: &[f32], t: f32) -> Vec<f32> {
    let mut out: Vec<f32> = v
        .iter()
        .zip(w)
        .map(|(a, b)| a * (1.0 - t) + b * t)
        .collect();
    let n = out.iter().map(|x| x * x).sum::<f32>().sqrt();
    out.iter_mut().for_each(|x| *x /= n);
    out
}

async fn suite<I: Index>(index: &I) {
    let q = unit(1, DIM);
    let far = unit(2, DIM);
    // Nearest first, within (ns, partition) only.
    index
        .upsert("t1", entry("near", "p", blend(&q, &far, 0.1), None), T0)
        .await
        .unwrap();
    index
        .upsert("t1", entry("mid", "p", blend(&q, &far, 0.4), None), T0)
        .await
        .unwrap();
    index
        .upsert("t1", entry("far", "p", far.clone(), None), T0)
        .await
        .unwrap();
    index
        .upsert("t1", entry("other-part", "p2", q.clone(), None), T0)
        .await
        .unwrap();
    index
        .upsert("t2", entry("other-ns", "p", q.clone(), None), T0)
        .await
        .unwrap();
    let found = index
        .query(search("t1", "p", &q, 10, 0.5), T0 + 2_500)
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        ["near", "mid"],
        "threshold 0.5 keeps the two near ones, best first"
    );
    assert!(
        found[0].score > 0.95 && found[0].score <= 1.0001,
        "{}",
        found[0].score
    );
    assert_eq!(found[0].age_s, 2);
    assert_eq!(found[0].payload, json!({"answer": "near"}));
    assert_eq!(found[0].text, "text of near");
    let found = index
        .query(search("t1", "p", &q, 1, -1.0), T0)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "k bounds the answer");
    assert!(index
        .query(search("t1", "nope", &q, 5, 0.0), T0)
        .await
        .unwrap()
        .is_empty());
    assert!(index
        .query(search("t3", "p", &q, 5, 0.0), T0)
        .await
        .unwrap()
        .is_empty());

    // Upsert replaces by id within the namespace, also across partitions.
    index
        .upsert("t1", entry("near", "p2", blend(&q, &far, 0.1), None), T0)
        .await
        .unwrap();
    let ids: Vec<String> = index
        .query(search("t1", "p", &q, 10, 0.5), T0)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(ids, ["mid"]);

    // TTL: live until now >= created + ttl.
    index
        .upsert("ttl", entry("short", "p", q.clone(), Some(10)), T0)
        .await
        .unwrap();
    assert_eq!(
        index
            .query(search("ttl", "p", &q, 1, 0.9), T0 + 9_999)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(index
        .query(search("ttl", "p", &q, 1, 0.9), T0 + 10_000)
        .await
        .unwrap()
        .is_empty());
    index.sweep(T0 + 10_000).await;
    assert!(
        index
            .query(search("ttl", "p", &q, 1, 0.9), T0)
            .await
            .unwrap()
            .is_empty(),
        "swept"
    );

    // Delete one id; purge a namespace.
    assert!(index.delete("t1", "mid").await.unwrap());
    assert!(!index.delete("t1", "mid").await.unwrap());
    assert_eq!(index.purge("t1").await.unwrap(), 3);
    assert!(index
        .query(search("t1", "p2", &q, 5, -1.0), T0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        index
            .query(search("t2", "p", &q, 5, 0.9), T0)
            .await
            .unwrap()
            .len(),
        1,
        "t2 untouched"
    );

    // A vector of the wrong length is refused.
    assert!(index
        .upsert("t1", entry("short", "p", vec![1.0; 3], None), T0)
        .await
        .is_err());
}

#[tokio::test]
async fn memory_index() {
    suite(&MemoryIndex::new(DIM, 10_000, 64 << 20)).await;
}

#[tokio::test]
async fn postgres_index() {
    let pg = Postgres::start();
    let index = PgIndex::connect(&pg.url(), DIM).await.expect("connect");
    suite(&index).await;
}

#[tokio::test]
async fn two_sidecars_on_one_postgres_share_entries() {
    let pg = Postgres::start();
    let a = PgIndex::connect(&pg.url(), DIM).await.expect("connect a");
    let b = PgIndex::connect(&pg.url(), DIM).await.expect("connect b");
    let q = unit(7, DIM);
    a.upsert("fleet", entry("x", "p", q.clone(), Some(60)), T0)
        .await
        .unwrap();
    let found = b.query(search("fleet", "p", &q, 1, 0.9), T0).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "x");
    assert!(b.delete("fleet", "x").await.unwrap());
    assert!(a
        .query(search("fleet", "p", &q, 1, 0.9), T0)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn memory_index_is_bounded_oldest_first() {
    let index = MemoryIndex::new(DIM, 3, 64 << 20);
    for i in 0..5u64 {
        index
            .upsert("n", entry(&format!("e{i}"), "p", unit(i, DIM), None), T0)
            .await
            .unwrap();
    }
    let stats = index.stats().await;
    assert_eq!(stats.entries, Some(3));
    assert_eq!(stats.evicted, 2);
    for i in 0..5u64 {
        let found = index
            .query(search("n", "p", &unit(i, DIM), 1, 0.99), T0)
            .await
            .unwrap();
        assert_eq!(found.len(), usize::from(i >= 2), "e{i}");
    }
    // By bytes too: room for about two entries.
    let one = index.entry_bytes(&entry("e0", "p", unit(0, DIM), None));
    let index = MemoryIndex::new(DIM, 1000, one * 2 + 10);
    for i in 0..4u64 {
        index
            .upsert("n", entry(&format!("e{i}"), "p", unit(i, DIM), None), T0)
            .await
            .unwrap();
    }
    assert_eq!(index.stats().await.entries, Some(2));
}

#[tokio::test]
async fn memory_index_sign_bit_scan_finds_the_exact_nearest() {
    // Above the exact-scan size the sign-bit pass picks candidates; the answer must
    // still be the exact top k, with exact scores.
    let index = MemoryIndex::new(DIM, 100_000, 256 << 20);
    let q = unit(99_999, DIM);
    for i in 0..3000u64 {
        index
            .upsert("n", entry(&format!("e{i}"), "p", unit(i, DIM), None), T0)
            .await
            .unwrap();
    }
    for (i, t) in [(0.15f32, "a"), (0.3, "b"), (0.45, "c")] {
        index
            .upsert("n", entry(t, "p", blend(&q, &unit(5, DIM), i), None), T0)
            .await
            .unwrap();
    }
    let found = index.query(search("n", "p", &q, 3, 0.0), T0).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    let exact: f32 = blend(&q, &unit(5, DIM), 0.15)
        .iter()
        .zip(&q)
        .map(|(x, y)| x * y)
        .sum();
    assert!((found[0].score - exact).abs() < 1e-5);
}
