//! The per-request map between original values and their placeholders.
//!
//! Masked values get `[LABEL_N]`, numbered per label in order of first appearance
//! (`[EMAIL_1]`, `[EMAIL_2]`, `[PHONE_1]`); the same value always gets the same
//! placeholder within a request, across all of its messages. Hashed values get
//! `[LABEL:xxxxxxxx]`, the first 8 hex digits of SHA-256(salt, label, value): stable
//! across requests and gateways sharing the salt, so logs and caches can correlate
//! values without seeing them. Without a salt a hash of a low-entropy value (a phone
//! number, an SSN) can be reversed by trying every candidate: configure `hash_salt`.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::Action;

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    /// False for values the output guard masked (model-generated): never restored.
    restorable: bool,
}

/// Values and placeholders of one request.
#[derive(Debug, Clone, Default)]
pub struct PiiVault {
    by_value: HashMap<(String, String), String>,
    by_placeholder: HashMap<String, Entry>,
    counters: HashMap<String, u32>,
}

impl PiiVault {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct values held.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }

    /// The placeholder for `value` of entity `label`, allocating one on first sight.
    pub(super) fn placeholder(
        &mut self,
        label: &str,
        value: &str,
        action: Action,
        salt: &str,
        restorable: bool,
    ) -> String {
        let key = (label.to_string(), value.to_string());
        if let Some(p) = self.by_value.get(&key) {
            return p.clone();
        }
        let p = if action == Action::Hash {
            let digest = Sha256::new()
                .chain_update(salt.as_bytes())
                .chain_update([0])
                .chain_update(label.as_bytes())
                .chain_update([0])
                .chain_update(value.as_bytes())
                .finalize();
            // 8 hex digits; 16 in the (one in four billion) case of a collision.
            let short = format!("[{label}:{}]", hex(&digest[..4]));
            if self.by_placeholder.contains_key(&short) {
                format!("[{label}:{}]", hex(&digest[..8]))
            } else {
                short
            }
        } else {
            let n = self.counters.entry(label.to_string()).or_insert(0);
            *n += 1;
            format!("[{label}_{n}]")
        };
        self.by_value.insert(key, p.clone());
        self.by_placeholder.insert(
            p.clone(),
            Entry {
                value: value.to_string(),
                restorable,
            },
        );
        p
    }

    /// The original value behind a placeholder the request produced (`[EMAIL_1]`).
    pub fn original(&self, placeholder: &str) -> Option<&str> {
        self.by_placeholder
            .get(placeholder)
            .filter(|e| e.restorable)
            .map(|e| e.value.as_str())
    }

    /// Whether `value` is one of the request's own (restorable) values.
    pub(super) fn holds_value(&self, label: &str, value: &str) -> bool {
        self.by_value
            .get(&(label.to_string(), value.to_string()))
            .and_then(|p| self.by_placeholder.get(p))
            .is_some_and(|e| e.restorable)
    }

    /// `(placeholder, original)` pairs that can be restored, e.g. for a log-free audit.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_placeholder
            .iter()
            .filter(|(_, e)| e.restorable)
            .map(|(p, e)| (p.as_str(), e.value.as_str()))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Longest placeholder, in bytes (`[` + label + `:` + 16 hex + `]`).
pub(super) const MAX_PLACEHOLDER: usize = 64;

fn is_placeholder_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b':' | b'a'..=b'f')
}

/// Ranges of well-formed placeholders (`[A-Z0-9_]+(_N|:hex)]`) in `text`; the caller
/// looks them up in the vault. Linear: each `[` scans until the next non-placeholder byte.
pub(super) fn find_placeholders(text: &[u8], out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while let Some(off) = text[i..].iter().position(|&b| b == b'[') {
        let s = i + off;
        let mut e = s + 1;
        while e < text.len() && e - s < MAX_PLACEHOLDER && is_placeholder_byte(text[e]) {
            e += 1;
        }
        if e < text.len() && text[e] == b']' && e > s + 1 {
            out.push((s, e + 1));
            i = e + 1;
        } else {
            i = e.max(s + 1);
        }
    }
}
