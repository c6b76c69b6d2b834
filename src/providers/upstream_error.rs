//! The message for an upstream error body that is not the provider's error envelope (an
//! HTML page from a proxy, Envoy's own "upstream connect error"), for either translation.

/// Longest upstream text quoted (an HTML page from a proxy can be large; its start says
/// enough).
const QUOTE_LIMIT: usize = 200;

/// "The upstream provider returned HTTP <status>", with the start of `body` quoted.
pub(crate) fn message(status: u32, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut quoted: String = text.chars().take(QUOTE_LIMIT).collect();
    if quoted.len() < text.len() {
        quoted.push_str("...");
    }
    if quoted.is_empty() {
        format!("The upstream provider returned HTTP {status} with an empty body")
    } else {
        format!("The upstream provider returned HTTP {status}: {quoted}")
    }
}
