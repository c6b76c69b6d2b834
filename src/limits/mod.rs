//! `limits`: request, token and concurrency rate limits and USD budgets that hold
//! exactly across every Envoy worker.
//!
//! # Algorithm: GCRA
//! Each windowed limit is a GCRA counter per (rule, scope key). A rule allows `amount`
//! units per `window` (1s, 1m, 1h, 1d or N seconds); the emission interval is
//! `T = window / amount` and the state is the theoretical arrival time `TAT`
//! (nanoseconds since the epoch, `n*T` computed exactly and rounded down to whole
//! nanoseconds). Admitting cost `n`: `TAT' = max(TAT, now) + n*T`, allowed iff
//! `TAT' - now <= window`. So the burst capacity is `amount`, and capacity comes back
//! continuously at `amount / window`: there is no burst at window boundaries (after
//! `amount` at `t`, only half as much more fits at `t + window/2`). Over any interval of
//! length `L`, at most `amount + L/T` units are admitted. A cost larger than `amount`
//! can never fit and is refused outright, without a retry-after.
//!
//! Kinds per rule: `requests` (cost 1), `input_tokens` (counted input), `output_tokens`
//! (reserved output: `max_tokens`, or `expected_output_tokens` when absent),
//! `total_tokens` (both), and `concurrent` (in-flight count, not windowed).
//!
//! # Reserve, then settle
//! [`admit`] reserves the estimated cost in every counter that applies, all or nothing:
//! counters are visited in a fixed order (slot index, then entry key); if one refuses,
//! the ones already reserved are refunded and the request is refused. [`settle`] runs
//! after the response (also after an upstream error, a cut stream or a client that went
//! away, with whatever usage is known): token counters move by `(actual - reserved) * T`
//! (a refund when negative), request counters stay, in-flight counts go down by one
//! (never below zero), budgets replace the reservation with the real cost.
//!
//! # Budgets
//! USD per consumer per UTC day and per UTC month, in micro-USD. State: period, spent,
//! reserved. Admit iff `spent + reserved + estimate <= budget` (and the budget is not
//! already spent); the estimate stays reserved until settlement. A new period starts
//! from zero.
//!
//! # Where counters live
//! `limits.store` chooses. With `sidecar`, in the cache sidecar (and its Redis), shared
//! by every Envoy of a fleet: see [`fleet`]; the rest of this section is about
//! `shared_data`, the default.
//!
//! In a [`CounterStore`] shared by all workers (the host implements it over proxy-wasm
//! shared data with compare-and-swap). To avoid races when keys are created and to bound memory, state lives in a FIXED set
//! of slot keys `llm-gw:v1:slot:{i}`, `i` in `0..limits.slots`, that the host creates at
//! configure time ([`Limits::slot_keys`], [`empty_slot_value`]). An entry key
//! (`{rule}/{req|in|out|tot|conc}/{scope}`, `$budget/{day|month}/{consumer}`,
//! `$policy/{req|tot}/{scope}`) hashes with FNV-1a to its slot; a slot's value is a
//! compact binary list of entries (see `slot.rs`). Expired entries (TAT <= now, nothing
//! in flight, budget period over) are dropped whenever a slot is rewritten and by
//! [`sweep`] (called from `on_tick`), so shared data never grows beyond
//! `slots x live entries`.
//!
//! Every update is load -> compute -> store(cas), retried on conflict up to 32 times.
//! A missing slot key, a failed store or endless conflicts fail open: the request is
//! admitted without that slot's counters and the admission says `degraded: true`.
//!
//! # Client policy
//! With `limits.client_policy: true`, a `Helicone-RateLimit-Policy` header adds one more
//! rule for that request, scoped to the calling consumer (anonymous callers share one
//! counter); it only ever adds a limit, so it can only tighten.

mod calendar;
pub mod fleet;
mod gcra;
mod output;
mod policy;
mod rules;
mod slot;
mod status;
mod store;

#[cfg(test)]
mod tests;

pub use calendar::rfc3339;
pub use fleet::{SidecarHold, Store};
pub use gcra::Rate;
pub use output::{CapCheck, OutputCaps, OverCap};
pub use policy::{parse_client_policy, ClientPolicy, PolicyUnit, CLIENT_POLICY_HEADER};
pub use rules::{compile, parse_window, Counted, Limits, RawLimits, RawRule, Rule, Scope};
pub use slot::{empty_slot_value, slot_key, SLOT_KEY_PREFIX};
pub use status::{format_reset, RateLimitStatus, WindowStatus};
pub use store::{CounterStore, MemoryStore, StoreOutcome};

