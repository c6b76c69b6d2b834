//! Reservation and lease ids: 128 bits, unique within a process (a sequence number) and
//! across processes with overwhelming probability (SipHash under the process's random
//! `RandomState` keys), so two sidecars in front of one Redis never collide.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A fresh id: 32 lowercase hex digits.
pub fn new_id() -> String {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let hi = keys.hash_one((n, 0u8));
    let lo = keys.hash_one((n, 1u8));
    format!("{hi:016x}{lo:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_well_formed() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| crate::names::valid_id(id)));
    }
}
