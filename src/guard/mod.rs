//! The `guard` stage: input validation, prompt injection and PII on the way in; PII,
//! restore and leak checks on the way out, streaming included. Pure logic (bytes and
//! JSON in, verdicts and rewritten bytes out); `host` wires it to Envoy and makes the
//! judge's call.
//!
//! Input order: validation (shape), injection (scored on the text as the client wrote
//! it), PII (mask / hash / block), spotlighting; then, once the route stage has counted
//! them, the input-token limit. In `monitor` mode every rule is evaluated and reported
//! (`x-llm-guard`, the access log, metrics) and nothing is changed or refused.

pub mod answer;
pub mod config;
pub mod injection;
pub mod judge;
pub mod pii;
pub mod validation;

use serde_json::Value;

use crate::api::Api;
use crate::errors::UserError;
pub use answer::AnswerGuard;
pub use config::{compile, Guard, GuardPolicy, Mode, RawGuard};
use injection::Decision;

/// A rule that acted, for `x-llm-guard`, the access log and metrics. `rule` is
/// `validation.<limit>`, `injection`, `judge`, `pii.<entity>`, `leak.<kind>` or
/// `spotlight`; `action` what it did (`block`, `mask`, `hash`, `monitor`, `flag`,
/// `allow`, `wrap`). In monitor mode the action is what it would have done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acted {
    pub rule: String,
    pub action: &'static str,
}

impl Acted {
    pub(crate) fn new(rule: impl Into<String>, action: &'static str) -> Acted {
        Acted {
            rule: rule.into(),
            action,
        }
    }
}

/// `x-llm-guard`: `rule:action` pairs, comma-separated, in the order they first acted.
pub fn header_value(acted: &[Acted]) -> String {
    let mut out = String::new();
    for (i, a) in acted.iter().enumerate() {
        if acted[..i].contains(a) {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&a.rule);
        out.push(':');
        out.push_str(a.action);
    }
    out
}

/// A grey-zone injection score to put before the judge.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeAsk {
    /// The message that scored highest, as text.
    pub text: String,
    pub score: f32,
}

/// What the guard decided about a request.
#[derive(Default)]
pub struct InputOutcome {
    /// The body to send instead of the client's (masked, hashed, spotlighted).
    pub body: Option<Vec<u8>>,
    /// Refuse the request with this error (enforce mode only).
    pub blocked: Option<UserError>,
    pub acted: Vec<Acted>,
    /// Ask the judge before letting the request through.
    pub judge: Option<JudgeAsk>,
    /// Ask the semantic-index sidecar for the nearest known attack
    /// (`guard.injection.semantic`): the last user turn and the score so far.
    pub semantic: Option<JudgeAsk>,
    /// The output side, for the answer.
    pub answer: Option<AnswerGuard>,
    /// The body as parsed (and rewritten) here, for the route stage not to parse it again;
    /// `body` is its serialisation when it changed.
    pub parsed: Option<serde_json::Map<String, Value>>,
}

fn block(outcome: &mut InputOutcome, enforce: bool, rule: String, error: UserError) {
    outcome
        .acted
        .push(Acted::new(rule, if enforce { "block" } else { "monitor" }));
    if enforce && outcome.blocked.is_none() {
        outcome.blocked = Some(error);
    }
}

/// Inspects a request body in the client's wire format. A body that is not a JSON object
/// is left alone: the wire-format validation that follows reports it precisely.
pub fn inspect_request(policy: &GuardPolicy, api: Api, body: &[u8]) -> InputOutcome {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(req)) => inspect_parsed(policy, api, req),
        _ => InputOutcome::default(),
    }
}

