//! Limits counters: the checks of `POST /v1/limits/admit`, the reservations that
//! `POST /v1/limits/settle` takes back, and the arithmetic both stores share.
//!
//! Each store decides admits itself, atomically (the embedded store under one lock in
//! Rust, the Redis store in one Lua script), and hands back the raw state of every
//! counter it looked at ([`Evaluation`]); what the caller sees (status, retry-after) is
//! derived from that raw state here, once. Settling is planned here too ([`correction`])
//! from the record admit left under the reservation id, and applied by the store.
//!
//! Windows are GCRA in nanoseconds, exactly as the module's `src/limits/gcra.rs`
//! ([`Rate`] is that code): `T = window / amount`, `tat' = max(tat, now) + n*T` with
//! `n*T` rounded down to whole nanoseconds, allowed iff `tat' - now <= window`.

use llm_gateway::limits::Rate;
use serde::{Deserialize, Serialize};

use crate::names::{valid_counter_key, valid_id};

/// At most this many checks in one admit, and reservations in one settle.
pub const MAX_CHECKS: usize = 64;
/// Longest window: 366 days.
pub const MAX_WINDOW_MS: u64 = 366 * 86_400_000;
/// Largest window amount, cost, budget limit or actual (10^15: Redis keeps sums in
/// doubles, exact to 2^53).
pub const MAX_AMOUNT: u64 = 1_000_000_000_000_000;
/// Most leases one concurrency counter may hold.
pub const MAX_LEASES: u64 = 1_000_000;
/// Longest lease: one day.
pub const MAX_LEASE_MS: u64 = 86_400_000;
/// Latest period end, epoch ms (the year 2286): in nanoseconds it still fits a u64.
pub const MAX_PERIOD_END_MS: u64 = 10_000_000_000_000;
/// How long an open window or budget reservation can still be settled. A later settle
/// finds nothing and changes nothing (a budget reservation then stays held until its
/// period ends: the error is on the side of fewer admissions).
pub const RESERVATION_TTL_MS: u64 = 3_600_000;

const NS_PER_MS: u64 = 1_000_000;

/// One counter a request must pass.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// GCRA: `amount` units per `window_ms`; reserves `cost`.
    Window {
        key: String,
        window_ms: u64,
        amount: u64,
        cost: u64,
    },
    /// At most `limit` unexpired leases; a lease expires by itself after `lease_ms`.
    Concurrency {
        key: String,
        limit: u64,
        lease_ms: u64,
    },
    /// At most `limit` (micro-USD) spent plus reserved until `period_end_ms`; reserves
    /// `cost`.
    Budget {
        key: String,
        limit: u64,
        period_end_ms: u64,
        cost: u64,
    },
}

/// The three kinds' names, as on the wire and in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Window,
    Concurrency,
    Budget,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Window => "window",
            Kind::Concurrency => "concurrency",
            Kind::Budget => "budget",
        }
    }
}

impl Check {
    pub fn window(key: &str, window_ms: u64, amount: u64, cost: u64) -> Check {
        Check::Window {
            key: key.into(),
            window_ms,
            amount,
            cost,
        }
    }

    pub fn concurrency(key: &str, limit: u64, lease_ms: u64) -> Check {
        Check::Concurrency {
            key: key.into(),
            limit,
            lease_ms,
        }
    }

    pub fn budget(key: &str, limit: u64, period_end_ms: u64, cost: u64) -> Check {
        Check::Budget {
            key: key.into(),
            limit,
            period_end_ms,
            cost,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Check::Window { key, .. }
            | Check::Concurrency { key, .. }
            | Check::Budget { key, .. } => key,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Check::Window { .. } => Kind::Window,
            Check::Concurrency { .. } => Kind::Concurrency,
            Check::Budget { .. } => Kind::Budget,
        }
    }

