//! OpenAI embeddings (`POST /v1/embeddings`): a deterministic vector per input.
//!
//! Each input is cut into words (lower-cased runs of letters and digits; token-id inputs:
//! each id is a word), every word adds a pseudo-random vector seeded by its FNV-1a hash,
//! and the sum is scaled to unit length, as OpenAI's embeddings are. The same text gives
//! the same vector on every run, and texts that share words point the same way (a real
//! cosine signal for tests of a semantic index). Dimensions: the request's `dimensions`,
//! else 3072 for `*-3-large` and 1536 for any other model. `encoding_format: "base64"`
//! sends each vector as the base64 of its little-endian `f32`s (what the official SDKs
//! ask for by default); `float` (or none) as a JSON array of the same `f32`s.

use llm_gateway::tokens::base64::encode;
use llm_gateway::tokens::count_embedding_input;
use serde_json::{Map, Value};

use crate::faults::draw;

/// Most dimensions the mock will produce.
pub const MAX_DIMENSIONS: u64 = 8192;

/// What an embeddings request asks for, read leniently (the gateway validates).
#[derive(Debug, PartialEq)]
pub struct EmbeddingRequest {
    /// One entry per embedding to return: its words.
    pub inputs: Vec<Vec<String>>,
    pub dimensions: usize,
    pub base64: bool,
}

/// Reads the request; the error is the message of a 400.
pub fn read_request(request: &Map<String, Value>) -> Result<EmbeddingRequest, String> {
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    let inputs = match request.get("input") {
        Some(Value::String(s)) => vec![words(s)],
        Some(Value::Array(items)) if items.iter().all(Value::is_u64) && !items.is_empty() => {
            vec![token_words(items)]
        }
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(words(s)),
                Value::Array(ids) => Ok(token_words(ids)),
                _ => Err("input: each item must be a string or an array of token ids".to_string()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("input: field required (a string or a non-empty array)".into()),
    };
    let dimensions = match request.get("dimensions") {
        None | Some(Value::Null) if model.contains("-3-large") => 3072,
        None | Some(Value::Null) => 1536,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_DIMENSIONS).contains(&n) => n as usize,
            _ => return Err(format!("dimensions must be 1..={MAX_DIMENSIONS} (got {v})")),
        },
    };
    let base64 = match request.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(other) => {
            return Err(format!(
                "encoding_format must be float or base64 (got {other})"
            ))
        }
    };
    Ok(EmbeddingRequest {
        inputs,
        dimensions,
        base64,
    })
}

fn words(text: &str) -> Vec<String> {
    let found: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if found.is_empty() {
        vec![text.to_string()]
    } else {
        found
    }
}