use calendar::{day_end_us, day_period, month_end_us, month_period};
use rules::consumer_scope;
use slot::{slot_of, EntryState, Slot};

/// Attempts of one load -> compute -> store(cas) cycle before giving up (fail-open).
pub const CAS_ATTEMPTS: usize = 32;

/// Rule name reported when the client's own policy refuses.
pub const CLIENT_POLICY_RULE: &str = "@client-policy";

/// Who is asking, as the identity stage decided, and for which model.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Consumer id; None for an anonymous caller.
    pub consumer: Option<&'a str>,
    /// Consumer group or tier.
    pub group: Option<&'a str>,
    /// The requested model.
    pub model: &'a str,
    /// The consumer's budgets (ignored for anonymous callers).
    pub budget: Option<Budget>,
}

/// Spending limits of one consumer, micro-USD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub daily_micro_usd: Option<u64>,
    pub monthly_micro_usd: Option<u64>,
}

/// What a request is expected to use, reserved at admission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Demand {
    pub input_tokens: u64,
    /// From [`Limits::reserved_output`].
    pub reserved_output_tokens: u64,
    pub estimated_cost_micro_usd: u64,
}

/// What a request really used, known after the response (zero output when the stream
/// was cut before any usage was known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actual {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
}

/// Which kind of limit refused a request (a bounded metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Requests,
    Tokens,
    Concurrency,
    Budget,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
            LimitKind::Concurrency => "concurrency",
            LimitKind::Budget => "budget",
        }
    }
}

/// A refused request. The host answers 429: `insufficient_quota` for
/// [`LimitKind::Budget`], `rate_limit_exceeded` otherwise, with `retry-after` (plus
/// jitter) when `retry_after_secs` is set. `retry_after_secs: None` on a rate limit
/// means the request can never fit (its cost exceeds the rule's amount).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: LimitKind,
    /// The rule that refused (`@client-policy` for the client's own policy, `budget`).
    pub rule: String,
    pub retry_after_secs: Option<u64>,
    /// For the client.
    pub message: String,
    pub headers: RateLimitStatus,
}

/// What one admitted request holds in one counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub slot: u32,
    pub entry: String,
    pub held: Held,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A GCRA reservation of `cost` units, which moved the TAT by `increment_ns` to
    /// `tat_ns`.
    Window {
        counted: Counted,
        rate: Rate,
        cost: u64,
        increment_ns: u64,
        tat_ns: u64,
    },
    /// One request in flight.
    InFlight,
    /// `reserved` micro-USD in the budget period `period`.
    Spend {
        monthly: bool,
        period: u32,
        reserved: u64,
    },
}

/// An admitted request: what it reserved where, for [`settle`] (shared data) or
/// [`fleet::settle_body`] (the sidecar).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    pub reservations: Vec<Reservation>,
    /// What the cache sidecar holds for it (`limits.store: "sidecar"`).
    pub sidecar: Vec<SidecarHold>,
    /// The tightest request and token rules, for response headers.
    pub headers: RateLimitStatus,
    /// Some counter could not be read or written, and the request was admitted without
    /// it (fail-open). The host logs it.
    pub degraded: bool,
}

/// One counter a request must pass, before it is tried.
#[derive(Debug, Clone)]
struct Planned {
    slot: u32,
    entry: String,
    rule: String,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Window {
        counted: Counted,
        rate: Rate,
        window_label: String,
        cost: u64,
    },
    InFlight {
        limit: u64,
    },
    Spend {
        monthly: bool,
        budget: u64,
        estimate: u64,
    },
}

