//! Serving a sidecar's router until SIGTERM / SIGINT, then draining.

use std::future::Future;
use std::io::Write as _;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` completes, then drains: `on_drain` runs
/// (the sidecar's `/healthz` starts answering 503), `drain` passes, the listener closes
/// and requests in flight finish. The first stdout line is `{name} listening on ADDR`
/// (tests and scripts/run.sh read it).
pub async fn serve(
    name: &str,
    listener: TcpListener,
    app: Router,
    drain: Duration,
    on_drain: impl FnOnce() + Send + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("{name} listening on {addr}");
    let _ = std::io::stdout().flush();
    let stop = async move {
        shutdown.await;
        on_drain();
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
    tracing::info!("stopped");
    result
}

/// A future that completes on SIGTERM or SIGINT (Ctrl-C). The handlers are in place
/// when this returns, not when the future is first polled.
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
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
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
