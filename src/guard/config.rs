//! `guard` as the operator writes it, and its compiled form: one policy for all traffic,
//! and overrides that replace parts of it for some paths, consumer groups or consumers.

use serde::Deserialize;

use super::injection::{InjectionPolicy, RawInjection};
use super::judge::{Judge, RawJudge};
use super::pii::{PiiPolicy, RawPii};
use super::validation::{RawValidation, Validation};
use crate::config_error::ConfigError;
use crate::scope::{first_match, RawWhen, Subject, When};

/// `guard`: input and output guardrails. Absent: the stage is off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    /// `enforce` (mask, block, spotlight) or `monitor` (report what would be done, change
    /// nothing). Default `enforce`.
    pub mode: Option<String>,
    /// Request shape limits. Absent: none.
    pub validation: Option<RawValidation>,
    /// PII and secrets, in requests and answers. Absent: off.
    pub pii: Option<RawPii>,
    /// Prompt-injection detection. Absent: off.
    pub injection: Option<RawInjection>,
    /// A second opinion from an LLM, asked only for injection scores in the grey zone
    /// (`injection.judge_low` to `injection.threshold`). Absent: grey-zone requests pass.
    pub judge: Option<RawJudge>,
    /// Other rule sets for some traffic; the first override whose `when` matches replaces
    /// the sections it sets (`mode`, `validation`, `pii`, `injection`). Default none.
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Which requests this override is for. Every condition given must hold.
    pub when: RawWhen,
    /// As `guard.mode`.
    pub mode: Option<String>,
    /// As `guard.validation`; replaces it.
    pub validation: Option<RawValidation>,
    /// As `guard.pii`; replaces it.
    pub pii: Option<RawPii>,
    /// As `guard.injection`; replaces it.
    pub injection: Option<RawInjection>,
    /// Turn sections off for this traffic: any of `validation`, `pii`, `injection`.
    #[serde(default)]
    pub off: Vec<String>,
}

/// Enforce or only report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Monitor,
}

/// One compiled rule set.
#[derive(Debug, Clone)]
pub struct GuardPolicy {
    pub mode: Mode,
    pub validation: Option<Validation>,
    pub pii: Option<PiiPolicy>,
    pub injection: Option<InjectionPolicy>,
}

/// The compiled `guard` section.
#[derive(Debug, Clone)]
pub struct Guard {
    pub default: GuardPolicy,
    overrides: Vec<(When, GuardPolicy)>,
    pub judge: Option<Judge>,
}

impl Guard {
    /// The rule set for a request.
    pub fn policy_for(
        &self,
        path: &str,
        group: Option<&str>,
        consumer: Option<&str>,
    ) -> &GuardPolicy {
        first_match(
            &self.overrides,
            &self.default,
            &Subject::caller(path, group, consumer),
        )
    }
}

fn mode(field: &str, raw: Option<&str>, inherited: Mode) -> Result<Mode, ConfigError> {
    match raw {
        None => Ok(inherited),
        Some("enforce") => Ok(Mode::Enforce),
        Some("monitor") => Ok(Mode::Monitor),
        Some(other) => Err(ConfigError(format!(
            "{field} must be one of enforce, monitor (got {other:?})"
        ))),
    }
}

fn pii(field: &str, raw: RawPii) -> Result<PiiPolicy, ConfigError> {
    PiiPolicy::from_raw(raw).map_err(|e| ConfigError(prefix(field, e)))
}

fn injection(field: &str, raw: RawInjection) -> Result<InjectionPolicy, ConfigError> {
    InjectionPolicy::from_raw(raw).map_err(|e| ConfigError(prefix(field, e.0)))
}

/// The sections' own errors name `guard.pii...` / `guard.injection...`; an override's
/// say where they are.
fn prefix(field: &str, message: String) -> String {
    if field.starts_with("guard.overrides") {
        format!("{field}: {message}")
    } else {
        message
    }
}

pub fn compile(raw: RawGuard) -> Result<Guard, ConfigError> {
    let default = GuardPolicy {
        mode: mode("guard.mode", raw.mode.as_deref(), Mode::Enforce)?,
        validation: raw
            .validation
            .map(|v| Validation::compile("guard.validation", v))
            .transpose()?,
        pii: raw.pii.map(|p| pii("guard.pii", p)).transpose()?,
        injection: raw
            .injection
            .map(|i| injection("guard.injection", i))
            .transpose()?,
    };
    let mut overrides = Vec::with_capacity(raw.overrides.len());
    for (i, o) in raw.overrides.into_iter().enumerate() {
        let field = format!("guard.overrides[{i}]");
        let when = When::compile(&field, o.when)?;
        let mut policy = GuardPolicy {
            mode: mode(&format!("{field}.mode"), o.mode.as_deref(), default.mode)?,
            validation: match o.validation {
                Some(v) => Some(Validation::compile(&format!("{field}.validation"), v)?),
                None => default.validation.clone(),
            },
            pii: match o.pii {
                Some(p) => Some(pii(&format!("{field}.pii"), p)?),
                None => default.pii.clone(),
            },
            injection: match o.injection {
                Some(p) => Some(injection(&format!("{field}.injection"), p)?),
                None => default.injection.clone(),
            },
        };
        for section in &o.off {
            match section.as_str() {
                "validation" => policy.validation = None,
                "pii" => policy.pii = None,
                "injection" => policy.injection = None,
                other => {
                    return Err(ConfigError(format!(
                    "{field}.off entries must be one of validation, pii, injection (got {other:?})"
                )))
                }
            }
        }
        overrides.push((when, policy));
    }
    let judge = raw.judge.map(super::judge::compile).transpose()?;
    if judge.is_some()
        && default.injection.is_none()
        && overrides.iter().all(|(_, p)| p.injection.is_none())
    {
        return Err(ConfigError(
            "guard.judge needs guard.injection (it is asked about grey-zone injection scores only)"
                .into(),
        ));
    }
    Ok(Guard {
        default,
        overrides,
        judge,
    })
}