    /// What this check reserves (a lease counts 1).
    pub fn cost(&self) -> u64 {
        match self {
            Check::Window { cost, .. } | Check::Budget { cost, .. } => *cost,
            Check::Concurrency { .. } => 1,
        }
    }

    /// The window's rate (windows only).
    pub fn rate(&self) -> Option<Rate> {
        match *self {
            Check::Window {
                window_ms, amount, ..
            } => Some(Rate {
                window_ns: window_ms * NS_PER_MS,
                amount,
            }),
            _ => None,
        }
    }

    /// A cost that can never fit: above a window's amount or a budget's limit.
    pub fn never_fits(&self) -> bool {
        match *self {
            Check::Window { amount, cost, .. } => cost > amount,
            Check::Budget { limit, cost, .. } => cost > limit,
            Check::Concurrency { .. } => false,
        }
    }
}

/// `POST /v1/limits/admit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitRequest {
    pub checks: Vec<Check>,
}

impl AdmitRequest {
    /// Every rule a check must keep, worded as the rule it broke.
    pub fn validate(&self) -> Result<(), String> {
        if self.checks.len() > MAX_CHECKS {
            return Err(format!(
                "checks holds at most {MAX_CHECKS} checks (got {})",
                self.checks.len()
            ));
        }
        for (i, c) in self.checks.iter().enumerate() {
            let at = |field: &str| format!("checks[{i}].{field}");
            if !valid_counter_key(c.key()) {
                return Err(format!(
                    "{} must be 1-512 bytes of visible ASCII (got {:?})",
                    at("key"),
                    c.key()
                ));
            }
            let range = |field: &str, v: u64, lo: u64, hi: u64| {
                if (lo..=hi).contains(&v) {
                    Ok(())
                } else {
                    Err(format!("{} must be {lo}..={hi} (got {v})", at(field)))
                }
            };
            match *c {
                Check::Window {
                    window_ms,
                    amount,
                    cost,
                    ..
                } => {
                    range("window_ms", window_ms, 1, MAX_WINDOW_MS)?;
                    range("amount", amount, 1, MAX_AMOUNT)?;
                    range("cost", cost, 0, MAX_AMOUNT)?;
                }
                Check::Concurrency {
                    limit, lease_ms, ..
                } => {
                    range("limit", limit, 1, MAX_LEASES)?;
                    range("lease_ms", lease_ms, 1, MAX_LEASE_MS)?;
                }
                Check::Budget {
                    limit,
                    period_end_ms,
                    cost,
                    ..
                } => {
                    range("limit", limit, 0, MAX_AMOUNT)?;
                    range("period_end_ms", period_end_ms, 1, MAX_PERIOD_END_MS)?;
                    range("cost", cost, 0, MAX_AMOUNT)?;
                }
            }
            if let Some(j) = self.checks[..i]
                .iter()
                .position(|d| d.kind() == c.kind() && d.key() == c.key())
            {
                return Err(format!(
                    "{} repeats checks[{j}] ({} {:?}): one check per counter",
                    at("key"),
                    c.kind().as_str(),
                    c.key()
                ));
            }
        }
        Ok(())
    }
}

/// What settle needs back, one per admitted check. Settle looks the reservation up by
/// `id` (the store keeps what it reserved under it); `key`, `kind` and `cost` are echoed
/// for the reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// Reservation id; for a concurrency check, the lease id.
    pub id: String,
    pub key: String,
    pub kind: Kind,
    /// What was reserved (1 for a lease).
    pub cost: u64,
}

/// `POST /v1/limits/settle`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleRequest {
    pub reservations: Vec<Reservation>,
    /// One actual cost per reservation (ignored for a lease, which is released).
    pub actual: Vec<u64>,
}

