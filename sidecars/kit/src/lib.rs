//! What the llm-gateway sidecars (`sidecars/cache`, `sidecars/semantic`) share:
//! [`serve`] (the listening line, graceful shutdown with a drain), [`ApiError`] (the
//! `{"error": message}` they answer with), [`parse_bytes`] (size flags) and [`client`]
//! (the keep-alive HTTP/1.1 client their tests and load generators speak to a running
//! sidecar with).

pub mod client;
mod error;
mod serve;
mod size;

pub use error::ApiError;
pub use serve::{serve, shutdown_signal};
pub use size::parse_bytes;
