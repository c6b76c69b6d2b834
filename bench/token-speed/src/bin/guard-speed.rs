//! guard-speed PROMPT_FILE [SECONDS]
//!
//! The guard's scanners on one prompt (bench/guard/prompt-4k.txt: 4 KB of English with an
//! e-mail and a phone number), each timed over and over for a share of SECONDS (default
//! 3) after a warm-up: PII detection alone, injection scoring alone, the whole input guard
//! on a chat request holding the prompt (validation, injection, PII masking, body
//! rewrite) and the output guard on the same text as one answer. Prints one JSON object:
//! microseconds per call, the median over batches of 50 calls. Same source for
//! wasm32-wasip1 (Node's WASI: V8) and native.

use std::time::{Duration, Instant};

use llm_gateway::api::Api;
use llm_gateway::guard::{self, pii::OutputGuard};

fn per_call_us(budget: Duration, mut f: impl FnMut()) -> f64 {
    // Clock reads between batches only: on some VMs a clock read costs microseconds.
    const BATCH: u32 = 50;
    let warm = Instant::now();
    while warm.elapsed() < budget / 3 {
        f();
    }
    // The median batch: this host is shared, and a burst of another process lands in a
    // few batches; a mean over the whole budget would carry it.
    let mut batches = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        batches.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH));
    }
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: guard-speed PROMPT_FILE [SECONDS]");
        std::process::exit(2);
    }
    let prompt = std::fs::read_to_string(&args[1]).expect("read PROMPT_FILE");
    let seconds: f64 = args.get(2).map_or(3.0, |s| s.parse().expect("SECONDS"));
    let share = Duration::from_secs_f64(seconds / 5.0);

    let g = guard::compile(
        serde_json::from_str(
            r#"{"validation": {"max_messages": 100, "max_message_bytes": 65536},
                "pii": {"leak": {"canaries": ["LLMGW-CANARY-5f1c"]}},
                "injection": {}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let policy = &g.default;
    let pii = policy.pii.as_ref().unwrap();
    let injection = policy.injection.as_ref().unwrap();
    let body = serde_json::json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a helpful support assistant for an online shop."},
        {"role": "user", "content": prompt}]})
    .to_string()
    .into_bytes();

    let found = pii.detect(&prompt).len();
    let score = injection.scan_text(&prompt).score;
    let pii_us = per_call_us(share, || {
        std::hint::black_box(pii.detect(std::hint::black_box(&prompt)));
    });
    let injection_us = per_call_us(share, || {
        std::hint::black_box(injection.scan_text(std::hint::black_box(&prompt)));
    });
    let detectors_us = pii_us + injection_us;
    let input_us = per_call_us(share, || {
        std::hint::black_box(guard::inspect_request(
            policy,
            Api::OpenAiChat,
            std::hint::black_box(&body),
        ));
    });
    let output_us = per_call_us(share, || {
        let mut out = OutputGuard::new(pii, Default::default(), None);
        std::hint::black_box(out.filter_all(std::hint::black_box(&prompt)));
    });
    println!(
        "{{\"prompt_bytes\":{},\"pii_found\":{found},\"injection_score\":{score:.3},\
         \"pii_detect_us\":{pii_us:.2},\"injection_scan_us\":{injection_us:.2},\
         \"detectors_us\":{detectors_us:.2},\"input_guard_us\":{input_us:.2},\"output_guard_us\":{output_us:.2}}}",
        prompt.len()
    );
}
