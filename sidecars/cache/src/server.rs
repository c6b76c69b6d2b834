//! Starting and stopping: logging, the store the flags ask for, the listener, the
//! sweeper, and graceful shutdown on SIGTERM / SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::clock::SystemClock;
use crate::http::{router, AppState, Limits};
use crate::metrics::Metrics;
use crate::store::{EmbeddedStore, RedisStore, Store};

/// Everything the flags decide (see `main.rs` for their defaults and meaning).
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub max_bytes: u64,
    pub limits: Limits,
    pub redis_url: Option<String>,
    pub log_level: tracing::Level,
    /// How long `/healthz` answers 503 before the listener closes, on shutdown.
    pub drain: Duration,
}

/// How often expired counters are swept and moka's pending evictions applied.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Runs the sidecar until SIGTERM or SIGINT; the error is for the operator.
pub fn run(settings: Settings) -> Result<(), String> {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_max_level(settings.log_level)
        .with_current_span(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // Listen for the signals before the address is printed: whoever starts us may
        // send SIGTERM as soon as it reads that line, and an unhandled one kills.
        let stop = sidecar_kit::shutdown_signal()?;
        match &settings.redis_url {
            Some(url) => {
                let store = RedisStore::connect(url).await?;
                tracing::info!(%addr, backend = "redis", "starting");
                serve(listener, store, &settings, stop).await
            }
            None => {
                let store = EmbeddedStore::new(settings.max_bytes, Arc::new(SystemClock));
                tracing::info!(%addr, backend = "embedded", max_bytes = settings.max_bytes, "starting");
                serve(listener, store, &settings, stop).await
            }
        }
    })
}

/// Serves `store` on `listener` until `shutdown` completes, then drains: `/healthz`
/// answers 503 for `settings.drain`, the listener closes, and requests in flight finish.
pub async fn serve<S: Store>(
    listener: TcpListener,
    store: S,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let state = Arc::new(AppState {
        store,
        metrics: Metrics::default(),
        limits: settings.limits,
        draining: AtomicBool::new(false),
    });
    let sweeper = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            loop {
                tick.tick().await;
                let state = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || state.store.sweep()).await;
            }
        })
    };
    let app = router(Arc::clone(&state));
    let draining = Arc::clone(&state);
    let on_drain = move || draining.draining.store(true, Ordering::SeqCst);
    let result = sidecar_kit::serve(
        "cache-sidecar",
        listener,
        app,
        settings.drain,
        on_drain,
        shutdown,
    )
    .await;
    sweeper.abort();
    result
}

/// A byte size flag (`256MiB`): the sidecars read sizes the same way.
pub use sidecar_kit::parse_bytes;
