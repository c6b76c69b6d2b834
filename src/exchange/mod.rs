//! One request on an LLM path, from its headers to its access-log line, as a pure state
//! machine. The host glue (`src/host/http.rs`) shows it each callback's input through a
//! [`HostView`] and applies the [`Effects`] it returns; nothing here touches proxy-wasm,
//! so unit tests drive whole exchanges.
//!
//! The order a request meets the stages, written once:
//!
//! 1. **request headers** ([`Exchange::on_request_headers`]): `route` drops a client's
//!    `x-llm-provider`; the method and path name the [`Endpoint`]; `identity` names the
//!    caller (or refuses the key) and drops the client's credential, on every path; the
//!    gateway answers the model list itself, refuses unknown paths (404) and wrong
//!    methods (405), lets allowed paths go, sends stored Responses to the provider that
//!    holds them; on an LLM path a declared body over the
//!    limit is refused and the headers are held until the body is read (`count_tokens`
//!    is answered from the body).
//! 2. **body complete** ([`Exchange::on_request_body`]): the [`BODY_STAGES`] in order:
//!    prompt (decorators, templates, CoT: the guard and any cache key see the final
//!    prompt), guard input, route, authorize, guard token limit, forward, judge (a callout),
//!    limits admit.
//! 3. **response headers** ([`Exchange::on_response_headers`]): `usage` starts reading
//!    the answer in the provider's API, `route` translates it back, `guard` watches the
//!    output, `limits` adds its headers; a JSON answer is held until it is whole.
//! 4. **each response chunk** ([`Exchange::on_response_body`]): meter, then translation
//!    (or whole events), then the output guard, then the client.
//! 5. **end** (or [`Exchange::on_log`] for a stream that never ended): settle: the facts
//!    (tokens, cost, error), the limits' real usage, metrics and the access log.
//!
//! Adding a stage that works on the request body is a file in this folder and one line
//! in [`BODY_STAGES`].

mod cache;
mod callouts;
mod guard;
mod identity;
mod limits;
mod local;
mod prompt;
mod response;
mod route;

use std::rc::Rc;

use serde_json::{Map, Value};

pub use crate::effects::{CallAnswer, Callout, Effects, Flow, HostView, LocalReply};
pub use crate::route::plan::{RequestPlan, CLIENT_API_HEADER, STREAM_HEADER};
pub use crate::usage::meter::{BodyKind, ResponseMeter, ResponseOutcome};
pub use response::MAX_JSON_RESPONSE;

use crate::api::{Api, Endpoint};
use crate::config::Config;
use crate::errors::UserError;
use crate::facts::Facts;
use crate::guard::{Acted, AnswerGuard, JudgeAsk};
use crate::identity::Caller;
use crate::limits::fleet::AdmitAsk;
use crate::limits::Admission;
use crate::metrics::{self, Metric};
use crate::route::plan::{self as route_plan, RouteContext};
use crate::usage::settle as usage_settle;

/// The route stage's plan for a whole body, as the exchange makes it for an anonymous
/// caller without request headers.
pub fn plan_request(config: &Config, api: Api, body: &[u8]) -> Result<RequestPlan, UserError> {
    let ctx = RouteContext {
        group: None,
        header: &|_| None,
    };
    route_plan::plan(&config.plan_rules(), api, body, None, &ctx)
}

/// The usage stage's facts for a plan and what its answer showed.
pub fn settle(
    config: &Config,
    plan: &RequestPlan,
    outcome: &ResponseOutcome,
    status: u32,
) -> Facts {
    usage_settle::settle(
        config.usage.as_ref(),
        config.limits.is_some(),
        plan,
        outcome,
        status,
    )
}

/// A stage that runs once the request body is whole. `run` decides; when it asks for a
/// callout, `resume` reads the answer (status 0 and no body when the call failed).
pub struct BodyStage {
    pub name: &'static str,
    run: fn(&mut Exchange, &Config, &dyn HostView) -> Next,
    resume: fn(&mut Exchange, &Config, &CallAnswer, &dyn HostView) -> Next,
}

