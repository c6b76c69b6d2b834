//! The Redis store: entries and counters in one Redis that several sidecars share.
//!
//! Every operation that reads and writes is one Lua script (`lua/`), sent with
//! `EVALSHA` (the `redis` crate's `Script` loads it once, on the first `NOSCRIPT`), so
//! it is atomic across every client of that Redis, and its time is Redis `TIME`.
//!
//! Keys (`llm-gw:cache:v1:` + ...): `g:{ns}` a namespace's generation (no TTL),
//! `e:{ns}/{gen}/{key}` an entry (hash: stored-at ms, body; the entry's TTL),
//! `w:{key}` a window's TAT in ns, `c:{key}` a zset of leases scored by expiry (µs),
//! `b:{key}` a budget (hash: period end ms, spent, reserved), `r:{id}` an open
//! reservation. Every key but `g:` carries a TTL: run Redis with
//! `maxmemory-policy volatile-lru` (or `noeviction`) so generations are never evicted,
//! and with room enough that counters are not either. Not for Redis Cluster (the
//! scripts touch keys they compute).

use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script, Value};

use super::{Hit, Store, StoreError, StoreStats};
use crate::counters::{
    correction, split_ns, Check, Correction, Evaluation, Raw, Record, Reservation,
    RESERVATION_TTL_MS,
};
use crate::ids::new_id;
use llm_gateway::limits::Rate;

const PREFIX: &str = "llm-gw:cache:v1:";
const COMMON: &str = include_str!("lua/common.lua");

