//! Input validation: limits on a request's shape, each refused with a precise error.
//! Field types are checked for every request by the wire-format validation in
//! `providers` (400 naming the field), before this stage runs.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::api::Api;
use crate::config_error::ConfigError;
use crate::errors::UserError;
use crate::providers::openai_responses;

/// `guard.validation`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    /// Most input tokens (the gateway's count, as billed by OpenAI). Default none.
    pub max_input_tokens: Option<u64>,
    /// Most entries in `messages`. Default none.
    pub max_messages: Option<usize>,
    /// Most bytes of text in one message (its text parts together; the system prompt
    /// counts as a message). Default none.
    pub max_message_bytes: Option<usize>,
    /// Models a client may ask for: exact names, or prefixes ending in `*`
    /// (`"gpt-4o*"`). Default: any.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Roles a message may have (OpenAI: system, developer, user, assistant, tool;
    /// Anthropic: user, assistant). Default: any the API defines.
    #[serde(default)]
    pub allowed_roles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Validation {
    max_input_tokens: Option<u64>,
    max_messages: Option<usize>,
    max_message_bytes: Option<usize>,
    allowed_models: Vec<String>,
    allowed_roles: Vec<String>,
}

/// A broken rule: its name (for `x-llm-guard` and metrics) and the client's error.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: &'static str,
    pub error: UserError,
}

impl Validation {
    pub fn compile(field: &str, raw: RawValidation) -> Result<Validation, ConfigError> {
        for (name, v) in [
            ("max_input_tokens", raw.max_input_tokens.map(|n| n as usize)),
            ("max_messages", raw.max_messages),
            ("max_message_bytes", raw.max_message_bytes),
        ] {
            if v == Some(0) {
                return Err(ConfigError(format!("{field}.{name} must be > 0 (got 0)")));
            }
        }
        if let Some(m) = raw
            .allowed_models
            .iter()
            .find(|m| m.is_empty() || *m == "*")
        {
            return Err(ConfigError(format!(
                "{field}.allowed_models entries must name a model or a prefix ending in '*' (got {m:?}); leave the list out to allow any"
            )));
        }
        if let Some(r) = raw.allowed_roles.iter().find(|r| r.is_empty()) {
            return Err(ConfigError(format!(
                "{field}.allowed_roles entries must not be empty (got {r:?})"
            )));
        }
        Ok(Validation {
            max_input_tokens: raw.max_input_tokens,
            max_messages: raw.max_messages,
            max_message_bytes: raw.max_message_bytes,
            allowed_models: raw.allowed_models,
            allowed_roles: raw.allowed_roles,
        })
    }

    /// Checks what can be seen without counting tokens.
    pub fn check_shape(&self, api: Api, req: &Map<String, Value>) -> Result<(), Violation> {
        let model = req.get("model").and_then(Value::as_str).unwrap_or("");
        if !self.allowed_models.is_empty()
            && !self.allowed_models.iter().any(|m| model_matches(m, model))
        {
            return Err(violation(
                "validation.allowed_models",
                format!("The model `{model}` is not allowed on this gateway route"),
                "model",
            ));
        }
        let (field, turns, system) = turns(api, req);
        if let Some(max) = self.max_messages {
            if turns.len() > max {
                return Err(violation(
                    "validation.max_messages",
                    format!(
                        "`{field}` has {} entries; this gateway allows at most {max}",
                        turns.len()
                    ),
                    field,
                ));
            }
        }
        for (i, turn) in turns.iter().enumerate() {
            let role = turn.role.unwrap_or("");
            if turn.role.is_some()
                && !self.allowed_roles.is_empty()
                && !self.allowed_roles.iter().any(|r| r == role)
            {
                return Err(violation(
                    "validation.allowed_roles",
                    format!(
                        "`{field}[{i}].role` is `{role}`; this gateway allows {}",
                        self.allowed_roles.join(", ")
                    ),
                    &format!("{field}[{i}].role"),
                ));
            }
        }
        let sized = turns
            .iter()
            .enumerate()
            .map(|(i, t)| (t.text_at.replace("{i}", &i.to_string()), t.bytes))
            .chain(system);
        for (at, n) in sized {
            if self.max_message_bytes.is_some_and(|max| n > max) {
                let max = self.max_message_bytes.unwrap_or_default();
                return Err(violation(
                    "validation.max_message_bytes",
                    format!("`{at}` has {n} bytes of text; this gateway allows at most {max} per message"),
                    &at,
                ));
            }
        }
        Ok(())
    }

    /// Checks the counted input tokens.
    pub fn check_tokens(&self, input_tokens: Option<u64>) -> Result<(), Violation> {
        match (self.max_input_tokens, input_tokens) {
            (Some(max), Some(n)) if n > max => Err(violation(
                "validation.max_input_tokens",
                format!("The request has {n} input tokens; this gateway allows at most {max}"),
                "messages",
            )),
            _ => Ok(()),
        }
    }
}

/// One entry of a request's conversation, as the rules see it.
struct Turn<'a> {
    /// The role, for entries that have one (a Responses function call has none).
    role: Option<&'a str>,
    /// Bytes of text.
    bytes: usize,
    /// Where its text is (`{i}` is its index).
    text_at: &'static str,
}