/// The request's stages once its body is read, in order.
pub const BODY_STAGES: &[BodyStage] = &[
    prompt::PROMPT,      // decorators, templates, CoT, the structured-output check
    guard::INPUT,        // validation, injection, PII masking, spotlighting
    guard::SEMANTIC,     // the nearest known attack (guard.injection.semantic), a callout
    route::PLAN,         // model (auto, aliases), provider, translation, input tokens
    identity::AUTHORIZE, // the consumer may use the model
    guard::TOKEN_LIMIT,  // the input-token cap, once the tokens are counted
    route::FORWARD,      // body and headers as they go upstream (set while still held)
    guard::JUDGE,        // a grey-zone injection score asks the LLM judge
    limits::ADMIT,       // reserve requests, tokens, concurrency and budget
    cache::LOOKUP,       // the cache sidecar; a hit answers here and settles
];

/// What a stage says about the request.
enum Next {
    /// On to the next stage.
    Go,
    /// Refuse the request with this error and these extra response headers.
    Refuse(UserError, Vec<(String, String)>),
    /// Call a cluster; the same stage's `resume` reads the answer.
    Call(Callout),
    /// Answer the client from the gateway (a cache hit): the stage has settled the
    /// exchange and put its facts and metrics in `pending`.
    Answer(LocalReply),
}

fn no_callout(_: &mut Exchange, _: &Config, _: &CallAnswer, _: &dyn HostView) -> Next {
    Next::Go
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not an LLM request (or no configuration): every callback passes.
    Pass,
    /// Headers held while the body is read.
    ReadingBody,
    /// The body stage at this index waits for its callout.
    Calling(usize),
    /// The request went upstream.
    Upstream,
    /// The gateway answered the client itself.
    Answered,
}

/// One request/response exchange on an LLM path.
pub struct Exchange {
    config: Option<Rc<Config>>,
    phase: Phase,
    /// What the request is for the gateway (by method and path).
    endpoint: Endpoint,
    /// The API of the request, or whose error envelope the client gets.
    api: Api,
    /// The client's `:path`, query included.
    path: String,
    started_us: u64,
    caller: Option<Caller>,
    /// Guard rules that acted, in order (input, judge, output).
    acted: Vec<Acted>,
    /// The request as the body stages see it.
    request: RequestSoFar,
    plan: Option<RequestPlan>,
    /// What the limits stage reserved; settled exactly once.
    admission: Option<Admission>,
    /// What the cache stage decided (absent: the stage is off or was not reached).
    cache: Option<cache::CacheState>,
    response: Option<response::ResponseSide>,
    /// Body and header edits the stages made, handed to the host with the next effects.
    pending: Effects,
    /// The structured-output check of the answer (the prompt stage's).
    structured: Option<prompt::Structured>,
    /// The body stages' calls through Envoy clusters, for the trace.
    callouts: callouts::CalloutLog,
    settled: bool,
}

/// What the body stages have found so far.
#[derive(Default)]
struct RequestSoFar {
    body: Vec<u8>,
    /// The prompt stage rewrote `body`: it goes upstream even when no later stage changes it.
    rewritten: bool,
    /// The body as the guard parsed (and rewrote) it, for the route stage.
    parsed: Option<Map<String, Value>>,
    /// The guard's rewrite of the body (masked, spotlighted).
    guarded_body: Option<Vec<u8>>,
    judge_ask: Option<JudgeAsk>,
    /// The last user turn for the semantic injection signal, until its callout.
    semantic_ask: Option<JudgeAsk>,
    /// The guard's output side, until the response shows whether it streams.
    answer_guard: Option<AnswerGuard>,
    /// The admit the limits stage asked of the sidecar, until its answer.
    limits_ask: Option<AdmitAsk>,
}

impl Exchange {
    /// `config` is `None` when the plugin has none (every callback then passes).
    pub fn new(config: Option<Rc<Config>>) -> Exchange {
        Exchange {
            config,
            phase: Phase::Pass,
            endpoint: Endpoint::Allowed,
            api: Api::OpenAiChat,
            path: String::new(),
            started_us: 0,
            caller: None,
            acted: Vec::new(),
            request: RequestSoFar::default(),
            plan: None,
            admission: None,
            cache: None,
            response: None,
            pending: Effects::default(),
            structured: None,
            callouts: callouts::CalloutLog::default(),
            settled: false,
        }
    }

