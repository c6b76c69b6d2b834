//! A JSON Schema validator for structured output: the subset OpenAI's strict
//! `json_schema` mode allows, compiled once, then checked against answers.
//!
//! Covered: `type` (a name or an array of names, so `["string","null"]` is nullable),
//! `properties`, `required`, `additionalProperties` (bool or schema), `items`,
//! `prefixItems`, `enum`, `const`, `anyOf`, `oneOf`, `allOf`, `not`, `$ref` to `#`,
//! `#/$defs/..` and `#/definitions/..` (and deeper JSON pointers into the root),
//! `minLength` / `maxLength` / `pattern` (regex-lite), `minimum` / `maximum` /
//! `exclusiveMinimum` / `exclusiveMaximum` / `multipleOf`, `minItems` / `maxItems` /
//! `uniqueItems`, `minProperties` / `maxProperties`, `nullable` (OpenAPI's). Annotations
//! (`title`, `description`, `default`, `examples`, `format`, `$schema`, `$id`, `$comment`,
//! `strict`, `deprecated`, `readOnly`, `writeOnly`) are accepted and not checked.
//!
//! A client's schema ([`Strictness::Lenient`]) may carry other keywords: they are
//! ignored, as JSON Schema ignores unknown keywords. An operator's schema
//! ([`Strictness::Strict`]) is refused at configuration time when it uses a keyword this
//! validator does not check, so the gateway never claims to enforce what it cannot.
//!
//! Why our own: `jsonschema` and `boon` cover every draft (formats, remote refs, regex
//! engines, URL parsing) and cost far more module size than this subset needs; the
//! measurements are in the README ("Prompt engine").

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::providers::fields::type_name;

/// How unknown keywords are treated when a schema is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Unknown keywords are errors (operator schemas, at configuration time).
    Strict,
    /// Unknown keywords are ignored (client schemas, per request).
    Lenient,
}

/// Errors past this many are not reported.
const MAX_ERRORS: usize = 5;
/// Deepest nesting of schemas (and `$ref` hops) followed while validating.
const MAX_DEPTH: usize = 128;

const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "format",
    "$schema",
    "$id",
    "$comment",
    "strict",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$defs",
    "definitions",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn of_name(name: &str) -> Option<Kind> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "string" => Kind::String,
            "array" => Kind::Array,
            "object" => Kind::Object,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }

    fn matches(self, v: &Value) -> bool {
        match (self, v) {
            (Kind::Null, Value::Null) => true,
            (Kind::Boolean, Value::Bool(_)) => true,
            (Kind::Number, Value::Number(_)) => true,
            (Kind::Integer, Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            (Kind::String, Value::String(_)) => true,
            (Kind::Array, Value::Array(_)) => true,
            (Kind::Object, Value::Object(_)) => true,
            _ => false,
        }
    }
}

/// One compiled schema node.
#[derive(Debug, Default)]
struct Node {
    /// `false` schema: nothing is valid.
    never: bool,
    types: Option<Vec<Kind>>,
    properties: Vec<(String, Node)>,
    required: Vec<String>,
    /// `None`: any extra property; `Some(None)`: none allowed; `Some(Some(s))`: each
    /// extra property must match `s`.
    additional: Option<Option<Box<Node>>>,
    items: Option<Box<Node>>,
    prefix_items: Vec<Node>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    all_of: Vec<Node>,
    not: Option<Box<Node>>,
    reference: Option<String>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<(String, regex_lite::Regex)>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
}

/// A compiled schema: its root and every node a `$ref` can name.
#[derive(Debug, Clone)]
pub struct Schema {
    inner: Rc<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    root: Node,
    /// `$ref` target (`#/$defs/x`, ...) -> its node.
    refs: BTreeMap<String, Node>,
    /// The schema as given, for the retry's feedback and the provider request.
    source: Value,
}

/// Why an answer does not match: the first few violations, each with its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<String>);

impl Invalid {
    /// The violations as one line (`; ` between them).
    pub fn message(&self) -> String {
        self.0.join("; ")
    }
}

impl Schema {
    /// Compiles `schema`; the error names the keyword's JSON pointer and the rule broken.
    pub fn compile(schema: &Value, strictness: Strictness) -> Result<Schema, String> {
        let mut refs = BTreeMap::new();
        let mut pending = Vec::new();
        let root = node(schema, "#", strictness, &mut pending)?;
        // Each `$ref` target, compiled once (targets may hold further refs).
        while let Some(target) = pending.pop() {
            if refs.contains_key(&target) {
                continue;
            }
            let value = resolve(schema, &target)
                .ok_or_else(|| format!("$ref {target:?} does not point into the schema"))?;
            let compiled = node(value, &target, strictness, &mut pending)?;
            refs.insert(target, compiled);
        }
        Ok(Schema {
            inner: Rc::new(Compiled {
                root,
                refs,
                source: schema.clone(),
            }),
        })
    }

