//! llm-gateway: an LLM-aware HTTP filter for Envoy, built as one proxy-wasm module.
//!
//! Everything outside `host` is pure logic (bytes, strings and `now` in, decisions out)
//! so it builds and tests without the proxy-wasm SDK. Only `host` touches the host.

pub mod api;
pub mod attempt;
pub mod cache;
pub mod config;
pub mod config_error;
pub mod effects;
pub mod errors;
pub mod exchange;
pub mod facts;
pub mod guard;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod prompt;
pub mod providers;
pub mod route;
pub mod scope;
pub mod sse;
mod swar;
pub mod tokens;
pub mod usage;

#[cfg(feature = "host")]
mod host;

#[cfg(feature = "host")]
proxy_wasm::main! {{
    host::install();
}}

#[cfg(test)]
mod layering_tests;
