//! The response side of the exchange: the provider's answer read for usage (in the
//! provider's API), translated back to the client's, guarded on the way out, and the
//! exchange settled at its end.
//!
//! A JSON answer is held whole (headers too) so that tokens and cost can go into the
//! headers. A stream passes chunk by chunk: meter -> translation (or whole events) ->
//! output guard -> client.

use super::prompt::{self as prompt_stage, Held};
use super::{CallAnswer, Effects, Exchange, Flow, HostView, Phase};
use crate::cache::record::AnswerRecorder;
use crate::guard::answer::GuardedStream;
use crate::guard::{self, Acted, AnswerGuard};
use crate::prompt::answer::{Outcome, StreamCheck};
use crate::providers::translate::StreamBack;
use crate::providers::{openai, stream_end};
use crate::sse::WholeEvents;
use crate::usage::meter::{BodyKind, ResponseMeter, ResponseOutcome};

/// Largest JSON response body held back to read its usage. Past it the held headers and
/// body are released and the rest streams through unmetered (error
/// `response_unreadable`). Must stay below Envoy's buffer limit for the route
/// (`request_body_buffer_limit`, 36 MiB in envoy/envoy.yaml): past that limit Envoy
/// replaces the provider's answer with its own 500.
pub const MAX_JSON_RESPONSE: usize = 3 * 1024 * 1024;

/// How the answer is read and rewritten.
pub(super) struct ResponseSide {
    meter: ResponseMeter,
    /// The response headers wait until the (JSON) body is whole.
    holding: bool,
    /// The provider's events -> the client's, for a translated stream.
    translator: Option<StreamBack>,
    /// A stream in the client's API passes in whole events, so that one the provider
    /// ends early can be closed with an explicit error event.
    whole_events: Option<WholeEvents>,
    /// The output guard of a whole answer.
    answer_guard: Option<AnswerGuard>,
    /// The output guard of a stream.
    guarded_stream: Option<GuardedStream>,
    /// The gateway asked for the stream's usage chunk; the client did not get it.
    drop_usage_chunk: bool,
    /// The answer in the client's API, before the output guard, for the cache to store.
    pub(super) recorder: Option<AnswerRecorder>,
    /// The output guard stopped the (plain) answer.
    plain_guard_stopped: bool,
    /// The structured-output check of a stream (last, after the output guard).
    stream_check: Option<StreamCheck>,
    stream_outcome: Option<Outcome>,
}

impl ResponseSide {
    /// Rules the output guard of a stream applied.
    pub(super) fn stream_guard_acted(&self) -> Option<&[Acted]> {
        self.guarded_stream.as_ref().map(|g| g.acted.as_slice())
    }

    /// The output guard stopped the answer (it is never stored).
    pub(super) fn guard_stopped(&self) -> bool {
        self.plain_guard_stopped || self.guarded_stream.as_ref().is_some_and(|g| g.stopped())
    }
}

/// Ends the reading: what the answer showed, its status and its first token's time.
pub(super) fn finish(
    side: Option<&mut ResponseSide>,
    elapsed_ms: u64,
) -> (ResponseOutcome, u32, Option<u64>) {
    match side {
        Some(side) => (
            side.meter.finish(elapsed_ms),
            side.meter.status,
            side.meter.first_token_ms,
        ),
        None => (
            ResponseOutcome {
                cut: true,
                ..Default::default()
            },
            0,
            None,
        ),
    }
}

