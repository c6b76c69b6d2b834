//! `prompt` as the operator writes it, and its compiled form: a default policy
//! (decorators, CoT, schema, template requirement), overrides per path, model, consumer
//! group or consumer, and the template catalogue.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::schema::{Schema, Strictness};
use super::template::{valid_variable, Text, VarSpec, VarType, DEFAULT_MAX_LENGTH};
use crate::config_error::ConfigError;
use crate::scope::{first_match, RawWhen, Subject, When};

/// The CoT instruction when the operator gives none.
pub const DEFAULT_COT_INSTRUCTION: &str = "Before answering, reason through the problem step by step: identify what is asked, work through each part, check the result, then give the final answer.";

/// `prompt`: decorators, templates, chain-of-thought and structured output. Absent: the
/// stage is off (a client's `response_format` still goes to the provider, unchecked).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrompt {
    /// Messages added before the client's (system, user or assistant). For Anthropic a
    /// system message joins the top-level `system`. Default none.
    #[serde(default)]
    pub prepend: Vec<RawMessage>,
    /// Messages added after the client's. Default none.
    #[serde(default)]
    pub append: Vec<RawMessage>,
    /// Refuse (400) requests that name no template. Default false.
    pub require_template: Option<bool>,
    /// Chain-of-thought induction: `off`, `complex` (when the routing classifier scores
    /// the request complex) or `always`. Default `off`.
    pub cot: Option<String>,
    /// The instruction added for CoT (a system message). Default: a short
    /// step-by-step instruction ([`DEFAULT_COT_INSTRUCTION`]).
    pub cot_instruction: Option<String>,
    /// A schema the gateway enforces on every answer of this traffic (OpenAI requests get
    /// it as `response_format`). Default none.
    pub schema: Option<RawSchema>,
    /// Retries of an invalid plain answer through the same provider, 0 to 3. Default 1.
    pub max_retries: Option<u32>,
    /// Still invalid after the retries: `error` (502 in the protocol's envelope) or
    /// `pass` (the last answer goes to the client as it is). Default `error`.
    pub on_invalid: Option<String>,
    /// Request headers a decorator or template may read as `{{header.<name>}}`
    /// (lower-case). Only these. Default none.
    #[serde(default)]
    pub header_variables: Vec<String>,
    /// Envoy cluster per provider name for the schema retry's call, when the cluster is
    /// not named like the provider. Default: the provider's name.
    #[serde(default)]
    pub retry_clusters: BTreeMap<String, String>,
    /// Timeout of the schema retry's call, milliseconds, 1 to 600000. Default 120000.
    pub retry_timeout_ms: Option<u64>,
    /// The template catalogue. Default none.
    #[serde(default)]
    pub templates: Vec<RawTemplate>,
    /// Other policies for some traffic; the first override whose `when` matches replaces
    /// the fields it sets. Default none.
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Text with `{{placeholders}}`.
    pub content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchema {
    /// The schema's name (OpenAI's `json_schema.name`): 1-64 of `[A-Za-z0-9_-]`.
    pub name: String,
    /// A JSON Schema in the subset the gateway validates (src/prompt/schema.rs).
    pub schema: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    /// The template's id: 1-64 of `[A-Za-z0-9_-]`.
    pub id: String,
    /// Its version (any short string, e.g. `1`, `2024-06`); unique per id.
    pub version: String,
    /// Labels that name this version (e.g. `production`); each label names one version
    /// of an id. Default none.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Variables by name. Default none.
    #[serde(default)]
    pub variables: BTreeMap<String, RawVariable>,
    /// The messages (few-shot examples are messages too), placed before the client's.
    pub messages: Vec<RawMessage>,
    /// A schema enforced on answers of requests that use this template. Default none.
    pub schema: Option<RawSchema>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariable {
    /// `string` (default), `integer`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// The value when the client sends none; absent: the variable is required.
    pub default: Option<Value>,
    /// Strings only: the only values allowed.
    #[serde(rename = "enum")]
    pub allowed: Option<Vec<String>>,
    /// Strings only: the longest value in characters. Default 8192.
    pub max_length: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Which requests this override is for. Every condition given must hold.
    pub when: RawWhen,
    pub prepend: Option<Vec<RawMessage>>,
    pub append: Option<Vec<RawMessage>>,
    pub require_template: Option<bool>,
    pub cot: Option<String>,
    pub cot_instruction: Option<String>,
    pub schema: Option<RawSchema>,
    pub max_retries: Option<u32>,
    pub on_invalid: Option<String>,
}

/// A message role the prompt stage writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: Text,
}

