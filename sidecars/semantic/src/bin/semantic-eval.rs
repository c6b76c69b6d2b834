//! `semantic-eval`: the semantic-cache decision (threshold + verifier) on labelled
//! pairs, per file: precision and recall overall and per kind, as Markdown.
//!
//!     semantic-eval --model-dir .cache/models/all-MiniLM-L6-v2 \
//!         bench/semantic/dev.jsonl bench/semantic/heldout.jsonl
//!
//! `--calibrate` prints, for the FIRST file only (the dev set), the lowest threshold
//! whose precision reaches the target; the others are only reported.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use semantic_sidecar::embed::{LocalModel, Precision};
use semantic_sidecar::eval::{
    aside_model, calibrate, load, markdown, report, score_pairs, DEFAULT_THRESHOLD,
};
use semantic_sidecar::verify::Verifier;

#[derive(Debug, Parser)]
#[command(name = "semantic-eval")]
struct Flags {
    /// all-MiniLM-L6-v2's directory (model.safetensors, tokenizer.json, config.json).
    #[arg(long, default_value = ".cache/models/all-MiniLM-L6-v2")]
    model_dir: PathBuf,
    /// Cosine similarity a neighbour needs.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
    /// Print the lowest threshold reaching this precision on the first file.
    #[arg(long)]
    calibrate: Option<f64>,
    /// Also list the first file's wrong hits and missed positives.
    #[arg(long)]
    errors: bool,
    /// The verifier without the aside model (word lists only), as with `--no-asides`
    /// on the sidecar.
    #[arg(long)]
    no_asides: bool,
    /// The model in f32 even where the sidecar would run it in int8 (see its --f32).
    #[arg(long = "f32")]
    f32: bool,
    /// JSONL files of {"a","b","label","kind"}.
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let f = Flags::parse();
    let precision = if f.f32 {
        Precision::F32
    } else {
        Precision::Auto
    };
    let model = match LocalModel::load(&f.model_dir, precision) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("semantic-eval: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("all-MiniLM-L6-v2, encoder {}\n", model.describe());
    let verifier = Verifier::default();
    let asides = if f.no_asides {
        None
    } else {
        match aside_model(&model) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("semantic-eval: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    for (n, path) in f.files.iter().enumerate() {
        let pairs = match load(path) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("semantic-eval: {e}");
                return ExitCode::FAILURE;
            }
        };
        let scored = match score_pairs(&model, &pairs, &verifier, asides.as_ref()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("semantic-eval: {e}");
                return ExitCode::FAILURE;
            }
        };
        if n == 0 {
            if let Some(target) = f.calibrate {
                let t = calibrate(&pairs, &scored, target);
                println!(
                    "calibrated on {}: threshold {t:.2} reaches precision {target}\n",
                    path.display()
                );
            }
        }
        let name = path.display().to_string();
        println!(
            "{}",
            markdown(
                &name,
                &report(&pairs, &scored, f.threshold, true),
                f.threshold
            )
        );
        let plain = report(&pairs, &scored, f.threshold, false).overall;
        println!(
            "without the verifier: precision {:.3}, recall {:.3}\n",
            plain.precision(),
            plain.recall().unwrap_or(0.0)
        );
        if f.errors && n == 0 {
            for (p, s) in pairs.iter().zip(&scored) {
                let hit = s.score >= f.threshold && s.rejected_by.is_none();
                if hit != p.positive() {
                    let why = s.rejected_by.map_or("-", |r| r.as_str());
                    let evidence = s.evidence.clone().unwrap_or_default();
                    println!(
                        "{} {:<11} {:.3} {why:<8} {evidence} | {} | {}",
                        if hit { "WRONG-HIT" } else { "MISSED   " },
                        p.kind,
                        s.score,
                        p.a,
                        p.b
                    );
                }
            }
        }
    }
    ExitCode::SUCCESS
}