    /// The schema as it was given.
    pub fn source(&self) -> &Value {
        &self.inner.source
    }

    /// Checks `value`; `Err` lists the first violations.
    pub fn validate(&self, value: &Value) -> Result<(), Invalid> {
        let mut errors = Vec::new();
        self.check(&self.inner.root, value, "", 0, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid(errors))
        }
    }

    /// Whether `value` matches, without collecting errors.
    fn matches(&self, node: &Node, value: &Value, depth: usize) -> bool {
        let mut errors = Vec::new();
        self.check(node, value, "", depth, &mut errors);
        errors.is_empty()
    }

    fn check(&self, n: &Node, v: &Value, at: &str, depth: usize, errors: &mut Vec<String>) {
        if errors.len() >= MAX_ERRORS {
            return;
        }
        let here = if at.is_empty() { "/" } else { at };
        if depth > MAX_DEPTH {
            errors.push(format!(
                "{here}: the schema nests deeper than {MAX_DEPTH} levels"
            ));
            return;
        }
        if n.never {
            errors.push(format!("{here}: no value is allowed here"));
            return;
        }
        if let Some(target) = &n.reference {
            if let Some(t) = self.inner.refs.get(target) {
                self.check(t, v, at, depth + 1, errors);
            }
        }
        if let Some(types) = &n.types {
            if !types.iter().any(|k| k.matches(v)) {
                let names: Vec<&str> = types.iter().map(|k| k.name()).collect();
                errors.push(format!(
                    "{here}: expected {}, got {}",
                    names.join(" or "),
                    type_name(v)
                ));
                return;
            }
        }
        if let Some(c) = &n.constant {
            if !json_equal(c, v) {
                errors.push(format!("{here}: must equal {c}"));
            }
        }
        if let Some(options) = &n.enumeration {
            if !options.iter().any(|o| json_equal(o, v)) {
                let shown: Vec<String> = options.iter().take(10).map(|o| o.to_string()).collect();
                errors.push(format!("{here}: must be one of {}", shown.join(", ")));
            }
        }
        for s in &n.all_of {
            self.check(s, v, at, depth + 1, errors);
        }
        if !n.any_of.is_empty() && !n.any_of.iter().any(|s| self.matches(s, v, depth + 1)) {
            // The branch with the fewest violations says best what is wrong.
            // A branch of another type ranks last.
            let mut best: Option<(usize, Vec<String>)> = None;
            for s in &n.any_of {
                let mut e = Vec::new();
                self.check(s, v, at, depth + 1, &mut e);
                let other_type = s
                    .types
                    .as_ref()
                    .is_some_and(|t| !t.iter().any(|k| k.matches(v)));
                let rank = e.len() + if other_type { MAX_ERRORS + 1 } else { 0 };
                if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                    best = Some((rank, e));
                }
            }
            let detail = best
                .and_then(|(_, b)| b.into_iter().next())
                .unwrap_or_default();
            errors.push(format!(
                "{here}: matches none of the anyOf schemas (closest: {detail})"
            ));
        }
        if !n.one_of.is_empty() {
            let count = n
                .one_of
                .iter()
                .filter(|s| self.matches(s, v, depth + 1))
                .count();
            if count != 1 {
                errors.push(format!(
                    "{here}: must match exactly one oneOf schema (matches {count})"
                ));
            }
        }
        if let Some(not) = &n.not {
            if self.matches(not, v, depth + 1) {
                errors.push(format!("{here}: must not match the `not` schema"));
            }
        }
        match v {
            Value::String(s) => self.check_string(n, s, here, errors),
            Value::Number(num) => {
                if let Some(f) = num.as_f64() {
                    check_number(n, f, here, errors);
                }
            }
            Value::Array(items) => self.check_array(n, items, at, depth, errors),
            Value::Object(map) => self.check_object(n, map, at, depth, errors),
            _ => {}
        }
    }

    fn check_string(&self, n: &Node, s: &str, here: &str, errors: &mut Vec<String>) {
        let len = s.chars().count() as u64;
        if let Some(min) = n.min_length.filter(|m| len < *m) {
            errors.push(format!(
                "{here}: must be at least {min} characters (got {len})"
            ));
        }
        if let Some(max) = n.max_length.filter(|m| len > *m) {
            errors.push(format!(
                "{here}: must be at most {max} characters (got {len})"
            ));
        }
        if let Some((source, re)) = &n.pattern {
            if !re.is_match(s) {
                errors.push(format!("{here}: must match the pattern {source:?}"));
            }
        }
    }

    fn check_array(
        &self,
        n: &Node,
        items: &[Value],
        at: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "/" } else { at };
        let len = items.len() as u64;
        if let Some(min) = n.min_items.filter(|m| len < *m) {
            errors.push(format!(
                "{here}: must have at least {min} items (got {len})"
            ));
        }
        if let Some(max) = n.max_items.filter(|m| len > *m) {
            errors.push(format!("{here}: must have at most {max} items (got {len})"));
        }
        if n.unique_items {
            for (i, a) in items.iter().enumerate() {
                if items[..i].iter().any(|b| json_equal(a, b)) {
                    errors.push(format!("{here}: items must be unique (item {i} repeats)"));
                    break;
                }
            }
        }
        for (i, item) in items.iter().enumerate() {
            let path = format!("{at}/{i}");
            match n.prefix_items.get(i) {
                Some(s) => self.check(s, item, &path, depth + 1, errors),
                None => {
                    if let Some(s) = &n.items {
                        self.check(s, item, &path, depth + 1, errors);
                    }
                }
            }
        }
    }

    fn check_object(
        &self,
        n: &Node,
        map: &Map<String, Value>,
        at: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let here = if at.is_empty() { "/" } else { at };
        for name in &n.required {
            if !map.contains_key(name) {
                errors.push(format!("{here}: missing required property {name:?}"));
            }
        }
        let len = map.len() as u64;
        if let Some(min) = n.min_properties.filter(|m| len < *m) {
            errors.push(format!(
                "{here}: must have at least {min} properties (got {len})"
            ));
        }
        if let Some(max) = n.max_properties.filter(|m| len > *m) {
            errors.push(format!(
                "{here}: must have at most {max} properties (got {len})"
            ));
        }
        for (key, value) in map {
            let path = format!("{at}/{}", pointer_escape(key));
            match n.properties.iter().find(|(k, _)| k == key) {
                Some((_, s)) => self.check(s, value, &path, depth + 1, errors),
                None => match &n.additional {
                    Some(None) => {
                        errors.push(format!("{here}: property {key:?} is not allowed"));
                    }
                    Some(Some(s)) => self.check(s, value, &path, depth + 1, errors),
                    None => {}
                },
            }
        }
    }
}

