//! What the llm-gateway sidecars (`sidecars/cache`, `sidecars/semantic`) share:
//! [`serve`] (the listening line, graceful shutdown with a drain), [`ApiError`] (the
//! `{"error": message}` they answer with), [`read_limited`] (bodies under a limit, 413 past it), [`parse_bytes`] (size flags) and [`client`]
//! (the keep-alive HTTP/1.1 client their tests and load generators speak to a running
//! sidecar with).

mod body;
pub mod client;
mod error;
mod serve;
mod size;

pub use body::read_limited;
pub use error::ApiError;
pub use serve::{serve, shutdown_signal};
pub use size::parse_bytes;
