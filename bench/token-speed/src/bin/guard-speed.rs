//! guard-speed PROMPT_FILE [SECONDS]
//!
//! The guard's scanners on one prompt (bench/guard/prompt-4k.txt: 4 KB of English with an
//! e-mail and a phone number), each timed over and over for a share of SECONDS (default
//! 3) after a warm-up: PII detection alone, injection scoring alone, the whole input guard
//! on a chat request holding the prompt (validation, injection, PII masking, body
//! rewrite) and the output guard on the same text as one answer; then the prompt stage:
//! a template with variables and decorators rendered into that request, and the
//! structured-output check of a 1 KB JSON answer. Prints one JSON object:
//! microseconds per call, the median over batches of 50 calls. Same source for
//! wasm32-wasip1 (Node's WASI: V8) and native.

use std::time::{Duration, Instant};

use llm_gateway::api::Api;
use llm_gateway::guard::{self, pii::OutputGuard};
use llm_gateway::prompt::{self, answer};

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
    let share = Duration::from_secs_f64(seconds / 7.0);

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
    // The prompt stage: make run's docs-qa template shape, a decorator, a schema.
    let schema = r#"{"type": "object", "properties": {"answer": {"type": "string", "maxLength": 2000}, "sources": {"type": "array", "items": {"type": "string"}, "maxItems": 20}, "confidence": {"enum": ["high", "medium", "low"]}}, "required": ["answer", "sources", "confidence"], "additionalProperties": false}"#;
    let p = prompt::compile(
        serde_json::from_str(&format!(
            r#"{{"prepend": [{{"role": "system", "content": "Consumer {{{{consumer.id}}}} of {{{{consumer.group}}}}."}}],
                "templates": [{{"id": "docs-qa", "version": "1", "variables": {{"product": {{}}, "question": {{"max_length": 8192}}}},
                  "schema": {{"name": "docs_answer", "schema": {schema}}},
                  "messages": [{{"role": "system", "content": "You are the documentation assistant of {{{{product}}}}. Rules: answer only from the documentation."}},
                               {{"role": "user", "content": "How do I start?"}}, {{"role": "assistant", "content": "Run make run."}},
                               {{"role": "user", "content": "{{{{question}}}}"}}]}}]}}"#
        ))
        .unwrap(),
    )
    .unwrap();
    let templated = serde_json::json!({"model": "gpt-4o", "messages": [],
        "prompt_template": {"id": "docs-qa", "variables": {"product": "llm-gateway", "question": prompt}}})
    .to_string()
    .into_bytes();
    let no_header = |_: &str| None;
    let simple = |_: Api, _: &serde_json::Map<String, serde_json::Value>| false;
    let ctx = prompt::Context {
        api: Api::OpenAiChat,
        path: "/v1/chat/completions",
        consumer: Some("demo-pro"),
        group: Some("pro"),
        header: &no_header,
        complex: &simple,
    };
    let rewrite = prompt::rewrite(&p, &ctx, &templated).unwrap();
    let check = rewrite.check.expect("the template's schema");
    let prompt_us = per_call_us(share, || {
        std::hint::black_box(prompt::rewrite(&p, &ctx, std::hint::black_box(&templated)).unwrap());
    });
    let json_answer = serde_json::json!({"answer": prompt.chars().take(1500).collect::<String>(),
        "sources": ["Quick start", "Routing", "Prompt engine"], "confidence": "high"})
    .to_string();
    let answer_body = serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": json_answer}}]})
        .to_string()
        .into_bytes();
    assert_eq!(
        answer::judge(
            &check,
            answer::answer_text(Api::OpenAiChat, &answer_body).as_deref()
        ),
        answer::Verdict::Valid
    );
    let schema_us = per_call_us(share, || {
        let text = answer::answer_text(Api::OpenAiChat, std::hint::black_box(&answer_body));
        std::hint::black_box(answer::judge(&check, text.as_deref()));
    });
    println!(
        "{{\"prompt_stage_us\":{prompt_us:.2},\"schema_check_us\":{schema_us:.2},\"answer_bytes\":{},\"prompt_bytes\":{},\"pii_found\":{found},\"injection_score\":{score:.3},\
         \"pii_detect_us\":{pii_us:.2},\"injection_scan_us\":{injection_us:.2},\
         \"detectors_us\":{detectors_us:.2},\"input_guard_us\":{input_us:.2},\"output_guard_us\":{output_us:.2}}}",
        answer_body.len(),
        prompt.len()
    );
}
