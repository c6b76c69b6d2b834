//! Starting and stopping: logging, the embedder and index the flags ask for, the
//! listener, the sweeper, and graceful shutdown on SIGTERM / SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;

use crate::aside_judge::AsideJudge;
use crate::embed::{Embedder, LocalModel, Precision, RemoteEmbedder};
use crate::http::{router, AppState, Limits};
use crate::index::{Index, MemoryIndex, PgIndex};
use crate::metrics::Metrics;
use crate::verify::Verifier;

/// Everything the flags decide (see `main.rs` for their defaults and meaning).
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub model_dir: PathBuf,
    pub precision: Precision,
    pub embeddings_url: Option<String>,
    pub embeddings_model: String,
    pub embeddings_timeout: Duration,
    pub pg_url: Option<String>,
    pub max_entries: usize,
    pub max_bytes: usize,
    pub limits: Limits,
    pub verifier: Verifier,
    /// Ask the model which asides are small talk (`--no-asides` turns it off).
    pub asides: bool,
    pub log_level: tracing::Level,
    pub drain: Duration,
}

/// How often expired entries are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

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
        let stop = sidecar_kit::shutdown_signal()?;
        let embedder = match &settings.embeddings_url {
            Some(url) => {
                let key = std::env::var("EMBEDDINGS_API_KEY").ok().filter(|k| !k.is_empty());
                let r = RemoteEmbedder::connect(
                    url,
                    &settings.embeddings_model,
                    key,
                    settings.embeddings_timeout,
                )
                .await?;
                Embedder::Remote(Arc::new(r))
            }
            None => {
                let (dir, precision) = (settings.model_dir.clone(), settings.precision);
                let model = tokio::task::spawn_blocking(move || LocalModel::load(&dir, precision))
                    .await
                    .map_err(|e| e.to_string())??;
                Embedder::Local(Arc::new(model))
            }
        };
        // Warm up: the first forward pass pays for page faults and allocations.
        embedder.embed(vec!["warm up".into()]).await?;
        let dim = embedder.dim();
        match &settings.pg_url {
            Some(url) => {
                let index = PgIndex::connect(url, dim).await?;
                tracing::info!(backend = "postgres", dim, embedder = %embedder.describe(), "starting");
                serve(listener, index, embedder, &settings, stop).await
            }
            None => {
                let index = MemoryIndex::new(dim, settings.max_entries, settings.max_bytes);
                tracing::info!(backend = "memory", dim, max_entries = settings.max_entries,
                    max_bytes = settings.max_bytes, embedder = %embedder.describe(), "starting");
                serve(listener, index, embedder, &settings, stop).await
            }
        }
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Serves `index` on `listener` until `shutdown` completes, then drains.
pub async fn serve<I: Index>(
    listener: TcpListener,
    index: I,
    embedder: Embedder,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let asides = if settings.asides {
        match AsideJudge::build(&embedder).await {
            Ok(judge) => Some(judge),
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed the aside examples: word lists only");
                None
            }
        }
    } else {
        None
    };
    let state = Arc::new(AppState {
        index,
        embedder,
        verifier: settings.verifier,
        asides,
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
                state.index.sweep(now_ms()).await;
            }
        })
    };
    let app = router(Arc::clone(&state));
    let draining = Arc::clone(&state);
    let on_drain = move || draining.draining.store(true, Ordering::SeqCst);
    let result = sidecar_kit::serve(
        "semantic-sidecar",
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
