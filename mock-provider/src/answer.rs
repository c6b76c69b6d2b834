//! The answer text and how it is cut into streamed chunks.

use llm_gateway::tokens::{count_text, Encoding};
use serde_json::{Map, Value};

use crate::behaviour::Behaviour;

pub const GREETING: &str = "Hello from the mock provider.";

/// The answer: `x-mock-content`, else `x-mock-output-tokens` tokens, else the echo.
pub fn answer_text(
    request: &Map<String, Value>,
    behaviour: &Behaviour,
    encoding: Encoding,
) -> String {
    if let Some(content) = &behaviour.content {
        return content.clone();
    }
    if let Some(n) = behaviour.output_tokens {
        return text_of_tokens(encoding, n);
    }
    echo(request)
}

/// The text of the last `user` message (string content, or its text parts joined), or
/// the greeting when there is none or it has no text.
pub fn echo(request: &Map<String, Value>) -> String {
    let last_user = request
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        });
    let text = match last_user.and_then(|m| m.get("content")) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    if text.is_empty() {
        GREETING.to_string()
    } else {
        text
    }
}

/// `hello hello ...`: exactly `n` tokens under `encoding` (each ` hello` is one token).
pub fn text_of_tokens(encoding: Encoding, n: u64) -> String {
    let mut text = String::with_capacity(n as usize * 6);
    for i in 0..n {
        text.push_str(if i == 0 { "hello" } else { " hello" });
    }
    // Guard against a tokenizer that merges differently: trim or pad until exact.
    let mut count = count_text(encoding, &text);
    while count > n && !text.is_empty() {
        text.truncate(text.rfind(' ').unwrap_or(0));
        count = count_text(encoding, &text);
    }
    while count < n {
        text.push_str(" hello");
        count = count_text(encoding, &text);
    }
    text
}

/// The streamed content chunks: `exactly` chunks even by characters when asked, else
/// about one per word. Concatenated they are the answer.
pub fn chunks(text: &str, exactly: Option<usize>) -> Vec<&str> {
    match exactly {
        Some(n) => split_even(text, n),
        None => split_words(text),
    }
}

/// Splits before each word that follows whitespace, so whitespace leads its word.
pub fn split_words(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    // Where the current run of whitespace began, if inside one.
    let mut run: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            run.get_or_insert(i);
        } else if let Some(run_start) = run.take() {
            if run_start > start && !text[start..run_start].trim().is_empty() {
                parts.push(&text[start..run_start]);
                start = run_start;
            }
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// Exactly `n` chunks whose character counts differ by at most one (one per character
/// when `n` exceeds them; none for empty text).
pub fn split_even(text: &str, n: usize) -> Vec<&str> {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let chars = boundaries.len() - 1;
    let n = n.min(chars);
    if n == 0 {
        return Vec::new();
    }
    let (base, extra) = (chars / n, chars % n);
    let mut parts = Vec::with_capacity(n);
    let mut at = 0;
    for i in 0..n {
        let next = at + base + usize::from(i < extra);
        parts.push(&text[boundaries[at]..boundaries[next]]);
        at = next;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn echoes_the_last_user_message() {
        let request = object(json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "reply"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "later"}
        ]}));
        assert_eq!(echo(&request), "ab");
        assert_eq!(
            echo(&object(
                json!({"messages": [{"role": "system", "content": "x"}]})
            )),
            GREETING
        );
        assert_eq!(echo(&object(json!({}))), GREETING);
    }

    #[test]
    fn content_header_wins_then_tokens_then_echo() {
        let request = object(json!({"messages": [{"role": "user", "content": "echo me"}]}));
        let mut behaviour = Behaviour {
            output_tokens: Some(3),
            ..Behaviour::default()
        };
        assert_eq!(
            answer_text(&request, &behaviour, Encoding::O200kBase),
            "hello hello hello"
        );
        behaviour.content = Some("fixed".into());
        assert_eq!(
            answer_text(&request, &behaviour, Encoding::O200kBase),
            "fixed"
        );
        assert_eq!(
            answer_text(&request, &Behaviour::default(), Encoding::O200kBase),
            "echo me"
        );
    }

    #[test]
    fn token_text_counts_exactly() {
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            for n in [0, 1, 2, 7, 100, 1000] {
                assert_eq!(
                    count_text(encoding, &text_of_tokens(encoding, n)),
                    n,
                    "{encoding:?} {n}"
                );
            }
        }
    }

    #[test]
    fn words_keep_their_leading_whitespace() {
        assert_eq!(
            split_words("Hello big  world\n"),
            ["Hello", " big", "  world\n"]
        );
        assert_eq!(split_words("  lead"), ["  lead"]);
        assert_eq!(split_words("été à  noël"), ["été", " à", "  noël"]);
        assert_eq!(split_words(""), Vec::<&str>::new());
        assert_eq!(split_words("   "), ["   "]);
        for text in ["a b c", " x\ty\n\nz ", "日本語 テキスト 😀 ok"] {
            assert_eq!(split_words(text).concat(), text);
        }
    }

    #[test]
    fn even_split_by_characters() {
        assert_eq!(split_even("abcdefg", 3), ["abc", "de", "fg"]);
        assert_eq!(split_even("ab", 5), ["a", "b"]);
        assert_eq!(split_even("😀é日x", 2), ["😀é", "日x"]);
        assert_eq!(split_even("", 3), Vec::<&str>::new());
        assert_eq!(split_even("abc", 1), ["abc"]);
        assert_eq!(chunks("a b", None), ["a", " b"]);
        assert_eq!(chunks("a b", Some(3)), ["a", " ", "b"]);
    }
}
