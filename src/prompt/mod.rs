//! The prompt stage: decorators, versioned templates (few-shot examples are templates),
//! chain-of-thought induction, and structured output checked against a schema.
//!
//! Pure: [`rewrite`] takes the client's body and what the request is (path, caller,
//! allowed headers, the complexity classifier's verdict) and returns the body to send on
//! (before the guard and the cache key see it) plus the [`Check`] its answer must pass;
//! [`answer`] reads answers and streams for that check and builds the retry request.
//!
//! The request shape (documented in the README, "Prompt engine"): a body field
//! `"prompt_template": {"id": "...", "version": "2" | "label": "production",
//! "variables": {...}}` in an OpenAI chat or Anthropic messages request; the gateway
//! removes it before the request goes on.

pub mod answer;
pub mod config;
pub mod schema;
pub mod template;

#[cfg(test)]
mod tests;

use serde_json::{json, Map, Value};

pub use crate::scope::Subject;
pub use config::{compile, Cot, OnInvalid, Prompt, PromptPolicy, RawPrompt};
use config::{Message, Role, Template};
use schema::{Schema, Strictness};

use crate::api::Api;
use crate::errors::UserError;

/// The body field that asks for a template.
pub const TEMPLATE_FIELD: &str = "prompt_template";

/// What the request is, besides its body.
pub struct Context<'a> {
    pub api: Api,
    pub path: &'a str,
    pub consumer: Option<&'a str>,
    pub group: Option<&'a str>,
    /// A request header (lower-case name); only `prompt.header_variables` are read.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The routing classifier: is this request `complex`?
    pub complex: &'a dyn Fn(Api, &Map<String, Value>) -> bool,
}

/// Where the schema an answer is checked against came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The client's `response_format`.
    Request,
    /// The operator's (`prompt.schema`, a template's `schema`).
    Operator,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Request => "request",
            Origin::Operator => "operator",
        }
    }
}

/// The check an answer must pass.
#[derive(Debug, Clone)]
pub struct Check {
    pub schema: Schema,
    pub origin: Origin,
    pub max_retries: u32,
    pub on_invalid: OnInvalid,
}

/// What the stage did to a request.
#[derive(Debug, Default)]
pub struct Rewrite {
    /// The body to send on, when it changed.
    pub body: Option<Vec<u8>>,
    /// The template used: id and version.
    pub template: Option<(String, String)>,
    /// Why CoT was added (`always`, `complex`), when it was.
    pub cot: Option<&'static str>,
    pub check: Option<Check>,
    /// The request as parsed here (and rewritten), for the next stages not to parse the
    /// body again; `body` is its serialisation when it changed.
    pub parsed: Option<Map<String, Value>>,
}

fn invalid(message: String, param: &str) -> UserError {
    UserError::InvalidRequest {
        message,
        param: Some(param.to_string()),
    }
}

/// The client's template request, read and removed from the body.
struct Ask {
    id: String,
    version: Option<String>,
    label: Option<String>,
    variables: Map<String, Value>,
}

fn read_ask(value: Value) -> Result<Ask, UserError> {
    let Value::Object(mut map) = value else {
        return Err(invalid(
            format!("`{TEMPLATE_FIELD}` must be an object with `id` and optionally `version` or `label`, and `variables`"),
            TEMPLATE_FIELD,
        ));
    };
    let text = |map: &mut Map<String, Value>, key: &str| -> Result<Option<String>, UserError> {
        match map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(
                format!("`{TEMPLATE_FIELD}.{key}` must be a string"),
                &format!("{TEMPLATE_FIELD}.{key}"),
            )),
        }
    };
    let id = text(&mut map, "id")?.ok_or_else(|| {
        invalid(
            format!("`{TEMPLATE_FIELD}.id` is required"),
            &format!("{TEMPLATE_FIELD}.id"),
        )
    })?;
    let version = text(&mut map, "version")?;
    let label = text(&mut map, "label")?;
    if version.is_some() && label.is_some() {
        return Err(invalid(
            format!("`{TEMPLATE_FIELD}` may name a `version` or a `label`, not both"),
            TEMPLATE_FIELD,
        ));
    }
    let variables = match map.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(v)) => v,
        Some(_) => {
            return Err(invalid(
                format!("`{TEMPLATE_FIELD}.variables` must be an object"),
                &format!("{TEMPLATE_FIELD}.variables"),
            ))
        }
    };
    if let Some(key) = map.keys().next() {
        return Err(invalid(
            format!("`{TEMPLATE_FIELD}.{key}` is not a field of `{TEMPLATE_FIELD}` (fields: id, version, label, variables)"),
            &format!("{TEMPLATE_FIELD}.{key}"),
        ));
    }
    Ok(Ask {
        id,
        version,
        label,
        variables,
    })
}