impl SettleRequest {
    pub fn validate(&self) -> Result<(), String> {
        if self.reservations.len() != self.actual.len() {
            return Err(format!(
                "actual must hold one cost per reservation ({} reservations, {} actual)",
                self.reservations.len(),
                self.actual.len()
            ));
        }
        if self.reservations.len() > MAX_CHECKS {
            return Err(format!(
                "reservations holds at most {MAX_CHECKS} (got {})",
                self.reservations.len()
            ));
        }
        for (i, (r, &a)) in self.reservations.iter().zip(&self.actual).enumerate() {
            if !valid_id(&r.id) {
                return Err(format!(
                    "reservations[{i}].id must be the 32 hex digits admit returned (got {:?})",
                    r.id
                ));
            }
            if a > MAX_AMOUNT {
                return Err(format!("actual[{i}] must be 0..={MAX_AMOUNT} (got {a})"));
            }
        }
        Ok(())
    }
}

/// The state of one checked counter, as the store saw it: after the admit when the
/// request was admitted, before it (unchanged) when it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raw {
    /// GCRA theoretical arrival time (0: an empty bucket).
    Window { tat_ns: u64 },
    /// Unexpired leases held, and when the earliest of them expires.
    Concurrency {
        held: u64,
        next_expiry_ns: Option<u64>,
    },
    /// Spent plus reserved in the period that ends at `end_ms`.
    Budget { committed: u64, end_ms: u64 },
}

/// What a store's admit decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The store's clock when it decided.
    pub now_ns: u64,
    /// The first check that refused; None: admitted.
    pub refused: Option<usize>,
    /// One per check.
    pub raw: Vec<Raw>,
    /// One per check when admitted, empty when refused.
    pub reservations: Vec<Reservation>,
}

/// Where one counter stands, for the module's rate-limit headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub key: String,
    /// Units (requests, tokens, leases, micro-USD) that would still be admitted now.
    pub remaining: u64,
    /// Milliseconds until the counter is full again (window), the earliest lease expires
    /// (concurrency), or the period ends (budget).
    pub reset_ms: u64,
}

/// The answer of `POST /v1/limits/admit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AdmitAnswer {
    Admitted {
        admitted: bool,
        reservations: Vec<Reservation>,
        status: Vec<Status>,
    },
    Refused {
        admitted: bool,
        refused: usize,
        /// When the refused check would fit; None when it never can.
        retry_after_ms: Option<u64>,
        status: Vec<Status>,
    },
}

fn ceil_ms(ns: u64) -> u64 {
    ns.div_ceil(NS_PER_MS)
}

/// The caller's view of an evaluation: status per check, and retry-after on refusal.
pub fn answer(checks: &[Check], ev: Evaluation) -> AdmitAnswer {
    let now = ev.now_ns;
    let status = checks
        .iter()
        .zip(&ev.raw)
        .map(|(c, raw)| {
            let (remaining, reset_ms) = match (c, *raw) {
                (Check::Window { .. }, Raw::Window { tat_ns }) => {
                    let rate = c.rate().unwrap_or(Rate {
                        window_ns: 1,
                        amount: 1,
                    });
                    let s = rate.status(tat_ns, now);
                    (s.remaining, s.reset_us.div_ceil(1000))
                }
                (
                    Check::Concurrency { limit, .. },
                    Raw::Concurrency {
                        held,
                        next_expiry_ns,
                    },
                ) => (
                    limit.saturating_sub(held),
                    next_expiry_ns.map_or(0, |e| ceil_ms(e.saturating_sub(now))),
                ),
                (Check::Budget { limit, .. }, Raw::Budget { committed, end_ms }) => (
                    limit.saturating_sub(committed),
                    ceil_ms(end_ms.saturating_mul(NS_PER_MS).saturating_sub(now)),
                ),
                _ => (0, 0),
            };
            Status {
                key: c.key().to_string(),
                remaining,
                reset_ms,
            }
        })
        .collect();
    match ev.refused {
        None => AdmitAnswer::Admitted {
            admitted: true,
            reservations: ev.reservations,
            status,
        },
        Some(i) => AdmitAnswer::Refused {
            admitted: false,
            refused: i,
            retry_after_ms: checks
                .get(i)
                .zip(ev.raw.get(i))
                .and_then(|(c, raw)| retry_after_ms(c, *raw, now)),
            status,
        },
    }
}

