//! The sidecar's own numbers, lock-free, as Prometheus text (`GET /metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::index::IndexStats;
use crate::verify::Reason;

/// What a request was for: a bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Upsert,
    Query,
    Purge,
    Delete,
    Embed,
    Healthz,
    Metrics,
    Other,
}

const ROUTES: [(Route, &str); 8] = [
    (Route::Upsert, "upsert"),
    (Route::Query, "query"),
    (Route::Purge, "purge"),
    (Route::Delete, "delete"),
    (Route::Embed, "embed"),
    (Route::Healthz, "healthz"),
    (Route::Metrics, "metrics"),
    (Route::Other, "other"),
];

impl Route {
    pub fn of(method: &axum::http::Method, path: &str) -> Route {
        use axum::http::Method;
        if let Some(rest) = path.strip_prefix("/v1/ns/") {
            return match (method, rest) {
                (&Method::POST, r) if r.ends_with("/upsert") => Route::Upsert,
                (&Method::POST, r) if r.ends_with("/query") => Route::Query,
                (&Method::DELETE, r) if r.contains("/ids/") => Route::Delete,
                (&Method::DELETE, _) => Route::Purge,
                _ => Route::Other,
            };
        }
        match path {
            "/v1/embed" => Route::Embed,
            "/healthz" => Route::Healthz,
            "/metrics" => Route::Metrics,
            _ => Route::Other,
        }
    }

    fn index(self) -> usize {
        ROUTES
            .iter()
            .position(|(r, _)| *r == self)
            .unwrap_or(ROUTES.len() - 1)
    }
}

const STATUSES: [u16; 8] = [200, 400, 404, 405, 413, 415, 500, 503];
const N_STATUS: usize = STATUSES.len() + 1;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// A latency histogram.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The stages of a query, timed separately.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Embed,
    Search,
    Verify,
}

const STAGES: [&str; 3] = ["embed", "search", "verify"];

const REASONS: [Reason; 4] = [
    Reason::Negation,
    Reason::Number,
    Reason::Entity,
    Reason::Scope,
];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; N_STATUS]; ROUTES.len()],
    latency: [Histogram; ROUTES.len()],
    stages: [Histogram; 3],
    embedded_texts: AtomicU64,
    embed_errors: AtomicU64,
    index_errors: AtomicU64,
    neighbours: AtomicU64,
    verified: AtomicU64,
    rejected: [AtomicU64; 4],
}

impl Metrics {
    pub fn request(&self, route: Route, status: u16, took: Duration) {
        let s = STATUSES
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES.len());
        self.requests[route.index()][s].fetch_add(1, Ordering::Relaxed);
        self.latency[route.index()].observe(took);
    }

    pub fn stage(&self, stage: Stage, took: Duration) {
        self.stages[stage as usize].observe(took);
    }

    pub fn embedded(&self, texts: usize) {
        self.embedded_texts
            .fetch_add(texts as u64, Ordering::Relaxed);
    }

    pub fn embed_error(&self) {
        self.embed_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn index_error(&self) {
        self.index_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// One neighbour returned: verified, or rejected by `reason`, or not checked.
    pub fn neighbour(&self, verified: bool, reason: Option<Reason>) {
        self.neighbours.fetch_add(1, Ordering::Relaxed);
        if verified {
            self.verified.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(r) = reason {
            let i = REASONS.iter().position(|x| *x == r).unwrap_or(0);
            self.rejected[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self, index: &IndexStats) -> String {
        let mut o = String::new();
        o.push_str("# HELP semantic_requests_total Requests by route and status.\n# TYPE semantic_requests_total counter\n");
        for (ri, (_, route)) in ROUTES.iter().enumerate() {
            for si in 0..N_STATUS {
                let n = self.requests[ri][si].load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES
                    .get(si)
                    .map_or("other".to_string(), |s| s.to_string());
                let _ = writeln!(
                    o,
                    "semantic_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        o.push_str("# HELP semantic_request_duration_seconds Time to answer, by route.\n# TYPE semantic_request_duration_seconds histogram\n");
        for (ri, (_, route)) in ROUTES.iter().enumerate() {
            if self.latency[ri].count.load(Ordering::Relaxed) > 0 {
                self.latency[ri].render(
                    &mut o,
                    "semantic_request_duration_seconds",
                    &format!("route=\"{route}\""),
                );
            }
        }
        o.push_str("# HELP semantic_query_stage_seconds Time of each query stage.\n# TYPE semantic_query_stage_seconds histogram\n");
        for (i, stage) in STAGES.iter().enumerate() {
            self.stages[i].render(
                &mut o,
                "semantic_query_stage_seconds",
                &format!("stage=\"{stage}\""),
            );
        }
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut o,
            "semantic_embedded_texts_total",
            "Texts embedded.",
            self.embedded_texts.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "semantic_embed_errors_total",
            "Embedding failures.",
            self.embed_errors.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "semantic_index_errors_total",
            "Index backend failures.",
            self.index_errors.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "semantic_neighbours_total",
            "Neighbours returned by queries.",
            self.neighbours.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "semantic_neighbours_verified_total",
            "Neighbours the verifier passed.",
            self.verified.load(Ordering::Relaxed),
        );
        o.push_str("# HELP semantic_neighbours_rejected_total Neighbours the verifier rejected, by reason.\n# TYPE semantic_neighbours_rejected_total counter\n");
        for (i, r) in REASONS.iter().enumerate() {
            let _ = writeln!(
                o,
                "semantic_neighbours_rejected_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.rejected[i].load(Ordering::Relaxed)
            );
        }
        let b = index.backend;
        let gauge = |o: &mut String, name: &str, help: &str, v: Option<u64>| {
            if let Some(v) = v {
                let _ = writeln!(
                    o,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{backend=\"{b}\"}} {v}"
                );
            }
        };
        gauge(
            &mut o,
            "semantic_index_entries",
            "Entries held.",
            index.entries,
        );
        gauge(
            &mut o,
            "semantic_index_bytes",
            "Bytes held, as the bound counts them.",
            index.bytes,
        );
        let _ = writeln!(o, "# HELP semantic_index_removed_total Entries removed early (evicted) or on expiry.\n# TYPE semantic_index_removed_total counter");
        let _ = writeln!(
            o,
            "semantic_index_removed_total{{cause=\"evicted\"}} {}",
            index.evicted
        );
        let _ = writeln!(
            o,
            "semantic_index_removed_total{{cause=\"expired\"}} {}",
            index.expired
        );
        o
    }
}
