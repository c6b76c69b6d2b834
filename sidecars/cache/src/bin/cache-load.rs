//! `cache-load`: lookups per second against a running cache sidecar (for `make bench`,
//! not a test). Stores `--keys` entries, then sends GETs for them from `--connections`
//! keep-alive connections for `--seconds`, and prints the rate and latency.
//!
//!   target/release/cache-sidecar &          # 127.0.0.1:10020
//!   target/release/cache-load --seconds 10

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cache_sidecar::client::Client;
use clap::Parser;
use hyper::Method;

/// Measures cache lookups per second against a running cache sidecar.
#[derive(Debug, Parser)]
#[command(name = "cache-load", version)]
struct Flags {
    /// The sidecar's address.
    #[arg(long, default_value = "127.0.0.1:10020")]
    target: SocketAddr,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long to send lookups, seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Distinct keys stored first and looked up at random.
    #[arg(long, default_value_t = 1000)]
    keys: usize,
    /// Size of each stored body, bytes.
    #[arg(long, default_value_t = 1024)]
    body_bytes: usize,
    /// The namespace used (purged at the end).
    #[arg(long, default_value = "cache-load")]
    namespace: String,
}

/// Latency histogram: 10 µs buckets up to 100 ms.
const BUCKET_US: u64 = 10;
const BUCKETS: usize = 10_000;

#[derive(Default)]
struct Tally {
    hits: u64,
    misses: u64,
    errors: u64,
    latency: Vec<u64>,
}

fn key(ns: &str, i: usize) -> String {
    format!("/v1/cache/{ns}/k{i:064}")
}

async fn lookups(flags: &Flags, seed: u64, until: Instant) -> Result<Tally, String> {
    let mut c = Client::connect(flags.target).await?;
    let mut t = Tally {
        latency: vec![0; BUCKETS + 1],
        ..Tally::default()
    };
    let mut x = seed | 1;
    while Instant::now() < until {
        // xorshift: a key at random, cheaply.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let path = key(&flags.namespace, (x % flags.keys as u64) as usize);
        let start = Instant::now();
        match c.get(&path).await {
            Ok(r) if r.status == 200 => t.hits += 1,
            Ok(r) if r.status == 404 => t.misses += 1,
            Ok(_) => t.errors += 1,
            Err(_) => {
                t.errors += 1;
                c = Client::connect(flags.target).await?;
            }
        }
        let us = start.elapsed().as_micros() as u64;
        t.latency[((us / BUCKET_US) as usize).min(BUCKETS)] += 1;
    }
    Ok(t)
}

fn percentile(latency: &[u64], p: f64) -> f64 {
    let total: u64 = latency.iter().sum();
    let want = ((total as f64) * p).ceil() as u64;
    let mut seen = 0;
    for (i, n) in latency.iter().enumerate() {
        seen += n;
        if seen >= want.max(1) {
            return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
        }
    }
    f64::NAN
}

async fn run(flags: Flags) -> Result<(), String> {
    let mut c = Client::connect(flags.target).await?;
    let body = vec![b'x'; flags.body_bytes];
    for i in 0..flags.keys {
        let r = c
            .send(
                Method::PUT,
                &format!("{}?ttl=3600", key(&flags.namespace, i)),
                body.clone(),
            )
            .await?;
        if r.status != 204 {
            return Err(format!(
                "storing key {i} answered {}: {}",
                r.status,
                r.text()
            ));
        }
    }
    println!(
        "cache-load: {} connections, {} s, {} keys of {} bytes against {}",
        flags.connections, flags.seconds, flags.keys, flags.body_bytes, flags.target
    );
    let flags = std::sync::Arc::new(flags);
    let start = Instant::now();
    let until = start + Duration::from_secs(flags.seconds);
    let tasks: Vec<_> = (0..flags.connections)
        .map(|i| {
            let flags = std::sync::Arc::clone(&flags);
            tokio::spawn(async move {
                lookups(&flags, 0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1) << 17, until).await
            })
        })
        .collect();
    let mut total = Tally {
        latency: vec![0; BUCKETS + 1],
        ..Tally::default()
    };
    for task in tasks {
        let t = task.await.map_err(|e| e.to_string())??;
        total.hits += t.hits;
        total.misses += t.misses;
        total.errors += t.errors;
        for (a, b) in total.latency.iter_mut().zip(&t.latency) {
            *a += b;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = total.hits + total.misses;
    println!(
        "lookups: {n} in {secs:.2} s = {:.0} lookups/s (hits {}, misses {}, errors {})",
        n as f64 / secs,
        total.hits,
        total.misses,
        total.errors
    );
    println!(
        "latency: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&total.latency, 0.50),
        percentile(&total.latency, 0.99)
    );
    let _ = c
        .send(
            Method::DELETE,
            &format!("/v1/cache/{}", flags.namespace),
            Vec::new(),
        )
        .await;
    Ok(())
}

fn main() -> ExitCode {
    let flags = Flags::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cache-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cache-load: {e}");
            ExitCode::FAILURE
        }
    }
}
