//! Recall and false positives on the committed evaluation set (bench/guard/pii, made by
//! generate.py): at least 99 % of the valid values of every entity are found exactly,
//! and at most 1 % of the benign look-alikes of every kind raise anything.
//!
//! Since issue 16 the phone detector reads the words around a number: `call me at
//! 1594539016` is a phone number to it. generate.py puts every other look-alike (the odd
//! rows of each kind) into the phone or card slot of a presidio template ("call me at
//! {x}", "Phone: {x}"); for the kinds made only of digits those rows are printed, not
//! asserted. The even rows (neutral templates) of every kind, and all rows of the kinds
//! no phone format covers, still are. `invalid_phone` is reported, not asserted: its
//! North American shapes with unassigned area codes (`192-061-5263`) are what Faker and
//! people write as phone numbers, masked on purpose. Look-alikes in their own contexts are measured in
//! `eval_formats.rs`.
//! `cargo test ... guard::pii::eval -- --nocapture` prints the table.

use std::collections::BTreeMap;

use serde_json::Value;

use super::PiiPolicy;

const POSITIVES: &str = include_str!("../../../bench/guard/pii/positives.jsonl");
const NEGATIVES: &str = include_str!("../../../bench/guard/pii/negatives.jsonl");

fn rows(data: &str) -> impl Iterator<Item = Value> + '_ {
    data.lines()
        .map(|l| serde_json::from_str(l).expect("jsonl row"))
}

#[test]
fn recall_per_entity_is_at_least_99_percent() {
    let policy = PiiPolicy::from_json("{}").unwrap();
    let mut stats: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut misses: Vec<String> = Vec::new();
    for row in rows(POSITIVES) {
        let entity = row["entity"].as_str().unwrap();
        let value = row["value"].as_str().unwrap();
        let text = row["text"].as_str().unwrap();
        let found = policy
            .detect(text)
            .iter()
            .any(|m| policy.entities()[m.entity].name == entity && &text[m.start..m.end] == value);
        let s = stats.entry(entity.to_string()).or_default();
        s.1 += 1;
        if found {
            s.0 += 1;
        } else if misses.iter().filter(|m| m.starts_with(entity)).count() < 6 {
            misses.push(format!("{entity}: {value:?} in {text:?}"));
        }
    }
    println!("entity        recall");
    for (e, (hit, n)) in &stats {
        println!(
            "{e:<13} {:>6.2} %  ({hit}/{n})",
            100.0 * f64::from(*hit) / f64::from(*n)
        );
    }
    for m in &misses {
        println!("miss {m}");
    }
    for (e, (hit, n)) in &stats {
        assert!(n >= &1000, "{e}: only {n} samples");
        assert!(
            f64::from(*hit) >= 0.99 * f64::from(*n),
            "{e}: recall {hit}/{n}"
        );
    }
}

/// Look-alike kinds made of digits only, which a phone-shaped slot makes ambiguous.
const DIGITS_ONLY: &[&str] = &[
    "order_number",
    "timestamp",
    "tracking_number",
    "invalid_phone",
    "invalid_card",
    "invalid_ssn",
    "invalid_rrn",
    "git_hash",
];

#[test]
fn false_positives_per_kind_are_at_most_1_percent() {
    let policy = PiiPolicy::from_json("{}").unwrap();
    let mut stats: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut hits: Vec<String> = Vec::new();
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut in_slots: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for row in rows(NEGATIVES) {
        let kind = row["kind"].as_str().unwrap();
        let text = row["text"].as_str().unwrap();
        let ms = policy.detect(text);
        let i = index.entry(kind.to_string()).or_default();
        *i += 1;
        if *i % 2 == 0 && DIGITS_ONLY.contains(&kind) {
            let s = in_slots.entry(kind.to_string()).or_default();
            s.0 += u32::from(!ms.is_empty());
            s.1 += 1;
            continue;
        }
        let s = stats.entry(kind.to_string()).or_default();
        s.1 += 1;
        if let Some(m) = ms.first() {
            s.0 += 1;
            if hits.len() < 40 && kind != "invalid_phone" {
                hits.push(format!(
                    "{kind}: {} {:?} in {text:?}",
                    policy.entities()[m.entity].name,
                    &text[m.start..m.end]
                ));
            }
        }
    }
    let (mut fp, mut total) = (0, 0);
    println!("kind             false positives");
    for (k, (f, n)) in &stats {
        println!(
            "{k:<16} {:>5.2} %  ({f}/{n})",
            100.0 * f64::from(*f) / f64::from(*n)
        );
        fp += f;
        total += n;
    }
    println!(
        "all              {:>5.2} %  ({fp}/{total})",
        100.0 * f64::from(fp) / f64::from(total)
    );
    println!("in a phone or card slot (\"call me at {{x}}\"), reported only:");
    for (k, (f, n)) in &in_slots {
        println!(
            "{k:<16} {:>5.2} %  ({f}/{n})",
            100.0 * f64::from(*f) / f64::from(*n)
        );
    }
    for h in &hits {
        println!("fp {h}");
    }
    for (k, (f, n)) in &stats {
        if k == "invalid_phone" {
            // North American shapes with unassigned area codes, bare ten digits: phone
            // numbers to the detector since issue 16 (see the module comment).
            continue;
        }
        assert!(
            f64::from(*f) <= 0.01 * f64::from(*n),
            "{k}: {f}/{n} false positives"
        );
    }
}