/// When a refused check would fit, from the state that refused it.
fn retry_after_ms(c: &Check, raw: Raw, now: u64) -> Option<u64> {
    if c.never_fits() {
        return None;
    }
    let wait_ns = match (c, raw) {
        (Check::Window { cost, .. }, Raw::Window { tat_ns }) => {
            c.rate()?.reserve(tat_ns, now, *cost).err()?
        }
        (Check::Concurrency { .. }, Raw::Concurrency { next_expiry_ns, .. }) => {
            next_expiry_ns?.saturating_sub(now)
        }
        (Check::Budget { .. }, Raw::Budget { end_ms, .. }) => {
            end_ms.saturating_mul(NS_PER_MS).saturating_sub(now)
        }
        _ => return None,
    };
    Some(ceil_ms(wait_ns).max(1))
}

/// What a store keeps under a reservation id until it is settled or runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `cost` reserved on a window with `rate`, which left the TAT at `tat_ns`.
    Window {
        key: String,
        rate: Rate,
        cost: u64,
        tat_ns: u64,
    },
    /// A lease (the id is the lease id).
    Lease { key: String },
    /// `reserved` micro-USD in the period that ends at `end_ms`.
    Budget {
        key: String,
        end_ms: u64,
        reserved: u64,
    },
}

/// What settling one reservation does to its counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correction {
    /// Move the TAT by `delta_ns` (never below now: at or below, the counter is
    /// dropped). A counter that has expired since starts from `fallback_tat_ns` when the
    /// correction is a charge, and is left alone when it is a refund.
    Window {
        key: String,
        delta_ns: i128,
        fallback_tat_ns: u64,
    },
    /// Release the lease.
    Release { key: String },
    /// Replace the reservation with the actual cost: in the same period, `reserved`
    /// leaves the held sum and `actual` joins the spent sum; when the counter has moved
    /// to a newer period, `actual` is charged there (a request that straddles a period
    /// end is charged to the new period).
    Budget {
        key: String,
        end_ms: u64,
        reserved: u64,
        actual: u64,
    },
}

/// The correction that settling `record` with `actual` asks for.
pub fn correction(record: &Record, actual: u64) -> Correction {
    match record {
        Record::Window {
            key,
            rate,
            cost,
            tat_ns,
        } => Correction::Window {
            key: key.clone(),
            delta_ns: i128::from(rate.increment_ns(actual)) - i128::from(rate.increment_ns(*cost)),
            fallback_tat_ns: *tat_ns,
        },
        Record::Lease { key } => Correction::Release { key: key.clone() },
        Record::Budget {
            key,
            end_ms,
            reserved,
        } => Correction::Budget {
            key: key.clone(),
            end_ms: *end_ms,
            reserved: *reserved,
            actual,
        },
    }
}

/// The TAT a window correction leaves: None drops the counter.
pub fn corrected_tat(
    current: Option<u64>,
    delta_ns: i128,
    fallback: u64,
    now_ns: u64,
) -> Option<u64> {
    let base = match current {
        Some(tat) => tat,
        None if delta_ns > 0 => fallback,
        None => return None,
    };
    let new = (i128::from(base) + delta_ns).clamp(0, i128::from(u64::MAX)) as u64;
    (new > now_ns).then_some(new)
}

