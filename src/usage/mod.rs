//! The usage stage: what a request cost. `config` is the `usage` section and its compile
//! step; `pricing` holds the price table and the cost of one request.

pub mod config;
pub mod pricing;

pub use config::{compile, RawPrice, RawUsage, Usage};
pub use pricing::{default_prices, BilledTokens, Price, PriceTable};
