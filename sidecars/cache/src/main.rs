//! `cache-sidecar`: parses the flags and starts the server (see `server.rs`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use cache_sidecar::http::Limits;
use cache_sidecar::server::{parse_bytes, run, Settings};
use clap::Parser;

/// The llm-gateway cache sidecar: cache entries and limits counters over HTTP.
#[derive(Debug, Parser)]
#[command(name = "cache-sidecar", version)]
struct Flags {
    /// Address to listen on; port 0 picks a free one. The first stdout line is
    /// `cache-sidecar listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:10020")]
    listen: SocketAddr,
    /// Bound on what the embedded store holds (entries 7/8, counters 1/8), e.g. 256MiB.
    #[arg(long, default_value = "256MiB", value_parser = parse_bytes)]
    max_bytes: u64,
    /// Largest cache entry body; larger PUTs get 413.
    #[arg(long, default_value = "4MiB", value_parser = parse_bytes)]
    max_entry_bytes: u64,
    /// Largest `ttl` a PUT may ask for, seconds.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    max_ttl: u64,
    /// Keep entries and counters in this Redis (redis://host:port/db), shared by every
    /// sidecar that names it. Absent: the embedded store.
    #[arg(long)]
    redis_url: Option<String>,
    /// error, warn, info, debug (every request) or trace. Logs are JSON lines on stderr.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// On SIGTERM/SIGINT, answer 503 on /healthz this long (ms) before closing the
    /// listener; requests in flight always finish.
    #[arg(long, default_value_t = 0)]
    drain_ms: u64,
}

fn main() -> ExitCode {
    let f = Flags::parse();
    let settings = Settings {
        listen: f.listen,
        max_bytes: f.max_bytes,
        limits: Limits {
            max_entry_bytes: usize::try_from(f.max_entry_bytes).unwrap_or(usize::MAX),
            max_ttl_secs: f.max_ttl,
        },
        redis_url: f.redis_url,
        log_level: f.log_level,
        drain: Duration::from_millis(f.drain_ms),
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cache-sidecar: {message}");
            ExitCode::FAILURE
        }
    }
}