fn plan(
    limits: &Limits,
    subject: &Subject,
    demand: &Demand,
    policy: Option<&ClientPolicy>,
) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut push = |entry: String, rule: &str, op: Op| {
        out.push(Planned {
            slot: slot_of(&entry, limits.slots),
            entry,
            rule: rule.to_string(),
            op,
        })
    };
    let cost_of = |counted: Counted| match counted {
        Counted::Requests => 1,
        Counted::InputTokens => demand.input_tokens,
        Counted::OutputTokens => demand.reserved_output_tokens,
        Counted::TotalTokens => demand
            .input_tokens
            .saturating_add(demand.reserved_output_tokens),
    };
    for rule in &limits.rules {
        let Some(scope) = rule.scope_key(subject.consumer, subject.group, subject.model) else {
            continue;
        };
        for &(counted, amount) in &rule.windowed {
            push(
                format!("{}/{}/{scope}", rule.name, counted.code()),
                &rule.name,
                Op::Window {
                    counted,
                    rate: rule.rate(amount),
                    window_label: rule.window_label.clone(),
                    cost: cost_of(counted),
                },
            );
        }
        if let Some(limit) = rule.concurrent {
            push(
                format!("{}/conc/{scope}", rule.name),
                &rule.name,
                Op::InFlight { limit },
            );
        }
    }
    if let Some(p) = policy.filter(|_| limits.client_policy) {
        let counted = match p.unit {
            PolicyUnit::Request => Counted::Requests,
            PolicyUnit::Token => Counted::TotalTokens,
        };
        // One counter per consumer and unit whatever the window: a client cannot grow
        // shared data by varying its policy.
        push(
            format!(
                "$policy/{}/{}",
                counted.code(),
                consumer_scope(subject.consumer)
            ),
            CLIENT_POLICY_RULE,
            Op::Window {
                counted,
                rate: Rate {
                    window_ns: p.window_secs * 1_000_000_000,
                    amount: p.quota,
                },
                window_label: format!("{}s", p.window_secs),
                cost: cost_of(counted),
            },
        );
    }
    if let (Some(consumer), Some(budget)) = (subject.consumer, subject.budget) {
        for (monthly, amount) in [
            (false, budget.daily_micro_usd),
            (true, budget.monthly_micro_usd),
        ] {
            if let Some(amount) = amount {
                let period = if monthly { "month" } else { "day" };
                push(
                    format!("$budget/{period}/{consumer}"),
                    "budget",
                    Op::Spend {
                        monthly,
                        budget: amount,
                        estimate: demand.estimated_cost_micro_usd,
                    },
                );
            }
        }
    }
    out.sort_by(|a, b| (a.slot, &a.entry).cmp(&(b.slot, &b.entry)));
    out
}

fn usd(micro: u64) -> String {
    format!("${}.{:02}", micro / 1_000_000, micro % 1_000_000 / 10_000)
}

fn period_of(monthly: bool, now_us: u64) -> u32 {
    if monthly {
        month_period(now_us)
    } else {
        day_period(now_us)
    }
}

fn period_end_us(monthly: bool, period: u32) -> u64 {
    if monthly {
        month_end_us(period)
    } else {
        day_end_us(period)
    }
}

fn note(headers: &mut RateLimitStatus, counted: Counted, s: WindowStatus) {
    match counted {
        Counted::Requests => headers.note_requests(s),
        _ => headers.note_tokens(s),
    }
}

fn merge(into: &mut RateLimitStatus, from: &RateLimitStatus) {
    if let Some(s) = from.requests {
        into.note_requests(s);
    }
    if let Some(s) = from.tokens {
        into.note_tokens(s);
    }
}

