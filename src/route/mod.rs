//! The route stage: which provider serves a request, under which model name.
//!
//! `config` is the `route` section (providers, public aliases, the fallback chain) and
//! its compile step; `auto` is the `auto` alias router (a tier from cheap signals, and
//! the tier's model); `plan` is the stage's decision for one request: the model (`auto`
//! first, then aliases), the provider, the body translated for it, the input counted.

pub mod auto;
pub mod catalog;
pub mod config;
pub mod plan;

pub use config::{
    compile, Fallback, Provider, RawAlias, RawFallback, RawProvider, RawRoute, Route,
};
