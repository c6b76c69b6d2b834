//! `guard.pii` configuration: the raw JSON form and its compilation into a [`PiiPolicy`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::card::luhn;
use super::entity::{label_of, Builtin};
use super::iban::mod97;
use super::numeric::Wanted;
use super::{Action, PiiPolicy, PolicyInner};

/// `guard.pii` as the operator writes it.
///
/// ```json
/// {"entities": {"email": "mask", "credit_card": "block", "ip_address": "off"},
///  "default_action": "mask", "restore": true, "hash_salt": "s3cr3t",
///  "custom": [{"name": "employee_id", "pattern": "EMP-\\d{6}", "action": "hash"}],
///  "output": {"action": "mask"},
///  "leak": {"canaries": ["CANARY-7f3a"], "system_prompt_min_words": 8, "action": "block"}}
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    /// Action per built-in entity (`email`, `phone`, `credit_card`, `us_ssn`, `kr_rrn`,
    /// `iban`, `ip_address`, `secret`): `mask` (typed placeholder `[EMAIL_1]`, restored in
    /// the answer), `hash` (`[EMAIL:3f2a9c1b]`), `block` (refuse the request), `monitor`
    /// (report only) or `off`. Entities not listed take `default_action`.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Action of the built-in entities not listed in `entities`. Default `mask`.
    pub default_action: Option<String>,
    /// Swap placeholders in answers back for the original values. Default true.
    pub restore: Option<bool>,
    /// Secret mixed into `hash` placeholders (SHA-256 over salt, entity and value; the
    /// first 8 hex digits are shown). Default empty: hashes are then the same for every
    /// deployment and a low-entropy value (phone, SSN) can be found by trying all of them.
    pub hash_salt: Option<String>,
    /// Operator-defined entities, matched with a regular expression (regex-lite syntax,
    /// linear time). Default none.
    #[serde(default)]
    pub custom: Vec<RawCustomEntity>,
    /// PII the model generates in its answer. Default `{"action": "mask"}`.
    pub output: Option<RawOutput>,
    /// Leak checks on answers. Absent: off.
    pub leak: Option<RawLeak>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomEntity {
    /// Entity name in findings and placeholders (`employee_id` -> `[EMPLOYEE_ID_1]`):
    /// lower-case letters, digits and `_`, starting with a letter, at most 32 bytes,
    /// distinct from the built-in names.
    pub name: String,
    /// Regular expression of a value (regex-lite syntax); must not match the empty string.
    pub pattern: String,
    /// Check a match must also pass: `luhn` (its digits pass the Luhn check) or `mod97`
    /// (ISO 7064 mod 97-10 over its letters and digits, as in IBANs). Default none.
    pub validator: Option<String>,
    /// `mask`, `hash`, `block`, `monitor` or `off`. Default `default_action`.
    pub action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// What to do with PII the model generated: `mask`, `hash`, `block` (stop the
    /// answer), `monitor` or `off`. Default `mask`. Entities that are `off` on input are
    /// not looked for.
    pub action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLeak {
    /// Strings that must never appear in an answer (planted in system prompts to detect
    /// extraction), matched exactly. Default none.
    #[serde(default)]
    pub canaries: Vec<String>,
    /// An answer that repeats this many consecutive words of the request's system prompt
    /// (case, spacing and punctuation ignored) leaks it. 0 turns the check off. Default 8.
    pub system_prompt_min_words: Option<usize>,
    /// `block` (stop the answer), `mask` (`[SYSTEM_PROMPT]`, `[CANARY]`) or `monitor`.
    /// Default `block`.
    pub action: Option<String>,
}

const ACTIONS: &str = "mask, hash, block, monitor, off";

fn action(path: &str, v: &str) -> Result<Option<Action>, String> {
    Ok(Some(match v {
        "mask" => Action::Mask,
        "hash" => Action::Hash,
        "block" => Action::Block,
        "monitor" => Action::Monitor,
        "off" => return Ok(None),
        _ => return Err(format!("{path} must be one of {ACTIONS} (got {v:?})")),
    }))
}

/// A check a custom entity's match must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    Luhn,
    Mod97,
}

impl Validator {
    pub fn accepts(self, s: &str) -> bool {
        match self {
            Validator::Luhn => {
                let d: Vec<u8> = s
                    .bytes()
                    .filter(u8::is_ascii_digit)
                    .map(|b| b - b'0')
                    .collect();
                d.len() >= 2 && luhn(&d)
            }
            Validator::Mod97 => {
                let v: Vec<u8> = s
                    .bytes()
                    .filter(u8::is_ascii_alphanumeric)
                    .map(|b| b.to_ascii_uppercase())
                    .collect();
                v.len() >= 5 && mod97(v[4..].iter().chain(&v[..4])) == 1
            }
        }
    }
}

/// A compiled custom entity.
#[derive(Debug, Clone)]
pub(super) struct CustomRule {
    pub regex: regex_lite::Regex,
    pub validator: Option<Validator>,
    pub entity: usize,
}

/// One entity the policy looks for: its name, placeholder label and input action.
#[derive(Debug, Clone)]
pub struct EntityRule {
    pub name: String,
    pub label: String,
    pub action: Action,
}

/// The leak checks.
#[derive(Debug, Clone)]
pub(super) struct LeakPolicy {
    pub canaries: Vec<String>,
    pub system_prompt_min_words: usize,
    pub action: Action,
}

