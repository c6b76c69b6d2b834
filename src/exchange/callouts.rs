//! The exchange's own calls through Envoy clusters (the judge, the cache, semantic and
//! limits sidecars), for the trace: Envoy makes no span of a Wasm `dispatch_http_call`,
//! so each call is written on the request's span as `stage:cluster:status:duration_ms`,
//! in order, in the filter state `llm_callouts` (README, "Traces"). The call carries the
//! client's W3C trace context, so a judge or sidecar that traces joins the client's trace.

use crate::effects::{Callout, HostView};

/// The W3C trace-context headers a call carries on from the client's request.
const TRACE_CONTEXT: [&str; 2] = ["traceparent", "tracestate"];

/// Adds the request's `traceparent` / `tracestate` (as the client sent them; Envoy adds
/// its own span's context only when the request goes upstream) to a call that has none.
pub fn carry_trace_context(call: &mut Callout, host: &dyn HostView) {
    for name in TRACE_CONTEXT {
        if call.headers.iter().any(|(k, _)| k == name) {
            continue;
        }
        if let Some(value) = host.request_header(name).filter(|v| !v.is_empty()) {
            call.headers.push((name.to_string(), value));
        }
    }
}

/// One call the exchange made and waited for.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    stage: &'static str,
    cluster: String,
    started_us: u64,
    /// The answer's status (0: no answer: the call failed or could not be made) and when
    /// it came; `None` while pending.
    ended: Option<(u32, u64)>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct CalloutLog {
    calls: Vec<Call>,
}

impl CalloutLog {
    /// A stage asked for a call at `now_us`.
    pub fn start(&mut self, stage: &'static str, cluster: &str, now_us: u64) {
        self.calls.push(Call {
            stage,
            cluster: cluster.to_string(),
            started_us: now_us,
            ended: None,
        });
    }

    /// The pending call was answered with `status` (0: no answer) at `now_us`.
    pub fn finish(&mut self, status: u32, now_us: u64) {
        if let Some(call) = self.calls.last_mut().filter(|c| c.ended.is_none()) {
            call.ended = Some((status, now_us));
        }
    }

    /// The filter-state value: `judge:mock:200:12,cache:cache_sidecar:200:1`; a call still
    /// pending shows `pending` for status and duration. `None` when no call was made.
    pub fn fact(&self) -> Option<String> {
        if self.calls.is_empty() {
            return None;
        }
        let calls: Vec<String> = self
            .calls
            .iter()
            .map(|c| match c.ended {
                Some((status, ended_us)) => {
                    let ms = ended_us.saturating_sub(c.started_us) / 1000;
                    format!("{}:{}:{status}:{ms}", c.stage, c.cluster)
                }
                None => format!("{}:{}:pending", c.stage, c.cluster),
            })
            .collect();
        Some(calls.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_listed_in_order_with_status_and_duration() {
        let mut log = CalloutLog::default();
        assert_eq!(log.fact(), None);
        log.start("judge", "mock", 1_000);
        log.finish(200, 13_500);
        log.start("cache", "cache_sidecar", 20_000);
        assert_eq!(
            log.fact().as_deref(),
            Some("judge:mock:200:12,cache:cache_sidecar:pending")
        );
        log.finish(0, 20_400);
        assert_eq!(
            log.fact().as_deref(),
            Some("judge:mock:200:12,cache:cache_sidecar:0:0")
        );
    }

    #[test]
    fn an_answer_without_a_pending_call_changes_nothing() {
        let mut log = CalloutLog::default();
        log.start("limits", "cache_sidecar", 0);
        log.finish(504, 100_000);
        log.finish(200, 200_000);
        assert_eq!(log.fact().as_deref(), Some("limits:cache_sidecar:504:100"));
    }
}
