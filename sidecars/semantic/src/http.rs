//! The HTTP contract (README.md is its reference): routes, parsing and validation, and
//! the one place where errors become statuses.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::aside_judge::AsideJudge;
use crate::embed::Embedder;
use crate::index::{Index, IndexError, NewEntry, Search};
use crate::metrics::{Metrics, Route, Stage};
use crate::verify::{Rejection, Verifier};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest namespace, partition or id, bytes.
pub const MAX_NAME_BYTES: usize = 512;
/// Most neighbours a query may ask for.
pub const MAX_K: usize = 100;
/// Most texts one `/v1/embed` call may send.
pub const MAX_EMBED_TEXTS: usize = 256;

/// What the HTTP layer enforces and defaults.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest text to embed, bytes (`--max-text-bytes`).
    pub max_text_bytes: usize,
    /// Largest `ttl_s` (`--max-ttl`); also the TTL of upserts that give none.
    pub max_ttl_s: u64,
    /// Threshold of queries that give none (`--threshold`).
    pub default_threshold: f32,
}

pub struct AppState<I> {
    pub index: I,
    pub embedder: Embedder,
    pub verifier: Verifier,
    /// Which asides are small talk (None: `--no-asides`, or its examples failed to embed).
    pub asides: Option<AsideJudge>,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Set when shutdown begins: `/healthz` answers 503 from then on.
    pub draining: AtomicBool,
}

type Shared<I> = State<Arc<AppState<I>>>;

/// The error a client sees: a status and `{"error": message}`.
pub use sidecar_kit::ApiError;

fn index_error<I>(state: &AppState<I>, e: IndexError) -> ApiError {
    match e {
        IndexError::Invalid(m) => ApiError::bad(m),
        IndexError::Unavailable(m) => {
            state.metrics.index_error();
            tracing::warn!(error = %m, "index error");
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "the index is unavailable".into(),
            )
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn check_name(what: &str, v: &str) -> Result<(), ApiError> {
    if v.is_empty() || v.len() > MAX_NAME_BYTES {
        return Err(ApiError::bad(format!(
            "{what} must be 1 to {MAX_NAME_BYTES} bytes (got {})",
            v.len()
        )));
    }
    Ok(())
}

fn check_text<I>(state: &AppState<I>, what: &str, v: &str) -> Result<(), ApiError> {
    let max = state.limits.max_text_bytes;
    if v.trim().is_empty() || v.len() > max {
        return Err(ApiError::bad(format!(
            "{what} must be non-blank and at most {max} bytes (got {})",
            v.len()
        )));
    }
    Ok(())
}

pub fn router<I: Index>(state: Arc<AppState<I>>) -> Router {
    Router::new()
        .route("/v1/ns/{ns}/upsert", post(upsert::<I>))
        .route("/v1/ns/{ns}/query", post(query::<I>))
        .route("/v1/ns/{ns}", delete(purge::<I>))
        .route("/v1/ns/{ns}/ids/{id}", delete(delete_id::<I>))
        .route("/v1/embed", post(embed::<I>))
        .route("/healthz", get(healthz::<I>))
        .route("/metrics", get(metrics::<I>))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "no such path (see the semantic sidecar's README)".into(),
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path".into(),
            )
        })
        // Bodies are read here, under the limit, so a refused one is drained first.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(limit_body))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            track::<I>,
        ))
        .with_state(state)
}

/// Reads the body (at most `MAX_BODY_BYTES`) before the handler sees it; 413 past it.
async fn limit_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match sidecar_kit::read_limited(&parts.headers, body, MAX_BODY_BYTES, "the body").await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