impl Exchange {
    /// The response's headers arrived (`end_of_stream`: there is no body).
    pub fn on_response_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        if self.phase != Phase::Upstream {
            return Effects::go_on();
        }
        let Some(plan) = self.plan.as_mut() else {
            return Effects::go_on();
        };
        if plan.fallback {
            // The chain's upstream filter names the provider and model that answered.
            if let Some(provider) = host.response_header("x-llm-provider") {
                plan.provider = provider;
            }
            if let Some(model) = host.response_header("x-llm-model") {
                plan.model = model;
            }
        }
        let plan = &*plan;
        let mut fx = Effects::default();
        let status = host
            .response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = host.response_header("content-type");
        // Usage is read in the provider's own API, before any translation.
        let meter = ResponseMeter::new(
            plan.upstream_format,
            status,
            content_type.as_deref(),
            MAX_JSON_RESPONSE,
        );
        let stream = meter.kind == BodyKind::EventStream && status < 400;
        let mut translator = None;
        let mut whole_events = None;
        if let Some(direction) = plan.translation().filter(|_| stream) {
            let now = host.now_us();
            translator = Some(StreamBack::new(
                direction,
                &plan.model,
                &format!("{now:x}"),
                plan.client_wants_stream_usage,
                now / 1_000_000,
                plan.structured_tool.as_deref(),
            ));
            // The translated stream has another length.
            fx.remove_header("content-length");
        } else if stream {
            whole_events = Some(WholeEvents::new());
            // A stream ended early gets a final event: another length.
            fx.remove_header("content-length");
        }
        for (name, value) in plan.facts().early_headers() {
            fx.set_header(name, value);
        }
        if !self.acted.is_empty() {
            fx.set_header("x-llm-guard", guard::header_value(&self.acted));
        }
        let mut answer_guard = self.request.answer_guard.take();
        let mut guarded_stream = None;
        if status >= 400 {
            answer_guard = None;
        } else if meter.kind == BodyKind::EventStream {
            if let Some(answer) = answer_guard.take() {
                guarded_stream = Some(answer.stream());
                fx.remove_header("content-length");
            }
        }
        if let Some(admission) = &self.admission {
            let headers =
                super::limits::rate_limit_headers(plan.api, &admission.headers, host.now_us());
            for (name, value) in headers {
                fx.set_header(&name, value);
            }
        }
        // Hold the headers so tokens and cost can go into them once the body is read
        // (and, when translating, the body's length).
        let holding = !end_of_stream
            && (meter.kind == BodyKind::Json || (plan.translated() && translator.is_none()));
        let drop_usage_chunk = plan.added_stream_usage && whole_events.is_some();
        if let Some(state) = &self.cache {
            let (name, value) = state.header();
            fx.set_header(name, value);
        }
        let stream_check = match (&self.structured, stream) {
            (Some(s), true) => Some(StreamCheck::new(plan.api, s.check.clone())),
            _ => None,
        };
        // An answer under the structured-output check may be replaced (a retry's answer,
        // an error, a stream's error event): it is not stored.
        let recorder = match self.structured {
            Some(_) => None,
            None => super::cache::recorder(self, status, meter.kind),
        };
        self.response = Some(ResponseSide {
            stream_check,
            stream_outcome: None,
            meter,
            holding,
            translator,
            whole_events,
            answer_guard,
            guarded_stream,
            drop_usage_chunk,
            recorder,
            plain_guard_stopped: false,
        });
        if end_of_stream {
            self.settle_into(&mut fx, host, true);
            return fx;
        }
        if holding {
            fx.flow = Flow::Pause;
        }
        fx
    }

    /// A response body chunk arrived: while the headers are held, `size` is the whole
    /// body so far; after, only the new chunk. `read` gives those bytes.
    pub fn on_response_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        let Some(side) = self.response.as_mut() else {
            return Effects::go_on();
        };
        let mut fx = Effects::default();
        let elapsed = host.now_us().saturating_sub(self.started_us) / 1000;
        if side.holding && size > MAX_JSON_RESPONSE {
            log::info!("llm-gateway: JSON response over {MAX_JSON_RESPONSE} bytes passes through unmetered");
            side.meter.unreadable = true;
            side.holding = false;
        }
        let holding = side.holding;
        if holding {
            if !end_of_stream {
                // The host keeps buffering; the whole body is read at the end.
                return Effects::hold();
            }
            let body = read();
            side.meter.feed(&body, elapsed);
            let mut out = None;
            if let Some((plan, direction)) = self
                .plan
                .as_ref()
                .and_then(|p| p.translation().map(|d| (p, d)))
            {
                let created = host.now_us() / 1_000_000;
                let translated = direction.whole_body(
                    &plan.model,
                    side.meter.status,
                    &body,
                    created,
                    plan.structured_tool.as_deref(),
                );
                fx.set_header("content-type", "application/json");
                out = Some(translated);
            }
            let status = side.meter.status;
            if status < 400 && self.structured.is_some() {
                if let Some(config) = self.config.clone() {
                    let client = out.clone().unwrap_or_else(|| body.clone());
                    match prompt_stage::check_answer(self, &config, host, &client, &mut fx) {
                        Held::Retry(call) => {
                            // The answer (and its headers) wait for the retry.
                            fx.flow = Flow::Call(call);
                            return fx;
                        }
                        Held::Done(Some(replaced)) => out = Some(replaced),
                        Held::Done(None) => {}
                    }
                }
            }
            return self.finish_held(fx, host, out, &body);
        } else if side.meter.kind == BodyKind::EventStream {
            let chunk = read();
            side.meter.feed(&chunk, elapsed);
            fx.body = stream_chunk(side, chunk, end_of_stream);
            if let Some(outcome) = side.stream_outcome.take() {
                if let Some(s) = self.structured.as_mut() {
                    s.outcome = Some(outcome);
                }
            }
        }
        if end_of_stream {
            self.settle_into(&mut fx, host, holding);
            prompt_stage::report(self, &mut fx);
        }
        fx
    }

    /// A held answer is decided: through the output guard (the client's API now), its
    /// length set, the exchange settled. `out` replaces `original` when set.
    fn finish_held(
        &mut self,
        mut fx: Effects,
        host: &dyn HostView,
        mut out: Option<Vec<u8>>,
        original: &[u8],
    ) -> Effects {
        if let Some(recorder) = self.response.as_mut().and_then(|s| s.recorder.as_mut()) {
            // The answer as the provider gave it in the client's API: the guard's
            // changes belong to this request (its placeholders restored).
            recorder.whole(out.as_deref().unwrap_or(original));
        }
        let answer_guard = self.response.as_mut().and_then(|s| s.answer_guard.take());
        if let Some(answer) = answer_guard {
            let (filtered, acted) = answer.filter_body(out.as_deref().unwrap_or(original));
            if filtered.is_some() {
                out = filtered;
            }
            if acted.iter().any(|a| a.action == "block") {
                if let Some(side) = self.response.as_mut() {
                    side.plain_guard_stopped = true;
                }
            }
            if !acted.is_empty() {
                self.acted.extend(acted);
                fx.set_header("x-llm-guard", guard::header_value(&self.acted));
            }
        }
        if let Some(out) = out {
            fx.set_header("content-length", out.len().to_string());
            fx.body = Some(out);
        }
        self.settle_into(&mut fx, host, true);
        prompt_stage::report(self, &mut fx);
        fx
    }

    /// The structured-output retry answered (status 0: the call failed). The held answer
    /// is replaced by the retry's, or by the error, or passes as it is.
    pub(super) fn on_retry_answer(&mut self, host: &dyn HostView, answer: CallAnswer) -> Effects {
        let Some(config) = self.config.clone() else {
            return Effects::go_on();
        };
        if self.structured.as_ref().is_none_or(|s| s.pending.is_none()) {
            return Effects::go_on();
        }
        let mut fx = Effects::default();
        match prompt_stage::retried(self, &config, host, &answer, &mut fx) {
            Held::Retry(call) => {
                fx.flow = Flow::Call(call);
                fx
            }
            Held::Done(body) => {
                let body = body.unwrap_or_default();
                self.finish_held(fx, host, Some(body.clone()), &body)
            }
        }
    }

    /// Settles the exchange into `fx`, with the final headers when they are still held.
    fn settle_into(&mut self, fx: &mut Effects, host: &dyn HostView, headers_held: bool) {
        if let Some((facts, settled)) = self.settle(host) {
            if headers_held {
                for (name, value) in facts.final_headers() {
                    fx.set_header(name, value);
                }
            }
            fx.facts.extend(settled.facts);
            fx.metrics.extend(settled.metrics);
            fx.background.extend(settled.background);
        }
    }
}

