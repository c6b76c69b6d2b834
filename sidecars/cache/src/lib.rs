//! The llm-gateway cache sidecar: cache entries with TTL and purge by namespace, and
//! atomic limits counters (windows, concurrency leases, budgets) with reserve and
//! settle, for the Wasm module to reach through an Envoy cluster. See README.md for
//! the HTTP contract.

pub use sidecar_kit::client;
pub mod clock;
pub mod counters;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod names;
pub mod server;
pub mod store;
