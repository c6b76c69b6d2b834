//! Phone and card formats per region, and numeric look-alikes, on the held-out split of
//! bench/guard/pii/formats.py (phonenumbers E164 / RFC3966 / extensions, Faker in twelve
//! locales with seeds and providers the detector was not tuned on, other sentences):
//! recall >= 99.5 % per entity and region where the sentence names the value, and at
//! most 0.5 % of every look-alike kind flagged. Bare sentences ("The value is {v}.")
//! are reported, not asserted: a bare ten-digit number there is as often an order number.
//! `cargo test ... guard::pii::eval_formats -- --nocapture` prints the tables (make bench
//! copies them into BENCHMARKS.md).

use std::collections::BTreeMap;

use serde_json::Value;

use super::PiiPolicy;

const VALUES: &str = include_str!("../../../bench/guard/pii/formats-heldout.jsonl");
const LOOKALIKES: &str = include_str!("../../../bench/guard/pii/lookalikes-heldout.jsonl");

fn rows(data: &str) -> impl Iterator<Item = Value> + '_ {
    data.lines()
        .map(|l| serde_json::from_str(l).expect("jsonl row"))
}

fn pct(hit: u32, n: u32) -> f64 {
    100.0 * f64::from(hit) / f64::from(n)
}

#[test]
fn held_out_recall_per_entity_and_region_is_at_least_99_5_percent() {
    let policy = PiiPolicy::from_json("{}").unwrap();
    // (entity, region) -> [(hit, n) named, (hit, n) bare]
    let mut stats: BTreeMap<(String, String), [(u32, u32); 2]> = BTreeMap::new();
    let mut misses = Vec::new();
    for row in rows(VALUES) {
        let (entity, value, text) = (
            row["entity"].as_str().unwrap(),
            row["value"].as_str().unwrap(),
            row["text"].as_str().unwrap(),
        );
        let named = row["context"] == "phone";
        let found = policy
            .detect(text)
            .iter()
            .any(|m| policy.entities()[m.entity].name == entity && &text[m.start..m.end] == value);
        let key = (
            entity.to_string(),
            row["region"].as_str().unwrap().to_string(),
        );
        let s = &mut stats.entry(key).or_default()[usize::from(!named)];
        s.0 += u32::from(found);
        s.1 += 1;
        if !found && named && misses.len() < 20 {
            misses.push(format!("miss {entity} {value:?} in {text:?}"));
        }
    }
    println!();
    println!("PII recall per region, held-out split (bench/guard/pii/formats.py)");
    println!("entity       region      named in the sentence       bare sentence");
    for ((e, r), [(h, n), (bh, bn)]) in &stats {
        let bare = if *bn > 0 {
            format!("{:6.2} %  ({bh}/{bn})", pct(*bh, *bn))
        } else {
            "-".to_string()
        };
        println!(
            "{e:<12} {r:<11} {:6.2} %  ({h}/{n}){:>8} {bare}",
            pct(*h, *n),
            ""
        );
    }
    for m in &misses {
        println!("{m}");
    }
    for ((e, r), [(h, n), _]) in &stats {
        assert!(*n >= 300, "{e} {r}: only {n} samples");
        assert!(pct(*h, *n) >= 99.5, "{e} {r}: recall {h}/{n}");
    }
}

#[test]
fn held_out_lookalikes_are_flagged_at_most_0_5_percent() {
    let policy = PiiPolicy::from_json("{}").unwrap();
    let mut stats: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut hits = Vec::new();
    for row in rows(LOOKALIKES) {
        let kind = row["kind"].as_str().unwrap();
        let text = row["text"].as_str().unwrap();
        // IP addresses are an entity of their own: only the others count.
        let flagged: Vec<_> = policy
            .detect(text)
            .into_iter()
            .filter(|m| policy.entities()[m.entity].name != "ip_address")
            .collect();
        let s = stats.entry(kind.to_string()).or_default();
        s.0 += u32::from(!flagged.is_empty());
        s.1 += 1;
        if let Some(m) = flagged.first() {
            hits.push(format!(
                "fp {kind}: {} {:?} in {text:?}",
                policy.entities()[m.entity].name,
                &text[m.start..m.end]
            ));
        }
    }
    let (mut f, mut n) = (0, 0);
    println!();
    println!("Numeric look-alikes flagged as PII (IP addresses aside), held-out split");
    for (k, (kf, kn)) in &stats {
        println!("{k:<16} {:5.2} %  ({kf}/{kn})", pct(*kf, *kn));
        f += kf;
        n += kn;
    }
    println!("{:<16} {:5.2} %  ({f}/{n})", "all", pct(f, n));
    for h in &hits {
        println!("{h}");
    }
    for (k, (kf, kn)) in &stats {
        assert!(pct(*kf, *kn) <= 0.5, "{k}: {kf}/{kn} flagged");
    }
}
