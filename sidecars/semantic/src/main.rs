//! `semantic-sidecar`: parses the flags and starts the server (see `server.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use semantic_sidecar::embed::Precision;
use semantic_sidecar::eval::DEFAULT_THRESHOLD;
use semantic_sidecar::http::Limits;
use semantic_sidecar::server::{run, Settings};
use semantic_sidecar::verify::{Verifier, DEFAULT_NEAR_IDENTICAL};

/// The llm-gateway semantic-index sidecar: nearest cached questions, verified.
#[derive(Debug, Parser)]
#[command(name = "semantic-sidecar", version)]
struct Flags {
    /// Address to listen on; port 0 picks a free one. The first stdout line is
    /// `semantic-sidecar listening on ADDR`.
    #[arg(long, default_value = "127.0.0.1:10030")]
    listen: SocketAddr,
    /// all-MiniLM-L6-v2's directory: model.safetensors, tokenizer.json, config.json.
    #[arg(long, default_value = ".cache/models/all-MiniLM-L6-v2")]
    model_dir: PathBuf,
    /// Run the model in f32 (candle) even where the CPU has AVX2 or AVX-512 VNNI (there
    /// the int8 encoder runs by default, 2.5x (AVX2) to 5x (VNNI) faster; embeddings
    /// agree to a cosine above 0.999).
    #[arg(long = "f32")]
    f32: bool,
    /// Use this OpenAI-compatible embeddings endpoint (http://host:port/v1/embeddings)
    /// instead of the in-process model. EMBEDDINGS_API_KEY, when set, is sent as a
    /// bearer token.
    #[arg(long)]
    embeddings_url: Option<String>,
    /// The `model` field sent to --embeddings-url.
    #[arg(long, default_value = "text-embedding-3-small")]
    embeddings_model: String,
    /// How long to wait for --embeddings-url, ms.
    #[arg(long, default_value_t = 2000)]
    embeddings_timeout_ms: u64,
    /// Keep entries in PostgreSQL + pgvector (postgres://user@host:port/db), shared by
    /// every sidecar that names it. Absent: in this process.
    #[arg(long)]
    pg_url: Option<String>,
    /// Most entries the in-process index holds (oldest evicted first).
    #[arg(long, default_value_t = 200_000)]
    max_entries: usize,
    /// Most bytes the in-process index holds (vectors, texts, payloads), e.g. 512MiB.
    #[arg(long, default_value = "512MiB", value_parser = sidecar_kit::parse_bytes)]
    max_bytes: u64,
    /// Longest text to embed, bytes.
    #[arg(long, default_value_t = 16_384)]
    max_text_bytes: usize,
    /// Largest ttl_s an upsert may ask for, and the TTL of those that give none, seconds.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    max_ttl: u64,
    /// Cosine similarity a neighbour needs when the query gives no threshold.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
    /// Verifier: share of content words two questions must share for a swapped or
    /// added word to count as a changed scope.
    #[arg(long, default_value_t = DEFAULT_NEAR_IDENTICAL)]
    near_identical: f32,
    /// Verifier: word lists only; without it the embedding model also judges which
    /// statements beside a question are small talk (verify/asides.rs).
    #[arg(long)]
    no_asides: bool,
    /// error, warn, info, debug (every request) or trace. Logs are JSON lines on stderr.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// On SIGTERM/SIGINT, answer 503 on /healthz this long (ms) before closing.
    #[arg(long, default_value_t = 0)]
    drain_ms: u64,
}

fn main() -> ExitCode {
    let f = Flags::parse();
    let settings = Settings {
        listen: f.listen,
        model_dir: f.model_dir,
        precision: if f.f32 {
            Precision::F32
        } else {
            Precision::Auto
        },
        embeddings_url: f.embeddings_url,
        embeddings_model: f.embeddings_model,
        embeddings_timeout: Duration::from_millis(f.embeddings_timeout_ms),
        pg_url: f.pg_url,
        max_entries: f.max_entries,
        max_bytes: usize::try_from(f.max_bytes).unwrap_or(usize::MAX),
        limits: Limits {
            max_text_bytes: f.max_text_bytes,
            max_ttl_s: f.max_ttl,
            default_threshold: f.threshold,
        },
        verifier: Verifier {
            near_identical: f.near_identical,
        },
        asides: !f.no_asides,
        log_level: f.log_level,
        drain: Duration::from_millis(f.drain_ms),
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("semantic-sidecar: {message}");
            ExitCode::FAILURE
        }
    }
}