/// Tries one planned counter on a decoded slot: the reservation, or a refusal.
// A refusal is the answer itself, returned once per request: not worth boxing.
#[allow(clippy::result_large_err)]
fn reserve_one(
    slot: &mut Slot,
    p: &Planned,
    now_us: u64,
    headers: &mut RateLimitStatus,
) -> Result<Held, Refusal> {
    let now_ns = now_us.saturating_mul(1000);
    match &p.op {
        Op::Window {
            counted,
            rate,
            window_label,
            cost,
        } => {
            let tat = match slot.entries.get(&p.entry) {
                Some(EntryState::Window { tat_ns }) => *tat_ns,
                _ => 0,
            };
            match rate.reserve(tat, now_ns, *cost) {
                Ok(new_tat) => {
                    if new_tat != tat && *cost > 0 {
                        slot.entries
                            .insert(p.entry.clone(), EntryState::Window { tat_ns: new_tat });
                    }
                    note(headers, *counted, rate.status(new_tat, now_ns));
                    Ok(Held::Window {
                        counted: *counted,
                        rate: *rate,
                        cost: *cost,
                        increment_ns: if *cost > 0 {
                            rate.increment_ns(*cost)
                        } else {
                            0
                        },
                        tat_ns: new_tat,
                    })
                }
                Err(wait_ns) => {
                    note(headers, *counted, rate.status(tat, now_ns));
                    let secs = wait_ns.div_ceil(1_000_000_000).max(1);
                    Err(window_refusal(p, *counted, rate, window_label, *cost, secs))
                }
            }
        }
        Op::InFlight { limit } => {
            let count = match slot.entries.get(&p.entry) {
                Some(EntryState::InFlight { count }) => *count,
                _ => 0,
            };
            if u64::from(count) + 1 > *limit {
                return Err(in_flight_refusal(p, *limit));
            }
            slot.entries
                .insert(p.entry.clone(), EntryState::InFlight { count: count + 1 });
            Ok(Held::InFlight)
        }
        Op::Spend {
            monthly,
            budget,
            estimate,
        } => {
            let period = period_of(*monthly, now_us);
            let (spent, reserved) = match slot.entries.get(&p.entry) {
                Some(EntryState::Spend {
                    period: p0,
                    spent,
                    reserved,
                    ..
                }) if *p0 == period => (*spent, *reserved),
                _ => (0, 0),
            };
            let committed = spent.saturating_add(reserved);
            if committed >= *budget || committed.saturating_add(*estimate) > *budget {
                return Err(budget_refusal(
                    p,
                    (*monthly, *budget, *estimate),
                    committed,
                    now_us,
                ));
            }
            slot.entries.insert(
                p.entry.clone(),
                EntryState::Spend {
                    monthly: *monthly,
                    period,
                    spent,
                    reserved: reserved + estimate,
                },
            );
            Ok(Held::Spend {
                monthly: *monthly,
                period,
                reserved: *estimate,
            })
        }
    }
}

/// A window that is full for now: try again in `secs`.
fn window_refusal(
    p: &Planned,
    counted: Counted,
    rate: &Rate,
    window_label: &str,
    cost: u64,
    secs: u64,
) -> Refusal {
    Refusal {
        kind: kind_of(counted),
        rule: p.rule.clone(),
        retry_after_secs: Some(secs),
        message: format!(
            "Rate limit reached for {} (rule {}: {} per {window_label}; requested {cost}). Please try again in {secs}s.",
            counted.noun(),
            p.rule,
            rate.amount
        ),
        headers: RateLimitStatus::default(),
    }
}

/// `limit` requests in flight already.
fn in_flight_refusal(p: &Planned, limit: u64) -> Refusal {
    Refusal {
        kind: LimitKind::Concurrency,
        rule: p.rule.clone(),
        retry_after_secs: Some(1),
        message: format!(
            "Too many requests in flight (rule {}: at most {limit} at once). Please try again when one has finished.",
            p.rule
        ),
        headers: RateLimitStatus::default(),
    }
}

/// A budget of `budget` micro-USD with `committed` spent or reserved in the period of
/// `now_us` has no room for the request's `estimate`: it renews at the period's end.
fn budget_refusal(
    p: &Planned,
    (monthly, budget, estimate): (bool, u64, u64),
    committed: u64,
    now_us: u64,
) -> Refusal {
    let end = period_end_us(monthly, period_of(monthly, now_us));
    let which = if monthly { "monthly" } else { "daily" };
    let message = if committed >= budget {
        format!(
            "You have used your {which} budget of {}. It renews at {}.",
            usd(budget),
            rfc3339(end)
        )
    } else {
        format!(
            "This request's estimated cost of {} would exceed your {which} budget of {} ({} left). It renews at {}.",
            usd(estimate),
            usd(budget),
            usd(budget - committed),
            rfc3339(end)
        )
    };
    Refusal {
        kind: LimitKind::Budget,
        rule: p.rule.clone(),
        retry_after_secs: Some(end.saturating_sub(now_us).div_ceil(1_000_000).max(1)),
        message,
        headers: RateLimitStatus::default(),
    }
}

