//! Request and answer fields read with errors that name them, for the validation of
//! both wire formats and both request translations.

use serde_json::{Map, Value};

use crate::errors::UserError;

/// The JSON type of `v`, as error messages name it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn invalid(param: &str, rule: &str, got: Option<&Value>) -> UserError {
    let got = match got {
        Some(v) => type_name(v),
        None => "nothing",
    };
    UserError::InvalidRequest {
        message: format!("`{param}` {rule} (got {got})"),
        param: Some(param.to_string()),
    }
}

/// `req[key]` as an array, or the error naming the field.
pub(crate) fn required_array<'a>(
    req: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Vec<Value>, UserError> {
    match req.get(key) {
        Some(Value::Array(items)) => Ok(items),
        other => Err(invalid(key, "is required and must be an array", other)),
    }
}

/// `req.messages`: an array of at least one message, or the error naming the field.
pub(crate) fn required_messages(req: &Map<String, Value>) -> Result<&Vec<Value>, UserError> {
    let messages = required_array(req, "messages")?;
    if messages.is_empty() {
        return Err(UserError::InvalidRequest {
            message: "`messages` must contain at least one message".into(),
            param: Some("messages".into()),
        });
    }
    Ok(messages)
}

/// A string at `at`, or the error naming it.
pub(crate) fn required_str<'a>(v: Option<&'a Value>, at: &str) -> Result<&'a str, UserError> {
    match v {
        Some(Value::String(s)) => Ok(s),
        other => Err(invalid(at, "is required and must be a string", other)),
    }
}

/// `v[key]` as a string, or the error naming `<at>.<key>`.
pub(crate) fn required_field<'a>(v: &'a Value, at: &str, key: &str) -> Result<&'a str, UserError> {
    required_str(v.get(key), &format!("{at}.{key}"))
}

/// A field whose meaning the provider cannot honour, refused with the reason.
pub(crate) fn unsupported(param: &str, why: &str) -> UserError {
    UserError::InvalidRequest {
        message: format!("`{param}` {why}"),
        param: Some(param.to_string()),
    }
}

/// The client's stop strings (its field `at`) as the provider's `key`, left out when
/// there are none.
pub(crate) fn insert_stops(
    out: &mut Map<String, Value>,
    key: &str,
    list: &[Value],
    at: &str,
) -> Result<(), UserError> {
    for (i, s) in list.iter().enumerate() {
        if !s.is_string() {
            return Err(invalid(&format!("{at}[{i}]"), "must be a string", Some(s)));
        }
    }
    if !list.is_empty() {
        out.insert(key.into(), Value::Array(list.to_vec()));
    }
    Ok(())
}

/// The texts of parts that may only be text (`at` names the list), joined with a blank
/// line; a part of another type is refused, `refusal` saying why.
pub(crate) fn text_parts(
    parts: &[Value],
    at: &str,
    refusal: impl FnOnce(&str) -> String,
) -> Result<String, UserError> {
    let mut texts = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let part_at = format!("{at}[{i}]");
        match required_field(part, &part_at, "type")? {
            "text" => texts.push(required_field(part, &part_at, "text")?),
            other => return Err(unsupported(&format!("{part_at}.type"), &refusal(other))),
        }
    }
    Ok(texts.join("\n\n"))
}

/// A string field whose value is not one of the allowed ones.
pub(crate) fn not_one_of(param: &str, allowed: &str, got: &str) -> UserError {
    UserError::InvalidRequest {
        message: format!("`{param}` must be one of {allowed} (got {got:?})"),
        param: Some(param.to_string()),
    }
}

pub(crate) fn required_model(req: &Map<String, Value>) -> Result<String, UserError> {
    match req.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => Ok(m.clone()),
        Some(Value::String(_)) => Err(UserError::InvalidRequest {
            message: "`model` must not be empty".into(),
            param: Some("model".into()),
        }),
        other => Err(invalid("model", "is required and must be a string", other)),
    }
}

pub(crate) fn optional_bool(req: &Map<String, Value>, key: &str) -> Result<bool, UserError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        other => Err(invalid(key, "must be a boolean", other)),
    }
}

pub(crate) fn optional_count(req: &Map<String, Value>, key: &str) -> Result<(), UserError> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(()),
        other => Err(invalid(key, "must be a non-negative integer", other)),
    }
}

pub(crate) fn optional_number(req: &Map<String, Value>, key: &str) -> Result<(), UserError> {
    match req.get(key) {
        None | Some(Value::Null) | Some(Value::Number(_)) => Ok(()),
        other => Err(invalid(key, "must be a number", other)),
    }
}

pub(crate) fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// `v[key]` as a count, 0 when absent.
pub(crate) fn count(v: &Value, key: &str) -> u64 {
    u64_at(v, key).unwrap_or(0)
}
