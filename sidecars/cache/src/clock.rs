//! The store's clock. The embedded store reads one; tests inject a [`ManualClock`] so
//! TTLs, windows and leases run out without waiting. The Redis store never reads it:
//! its time is Redis `TIME`, inside its scripts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the Unix epoch.
    fn now_ns(&self) -> u64;
}

/// Wall-clock time (the callers' period ends are wall-clock times too).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now_ns: u64) -> ManualClock {
        ManualClock(AtomicU64::new(now_ns))
    }

    /// Starts at the current wall-clock time (so period ends computed from it are sane).
    pub fn at_system_time() -> ManualClock {
        ManualClock::new(SystemClock.now_ns())
    }

    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(ns, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