/// The conversation's field, its entries, and the system prompt outside it (its field
/// and bytes): chat `messages`; Anthropic `messages` and `system`; Responses `input`
/// (a string is one user entry) and `instructions`.
fn turns<'a>(
    api: Api,
    req: &'a Map<String, Value>,
) -> (&'static str, Vec<Turn<'a>>, Option<(String, usize)>) {
    if api == Api::OpenAiResponses {
        let mut bytes = vec![
            0;
            req.get("input")
                .and_then(Value::as_array)
                .map_or(1, Vec::len)
        ];
        let mut system = None;
        for spot in openai_responses::input_texts_of(req) {
            let n = spot.text_in(req).map_or(0, str::len);
            match spot.item {
                Some(i) => bytes[i] += n,
                None => system = Some(("instructions".to_string(), n)),
            }
        }
        let turns = match req.get("input") {
            Some(Value::Array(items)) => items
                .iter()
                .zip(bytes)
                .map(|(item, bytes)| Turn {
                    role: (openai_responses::item_type(item) == Some("message"))
                        .then(|| item.get("role").and_then(Value::as_str).unwrap_or("")),
                    bytes,
                    text_at: "input[{i}]",
                })
                .collect(),
            Some(Value::String(s)) => vec![Turn {
                role: Some("user"),
                bytes: s.len(),
                text_at: "input",
            }],
            _ => Vec::new(),
        };
        return ("input", turns, system);
    }
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let turns = messages
        .iter()
        .map(|m| Turn {
            role: Some(m.get("role").and_then(Value::as_str).unwrap_or("")),
            bytes: text_bytes(m.get("content")),
            text_at: "messages[{i}].content",
        })
        .collect();
    let system = (api == Api::AnthropicMessages)
        .then(|| ("system".to_string(), text_bytes(req.get("system"))));
    ("messages", turns, system)
}

fn model_matches(rule: &str, model: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => model.starts_with(prefix),
        None => rule == model,
    }
}

/// Bytes of text in a content value: a string, or the `text` of its parts / blocks
/// (tool results' nested content included).
fn text_bytes(content: Option<&Value>) -> usize {
    match content {
        Some(Value::String(s)) => s.len(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| {
                p.get("text").and_then(Value::as_str).map_or(0, str::len)
                    + match p.get("content") {
                        c @ Some(Value::String(_) | Value::Array(_)) => text_bytes(c),
                        _ => 0,
                    }
            })
            .sum(),
        _ => 0,
    }
}

fn violation(rule: &'static str, message: String, param: &str) -> Violation {
    Violation {
        rule,
        error: UserError::InvalidRequest {
            message,
            param: Some(param.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(raw: serde_json::Value) -> Validation {
        Validation::compile("guard.validation", serde_json::from_value(raw).unwrap()).unwrap()
    }

    fn obj(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn each_rule_names_itself_and_the_field() {
        let rules = v(json!({"max_messages": 2, "max_message_bytes": 10,
                             "allowed_models": ["gpt-4o*", "o3"], "allowed_roles": ["system", "user"],
                             "max_input_tokens": 100}));
        let ok =
            obj(json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}));
        assert_eq!(rules.check_shape(Api::OpenAiChat, &ok), Ok(()));
        let cases = [
            (
                json!({"model": "gpt-4.1", "messages": []}),
                "validation.allowed_models",
                "model",
            ),
            (
                json!({"model": "o3", "messages": [{"role":"user","content":"a"},{"role":"user","content":"b"},{"role":"user","content":"c"}]}),
                "validation.max_messages",
                "messages",
            ),
            (
                json!({"model": "o3", "messages": [{"role": "assistant", "content": "a"}]}),
                "validation.allowed_roles",
                "messages[0].role",
            ),
            (
                json!({"model": "o3", "messages": [{"role": "user", "content": [{"type": "text", "text": "0123456789X"}]}]}),
                "validation.max_message_bytes",
                "messages[0].content",
            ),
        ];
        for (req, rule, param) in cases {
            let err = rules.check_shape(Api::OpenAiChat, &obj(req)).unwrap_err();
            assert_eq!(err.rule, rule);
            match err.error {
                UserError::InvalidRequest { param: Some(p), .. } => assert_eq!(p, param),
                other => panic!("{other:?}"),
            }
        }
        let long_system = obj(json!({"model": "o3", "system": "0123456789X", "messages": []}));
        assert_eq!(
            rules
                .check_shape(Api::AnthropicMessages, &long_system)
                .unwrap_err()
                .rule,
            "validation.max_message_bytes"
        );
        assert_eq!(rules.check_tokens(Some(100)), Ok(()));
        assert_eq!(
            rules.check_tokens(Some(101)).unwrap_err().rule,
            "validation.max_input_tokens"
        );
        assert_eq!(rules.check_tokens(None), Ok(()));
    }

    #[test]
    fn bad_configs_are_refused_with_the_rule() {
        let err = |raw: serde_json::Value| {
            Validation::compile("guard.validation", serde_json::from_value(raw).unwrap())
                .unwrap_err()
                .0
        };
        assert_eq!(
            err(json!({"max_messages": 0})),
            "guard.validation.max_messages must be > 0 (got 0)"
        );
        assert!(err(json!({"allowed_models": ["*"]})).contains("allowed_models"));
    }
}
