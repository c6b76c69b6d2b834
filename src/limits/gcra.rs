//! GCRA (generic cell rate algorithm) on one counter, in nanoseconds.
//!
//! A rule allows `amount` units per `window`. The emission interval is
//! `T = window / amount`; the state is the theoretical arrival time `tat`. Admitting a
//! cost `n`: `tat' = max(tat, now) + n*T`, allowed iff `tat' - now <= window`.
//! `n*T` is computed exactly in 128-bit integers and rounded down to whole
//! nanoseconds, so a full burst of `amount` always fits and the rate error is below one
//! nanosecond per admission.

use super::status::WindowStatus;

/// One rule's rate: `amount` units per `window_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub window_ns: u64,
    pub amount: u64,
}

impl Rate {
    /// `cost * T` in nanoseconds (rounded down).
    pub fn increment_ns(&self, cost: u64) -> u64 {
        let ns = u128::from(cost) * u128::from(self.window_ns) / u128::from(self.amount.max(1));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Reserves `cost` on a counter at `tat_ns`: the new TAT, or how many nanoseconds
    /// until the cost would fit. The caller refuses `cost > amount` before this.
    pub fn reserve(&self, tat_ns: u64, now_ns: u64, cost: u64) -> Result<u64, u64> {
        let new_tat = tat_ns.max(now_ns).saturating_add(self.increment_ns(cost));
        let ahead = new_tat - now_ns;
        if ahead <= self.window_ns {
            Ok(new_tat)
        } else {
            Err(ahead - self.window_ns)
        }
    }

    /// Where the counter stands: the largest cost admissible now, and the time until
    /// the bucket is full again.
    pub fn status(&self, tat_ns: u64, now_ns: u64) -> WindowStatus {
        let used = tat_ns.saturating_sub(now_ns);
        let free = u128::from(self.window_ns.saturating_sub(used));
        let w = u128::from(self.window_ns.max(1));
        // The largest k with floor(k * W / A) <= free.
        let fits = ((free + 1) * u128::from(self.amount)).saturating_sub(1) / w;
        WindowStatus {
            limit: self.amount,
            remaining: u64::try_from(fits).unwrap_or(u64::MAX).min(self.amount),
            reset_us: used.div_ceil(1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn admit_all(rate: &Rate, tat: &mut u64, now: u64, tries: u64) -> u64 {
        let mut admitted = 0;
        for _ in 0..tries {
            if let Ok(t) = rate.reserve(*tat, now, 1) {
                *tat = t;
                admitted += 1;
            }
        }
        admitted
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let rate = Rate {
            window_ns: 60 * SEC,
            amount: 5,
        };
        let now = 1_000 * SEC;
        let mut tat = 0;
        assert_eq!(rate.status(tat, now).remaining, 5);
        assert_eq!(admit_all(&rate, &mut tat, now, 10), 5);
        assert_eq!(rate.status(tat, now).remaining, 0);
        assert_eq!(rate.status(tat, now).reset_us, 60_000_000);
        // The next unit fits after exactly T = 12 s.
        assert_eq!(rate.reserve(tat, now, 1), Err(12 * SEC));
        assert_eq!(admit_all(&rate, &mut tat, now + 12 * SEC - 1, 1), 0);
        assert_eq!(admit_all(&rate, &mut tat, now + 12 * SEC, 3), 1);
        // A full window later the bucket is full again.
        assert_eq!(rate.status(tat, now + 72 * SEC).remaining, 5);
    }

    #[test]
    fn no_burst_at_window_boundaries() {
        let rate = Rate {
            window_ns: 60 * SEC,
            amount: 100,
        };
        let t = 7 * SEC;
        let mut tat = 0;
        assert_eq!(admit_all(&rate, &mut tat, t, 1000), 100);
        assert_eq!(admit_all(&rate, &mut tat, t + 30 * SEC, 1000), 50);
        assert_eq!(admit_all(&rate, &mut tat, t + 60 * SEC, 1000), 50);
    }

    #[test]
    fn uneven_rates_still_allow_a_full_burst() {
        for (window_ns, amount) in [(SEC, 3), (SEC, 7), (60 * SEC, 100_000), (SEC, SEC)] {
            let rate = Rate { window_ns, amount };
            let tat = rate.reserve(0, SEC, amount).unwrap();
            assert_eq!(rate.status(tat, SEC).remaining, 0, "{rate:?}");
            assert!(rate.reserve(tat, SEC, 1).is_err());
            assert_eq!(rate.status(0, SEC).remaining, amount);
        }
    }

    #[test]
    fn remaining_is_exactly_what_would_be_admitted() {
        let rate = Rate {
            window_ns: SEC,
            amount: 100_000,
        };
        let now = 10 * SEC;
        let tat = rate.reserve(0, now, 33_333).unwrap();
        let rem = rate.status(tat, now).remaining;
        assert!(rate.reserve(tat, now, rem).is_ok());
        assert!(rate.reserve(tat, now, rem + 1).is_err());
    }
}
