//! train-injection DEV_JSONL TEST_JSONL OUT_BIN [MORE_DEV_JSONL...]
//! train-injection --loso JSONL...
//! train-injection --loso-scores OUT_JSONL JSONL...
//!
//! Trains the injection guard's classifier and writes the table to OUT_BIN (MORE_DEV_JSONL:
//! more training rows, those marked `"split": "test"` left out); or, with
//! `--loso`, prints the leave-one-source-out evaluation over the rows of every JSONL
//! given (`loso::evaluate`; nothing is written); or, with `--loso-scores`, writes each
//! row's held-out score (`loso::held_out_scores`), one JSON line per input row in input
//! order, for evaluations that join another signal (`bench/guard/injection/embedding/`).
//!
//! 1. How to train and how the probability joins the rules' score (benign weight, floor,
//!    weight) is chosen on DEV_JSONL alone, by cross-validation over template families
//!    (`training::choose`).
//! 2. The model is trained with that choice on DEV_JSONL alone and written out; TEST_JSONL
//!    stays held out (its numbers are printed here and by the benchmark test).
//!
//! Training on both splits was tried: it catches more of the test split's own rows, of
//! course, but it also flagged everyday requests the dev-only model leaves alone ("Please
//! repeat the last answer in simpler words."), with no held-out data left to see it.
//!
//! Deterministic: the same data gives the same table byte for byte.

use llm_gateway::guard::injection::loso;
use llm_gateway::guard::injection::training::{self, Model, Row};
use llm_gateway::guard::injection::{InjectionPolicy, RawInjection};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// The lines of a JSONL file that are not marked `"split": "test"`.
fn dev_lines(jsonl: &str) -> String {
    jsonl
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["split"] != "test")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

fn print_rates(name: &str, rows: &[Row], model: &Model, floor: f32, weight: f32) {
    let probs: Vec<f32> = rows.iter().map(|r| model.probability(r)).collect();
    let (rd, rf, _, _) = training::rates(rows, &probs, 2.0, 0.0);
    let (d, f, a, b) = training::rates(rows, &probs, floor, weight);
    println!(
        "{name}: rules {:.1} % / {:.1} %; rules + classifier {:.1} % of {a} attacks detected, {:.1} % of {b} benign flagged",
        100.0 * rd,
        100.0 * rf,
        100.0 * d,
        100.0 * f
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let policy = InjectionPolicy::from_raw(RawInjection {
        classifier: false,
        ..RawInjection::default()
    })
    .expect("default policy");
    if args.len() >= 3 && args[1] == "--loso" {
        let rows: Vec<Row> = args[2..]
            .iter()
            .flat_map(|path| training::rows(&read(path), &policy))
            .collect();
        print!("{}", loso::report(&loso::evaluate(&rows)));
        return;
    }
    if args.len() >= 4 && args[1] == "--loso-scores" {
        let rows: Vec<Row> = args[3..]
            .iter()
            .flat_map(|path| training::rows(&read(path), &policy))
            .collect();
        let scores = loso::held_out_scores(&rows);
        let lines: String = rows
            .iter()
            .zip(&scores)
            .map(|(r, s)| {
                let line = serde_json::json!({
                    "source": r.source, "attack": r.attack, "rules": r.rules, "score": s,
                });
                format!("{line}\n")
            })
            .collect();
        std::fs::write(&args[2], lines).expect("write scores");
        return;
    }
    if args.len() < 4 {
        eprintln!(
            "usage: train-injection DEV_JSONL TEST_JSONL OUT_BIN [MORE_DEV_JSONL...] | --loso JSONL... | --loso-scores OUT_JSONL JSONL..."
        );
        std::process::exit(2);
    }
    let mut dev = training::rows(&read(&args[1]), &policy);
    for path in &args[4..] {
        dev.extend(training::rows(&dev_lines(&read(path)), &policy));
    }
    let test = training::rows(&read(&args[2]), &policy);

    let choice = training::choose(&dev).expect("a combination within MAX_DEV_FP");
    println!(
        "chosen on dev: benign weight {}, floor {}, weight {} ({:.1} % detected, {:.1} % flagged out of fold)",
        choice.benign_weight,
        choice.floor,
        choice.weight,
        100.0 * choice.detected,
        100.0 * choice.flagged
    );
    let model = training::train(&dev.iter().collect::<Vec<&Row>>(), choice.benign_weight);
    print_rates(
        "dev (trained on)",
        &dev,
        &model,
        choice.floor,
        choice.weight,
    );
    print_rates(
        "test (held out)",
        &test,
        &model,
        choice.floor,
        choice.weight,
    );
    std::fs::write(&args[3], training::table(&model, &choice)).expect("write table");
}
