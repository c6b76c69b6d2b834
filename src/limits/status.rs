//! Rate-limit response headers in OpenAI's and Anthropic's forms.

use super::calendar::rfc3339;

/// Where one windowed rule stands for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStatus {
    /// Units per window (the rule's `amount`).
    pub limit: u64,
    /// Units that could be admitted now, 0..=limit.
    pub remaining: u64,
    /// Microseconds until the bucket is full again.
    pub reset_us: u64,
}

impl WindowStatus {
    /// True when `self` leaves the caller less room than `other`.
    fn tighter_than(&self, other: &WindowStatus) -> bool {
        (self.remaining, std::cmp::Reverse(self.reset_us))
            < (other.remaining, std::cmp::Reverse(other.reset_us))
    }
}

/// The most restrictive request rule and token rule that applied to a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub requests: Option<WindowStatus>,
    pub tokens: Option<WindowStatus>,
}

impl RateLimitStatus {
    pub(crate) fn note_requests(&mut self, s: WindowStatus) {
        if self.requests.is_none_or(|cur| s.tighter_than(&cur)) {
            self.requests = Some(s);
        }
    }

    pub(crate) fn note_tokens(&mut self, s: WindowStatus) {
        if self.tokens.is_none_or(|cur| s.tighter_than(&cur)) {
            self.tokens = Some(s);
        }
    }

    /// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, reset as a duration
    /// like `1s`, `6m0s`, `59ms`.
    pub fn openai_headers(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (what, s) in [("requests", self.requests), ("tokens", self.tokens)] {
            if let Some(s) = s {
                out.push((format!("x-ratelimit-limit-{what}"), s.limit.to_string()));
                out.push((
                    format!("x-ratelimit-remaining-{what}"),
                    s.remaining.to_string(),
                ));
                out.push((
                    format!("x-ratelimit-reset-{what}"),
                    format_reset(s.reset_us),
                ));
            }
        }
        out
    }

    /// `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, reset as the
    /// RFC 3339 UTC time at which the bucket is full again.
    pub fn anthropic_headers(&self, now_us: u64) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (what, s) in [("requests", self.requests), ("tokens", self.tokens)] {
            if let Some(s) = s {
                out.push((
                    format!("anthropic-ratelimit-{what}-limit"),
                    s.limit.to_string(),
                ));
                out.push((
                    format!("anthropic-ratelimit-{what}-remaining"),
                    s.remaining.to_string(),
                ));
                out.push((
                    format!("anthropic-ratelimit-{what}-reset"),
                    rfc3339(now_us.saturating_add(s.reset_us)),
                ));
            }
        }
        out
    }
}

/// A duration the way OpenAI writes `x-ratelimit-reset-*`: under a second in whole
/// milliseconds (`59ms`), otherwise hours, minutes and seconds (`1s`, `6m0s`, `1h2m3s`).
/// Rounded up, so a client that waits this long finds room.
pub fn format_reset(us: u64) -> String {
    if us == 0 {
        return "0s".into();
    }
    if us < 1_000_000 {
        return format!("{}ms", us.div_ceil(1000).min(999));
    }
    let secs = us.div_ceil(1_000_000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_look_like_openai() {
        assert_eq!(format_reset(0), "0s");
        assert_eq!(format_reset(1), "1ms");
        assert_eq!(format_reset(59_000), "59ms");
        assert_eq!(format_reset(999_999), "999ms");
        assert_eq!(format_reset(1_000_000), "1s");
        assert_eq!(format_reset(1_000_001), "2s");
        assert_eq!(format_reset(360_000_000), "6m0s");
        assert_eq!(format_reset(3_723_000_000), "1h2m3s");
        assert_eq!(format_reset(3_600_000_000), "1h0m0s");
    }

    #[test]
    fn headers_carry_the_tightest_rule() {
        let mut st = RateLimitStatus::default();
        st.note_requests(WindowStatus {
            limit: 50,
            remaining: 40,
            reset_us: 1_000_000,
        });
        st.note_requests(WindowStatus {
            limit: 5,
            remaining: 3,
            reset_us: 24_000_000,
        });
        st.note_requests(WindowStatus {
            limit: 100,
            remaining: 60,
            reset_us: 1,
        });
        st.note_tokens(WindowStatus {
            limit: 2000,
            remaining: 1744,
            reset_us: 7_680_000,
        });
        let h = st.openai_headers();
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("x-ratelimit-limit-requests"), Some("5"));
        assert_eq!(get("x-ratelimit-remaining-requests"), Some("3"));
        assert_eq!(get("x-ratelimit-reset-requests"), Some("24s"));
        assert_eq!(get("x-ratelimit-limit-tokens"), Some("2000"));
        assert_eq!(get("x-ratelimit-reset-tokens"), Some("8s"));
        let now = 1_706_745_599_000_000; // 2024-01-31T23:59:59Z
        let a = st.anthropic_headers(now);
        let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("anthropic-ratelimit-requests-limit"), Some("5"));
        assert_eq!(get("anthropic-ratelimit-requests-remaining"), Some("3"));
        assert_eq!(
            get("anthropic-ratelimit-requests-reset"),
            Some("2024-02-01T00:00:23Z")
        );
        assert_eq!(get("anthropic-ratelimit-tokens-remaining"), Some("1744"));
        assert!(RateLimitStatus::default().openai_headers().is_empty());
    }
}
