//! The semantic signal of the injection guard: the similarity of the request's last user
//! turn to the nearest known attack prompt in the semantic-index sidecar (namespace
//! `guard:attacks` by default, filled by scripts/load-attacks.py from the dev split of
//! bench/guard/injection), joined to the rules' and classifier's score by noisy-OR:
//!
//! ```text
//! signal   = similarity if similarity >= threshold, else 0
//! combined = 1 - (1 - score) * (1 - weight * signal)
//! ```
//!
//! The sidecar is asked (one callout, the `guard_semantic` stage) only when this section
//! is on and the rules alone did not already block. A failed, slow or unreadable answer
//! turns the signal off for that request (`llm_guard_semantic_lookups{status="error"}`);
//! the request is never failed for it.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config_error::ConfigError;

/// The partition the attack prompts are loaded into (one per namespace).
pub const PARTITION: &str = "attacks";

/// `guard.injection.semantic` as the operator writes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemanticGuard {
    /// Ask the sidecar. Default `true` (the section is the opt-in).
    pub enabled: Option<bool>,
    /// How much a match adds, in (0, 1]: a similarity `s` at or above `threshold` joins
    /// the score as a signal of weight `weight * s`. Default 0.6.
    pub weight: Option<f32>,
    /// The similarity below which the signal is 0, in [0, 1]. Default 0.8.
    pub threshold: Option<f32>,
    /// The Envoy cluster of the semantic-index sidecar. Default `semantic_sidecar`.
    pub cluster: Option<String>,
    /// The namespace holding the attack prompts. Default `guard:attacks`.
    pub namespace: Option<String>,
    /// How long the lookup may take, in ms, 1 to 10000; past it the signal is off for
    /// the request. Default 50.
    pub timeout_ms: Option<u64>,
}

/// `guard.injection.semantic`, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticGuard {
    pub weight: f32,
    pub threshold: f32,
    pub cluster: String,
    pub namespace: String,
    pub timeout_ms: u64,
}

/// The longest text sent, bytes (the sidecar's `--max-text-bytes` is 16384; the model
/// reads the first 256 tokens anyway).
pub const MAX_TEXT_BYTES: usize = 4096;