/// When CoT is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cot {
    Off,
    Complex,
    Always,
}

/// What happens to an answer still invalid after the retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    Error,
    Pass,
}

/// A named schema the operator attached.
#[derive(Debug, Clone)]
pub struct NamedSchema {
    pub name: String,
    pub schema: Schema,
}

/// The compiled policy for some traffic.
#[derive(Debug, Clone)]
pub struct PromptPolicy {
    pub prepend: Vec<Message>,
    pub append: Vec<Message>,
    pub require_template: bool,
    pub cot: Cot,
    pub cot_instruction: String,
    pub schema: Option<NamedSchema>,
    pub max_retries: u32,
    pub on_invalid: OnInvalid,
}

/// One version of a template.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub version: String,
    pub labels: Vec<String>,
    pub variables: BTreeMap<String, VarSpec>,
    pub messages: Vec<Message>,
    pub schema: Option<NamedSchema>,
}

/// The compiled `prompt` section.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub default: PromptPolicy,
    overrides: Vec<(When, PromptPolicy)>,
    /// Template versions by id, in the order listed.
    pub templates: BTreeMap<String, Vec<Template>>,
    pub header_variables: Vec<String>,
    pub retry_clusters: BTreeMap<String, String>,
    pub retry_timeout_ms: u64,
}

impl Prompt {
    /// The policy for a request: the first override that matches, else the default.
    pub fn policy_for(&self, s: &Subject) -> &PromptPolicy {
        first_match(&self.overrides, &self.default, s)
    }

    /// The Envoy cluster that serves `provider`, for the schema retry.
    pub fn retry_cluster(&self, provider: &str) -> String {
        self.retry_clusters
            .get(provider)
            .cloned()
            .unwrap_or_else(|| provider.to_string())
    }
}

fn err<T>(message: String) -> Result<T, ConfigError> {
    Err(ConfigError(message))
}

fn messages(
    raw: Vec<RawMessage>,
    field: &str,
    headers: &[String],
) -> Result<Vec<Message>, ConfigError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("{field}[{i}]");
            let role = match m.role.as_str() {
                "system" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return err(format!(
                        "{at}.role must be one of system, user, assistant (got {other:?})"
                    ))
                }
            };
            let content =
                Text::parse(&m.content, &format!("{at}.content")).map_err(ConfigError)?;
            for name in content.names() {
                if let Some(h) = name.strip_prefix("header.") {
                    if !headers.iter().any(|x| x == h) {
                        return err(format!(
                            "{at}.content reads {{{{header.{h}}}}}, but prompt.header_variables does not allow the header {h:?}"
                        ));
                    }
                }
            }
            Ok(Message { role, content })
        })
        .collect()
}

/// Decorators may read only built-ins: a client variable belongs to a template.
fn builtins_only(list: &[Message], field: &str) -> Result<(), ConfigError> {
    for (i, m) in list.iter().enumerate() {
        if let Some(name) = m.content.names().find(|n| !n.contains('.')) {
            return err(format!(
                "{field}[{i}].content reads {{{{{name}}}}}: decorators may read only built-ins (consumer.id, consumer.group, route.path, route.model, header.<name>); client variables belong to templates"
            ));
        }
    }
    Ok(())
}

fn cot(field: &str, raw: Option<&str>, inherited: Cot) -> Result<Cot, ConfigError> {
    match raw {
        None => Ok(inherited),
        Some("off") => Ok(Cot::Off),
        Some("complex") => Ok(Cot::Complex),
        Some("always") => Ok(Cot::Always),
        Some(other) => err(format!(
            "{field} must be one of off, complex, always (got {other:?})"
        )),
    }
}

