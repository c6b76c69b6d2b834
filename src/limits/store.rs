//! Where counters live: a key -> bytes store with compare-and-swap.
//!
//! The host implements [`CounterStore`] over proxy-wasm shared data (one store per
//! `vm_id`, shared by every worker VM). Across Envoy replicas the counters live in the
//! cache sidecar instead (`limits.store: "sidecar"`, [`super::fleet`]): a callout per
//! request, not a synchronous load/store, so it is not this interface.

use std::cell::RefCell;
use std::collections::HashMap;

/// Result of a compare-and-swap write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Written.
    Stored,
    /// Someone wrote the key since it was loaded; load again and retry.
    Conflict,
    /// The store refused for another reason (e.g. the host's shared data is full).
    Failed,
}

pub trait CounterStore {
    /// Current value and its CAS token; None when the key does not exist.
    fn load(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Write only if the key's CAS token is still `cas`.
    fn store(&self, key: &str, value: &[u8], cas: u32) -> StoreOutcome;
}

/// An in-memory store with proxy-wasm's CAS semantics (every write bumps the token).
/// Used by tests and by anything that needs limits without a host.
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: RefCell<HashMap<String, (Vec<u8>, u32)>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Creates `key` with `value` unless it exists (what the host does at configure time).
    pub fn create(&self, key: &str, value: &[u8]) {
        self.values
            .borrow_mut()
            .entry(key.to_string())
            .or_insert_with(|| (value.to_vec(), 1));
    }

    /// The current value of `key`, without its token.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        self.values.borrow().get(key).map(|(v, _)| v.clone())
    }

    /// Total bytes held, keys included.
    pub fn total_bytes(&self) -> usize {
        self.values
            .borrow()
            .iter()
            .map(|(k, (v, _))| k.len() + v.len())
            .sum()
    }
}

impl CounterStore for MemoryStore {
    fn load(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.values.borrow().get(key).cloned()
    }

    fn store(&self, key: &str, value: &[u8], cas: u32) -> StoreOutcome {
        let mut values = self.values.borrow_mut();
        match values.get_mut(key) {
            Some((v, token)) if *token == cas => {
                *v = value.to_vec();
                *token = token.wrapping_add(1).max(1);
                StoreOutcome::Stored
            }
            Some(_) => StoreOutcome::Conflict,
            None => StoreOutcome::Failed,
        }
    }
}
