//! The key of an entry: SHA-256 (lowercase hex) of a versioned canonical form of
//! everything that can change the answer. It fails closed: every request field counts
//! except those listed in [`IGNORED_FIELDS`], so a field the gateway has never heard of
//! still separates entries.
//!
//! The canonical form (version 1) is one line of JSON, an array:
//!
//! ```text
//! ["llm-gateway/cache-key/v1", <tenant>, <api>, <model>, <provider>, <request>]
//! ```
//!
//! - `<tenant>`: `"consumer:<id>"` or `"anonymous:<anonymous_namespace>"`;
//! - `<api>`: the client's API (`openai_chat`, `anthropic_messages`, `openai_responses`,
//!   `openai_embeddings`);
//! - `<model>`, `<provider>`: as routed (after `auto` and aliases; the chain's name for a
//!   fallback chain);
//! - `<request>`: the request object in the client's API as it goes upstream after every
//!   rewrite of the gateway (PII masked, spotlighted, the model routed, the output cap
//!   clamped), before any translation to the provider's API, without
//!   [`IGNORED_FIELDS`];
//!
//! written with object keys sorted by their UTF-8 bytes at every depth, no whitespace,
//! strings escaped as `serde_json` escapes them (`"` `\` and control characters; other
//! characters as they are), numbers as `serde_json` prints them (so `1` and `1.0` differ:
//! failing closed). A change of this form is a new version string.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Tenant;
use crate::api::Api;

/// The version tag that opens the canonical form.
pub const VERSION: &str = "llm-gateway/cache-key/v1";

/// Request fields left out of the key: how the answer travels, never what it says.
/// `stream` (plain and streamed requests share the entry: the stored whole answer is
/// replayed as a stream) and `stream_options` (whether usage comes as a last chunk).
/// Everything else counts, even fields that cannot change the text (`user`,
/// `metadata`, `store`), since Responses echo some of them in the answer.
pub const IGNORED_FIELDS: &[&str] = &["stream", "stream_options"];

/// What the key is computed from.
pub struct KeyParts<'a> {
    pub tenant: &'a Tenant,
    pub api: Api,
    pub model: &'a str,
    pub provider: &'a str,
    pub request: &'a Map<String, Value>,
}

/// The canonical form's bytes.
pub fn canonical(parts: &KeyParts) -> Vec<u8> {
    canonical_as(VERSION, parts)
}

/// The canonical form opened by another version tag (the semantic partition's).
pub(crate) fn canonical_as(version: &str, parts: &KeyParts) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for (i, s) in [
        version,
        &parts.tenant.canonical(),
        parts.api.name(),
        parts.model,
        parts.provider,
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        write_string(&mut out, s);
    }
    out.push(b',');
    let mut fields: Vec<(&String, &Value)> = parts
        .request
        .iter()
        .filter(|(k, _)| !IGNORED_FIELDS.contains(&k.as_str()))
        .collect();
    fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    write_object(&mut out, fields);
    out.push(b']');
    out
}

/// The entry's key: 64 lowercase hex characters.
pub fn key(parts: &KeyParts) -> String {
    hex(&canonical(parts))
}

/// SHA-256 of `bytes` as 64 lowercase hex characters.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    hex
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_object(out: &mut Vec<u8>, fields: Vec<(&String, &Value)>) {
    out.push(b'{');
    for (i, (k, v)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            write_object(out, fields);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(out, s),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
    }
}