fn on_invalid(
    field: &str,
    raw: Option<&str>,
    inherited: OnInvalid,
) -> Result<OnInvalid, ConfigError> {
    match raw {
        None => Ok(inherited),
        Some("error") => Ok(OnInvalid::Error),
        Some("pass") => Ok(OnInvalid::Pass),
        Some(other) => err(format!(
            "{field} must be one of error, pass (got {other:?})"
        )),
    }
}

fn max_retries(field: &str, raw: Option<u32>, inherited: u32) -> Result<u32, ConfigError> {
    match raw {
        None => Ok(inherited),
        Some(n) if n <= 3 => Ok(n),
        Some(n) => err(format!("{field} must be between 0 and 3 (got {n})")),
    }
}

fn schema(raw: RawSchema, field: &str) -> Result<NamedSchema, ConfigError> {
    if !crate::config_error::valid_name(&raw.name) {
        return err(format!(
            "{field}.name must be 1-64 of [A-Za-z0-9_-] (got {:?})",
            raw.name
        ));
    }
    let schema = Schema::compile(&raw.schema, Strictness::Strict)
        .map_err(|e| ConfigError(format!("{field}.schema: {e}")))?;
    Ok(NamedSchema {
        name: raw.name,
        schema,
    })
}

fn instruction(field: &str, raw: Option<String>, inherited: &str) -> Result<String, ConfigError> {
    match raw {
        None => Ok(inherited.to_string()),
        Some(s) if s.trim().is_empty() => err(format!("{field} must not be empty")),
        Some(s) => Ok(s),
    }
}

fn variable(raw: RawVariable, field: &str) -> Result<VarSpec, ConfigError> {
    let ty = match raw.ty.as_deref() {
        None => VarType::String,
        Some(name) => VarType::of_name(name).ok_or_else(|| {
            ConfigError(format!(
                "{field}.type must be one of string, integer, number, boolean (got {name:?})"
            ))
        })?,
    };
    if ty != VarType::String && (raw.allowed.is_some() || raw.max_length.is_some()) {
        return err(format!(
            "{field}: enum and max_length apply to string variables only"
        ));
    }
    if raw.max_length == Some(0) {
        return err(format!("{field}.max_length must be >= 1 (got 0)"));
    }
    let mut spec = VarSpec {
        ty,
        default: None,
        allowed: raw.allowed,
        max_length: raw.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
    };
    if let Some(d) = raw.default {
        let text = spec
            .render(&d)
            .map_err(|e| ConfigError(format!("{field}.default {e}")))?;
        spec.default = Some(text);
    }
    Ok(spec)
}

fn template(raw: RawTemplate, at: &str, headers: &[String]) -> Result<Template, ConfigError> {
    if !crate::config_error::valid_name(&raw.id) {
        return err(format!(
            "{at}.id must be 1-64 of [A-Za-z0-9_-] (got {:?})",
            raw.id
        ));
    }
    if raw.version.is_empty() || raw.version.len() > 64 || raw.version.contains('@') {
        return err(format!(
            "{at}.version must be 1-64 characters without `@` (got {:?})",
            raw.version
        ));
    }
    if raw.messages.is_empty() {
        return err(format!("{at}.messages must not be empty"));
    }
    let mut variables = BTreeMap::new();
    for (name, v) in raw.variables {
        if !valid_variable(&name) {
            return err(format!(
                "{at}.variables: {name:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*, at most 64)"
            ));
        }
        let spec = variable(v, &format!("{at}.variables.{name}"))?;
        variables.insert(name, spec);
    }
    let messages = messages(raw.messages, &format!("{at}.messages"), headers)?;
    for (i, m) in messages.iter().enumerate() {
        for name in m.content.names().filter(|n| !n.contains('.')) {
            if !variables.contains_key(name) {
                return err(format!(
                    "{at}.messages[{i}].content reads {{{{{name}}}}}, which {at}.variables does not declare"
                ));
            }
        }
    }
    let schema = raw
        .schema
        .map(|s| schema(s, &format!("{at}.schema")))
        .transpose()?;
    Ok(Template {
        id: raw.id,
        version: raw.version,
        labels: raw.labels,
        variables,
        messages,
        schema,
    })
}

