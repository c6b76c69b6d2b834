//! The embedded store: everything in this process, bounded by `--max-bytes`.
//!
//! - Cache entries live in a `moka` cache weighed in bytes (key + body +
//!   [`ENTRY_OVERHEAD_BYTES`]), with a per-entry TTL and TinyLFU admission and eviction,
//!   bounded by 7/8 of `max_bytes`. moka applies evictions in batches; after a write
//!   that may have crossed the bound, pending evictions run at once, so the bound holds
//!   after every PUT.
//! - Counters, leases, open reservations and namespace generations share the other
//!   1/8, weighed the same way. They are never evicted (that would admit more than a
//!   limit): an admit that needs room the bound does not have is refused with
//!   [`StoreError::Full`] after a sweep; expired ones are swept every second.
//! - A purge bumps the namespace's generation, which every entry key includes: O(1),
//!   and the old entries are unreachable at once and age out by TTL or the bound.
//! - Time is the injected [`Clock`]: expiry and age are checked against it on every
//!   read, so tests move time without waiting (moka's own TTL, on the real clock, only
//!   reclaims memory).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::notification::RemovalCause;
use moka::sync::Cache;
use moka::Expiry;

use super::{Hit, Store, StoreError, StoreStats};
use crate::clock::Clock;
use crate::counters::{
    corrected_tat, correction, Check, Correction, Evaluation, Raw, Record, Reservation,
    RESERVATION_TTL_MS,
};
use crate::ids::new_id;

/// What one cache entry costs beyond its key and body (moka's node, timer and
/// frequency bookkeeping, our header), for the byte bound.
pub const ENTRY_OVERHEAD_BYTES: usize = 160;
/// What one counter, lease, reservation record or generation costs beyond its key.
const COUNTER_OVERHEAD_BYTES: u64 = 96;
const LEASE_BYTES: u64 = 56;

const NS_PER_MS: u64 = 1_000_000;
const FULL_SWEEP_EVERY_NS: u64 = 100 * NS_PER_MS;

#[derive(Clone)]
struct Entry {
    body: Bytes,
    stored_ns: u64,
    expires_ns: u64,
    ttl: Duration,
}

struct EntryTtl;

impl Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _: &String, value: &Entry, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        value: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

fn entry_weight(key: &str, body_len: usize) -> u64 {
    (key.len() + body_len + ENTRY_OVERHEAD_BYTES) as u64
}

/// One item of the counters table, keyed `w:`, `c:`, `b:` + counter key, `r:` + id.
#[derive(Debug, Clone)]
enum Counter {
    Window {
        tat_ns: u64,
    },
    Leases(Vec<(String, u64)>),
    Budget {
        end_ms: u64,
        spent: u64,
        reserved: u64,
    },
    Record {
        record: Record,
        expires_ns: u64,
    },
}

impl Counter {
    fn live(&self, now_ns: u64) -> bool {
        match self {
            Counter::Window { tat_ns } => *tat_ns > now_ns,
            Counter::Leases(leases) => leases.iter().any(|(_, e)| *e > now_ns),
            Counter::Budget { end_ms, .. } => end_ms.saturating_mul(NS_PER_MS) > now_ns,
            Counter::Record { expires_ns, .. } => *expires_ns > now_ns,
        }
    }

    fn weight(&self, key: &str) -> u64 {
        let extra = match self {
            Counter::Leases(leases) => leases.len() as u64 * LEASE_BYTES,
            Counter::Record {
                record:
                    Record::Window { key, .. } | Record::Lease { key } | Record::Budget { key, .. },
                ..
            } => key.len() as u64,
            _ => 0,
        };
        key.len() as u64 + COUNTER_OVERHEAD_BYTES + extra
    }
}

#[derive(Default)]
struct Counters {
    map: HashMap<String, Counter>,
    bytes: u64,
    last_sweep_ns: u64,
}

impl Counters {
    /// The item under `key` unless it has expired.
    fn live(&self, key: &str, now_ns: u64) -> Option<&Counter> {
        self.map.get(key).filter(|c| c.live(now_ns))
    }

