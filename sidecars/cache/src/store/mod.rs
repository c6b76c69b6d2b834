//! Where entries and counters live: the [`Store`] trait and its two implementations,
//! [`EmbeddedStore`] (this process, bounded by bytes) and [`RedisStore`] (a Redis that
//! several sidecars share). One test suite (`tests/store_suite.rs`) runs against both.

mod embedded;
mod redis;

use std::future::Future;

use bytes::Bytes;

pub use self::embedded::{EmbeddedStore, ENTRY_OVERHEAD_BYTES};
pub use self::redis::RedisStore;

use crate::counters::{Check, Evaluation, Reservation};

/// A cache entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub body: Bytes,
    /// Whole seconds since it was stored.
    pub age_secs: u64,
}

/// Why a store could not do what was asked. Each maps to one status in `http.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The request cannot be served as asked (400), e.g. a budget period that the
    /// store's clock says is over.
    Invalid(String),
    /// The embedded store's bound has no room for more counters (503).
    Full(String),
    /// The backend failed or did not answer (503).
    Unavailable(String),
}

/// What `/metrics` and `/v1/stats` show about a store. Absent numbers are those the
/// store cannot give cheaply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// `embedded` or `redis`.
    pub backend: &'static str,
    /// Items held by kind: `cache` and `counters` (embedded), `keys` (Redis: all keys).
    pub entries: Vec<(&'static str, u64)>,
    /// Bytes held by kind, as the bound counts them (embedded) or Redis `used_memory`.
    pub bytes: Vec<(&'static str, u64)>,
    /// The bound on bytes held (embedded `--max-bytes`; Redis `maxmemory` when set).
    pub max_bytes: Option<u64>,
    /// Entries removed before their time by cause: `size` (the bound), `expired`.
    pub evictions: Vec<(&'static str, u64)>,
}

/// Entries with TTL and purge by namespace, and atomic limits counters.
///
/// Names (`ns`, `key`) are valid ([`crate::names::valid_name`]) and admit's checks have
/// passed [`crate::counters::AdmitRequest::validate`] before a store sees them.
pub trait Store: Send + Sync + 'static {
    /// The entry under `key` in `ns`; None when absent, expired, or older than
    /// `max_age_secs` whole seconds.
    fn get(
        &self,
        ns: &str,
        key: &str,
        max_age_secs: Option<u64>,
    ) -> impl Future<Output = Result<Option<Hit>, StoreError>> + Send;

    /// Stores (or replaces) `body` under `key` in `ns` for `ttl_secs` seconds.
    fn put(
        &self,
        ns: &str,
        key: &str,
        body: Bytes,
        ttl_secs: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes every entry of `ns` unreachable at once; how many were removed, when the
    /// store can count them cheaply.
    fn purge(&self, ns: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Admits against every check, all or nothing, atomically across every client of
    /// the store, on the store's clock.
    fn admit(
        &self,
        checks: &[Check],
    ) -> impl Future<Output = Result<Evaluation, StoreError>> + Send;

    /// Settles reservations with their actual costs (`actual[i]` for
    /// `reservations[i]`). A reservation already settled, or run out, changes nothing.
    fn settle(
        &self,
        reservations: &[Reservation],
        actual: &[u64],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn stats(&self) -> impl Future<Output = StoreStats> + Send;

    /// Drops what has expired (called every second by the server). Redis expires keys
    /// itself; the default does nothing.
    fn sweep(&self) {}
}
