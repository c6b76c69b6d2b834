//! Starting and stopping: logging, the store the flags ask for, the listener, the
//! sweeper, and graceful shutdown on SIGTERM / SIGINT.

use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
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
        let stop = shutdown_signal()?;
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
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
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
    // The first stdout line says where we listen (tests and scripts/run.sh read it).
    println!("cache-sidecar listening on {addr}");
    let _ = std::io::stdout().flush();
    let drain = settings.drain;
    let draining = Arc::clone(&state);
    let stop = async move {
        shutdown.await;
        draining.draining.store(true, Ordering::SeqCst);
        tracing::info!(drain_ms = drain.as_millis() as u64, "shutting down");
        tokio::time::sleep(drain).await;
    };
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| format!("server failed: {e}"));
    sweeper.abort();
    tracing::info!("stopped");
    result
}

/// A future that completes on SIGTERM or SIGINT (Ctrl-C). The handlers are in place
/// when this returns, not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| format!("cannot handle {name}: {e}"))
    };
    let mut term = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut int = listen(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// A byte size: a whole number with an optional unit (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`,
/// all powers of 1024), e.g. `256MiB`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4194304, 4MiB, 256M)"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB or GiB)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("4194304"), Ok(4 << 20));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("256M"), Ok(256 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert!(parse_bytes("4MB").is_err());
        assert!(parse_bytes("x").is_err());
        assert!(parse_bytes("99999999999999999999G").is_err());
    }
}
