//! Text -> unit vector: the in-process model (default) or an OpenAI-compatible
//! `/v1/embeddings` endpoint.

pub mod bert;
pub mod int8;
pub mod int8_bert;
pub mod local;
pub mod remote;

use std::sync::Arc;

pub use local::{LocalModel, Precision};
pub use remote::RemoteEmbedder;

/// Where embeddings come from.
#[derive(Clone)]
pub enum Embedder {
    Local(Arc<LocalModel>),
    Remote(Arc<RemoteEmbedder>),
}

impl Embedder {
    /// Vector length.
    pub fn dim(&self) -> usize {
        match self {
            Embedder::Local(m) => m.dim(),
            Embedder::Remote(r) => r.dim(),
        }
    }

    /// What `/healthz` and the logs call it.
    pub fn describe(&self) -> String {
        match self {
            Embedder::Local(m) => format!("local {}", m.describe()),
            Embedder::Remote(r) => format!("remote {}", r.url()),
        }
    }

    /// One unit vector per text, in order. The local model runs on the blocking pool so
    /// the reactor keeps answering `/healthz` while it computes.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        match self {
            Embedder::Local(m) => {
                let m = Arc::clone(m);
                tokio::task::spawn_blocking(move || {
                    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                    m.embed(&refs)
                })
                .await
                .map_err(|e| format!("embedding task failed: {e}"))?
            }
            Embedder::Remote(r) => r.embed(&texts).await,
        }
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product; for unit vectors, the cosine similarity. Four accumulators so the
/// compiler vectorises it.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for j in 0..8 {
            acc[j] += a[i * 8 + j] * b[i * 8 + j];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in chunks * 8..a.len().min(b.len()) {
        sum += a[i] * b[i];
    }
    sum
}
