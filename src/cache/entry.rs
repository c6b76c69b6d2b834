//! The bytes of one cache entry, opaque to the sidecar: one JSON object,
//!
//! ```json
//! {"format":"llm-gateway/cache-entry","version":1,"api":"openai_chat",
//!  "model":"gpt-4o","provider":"openai","answer":{...}}
//! ```
//!
//! - `api`: the client's API the answer is written in (the key's API);
//! - `model`, `provider`: who answered (for a fallback chain, the hop that did), for
//!   `x-llm-model`, `x-llm-provider`, prices and metrics on a hit;
//! - `answer`: the normalised whole answer in that API, as a plain request gets it
//!   (`chat.completion`, Anthropic `message`, Responses `response`, embeddings `list`),
//!   with the provider's `usage`, stored before the output guard (the request's PII stays
//!   masked; a hit goes through the output guard of its own request). A stream is
//!   replayed from it ([`super::replay`]).
//!
//! An entry of another format, version or API is not served (a miss, replaced by the
//! next store).

use serde_json::{json, Value};

use crate::api::Api;

pub const FORMAT: &str = "llm-gateway/cache-entry";
pub const VERSION: u64 = 1;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub api: Api,
    pub model: String,
    pub provider: String,
    pub answer: Value,
}

impl Entry {
    pub fn encode(&self) -> Vec<u8> {
        json!({
            "format": FORMAT,
            "version": VERSION,
            "api": self.api.name(),
            "model": self.model,
            "provider": self.provider,
            "answer": self.answer,
        })
        .to_string()
        .into_bytes()
    }

    /// Reads an entry written for `api`; `Err` says why it cannot be served.
    pub fn decode(bytes: &[u8], api: Api) -> Result<Entry, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let text = |name: &str| v.get(name).and_then(Value::as_str);
        if text("format") != Some(FORMAT)
            || v.get("version").and_then(Value::as_u64) != Some(VERSION)
        {
            return Err(format!("not a {FORMAT} of version {VERSION}"));
        }
        if text("api") != Some(api.name()) {
            return Err(format!("written for {:?}, not {}", text("api"), api.name()));
        }
        let (Some(model), Some(provider)) = (text("model"), text("provider")) else {
            return Err("no model or provider".into());
        };
        let answer = v.get("answer").filter(|a| a.is_object()).cloned();
        let Some(answer) = answer else {
            return Err("no answer object".into());
        };
        Ok(Entry {
            api,
            model: model.to_string(),
            provider: provider.to_string(),
            answer,
        })
    }
}
