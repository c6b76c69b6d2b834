//! The semantic tier of the cache: after an exact miss, the last user turn is compared
//! with earlier ones in the semantic-index sidecar (sidecars/semantic/README.md), inside
//! a partition that holds everything else of the request; a verified neighbour's
//! payload names the exact entry that answered it.
//!
//! - **Namespace**: the tenant's, as for exact entries ([`Tenant::namespace`]): a hit
//!   never crosses tenants, and purging a tenant's namespace in both sidecars forgets it.
//! - **Partition**: SHA-256 (hex) of the canonical form of [`super::key`] opened by
//!   [`PARTITION_VERSION`], over the request with the last turn's text taken out (its
//!   `content` written `null`): the model and provider as routed, the API, the system
//!   prompt, tools, `tool_choice`, `response_format`, every generation parameter and
//!   every earlier turn separate partitions, failing closed as the key does.
//! - **Compared text**: the last turn's text as it goes upstream (after PII masking and
//!   spotlighting), when the last message is a user turn of text only (a string, or
//!   parts / blocks that are all text). Otherwise there is no semantic lookup: a tool
//!   result, an assistant prefill, an image or a document is not compared by meaning.
//! - **Payload**: `{"key": <exact key>}`. A hit reads that exact entry from the cache
//!   sidecar (a second call): the answer is stored once, its TTL and `max-age` apply to
//!   semantic hits as to exact ones, and a purged or expired entry is a miss, never a
//!   stale answer. The index entry's id is the exact key too, so asking the same
//!   question again replaces its index entry.
//!
//! Chat Completions and Anthropic Messages are compared; Responses (whose `input` and
//! `previous_response_id` hold the context in other shapes) and embeddings are not.

use serde_json::{json, Map, Value};

use super::key::{self, KeyParts, IGNORED_FIELDS};
use super::Tenant;
use crate::api::Api;

/// The version tag that opens the partition's canonical form.
pub const PARTITION_VERSION: &str = "llm-gateway/semantic-partition/v1";

/// The sidecar's largest `ttl_s` by default (its `--max-ttl`): an index entry lives at
/// most this long, even when the exact entry lives longer (a later ask is then a miss).
pub const MAX_INDEX_TTL_S: u64 = 86_400;

/// What the tier compares for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// SHA-256 hex of the partition's canonical form.
    pub partition: String,
    /// The last user turn's text.
    pub text: String,
}

/// The question of a request, or `None` when it has no semantic shape (see the module
/// doc) or its text is longer than `max_text_bytes`.
pub fn question(
    tenant: &Tenant,
    api: Api,
    model: &str,
    provider: &str,
    request: &Map<String, Value>,
    max_text_bytes: usize,
) -> Option<Question> {
    if !matches!(api, Api::OpenAiChat | Api::AnthropicMessages) {
        return None;
    }
    let messages = request.get("messages")?.as_array()?;
    let last = messages.last()?.as_object()?;
    if last.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    let text = text_of(last.get("content")?)?;
    if text.trim().is_empty() || text.len() > max_text_bytes {
        return None;
    }
    let mut rest = request.clone();
    rest.retain(|k, _| !IGNORED_FIELDS.contains(&k.as_str()));
    if let Some(Value::Array(m)) = rest.get_mut("messages") {
        if let Some(Value::Object(turn)) = m.last_mut() {
            turn.insert("content".into(), Value::Null);
        }
    }
    let canonical = key::canonical_as(
        PARTITION_VERSION,
        &KeyParts {
            tenant,
            api,
            model,
            provider,
            request: &rest,
        },
    );
    Some(Question {
        partition: key::hex(&canonical),
        text,
    })
}