impl SemanticGuard {
    /// `None` when `enabled: false`.
    pub fn compile(
        field: &str,
        raw: RawSemanticGuard,
    ) -> Result<Option<SemanticGuard>, ConfigError> {
        let field = format!("{field}.semantic");
        let weight = raw.weight.unwrap_or(0.6);
        if !(weight > 0.0 && weight <= 1.0) {
            return Err(ConfigError(format!(
                "{field}.weight must be in (0, 1] (got {weight})"
            )));
        }
        let threshold = raw.threshold.unwrap_or(0.8);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ConfigError(format!(
                "{field}.threshold must be in [0, 1] (got {threshold})"
            )));
        }
        let cluster = raw.cluster.unwrap_or_else(|| "semantic_sidecar".into());
        if cluster.is_empty() || cluster.chars().any(char::is_whitespace) {
            return Err(ConfigError(format!(
                "{field}.cluster must be a cluster name without spaces (got {cluster:?})"
            )));
        }
        let namespace = raw.namespace.unwrap_or_else(|| "guard:attacks".into());
        let plain = |c: char| c.is_ascii_alphanumeric() || "_.:-".contains(c);
        if namespace.is_empty() || namespace.len() > 128 || !namespace.chars().all(plain) {
            return Err(ConfigError(format!(
                "{field}.namespace must be 1-128 characters of [A-Za-z0-9_.:-] (got {namespace:?})"
            )));
        }
        let timeout_ms = raw.timeout_ms.unwrap_or(50);
        if !(1..=10_000).contains(&timeout_ms) {
            return Err(ConfigError(format!(
                "{field}.timeout_ms must be between 1 and 10000 (got {timeout_ms})"
            )));
        }
        if raw.enabled == Some(false) {
            return Ok(None);
        }
        Ok(Some(SemanticGuard {
            weight,
            threshold,
            cluster,
            namespace,
            timeout_ms,
        }))
    }

    /// `POST /v1/ns/{namespace}/query`.
    pub fn path(&self) -> String {
        format!("/v1/ns/{}/query", self.namespace)
    }

    /// The query: the nearest attack, unverified (the verifier is for paraphrases of
    /// questions, not for attacks).
    pub fn body(&self, text: &str) -> Vec<u8> {
        let mut end = text.len().min(MAX_TEXT_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        json!({"partition": PARTITION, "text": &text[..end], "k": 1, "verify": false,
               "threshold": self.threshold})
        .to_string()
        .into_bytes()
    }

    /// The best similarity in the sidecar's answer (0 with no neighbour); `None` when the
    /// body is not a query answer.
    pub fn similarity(body: &[u8]) -> Option<f32> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let n = v.get("neighbours")?.as_array()?;
        Some(
            n.iter()
                .filter_map(|x| x.get("score").and_then(Value::as_f64))
                .fold(0.0_f64, f64::max) as f32,
        )
    }

    /// The score with the similarity joined (see the module doc).
    pub fn combine(&self, score: f32, similarity: f32) -> f32 {
        let signal = if similarity >= self.threshold {
            similarity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        1.0 - (1.0 - score.clamp(0.0, 1.0)) * (1.0 - self.weight * signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(json: &str) -> Result<Option<SemanticGuard>, ConfigError> {
        let raw: RawSemanticGuard = serde_json::from_str(json).unwrap();
        SemanticGuard::compile("guard.injection", raw)
    }

    #[test]
    fn defaults_and_errors() {
        let g = compile("{}").unwrap().unwrap();
        assert_eq!(
            g,
            SemanticGuard {
                weight: 0.6,
                threshold: 0.8,
                cluster: "semantic_sidecar".into(),
                namespace: "guard:attacks".into(),
                timeout_ms: 50
            }
        );
        assert_eq!(compile(r#"{"enabled":false}"#).unwrap(), None);
        for (json, message) in [
            (r#"{"weight":0}"#, "guard.injection.semantic.weight must be in (0, 1] (got 0)"),
            (r#"{"threshold":1.2}"#, "guard.injection.semantic.threshold must be in [0, 1] (got 1.2)"),
            (r#"{"timeout_ms":0}"#, "guard.injection.semantic.timeout_ms must be between 1 and 10000 (got 0)"),
            (r#"{"namespace":"a/b"}"#, "guard.injection.semantic.namespace must be 1-128 characters of [A-Za-z0-9_.:-] (got \"a/b\")"),
        ] {
            assert_eq!(compile(json).unwrap_err().0, message, "{json}");
        }
    }

    #[test]
    fn the_similarity_joins_the_score_above_its_threshold_only() {
        let g = compile(r#"{"weight":0.5,"threshold":0.8}"#)
            .unwrap()
            .unwrap();
        assert!((g.combine(0.2, 0.79) - 0.2).abs() < 1e-6);
        assert!((g.combine(0.2, 0.9) - (1.0 - 0.8 * 0.55)).abs() < 1e-6);
        assert!((g.combine(0.0, 1.0) - 0.5).abs() < 1e-6);
        assert_eq!(
            SemanticGuard::similarity(br#"{"neighbours":[{"score":0.83},{"score":0.9}]}"#),
            Some(0.9)
        );
        assert_eq!(
            SemanticGuard::similarity(br#"{"neighbours":[]}"#),
            Some(0.0)
        );
        assert_eq!(SemanticGuard::similarity(b"oops"), None);
        let body: Value = serde_json::from_slice(&g.body(&"é".repeat(3000))).unwrap();
        assert!(body["text"].as_str().unwrap().len() <= MAX_TEXT_BYTES);
        assert_eq!(body["partition"], "attacks");
        assert_eq!(body["verify"], false);
    }
}
