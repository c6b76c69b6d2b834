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

/// The section `name` of a configuration document, deserialized alone: a section's tests
/// write whole documents (`{"route": {...}}`) yet need neither the hub nor the other
/// sections.
#[cfg(test)]
pub(crate) fn section<T: serde::de::DeserializeOwned>(
    json: &[u8],
    name: &str,
) -> Result<T, ConfigError> {
    let mut doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| ConfigError(e.to_string()))?;
    let value = doc
        .remove(name)
        .ok_or_else(|| ConfigError(format!("the document has no {name} section")))?;
    serde_json::from_value(value).map_err(|e| ConfigError(e.to_string()))
}
