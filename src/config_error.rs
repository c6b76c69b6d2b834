//! The configuration error every section's compile step returns, and the name rule that
//! several sections share. A leaf: the stages import it, it imports nothing of theirs.

/// A configuration error, worded as the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid llm-gateway config: {}", self.0)
    }
}

/// A name that can travel in a header and a metric name: 1-64 of `[A-Za-z0-9_-]`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