    fn set(&mut self, key: String, value: Counter) {
        self.bytes += value.weight(&key);
        if let Some(old) = self.map.insert(key.clone(), value) {
            self.bytes -= old.weight(&key);
        }
    }

    fn remove(&mut self, key: &str) -> Option<Counter> {
        let old = self.map.remove(key)?;
        self.bytes -= old.weight(key);
        Some(old)
    }

    /// Sweeps when a write found no room, at most every [`FULL_SWEEP_EVERY_NS`]: a full
    /// table must not cost a whole sweep per refused admit.
    fn sweep_for_room(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_sweep_ns) >= FULL_SWEEP_EVERY_NS {
            self.sweep(now_ns);
        }
    }

    fn sweep(&mut self, now_ns: u64) {
        self.last_sweep_ns = now_ns;
        self.map.retain(|_, c| {
            if let Counter::Leases(leases) = c {
                leases.retain(|(_, e)| *e > now_ns);
            }
            c.live(now_ns)
        });
        self.bytes = self.map.iter().map(|(k, c)| c.weight(k)).sum();
    }
}

/// What one check would do, decided before anything is written.
struct Decision {
    ok: bool,
    before: Raw,
    after: Raw,
    /// The counter's new value, when admitted (None: unchanged).
    write: Option<(String, Counter)>,
    id: String,
    record: Record,
    record_expires_ns: u64,
}

pub struct EmbeddedStore {
    clock: Arc<dyn Clock>,
    entries: Cache<String, Entry>,
    entry_capacity: u64,
    /// Bytes written to `entries` since moka last applied its pending evictions.
    unsettled: AtomicU64,
    generations: RwLock<HashMap<String, u64>>,
    generation_bytes: AtomicU64,
    counters: Mutex<Counters>,
    side_capacity: u64,
    max_bytes: u64,
    evicted_size: Arc<AtomicU64>,
    evicted_expired: Arc<AtomicU64>,
}

