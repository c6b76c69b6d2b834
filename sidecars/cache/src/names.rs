//! What the contract accepts as a name: cache namespaces and keys, counter keys and
//! reservation ids. Everything else is refused with 400 before a store sees it.

/// Longest cache namespace or key, in bytes.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest counter key, in bytes.
pub const MAX_COUNTER_KEY_BYTES: usize = 512;

/// A cache namespace or key: 1-128 of `[A-Za-z0-9_.:-]` (the module sends a tenant
/// namespace and a 64-hex SHA-256 key). No `/`: the stores join names with it.
pub fn valid_name(s: &str) -> bool {
    (1..=MAX_NAME_BYTES).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// A counter key: 1-512 bytes of visible ASCII (`!`..=`~`), so the module's entry keys
/// (`rule/req/scope`, `$budget/day/consumer`) pass as they are.
pub fn valid_counter_key(s: &str) -> bool {
    (1..=MAX_COUNTER_KEY_BYTES).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// A reservation or lease id as [`crate::ids::new_id`] makes them: 32 lowercase hex.
pub fn valid_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("tenant-1"));
        assert!(valid_name(&"a".repeat(128)));
        assert!(valid_name("a.b:c_d-E9"));
        for bad in ["", "a/b", "a b", "é", "a%2Fb", "a\0", &"a".repeat(129)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_counter_key("$budget/day/consumer-1"));
        assert!(!valid_counter_key("a b"));
        assert!(!valid_counter_key(&"a".repeat(513)));
        assert!(valid_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_id("00"));
    }
}
