//! The usage stage: what a request cost. `config` is the `usage` section and its compile
//! step; `pricing` holds the price table and the cost of one request; `meter` reads an
//! answer for its usage as it passes; `settle` turns plan and answer into the facts.

pub mod config;
pub mod meter;
pub mod pricing;
pub mod settle;

pub use config::{compile, RawPrice, RawUsage, Usage};
pub use pricing::{default_prices, BilledTokens, Price, PriceTable};
