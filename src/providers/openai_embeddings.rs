//! OpenAI embeddings (`POST /v1/embeddings`): request validation and the answer's usage.
//!
//! The request: `model`, `input` (a string, an array of strings, an array of token ids,
//! or an array of token-id arrays; at most [`MAX_INPUTS`] items, none empty), optional
//! `encoding_format` (`float` or `base64`), `dimensions` and `user`. The answer is a
//! `list` of `embedding` objects and `usage: {prompt_tokens, total_tokens}`: input only,
//! nothing is generated.

use serde_json::{Map, Value};

use super::fields::{invalid, not_one_of, required_model, u64_at, unsupported};
use super::{ProviderUsage, RequestSummary, ResponsePiece};
use crate::errors::UserError;

/// Most items in one request's `input` array (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

const INPUT_RULE: &str =
    "is required and must be a string, an array of strings, an array of token ids or an array of token-id arrays";
const INPUT_RULE_ITEM: &str = "must be a string, a token id or an array of token ids";

pub fn validate_request(req: &Map<String, Value>) -> Result<RequestSummary, UserError> {
    let model = required_model(req)?;
    match req.get("input") {
        Some(Value::String(s)) if s.is_empty() => {
            return Err(unsupported("input", "must not be an empty string"))
        }
        Some(Value::String(_)) => {}
        Some(Value::Array(items)) => validate_items(items)?,
        other => return Err(invalid("input", INPUT_RULE, other)),
    }
    match req.get("encoding_format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "float" || f == "base64" => {}
        Some(Value::String(f)) => return Err(not_one_of("encoding_format", "float, base64", f)),
        other => return Err(invalid("encoding_format", "must be a string", other)),
    }
    match req.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
        other => return Err(invalid("dimensions", "must be a positive integer", other)),
    }
    match req.get("user") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        other => return Err(invalid("user", "must be a string", other)),
    }
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(unsupported(
            "stream",
            "is not supported by the embeddings API (the answer comes whole)",
        ));
    }
    Ok(RequestSummary {
        // An embedding has no output to cap.
        max_output_field: "max_tokens",
        model,
        stream: false,
        client_wants_stream_usage: false,
        max_output_tokens: None,
    })
}

/// An `input` array: items all of one kind (the first item's), none empty.
fn validate_items(items: &[Value]) -> Result<(), UserError> {
    if items.is_empty() {
        return Err(unsupported("input", "must not be an empty array"));
    }
    if items.len() > MAX_INPUTS {
        return Err(unsupported(
            "input",
            &format!(
                "has {} items; at most {MAX_INPUTS} are allowed per request",
                items.len()
            ),
        ));
    }
    let kind = match &items[0] {
        Value::String(_) => "a string",
        Value::Number(_) => "a token id (a non-negative integer)",
        Value::Array(_) => "an array of token ids",
        other => return Err(invalid("input[0]", INPUT_RULE_ITEM, Some(other))),
    };
    for (i, item) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        match (kind, item) {
            ("a string", Value::String(s)) if s.is_empty() => {
                return Err(unsupported(&at, "must not be an empty string"))
            }
            ("a string", Value::String(_)) => {}
            ("a token id (a non-negative integer)", v) if is_token_id(v) => {}
            ("an array of token ids", Value::Array(ids)) => {
                if ids.is_empty() {
                    return Err(unsupported(&at, "must not be an empty array"));
                }
                if let Some(j) = ids.iter().position(|id| !is_token_id(id)) {
                    return Err(invalid(
                        &format!("{at}[{j}]"),
                        "must be a token id (a non-negative integer)",
                        Some(&ids[j]),
                    ));
                }
            }
            _ => {
                let rule = format!("must be {kind}, as `input[0]` is");
                return Err(invalid(&at, &rule, Some(item)));
            }
        }
    }
    Ok(())
}

fn is_token_id(v: &Value) -> bool {
    v.as_u64().is_some_and(|n| n <= u64::from(u32::MAX))
}

