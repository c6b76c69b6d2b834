//! The value of one shared-data slot: a small binary list of `(entry key, state)`.
//!
//! Layout (little-endian): `version u8 = 1`, `count u16`, then per entry
//! `key_len u16, key bytes, tag u8, payload`:
//! - tag 1 window (GCRA): `tat_ns u64`
//! - tag 2 in-flight: `count u32`
//! - tag 3 daily spend, tag 4 monthly spend: `period u32, spent u64, reserved u64`
//!
//! Entries are kept sorted by key; expired ones are dropped whenever a slot is rewritten.

use std::collections::BTreeMap;

use super::calendar::{day_period, month_period};

/// Prefix of every slot key in shared data.
pub const SLOT_KEY_PREFIX: &str = "llm-gw:v1:slot:";

const VERSION: u8 = 1;

/// The shared-data key of slot `i`.
pub fn slot_key(i: u32) -> String {
    format!("{SLOT_KEY_PREFIX}{i}")
}

/// 64-bit FNV-1a: stable across builds and platforms, so every worker agrees on slots.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The slot that holds `entry`.
pub fn slot_of(entry: &str, slots: u32) -> u32 {
    (fnv1a(entry.as_bytes()) % u64::from(slots.max(1))) as u32
}

/// State of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// GCRA theoretical arrival time, nanoseconds since the epoch.
    Window { tat_ns: u64 },
    /// Requests in flight.
    InFlight { count: u32 },
    /// Money in micro-USD for one UTC day (`monthly: false`, period = day number) or
    /// month (`monthly: true`, period = `year * 12 + month - 1`).
    Spend {
        monthly: bool,
        period: u32,
        spent: u64,
        reserved: u64,
    },
}

impl EntryState {
    /// True when the entry carries no information any more and can be dropped.
    pub fn expired(&self, now_us: u64) -> bool {
        match *self {
            EntryState::Window { tat_ns } => tat_ns <= now_us.saturating_mul(1000),
            EntryState::InFlight { count } => count == 0,
            EntryState::Spend {
                monthly, period, ..
            } => {
                let current = if monthly {
                    month_period(now_us)
                } else {
                    day_period(now_us)
                };
                period < current
            }
        }
    }
}

/// The decoded entries of one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slot {
    pub entries: BTreeMap<String, EntryState>,
}

/// The value a slot key is created with: a slot without entries.
pub fn empty_slot_value() -> Vec<u8> {
    Slot::default().encode()
}

impl Slot {
    /// Drops expired entries; true when any was dropped.
    pub fn drop_expired(&mut self, now_us: u64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|_, s| !s.expired(now_us));
        self.entries.len() != before
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.entries.len() * 32);
        out.push(VERSION);
        let count = self.entries.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(count as u16).to_le_bytes());
        for (key, state) in self.entries.iter().take(count) {
            let key = &key.as_bytes()[..key.len().min(usize::from(u16::MAX))];
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key);
            match *state {
                EntryState::Window { tat_ns } => {
                    out.push(1);
                    out.extend_from_slice(&tat_ns.to_le_bytes());
                }
                EntryState::InFlight { count } => {
                    out.push(2);
                    out.extend_from_slice(&count.to_le_bytes());
                }
                EntryState::Spend {
                    monthly,
                    period,
                    spent,
                    reserved,
                } => {
                    out.push(if monthly { 4 } else { 3 });
                    out.extend_from_slice(&period.to_le_bytes());
                    out.extend_from_slice(&spent.to_le_bytes());
                    out.extend_from_slice(&reserved.to_le_bytes());
                }
            }
        }
        out
    }

    /// Decodes a slot value. An empty value is an empty slot (the host may create slot
    /// keys with no bytes); anything malformed is an error.
    pub fn decode(bytes: &[u8]) -> Result<Slot, String> {
        if bytes.is_empty() {
            return Ok(Slot::default());
        }
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(format!("unknown slot version {version}"));
        }
        let count = r.u16()?;
        let mut entries = BTreeMap::new();
        for _ in 0..count {
            let len = usize::from(r.u16()?);
            let key = std::str::from_utf8(r.take(len)?)
                .map_err(|_| "entry key is not UTF-8".to_string())?
                .to_string();
            let state = match r.u8()? {
                1 => EntryState::Window { tat_ns: r.u64()? },
                2 => EntryState::InFlight { count: r.u32()? },
                tag @ (3 | 4) => EntryState::Spend {
                    monthly: tag == 4,
                    period: r.u32()?,
                    spent: r.u64()?,
                    reserved: r.u64()?,
                },
                tag => return Err(format!("unknown entry tag {tag}")),
            };
            entries.insert(key, state);
        }
        if r.pos != bytes.len() {
            return Err("trailing bytes after the last entry".into());
        }
        Ok(Slot { entries })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| "slot value is truncated".to_string())?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_reference_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert!(slot_of("anything", 256) < 256);
        assert_eq!(slot_of("anything", 1), 0);
    }

    #[test]
    fn slot_round_trips_and_drops_expired_entries() {
        let now_us = 1_700_000_000_000_000;
        let mut slot = Slot::default();
        slot.entries.insert(
            "a/req/global".into(),
            EntryState::Window {
                tat_ns: now_us * 1000 + 5,
            },
        );
        slot.entries.insert(
            "b/req/global".into(),
            EntryState::Window {
                tat_ns: now_us * 1000,
            },
        );
        slot.entries
            .insert("c/conc/anonymous".into(), EntryState::InFlight { count: 2 });
        slot.entries
            .insert("d/conc/anonymous".into(), EntryState::InFlight { count: 0 });
        let day = day_period(now_us);
        for (key, period) in [("$budget/day/x", day), ("$budget/day/y", day - 1)] {
            slot.entries.insert(
                key.into(),
                EntryState::Spend {
                    monthly: false,
                    period,
                    spent: 7,
                    reserved: 3,
                },
            );
        }
        slot.entries.insert(
            "$budget/month/x".into(),
            EntryState::Spend {
                monthly: true,
                period: month_period(now_us),
                spent: u64::MAX,
                reserved: 0,
            },
        );
        let bytes = slot.encode();
        assert_eq!(Slot::decode(&bytes).unwrap(), slot);
        assert!(slot.drop_expired(now_us));
        let keys: Vec<&str> = slot.entries.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "$budget/day/x",
                "$budget/month/x",
                "a/req/global",
                "c/conc/anonymous"
            ]
        );
        assert!(!slot.drop_expired(now_us));
        assert_eq!(Slot::decode(&[]).unwrap(), Slot::default());
        assert_eq!(Slot::decode(&empty_slot_value()).unwrap(), Slot::default());
        assert!(Slot::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Slot::decode(&[2, 0, 0]).is_err());
        let mut extra = empty_slot_value();
        extra.push(0);
        assert!(Slot::decode(&extra).is_err());
    }
}