/// The template version an ask names: `version`, else `label`, else the version labelled
/// `production`, else the last version listed.
pub fn select<'p>(
    prompt: &'p Prompt,
    id: &str,
    version: Option<&str>,
    label: Option<&str>,
) -> Result<&'p Template, UserError> {
    let param = format!("{TEMPLATE_FIELD}.id");
    let versions = prompt
        .templates
        .get(id)
        .ok_or_else(|| invalid(format!("Unknown prompt template `{id}`"), &param))?;
    let found = match (version, label) {
        (Some(v), _) => versions.iter().find(|t| t.version == v).ok_or_else(|| {
            invalid(
                format!("Prompt template `{id}` has no version `{v}`"),
                &format!("{TEMPLATE_FIELD}.version"),
            )
        })?,
        (None, Some(l)) => versions
            .iter()
            .find(|t| t.labels.iter().any(|x| x == l))
            .ok_or_else(|| {
                invalid(
                    format!("Prompt template `{id}` has no label `{l}`"),
                    &format!("{TEMPLATE_FIELD}.label"),
                )
            })?,
        (None, None) => versions
            .iter()
            .find(|t| t.labels.iter().any(|x| x == "production"))
            .or_else(|| versions.last())
            .ok_or_else(|| invalid(format!("Unknown prompt template `{id}`"), &param))?,
    };
    Ok(found)
}

