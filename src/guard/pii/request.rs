//! The input side: every text of a request body that the provider would read, for both
//! wire formats, redacted in place.
//!
//! OpenAI chat: `messages[].content` (a string, or parts `{type:"text",text}`), tool call
//! `function.arguments` (and the legacy `function_call.arguments`), `tool`/`function`
//! role messages (their `content`). Anthropic Messages: `system` (a string or text
//! blocks), `messages[].content` (a string or blocks: `text`, `tool_result` with string or
//! block content, `tool_use.input` string values, recursively). Arguments and `input` are
//! JSON: their string values are redacted (keys are left alone); arguments that are not
//! valid JSON are redacted as text. OpenAI Responses: `instructions` and every text of the
//! input items (see `providers::openai_responses::input_texts`), function call arguments
//! as JSON. OpenAI embeddings: the strings of `input` (token-id inputs cannot be read, and
//! pass as they are).

use serde_json::Value;

use super::output::add_finding;
use super::scan::{self, PiiMatch};
use super::{Action, InputReport, PiiPolicy};
use crate::api::Api;
use crate::providers::openai_responses::{self, InputText};

pub(super) struct Redactor<'a> {
    pub policy: &'a PiiPolicy,
    pub report: InputReport,
    matches: Vec<PiiMatch>,
}

impl<'a> Redactor<'a> {
    pub fn new(policy: &'a PiiPolicy) -> Self {
        Redactor {
            policy,
            report: InputReport::default(),
            matches: Vec::new(),
        }
    }

    pub fn body(&mut self, body: &mut Value, format: Api) {
        if format == Api::OpenAiResponses {
            self.responses(body);
            self.report.system_prompt = system_prompt(body, format);
            return;
        }
        let Some(obj) = body.as_object_mut() else {
            return;
        };
        if format == Api::OpenAiEmbeddings {
            if let Some(input) = obj.get_mut("input") {
                self.json_strings(input);
            }
            return;
        }
        if format == Api::AnthropicMessages {
            if let Some(system) = obj.get_mut("system") {
                self.blocks(system);
            }
        }
        if let Some(Value::Array(messages)) = obj.get_mut("messages") {
            for m in messages {
                self.message(m, format);
            }
        }
        self.report.system_prompt = system_prompt(body, format);
    }

    fn message(&mut self, m: &mut Value, format: Api) {
        let Some(m) = m.as_object_mut() else {
            return;
        };
        if let Some(content) = m.get_mut("content") {
            self.blocks(content);
        }
        if format == Api::OpenAiChat {
            if let Some(Value::Array(calls)) = m.get_mut("tool_calls") {
                for c in calls {
                    if let Some(args) = c.pointer_mut("/function/arguments") {
                        self.arguments(args);
                    }
                }
            }
            if let Some(args) = m
                .get_mut("function_call")
                .and_then(|f| f.get_mut("arguments"))
            {
                self.arguments(args);
            }
        }
    }

    /// Responses: every text the model reads (`instructions`, the input items' texts);
    /// function call arguments as JSON.
    fn responses(&mut self, body: &mut Value) {
        for spot in openai_responses::input_texts(body) {
            match (spot.kind, body.pointer_mut(&spot.pointer)) {
                (InputText::ToolArguments, Some(args)) => self.arguments(args),
                (_, Some(Value::String(s))) => self.text(s),
                _ => {}
            }
        }
    }

    /// A string, or an array of content blocks / parts.
    fn blocks(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(items) => {
                for item in items {
                    self.block(item);
                }
            }
            _ => {}
        }
    }

    fn block(&mut self, item: &mut Value) {
        let Some(b) = item.as_object_mut() else {
            return;
        };
        let kind = b
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match kind.as_str() {
            "text" => {
                if let Some(Value::String(s)) = b.get_mut("text") {
                    self.text(s);
                }
            }
            "tool_result" => {
                if let Some(c) = b.get_mut("content") {
                    self.blocks(c);
                }
            }
            "tool_use" => {
                if let Some(input) = b.get_mut("input") {
                    self.json_strings(input);
                }
            }
            _ => {}
        }
    }

    fn arguments(&mut self, args: &mut Value) {
        let Value::String(s) = args else {
            return;
        };
        match serde_json::from_str::<Value>(s) {
            Ok(mut parsed) if parsed.is_object() || parsed.is_array() => {
                let before = self.report.findings.len();
                let count_before: u32 = self.report.findings.iter().map(|f| f.count).sum();
                self.json_strings(&mut parsed);
                let count_after: u32 = self.report.findings.iter().map(|f| f.count).sum();
                if count_after != count_before || self.report.findings.len() != before {
                    *s = parsed.to_string();
                }
            }
            _ => self.text(s),
        }
    }

    /// Every string value (not key) of a JSON value.
    fn json_strings(&mut self, v: &mut Value) {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|x| self.json_strings(x)),
            Value::Object(map) => map.values_mut().for_each(|x| self.json_strings(x)),
            _ => {}
        }
    }

    /// Redacts one text in place.
    pub fn text(&mut self, s: &mut String) {
        let inner = &self.policy.inner;
        self.matches.clear();
        scan::detect(inner, s, &mut self.matches);
        if self.matches.is_empty() {
            return;
        }
        let mut out = String::with_capacity(s.len());
        let mut pos = 0;
        for m in &self.matches {
            let rule = &inner.entities[m.entity];
            add_finding(&mut self.report.findings, &rule.name, rule.action);
            out.push_str(&s[pos..m.start]);
            let value = &s[m.start..m.end];
            match rule.action {
                Action::Mask | Action::Hash => {
                    let p = self.report.vault.placeholder(
                        &rule.label,
                        value,
                        rule.action,
                        &inner.hash_salt,
                        true,
                    );
                    out.push_str(&p);
                    self.report.changed = true;
                }
                Action::Block => {
                    if self.report.blocked.is_none() {
                        self.report.blocked = Some(rule.name.clone());
                    }
                    out.push_str(value);
                }
                Action::Monitor => out.push_str(value),
            }
            pos = m.end;
        }
        out.push_str(&s[pos..]);
        *s = out;
    }
}

/// The system prompt of a request, as text: OpenAI `system`/`developer` messages,
/// Anthropic `system`, Responses `instructions` and system/developer input messages;
/// joined with a blank line.
pub fn system_prompt(body: &Value, format: Api) -> Option<String> {
    fn push_content<'v>(v: &'v Value, parts: &mut Vec<&'v str>) {
        match v {
            Value::String(s) => parts.push(s),
            Value::Array(items) => {
                for it in items {
                    if let Some(t) = it.get("text").and_then(Value::as_str) {
                        parts.push(t);
                    }
                }
            }
            _ => {}
        }
    }
    let mut parts: Vec<&str> = Vec::new();
    match format {
        Api::AnthropicMessages => {
            if let Some(s) = body.get("system") {
                push_content(s, &mut parts);
            }
        }
        Api::OpenAiEmbeddings => {}
        Api::OpenAiChat => {
            for m in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("system" | "developer")
                ) {
                    if let Some(c) = m.get("content") {
                        push_content(c, &mut parts);
                    }
                }
            }
        }
        Api::OpenAiResponses => {
            for spot in openai_responses::input_texts(body) {
                if spot.kind == InputText::System {
                    if let Some(Value::String(s)) = body.pointer(&spot.pointer) {
                        parts.push(s);
                    }
                }
            }
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}
