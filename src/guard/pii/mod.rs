//! PII and secrets in requests and answers: detection, masking, hashing, blocking, and
//! restoring the user's values in the answer.
//!
//! # Detectors
//!
//! Hand-written byte scanners, validated rather than pattern-matched, each linear in the
//! text (bounded work per anchor byte, no backtracking):
//!
//! | entity | what is accepted |
//! |---|---|
//! | `email` | dot-atom local part (<= 64 bytes) `@` two or more DNS labels, alphabetic TLD |
//! | `phone` | `+CC` / `00CC` / `011 CC` international, national formats of US, CA, UK, DE, FR, ES, IT, JP, KR, IN, BR, AU, with extensions; weaker shapes only next to phone words (see `phone.rs`, `context.rs`) |
//! | `credit_card` | 12-19 digits (spaces or dashes between groups), brand IIN + length, Luhn; not a bare number after `#` or shipment words |
//! | `us_ssn` | `AAA-GG-SSSS` / `AAA GG SSSS`, never-issued areas, groups, serials excluded |
//! | `kr_rrn` | `YYMMDD-SXXXXXX`: real date, century digit 1-8; bare 13 digits need the check digit (see `national_id.rs`) |
//! | `iban` | country length table + mod-97, bare or in groups of four |
//! | `ip_address` | IPv4 (octets <= 255, no leading zeros) and IPv6 (full, `::`, embedded v4) |
//! | `secret` | OpenAI, Anthropic, AWS key ids, GitHub, Slack, Stripe, Google keys by prefix; `secret`/`password`/`api_key`... assignments; PEM private keys; JWTs with an `alg` header |
//!
//! plus custom entities from configuration (regex-lite, optionally checked by `luhn` or
//! `mod97`). Overlapping matches: the earlier one wins, then the longer.
//!
//! # Use
//!
//! ```
//! use llm_gateway::api::Api;
//! use llm_gateway::guard::pii::{OutputGuard, PiiPolicy};
//! let policy = PiiPolicy::from_json(r#"{"entities": {"credit_card": "block"}}"#).unwrap();
//! let mut body = serde_json::json!({"messages": [
//!     {"role": "user", "content": "Mail jane@corp.com about it"}]});
//! let report = policy.redact_request(&mut body, Api::OpenAiChat);
//! assert!(report.blocked.is_none());
//! assert_eq!(body["messages"][0]["content"], "Mail [EMAIL_1] about it");
//! // The provider answers with the placeholder, maybe split across deltas:
//! let mut guard = OutputGuard::new(&policy, report.vault, report.system_prompt.as_deref());
//! let mut text = guard.feed("Sure, I wrote to [EMA").text;
//! text += &guard.feed("IL_1].").text;
//! text += &guard.finish().text;
//! assert_eq!(text, "Sure, I wrote to jane@corp.com.");
//! ```
//!
//! - Input: [`PiiPolicy::redact_request`] walks every text the provider would read
//!   (see `request.rs`), replaces values by the entity's action, and returns an
//!   [`InputReport`]: findings (entity, action, count), the blocking entity if any
//!   (refuse the request; name the entity, never the value), the [`PiiVault`] and the
//!   redacted system prompt.
//! - Output: one [`OutputGuard`] per answer, fed the answer's text deltas (content, not
//!   SSE framing); each `feed` returns what can be sent now. A non-streaming answer uses
//!   [`OutputGuard::filter_all`]. See `output.rs` for what is held back and why.
//!
//! Placeholders: `[LABEL_N]` for `mask` and `[LABEL:8 hex]` for `hash` (see `vault.rs`
//! for numbering and salting). With `restore` on, both kinds are swapped back in the
//! answer; values the output guard itself masked never are.

mod card;
mod config;
mod context;
mod email;
mod entity;
mod iban;
mod ip;
mod leak;
mod national_id;
mod numeric;
mod output;
mod phone;
mod request;
mod scan;
mod secret;
mod vault;

#[cfg(test)]
mod eval;
#[cfg(test)]
mod eval_formats;
#[cfg(test)]
mod tests;

use crate::api::Api;
use std::sync::Arc;

pub use config::{EntityRule, RawCustomEntity, RawLeak, RawOutput, RawPii, Validator};
pub use entity::Builtin;
pub use national_id::rrn_check_digit;
pub use output::{OutputGuard, OutputPiece, CONTEXT, MAX_PENDING};
pub use request::system_prompt;
pub use scan::{PiiMatch, MAX_HOLD};
pub use vault::PiiVault;

/// What to do with a detected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Replace with a typed, numbered placeholder (`[EMAIL_1]`), restorable.
    Mask,
    /// Replace with a short salted hash (`[EMAIL:3f2a9c1b]`).
    Hash,
    /// Refuse the request / stop the answer.
    Block,
    /// Report only; the text is unchanged.
    Monitor,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Mask => "mask",
            Action::Hash => "hash",
            Action::Block => "block",
            Action::Monitor => "monitor",
        }
    }
}

/// How often one entity was acted on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Entity name (`email`, a custom name, or `canary` / `system_prompt` for leaks).
    pub entity: String,
    pub action: Action,
    pub count: u32,
}

/// The outcome of redacting one request.
#[derive(Debug, Clone, Default)]
pub struct InputReport {
    pub findings: Vec<Finding>,
    /// The first entity whose action is `block`: refuse the request.
    pub blocked: Option<String>,
    /// Whether the body was changed (re-serialize it and fix `content-length`).
    pub changed: bool,
    /// Values and placeholders of this request, for the output guard.
    pub vault: PiiVault,
    /// The system prompt as sent to the provider (after redaction), for the leak check.
    pub system_prompt: Option<String>,
}

/// The compiled `guard.pii` policy. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct PiiPolicy {
    inner: Arc<PolicyInner>,
}

#[derive(Debug)]
struct PolicyInner {
    /// Enabled entities; `PiiMatch::entity` indexes this.
    entities: Vec<EntityRule>,
    /// Index in `entities` of each enabled built-in, by `Builtin as usize`.
    builtin: [Option<usize>; 8],
    custom: Vec<config::CustomRule>,
    restore: bool,
    hash_salt: String,
    /// `None`: the output is not scanned for PII (placeholders are still restored).
    output_action: Option<Action>,
    leak: config::LeakPolicy,
    wanted: numeric::Wanted,
}

impl PiiPolicy {
    /// Redacts every text of a request body in place (see `request.rs` for the fields).
    pub fn redact_request(&self, body: &mut serde_json::Value, format: Api) -> InputReport {
        let mut r = request::Redactor::new(self);
        r.body(body, format);
        r.report
    }

    /// Redacts one text with the input actions, allocating placeholders in `vault`.
    /// Returns the findings and the blocking entity, if any.
    pub fn redact_text(
        &self,
        text: &mut String,
        vault: &mut PiiVault,
    ) -> (Vec<Finding>, Option<String>) {
        let mut r = request::Redactor::new(self);
        r.report.vault = std::mem::take(vault);
        r.text(text);
        *vault = r.report.vault;
        (r.report.findings, r.report.blocked)
    }

    /// Every match of the enabled entities in `text`, sorted, non-overlapping.
    pub fn detect(&self, text: &str) -> Vec<PiiMatch> {
        let mut out = Vec::new();
        scan::detect(&self.inner, text, &mut out);
        out
    }

    /// The enabled entities; `PiiMatch::entity` indexes this.
    pub fn entities(&self) -> &[EntityRule] {
        &self.inner.entities
    }
}