/// The value of every variable the template declares, as text; the client's values are
/// checked against their declaration (unknown, missing and mistyped ones refused).
pub fn bind(
    template: &Template,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, UserError> {
    let name = format!("{}@{}", template.id, template.version);
    for key in given.keys() {
        if !template.variables.contains_key(key) {
            let known: Vec<&str> = template.variables.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(invalid(
                format!("`{key}` is not a variable of prompt template `{name}` (its variables: {known})"),
                &format!("{TEMPLATE_FIELD}.variables.{key}"),
            ));
        }
    }
    let mut bound = Map::new();
    for (key, spec) in &template.variables {
        let param = format!("{TEMPLATE_FIELD}.variables.{key}");
        let text = match given.get(key) {
            Some(v) => spec.render(v).map_err(|rule| {
                invalid(
                    format!("Variable `{key}` of prompt template `{name}` {rule}"),
                    &param,
                )
            })?,
            None => spec.default.clone().ok_or_else(|| {
                invalid(
                    format!("Variable `{key}` of prompt template `{name}` is required"),
                    &param,
                )
            })?,
        };
        bound.insert(key.clone(), Value::String(text));
    }
    Ok(bound)
}

/// Messages rendered: placeholders replaced by variables and built-ins, in one pass.
fn render(
    list: &[Message],
    vars: &Map<String, Value>,
    builtin: &dyn Fn(&str) -> String,
) -> Vec<(Role, String)> {
    let value = |name: &str| match vars.get(name) {
        Some(Value::String(s)) => s.clone(),
        _ => builtin(name),
    };
    list.iter()
        .map(|m| (m.role, m.content.render(&value)))
        .collect()
}

/// Applies the policy for this request to its body.
pub fn rewrite(prompt: &Prompt, ctx: &Context, body: &[u8]) -> Result<Rewrite, UserError> {
    if !matches!(ctx.api, Api::OpenAiChat | Api::AnthropicMessages) {
        return Ok(Rewrite::default());
    }
    let mut req = crate::providers::parse_object(body)?;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let policy = prompt.policy_for(&Subject {
        path: ctx.path,
        model: &model,
        group: ctx.group,
        consumer: ctx.consumer,
    });
    let mut out = Rewrite::default();
    let mut changed = false;
    let builtin = |name: &str| -> String {
        match name {
            "consumer.id" => ctx.consumer.unwrap_or("anonymous").to_string(),
            "consumer.group" => ctx.group.unwrap_or("anonymous").to_string(),
            "route.path" => ctx.path.split('?').next().unwrap_or_default().to_string(),
            "route.model" => model.clone(),
            _ => match name.strip_prefix("header.") {
                Some(h) if prompt.header_variables.iter().any(|x| x == h) => {
                    (ctx.header)(h).unwrap_or_default()
                }
                _ => String::new(),
            },
        }
    };
    let mut before: Vec<(Role, String)> = render(&policy.prepend, &Map::new(), &builtin);
    let mut template_schema = None;
    match req.remove(TEMPLATE_FIELD) {
        Some(ask) => {
            changed = true;
            let ask = read_ask(ask)?;
            let t = select(
                prompt,
                &ask.id,
                ask.version.as_deref(),
                ask.label.as_deref(),
            )?;
            let vars = bind(t, &ask.variables)?;
            before.extend(render(&t.messages, &vars, &builtin));
            out.template = Some((t.id.clone(), t.version.clone()));
            template_schema = t.schema.clone();
        }
        None if policy.require_template => {
            return Err(invalid(
                format!("This route requires a prompt template: send `{TEMPLATE_FIELD}` with the template's `id`"),
                TEMPLATE_FIELD,
            ));
        }
        None => {}
    }
    let mut after = render(&policy.append, &Map::new(), &builtin);
    // The schema: the operator's (template first) is enforced; else the client's own.
    let operator = template_schema.or_else(|| policy.schema.clone());
    let mut structured = false;
    if let Some(named) = &operator {
        structured = true;
        out.check = Some(Check {
            schema: named.schema.clone(),
            origin: Origin::Operator,
            max_retries: policy.max_retries,
            on_invalid: policy.on_invalid,
        });
        match ctx.api {
            Api::AnthropicMessages => after.push((
                Role::System,
                format!(
                    "Answer with only a JSON value, without prose or code fences, that matches this JSON Schema:\n{}",
                    named.schema.source()
                ),
            )),
            _ => {
                req.insert(
                    "response_format".into(),
                    json!({"type": "json_schema", "json_schema": {"name": named.name, "schema": named.schema.source()}}),
                );
                changed = true;
            }
        }
    } else if let Some(schema) = request_schema(&req) {
        structured = true;
        out.check = Some(Check {
            schema,
            origin: Origin::Request,
            max_retries: policy.max_retries,
            on_invalid: policy.on_invalid,
        });
    }
    if !before.is_empty() || !after.is_empty() {
        changed = true;
    }
    place(ctx.api, &mut req, before, after);
    // CoT asks for reasoning in the answer: never with structured output, whose answer
    // must be the JSON alone.
    let cot = match policy.cot {
        _ if structured => None,
        Cot::Always => Some("always"),
        Cot::Complex if (ctx.complex)(ctx.api, &req) => Some("complex"),
        _ => None,
    };
    if let Some(reason) = cot {
        place(
            ctx.api,
            &mut req,
            vec![],
            vec![(Role::System, policy.cot_instruction.clone())],
        );
        out.cot = Some(reason);
        changed = true;
    }
    let req = Value::Object(req);
    if changed {
        out.body = Some(req.to_string().into_bytes());
    }
    if let Value::Object(req) = req {
        out.parsed = Some(req);
    }
    Ok(out)
}

/// The client's own `response_format` as a schema to check: `json_schema` (its schema,
/// unknown keywords ignored; one this validator cannot compile is left to the provider)
/// or `json_object` (any object).
fn request_schema(req: &Map<String, Value>) -> Option<Schema> {
    let format = req.get("response_format")?.as_object()?;
    match format.get("type")?.as_str()? {
        "json_object" => Schema::compile(&json!({"type": "object"}), Strictness::Lenient).ok(),
        "json_schema" => {
            let spec = format.get("json_schema")?.as_object()?;
            let schema = spec.get("schema").cloned().unwrap_or(json!({}));
            match Schema::compile(&schema, Strictness::Lenient) {
                Ok(s) => Some(s),
                Err(e) => {
                    log::info!("llm-gateway: response_format schema not checked: {e}");
                    None
                }
            }
        }
        _ => None,
    }
}

/// Puts rendered messages around the client's: OpenAI as messages; Anthropic's system
/// ones into the top-level `system` (before or after the client's), the others as
/// messages.
fn place(
    api: Api,
    req: &mut Map<String, Value>,
    before: Vec<(Role, String)>,
    after: Vec<(Role, String)>,
) {
    if before.is_empty() && after.is_empty() {
        return;
    }
    let message = |(role, text): (Role, String)| json!({"role": role.as_str(), "content": text});
    let client = match req.remove("messages") {
        Some(Value::Array(list)) => list,
        Some(other) => {
            // Not ours to judge: the route stage refuses a malformed `messages`.
            req.insert("messages".into(), other);
            return;
        }
        None => Vec::new(),
    };
    let mut messages = Vec::new();
    match api {
        Api::AnthropicMessages => {
            let split = |list: Vec<(Role, String)>| -> (Vec<String>, Vec<(Role, String)>) {
                let (system, rest): (Vec<_>, Vec<_>) =
                    list.into_iter().partition(|(r, _)| *r == Role::System);
                (system.into_iter().map(|(_, t)| t).collect(), rest)
            };
            let (pre_system, pre) = split(before);
            let (post_system, post) = split(after);
            join_system(req, pre_system, post_system);
            messages.extend(pre.into_iter().map(message));
            messages.extend(client);
            messages.extend(post.into_iter().map(message));
        }
        _ => {
            messages.extend(before.into_iter().map(message));
            messages.extend(client);
            messages.extend(after.into_iter().map(message));
        }
    }
    req.insert("messages".into(), Value::Array(messages));
}

/// Anthropic's `system` (a string or text blocks) with texts before and after it.
fn join_system(req: &mut Map<String, Value>, pre: Vec<String>, post: Vec<String>) {
    if pre.is_empty() && post.is_empty() {
        return;
    }
    let system = match req.remove("system") {
        None | Some(Value::Null) => {
            let all: Vec<String> = pre.into_iter().chain(post).collect();
            Value::String(all.join("\n\n"))
        }
        Some(Value::String(s)) => {
            let all: Vec<String> = pre
                .into_iter()
                .chain((!s.is_empty()).then_some(s))
                .chain(post)
                .collect();
            Value::String(all.join("\n\n"))
        }
        Some(Value::Array(blocks)) => {
            let text = |t: String| json!({"type": "text", "text": t});
            let mut out: Vec<Value> = pre.into_iter().map(text).collect();
            out.extend(blocks);
            out.extend(post.into_iter().map(text));
            Value::Array(out)
        }
        Some(other) => other,
    };
    req.insert("system".into(), system);
}