fn token_words(ids: &[Value]) -> Vec<String> {
    ids.iter().map(|id| format!("#{id}")).collect()
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The unit vector of one input's words.
pub fn vector(words: &[String], dimensions: usize) -> Vec<f32> {
    let mut sum = vec![0f64; dimensions];
    for word in words {
        let seed = fnv1a(word);
        for (d, x) in sum.iter_mut().enumerate() {
            *x += 2.0 * draw(seed, d as u64) - 1.0;
        }
    }
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    sum.iter()
        .map(|x| if norm > 0.0 { (x / norm) as f32 } else { 0.0 })
        .collect()
}

/// The `list` answer, with usage unless `omit_usage`. Built as text so the JSON floats
/// are the `f32`s themselves (shortest form), equal to what base64 carries.
pub fn body(request: &Map<String, Value>, omit_usage: bool) -> Result<String, String> {
    let asked = read_request(request)?;
    let model = request.get("model").and_then(Value::as_str).unwrap_or("");
    let data: Vec<String> = asked
        .inputs
        .iter()
        .enumerate()
        .map(|(index, words)| {
            let v = vector(words, asked.dimensions);
            let embedding = if asked.base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                format!("\"{}\"", encode(&bytes))
            } else {
                let floats: Vec<String> = v.iter().map(f32::to_string).collect();
                format!("[{}]", floats.join(","))
            };
            format!(r#"{{"object":"embedding","index":{index},"embedding":{embedding}}}"#)
        })
        .collect();
    let usage = if omit_usage {
        String::new()
    } else {
        let n = count_embedding_input(model, request);
        format!(r#","usage":{{"prompt_tokens":{n},"total_tokens":{n}}}"#)
    };
    Ok(format!(
        r#"{{"object":"list","data":[{}],"model":{}{usage}}}"#,
        data.join(","),
        Value::from(model)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::decode_base64;
    use serde_json::json;

    fn answer(request: Value) -> Value {
        serde_json::from_str(&body(request.as_object().unwrap(), false).unwrap()).unwrap()
    }

    fn floats(v: &Value) -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_deterministic_unit_and_similar_for_shared_words() {
        let a = answer(json!({"model": "text-embedding-3-small",
            "input": ["the cat sat on the mat", "The cat sat on the mat!", "quantum flux capacitor"]}));
        assert_eq!(a["object"], "list");
        assert_eq!(a["model"], "text-embedding-3-small");
        let v: Vec<Vec<f32>> = (0..3).map(|i| floats(&a["data"][i]["embedding"])).collect();
        assert_eq!(a["data"][2]["index"], 2);
        assert_eq!(v[0].len(), 1536);
        assert!((cosine(&v[0], &v[0]) - 1.0).abs() < 1e-5);
        assert_eq!(v[0], v[1], "case and punctuation do not change the words");
        assert!(cosine(&v[0], &v[2]).abs() < 0.2, "unrelated texts");
        let b = answer(json!({"model": "text-embedding-3-small", "input": ["the cat sat"]}));
        assert!(cosine(&v[0], &floats(&b["data"][0]["embedding"])) > 0.5);
        let again = answer(json!({"model": "text-embedding-3-small",
            "input": ["the cat sat on the mat", "x", "y"]}));
        assert_eq!(floats(&again["data"][0]["embedding"]), v[0]);
    }

    #[test]
    fn usage_is_the_gateways_count() {
        let request = json!({"model": "text-embedding-3-small", "input": ["hello world", "tiktoken is great!"]});
        assert_eq!(
            answer(request)["usage"],
            json!({"prompt_tokens": 8, "total_tokens": 8})
        );
        let ids = json!({"model": "text-embedding-3-small", "input": [15339, 1917]});
        let a = answer(ids);
        assert_eq!(a["data"].as_array().unwrap().len(), 1, "one token-id input");
        assert_eq!(a["usage"]["prompt_tokens"], 2);
        let omitted: Value = serde_json::from_str(
            &body(
                json!({"model": "m", "input": "x"}).as_object().unwrap(),
                true,
            )
            .unwrap(),
        )
        .unwrap();
        assert!(omitted.get("usage").is_none());
    }

    #[test]
    fn dimensions_and_base64_follow_the_request() {
        let large = answer(json!({"model": "text-embedding-3-large", "input": "hi"}));
        assert_eq!(
            large["data"][0]["embedding"].as_array().unwrap().len(),
            3072
        );
        let request =
            json!({"model": "text-embedding-3-small", "input": [[1, 2], [3]], "dimensions": 8});
        let plain = answer(request.clone());
        let mut b64_request = request;
        b64_request["encoding_format"] = json!("base64");
        let b64 = answer(b64_request);
        for i in 0..2 {
            let text = b64["data"][i]["embedding"].as_str().unwrap();
            assert_eq!(text.len(), 44, "8 f32 = 32 bytes");
            let bytes = decode_base64(text).unwrap();
            let decoded: Vec<f32> = bytes
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            assert_eq!(decoded, floats(&plain["data"][i]["embedding"]));
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let err = |v: Value| body(v.as_object().unwrap(), false).unwrap_err();
        assert!(err(json!({"model": "m"})).starts_with("input: field required"));
        assert!(err(json!({"model": "m", "input": [{}]})).contains("each item"));
        assert!(err(json!({"model": "m", "input": "x", "dimensions": 0})).contains("dimensions"));
        assert!(
            err(json!({"model": "m", "input": "x", "encoding_format": "int8"}))
                .contains("encoding_format")
        );
    }
}
