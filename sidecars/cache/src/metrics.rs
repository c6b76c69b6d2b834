//! The sidecar's own numbers, lock-free (fixed label sets, atomic counters), rendered
//! both as Prometheus text (`GET /metrics`) and as JSON (`GET /v1/stats`) from one
//! snapshot, so the two never disagree.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::counters::Kind;
use crate::store::StoreStats;

/// What a request was for: a bounded label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    CacheGet,
    CachePut,
    CachePurge,
    Admit,
    Settle,
    Healthz,
    Metrics,
    Stats,
    Other,
}

const ROUTES: [(Route, &str); 9] = [
    (Route::CacheGet, "cache_get"),
    (Route::CachePut, "cache_put"),
    (Route::CachePurge, "cache_purge"),
    (Route::Admit, "admit"),
    (Route::Settle, "settle"),
    (Route::Healthz, "healthz"),
    (Route::Metrics, "metrics"),
    (Route::Stats, "stats"),
    (Route::Other, "other"),
];

impl Route {
    /// The route of a request, from its method and path.
    pub fn of(method: &axum::http::Method, path: &str) -> Route {
        use axum::http::Method;
        if path.starts_with("/v1/cache/") {
            return match *method {
                Method::GET => Route::CacheGet,
                Method::PUT => Route::CachePut,
                Method::DELETE => Route::CachePurge,
                _ => Route::Other,
            };
        }
        match path {
            "/v1/limits/admit" => Route::Admit,
            "/v1/limits/settle" => Route::Settle,
            "/healthz" => Route::Healthz,
            "/metrics" => Route::Metrics,
            "/v1/stats" => Route::Stats,
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

/// Statuses counted by name; anything else counts as `other`.
const STATUSES: [u16; 10] = [200, 204, 400, 404, 405, 413, 415, 500, 503, 504];
const N_STATUS: usize = STATUSES.len() + 1;

/// Latency bucket upper bounds, seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

const KINDS: [Kind; 3] = [Kind::Window, Kind::Concurrency, Kind::Budget];

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

struct Latency {
    /// One per bucket, plus +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

pub struct Metrics {
    requests: Vec<[AtomicU64; N_STATUS]>,
    latency: Vec<Latency>,
    hits: AtomicU64,
    misses: AtomicU64,
    admits: AtomicU64,
    refusals: [AtomicU64; 3],
    store_errors: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: ROUTES.iter().map(|_| zeros()).collect(),
            latency: ROUTES
                .iter()
                .map(|_| Latency {
                    buckets: zeros(),
                    sum_ns: AtomicU64::new(0),
                })
                .collect(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            admits: AtomicU64::new(0),
            refusals: zeros(),
            store_errors: AtomicU64::new(0),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn status_label(i: usize) -> String {
    STATUSES
        .get(i)
        .map_or_else(|| "other".to_string(), |s| s.to_string())
}

impl Metrics {
    pub fn request(&self, route: Route, status: u16, took: Duration) {
        let r = route.index();
        let s = STATUSES
            .iter()
            .position(|&x| x == status)
            .unwrap_or(STATUSES.len());
        bump(&self.requests[r][s]);
        let secs = took.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        let lat = &self.latency[r];
        bump(&lat.buckets[b]);
        lat.sum_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn lookup(&self, hit: bool) {
        bump(if hit { &self.hits } else { &self.misses });
    }

    /// An admit: None admitted, Some(kind) refused by a check of that kind.
    pub fn admit(&self, refused: Option<Kind>) {
        match refused {
            None => bump(&self.admits),
            Some(k) => bump(&self.refusals[KINDS.iter().position(|&x| x == k).unwrap_or(0)]),
        }
    }

    pub fn store_error(&self) {
        bump(&self.store_errors);
    }

    /// Everything as JSON (`GET /v1/stats`).
    pub fn json(&self, store: &StoreStats) -> Value {
        let mut requests = Map::new();
        let mut latency = Map::new();
        for (r, (_, route)) in ROUTES.iter().enumerate() {
            let by_status: Map<String, Value> = (0..N_STATUS)
                .filter(|&s| get(&self.requests[r][s]) > 0)
                .map(|s| (status_label(s), json!(get(&self.requests[r][s]))))
                .collect();
            if !by_status.is_empty() {
                requests.insert(route.to_string(), Value::Object(by_status));
            }
            let lat = &self.latency[r];
            let count: u64 = lat.buckets.iter().map(get).sum();
            if count > 0 {
                let buckets: Vec<Value> = BUCKETS
                    .iter()
                    .map(|le| json!(le))
                    .chain([json!("+Inf")])
                    .zip(lat.buckets.iter().map(get))
                    .map(|(le, n)| json!({"le": le, "count": n}))
                    .collect();
                latency.insert(
                    route.to_string(),
                    json!({"count": count, "sum_seconds": get(&lat.sum_ns) as f64 / 1e9, "buckets": buckets}),
                );
            }
        }
        let pairs = |v: &[(&str, u64)]| -> Map<String, Value> {
            v.iter().map(|(k, n)| (k.to_string(), json!(n))).collect()
        };
        json!({
            "backend": store.backend,
            "requests": requests,
            "request_duration_seconds": latency,
            "cache": {"hits": get(&self.hits), "misses": get(&self.misses)},
            "limits": {
                "admits": get(&self.admits),
                "refusals": KINDS.iter().zip(&self.refusals).map(|(k, n)| (k.as_str().to_string(), json!(get(n)))).collect::<Map<_, _>>(),
            },
            "store_errors": get(&self.store_errors),
            "entries": pairs(&store.entries),
            "bytes": pairs(&store.bytes),
            "max_bytes": store.max_bytes,
            "evictions": pairs(&store.evictions),
        })
    }

    /// Everything in Prometheus' text format (`GET /metrics`).
    pub fn prometheus(&self, store: &StoreStats) -> String {
        let mut out = String::with_capacity(8192);
        let _ = writeln!(
            out,
            "# HELP cache_sidecar_info The store backend in use.\n# TYPE cache_sidecar_info gauge\ncache_sidecar_info{{backend=\"{}\"}} 1",
            store.backend
        );
        let _ = writeln!(
            out,
            "# HELP cache_sidecar_requests_total HTTP requests by route and status.\n# TYPE cache_sidecar_requests_total counter"
        );
        for (r, (_, route)) in ROUTES.iter().enumerate() {
            for s in 0..N_STATUS {
                let n = get(&self.requests[r][s]);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "cache_sidecar_requests_total{{route=\"{route}\",status=\"{}\"}} {n}",
                        status_label(s)
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP cache_sidecar_request_duration_seconds Time to answer, by route.\n# TYPE cache_sidecar_request_duration_seconds histogram"
        );
        for (r, (_, route)) in ROUTES.iter().enumerate() {
            let lat = &self.latency[r];
            let mut cumulative = 0;
            for (i, n) in lat.buckets.iter().enumerate() {
                cumulative += get(n);
                let le = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "cache_sidecar_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "cache_sidecar_request_duration_seconds_sum{{route=\"{route}\"}} {}\ncache_sidecar_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}",
                get(&lat.sum_ns) as f64 / 1e9
            );
        }
        let simple = [
            (
                "cache_sidecar_cache_hits_total",
                "Cache lookups that found an entry.",
                get(&self.hits),
            ),
            (
                "cache_sidecar_cache_misses_total",
                "Cache lookups that found nothing.",
                get(&self.misses),
            ),
            (
                "cache_sidecar_admits_total",
                "Limit admits that were admitted.",
                get(&self.admits),
            ),
            (
                "cache_sidecar_store_errors_total",
                "Store operations that failed (backend down, timeout, bound full).",
                get(&self.store_errors),
            ),
        ];
        for (name, help, n) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP cache_sidecar_refusals_total Limit admits refused, by the kind of the check that refused.\n# TYPE cache_sidecar_refusals_total counter"
        );
        for (k, n) in KINDS.iter().zip(&self.refusals) {
            let _ = writeln!(
                out,
                "cache_sidecar_refusals_total{{kind=\"{}\"}} {}",
                k.as_str(),
                get(n)
            );
        }
        for (name, kind, help, label, values) in [
            (
                "cache_sidecar_entries",
                "gauge",
                "Items held, by kind.",
                "kind",
                &store.entries,
            ),
            (
                "cache_sidecar_bytes",
                "gauge",
                "Bytes held, by kind (as the bound counts them; Redis: used_memory).",
                "kind",
                &store.bytes,
            ),
            (
                "cache_sidecar_evictions_total",
                "counter",
                "Cache entries removed before they were read again, by cause.",
                "cause",
                &store.evictions,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (l, n) in values {
                let _ = writeln!(out, "{name}{{{label}=\"{l}\"}} {n}");
            }
        }
        if let Some(max) = store.max_bytes {
            let _ = writeln!(
                out,
                "# HELP cache_sidecar_max_bytes The bound on bytes held.\n# TYPE cache_sidecar_max_bytes gauge\ncache_sidecar_max_bytes {max}"
            );
        }
        out
    }
}
