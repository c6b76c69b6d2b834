//! `limits.store: "sidecar"`: the same rules, reserved and settled in the cache sidecar's
//! counters (sidecars/cache/README.md, "Limits counters") instead of Envoy's shared data,
//! so that every Envoy whose sidecars share one Redis holds one limit.
//!
//! The request's counters (the same plan as for shared data: rules, scopes, the client's
//! policy, budgets) become the checks of one `POST /v1/limits/admit`, all or nothing in
//! the sidecar; its answer becomes an [`Admission`] or a [`Refusal`] with the same
//! messages, `retry-after` and headers as [`super::admit`] gives. After the response,
//! [`settle_body`] is one `POST /v1/limits/settle` with the real usage. Nothing here
//! calls anything: the exchange sends the bodies and hands the answers back.
//!
//! - **Keys**: a counter's key is its shared-data entry key (`{rule}/{req|in|out|tot|conc}/
//!   {scope}`, `$budget/{day|month}/{consumer}`, `$policy/{req|tot}/{consumer}`), so every
//!   Envoy with the same rules names the same counters. The sidecar takes 1-512 bytes of
//!   visible ASCII: other bytes (and `%`) are written `%XX`, and a key still longer than
//!   512 bytes keeps its first 440 bytes and ends with `%h` and the SHA-256 of the whole
//!   key ([`counter_key`]).
//! - **Time**: windows and leases run on the sidecar's clock (Redis `TIME`), so replicas
//!   agree; a budget's period ends where the module's calendar says (UTC day or month).
//! - **Leases**: an in-flight reservation is a lease of `limits.sidecar.lease_ms`. It is
//!   released by the settle; when no settle comes (the Envoy or its VM died, the admit's
//!   answer came after the module gave up on it) it expires by itself. Leases are sized,
//!   not renewed: a request still running when its lease ends stops counting, so the
//!   lease must outlast the longest request the routes allow.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    budget_refusal, in_flight_refusal, never_fits, note, period_end_us, period_of, plan,
    window_refusal, Actual, Admission, ClientPolicy, Counted, Demand, Limits, Op, Planned,
    RateLimitStatus, Refusal, Subject, WindowStatus,
};
use crate::config_error::ConfigError;

/// Where the sidecar counts.
pub const ADMIT_PATH: &str = "/v1/limits/admit";
pub const SETTLE_PATH: &str = "/v1/limits/settle";

/// Most checks one admit may carry (the sidecar's bound).
pub const MAX_CHECKS: usize = 64;
/// Largest amount, cost or budget the sidecar takes (10^15); larger budgets are clamped.
pub const MAX_AMOUNT: u64 = 1_000_000_000_000_000;
/// Most leases one in-flight counter may hold in the sidecar.
pub const MAX_CONCURRENT: u64 = 1_000_000;
/// Longest key the sidecar takes, bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// A settle nobody waits for gets at least this long.
pub const MIN_SETTLE_TIMEOUT_MS: u64 = 1000;

/// The `limits.sidecar` section as the operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSidecar {
    /// Envoy cluster of the cache sidecar. Default `cache_sidecar` (envoy/envoy.yaml).
    pub cluster: Option<String>,
    /// `:authority` of the calls. Default: the cluster name.
    pub authority: Option<String>,
    /// Milliseconds to wait for an admit before `fail` decides, 1 to 5000. The request
    /// waits this long at most; keep the cluster's `max_stream_duration` above it.
    /// Settles, which nobody waits for, get at least 1000. Default 100.
    pub timeout_ms: Option<u64>,
    /// When the sidecar gives no usable answer (down, too slow, an error): `open` admits
    /// the request without its limits (counted in `llm_limits_store_errors`, logged);
    /// `closed` refuses it with 503 in the protocol's envelope. Default `open`.
    pub fail: Option<String>,
    /// Lifetime of an in-flight reservation (`concurrent` rules) in milliseconds, 1000 to
    /// 86400000. The settle releases it; without one (a crashed Envoy) it expires by
    /// itself. A request still running when its lease ends stops counting: keep it above
    /// the longest request the routes allow (their `timeout`, or `max_stream_duration`
    /// for streams). Default 600000 (10 minutes, twice envoy/envoy.yaml's 300 s routes).
    pub lease_ms: Option<u64>,
}

