//! The route stage: which provider serves a request, under which model name.
//!
//! `auto` is the `auto` alias router (a tier from cheap signals, and the tier's model).
//! The exchange asks it first, then picks the provider.

pub mod auto;
