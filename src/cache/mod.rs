//! The exact response cache: pure logic the `cache` stage (`src/exchange/cache.rs`) calls.
//!
//! - [`config`]: the `cache` section and the policy for one request.
//! - [`key`]: the entry's key, a SHA-256 of a versioned canonical form that fails closed.
//! - [`control`]: the request's `Cache-Control`.
//! - [`entry`]: the bytes stored in the sidecar (one normalised whole answer per API).
//! - [`record`]: an answer read as it passes (plain or streamed) into that whole answer.
//! - [`replay`]: a whole answer sent back as a stream in its API.
//! - [`semantic`]: the semantic tier's partition, compared text and sidecar bodies.
//!
//! The sidecar's side of the contract (paths, `ttl`, `max_age`, `age`) is in
//! sidecars/cache/README.md; the paths are written here.

pub mod config;
pub mod control;
pub mod entry;
pub mod key;
pub mod record;
pub mod replay;
pub mod semantic;

mod chat;
mod messages;
mod responses;

pub use config::{Cache, RawCache};

/// What the cache did for a request: the `x-llm-cache` header, the access log's
/// `llm_cache` and the `status` label of `llm_cache_requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Answered from an exact entry.
    HitExact,
    /// Answered from the exact entry of a verified similar question.
    HitSemantic,
    /// Looked up, not found: the provider answers (and the answer is stored).
    Miss,
    /// Not looked up: the cache is off for this request (override, `no-cache`,
    /// `no-store`, temperature above the threshold).
    Bypass,
    /// The lookup failed (the sidecar down, slow or answering an error).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::HitExact => "hit-exact",
            Status::HitSemantic => "hit-semantic",
            Status::Miss => "miss",
            Status::Bypass => "bypass",
            Status::Error => "error",
        }
    }
}

/// Whose entries these are. Two tenants never share an entry: the tenant is in the key,
/// and each has its own sidecar namespace (purged alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    /// An identified consumer (`identity`), by id.
    Consumer(String),
    /// Anonymous callers, by `cache.anonymous_namespace`.
    Anonymous(String),
}

impl Tenant {
    /// The sidecar namespace: `c:<consumer id>` (an `@` in the id written `:`, which no
    /// consumer id holds, so the mapping is one to one) or `a:<anonymous namespace>`.
    /// Both fit the sidecar's names, `[A-Za-z0-9_.:-]{1,128}`.
    pub fn namespace(&self) -> String {
        let (prefix, name) = match self {
            Tenant::Consumer(id) => ("c:", id),
            Tenant::Anonymous(ns) => ("a:", ns),
        };
        let mut out = String::with_capacity(prefix.len() + name.len());
        out.push_str(prefix);
        for c in name.chars().take(64) {
            out.push(match c {
                '@' => ':',
                c if c.is_ascii_alphanumeric() || "_.-".contains(c) => c,
                _ => '_',
            });
        }
        out
    }

    /// The tenant as the key's canonical form names it.
    pub fn canonical(&self) -> String {
        match self {
            Tenant::Consumer(id) => format!("consumer:{id}"),
            Tenant::Anonymous(ns) => format!("anonymous:{ns}"),
        }
    }
}

/// The sidecar path of a lookup: `GET /v1/cache/{ns}/{key}[?max_age=S]`.
pub fn lookup_path(namespace: &str, key: &str, max_age_s: Option<u64>) -> String {
    match max_age_s {
        Some(s) => format!("/v1/cache/{namespace}/{key}?max_age={s}"),
        None => format!("/v1/cache/{namespace}/{key}"),
    }
}

/// The sidecar path of a store: `PUT /v1/cache/{ns}/{key}?ttl=S`.
pub fn store_path(namespace: &str, key: &str, ttl_s: u64) -> String {
    format!("/v1/cache/{namespace}/{key}?ttl={ttl_s}")
}

/// Splits a text into the pieces of a replayed stream: runs of about `TARGET` bytes
/// ending before whitespace, never more than `MAX` bytes, cut at character boundaries.
/// Concatenated, the pieces are `text`.
pub(crate) fn pieces(text: &str) -> Vec<&str> {
    const TARGET: usize = 24;
    const MAX: usize = 96;
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let len = i - start;
        if (len >= TARGET && c.is_whitespace()) || len + c.len_utf8() > MAX {
            out.push(&text[start..i]);
            start = i;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

#[cfg(test)]
mod tests;