    /// The request's headers arrived (`end_of_stream`: there is no body).
    pub fn on_request_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        let Some(config) = self.config.clone() else {
            return Effects::go_on();
        };
        route::drop_client_provider(self, &config, host);
        let method = host.request_header(":method").unwrap_or_default();
        let path = host.request_header(":path").unwrap_or_default();
        let endpoint = config.api.endpoint(&method, &path);
        self.api = match &endpoint {
            Endpoint::Llm(api) => *api,
            Endpoint::StoredResponse => Api::OpenAiResponses,
            // Other paths answer in the envelope of the client's SDK.
            _ if host.request_header("anthropic-version").is_some() => Api::AnthropicMessages,
            Endpoint::CountTokens => Api::AnthropicMessages,
            _ => Api::OpenAiChat,
        };
        self.path = path;
        self.started_us = host.now_us();
        self.phase = Phase::ReadingBody;
        // On every path: the client's key never leaves the gateway.
        if let Err(e) = identity::identify(self, &config, host) {
            return self.refuse(e, vec![]);
        }
        let path = self.path.split('?').next().unwrap_or_default().to_string();
        match endpoint {
            Endpoint::Llm(_) | Endpoint::CountTokens => {}
            Endpoint::Allowed => {
                self.phase = Phase::Pass;
                return self.take_pending(Flow::Continue);
            }
            Endpoint::StoredResponse => {
                self.phase = Phase::Pass;
                route::stored_response(self, &config);
                if let Some(c) = &self.caller {
                    let consumer = [
                        ("llm_consumer", c.consumer.id.clone()),
                        ("llm_consumer_group", c.consumer.group.clone()),
                    ];
                    self.pending.facts.extend(consumer);
                }
                return self.take_pending(Flow::Continue);
            }
            Endpoint::Unknown => return self.refuse(UserError::NotFound { method, path }, vec![]),
            Endpoint::WrongMethod => {
                return self.refuse(UserError::MethodNotAllowed { method, path }, vec![])
            }
            Endpoint::Models { id } => {
                let anthropic = self.api == Api::AnthropicMessages;
                return match local::models(self, &config, id.as_deref(), anthropic) {
                    Ok(reply) => self.answer(reply, vec![("llm_api", "models".to_string())]),
                    Err(e) => self.refuse(e, vec![]),
                };
            }
        }
        self.endpoint = endpoint;
        if end_of_stream {
            return self.refuse(UserError::MalformedBody("the body is empty".into()), vec![]);
        }
        let declared = host
            .request_header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.api.max_body_bytes) {
            let limit = config.api.max_body_bytes;
            return self.refuse(UserError::BodyTooLarge { limit }, vec![]);
        }
        // The headers wait for the body: the route and the body may change them.
        self.take_pending(Flow::Pause)
    }

    /// A piece of the request body arrived; `size` is all of it so far. `read` gives the
    /// whole body, and is called only once it is complete.
    pub fn on_request_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        if self.phase != Phase::ReadingBody {
            return Effects::go_on();
        }
        let Some(config) = self.config.clone() else {
            return Effects::go_on();
        };
        if size as u64 > config.api.max_body_bytes {
            let limit = config.api.max_body_bytes;
            return self.refuse(UserError::BodyTooLarge { limit }, vec![]);
        }
        if !end_of_stream {
            return Effects::hold();
        }
        self.request.body = read();
        if self.endpoint == Endpoint::CountTokens {
            return match local::count_tokens(self, &self.request.body) {
                Ok((reply, model, n)) => self.answer(
                    reply,
                    vec![
                        ("llm_api", "anthropic_count_tokens".to_string()),
                        ("llm_model", model),
                        ("llm_input_tokens", n.to_string()),
                        ("llm_input_accuracy", "estimate".to_string()),
                    ],
                ),
                Err(e) => self.refuse(e, vec![]),
            };
        }
        self.run_body_stages(0, None, host)
    }

    /// Answers the client from the gateway (a gateway-answered endpoint), with these facts.
    fn answer(&mut self, reply: LocalReply, facts: Vec<(&'static str, String)>) -> Effects {
        let mut fx = std::mem::take(&mut self.pending);
        fx.facts = facts;
        if let Some(c) = &self.caller {
            fx.facts.push(("llm_consumer", c.consumer.id.clone()));
            fx.facts
                .push(("llm_consumer_group", c.consumer.group.clone()));
        }
        fx.flow = Flow::Respond(reply);
        self.phase = Phase::Answered;
        fx
    }

    /// The answer to the callout the last effects asked for (`None`: the call could not
    /// be made). When the effects' flow is `Continue`, the host resumes the request.
    pub fn on_callout(&mut self, host: &dyn HostView, answer: Option<CallAnswer>) -> Effects {
        if self.phase == Phase::Upstream {
            // The structured-output retry, asked while the answer was held.
            return self.on_retry_answer(host, answer.unwrap_or_default());
        }
        let Phase::Calling(index) = self.phase else {
            return Effects::go_on();
        };
        let answer = answer.unwrap_or_default();
        self.callouts.finish(answer.status, host.now_us());
        self.report_callouts();
        self.run_body_stages(index, Some(answer), host)
    }

    /// Runs the body stages from `from` (resuming it with `answer`, if any).
    fn run_body_stages(
        &mut self,
        from: usize,
        mut answer: Option<CallAnswer>,
        host: &dyn HostView,
    ) -> Effects {
        let Some(config) = self.config.clone() else {
            return Effects::go_on();
        };
        for (index, stage) in BODY_STAGES.iter().enumerate().skip(from) {
            let next = match answer.take() {
                Some(a) => (stage.resume)(self, &config, &a, host),
                None => (stage.run)(self, &config, host),
            };
            match next {
                Next::Go => {}
                Next::Refuse(error, headers) => {
                    // Refused after the limits admitted it (a fail-closed cache, a bad
                    // Cache-Control): it counts as a request, its tokens do not.
                    let mut fx = self.refuse(error, headers);
                    self.release_admission(host, &mut fx);
                    return fx;
                }
                Next::Call(mut callout) => {
                    self.callouts
                        .start(stage.name, &callout.cluster, host.now_us());
                    callouts::carry_trace_context(&mut callout, host);
                    self.report_callouts();
                    self.phase = Phase::Calling(index);
                    return self.take_pending(Flow::Call(callout));
                }
                Next::Answer(reply) => {
                    self.phase = Phase::Answered;
                    return self.take_pending(Flow::Respond(reply));
                }
            }
        }
        self.phase = Phase::Upstream;
        if let Some(plan) = self.plan.as_mut() {
            plan.request = None;
        }
        self.request = RequestSoFar {
            answer_guard: self.request.answer_guard.take(),
            ..RequestSoFar::default()
        };
        self.take_pending(Flow::Continue)
    }

    /// The callouts so far, as filter state for the trace (rewritten after each call, so
    /// a request that ends at any point carries them).
    fn report_callouts(&mut self) {
        if let Some(value) = self.callouts.fact() {
            self.pending.facts.push(("llm_callouts", value));
        }
    }

    /// The stages' pending edits, with `flow`.
    fn take_pending(&mut self, flow: Flow) -> Effects {
        let mut fx = std::mem::take(&mut self.pending);
        fx.flow = flow;
        fx
    }

    /// Answers the client with `error` in its API's envelope; the request goes no further.
    fn refuse(&mut self, error: UserError, mut headers: Vec<(String, String)>) -> Effects {
        log::info!("llm-gateway: rejected request: {}", error.message());
        let mut fx = std::mem::take(&mut self.pending);
        if !self.acted.is_empty() {
            let value = crate::guard::header_value(&self.acted);
            fx.facts.push(("llm_guard", value.clone()));
            fx.metrics.extend(self.guard_metrics());
            headers.push(("x-llm-guard".into(), value));
        }
        let consumer = self.caller.as_ref().map(|c| c.consumer.id.as_str());
        let consumer = match &self.config {
            Some(config) => metrics::consumer_label(config, consumer),
            None => "anonymous".to_string(),
        };
        fx.metrics
            .push(metrics::rejected_request(error.kind(), &consumer));
        fx.facts.push(("llm_error", error.kind().to_string()));
        fx.facts.push(("llm_api", self.api.name().to_string()));
        if let Some(c) = &self.caller {
            fx.facts.push(("llm_consumer", c.consumer.id.clone()));
            fx.facts
                .push(("llm_consumer_group", c.consumer.group.clone()));
        }
        fx.flow = Flow::Respond(LocalReply {
            status: error.status(),
            headers,
            body: error.envelope(self.api),
        });
        self.phase = Phase::Answered;
        self.plan = None;
        fx
    }

    fn guard_metrics(&self) -> Vec<Metric> {
        self.acted
            .iter()
            .map(|a| metrics::guard_action(&a.rule, a.action))
            .collect()
    }

    /// The access log's callback: a stream that never ended (client gone, upstream reset)
    /// settles here.
    pub fn on_log(&mut self, host: &dyn HostView) -> Effects {
        if let Phase::Calling(_) = self.phase {
            // The client left while a sidecar call was pending: what the limits reserved
            // goes back (the request counts, its tokens do not).
            let mut fx = Effects::go_on();
            self.release_admission(host, &mut fx);
            return fx;
        }
        match self.settle(host) {
            Some((_, fx)) => fx,
            None => Effects::go_on(),
        }
    }

    /// Settles the limits' admission of a request the provider never saw, with no tokens.
    fn release_admission(&mut self, host: &dyn HostView, fx: &mut Effects) {
        let (Some(config), Some(admission)) = (self.config.clone(), self.admission.take()) else {
            return;
        };
        let nothing = crate::limits::Actual::default();
        limits::settle(self, &config, &admission, &nothing, host, fx);
    }

    /// Computes the facts once and reports them (filter state, metrics), settling the
    /// limits' reservations with the real usage. `None` when already settled or when the
    /// request never went upstream.
    fn settle(&mut self, host: &dyn HostView) -> Option<(Facts, Effects)> {
        if self.settled || self.phase != Phase::Upstream {
            return None;
        }
        let config = self.config.clone()?;
        let plan = self.plan.as_ref()?;
        self.settled = true;
        let now_us = host.now_us();
        let elapsed_ms = now_us.saturating_sub(self.started_us) / 1000;
        let (outcome, status, first_token_ms) =
            response::finish(self.response.as_mut(), elapsed_ms);
        let outcome = prompt::with_retry_usage(self, outcome);
        let mut facts = settle(&config, plan, &outcome, status);
        let mut fx = Effects::default();
        if let Some(admission) = self.admission.take() {
            let actual = crate::usage::settle::actual(&facts);
            limits::settle(self, &config, &admission, &actual, host, &mut fx);
        }
        if let Some(c) = &self.caller {
            facts.consumer = Some(c.consumer.id.clone());
            facts.consumer_group = Some(c.consumer.group.clone());
        }
        facts.duration_ms = Some(elapsed_ms);
        facts.ttft_ms = first_token_ms;
        if let Some(acted) = self.response.as_ref().and_then(|r| r.stream_guard_acted()) {
            self.acted.extend(acted.iter().cloned());
        }
        if !self.acted.is_empty() {
            fx.facts
                .push(("llm_guard", crate::guard::header_value(&self.acted)));
            fx.metrics.extend(self.guard_metrics());
        }
        let (recorder, guard_stopped) = match self.response.as_mut() {
            Some(side) => (side.recorder.take(), side.guard_stopped()),
            None => (None, false),
        };
        let (store, cache_metrics) = cache::store(self, &config, &facts, recorder, guard_stopped);
        fx.background.extend(store);
        fx.metrics.extend(cache_metrics);
        fx.facts.extend(facts.filter_state());
        fx.metrics.extend(metrics::of_exchange(&config, &facts));
        Some((facts, fx))
    }
}

impl crate::effects::Filter for Exchange {
    fn on_request_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        Exchange::on_request_headers(self, host, end_of_stream)
    }
    fn on_request_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        Exchange::on_request_body(self, host, size, end_of_stream, read)
    }
    fn on_callout(&mut self, host: &dyn HostView, answer: Option<CallAnswer>) -> Effects {
        Exchange::on_callout(self, host, answer)
    }
    fn on_response_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        Exchange::on_response_headers(self, host, end_of_stream)
    }
    fn on_response_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        Exchange::on_response_body(self, host, size, end_of_stream, read)
    }
    fn on_log(&mut self, host: &dyn HostView) -> Effects {
        Exchange::on_log(self, host)
    }
}

#[cfg(test)]
mod tests;