fn check_number(n: &Node, f: f64, here: &str, errors: &mut Vec<String>) {
    if let Some(m) = n.minimum.filter(|m| f < *m) {
        errors.push(format!("{here}: must be >= {m} (got {f})"));
    }
    if let Some(m) = n.maximum.filter(|m| f > *m) {
        errors.push(format!("{here}: must be <= {m} (got {f})"));
    }
    if let Some(m) = n.exclusive_minimum.filter(|m| f <= *m) {
        errors.push(format!("{here}: must be > {m} (got {f})"));
    }
    if let Some(m) = n.exclusive_maximum.filter(|m| f >= *m) {
        errors.push(format!("{here}: must be < {m} (got {f})"));
    }
    if let Some(m) = n.multiple_of {
        let q = f / m;
        if (q - q.round()).abs() > 1e-9 {
            errors.push(format!("{here}: must be a multiple of {m} (got {f})"));
        }
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, a)| y.get(k).is_some_and(|b| json_equal(a, b)))
        }
        _ => a == b,
    }
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The value a `#...` reference names in `root`.
fn resolve<'a>(root: &'a Value, target: &str) -> Option<&'a Value> {
    let pointer = target.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

fn node(
    schema: &Value,
    at: &str,
    strictness: Strictness,
    refs: &mut Vec<String>,
) -> Result<Node, String> {
    let map = match schema {
        Value::Bool(true) => return Ok(Node::default()),
        Value::Bool(false) => {
            return Ok(Node {
                never: true,
                ..Node::default()
            })
        }
        Value::Object(map) => map,
        other => return Err(format!("{at} must be an object or a boolean (got {other})")),
    };
    let mut n = Node::default();
    let sub = |v: &Value, path: String, refs: &mut Vec<String>| node(v, &path, strictness, refs);
    let count = |key: &str, v: &Value| -> Result<u64, String> {
        v.as_u64()
            .ok_or_else(|| format!("{at}/{key} must be a non-negative integer (got {v})"))
    };
    let number = |key: &str, v: &Value| -> Result<f64, String> {
        v.as_f64()
            .ok_or_else(|| format!("{at}/{key} must be a number (got {v})"))
    };
    let list = |key: &str, v: &Value, refs: &mut Vec<String>| -> Result<Vec<Node>, String> {
        let items = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("{at}/{key} must be a non-empty array of schemas"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, s)| sub(s, format!("{at}/{key}/{i}"), refs))
            .collect()
    };
    let mut nullable = false;
    for (key, v) in map {
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                let mut kinds = Vec::new();
                for name in names {
                    let kind = name.as_str().and_then(Kind::of_name).ok_or_else(|| {
                        format!("{at}/type must name JSON types (null, boolean, integer, number, string, array, object), got {name}")
                    })?;
                    kinds.push(kind);
                }
                n.types = Some(kinds);
            }
            "properties" => {
                let props = v
                    .as_object()
                    .ok_or_else(|| format!("{at}/properties must be an object"))?;
                for (name, s) in props {
                    let path = format!("{at}/properties/{}", pointer_escape(name));
                    n.properties.push((name.clone(), sub(s, path, refs)?));
                }
            }
            "required" => {
                let names = v
                    .as_array()
                    .ok_or_else(|| format!("{at}/required must be an array of strings"))?;
                for name in names {
                    let name = name
                        .as_str()
                        .ok_or_else(|| format!("{at}/required must be an array of strings"))?;
                    n.required.push(name.to_string());
                }
            }
            "additionalProperties" => {
                n.additional = match v {
                    Value::Bool(true) => None,
                    Value::Bool(false) => Some(None),
                    s => Some(Some(Box::new(sub(
                        s,
                        format!("{at}/additionalProperties"),
                        refs,
                    )?))),
                };
            }
            "items" => n.items = Some(Box::new(sub(v, format!("{at}/items"), refs)?)),
            "prefixItems" => n.prefix_items = list(key, v, refs)?,
            "enum" => {
                let options = v
                    .as_array()
                    .ok_or_else(|| format!("{at}/enum must be an array"))?;
                n.enumeration = Some(options.clone());
            }
            "const" => n.constant = Some(v.clone()),
            "anyOf" => n.any_of = list(key, v, refs)?,
            "oneOf" => n.one_of = list(key, v, refs)?,
            "allOf" => n.all_of = list(key, v, refs)?,
            "not" => n.not = Some(Box::new(sub(v, format!("{at}/not"), refs)?)),
            "$ref" => {
                let target = v.as_str().filter(|t| t.starts_with('#')).ok_or_else(|| {
                    format!("{at}/$ref must be a local reference starting with `#` (got {v})")
                })?;
                refs.push(target.to_string());
                n.reference = Some(target.to_string());
            }
            "minLength" => n.min_length = Some(count(key, v)?),
            "maxLength" => n.max_length = Some(count(key, v)?),
            "pattern" => {
                let source = v
                    .as_str()
                    .ok_or_else(|| format!("{at}/pattern must be a string"))?;
                let re = regex_lite::Regex::new(source)
                    .map_err(|e| format!("{at}/pattern is not a valid regex: {e}"))?;
                n.pattern = Some((source.to_string(), re));
            }
            "minimum" => n.minimum = Some(number(key, v)?),
            "maximum" => n.maximum = Some(number(key, v)?),
            "exclusiveMinimum" => n.exclusive_minimum = Some(number(key, v)?),
            "exclusiveMaximum" => n.exclusive_maximum = Some(number(key, v)?),
            "multipleOf" => {
                let m = number(key, v)?;
                if m <= 0.0 {
                    return Err(format!("{at}/multipleOf must be > 0 (got {m})"));
                }
                n.multiple_of = Some(m);
            }
            "minItems" => n.min_items = Some(count(key, v)?),
            "maxItems" => n.max_items = Some(count(key, v)?),
            "uniqueItems" => n.unique_items = v.as_bool().unwrap_or(false),
            "minProperties" => n.min_properties = Some(count(key, v)?),
            "maxProperties" => n.max_properties = Some(count(key, v)?),
            "nullable" => nullable = v.as_bool().unwrap_or(false),
            k if ANNOTATIONS.contains(&k) => {}
            other => {
                if strictness == Strictness::Strict {
                    return Err(format!(
                        "{at}: keyword `{other}` is not supported by the gateway's validator"
                    ));
                }
            }
        }
    }
    if nullable {
        if let Some(types) = n.types.as_mut() {
            if !types.contains(&Kind::Null) {
                types.push(Kind::Null);
            }
        }
    }
    Ok(n)
}
