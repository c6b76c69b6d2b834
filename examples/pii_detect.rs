//! Reads JSONL rows with a `text` field on stdin and prints, one line per row, the PII
//! the guard's default policy finds in it: `[{"entity", "start", "end", "value"}]`.
//! The evaluation in bench/guard/pii/formats.py drives the real detector through it.

use std::io::{BufRead, Write};

use llm_gateway::guard::pii::PiiPolicy;

fn main() {
    let policy = PiiPolicy::from_json("{}").expect("the default policy");
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let row: serde_json::Value = serde_json::from_str(&line).expect("a JSON row");
        let text = row["text"].as_str().expect("a text field");
        let found: Vec<serde_json::Value> = policy
            .detect(text)
            .iter()
            .map(|m| {
                serde_json::json!({
                    "entity": policy.entities()[m.entity].name,
                    "start": m.start,
                    "end": m.end,
                    "value": &text[m.start..m.end],
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(found)).expect("stdout");
    }
}