/// A turn's text: a string, or parts (OpenAI `{"type":"text","text":..}`, Anthropic text
/// blocks, the same shape) that are all text, joined by a newline.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) if !parts.is_empty() => {
            let mut out = String::new();
            for part in parts {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return None;
                }
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(part.get("text")?.as_str()?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// `POST /v1/ns/{ns}/query`.
pub fn query_path(namespace: &str) -> String {
    format!("/v1/ns/{namespace}/query")
}

/// `POST /v1/ns/{ns}/upsert`.
pub fn upsert_path(namespace: &str) -> String {
    format!("/v1/ns/{namespace}/upsert")
}

/// The query's body: the `k` nearest in the partition, verified; `threshold` absent
/// leaves the sidecar's own (`--threshold`).
pub fn query_body(q: &Question, k: usize, threshold: Option<f64>) -> Vec<u8> {
    let mut body = json!({"partition": q.partition, "text": q.text, "k": k, "verify": true});
    if let Some(t) = threshold {
        body["threshold"] = json!(t);
    }
    body.to_string().into_bytes()
}

/// The upsert's body: the question under the exact entry's key.
pub fn upsert_body(q: &Question, exact_key: &str, ttl_s: u64) -> Vec<u8> {
    json!({
        "id": exact_key,
        "partition": q.partition,
        "text": q.text,
        "payload": {"key": exact_key},
        "ttl_s": ttl_s.min(MAX_INDEX_TTL_S),
    })
    .to_string()
    .into_bytes()
}

/// A verified neighbour: the exact entry's key, the index entry's id, the similarity.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub key: String,
    pub id: String,
    pub similarity: f64,
}

/// The first neighbour with `verified: true` whose payload names an exact key (64
/// lowercase hex: nothing else goes into a cache path). `Err` when the answer is not
/// the sidecar's query answer.
pub fn first_verified(body: &[u8]) -> Result<Option<Match>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let neighbours = v
        .get("neighbours")
        .and_then(Value::as_array)
        .ok_or("no neighbours array")?;
    for n in neighbours {
        if n.get("verified").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let key = n.pointer("/payload/key").and_then(Value::as_str);
        let Some(key) = key.filter(|k| is_key(k)) else {
            continue;
        };
        return Ok(Some(Match {
            key: key.to_string(),
            id: n
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(key)
                .to_string(),
            similarity: n.get("score").and_then(Value::as_f64).unwrap_or(0.0),
        }));
    }
    Ok(None)
}