/// One chunk of a stream, for the client: translated (or passed in whole events), then
/// through the output guard. `None`: the chunk goes on as it is.
fn stream_chunk(side: &mut ResponseSide, chunk: Vec<u8>, end: bool) -> Option<Vec<u8>> {
    let mut out = None;
    if let Some(translator) = side.translator.as_mut() {
        let mut bytes = translator.feed(&chunk);
        if end {
            bytes.extend(translator.finish());
        }
        if let Some(recorder) = side.recorder.as_mut() {
            // The client's API, before the output guard.
            recorder.feed(&bytes);
        }
        out = Some(bytes);
    } else if let Some(whole) = side.whole_events.as_mut() {
        out = whole.feed(&chunk);
        if end {
            let mut last = out.take().unwrap_or_else(|| chunk.clone());
            if side.meter.stream_ended_explicitly() {
                last.extend(whole.take_tail());
            } else {
                // The provider closed before its final event: say so, instead of a clean
                // end that looks complete. A half event is dropped.
                log::info!("llm-gateway: stream ended before its final event; closing it with an error event");
                whole.take_tail();
                last.extend(stream_end::truncated(
                    side.meter.api(),
                    side.meter.next_sequence(),
                ));
            }
            out = Some(last);
        }
        if let Some(recorder) = side.recorder.as_mut() {
            // Whole events in the client's API, before the output guard; the usage chunk
            // the client does not get is in the entry.
            recorder.feed(out.as_deref().unwrap_or(&chunk));
        }
        if side.drop_usage_chunk {
            // The meter read it already; the client asked for no usage (or for none).
            if let Some(kept) = openai::without_usage_chunk(out.as_deref().unwrap_or(&chunk)) {
                out = Some(kept);
            }
        }
    }
    if let Some(guarded) = side.guarded_stream.as_mut() {
        let input = out.as_deref().unwrap_or(&chunk);
        let mut bytes = guarded.feed(input);
        if end {
            bytes.extend(guarded.finish());
        }
        out = Some(bytes);
    }
    if let Some(check) = side.stream_check.as_mut() {
        // Last: it holds the final event until the whole answer is checked.
        let input = out.as_deref().unwrap_or(&chunk);
        let mut bytes = check.feed(input);
        if end {
            let (rest, outcome) = check.finish();
            bytes.extend(rest);
            side.stream_outcome = Some(outcome);
        }
        out = Some(bytes);
    }
    out
}