/// Splits nanoseconds into (microseconds, nanoseconds 0..1000): the Lua scripts do
/// exact arithmetic on such pairs (Lua numbers are doubles, exact to 2^53 only).
pub fn split_ns(ns: u64) -> (u64, u64) {
    (ns / 1000, ns % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    use Check as C;

    #[test]
    fn checks_parse_and_validate() {
        let req: AdmitRequest = serde_json::from_str(
            r#"{"checks":[{"key":"r/req/a","kind":"window","window_ms":60000,"amount":5,"cost":1},
            {"key":"r/conc/a","kind":"concurrency","limit":2,"lease_ms":30000},
            {"key":"$budget/day/a","kind":"budget","limit":50000,"period_end_ms":1800000000000,"cost":10}]}"#,
        )
        .unwrap();
        assert_eq!(req.checks.len(), 3);
        assert_eq!(req.validate(), Ok(()));
        let bad = |json: &str| {
            serde_json::from_str::<AdmitRequest>(json)
                .map_err(|e| e.to_string())
                .and_then(|r| r.validate())
                .unwrap_err()
        };
        assert!(bad(
            r#"{"checks":[{"key":"k","kind":"window","window_ms":0,"amount":5,"cost":1}]}"#
        )
        .contains("checks[0].window_ms must be 1..="));
        assert!(bad(r#"{"checks":[{"key":"k","kind":"nope"}]}"#).contains("unknown variant"));
        assert!(bad(
            r#"{"checks":[{"key":"k","kind":"concurrency","limit":1,"lease_ms":5,"x":1}]}"#
        )
        .contains("unknown field"));
        assert!(
            bad(r#"{"checks":[{"key":"a b","kind":"concurrency","limit":1,"lease_ms":5}]}"#)
                .contains("checks[0].key")
        );
        let dup = r#"{"checks":[{"key":"k","kind":"concurrency","limit":1,"lease_ms":5},
            {"key":"k","kind":"concurrency","limit":2,"lease_ms":5}]}"#;
        assert!(bad(dup).contains("checks[1].key repeats checks[0]"));
    }

    #[test]
    fn answers_derive_status_and_retry_after() {
        let now = 1_000 * 1_000_000_000;
        let checks = [C::window("w", 60_000, 5, 1)];
        // Five admitted: the TAT is a full window ahead.
        let ev = Evaluation {
            now_ns: now,
            refused: Some(0),
            raw: vec![Raw::Window {
                tat_ns: now + 60_000 * NS_PER_MS,
            }],
            reservations: vec![],
        };
        let AdmitAnswer::Refused {
            retry_after_ms,
            status,
            ..
        } = answer(&checks, ev)
        else {
            panic!("refused")
        };
        assert_eq!(retry_after_ms, Some(12_000));
        assert_eq!(status[0].remaining, 0);
        assert_eq!(status[0].reset_ms, 60_000);
        let never = [C::window("w", 60_000, 5, 6)];
        let ev = Evaluation {
            now_ns: now,
            refused: Some(0),
            raw: vec![Raw::Window { tat_ns: 0 }],
            reservations: vec![],
        };
        let json = serde_json::to_value(answer(&never, ev)).unwrap();
        assert_eq!(json["retry_after_ms"], serde_json::Value::Null);
        assert_eq!(json["admitted"], false);
    }

    #[test]
    fn corrections() {
        let rate = Rate {
            window_ns: 60_000 * NS_PER_MS,
            amount: 60,
        };
        let rec = Record::Window {
            key: "k".into(),
            rate,
            cost: 10,
            tat_ns: 500,
        };
        let Correction::Window { delta_ns, .. } = correction(&rec, 4) else {
            panic!()
        };
        assert_eq!(delta_ns, -6_000_000_000);
        assert_eq!(
            corrected_tat(Some(10_000_000_000), delta_ns, 0, 1),
            Some(4_000_000_000)
        );
        assert_eq!(
            corrected_tat(Some(10_000_000_000), delta_ns, 0, 5_000_000_000),
            None
        );
        assert_eq!(corrected_tat(None, delta_ns, 7, 1), None);
        assert_eq!(corrected_tat(None, 100, 7, 1), Some(107));
        assert_eq!(
            split_ns(1_700_000_000_123_456_789),
            (1_700_000_000_123_456, 789)
        );
    }
}