/// A cost above a rule's amount never fits: the refusal, before any counter is touched.
fn never_fits(planned: &[Planned]) -> Option<Refusal> {
    planned.iter().find_map(|p| match &p.op {
        Op::Window {
            counted,
            rate,
            window_label,
            cost,
        } if *cost > rate.amount => Some(Refusal {
            kind: kind_of(*counted),
            rule: p.rule.clone(),
            retry_after_secs: None,
            message: format!(
                "This request needs {cost} {} but rule {} allows at most {} per {window_label}; reduce the prompt or max_tokens.",
                counted.noun(),
                p.rule,
                rate.amount
            ),
            headers: RateLimitStatus::default(),
        }),
        _ => None,
    })
}

fn kind_of(counted: Counted) -> LimitKind {
    match counted {
        Counted::Requests => LimitKind::Requests,
        _ => LimitKind::Tokens,
    }
}

/// How one slot update ended.
enum Update<T, E> {
    Done(T),
    Rejected(E),
    /// The slot key is missing, the store failed, or conflicts never ended.
    Unavailable,
}

/// load -> decode -> drop expired -> `f` -> store(cas), retried on conflict. `f` runs
/// on a fresh copy each attempt. Nothing is written when `f` changed nothing.
fn update_slot<T, E>(
    store: &dyn CounterStore,
    slot: u32,
    now_us: u64,
    mut f: impl FnMut(&mut Slot) -> Result<T, E>,
) -> (Update<T, E>, bool) {
    let key = slot_key(slot);
    let mut corrupt = false;
    for _ in 0..CAS_ATTEMPTS {
        let Some((bytes, cas)) = store.load(&key) else {
            return (Update::Unavailable, corrupt);
        };
        let mut decoded = match Slot::decode(&bytes) {
            Ok(s) => s,
            Err(_) => {
                corrupt = true;
                Slot::default()
            }
        };
        decoded.drop_expired(now_us);
        let value = match f(&mut decoded) {
            Ok(v) => v,
            Err(e) => return (Update::Rejected(e), corrupt),
        };
        let encoded = decoded.encode();
        if encoded == bytes {
            return (Update::Done(value), corrupt);
        }
        match store.store(&key, &encoded, cas) {
            StoreOutcome::Stored => return (Update::Done(value), corrupt),
            StoreOutcome::Conflict => continue,
            StoreOutcome::Failed => return (Update::Unavailable, corrupt),
        }
    }
    (Update::Unavailable, corrupt)
}

/// Decides whether a request may go upstream, reserving its estimated cost in every
/// counter that applies (all or nothing).
#[allow(clippy::result_large_err)]
pub fn admit(
    limits: &Limits,
    store: &dyn CounterStore,
    subject: &Subject,
    demand: &Demand,
    policy: Option<&ClientPolicy>,
    now_us: u64,
) -> Result<Admission, Refusal> {
    let planned = plan(limits, subject, demand, policy);
    if let Some(refusal) = never_fits(&planned) {
        return Err(refusal);
    }
    let mut admission = Admission::default();
    let mut start = 0;
    while start < planned.len() {
        let slot = planned[start].slot;
        let end = start
            + planned[start..]
                .iter()
                .take_while(|p| p.slot == slot)
                .count();
        let group = &planned[start..end];
        start = end;
        let (outcome, corrupt) = update_slot(store, slot, now_us, |s| {
            let mut headers = RateLimitStatus::default();
            let mut held = Vec::with_capacity(group.len());
            for p in group {
                match reserve_one(s, p, now_us, &mut headers) {
                    Ok(h) => held.push(h),
                    Err(mut refusal) => {
                        refusal.headers = headers;
                        return Err(refusal);
                    }
                }
            }
            Ok((held, headers))
        });
        admission.degraded |= corrupt;
        match outcome {
            Update::Done((held, headers)) => {
                merge(&mut admission.headers, &headers);
                for (p, h) in group.iter().zip(held) {
                    admission.reservations.push(Reservation {
                        slot,
                        entry: p.entry.clone(),
                        held: h,
                    });
                }
            }
            Update::Rejected(mut refusal) => {
                release(store, &admission.reservations, None, now_us);
                merge(&mut refusal.headers, &admission.headers);
                return Err(refusal);
            }
            Update::Unavailable => admission.degraded = true,
        }
    }
    Ok(admission)
}

