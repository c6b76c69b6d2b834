//! Input tokens of an OpenAI embeddings request: every input string encoded with the
//! model's encoding (`cl100k_base` for `text-embedding-3-*` and `text-embedding-ada-002`),
//! token-id inputs counted by their length. Embeddings add no per-input overhead: this is
//! what OpenAI bills as `usage.prompt_tokens`.

use serde_json::{Map, Value};

use super::{count_text, encoding_for_model};

/// The input tokens of an embeddings request (`input`: a string, strings, token ids or
/// token-id arrays). Values of another shape count nothing: validation refuses them.
pub fn count_embedding_input(model: &str, request: &Map<String, Value>) -> u64 {
    let (encoding, _) = encoding_for_model(model);
    let item = |v: &Value| match v {
        Value::String(s) => count_text(encoding, s),
        Value::Array(ids) => ids.len() as u64,
        Value::Number(_) => 1,
        _ => 0,
    };
    match request.get("input") {
        Some(Value::String(s)) => count_text(encoding, s),
        Some(Value::Array(items)) => items.iter().map(item).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::{Accuracy, Encoding};
    use serde_json::json;

    fn count(model: &str, input: Value) -> u64 {
        count_embedding_input(
            model,
            json!({"model": model, "input": input}).as_object().unwrap(),
        )
    }

    #[test]
    fn embedding_models_count_with_cl100k_exactly() {
        for m in [
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
        ] {
            assert_eq!(
                encoding_for_model(m),
                (Encoding::Cl100kBase, Accuracy::Exact),
                "{m}"
            );
        }
        // tiktoken cl100k_base: "hello world" is 2 tokens, "tiktoken is great!" 6.
        assert_eq!(count("text-embedding-3-small", json!("hello world")), 2);
        assert_eq!(
            count(
                "text-embedding-3-small",
                json!(["hello world", "tiktoken is great!"])
            ),
            8
        );
    }

    #[test]
    fn token_ids_count_by_their_length() {
        assert_eq!(count("text-embedding-3-small", json!([15339, 1917])), 2);
        assert_eq!(
            count("text-embedding-3-small", json!([[15339, 1917], [1, 2, 3]])),
            5
        );
        assert_eq!(count("text-embedding-3-small", json!(null)), 0);
    }
}
