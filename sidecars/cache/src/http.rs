//! The HTTP contract (README.md is its reference): routes, parsing and validation, and
//! the one place where errors become statuses. Handlers check everything the client
//! sent, then call the store once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::counters::{answer, AdmitRequest, SettleRequest};
use crate::metrics::{Metrics, Route};
use crate::names::valid_name;
use crate::store::{Store, StoreError};

/// Largest JSON body (admit, settle).
pub const MAX_JSON_BYTES: usize = 1 << 20;

/// What the HTTP layer enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest cache entry body, bytes (`--max-entry-bytes`).
    pub max_entry_bytes: usize,
    /// Largest `ttl`, seconds (`--max-ttl`).
    pub max_ttl_secs: u64,
}

pub struct AppState<S> {
    pub store: S,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Set when shutdown begins: `/healthz` answers 503 from then on.
    pub draining: AtomicBool,
}

type Shared<S> = State<Arc<AppState<S>>>;

use sidecar_kit::read_limited;
/// The error a client sees: a status and `{"error": message}`.
pub use sidecar_kit::ApiError;

/// Maps a store failure to its status, counting and logging the backend's own.
fn store_error<S>(state: &AppState<S>, e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(m) => ApiError::bad(m),
        StoreError::Full(m) | StoreError::Unavailable(m) => {
            state.metrics.store_error();
            tracing::warn!(error = %m, "store error");
            ApiError(StatusCode::SERVICE_UNAVAILABLE, m)
        }
    }
}

pub fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route(
            "/v1/cache/{ns}/{*key}",
            get(cache_get::<S>).put(cache_put::<S>),
        )
        .route("/v1/cache/{ns}", delete(cache_purge::<S>))
        .route("/v1/limits/admit", post(admit::<S>))
        .route("/v1/limits/settle", post(settle::<S>))
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/v1/stats", get(stats::<S>))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "no such path (see the cache sidecar's README)".into(),
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path".into(),
            )
        })
        // Bodies are read with their own limits (413 in our envelope), below.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            track::<S>,
        ))
        .with_state(state)
}

/// Counts and times every request; logs it at debug.
async fn track<S: Store>(State(state): Shared<S>, req: Request, next: Next) -> Response {
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

fn names(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    let Path((ns, key)) = path.map_err(|e| ApiError::bad(format!("bad path: {e}")))?;
    check_name("namespace", &ns)?;
    check_name("key", &key)?;
    Ok((ns, key))
}

fn check_name(what: &str, value: &str) -> Result<(), ApiError> {
    if valid_name(value) {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "{what} must be 1-128 of [A-Za-z0-9_.:-] (got {:?})",
            value.chars().take(140).collect::<String>()
        )))
    }
}

/// The query's parameters, each allowed once, each a whole number; others are refused.
fn query(raw: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, u64)>, ApiError> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !allowed.contains(&name) {
            return Err(ApiError::bad(format!(
                "unknown query parameter {name:?} (this path takes {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(ApiError::bad(format!(
                "query parameter {name} is given twice"
            )));
        }
        let n = value.parse::<u64>().map_err(|_| {
            ApiError::bad(format!(
                "{name} must be a whole number of seconds (got {value:?})"
            ))
        })?;
        out.push((name.to_string(), n));
    }
    Ok(out)
}

async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let bytes = read_limited(headers, body, MAX_JSON_BYTES, "the JSON body").await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
}

async fn cache_get<S: Store>(
    State(state): Shared<S>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (ns, key) = names(path)?;
    let max_age = query(raw.as_deref(), &["max_age"])?
        .first()
        .map(|(_, v)| *v);
    let hit = state
        .store
        .get(&ns, &key, max_age)
        .await
        .map_err(|e| store_error(&state, e))?;
    state.metrics.lookup(hit.is_some());
    let Some(hit) = hit else {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such entry".into()));
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::AGE, HeaderValue::from(hit.age_secs)),
        ],
        hit.body,
    )
        .into_response())
}

async fn cache_put<S: Store>(
    State(state): Shared<S>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let (ns, key) = names(path)?;
    let max_ttl = state.limits.max_ttl_secs;
    let ttl = query(raw.as_deref(), &["ttl"])?
        .first()
        .map(|(_, v)| *v)
        .ok_or_else(|| ApiError::bad(format!("ttl is required: ?ttl=1..={max_ttl} seconds")))?;
    if !(1..=max_ttl).contains(&ttl) {
        return Err(ApiError::bad(format!(
            "ttl must be 1..={max_ttl} seconds (got {ttl})"
        )));
    }
    let body = read_limited(&headers, body, state.limits.max_entry_bytes, "the entry").await?;
    state
        .store
        .put(&ns, &key, body, ttl)
        .await
        .map_err(|e| store_error(&state, e))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn cache_purge<S: Store>(
    State(state): Shared<S>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(ns) = path.map_err(|e| ApiError::bad(format!("bad path: {e}")))?;
    check_name("namespace", &ns)?;
    query(raw.as_deref(), &[])?;
    let purged = state
        .store
        .purge(&ns)
        .await
        .map_err(|e| store_error(&state, e))?;
    tracing::info!(namespace = %ns, "purged");
    Ok(Json(json!({"purged": purged})))
}

async fn admit<S: Store>(
    State(state): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: AdmitRequest = read_json(&headers, body).await?;
    req.validate().map_err(ApiError::bad)?;
    let ev = state
        .store
        .admit(&req.checks)
        .await
        .map_err(|e| store_error(&state, e))?;
    state
        .metrics
        .admit(ev.refused.and_then(|i| req.checks.get(i)).map(|c| c.kind()));
    Ok(Json(answer(&req.checks, ev)).into_response())
}

async fn settle<S: Store>(
    State(state): Shared<S>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let req: SettleRequest = read_json(&headers, body).await?;
    req.validate().map_err(ApiError::bad)?;
    state
        .store
        .settle(&req.reservations, &req.actual)
        .await
        .map_err(|e| store_error(&state, e))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn healthz<S: Store>(State(state): Shared<S>) -> (StatusCode, &'static str) {
    if state.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn metrics<S: Store>(State(state): Shared<S>) -> Response {
    let stats = state.store.stats().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.prometheus(&stats),
    )
        .into_response()
}

async fn stats<S: Store>(State(state): Shared<S>) -> Json<serde_json::Value> {
    let stats = state.store.stats().await;
    Json(state.metrics.json(&stats))
}