impl PiiPolicy {
    /// Compiles `guard.pii`. Errors are worded as the rule that was broken, e.g.
    /// `guard.pii.entities.email must be one of mask, hash, block, monitor, off (got "erase")`.
    pub fn from_raw(raw: RawPii) -> Result<PiiPolicy, String> {
        let default = match &raw.default_action {
            Some(v) => action("guard.pii.default_action", v)?,
            None => Some(Action::Mask),
        };
        for name in raw.entities.keys() {
            if Builtin::from_name(name).is_none() {
                return Err(format!(
                    "guard.pii.entities has no entity {name:?} (known: {}; custom entities go in guard.pii.custom)",
                    Builtin::ALL.map(Builtin::name).join(", ")
                ));
            }
        }
        let mut entities = Vec::new();
        let mut builtin = [None; 8];
        for b in Builtin::ALL {
            let act = match raw.entities.get(b.name()) {
                Some(v) => action(&format!("guard.pii.entities.{}", b.name()), v)?,
                None => default,
            };
            if let Some(a) = act {
                builtin[b as usize] = Some(entities.len());
                entities.push(EntityRule {
                    name: b.name().to_string(),
                    label: label_of(b.name()),
                    action: a,
                });
            }
        }
        let mut custom = Vec::new();
        for (i, c) in raw.custom.iter().enumerate() {
            let path = format!("guard.pii.custom[{i}]");
            let name_ok = c.name.len() <= 32
                && c.name.starts_with(|ch: char| ch.is_ascii_lowercase())
                && c.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(format!(
                    "{path}.name must be lower-case letters, digits and _, starting with a letter, at most 32 bytes (got {:?})",
                    c.name
                ));
            }
            if Builtin::from_name(&c.name).is_some()
                || raw.custom[..i].iter().any(|o| o.name == c.name)
            {
                return Err(format!(
                    "{path}.name must be unique and not a built-in entity (got {:?})",
                    c.name
                ));
            }
            let regex = regex_lite::Regex::new(&c.pattern)
                .map_err(|e| format!("{path}.pattern must be a valid regular expression ({e})"))?;
            if regex.is_match("") {
                return Err(format!(
                    "{path}.pattern must not match the empty string (got {:?})",
                    c.pattern
                ));
            }
            let validator = match c.validator.as_deref() {
                None => None,
                Some("luhn") => Some(Validator::Luhn),
                Some("mod97") => Some(Validator::Mod97),
                Some(v) => {
                    return Err(format!(
                        "{path}.validator must be one of luhn, mod97 (got {v:?})"
                    ))
                }
            };
            let act = match &c.action {
                Some(v) => action(&format!("{path}.action"), v)?,
                None => default,
            };
            if let Some(a) = act {
                custom.push(CustomRule {
                    regex,
                    validator,
                    entity: entities.len(),
                });
                entities.push(EntityRule {
                    name: c.name.clone(),
                    label: label_of(&c.name),
                    action: a,
                });
            }
        }
        let output_action = match raw.output.as_ref().and_then(|o| o.action.as_deref()) {
            Some(v) => action("guard.pii.output.action", v)?,
            None => Some(Action::Mask),
        };
        let leak = match raw.leak {
            None => LeakPolicy {
                canaries: Vec::new(),
                system_prompt_min_words: 0,
                action: Action::Block,
            },
            Some(l) => {
                let n = l.system_prompt_min_words.unwrap_or(8);
                if n != 0 && !(3..=64).contains(&n) {
                    return Err(format!(
                        "guard.pii.leak.system_prompt_min_words must be 0 (off) or between 3 and 64 (got {n})"
                    ));
                }
                if let Some(k) = l.canaries.iter().position(|c| c.len() < 4) {
                    return Err(format!(
                        "guard.pii.leak.canaries[{k}] must be at least 4 bytes long (got {:?})",
                        l.canaries[k]
                    ));
                }
                let act = match l.action.as_deref() {
                    None | Some("block") => Action::Block,
                    Some("mask") => Action::Mask,
                    Some("monitor") => Action::Monitor,
                    Some(v) => {
                        return Err(format!(
                            "guard.pii.leak.action must be one of block, mask, monitor (got {v:?})"
                        ))
                    }
                };
                LeakPolicy {
                    canaries: l.canaries,
                    system_prompt_min_words: n,
                    action: act,
                }
            }
        };
        let on = |b: Builtin| builtin[b as usize].is_some();
        let wanted = Wanted {
            phone: on(Builtin::Phone),
            card: on(Builtin::CreditCard),
            ssn: on(Builtin::UsSsn),
            rrn: on(Builtin::KrRrn),
            iban: on(Builtin::Iban),
        };
        Ok(PiiPolicy {
            inner: Arc::new(PolicyInner {
                entities,
                builtin,
                custom,
                restore: raw.restore.unwrap_or(true),
                hash_salt: raw.hash_salt.unwrap_or_default(),
                output_action,
                leak,
                wanted,
            }),
        })
    }

    /// Parses and compiles `guard.pii` from JSON.
    pub fn from_json(json: &str) -> Result<PiiPolicy, String> {
        let raw: RawPii = serde_json::from_str(json).map_err(|e| format!("guard.pii: {e}"))?;
        PiiPolicy::from_raw(raw)
    }
}