/// Corrects an admitted request's reservations with what it really used. Call it once
/// per admitted request, whatever happened upstream.
pub fn settle(
    _limits: &Limits,
    store: &dyn CounterStore,
    admission: &Admission,
    actual: &Actual,
    now_us: u64,
) {
    release(store, &admission.reservations, Some(actual), now_us);
}

/// Settles (`actual` known) or rolls back (`None`: as if never reserved).
fn release(
    store: &dyn CounterStore,
    reservations: &[Reservation],
    actual: Option<&Actual>,
    now_us: u64,
) {
    let mut start = 0;
    while start < reservations.len() {
        let slot = reservations[start].slot;
        let end = start
            + reservations[start..]
                .iter()
                .take_while(|r| r.slot == slot)
                .count();
        let group = &reservations[start..end];
        start = end;
        // Best effort: a lost correction errs on the side of fewer admissions.
        let _ = update_slot(store, slot, now_us, |s| {
            for r in group {
                correct(s, r, actual, now_us);
            }
            Ok::<(), ()>(())
        });
    }
}

fn correct(slot: &mut Slot, r: &Reservation, actual: Option<&Actual>, now_us: u64) {
    let now_ns = now_us.saturating_mul(1000);
    let current = slot.entries.get(&r.entry).copied();
    match r.held {
        Held::Window {
            counted,
            rate,
            increment_ns,
            tat_ns,
            ..
        } => {
            // The increment this request should have cost.
            let due_ns = match (actual, counted) {
                (None, _) => 0,
                (Some(_), Counted::Requests) => return,
                (Some(a), Counted::InputTokens) => rate.increment_ns(a.input_tokens),
                (Some(a), Counted::OutputTokens) => rate.increment_ns(a.output_tokens),
                (Some(a), Counted::TotalTokens) => {
                    rate.increment_ns(a.input_tokens.saturating_add(a.output_tokens))
                }
            };
            if due_ns == increment_ns {
                return;
            }
            let base = match current {
                Some(EntryState::Window { tat_ns }) => tat_ns,
                // Swept since: its TAT had passed, and it was at least ours.
                _ if due_ns > increment_ns => tat_ns,
                _ => return,
            };
            let new_tat = if due_ns > increment_ns {
                base.saturating_add(due_ns - increment_ns)
            } else {
                base.saturating_sub(increment_ns - due_ns)
            };
            if new_tat <= now_ns {
                slot.entries.remove(&r.entry);
            } else {
                slot.entries
                    .insert(r.entry.clone(), EntryState::Window { tat_ns: new_tat });
            }
        }
        Held::InFlight => {
            if let Some(EntryState::InFlight { count }) = current {
                if count <= 1 {
                    slot.entries.remove(&r.entry);
                } else {
                    slot.entries
                        .insert(r.entry.clone(), EntryState::InFlight { count: count - 1 });
                }
            }
        }
        Held::Spend {
            monthly,
            period,
            reserved,
        } => {
            let now_period = period_of(monthly, now_us);
            let (mut spent, mut held) = match current {
                Some(EntryState::Spend {
                    period: p,
                    spent,
                    reserved,
                    ..
                }) if p == now_period => (spent, reserved),
                _ => (0, 0),
            };
            if period == now_period {
                held = held.saturating_sub(reserved);
            }
            // A request that straddles a period change is charged to the new period.
            spent = spent.saturating_add(actual.map_or(0, |a| a.cost_micro_usd));
            if spent == 0 && held == 0 {
                slot.entries.remove(&r.entry);
            } else {
                slot.entries.insert(
                    r.entry.clone(),
                    EntryState::Spend {
                        monthly,
                        period: now_period,
                        spent,
                        reserved: held,
                    },
                );
            }
        }
    }
}

/// Drops expired entries from every slot (call from `on_tick`). A slot that cannot be
/// decoded is reset.
pub fn sweep(limits: &Limits, store: &dyn CounterStore, now_us: u64) {
    for i in 0..limits.slots {
        let key = slot_key(i);
        let Some((bytes, cas)) = store.load(&key) else {
            continue;
        };
        let mut slot = Slot::decode(&bytes).unwrap_or_default();
        slot.drop_expired(now_us);
        let encoded = slot.encode();
        if encoded != bytes {
            // One attempt: on conflict, whoever wrote has just dropped expired entries.
            let _ = store.store(&key, &encoded, cas);
        }
    }
}
