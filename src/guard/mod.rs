//! The `guard` stage: PII, prompt injection, input validation and output checks.
//! Pure logic (text in, verdicts and rewritten text out); `host` wires it to Envoy.

pub mod injection;
pub mod pii;