/// Where the counters live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// Envoy's shared data: every worker of one Envoy.
    SharedData,
    /// The cache sidecar: every Envoy whose sidecars share one store.
    Sidecar(Sidecar),
}

/// The compiled `limits.sidecar` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub cluster: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub fail_closed: bool,
    pub lease_ms: u64,
}

impl Sidecar {
    /// `:method`, `:path`, `:authority` and the content headers of a call to `path`.
    pub fn headers(&self, path: &str, body_len: usize) -> Vec<(String, String)> {
        vec![
            (":method".into(), "POST".into()),
            (":path".into(), path.into()),
            (":authority".into(), self.authority.clone()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), body_len.to_string()),
        ]
    }

    /// The timeout of a settle (a background call).
    pub fn settle_timeout_ms(&self) -> u64 {
        self.timeout_ms.max(MIN_SETTLE_TIMEOUT_MS)
    }
}

/// Most counters one request can meet under `limits`: every windowed limit and in-flight
/// limit of every rule, the client's policy, a daily and a monthly budget.
fn most_checks(limits: &Limits) -> usize {
    let rules: usize = limits
        .rules
        .iter()
        .map(|r| r.windowed.len() + usize::from(r.concurrent.is_some()))
        .sum();
    rules + usize::from(limits.client_policy) + 2
}

/// Compiles `limits.store` and `limits.sidecar` for the compiled `limits`.
pub fn compile_store(
    store: Option<&str>,
    raw: Option<RawSidecar>,
    limits: &Limits,
) -> Result<Store, ConfigError> {
    let err = |m: String| Err(ConfigError(m));
    match store {
        None | Some("shared_data") => {
            return match raw {
                None => Ok(Store::SharedData),
                Some(_) => {
                    err("limits.sidecar must only be set when limits.store is sidecar".into())
                }
            }
        }
        Some("sidecar") => {}
        Some(other) => {
            return err(format!(
                "limits.store must be one of shared_data, sidecar (got {other:?})"
            ))
        }
    }
    let raw = raw.unwrap_or_default();
    let cluster = raw.cluster.unwrap_or_else(|| "cache_sidecar".into());
    if cluster.is_empty() {
        return err("limits.sidecar.cluster must not be empty".into());
    }
    let authority = raw.authority.unwrap_or_else(|| cluster.clone());
    if authority.is_empty() {
        return err("limits.sidecar.authority must not be empty".into());
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(100);
    if !(1..=5000).contains(&timeout_ms) {
        return err(format!(
            "limits.sidecar.timeout_ms must be between 1 and 5000 (got {timeout_ms})"
        ));
    }
    let fail_closed = match raw.fail.as_deref() {
        None | Some("open") => false,
        Some("closed") => true,
        Some(other) => {
            return err(format!(
                "limits.sidecar.fail must be one of open, closed (got {other:?})"
            ))
        }
    };
    let lease_ms = raw.lease_ms.unwrap_or(600_000);
    if !(1000..=86_400_000).contains(&lease_ms) {
        return err(format!(
            "limits.sidecar.lease_ms must be between 1000 and 86400000 (got {lease_ms})"
        ));
    }
    for (i, r) in limits.rules.iter().enumerate() {
        if let Some(n) = r.concurrent.filter(|&n| n > MAX_CONCURRENT) {
            return err(format!(
                "limits.rules[{i}].concurrent must be at most {MAX_CONCURRENT} when limits.store is sidecar (got {n})"
            ));
        }
    }
    let most = most_checks(limits);
    if most > MAX_CHECKS {
        return err(format!(
            "limits.rules: a request may meet at most {MAX_CHECKS} counters when limits.store is sidecar (these rules, the client policy and two budgets make up to {most})"
        ));
    }
    Ok(Store::Sidecar(Sidecar {
        cluster,
        authority,
        timeout_ms,
        fail_closed,
        lease_ms,
    }))
}

/// The sidecar's key for a counter's entry key: itself when it is 1-512 bytes of visible
/// ASCII without `%`; otherwise other bytes and `%` become `%XX`, and a key still longer
/// than 512 bytes keeps 440 of them and ends with `%h` + the SHA-256 (hex) of the entry
/// key. Distinct entry keys get distinct counter keys (`%h` is no escape).
pub fn counter_key(entry: &str) -> String {
    let mut out = String::with_capacity(entry.len());
    for b in entry.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() <= MAX_KEY_BYTES {
        return out;
    }
    out.truncate(440);
    let digest = Sha256::digest(entry.as_bytes());
    out.push_str("%h");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// One admit to ask of the sidecar: its body, and what each check stands for.
#[derive(Debug, Clone)]
pub struct AdmitAsk {
    checks: Vec<(Planned, String)>,
    body: Vec<u8>,
}

/// What the sidecar's answer to an admit means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Admitted(Admission),
    Refused(Refusal),
    /// No usable answer (why, for the log): the failure policy decides.
    Failed(String),
}

/// How the settle corrects one reservation: what it should have cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settles {
    /// As reserved (a request counter, a lease).
    AsReserved,
    /// The real input, output or total tokens.
    Tokens(Counted),
    /// The real cost, micro-USD.
    Spend,
}