/// [`inspect_request`] on a body an earlier stage parsed already (the prompt stage).
pub fn inspect_parsed(
    policy: &GuardPolicy,
    api: Api,
    req: serde_json::Map<String, Value>,
) -> InputOutcome {
    let mut outcome = InputOutcome::default();
    let mut req = Value::Object(req);
    let enforce = policy.mode == Mode::Enforce;
    if let (Some(v), Some(obj)) = (&policy.validation, req.as_object()) {
        if let Err(violation) = v.check_shape(api, obj) {
            block(
                &mut outcome,
                enforce,
                violation.rule.to_string(),
                violation.error,
            );
        }
    }
    if let Some(inj) = &policy.injection {
        let verdict = inj.scan_request(&req, api);
        match verdict.decision {
            Decision::Attack => {
                log::info!(
                    "llm-gateway: injection score {:.2} signals {:?}",
                    verdict.score,
                    verdict.signals
                );
                block(
                    &mut outcome,
                    enforce,
                    "injection".into(),
                    UserError::ContentFilter {
                        category: "prompt_injection".into(),
                    },
                );
            }
            Decision::GreyZone => {
                outcome.acted.push(Acted::new("injection", "flag"));
                outcome.judge = Some(JudgeAsk {
                    text: message_text(&req, api, verdict.message_index),
                    score: verdict.score,
                });
            }
            Decision::Clean => {}
        }
        if inj.semantic.is_some() && verdict.decision != Decision::Attack {
            outcome.semantic = last_user_text(&req, api).map(|text| JudgeAsk {
                text,
                score: verdict.score,
            });
        }
    }
    let mut changed = false;
    if let Some(pii) = &policy.pii {
        // Monitor mode: redact a copy, to report what would have been done.
        let mut copy;
        let target = if enforce {
            &mut req
        } else {
            copy = req.clone();
            &mut copy
        };
        let report = pii.redact_request(target, api);
        for f in &report.findings {
            let action = if enforce {
                f.action.as_str()
            } else {
                "monitor"
            };
            outcome
                .acted
                .push(Acted::new(format!("pii.{}", f.entity), action));
        }
        if let Some(entity) = &report.blocked {
            if enforce && outcome.blocked.is_none() {
                outcome.blocked = Some(UserError::ContentFilter {
                    category: format!("pii.{entity}"),
                });
            }
        }
        changed |= enforce && report.changed;
        // A vector answer holds no text: nothing to restore or to check for leaks.
        outcome.answer = api.generates().then(|| {
            AnswerGuard::new(
                pii,
                report.vault,
                report.system_prompt.as_deref(),
                api,
                enforce,
            )
        });
    }
    let spotlight = policy.injection.as_ref().is_some_and(|i| i.spotlight());
    if spotlight && enforce && injection::spotlight_request(&mut req, api) {
        changed = true;
        outcome.acted.push(Acted::new("spotlight", "wrap"));
    }
    if changed && outcome.blocked.is_none() {
        outcome.body = Some(req.to_string().into_bytes());
    }
    if let Value::Object(obj) = req {
        outcome.parsed = Some(obj);
    }
    outcome
}

/// The input-token limit, once the route stage has counted the tokens.
pub fn check_tokens(
    policy: &GuardPolicy,
    input_tokens: Option<u64>,
) -> Result<(), (Acted, Option<UserError>)> {
    let Some(v) = &policy.validation else {
        return Ok(());
    };
    v.check_tokens(input_tokens).map_err(|violation| {
        let enforce = policy.mode == Mode::Enforce;
        (
            Acted::new(violation.rule, if enforce { "block" } else { "monitor" }),
            enforce.then_some(violation.error),
        )
    })
}

/// The text of one message (`None`: Anthropic's top-level `system`, Responses'
/// `instructions`).
/// The text of the last `user` message (Chat Completions, Anthropic Messages), for the
/// semantic signal; `None` when there is none or it holds no text.
fn last_user_text(req: &Value, api: Api) -> Option<String> {
    if !matches!(api, Api::OpenAiChat | Api::AnthropicMessages) {
        return None;
    }
    let messages = req.get("messages")?.as_array()?;
    let last = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))?;
    let mut out = String::new();
    collect_text(last.get("content"), &mut out);
    (!out.trim().is_empty()).then_some(out)
}

fn message_text(req: &Value, api: Api, index: Option<usize>) -> String {
    if api == Api::OpenAiResponses {
        return crate::providers::openai_responses::item_text(req, index);
    }
    let content = match index {
        Some(i) => req.pointer(&format!("/messages/{i}/content")),
        None if api == Api::AnthropicMessages => req.get("system"),
        None => None,
    };
    let mut out = String::new();
    collect_text(content, &mut out);
    out
}

fn collect_text(v: Option<&Value>, out: &mut String) {
    match v {
        Some(Value::String(s)) => {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(s);
        }
        Some(Value::Array(parts)) => {
            for p in parts {
                collect_text(p.get("text"), out);
                if let Some(c) = p.get("content") {
                    collect_text(Some(c), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
