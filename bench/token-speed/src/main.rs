//! token-speed TEXT_FILE REQUEST_JSON [SECONDS]
//!
//! Counts the tokens of TEXT_FILE (o200k_base, `count_text`) over and over for about
//! SECONDS (default 3) after a warm-up, then the input tokens of the chat request in
//! REQUEST_JSON (`count_openai_chat`). Prints one JSON object on stdout:
//! tokens, table build time, tokens/s, and microseconds per chat request.
//!
//! Same source for wasm32-wasip1 (run under Node's WASI: V8, Envoy's engine) and native.

use std::time::{Duration, Instant};

use llm_gateway::tokens::{count_openai_chat, count_text, Encoding};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: token-speed TEXT_FILE REQUEST_JSON [SECONDS]");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[1]).expect("read TEXT_FILE");
    let request = std::fs::read_to_string(&args[2]).expect("read REQUEST_JSON");
    let seconds: f64 = args.get(3).map_or(3.0, |s| s.parse().expect("SECONDS"));
    let budget = Duration::from_secs_f64(seconds);

    // Cold: the first count builds the encoding's tables (what a VM pays once).
    let t0 = Instant::now();
    count_text(Encoding::O200kBase, "warm up");
    let table_build_ms = t0.elapsed().as_secs_f64() * 1e3;

    // Warm-up: a few full passes so V8 has tiered the hot code up.
    let tokens = count_text(Encoding::O200kBase, &text);
    let warm = Instant::now();
    while warm.elapsed() < budget / 3 {
        std::hint::black_box(count_text(Encoding::O200kBase, std::hint::black_box(&text)));
    }

    let mut passes = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        let n = count_text(Encoding::O200kBase, std::hint::black_box(&text));
        assert_eq!(n, tokens);
        passes += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let tokens_per_s = (tokens * passes) as f64 / elapsed;

    // A whole chat request: JSON already parsed, as the filter has it.
    let value: serde_json::Value = serde_json::from_str(&request).expect("REQUEST_JSON is JSON");
    let obj = value.as_object().expect("REQUEST_JSON is an object");
    let model = obj.get("model").and_then(|m| m.as_str()).unwrap_or("gpt-4o");
    let chat_tokens = count_openai_chat(model, obj);
    let warm = Instant::now();
    while warm.elapsed() < budget / 6 {
        std::hint::black_box(count_openai_chat(model, std::hint::black_box(obj)));
    }
    let mut chat_runs = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget / 2 {
        std::hint::black_box(count_openai_chat(model, std::hint::black_box(obj)));
        chat_runs += 1;
    }
    let chat_us = start.elapsed().as_secs_f64() * 1e6 / chat_runs as f64;

    // Parse + count, what the filter does per request body.
    let mut parse_runs = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget / 2 {
        let v: serde_json::Value = serde_json::from_str(std::hint::black_box(&request)).unwrap();
        let o = v.as_object().unwrap();
        std::hint::black_box(count_openai_chat(model, o));
        parse_runs += 1;
    }
    let parse_chat_us = start.elapsed().as_secs_f64() * 1e6 / parse_runs as f64;

    println!(
        "{{\"text_bytes\":{},\"tokens\":{},\"table_build_ms\":{:.3},\"passes\":{},\"seconds\":{:.3},\
         \"tokens_per_s\":{:.0},\"chat_tokens\":{},\"chat_count_us\":{:.3},\"chat_parse_count_us\":{:.3}}}",
        text.len(),
        tokens,
        table_build_ms,
        passes,
        elapsed,
        tokens_per_s,
        chat_tokens,
        chat_us,
        parse_chat_us
    );
}