async fn track<I: Index>(State(state): Shared<I>, req: Request, next: Next) -> Response {
    let route = Route::of(req.method(), req.uri().path());
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let took = start.elapsed();
    let status = response.status().as_u16();
    state.metrics.request(route, status, took);
    tracing::debug!(%method, %path, status, micros = took.as_micros() as u64, "request");
    response
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpsertBody {
    id: String,
    partition: String,
    text: String,
    #[serde(default)]
    payload: Value,
    ttl_s: Option<u64>,
    /// A precomputed embedding (bulk loads, benchmarks): must have the embedder's
    /// dimension; normalised here. Absent: `text` is embedded.
    vector: Option<Vec<f32>>,
}

async fn embed_one<I>(state: &AppState<I>, text: &str) -> Result<Vec<f32>, ApiError> {
    let start = Instant::now();
    let result = state.embedder.embed(vec![text.to_string()]).await;
    state.metrics.stage(Stage::Embed, start.elapsed());
    match result {
        Ok(mut v) if v.len() == 1 => {
            state.metrics.embedded(1);
            Ok(v.remove(0))
        }
        Ok(_) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "embedding failed".into(),
        )),
        Err(e) => {
            state.metrics.embed_error();
            tracing::warn!(error = %e, "embedding failed");
            Err(ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                "embedding failed".into(),
            ))
        }
    }
}

