//! Failure injection that does not depend on the client: a failure rate drawn from a
//! seeded PRNG, a slow first byte, and a "down" switch. Set by CLI flags and changed at
//! runtime through `/__mock/{down,up,config,stats}`, so several mock instances can play
//! several providers behind one Envoy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What a provider request meets while the mock is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DownMode {
    /// Answer `failure_status` (default 503) in the protocol's error envelope.
    #[default]
    Status,
    /// Close the connection without answering.
    Reset,
    /// Answer nothing until the mock is up again, then answer normally.
    Hang,
}

impl DownMode {
    pub fn parse(text: &str) -> Result<DownMode, String> {
        match text {
            "status" => Ok(DownMode::Status),
            "reset" => Ok(DownMode::Reset),
            "hang" => Ok(DownMode::Hang),
            other => Err(format!(
                "--down-mode must be status, reset or hang (got {other:?})"
            )),
        }
    }
}

/// The instance's defaults: CLI flags, some changeable at runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultConfig {
    /// Reported in `x-mock-name` and in the request log.
    pub name: String,
    /// Fraction of provider requests answered with `failure_status`, 0.0..=1.0.
    pub failure_rate: f64,
    /// Status of injected failures (and of `down` in `status` mode), 400..=599.
    pub failure_status: u16,
    /// Seed of the failure draws: request N fails iff draw(seed, N) < failure_rate.
    pub seed: u64,
    /// Wait before the first response byte of every provider request.
    pub ttft_ms: u64,
    pub down_mode: DownMode,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            name: "mock".to_string(),
            failure_rate: 0.0,
            failure_status: 503,
            seed: 0,
            ttft_ms: 0,
            down_mode: DownMode::Status,
        }
    }
}

pub fn check_rate(rate: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("failure_rate must be 0.0..=1.0 (got {rate})"))
    }
}

pub fn check_status(status: u16) -> Result<u16, String> {
    if (400..=599).contains(&status) {
        Ok(status)
    } else {
        Err(format!("failure_status must be 400..=599 (got {status})"))
    }
}

/// The body of `POST /__mock/config`: each field present replaces the current value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    pub failure_rate: Option<f64>,
    pub failure_status: Option<u16>,
    pub ttft_ms: Option<u64>,
    pub down_mode: Option<DownMode>,
}

/// Why a provider request fails before any header says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// The failure-rate draw chose this request.
    Rate,
    /// The mock is down (in `status` or `reset` mode).
    Down(DownMode),
}

/// The runtime state of failure injection.
#[derive(Debug, Default)]
pub struct Faults {
    config: Mutex<FaultConfig>,
    down: Mutex<bool>,
    up_again: Condvar,
    /// Provider requests seen; also the index of the next failure draw.
    requests: AtomicU64,
    by_rate: AtomicU64,
    while_down: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults {
            config: Mutex::new(config),
            ..Default::default()
        }
    }

    pub fn config(&self) -> FaultConfig {
        lock(&self.config).clone()
    }

    pub fn name(&self) -> String {
        lock(&self.config).name.clone()
    }

    /// Applies a `POST /__mock/config` body; nothing changes when one field is invalid.
    pub fn patch(&self, body: &[u8]) -> Result<FaultConfig, String> {
        let patch: ConfigPatch =
            serde_json::from_slice(body).map_err(|e| format!("config body: {e}"))?;
        let rate = patch.failure_rate.map(check_rate).transpose()?;
        let status = patch.failure_status.map(check_status).transpose()?;
        let mut config = lock(&self.config);
        if let Some(rate) = rate {
            config.failure_rate = rate;
        }
        if let Some(status) = status {
            config.failure_status = status;
        }
        if let Some(ttft) = patch.ttft_ms {
            config.ttft_ms = ttft;
        }
        if let Some(mode) = patch.down_mode {
            config.down_mode = mode;
        }
        Ok(config.clone())
    }

    pub fn set_down(&self, down: bool) {
        *lock(&self.down) = down;
        if !down {
            self.up_again.notify_all();
        }
    }

    pub fn is_down(&self) -> bool {
        *lock(&self.down)
    }

    /// Counts one provider request and decides whether it fails. `overridden` is true
    /// when the request's own headers chose its outcome: those win over the failure
    /// rate, not over `down`. In `hang` mode this blocks until the mock is up again and
    /// then lets the request through.
    pub fn decide(&self, overridden: bool) -> (Option<Injected>, FaultConfig) {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let config = self.config();
        let mut down = lock(&self.down);
        if *down {
            match config.down_mode {
                DownMode::Hang => {
                    self.while_down.fetch_add(1, Ordering::Relaxed);
                    while *down {
                        down = self.up_again.wait(down).unwrap_or_else(|e| e.into_inner());
                    }
                }
                mode => {
                    self.while_down.fetch_add(1, Ordering::Relaxed);
                    return (Some(Injected::Down(mode)), config);
                }
            }
        }
        drop(down);
        if !overridden && draw(config.seed, n) < config.failure_rate {
            self.by_rate.fetch_add(1, Ordering::Relaxed);
            return (Some(Injected::Rate), config);
        }
        (None, config)
    }

    /// `GET /__mock/stats`.
    pub fn stats(&self) -> Value {
        let by_rate = self.by_rate.load(Ordering::Relaxed);
        let while_down = self.while_down.load(Ordering::Relaxed);
        json!({
            "name": self.name(),
            "requests": self.requests.load(Ordering::Relaxed),
            "failures_injected": by_rate + while_down,
            "failures_by_rate": by_rate,
            "failed_while_down": while_down,
            "down": self.is_down(),
            "config": self.config(),
        })
    }

    /// `DELETE /__mock/stats`: zero the counts; the failure draws start again at request 1.
    pub fn reset_stats(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.by_rate.store(0, Ordering::Relaxed);
        self.while_down.store(0, Ordering::Relaxed);
    }
}

