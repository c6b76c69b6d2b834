//! Where entries live: the [`Index`] trait and its two implementations,
//! [`MemoryIndex`] (this process, bounded by entries and bytes) and [`PgIndex`]
//! (PostgreSQL + pgvector, shared by a fleet). One test suite (`tests/index_suite.rs`)
//! runs against both. Every call takes `now` (ms since the epoch): nothing here reads
//! a clock, so TTL tests run instantly.

mod memory;
mod postgres;

use std::future::Future;

pub use memory::{MemoryIndex, ENTRY_OVERHEAD_BYTES};
pub use postgres::PgIndex;

/// An entry to store. `vector` is unit length.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub id: String,
    pub partition: String,
    pub text: String,
    pub payload: serde_json::Value,
    pub vector: Vec<f32>,
    /// Seconds to keep it; None: until evicted or deleted.
    pub ttl_s: Option<u64>,
}

/// A neighbour found: cosine similarity `score` (unit vectors: the dot product).
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    pub id: String,
    pub text: String,
    pub payload: serde_json::Value,
    pub score: f32,
    /// Whole seconds since it was stored.
    pub age_s: u64,
}

/// A search within one (namespace, partition).
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    pub ns: &'a str,
    pub partition: &'a str,
    pub vector: &'a [f32],
    pub k: usize,
    pub threshold: f32,
}

/// Why an index could not do what was asked. Each maps to one status in `http.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    /// The request cannot be served as asked (400), e.g. a vector of the wrong length.
    Invalid(String),
    /// The backend failed or did not answer (503).
    Unavailable(String),
}

/// What `/metrics` shows about an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// `memory` or `postgres`.
    pub backend: &'static str,
    /// Entries held (None when the backend cannot count cheaply).
    pub entries: Option<u64>,
    /// Bytes held as the bound counts them (memory only).
    pub bytes: Option<u64>,
    /// Entries removed before their time because of the bound.
    pub evicted: u64,
    /// Entries removed because their TTL ran out.
    pub expired: u64,
}

pub trait Index: Send + Sync + 'static {
    /// Stores `entry` in `ns`, replacing an entry with the same id in `ns` (in any
    /// partition).
    fn upsert(
        &self,
        ns: &str,
        entry: NewEntry,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), IndexError>> + Send;

    /// Up to `k` live entries of (ns, partition) with score >= threshold, best first.
    fn query(
        &self,
        search: Search<'_>,
        now_ms: u64,
    ) -> impl Future<Output = Result<Vec<Neighbour>, IndexError>> + Send;

    /// Removes every entry of `ns`; how many.
    fn purge(&self, ns: &str) -> impl Future<Output = Result<u64, IndexError>> + Send;

    /// Removes entry `id` of `ns`; whether it was there.
    fn delete(&self, ns: &str, id: &str) -> impl Future<Output = Result<bool, IndexError>> + Send;

    fn stats(&self) -> impl Future<Output = IndexStats> + Send;

    /// Drops what has expired by `now_ms` (called every few seconds by the server).
    fn sweep(&self, now_ms: u64) -> impl Future<Output = ()> + Send;
}