impl EmbeddedStore {
    /// A store that holds at most `max_bytes`: 7/8 for cache entries, 1/8 for
    /// counters, leases, reservations and namespace generations.
    pub fn new(max_bytes: u64, clock: Arc<dyn Clock>) -> EmbeddedStore {
        let side_capacity = max_bytes / 8;
        let entry_capacity = max_bytes - side_capacity;
        let evicted_size = Arc::new(AtomicU64::new(0));
        let evicted_expired = Arc::new(AtomicU64::new(0));
        let (size, expired) = (Arc::clone(&evicted_size), Arc::clone(&evicted_expired));
        let entries = Cache::builder()
            .max_capacity(entry_capacity)
            .weigher(|k: &String, v: &Entry| {
                u32::try_from(entry_weight(k, v.body.len())).unwrap_or(u32::MAX)
            })
            .expire_after(EntryTtl)
            .eviction_listener(move |_, _, cause| {
                let counter = match cause {
                    RemovalCause::Size => &size,
                    RemovalCause::Expired => &expired,
                    _ => return,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .build();
        EmbeddedStore {
            clock,
            entries,
            entry_capacity,
            unsettled: AtomicU64::new(0),
            generations: RwLock::new(HashMap::new()),
            generation_bytes: AtomicU64::new(0),
            counters: Mutex::new(Counters::default()),
            side_capacity,
            max_bytes,
            evicted_size,
            evicted_expired,
        }
    }

    fn entry_key(&self, ns: &str, key: &str) -> String {
        let generation = self
            .generations
            .read()
            .map_or(0, |g| g.get(ns).copied().unwrap_or(0));
        format!("{ns}/{generation}/{key}")
    }

    fn counters(&self) -> MutexGuard<'_, Counters> {
        // A panic while holding the lock cannot leave a half-applied admit (all writes
        // come after every decision), so a poisoned lock is still consistent.
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn side_bytes(&self, counters: &Counters) -> u64 {
        counters.bytes + self.generation_bytes.load(Ordering::Relaxed)
    }

    fn decide(c: &Check, counters: &Counters, now: u64) -> Result<Decision, String> {
        let id = new_id();
        let record_expires_ns = now + RESERVATION_TTL_MS * NS_PER_MS;
        Ok(match c {
            Check::Window { key, cost, .. } => {
                let rate = c.rate().ok_or("a window has a rate")?;
                let map_key = format!("w:{key}");
                let tat = match counters.live(&map_key, now) {
                    Some(Counter::Window { tat_ns }) => *tat_ns,
                    _ => 0,
                };
                let reserved = (!c.never_fits())
                    .then(|| rate.reserve(tat, now, *cost).ok())
                    .flatten();
                let new_tat = reserved.unwrap_or(tat);
                Decision {
                    ok: reserved.is_some(),
                    before: Raw::Window { tat_ns: tat },
                    after: Raw::Window { tat_ns: new_tat },
                    write: (*cost > 0).then_some((map_key, Counter::Window { tat_ns: new_tat })),
                    id,
                    record: Record::Window {
                        key: key.clone(),
                        rate,
                        cost: *cost,
                        tat_ns: new_tat,
                    },
                    record_expires_ns,
                }
            }
            Check::Concurrency {
                key,
                limit,
                lease_ms,
            } => {
                let map_key = format!("c:{key}");
                let mut leases: Vec<(String, u64)> = match counters.live(&map_key, now) {
                    Some(Counter::Leases(l)) => {
                        l.iter().filter(|(_, e)| *e > now).cloned().collect()
                    }
                    _ => Vec::new(),
                };
                let held = leases.len() as u64;
                let next = leases.iter().map(|(_, e)| *e).min();
                let expires = now + lease_ms * NS_PER_MS;
                let ok = held < *limit;
                leases.push((id.clone(), expires));
                Decision {
                    ok,
                    before: Raw::Concurrency {
                        held,
                        next_expiry_ns: next,
                    },
                    after: Raw::Concurrency {
                        held: held + 1,
                        next_expiry_ns: Some(next.map_or(expires, |n| n.min(expires))),
                    },
                    write: Some((map_key, Counter::Leases(leases))),
                    id,
                    record: Record::Lease { key: key.clone() },
                    record_expires_ns: expires,
                }
            }
            Check::Budget {
                key,
                limit,
                period_end_ms,
                cost,
            } => {
                if period_end_ms.saturating_mul(NS_PER_MS) <= now {
                    return Err(format!(
                        "period_end_ms {period_end_ms} is not after the store's clock ({} ms)",
                        now / NS_PER_MS
                    ));
                }
                let map_key = format!("b:{key}");
                let (end_ms, spent, reserved) = match counters.live(&map_key, now) {
                    Some(Counter::Budget {
                        end_ms,
                        spent,
                        reserved,
                    }) if *end_ms >= *period_end_ms => (*end_ms, *spent, *reserved),
                    _ => (*period_end_ms, 0, 0),
                };
                let committed = spent.saturating_add(reserved);
                let ok = committed < *limit && committed.saturating_add(*cost) <= *limit;
                Decision {
                    ok,
                    before: Raw::Budget { committed, end_ms },
                    after: Raw::Budget {
                        committed: committed.saturating_add(*cost),
                        end_ms,
                    },
                    write: Some((
                        map_key,
                        Counter::Budget {
                            end_ms,
                            spent,
                            reserved: reserved.saturating_add(*cost),
                        },
                    )),
                    id,
                    record: Record::Budget {
                        key: key.clone(),
                        end_ms,
                        reserved: *cost,
                    },
                    record_expires_ns,
                }
            }
        })
    }

    fn apply(counters: &mut Counters, fix: Correction, now: u64) {
        match fix {
            Correction::Window {
                key,
                delta_ns,
                fallback_tat_ns,
            } => {
                let map_key = format!("w:{key}");
                let current = match counters.live(&map_key, now) {
                    Some(Counter::Window { tat_ns }) => Some(*tat_ns),
                    _ => None,
                };
                match corrected_tat(current, delta_ns, fallback_tat_ns, now) {
                    Some(tat_ns) => counters.set(map_key, Counter::Window { tat_ns }),
                    None => {
                        counters.remove(&map_key);
                    }
                }
            }
            Correction::Release { key: _ } => {}
            Correction::Budget {
                key,
                end_ms,
                reserved,
                actual,
            } => {
                let map_key = format!("b:{key}");
                let next = match counters.live(&map_key, now) {
                    Some(Counter::Budget {
                        end_ms: e,
                        spent,
                        reserved: held,
                    }) => Some(Counter::Budget {
                        end_ms: *e,
                        spent: spent.saturating_add(actual),
                        reserved: if *e == end_ms {
                            held.saturating_sub(reserved)
                        } else {
                            *held
                        },
                    }),
                    _ if end_ms.saturating_mul(NS_PER_MS) > now && actual > 0 => {
                        Some(Counter::Budget {
                            end_ms,
                            spent: actual,
                            reserved: 0,
                        })
                    }
                    _ => None,
                };
                if let Some(next) = next {
                    counters.set(map_key, next);
                }
            }
        }
    }

    /// Releases lease `id` of counter `key`.
    fn release(counters: &mut Counters, key: &str, id: &str) {
        let map_key = format!("c:{key}");
        let Some(Counter::Leases(mut leases)) = counters.remove(&map_key) else {
            return;
        };
        leases.retain(|(l, _)| l != id);
        if !leases.is_empty() {
            counters.set(map_key, Counter::Leases(leases));
        }
    }
}

impl Store for EmbeddedStore {
    async fn get(
        &self,
        ns: &str,
        key: &str,
        max_age_secs: Option<u64>,
    ) -> Result<Option<Hit>, StoreError> {
        let k = self.entry_key(ns, key);
        let Some(entry) = self.entries.get(&k) else {
            return Ok(None);
        };
        let now = self.clock.now_ns();
        if entry.expires_ns <= now {
            self.entries.invalidate(&k);
            return Ok(None);
        }
        let age_secs = now.saturating_sub(entry.stored_ns) / 1_000_000_000;
        if max_age_secs.is_some_and(|max| age_secs > max) {
            return Ok(None);
        }
        Ok(Some(Hit {
            body: entry.body,
            age_secs,
        }))
    }

    async fn put(&self, ns: &str, key: &str, body: Bytes, ttl_secs: u64) -> Result<(), StoreError> {
        let k = self.entry_key(ns, key);
        let now = self.clock.now_ns();
        let ttl = Duration::from_secs(ttl_secs);
        let weight = entry_weight(&k, body.len());
        self.entries.insert(
            k,
            Entry {
                body,
                stored_ns: now,
                expires_ns: now.saturating_add(ttl_secs.saturating_mul(1_000_000_000)),
                ttl,
            },
        );
        // moka evicts in batches; apply them now when this write may have crossed the
        // bound, so the bytes held never stay above it.
        let unsettled = self.unsettled.fetch_add(weight, Ordering::Relaxed) + weight;
        if self.entries.weighted_size() + unsettled > self.entry_capacity {
            self.entries.run_pending_tasks();
            self.unsettled.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn purge(&self, ns: &str) -> Result<Option<u64>, StoreError> {
        let mut generations = self.generations.write().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = generations.get_mut(ns) {
            *g += 1;
            return Ok(None);
        }
        let weight = ns.len() as u64 + COUNTER_OVERHEAD_BYTES;
        let mut counters = self.counters();
        if self.side_bytes(&counters) + weight > self.side_capacity {
            counters.sweep_for_room(self.clock.now_ns());
            if self.side_bytes(&counters) + weight > self.side_capacity {
                return Err(StoreError::Full(format!(
                    "no room for another namespace generation within --max-bytes {}",
                    self.max_bytes
                )));
            }
        }
        self.generation_bytes.fetch_add(weight, Ordering::Relaxed);
        generations.insert(ns.to_string(), 1);
        Ok(None)
    }

    async fn admit(&self, checks: &[Check]) -> Result<Evaluation, StoreError> {
        let mut counters = self.counters();
        let now = self.clock.now_ns();
        let mut decisions = Vec::with_capacity(checks.len());
        for (i, c) in checks.iter().enumerate() {
            let d = Self::decide(c, &counters, now)
                .map_err(|e| StoreError::Invalid(format!("checks[{i}].{e}")))?;
            decisions.push(d);
        }
        if let Some(refused) = decisions.iter().position(|d| !d.ok) {
            return Ok(Evaluation {
                now_ns: now,
                refused: Some(refused),
                raw: decisions.iter().map(|d| d.before).collect(),
                reservations: Vec::new(),
            });
        }
        // Room for what this admit adds (an upper bound: new counters, a lease, a record).
        let growth: u64 = decisions
            .iter()
            .map(|d| {
                let counter = d.write.as_ref().map_or(0, |(k, v)| {
                    let old = counters.map.get(k).map_or(0, |o| o.weight(k));
                    v.weight(k).saturating_sub(old)
                });
                counter + 2 + d.id.len() as u64 + COUNTER_OVERHEAD_BYTES + d.record_key_len()
            })
            .sum();
        if self.side_bytes(&counters) + growth > self.side_capacity {
            counters.sweep_for_room(now);
            if self.side_bytes(&counters) + growth > self.side_capacity {
                return Err(StoreError::Full(format!(
                    "no room for more counters within --max-bytes {} (1/8 of it holds counters)",
                    self.max_bytes
                )));
            }
        }
        let mut reservations = Vec::with_capacity(checks.len());
        let mut raw = Vec::with_capacity(checks.len());
        for (c, d) in checks.iter().zip(decisions) {
            if let Some((k, v)) = d.write {
                counters.set(k, v);
            }
            counters.set(
                format!("r:{}", d.id),
                Counter::Record {
                    record: d.record,
                    expires_ns: d.record_expires_ns,
                },
            );
            raw.push(d.after);
            reservations.push(Reservation {
                id: d.id,
                key: c.key().to_string(),
                kind: c.kind(),
                cost: c.cost(),
            });
        }
        Ok(Evaluation {
            now_ns: now,
            refused: None,
            raw,
            reservations,
        })
    }

    async fn settle(&self, reservations: &[Reservation], actual: &[u64]) -> Result<(), StoreError> {
        let mut counters = self.counters();
        let now = self.clock.now_ns();
        for (r, &a) in reservations.iter().zip(actual) {
            let Some(Counter::Record { record, expires_ns }) =
                counters.remove(&format!("r:{}", r.id))
            else {
                continue;
            };
            if expires_ns <= now {
                continue;
            }
            match correction(&record, a) {
                Correction::Release { key } => Self::release(&mut counters, &key, &r.id),
                fix => Self::apply(&mut counters, fix, now),
            }
        }
        Ok(())
    }

    async fn stats(&self) -> StoreStats {
        // moka counts entries and weight as it applies its pending work.
        self.entries.run_pending_tasks();
        let (counter_entries, counter_bytes) = {
            let c = self.counters();
            let generations = self.generations.read().map_or(0, |g| g.len());
            ((c.map.len() + generations) as u64, self.side_bytes(&c))
        };
        StoreStats {
            backend: "embedded",
            entries: vec![
                ("cache", self.entries.entry_count()),
                ("counters", counter_entries),
            ],
            bytes: vec![
                ("cache", self.entries.weighted_size()),
                ("counters", counter_bytes),
            ],
            max_bytes: Some(self.max_bytes),
            evictions: vec![
                ("size", self.evicted_size.load(Ordering::Relaxed)),
                ("expired", self.evicted_expired.load(Ordering::Relaxed)),
            ],
        }
    }

    fn sweep(&self) {
        self.entries.run_pending_tasks();
        self.unsettled.store(0, Ordering::Relaxed);
        let now = self.clock.now_ns();
        self.counters().sweep(now);
    }
}

impl Decision {
    fn record_key_len(&self) -> u64 {
        match &self.record {
            Record::Window { key, .. } | Record::Lease { key } | Record::Budget { key, .. } => {
                key.len() as u64
            }
        }
    }
}