fn is_key(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn chat() -> Map<String, Value> {
        object(json!({
            "model": "gpt-4o", "temperature": 0,
            "messages": [
                {"role": "system", "content": "You answer airline questions."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How can I help?"},
                {"role": "user", "content": "How many bags can I check in?"}
            ]
        }))
    }

    fn q(tenant: &Tenant, model: &str, r: &Map<String, Value>) -> Option<Question> {
        question(tenant, Api::OpenAiChat, model, "openai", r, 4096)
    }

    #[test]
    fn the_partition_separates_all_but_the_last_turns_text() {
        let alice = Tenant::Consumer("alice".into());
        let base = q(&alice, "gpt-4o", &chat()).unwrap();
        assert_eq!(base.text, "How many bags can I check in?");
        assert_eq!(base.partition.len(), 64);
        let edited = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut r = chat();
            edit(&mut r);
            q(&alice, "gpt-4o", &r).unwrap()
        };
        // The last turn's text and how the answer travels do not change the partition.
        let reworded = edited(&|r| r["messages"][3]["content"] = json!("Bag allowance?"));
        assert_eq!(reworded.partition, base.partition);
        assert_eq!(reworded.text, "Bag allowance?");
        let streamed = edited(&|r| {
            r.insert("stream".into(), json!(true));
        });
        assert_eq!(streamed, base);
        // Everything else does.
        let others = [
            q(&Tenant::Consumer("bob".into()), "gpt-4o", &chat()).unwrap(),
            q(&Tenant::Anonymous("alice".into()), "gpt-4o", &chat()).unwrap(),
            q(&alice, "gpt-4o-mini", &chat()).unwrap(),
            question(&alice, Api::OpenAiChat, "gpt-4o", "mock", &chat(), 4096).unwrap(),
            edited(&|r| r["messages"][0]["content"] = json!("You answer rail questions.")),
            edited(&|r| r["messages"][1]["content"] = json!("Hello")),
            edited(&|r| r["messages"][2]["content"] = json!("Hi! What do you need?")),
            edited(&|r| {
                r["messages"].as_array_mut().unwrap().remove(1);
            }),
            edited(&|r| {
                r.insert("temperature".into(), json!(0.5));
            }),
            edited(&|r| {
                r.insert("tools".into(), json!([{"type": "function"}]));
            }),
            edited(&|r| {
                r.insert("response_format".into(), json!({"type": "json_object"}));
            }),
            edited(&|r| {
                r.insert("tool_choice".into(), json!("none"));
            }),
            edited(&|r| r["messages"][3]["name"] = json!("al")),
        ];
        for (i, o) in others.iter().enumerate() {
            assert_ne!(o.partition, base.partition, "change {i}");
            assert_eq!(o.text, base.text, "change {i}");
        }
        let anthropic = question(
            &alice,
            Api::AnthropicMessages,
            "gpt-4o",
            "openai",
            &chat(),
            4096,
        )
        .unwrap();
        assert_ne!(anthropic.partition, base.partition, "the API");
    }

    #[test]
    fn only_a_last_user_turn_of_text_is_compared() {
        let t = Tenant::Anonymous("anonymous".into());
        let with_last = |turn: Value| {
            let mut r = chat();
            r["messages"].as_array_mut().unwrap().push(turn);
            q(&t, "m", &r)
        };
        let parts = json!({"role": "user", "content": [
            {"type": "text", "text": "Bags?"}, {"type": "text", "text": "Long-haul."}]});
        assert_eq!(with_last(parts).unwrap().text, "Bags?\nLong-haul.");
        for turn in [
            json!({"role": "assistant", "content": "Sure"}),
            json!({"role": "tool", "tool_call_id": "1", "content": "42"}),
            json!({"role": "user", "content": [{"type": "text", "text": "This?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}),
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1"}]}),
            json!({"role": "user", "content": "   "}),
            json!({"role": "user", "content": "x".repeat(4097)}),
            json!({"role": "user", "content": []}),
        ] {
            assert_eq!(with_last(turn.clone()), None, "{turn}");
        }
        for api in [Api::OpenAiResponses, Api::OpenAiEmbeddings] {
            assert_eq!(question(&t, api, "m", "p", &chat(), 4096), None);
        }
    }

    #[test]
    fn the_first_verified_neighbour_with_a_key_is_the_match() {
        let k1 = "a".repeat(64);
        let k2 = "b".repeat(64);
        let body = json!({"neighbours": [
            {"id": "x", "score": 0.95, "verified": false, "rejected_by": "number",
             "payload": {"key": k1}},
            {"id": "y", "score": 0.9, "verified": true, "payload": {"key": "../../etc"}},
            {"id": "z", "score": 0.87, "verified": true, "payload": {"key": k2}},
        ]});
        let m = first_verified(body.to_string().as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((m.key.as_str(), m.id.as_str()), (k2.as_str(), "z"));
        assert_eq!(m.similarity, 0.87);
        assert_eq!(first_verified(br#"{"neighbours":[]}"#).unwrap(), None);
        assert!(first_verified(b"<html>").is_err());
        assert!(first_verified(br#"{"error":"x"}"#).is_err());
    }

    #[test]
    fn the_bodies_are_the_sidecars_contract() {
        let question = Question {
            partition: "p".into(),
            text: "Bags?".into(),
        };
        let body: Value = serde_json::from_slice(&query_body(&question, 3, Some(0.8))).unwrap();
        assert_eq!(
            body,
            json!({"partition": "p", "text": "Bags?", "k": 3, "verify": true, "threshold": 0.8})
        );
        let body: Value = serde_json::from_slice(&query_body(&question, 1, None)).unwrap();
        assert!(body.get("threshold").is_none());
        let key = "c".repeat(64);
        let body: Value =
            serde_json::from_slice(&upsert_body(&question, &key, 30 * 86_400)).unwrap();
        assert_eq!(
            body,
            json!({"id": key, "partition": "p", "text": "Bags?", "payload": {"key": key},
                   "ttl_s": 86_400})
        );
    }
}
