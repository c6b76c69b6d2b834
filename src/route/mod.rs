//! The route stage: which provider serves a request, under which model name.
//!
//! `config` is the `route` section (providers, public aliases, the fallback chain) and
//! its compile step; `auto` is the `auto` alias router (a tier from cheap signals, and
//! the tier's model). The exchange asks `auto` first, then picks the provider.

pub mod auto;
pub mod config;

pub use config::{
    compile, Fallback, Provider, RawAlias, RawFallback, RawProvider, RawRoute, Route,
};