/// One reservation the sidecar holds for an admitted request, echoed back at settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarHold {
    pub id: String,
    pub key: String,
    /// `window`, `concurrency` or `budget`.
    pub kind: String,
    pub cost: u64,
    pub settles: Settles,
}

/// The admit for a request: `Ok(None)` when no counter applies (admitted as it is), an
/// `Err` when a cost can never fit (refused without asking, as [`super::admit`] does).
#[allow(clippy::result_large_err)]
pub fn ask(
    limits: &Limits,
    sidecar: &Sidecar,
    subject: &Subject,
    demand: &Demand,
    policy: Option<&ClientPolicy>,
    now_us: u64,
) -> Result<Option<AdmitAsk>, Refusal> {
    let planned = plan(limits, subject, demand, policy);
    if let Some(refusal) = never_fits(&planned) {
        return Err(refusal);
    }
    if planned.is_empty() {
        return Ok(None);
    }
    let checks: Vec<(Planned, String)> = planned
        .into_iter()
        .map(|p| {
            let key = counter_key(&p.entry);
            (p, key)
        })
        .collect();
    let wire: Vec<Value> = checks
        .iter()
        .map(|(p, key)| check(p, key, sidecar.lease_ms, now_us))
        .collect();
    let body = json!({ "checks": wire }).to_string().into_bytes();
    Ok(Some(AdmitAsk { checks, body }))
}

/// One check of the admit body.
fn check(p: &Planned, key: &str, lease_ms: u64, now_us: u64) -> Value {
    match &p.op {
        Op::Window { rate, cost, .. } => json!({
            "kind": "window",
            "key": key,
            "window_ms": rate.window_ns.div_ceil(1_000_000).max(1),
            "amount": rate.amount.min(MAX_AMOUNT),
            "cost": (*cost).min(MAX_AMOUNT),
        }),
        Op::InFlight { limit } => json!({
            "kind": "concurrency",
            "key": key,
            "limit": limit,
            "lease_ms": lease_ms,
        }),
        Op::Spend {
            monthly,
            budget,
            estimate,
        } => json!({
            "kind": "budget",
            "key": key,
            "limit": (*budget).min(MAX_AMOUNT),
            "period_end_ms": period_end_us(*monthly, period_of(*monthly, now_us)) / 1000,
            "cost": (*estimate).min(MAX_AMOUNT),
        }),
    }
}

#[derive(Deserialize)]
struct WireAnswer {
    admitted: bool,
    #[serde(default)]
    reservations: Vec<WireReservation>,
    #[serde(default)]
    refused: Option<usize>,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    status: Vec<WireStatus>,
}

#[derive(Deserialize, Serialize)]
struct WireReservation {
    id: String,
    key: String,
    kind: String,
    cost: u64,
}

#[derive(Deserialize)]
struct WireStatus {
    key: String,
    remaining: u64,
    reset_ms: u64,
}

