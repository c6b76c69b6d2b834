//! Input tokens of an Anthropic messages request: an estimate.
//!
//! Anthropic's tokenizer is not public, so this counts the text of the system prompt,
//! messages and tool definitions with `o200k_base`, plus OpenAI-style per-message
//! overheads. Providers' reported usage, when present, replaces it for billing.

use serde_json::{Map, Value};

use super::{count_text, image, Encoding};

const ENCODING: Encoding = Encoding::O200kBase;

pub fn count_anthropic_messages(request: &Map<String, Value>) -> u64 {
    let mut total = 0u64;
    if let Some(system) = request.get("system") {
        total += 3 + content_tokens(system);
    }
    if let Some(Value::Array(messages)) = request.get("messages") {
        for m in messages {
            total += 3;
            if let Some(role) = m.get("role").and_then(Value::as_str) {
                total += count_text(ENCODING, role);
            }
            if let Some(content) = m.get("content") {
                total += content_tokens(content);
            }
        }
    }
    if let Some(Value::Array(tools)) = request.get("tools") {
        for t in tools {
            total += 7 + count_text(ENCODING, &t.to_string());
        }
    }
    total + 3
}

fn content_tokens(content: &Value) -> u64 {
    match content {
        Value::String(s) => count_text(ENCODING, s),
        // Images by their dimensions (Anthropic's method), never their data.
        Value::Array(blocks) => blocks
            .iter()
            .map(
                |b| match (b.get("text"), b.get("input"), b.get("content")) {
                    (Some(Value::String(t)), _, _) => count_text(ENCODING, t),
                    (_, Some(input), _) => count_text(ENCODING, &input.to_string()),
                    (_, _, Some(inner)) => content_tokens(inner),
                    _ if b.get("type").and_then(Value::as_str) == Some("image") => {
                        image::anthropic_block(b).tokens
                    }
                    _ => 0,
                },
            )
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn system_and_messages_are_counted() {
        let short = json!({"messages": [{"role": "user", "content": "hi"}]});
        let long = json!({"system": "be brief", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there, how are you?"}]}]});
        let a = count_anthropic_messages(short.as_object().unwrap());
        let b = count_anthropic_messages(long.as_object().unwrap());
        assert!(a >= 7 && b > a, "{a} {b}");
    }
}