/// The usage and model of a whole embeddings answer. Nothing is generated, so a reported
/// `prompt_tokens` comes with zero output tokens.
pub fn read_response(body: &Value) -> ResponsePiece {
    ResponsePiece::of(body, |u| {
        let input = u64_at(u, "prompt_tokens")?;
        Some(ProviderUsage {
            input: Some(input),
            output: Some(0),
            cached_input: 0,
            cache_write: 0,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::parse_object;
    use serde_json::json;

    fn check(body: Value) -> Result<RequestSummary, (String, Option<String>)> {
        let req = parse_object(body.to_string().as_bytes()).map_err(|e| (e.message(), None))?;
        validate_request(&req).map_err(|e| match e {
            UserError::InvalidRequest { message, param } => (message, param),
            other => (other.message(), None),
        })
    }

    fn message(body: Value) -> String {
        check(body).unwrap_err().0
    }

    #[test]
    fn accepts_every_input_shape() {
        for input in [
            json!("hello"),
            json!(["hello", "world"]),
            json!([15339, 1917]),
            json!([[15339], [1917, 0]]),
        ] {
            let s = check(json!({"model": "text-embedding-3-small", "input": input,
                                 "encoding_format": "base64", "dimensions": 256, "user": "u1"}))
            .unwrap();
            assert_eq!(
                s,
                RequestSummary {
                    max_output_field: "max_tokens",
                    model: "text-embedding-3-small".into(),
                    stream: false,
                    client_wants_stream_usage: false,
                    max_output_tokens: None,
                }
            );
        }
    }

    #[test]
    fn refuses_bad_input_naming_the_field() {
        let m = "text-embedding-3-small";
        assert_eq!(
            check(json!({"model": m})).unwrap_err(),
            (
                format!("`input` {INPUT_RULE} (got nothing)"),
                Some("input".into())
            )
        );
        assert_eq!(
            check(json!({"model": m, "input": ["a", ""]})).unwrap_err(),
            (
                "`input[1]` must not be an empty string".into(),
                Some("input[1]".into())
            )
        );
        let many = vec![json!("x"); MAX_INPUTS + 1];
        let input_rule = format!("`input` {INPUT_RULE} (got object)");
        let cases = [
            (json!({"input": "x"}), "`model` is required and must be a string (got nothing)"),
            (json!({"model": m, "input": {"text": "x"}}), &input_rule),
            (json!({"model": m, "input": ""}), "`input` must not be an empty string"),
            (json!({"model": m, "input": []}), "`input` must not be an empty array"),
            (json!({"model": m, "input": ["a", 7]}), "`input[1]` must be a string, as `input[0]` is (got number)"),
            (json!({"model": m, "input": [1, -2]}), "`input[1]` must be a token id (a non-negative integer), as `input[0]` is (got number)"),
            (json!({"model": m, "input": [[1, 2], [3, "x"]]}), "`input[1][1]` must be a token id (a non-negative integer) (got string)"),
            (json!({"model": m, "input": [[1], []]}), "`input[1]` must not be an empty array"),
            (json!({"model": m, "input": [null]}), "`input[0]` must be a string, a token id or an array of token ids (got null)"),
            (json!({"model": m, "input": many}), "`input` has 2049 items; at most 2048 are allowed per request"),
            (json!({"model": m, "input": "x", "encoding_format": "int8"}), "`encoding_format` must be one of float, base64 (got \"int8\")"),
            (json!({"model": m, "input": "x", "dimensions": 0}), "`dimensions` must be a positive integer (got number)"),
            (json!({"model": m, "input": "x", "dimensions": "256"}), "`dimensions` must be a positive integer (got string)"),
            (json!({"model": m, "input": "x", "user": 5}), "`user` must be a string (got number)"),
            (json!({"model": m, "input": "x", "stream": true}), "`stream` is not supported by the embeddings API (the answer comes whole)"),
        ];
        for (body, expected) in cases {
            assert_eq!(message(body.clone()), expected, "{body}");
        }
    }

    #[test]
    fn reads_the_input_usage_with_zero_output() {
        let body = json!({"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
            "usage": {"prompt_tokens": 8, "total_tokens": 8}});
        let p = read_response(&body);
        assert_eq!(
            p.usage,
            Some(ProviderUsage {
                input: Some(8),
                output: Some(0),
                cached_input: 0,
                cache_write: 0
            })
        );
        assert_eq!(p.model.as_deref(), Some("text-embedding-3-small"));
        assert_eq!(p.text, "");
        assert_eq!(read_response(&json!({"data": []})).usage, None);
        assert_eq!(read_response(&json!({"usage": {}})).usage, None);
    }
}
