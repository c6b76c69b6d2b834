//! The llm-gateway semantic-index sidecar: text -> embedding -> nearest entries in a
//! (namespace, partition), with a verifier that rejects hard negatives (negation,
//! numbers, entities, scope). See README.md for the HTTP contract.

pub use sidecar_kit::client;
pub mod aside_judge;
pub mod embed;
pub mod eval;
pub mod http;
pub mod index;
pub mod metrics;
pub mod server;
pub mod verify;