/// The failure draw of request `n`: a uniform number in [0, 1) from splitmix64 of the
/// seed and the request index, so the outcome of request N is the same on every run
/// whatever the failure rate is changed to in between.
pub fn draw(seed: u64, n: u64) -> f64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn faults(rate: f64, seed: u64) -> Faults {
        Faults::new(FaultConfig {
            failure_rate: rate,
            seed,
            ..Default::default()
        })
    }

    fn failures(f: &Faults, count: usize) -> Vec<bool> {
        (0..count).map(|_| f.decide(false).0.is_some()).collect()
    }

    #[test]
    fn draws_are_uniform_and_seeded() {
        let a = failures(&faults(0.3, 7), 10_000);
        assert_eq!(a, failures(&faults(0.3, 7), 10_000), "same seed, same run");
        assert_ne!(
            a,
            failures(&faults(0.3, 8), 10_000),
            "another seed, another run"
        );
        let failed = a.iter().filter(|f| **f).count();
        assert!((2_800..=3_200).contains(&failed), "{failed} of 10000");
        assert!((0..1000).all(|n| (0.0..1.0).contains(&draw(3, n))));
    }

    #[test]
    fn rate_zero_and_one_are_exact_and_overrides_skip_the_draw() {
        assert!(failures(&faults(0.0, 1), 1000).iter().all(|f| !f));
        let all = faults(1.0, 1);
        assert!(failures(&all, 1000).iter().all(|f| *f));
        assert_eq!(all.decide(true).0, None);
        let stats = all.stats();
        assert_eq!(
            (
                stats["requests"].as_u64(),
                stats["failures_injected"].as_u64()
            ),
            (Some(1001), Some(1000))
        );
        all.reset_stats();
        assert_eq!(all.stats()["requests"], 0);
    }

    #[test]
    fn down_fails_every_request_even_overridden_ones() {
        let f = faults(0.0, 1);
        f.set_down(true);
        assert_eq!(f.decide(true).0, Some(Injected::Down(DownMode::Status)));
        f.patch(br#"{"down_mode":"reset"}"#).unwrap();
        assert_eq!(f.decide(false).0, Some(Injected::Down(DownMode::Reset)));
        f.set_down(false);
        assert_eq!(f.decide(false).0, None);
        let stats = f.stats();
        assert_eq!(stats["failed_while_down"], 2);
        assert_eq!(stats["failures_injected"], 2);
        assert_eq!(stats["down"], false);
    }

    #[test]
    fn hang_blocks_until_up() {
        let f = Arc::new(faults(0.0, 1));
        f.patch(br#"{"down_mode":"hang"}"#).unwrap();
        f.set_down(true);
        let waiting = Arc::clone(&f);
        let handle = std::thread::spawn(move || waiting.decide(false).0);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!handle.is_finished(), "answered while down");
        f.set_down(false);
        assert_eq!(handle.join().unwrap(), None);
    }

    #[test]
    fn patch_changes_fields_and_rejects_bad_ones_whole() {
        let f = faults(0.0, 1);
        let config = f
            .patch(br#"{"failure_rate":0.5,"ttft_ms":20,"failure_status":429}"#)
            .unwrap();
        assert_eq!(
            (config.failure_rate, config.ttft_ms, config.failure_status),
            (0.5, 20, 429)
        );
        assert_eq!(
            f.patch(br#"{"failure_rate":2,"ttft_ms":1}"#).unwrap_err(),
            "failure_rate must be 0.0..=1.0 (got 2)"
        );
        assert_eq!(f.config().ttft_ms, 20, "nothing changed");
        assert!(f
            .patch(br#"{"failure_status":302}"#)
            .unwrap_err()
            .contains("400..=599"));
        assert!(f
            .patch(br#"{"rate":1}"#)
            .unwrap_err()
            .contains("unknown field"));
        assert!(f
            .patch(br#"{"down_mode":"sleep"}"#)
            .unwrap_err()
            .starts_with("config body"));
    }

    #[test]
    fn down_modes_parse() {
        assert_eq!(DownMode::parse("hang").unwrap(), DownMode::Hang);
        assert!(DownMode::parse("HANG").is_err());
    }
}