async fn upsert<I: Index>(
    State(state): Shared<I>,
    Path(ns): Path<String>,
    body: Result<Json<UpsertBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    check_name("ns", &ns)?;
    check_name("id", &b.id)?;
    check_name("partition", &b.partition)?;
    check_text(&state, "text", &b.text)?;
    let max_ttl = state.limits.max_ttl_s;
    let ttl = match b.ttl_s {
        Some(0) => return Err(ApiError::bad("ttl_s must be > 0 (got 0)")),
        Some(t) if t > max_ttl => {
            return Err(ApiError::bad(format!(
                "ttl_s must be <= {max_ttl} (got {t})"
            )))
        }
        Some(t) => t,
        None => max_ttl,
    };
    let vector = match b.vector {
        Some(mut v) => {
            if v.len() != state.embedder.dim() || v.iter().any(|x| !x.is_finite()) {
                return Err(ApiError::bad(format!(
                    "vector must hold {} finite numbers (got {})",
                    state.embedder.dim(),
                    v.len()
                )));
            }
            crate::embed::normalise(&mut v);
            v
        }
        None => embed_one(&state, &b.text).await?,
    };
    let entry = NewEntry {
        id: b.id.clone(),
        partition: b.partition,
        text: b.text,
        payload: b.payload,
        vector,
        ttl_s: Some(ttl),
    };
    state
        .index
        .upsert(&ns, entry, now_ms())
        .await
        .map_err(|e| index_error(&state, e))?;
    Ok(Json(json!({"id": b.id, "stored": true, "ttl_s": ttl})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    partition: String,
    text: String,
    #[serde(default = "one")]
    k: usize,
    threshold: Option<f32>,
    #[serde(default = "yes")]
    verify: bool,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

async fn query<I: Index>(
    State(state): Shared<I>,
    Path(ns): Path<String>,
    body: Result<Json<QueryBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    check_name("ns", &ns)?;
    check_name("partition", &b.partition)?;
    check_text(&state, "text", &b.text)?;
    if b.k == 0 || b.k > MAX_K {
        return Err(ApiError::bad(format!(
            "k must be 1 to {MAX_K} (got {})",
            b.k
        )));
    }
    let threshold = b.threshold.unwrap_or(state.limits.default_threshold);
    if !(-1.0..=1.0).contains(&threshold) {
        return Err(ApiError::bad(format!(
            "threshold must be between -1 and 1 (got {threshold})"
        )));
    }
    let vector = embed_one(&state, &b.text).await?;
    let start = Instant::now();
    let found = state
        .index
        .query(
            Search {
                ns: &ns,
                partition: &b.partition,
                vector: &vector,
                k: b.k,
                threshold,
            },
            now_ms(),
        )
        .await
        .map_err(|e| index_error(&state, e))?;
    state.metrics.stage(Stage::Search, start.elapsed());
    let start = Instant::now();
    let mut verdicts: Vec<Option<Rejection>> = found
        .iter()
        .map(|n| {
            b.verify
                .then(|| state.verifier.check(&b.text, &n.text).err())
                .flatten()
        })
        .collect();
    // Only a rejection can change once the model's small talk is left out.
    if let Some(judge) = state
        .asides
        .as_ref()
        .filter(|_| verdicts.iter().any(Option::is_some))
    {
        let mut texts = vec![b.text.as_str()];
        texts.extend(
            found
                .iter()
                .zip(&verdicts)
                .filter(|(_, v)| v.is_some())
                .map(|(n, _)| n.text.as_str()),
        );
        match judge.asides(&state.embedder, &texts).await {
            Ok(asides) if !asides.is_empty() => {
                for (n, v) in found.iter().zip(verdicts.iter_mut()) {
                    if v.is_some() {
                        *v = state
                            .verifier
                            .check_without(&b.text, &n.text, &asides)
                            .err();
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                // The word lists' verdicts stand: a miss, never a wrong hit.
                state.metrics.embed_error();
                tracing::warn!(error = %e, "embedding asides failed");
            }
        }
    }
    let neighbours: Vec<Value> = found
        .into_iter()
        .zip(verdicts)
        .map(|(n, verdict)| {
            let verified = b.verify && verdict.is_none();
            state
                .metrics
                .neighbour(verified, verdict.as_ref().map(|r| r.reason));
            json!({
                "id": n.id,
                "score": n.score,
                "verified": verified,
                "rejected_by": verdict.as_ref().map(|r| r.reason.as_str()),
                "evidence": verdict.as_ref().map(|r| r.evidence.clone()),
                "payload": n.payload,
                "age_s": n.age_s,
            })
        })
        .collect();
    state.metrics.stage(Stage::Verify, start.elapsed());
    Ok(Json(json!({ "neighbours": neighbours })))
}

async fn purge<I: Index>(
    State(state): Shared<I>,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name("ns", &ns)?;
    let n = state
        .index
        .purge(&ns)
        .await
        .map_err(|e| index_error(&state, e))?;
    Ok(Json(json!({ "deleted": n })))
}

async fn delete_id<I: Index>(
    State(state): Shared<I>,
    Path((ns, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_name("ns", &ns)?;
    check_name("id", &id)?;
    let gone = state
        .index
        .delete(&ns, &id)
        .await
        .map_err(|e| index_error(&state, e))?;
    Ok(Json(json!({ "deleted": u64::from(gone) })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedBody {
    texts: Vec<String>,
}

async fn embed<I: Index>(
    State(state): Shared<I>,
    body: Result<Json<EmbedBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(b) = body?;
    if b.texts.is_empty() || b.texts.len() > MAX_EMBED_TEXTS {
        return Err(ApiError::bad(format!(
            "texts must hold 1 to {MAX_EMBED_TEXTS} texts (got {})",
            b.texts.len()
        )));
    }
    for t in &b.texts {
        check_text(&state, "each text", t)?;
    }
    let n = b.texts.len();
    let vectors = state.embedder.embed(b.texts).await.map_err(|e| {
        state.metrics.embed_error();
        tracing::warn!(error = %e, "embedding failed");
        ApiError(StatusCode::SERVICE_UNAVAILABLE, "embedding failed".into())
    })?;
    state.metrics.embedded(n);
    Ok(Json(
        json!({ "vectors": vectors, "dim": state.embedder.dim() }),
    ))
}

async fn healthz<I: Index>(State(state): Shared<I>) -> Response {
    let stats = state.index.stats().await;
    let body = json!({
        "status": if state.draining.load(Ordering::SeqCst) { "draining" } else { "ok" },
        "embedder": state.embedder.describe(),
        "dim": state.embedder.dim(),
        "index": stats.backend,
    });
    let status = if state.draining.load(Ordering::SeqCst) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(body)).into_response()
}

async fn metrics<I: Index>(State(state): Shared<I>) -> Response {
    let stats = state.index.stats().await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&stats),
    )
        .into_response()
}
