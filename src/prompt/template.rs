//! Template text with `{{name}}` placeholders, and typed variables.
//!
//! Rendering is one pass over the operator's text: a value is inserted as text into a
//! message's content string and never read again, so a value that holds `{{other}}`,
//! quotes, braces, newlines or a whole JSON message list stays that text. The body is
//! rebuilt from JSON values and serialized, so no value can close its string or add a
//! message.

use serde_json::Value;

/// Longest string value a variable takes unless the operator sets `max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 8192;

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A content string with placeholders, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pieces: Vec<Piece>,
}

/// Whether `name` is a valid placeholder: a variable (`[A-Za-z_][A-Za-z0-9_]*`, at most
/// 64 bytes) or a built-in (`consumer.id`, `consumer.group`, `route.path`,
/// `route.model`, `header.<name>`).
fn valid_placeholder(name: &str) -> bool {
    if let Some(h) = name.strip_prefix("header.") {
        return !h.is_empty()
            && h.len() <= 64
            && h.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    }
    matches!(
        name,
        "consumer.id" | "consumer.group" | "route.path" | "route.model"
    ) || valid_variable(name)
}

/// A client variable's name: `[A-Za-z_][A-Za-z0-9_]*`, 1 to 64 bytes.
pub fn valid_variable(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Text {
    /// Parses `{{name}}` placeholders (spaces inside the braces allowed). The error says
    /// what is wrong, for `field`.
    pub fn parse(source: &str, field: &str) -> Result<Text, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("{field} has a `{{{{` without its `}}}}`"))?;
            let name = after[..close].trim();
            if !valid_placeholder(name) {
                return Err(format!(
                    "{field} has the placeholder {{{{{name}}}}}: a placeholder names a variable ([A-Za-z_][A-Za-z0-9_]*) or a built-in (consumer.id, consumer.group, route.path, route.model, header.<name>)"
                ));
            }
            pieces.push(Piece::Var(name.to_string()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Text { pieces })
    }

    /// The placeholders, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(n) => Some(n.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The text with each placeholder replaced by `value(name)`, in one pass.
    pub fn render(&self, value: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(n) => out.push_str(&value(n)),
            }
        }
        out
    }
}

/// A variable's JSON type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    String,
    Integer,
    Number,
    Boolean,
}

impl VarType {
    pub fn of_name(name: &str) -> Option<VarType> {
        Some(match name {
            "string" => VarType::String,
            "integer" => VarType::Integer,
            "number" => VarType::Number,
            "boolean" => VarType::Boolean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            VarType::String => "a string",
            VarType::Integer => "an integer",
            VarType::Number => "a number",
            VarType::Boolean => "a boolean",
        }
    }
}

/// One declared variable: its type, its default (absent: required), its allowed values.
#[derive(Debug, Clone, PartialEq)]
pub struct VarSpec {
    pub ty: VarType,
    /// The default's rendered text; `None`: the variable is required.
    pub default: Option<String>,
    /// For strings: the only values allowed.
    pub allowed: Option<Vec<String>>,
    /// For strings: the longest value, in characters.
    pub max_length: usize,
}

impl VarSpec {
    /// The text a client's value renders as, or the rule it breaks.
    pub fn render(&self, value: &Value) -> Result<String, String> {
        let text = match (self.ty, value) {
            (VarType::String, Value::String(s)) => {
                let len = s.chars().count();
                if len > self.max_length {
                    return Err(format!(
                        "must be at most {} characters (got {len})",
                        self.max_length
                    ));
                }
                s.clone()
            }
            (VarType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            (VarType::Number, Value::Number(n)) => n.to_string(),
            (VarType::Boolean, Value::Bool(b)) => b.to_string(),
            (ty, other) => {
                let got = match other {
                    Value::Null => "null".to_string(),
                    Value::Bool(_) => "a boolean".to_string(),
                    Value::Number(_) => "a number".to_string(),
                    Value::String(_) => "a string".to_string(),
                    Value::Array(_) => "an array".to_string(),
                    Value::Object(_) => "an object".to_string(),
                };
                return Err(format!("must be {} (got {got})", ty.name()));
            }
        };
        if let Some(allowed) = &self.allowed {
            if !allowed.contains(&text) {
                return Err(format!("must be one of {}", allowed.join(", ")));
            }
        }
        Ok(text)
    }
}
