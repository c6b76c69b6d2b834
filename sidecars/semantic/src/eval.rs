//! Evaluation of the semantic-cache decision (score >= threshold, then the verifier) on
//! labelled pairs (`bench/semantic/*.jsonl`): precision and recall overall and per
//! kind. Used by `semantic-eval` and by the test that holds the goal on the dev set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;

use crate::embed::{dot, LocalModel};
use crate::verify::asides::{candidates, AsideModel, FACT_EXAMPLES, SMALL_TALK_EXAMPLES};
use crate::verify::{Reason, Verifier};

/// The threshold the sidecar's docs recommend and the eval uses by default, calibrated
/// on bench/semantic/dev.jsonl only (see README).
pub const DEFAULT_THRESHOLD: f32 = 0.64;

#[derive(Debug, Clone, Deserialize)]
pub struct Pair {
    pub a: String,
    pub b: String,
    /// `positive` (the cached answer serves) or `negative`.
    pub label: String,
    /// paraphrase, near_repeat, negation, number, entity, scope.
    pub kind: String,
    #[serde(default)]
    pub domain: String,
}

impl Pair {
    pub fn positive(&self) -> bool {
        self.label == "positive"
    }
}

pub fn load(path: &Path) -> Result<Vec<Pair>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// What the pipeline saw for one pair.
#[derive(Debug, Clone)]
pub struct Scored {
    pub score: f32,
    /// The verifier's verdict (None: passed).
    pub rejected_by: Option<Reason>,
    /// What the verifier saw, when it rejected.
    pub evidence: Option<String>,
}

/// The aside model (`verify/asides.rs`) on `model`'s embeddings, as the sidecar builds it.
pub fn aside_model(model: &LocalModel) -> Result<AsideModel, String> {
    Ok(AsideModel::new(
        model.embed(SMALL_TALK_EXAMPLES)?,
        model.embed(FACT_EXAMPLES)?,
    ))
}

/// Cosine similarity and verdict for every pair, with the model; with `asides`, the
/// verifier leaves out what it judges small talk, as the sidecar does.
pub fn score_pairs(
    model: &LocalModel,
    pairs: &[Pair],
    verifier: &Verifier,
    asides: Option<&AsideModel>,
) -> Result<Vec<Scored>, String> {
    let mut texts: Vec<&str> = Vec::with_capacity(pairs.len() * 2);
    for p in pairs {
        texts.push(&p.a);
        texts.push(&p.b);
    }
    let vectors = model.embed(&texts)?;
    let judged = match asides {
        Some(m) => {
            let candidates = candidates(&texts);
            let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
            m.asides(&candidates, &model.embed(&refs)?)
        }
        None => Default::default(),
    };
    Ok(pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // The cached entry is `b`, the new question `a` (the verifier is symmetric).
            let verdict = verifier.check_without(&p.a, &p.b, &judged).err();
            Scored {
                score: dot(&vectors[2 * i], &vectors[2 * i + 1]),
                rejected_by: verdict.as_ref().map(|r| r.reason),
                evidence: verdict.map(|r| r.evidence),
            }
        })
        .collect())
}

/// Counts for one group of pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub pairs: usize,
    /// Pairs served from the cache (score >= threshold and verified).
    pub hits: usize,
    /// Of those, positives.
    pub true_hits: usize,
    pub positives: usize,
}

impl Counts {
    /// Of the hits, the share that were right (1 when there are none).
    pub fn precision(&self) -> f64 {
        if self.hits == 0 {
            1.0
        } else {
            self.true_hits as f64 / self.hits as f64
        }
    }

    /// Of the positives, the share served (None when there are no positives).
    pub fn recall(&self) -> Option<f64> {
        (self.positives > 0).then(|| self.true_hits as f64 / self.positives as f64)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub overall: Counts,
    /// By kind, and for negatives, how many were stopped by the threshold vs which rule.
    pub by_kind: BTreeMap<String, Counts>,
    pub stopped_by: BTreeMap<String, BTreeMap<String, usize>>,
}

pub fn report(pairs: &[Pair], scored: &[Scored], threshold: f32, use_verifier: bool) -> Report {
    let mut r = Report::default();
    for (p, s) in pairs.iter().zip(scored) {
        let above = s.score >= threshold;
        let verified = !use_verifier || s.rejected_by.is_none();
        let hit = above && verified;
        for c in [&mut r.overall, r.by_kind.entry(p.kind.clone()).or_default()] {
            c.pairs += 1;
            c.hits += usize::from(hit);
            c.true_hits += usize::from(hit && p.positive());
            c.positives += usize::from(p.positive());
        }
        let stop = if !above {
            "threshold".to_string()
        } else if !verified {
            s.rejected_by
                .map(|x| x.as_str().to_string())
                .unwrap_or_default()
        } else {
            "served".to_string()
        };
        *r.stopped_by
            .entry(p.kind.clone())
            .or_default()
            .entry(stop)
            .or_default() += 1;
    }
    r
}

/// The lowest threshold (most recall) whose precision on these pairs reaches `target`.
pub fn calibrate(pairs: &[Pair], scored: &[Scored], target: f64) -> f32 {
    let mut best = 1.0f32;
    for step in (30..=99).rev() {
        let t = step as f32 / 100.0;
        if report(pairs, scored, t, true).overall.precision() >= target {
            best = t;
        } else {
            break;
        }
    }
    best
}

/// The report as a Markdown table.
pub fn markdown(title: &str, r: &Report, threshold: f32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#### {title} (threshold {threshold:.2}, verifier on)\n");
    let _ = writeln!(
        s,
        "| kind | pairs | served | precision | recall | stopped by |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
    let row = |name: &str, c: &Counts, stops: Option<&BTreeMap<String, usize>>| {
        let recall = c.recall().map_or("-".to_string(), |x| format!("{x:.3}"));
        let stops = stops
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "served")
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        format!(
            "| {name} | {} | {} | {:.3} | {recall} | {stops} |\n",
            c.pairs,
            c.hits,
            c.precision()
        )
    };
    for (kind, c) in &r.by_kind {
        s.push_str(&row(kind, c, r.stopped_by.get(kind)));
    }
    s.push_str(&row("**all**", &r.overall, None));
    s
}