impl AdmitAsk {
    /// The JSON body of `POST /v1/limits/admit`.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Reads the sidecar's answer (`status` 0 when the call failed; Envoy's own 504 when
    /// it timed out). `now_us` is the module's clock, for budget messages and resets.
    pub fn read(&self, status: u32, body: &[u8], now_us: u64) -> Answer {
        match status {
            200 => {}
            0 => return Answer::Failed("the call could not be made".into()),
            _ => {
                let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
                return Answer::Failed(format!("it answered {status}: {text}"));
            }
        }
        let answer: WireAnswer = match serde_json::from_slice(body) {
            Ok(a) => a,
            Err(e) => return Answer::Failed(format!("its answer is not an admit answer: {e}")),
        };
        if answer.status.len() != self.checks.len()
            || answer
                .status
                .iter()
                .zip(&self.checks)
                .any(|(s, (_, key))| &s.key != key)
        {
            return Answer::Failed("its answer's status does not match the checks".into());
        }
        let mut headers = RateLimitStatus::default();
        for (s, (p, _)) in answer.status.iter().zip(&self.checks) {
            if let Op::Window { counted, rate, .. } = &p.op {
                let status = WindowStatus {
                    limit: rate.amount,
                    remaining: s.remaining.min(rate.amount),
                    reset_us: s.reset_ms.saturating_mul(1000),
                };
                note(&mut headers, *counted, status);
            }
        }
        if answer.admitted {
            return self.admitted(answer.reservations, headers);
        }
        let Some((p, s)) = answer
            .refused
            .and_then(|i| self.checks.get(i).map(|(p, _)| p).zip(answer.status.get(i)))
        else {
            return Answer::Failed("its refusal names no check".into());
        };
        let mut refusal = match &p.op {
            Op::Window {
                counted,
                rate,
                window_label,
                cost,
            } => {
                // A cost that never fits was refused before asking.
                let Some(ms) = answer.retry_after_ms else {
                    return Answer::Failed("it refused a window without retry_after_ms".into());
                };
                let secs = ms.div_ceil(1000).max(1);
                window_refusal(p, *counted, rate, window_label, *cost, secs)
            }
            // The lease that ends first may run for minutes; a request usually ends sooner.
            Op::InFlight { limit } => in_flight_refusal(p, *limit),
            Op::Spend {
                monthly,
                budget,
                estimate,
            } => {
                let limit = (*budget).min(MAX_AMOUNT);
                let committed = limit.saturating_sub(s.remaining);
                budget_refusal(p, (*monthly, limit, *estimate), committed, now_us)
            }
        };
        refusal.headers = headers;
        Answer::Refused(refusal)
    }

    fn admitted(&self, reservations: Vec<WireReservation>, headers: RateLimitStatus) -> Answer {
        if reservations.len() != self.checks.len() {
            return Answer::Failed("its reservations do not match the checks".into());
        }
        let mut held = Vec::with_capacity(reservations.len());
        for (r, (p, key)) in reservations.into_iter().zip(&self.checks) {
            let (kind, settles) = match &p.op {
                Op::Window {
                    counted: Counted::Requests,
                    ..
                } => ("window", Settles::AsReserved),
                Op::Window { counted, .. } => ("window", Settles::Tokens(*counted)),
                Op::InFlight { .. } => ("concurrency", Settles::AsReserved),
                Op::Spend { .. } => ("budget", Settles::Spend),
            };
            if &r.key != key || r.kind != kind {
                return Answer::Failed("its reservations do not match the checks".into());
            }
            held.push(SidecarHold {
                id: r.id,
                key: r.key,
                kind: r.kind,
                cost: r.cost,
                settles,
            });
        }
        Answer::Admitted(Admission {
            sidecar: held,
            headers,
            ..Admission::default()
        })
    }
}

/// The body of `POST /v1/limits/settle` for an admission's sidecar reservations and what
/// the request really used; `None` when the sidecar holds nothing for it.
pub fn settle_body(admission: &Admission, actual: &Actual) -> Option<Vec<u8>> {
    if admission.sidecar.is_empty() {
        return None;
    }
    let reservations: Vec<WireReservation> = admission
        .sidecar
        .iter()
        .map(|h| WireReservation {
            id: h.id.clone(),
            key: h.key.clone(),
            kind: h.kind.clone(),
            cost: h.cost,
        })
        .collect();
    let used: Vec<u64> = admission
        .sidecar
        .iter()
        .map(|h| {
            let n = match h.settles {
                Settles::AsReserved | Settles::Tokens(Counted::Requests) => h.cost,
                Settles::Tokens(Counted::InputTokens) => actual.input_tokens,
                Settles::Tokens(Counted::OutputTokens) => actual.output_tokens,
                Settles::Tokens(Counted::TotalTokens) => {
                    actual.input_tokens.saturating_add(actual.output_tokens)
                }
                Settles::Spend => actual.cost_micro_usd,
            };
            n.min(MAX_AMOUNT)
        })
        .collect();
    Some(
        json!({ "reservations": reservations, "actual": used })
            .to_string()
            .into_bytes(),
    )
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