/// Compiles `prompt`, with errors that name the field and the rule it broke.
pub fn compile(raw: RawPrompt) -> Result<Prompt, ConfigError> {
    for h in &raw.header_variables {
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return err(format!(
                "prompt.header_variables: {h:?} must be a lower-case header name"
            ));
        }
        if h == "authorization" || h == "x-api-key" || h == "cookie" {
            return err(format!(
                "prompt.header_variables: {h:?} carries credentials and cannot be a variable"
            ));
        }
    }
    let headers = raw.header_variables.clone();
    let prepend = messages(raw.prepend, "prompt.prepend", &headers)?;
    builtins_only(&prepend, "prompt.prepend")?;
    let append = messages(raw.append, "prompt.append", &headers)?;
    builtins_only(&append, "prompt.append")?;
    let default = PromptPolicy {
        prepend,
        append,
        require_template: raw.require_template.unwrap_or(false),
        cot: cot("prompt.cot", raw.cot.as_deref(), Cot::Off)?,
        cot_instruction: instruction(
            "prompt.cot_instruction",
            raw.cot_instruction,
            DEFAULT_COT_INSTRUCTION,
        )?,
        schema: raw.schema.map(|s| schema(s, "prompt.schema")).transpose()?,
        max_retries: max_retries("prompt.max_retries", raw.max_retries, 1)?,
        on_invalid: on_invalid(
            "prompt.on_invalid",
            raw.on_invalid.as_deref(),
            OnInvalid::Error,
        )?,
    };
    let mut overrides = Vec::new();
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let at = format!("prompt.overrides[{i}]");
        let when = When::compile_with_models(&at, o.when)?;
        let mut p = default.clone();
        if let Some(list) = o.prepend {
            p.prepend = messages(list, &format!("{at}.prepend"), &headers)?;
            builtins_only(&p.prepend, &format!("{at}.prepend"))?;
        }
        if let Some(list) = o.append {
            p.append = messages(list, &format!("{at}.append"), &headers)?;
            builtins_only(&p.append, &format!("{at}.append"))?;
        }
        if let Some(r) = o.require_template {
            p.require_template = r;
        }
        p.cot = cot(&format!("{at}.cot"), o.cot.as_deref(), p.cot)?;
        p.cot_instruction = instruction(
            &format!("{at}.cot_instruction"),
            o.cot_instruction,
            &p.cot_instruction,
        )?;
        if let Some(s) = o.schema {
            p.schema = Some(schema(s, &format!("{at}.schema"))?);
        }
        p.max_retries = max_retries(&format!("{at}.max_retries"), o.max_retries, p.max_retries)?;
        p.on_invalid = on_invalid(
            &format!("{at}.on_invalid"),
            o.on_invalid.as_deref(),
            p.on_invalid,
        )?;
        overrides.push((when, p));
    }
    let mut templates: BTreeMap<String, Vec<Template>> = BTreeMap::new();
    for (i, t) in raw.templates.into_iter().enumerate() {
        let at = format!("prompt.templates[{i}]");
        let t = template(t, &at, &headers)?;
        let versions = templates.entry(t.id.clone()).or_default();
        if versions.iter().any(|v| v.version == t.version) {
            return err(format!(
                "{at}: template {:?} version {:?} is listed twice",
                t.id, t.version
            ));
        }
        for label in &t.labels {
            if !crate::config_error::valid_name(label) {
                return err(format!(
                    "{at}.labels: {label:?} must be 1-64 of [A-Za-z0-9_-]"
                ));
            }
            if let Some(other) = versions.iter().find(|v| v.labels.contains(label)) {
                return err(format!(
                    "{at}.labels: label {label:?} of template {:?} already names version {:?}",
                    t.id, other.version
                ));
            }
        }
        versions.push(t);
    }
    let retry_timeout_ms = match raw.retry_timeout_ms {
        None => 120_000,
        Some(n) if (1..=600_000).contains(&n) => n,
        Some(n) => {
            return err(format!(
                "prompt.retry_timeout_ms must be between 1 and 600000 (got {n})"
            ))
        }
    };
    Ok(Prompt {
        default,
        overrides,
        templates,
        header_variables: headers,
        retry_clusters: raw.retry_clusters,
        retry_timeout_ms,
    })
}