/// How long one Redis call may take before it fails (Envoy's timeout to the sidecar is
/// shorter still).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisStore {
    conn: ConnectionManager,
    get: Script,
    put: Script,
    admit: Script,
    settle: Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn malformed(what: &str) -> StoreError {
    StoreError::Unavailable(format!("redis: unexpected reply to {what}"))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); fails when Redis does not answer.
    /// Later disconnections are retried by the connection manager.
    pub async fn connect(url: &str) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--redis-url {url:?}: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| format!("cannot reach redis at {url}: {e}"))?;
        let counter_script = |body: &str| Script::new(&format!("{COMMON}\n{body}"));
        let store = RedisStore {
            conn,
            get: Script::new(include_str!("lua/get.lua")),
            put: Script::new(include_str!("lua/put.lua")),
            admit: counter_script(include_str!("lua/admit.lua")),
            settle: counter_script(include_str!("lua/settle.lua")),
        };
        // Load every script now: a syntax error shows at start, not on a request.
        let mut conn = store.conn.clone();
        for script in [&store.get, &store.put, &store.admit, &store.settle] {
            script
                .prepare_invoke()
                .load_async(&mut conn)
                .await
                .map_err(|e| format!("redis at {url} refused a script: {e}"))?;
        }
        Ok(store)
    }

    fn entry_prefix(ns: &str) -> String {
        format!("{PREFIX}e:{ns}/")
    }

    fn generation_key(ns: &str) -> String {
        format!("{PREFIX}g:{ns}")
    }

    fn counter_key(c: &Check) -> String {
        let kind = match c {
            Check::Window { .. } => 'w',
            Check::Concurrency { .. } => 'c',
            Check::Budget { .. } => 'b',
        };
        format!("{PREFIX}{kind}:{}", c.key())
    }

    fn record_key(id: &str) -> String {
        format!("{PREFIX}r:{id}")
    }

    /// Parses a record written by admit.lua: `<decided>|<kind>|...|<key>`.
    fn parse_record(s: &str) -> Option<Record> {
        let (decided, rest) = s.split_once('|')?;
        let (kind, rest) = rest.split_once('|')?;
        match kind {
            "w" => {
                let mut it = rest.splitn(4, '|');
                let window_ms: u64 = it.next()?.parse().ok()?;
                let amount = it.next()?.parse().ok()?;
                let cost = it.next()?.parse().ok()?;
                Some(Record::Window {
                    key: it.next()?.to_string(),
                    rate: Rate {
                        window_ns: window_ms * 1_000_000,
                        amount,
                    },
                    cost,
                    tat_ns: decided.parse().ok()?,
                })
            }
            "c" => Some(Record::Lease {
                key: rest.to_string(),
            }),
            "b" => {
                let (reserved, key) = rest.split_once('|')?;
                Some(Record::Budget {
                    key: key.to_string(),
                    end_ms: decided.parse().ok()?,
                    reserved: reserved.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

impl Store for RedisStore {
    async fn get(
        &self,
        ns: &str,
        key: &str,
        max_age_secs: Option<u64>,
    ) -> Result<Option<Hit>, StoreError> {
        let max_age = max_age_secs.map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX));
        let reply: Value = self
            .get
            .key(Self::generation_key(ns))
            .arg(Self::entry_prefix(ns))
            .arg(format!("/{key}"))
            .arg(max_age)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        match reply {
            Value::Nil => Ok(None),
            Value::Array(items) => match items.as_slice() {
                [Value::BulkString(body), Value::Int(age)] => Ok(Some(Hit {
                    body: Bytes::from(body.clone()),
                    age_secs: u64::try_from(*age).unwrap_or(0),
                })),
                _ => Err(malformed("get")),
            },
            _ => Err(malformed("get")),
        }
    }

    async fn put(&self, ns: &str, key: &str, body: Bytes, ttl_secs: u64) -> Result<(), StoreError> {
        let _: Value = self
            .put
            .key(Self::generation_key(ns))
            .arg(Self::entry_prefix(ns))
            .arg(format!("/{key}"))
            .arg(body.as_ref())
            .arg(ttl_secs.saturating_mul(1000))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn purge(&self, ns: &str) -> Result<Option<u64>, StoreError> {
        let _: i64 = self
            .conn
            .clone()
            .incr(Self::generation_key(ns), 1)
            .await
            .map_err(unavailable)?;
        Ok(None)
    }

    async fn admit(&self, checks: &[Check]) -> Result<Evaluation, StoreError> {
        let ids: Vec<String> = checks.iter().map(|_| new_id()).collect();
        let mut inv = self.admit.prepare_invoke();
        for c in checks {
            inv.key(Self::counter_key(c));
        }
        for id in &ids {
            inv.key(Self::record_key(id));
        }
        inv.arg(checks.len()).arg(RESERVATION_TTL_MS);
        for (c, id) in checks.iter().zip(&ids) {
            match c {
                Check::Window {
                    key,
                    window_ms,
                    amount,
                    cost,
                } => {
                    let rate = c
                        .rate()
                        .ok_or_else(|| malformed("a window without a rate"))?;
                    let (inc_us, inc_fr) = split_ns(rate.increment_ns(*cost));
                    let (win_us, win_fr) = split_ns(rate.window_ns);
                    inv.arg("w")
                        .arg(inc_us)
                        .arg(inc_fr)
                        .arg(win_us)
                        .arg(win_fr)
                        .arg(u8::from(c.never_fits()))
                        .arg(format!("w|{window_ms}|{amount}|{cost}|{key}"));
                }
                Check::Concurrency {
                    key,
                    limit,
                    lease_ms,
                } => {
                    inv.arg("c")
                        .arg(*limit)
                        .arg(*lease_ms)
                        .arg(id)
                        .arg("-")
                        .arg("-")
                        .arg(format!("c|{key}"));
                }
                Check::Budget {
                    key,
                    limit,
                    period_end_ms,
                    cost,
                } => {
                    inv.arg("b")
                        .arg(*limit)
                        .arg(*period_end_ms)
                        .arg(*cost)
                        .arg("-")
                        .arg("-")
                        .arg(format!("b|{cost}|{key}"));
                }
            }
        }
        let reply: Vec<Value> = inv
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)?;
        let items: Vec<String> = reply.iter().map(|v| text(v).unwrap_or_default()).collect();
        if items.first().map(String::as_str) == Some("period") {
            let i = items.get(1).cloned().unwrap_or_default();
            return Err(StoreError::Invalid(format!(
                "checks[{i}].period_end_ms is not after the store's clock"
            )));
        }
        let bad = || malformed("admit");
        if items.len() != 2 + 2 * checks.len() {
            return Err(bad());
        }
        let refused: usize = items[0].parse().map_err(|_| bad())?;
        let now_us: u64 = items[1].parse().map_err(|_| bad())?;
        let int = |s: &str| s.parse::<u64>().map_err(|_| bad());
        let mut raw = Vec::with_capacity(checks.len());
        for (i, c) in checks.iter().enumerate() {
            let (a, b) = (&items[2 + 2 * i], &items[3 + 2 * i]);
            raw.push(match c {
                Check::Window { .. } => Raw::Window { tat_ns: int(a)? },
                Check::Concurrency { .. } => Raw::Concurrency {
                    held: int(a)?,
                    next_expiry_ns: if b.is_empty() {
                        None
                    } else {
                        Some(int(b)? * 1000)
                    },
                },
                Check::Budget { .. } => Raw::Budget {
                    committed: int(a)?,
                    end_ms: int(b)?,
                },
            });
        }
        let reservations = if refused == 0 {
            checks
                .iter()
                .zip(ids)
                .map(|(c, id)| Reservation {
                    id,
                    key: c.key().to_string(),
                    kind: c.kind(),
                    cost: c.cost(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Evaluation {
            now_ns: now_us * 1000,
            refused: refused.checked_sub(1),
            raw,
            reservations,
        })
    }

    async fn settle(&self, reservations: &[Reservation], actual: &[u64]) -> Result<(), StoreError> {
        if reservations.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        // 1. What each reservation held (records are written once, never changed).
        let record_keys: Vec<String> = reservations
            .iter()
            .map(|r| Self::record_key(&r.id))
            .collect();
        let records: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&record_keys)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // 2. Apply each correction once: the script deletes the record as it applies it,
        //    so a second settle (or a concurrent one) finds nothing.
        let mut inv = self.settle.prepare_invoke();
        let mut any = false;
        for ((r, &a), (rec_key, rec)) in reservations
            .iter()
            .zip(actual)
            .zip(record_keys.iter().zip(records))
        {
            let Some(record) = rec.as_deref().and_then(Self::parse_record) else {
                continue;
            };
            any = true;
            match correction(&record, a) {
                Correction::Window {
                    key,
                    delta_ns,
                    fallback_tat_ns,
                } => {
                    let (us, fr) =
                        split_ns(u64::try_from(delta_ns.unsigned_abs()).unwrap_or(u64::MAX));
                    inv.key(rec_key).key(format!("{PREFIX}w:{key}"));
                    inv.arg("w")
                        .arg(if delta_ns >= 0 { "+" } else { "-" })
                        .arg(us)
                        .arg(fr)
                        .arg(fallback_tat_ns);
                }
                Correction::Release { key } => {
                    inv.key(rec_key).key(format!("{PREFIX}c:{key}"));
                    inv.arg("c").arg(&r.id).arg("-").arg("-").arg("-");
                }
                Correction::Budget {
                    key,
                    end_ms,
                    reserved,
                    actual,
                } => {
                    inv.key(rec_key).key(format!("{PREFIX}b:{key}"));
                    inv.arg("b").arg(end_ms).arg(reserved).arg(actual).arg("-");
                }
            }
        }
        if any {
            let _: Value = inv.invoke_async(&mut conn).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn stats(&self) -> StoreStats {
        let mut conn = self.conn.clone();
        let keys: Option<u64> = redis::cmd("DBSIZE").query_async(&mut conn).await.ok();
        let info: Option<String> = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn)
            .await
            .ok();
        let field = |name: &str| {
            info.as_deref()?.lines().find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(':')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        StoreStats {
            backend: "redis",
            entries: keys.map(|k| vec![("keys", k)]).unwrap_or_default(),
            bytes: field("used_memory")
                .map(|b| vec![("used_memory", b)])
                .unwrap_or_default(),
            max_bytes: field("maxmemory").filter(|&m| m > 0),
            evictions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        assert_eq!(
            RedisStore::parse_record("1700000000000000123|w|60000|5|1|r/req/a|b"),
            Some(Record::Window {
                key: "r/req/a|b".into(),
                rate: Rate {
                    window_ns: 60_000_000_000,
                    amount: 5
                },
                cost: 1,
                tat_ns: 1_700_000_000_000_000_123,
            })
        );
        assert_eq!(
            RedisStore::parse_record("-|c|k"),
            Some(Record::Lease { key: "k".into() })
        );
        assert_eq!(
            RedisStore::parse_record("1800000000000|b|25|$budget/day/x"),
            Some(Record::Budget {
                key: "$budget/day/x".into(),
                end_ms: 1_800_000_000_000,
                reserved: 25
            })
        );
        assert_eq!(RedisStore::parse_record("x|q|1"), None);
    }
}
