//! One HTTP stream: feeds the exchange logic and applies its decisions.

use std::rc::Rc;
use std::time::SystemTime;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType};

use super::glue::{self, Metrics};
use crate::api::Api;
use crate::config::Config;
use crate::errors::UserError;
use crate::exchange::{self, BodyKind, RequestPlan, ResponseMeter};
use crate::facts::Facts;
use crate::guard::{self, answer::GuardedStream, judge::Judge, Acted, AnswerGuard, Mode};
use crate::identity::{Caller, Credentials, Identity, IdentityError};
use crate::limits::{self, Admission, RateLimitStatus};
use crate::metrics;
use crate::providers::stream_end;
use crate::providers::translate::StreamBack;
use crate::sse::WholeEvents;

use super::store::SharedData;

/// Largest JSON response body held back to read its usage. Past it the held headers and
/// body are released and the rest streams through unmetered (error
/// `response_unreadable`). Must stay below Envoy's buffer limit for the route
/// (`request_body_buffer_limit`, 4 MiB in envoy/envoy.yaml): past that limit Envoy
/// replaces the provider's answer with its own 500.
const MAX_JSON_RESPONSE: usize = 3 * 1024 * 1024;

pub struct HttpExchange {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
    /// Set when the request is on an LLM path.
    api: Option<Api>,
    started: SystemTime,
    plan: Option<RequestPlan>,
    caller: Option<Caller>,
    /// What the limits stage reserved; settled exactly once.
    admission: Option<Admission>,
    meter: Option<ResponseMeter>,
    /// Response headers are held until the (JSON) body is complete.
    holding_response_headers: bool,
    /// The provider's events -> the client's, for a translated stream.
    stream_translator: Option<StreamBack>,
    /// A stream in the client's format passes in whole events, so that one the provider
    /// ends early can be closed with an explicit error event.
    whole_events: Option<WholeEvents>,
    /// Guard rules that acted on this exchange, in order (input, then output).
    guard_acted: Vec<Acted>,
    /// The guard's output side, until the response shows whether it streams.
    answer_guard: Option<AnswerGuard>,
    guarded_stream: Option<GuardedStream>,
    /// A plan waiting for the judge's verdict.
    judging: Option<RequestPlan>,
    settled: bool,
}

impl HttpExchange {
    pub fn new(config: Option<Rc<Config>>, metrics: Rc<Metrics>) -> Self {
        HttpExchange {
            config,
            metrics,
            api: None,
            started: SystemTime::UNIX_EPOCH,
            plan: None,
            caller: None,
            admission: None,
            meter: None,
            holding_response_headers: false,
            stream_translator: None,
            whole_events: None,
            guard_acted: Vec::new(),
            answer_guard: None,
            guarded_stream: None,
            judging: None,
            settled: false,
        }
    }

    fn reject(&mut self, api: Api, error: UserError) -> Action {
        self.reject_with(api, error, vec![])
    }

    fn reject_with(
        &mut self,
        api: Api,
        error: UserError,
        headers: Vec<(String, String)>,
    ) -> Action {
        log::info!("llm-gateway: rejected request: {}", error.message());
        let mut headers = headers;
        if !self.guard_acted.is_empty() {
            let value = guard::header_value(&self.guard_acted);
            glue::set_filter_state("llm_guard", &value);
            self.record_guard_metrics();
            headers.push(("x-llm-guard".into(), value));
        }
        self.metrics
            .add(&metrics::rejected_request(error.kind()), 1);
        glue::set_filter_state("llm_error", error.kind());
        glue::set_filter_state("llm_api", api.name());
        if let Some(c) = &self.caller {
            glue::set_filter_state("llm_consumer", &c.consumer.id);
            glue::set_filter_state("llm_consumer_group", &c.consumer.group);
        }
        glue::send_response(
            error.status(),
            "application/json",
            &error.envelope(api),
            &headers,
        );
        self.api = None;
        Action::Pause
    }

    /// One counter per guard rule and action: `llm.guard.rule.<rule>.action.<action>`.
    fn record_guard_metrics(&self) {
        for a in &self.guard_acted {
            self.metrics
                .add(&metrics::guard_action(&a.rule, a.action), 1);
        }
    }

    /// Admits the planned request (limits) and lets it go upstream.
    fn proceed(&mut self, config: &Config, plan: RequestPlan) -> Action {
        if let Err((e, headers)) = self.admit(config, &plan) {
            return self.reject_with(plan.api, e, headers);
        }
        self.plan = Some(plan);
        Action::Continue
    }

    /// Asks the judge about a grey-zone request; the plan waits in `judging`.
    fn ask_judge(
        &mut self,
        config: &Config,
        judge: &Judge,
        plan: RequestPlan,
        text: &str,
    ) -> Action {
        let body = judge.request_body(text);
        let len = body.len().to_string();
        let mut headers = vec![
            (":method", "POST"),
            (":path", judge.path.as_str()),
            (":authority", judge.authority.as_str()),
            ("content-type", "application/json"),
            ("content-length", len.as_str()),
        ];
        headers.extend(judge.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let timeout = std::time::Duration::from_millis(judge.timeout_ms);
        match glue::dispatch_call(&judge.cluster, &headers, &body, timeout) {
            Some(_) => {
                self.judging = Some(plan);
                Action::Pause
            }
            None => self.judged(config, judge, guard::judge::JudgeVerdict::Unclear, plan),
        }
    }

    fn judged(
        &mut self,
        config: &Config,
        judge: &Judge,
        verdict: guard::judge::JudgeVerdict,
        plan: RequestPlan,
    ) -> Action {
        if judge.blocks(verdict) {
            self.guard_acted.push(Acted {
                rule: "judge".into(),
                action: "block",
            });
            let category = "prompt_injection".to_string();
            return self.reject(plan.api, UserError::ContentFilter { category });
        }
        self.guard_acted.push(Acted {
            rule: "judge".into(),
            action: "allow",
        });
        self.proceed(config, plan)
    }

    /// The limits stage: reserve this request's demand in every counter that applies.
    fn admit(
        &mut self,
        config: &Config,
        plan: &RequestPlan,
    ) -> Result<(), (UserError, Vec<(String, String)>)> {
        let Some(lim) = &config.limits else {
            return Ok(());
        };
        let demand = exchange::demand(config, lim, plan).map_err(|e| (e, vec![]))?;
        let policy = match glue::request_header("helicone-ratelimit-policy") {
            Some(value) if lim.client_policy => {
                Some(limits::parse_client_policy(&value).map_err(|message| {
                    let name = limits::CLIENT_POLICY_HEADER.to_string();
                    (UserError::InvalidHeader { name, message }, vec![])
                })?)
            }
            _ => None,
        };
        let subject = exchange::subject(self.caller.as_ref(), &plan.model);
        let group = metrics::group_label(config, subject.group);
        let now = glue::now_us();
        match limits::admit(lim, &SharedData, &subject, &demand, policy.as_ref(), now) {
            Ok(admission) => {
                if admission.degraded {
                    log::warn!("llm-gateway: limits store unavailable; request admitted without some counters");
                }
                self.metrics
                    .add(&format!("llm.limits_admitted.group.{group}"), 1);
                let reserved = demand.input_tokens + demand.reserved_output_tokens;
                self.metrics.add(
                    &format!("llm.limits_reserved_tokens.group.{group}"),
                    reserved,
                );
                self.admission = Some(admission);
                Ok(())
            }
            Err(refusal) => {
                self.metrics.add(
                    &format!(
                        "llm.limits_refused.kind.{}.group.{group}",
                        refusal.kind.as_str()
                    ),
                    1,
                );
                let mut headers = rate_limit_headers(plan.api, &refusal.headers, now);
                if let Some(secs) = refusal.retry_after_secs {
                    // A little jitter so refused clients do not come back in lockstep.
                    let ms = secs * 1000 + (now / 1000) % 500;
                    headers.push(("retry-after".into(), ms.div_ceil(1000).to_string()));
                    headers.push(("retry-after-ms".into(), ms.to_string()));
                }
                Err((exchange::refusal_error(&refusal), headers))
            }
        }
    }

    fn apply_plan(&mut self, plan: &RequestPlan, body_size: usize) {
        // Headers are still held (we paused in on_http_request_headers).
        glue::rewrite_request(
            body_size,
            plan.new_body.as_deref(),
            &plan.remove_headers,
            &plan.set_headers,
        );
    }

    /// Computes the facts once, publishes them to filter state and metrics, and returns
    /// them for the response headers.
    fn settle(&mut self) -> Option<Facts> {
        if self.settled {
            return None;
        }
        let (config, plan) = (self.config.as_ref()?, self.plan.as_ref()?);
        self.settled = true;
        let elapsed = glue::elapsed_ms(self.started);
        let (outcome, status) = match self.meter.as_mut() {
            Some(m) => (m.finish(elapsed), m.status),
            None => (
                exchange::ResponseOutcome {
                    cut: true,
                    ..Default::default()
                },
                0,
            ),
        };
        let mut facts = exchange::settle(config, plan, &outcome, status);
        if let (Some(lim), Some(admission)) = (&config.limits, self.admission.take()) {
            let actual = exchange::actual(&facts);
            limits::settle(lim, &SharedData, &admission, &actual, glue::now_us());
            let group = metrics::group_label(
                config,
                self.caller.as_ref().map(|c| c.consumer.group.as_str()),
            );
            let settled = actual.input_tokens + actual.output_tokens;
            self.metrics
                .add(&format!("llm.limits_settled_tokens.group.{group}"), settled);
        }
        if let Some(c) = &self.caller {
            facts.consumer = Some(c.consumer.id.clone());
            facts.consumer_group = Some(c.consumer.group.clone());
        }
        facts.duration_ms = Some(elapsed);
        if let Some(g) = self.guarded_stream.as_ref() {
            self.guard_acted.extend(g.acted.iter().cloned());
        }
        if !self.guard_acted.is_empty() {
            glue::set_filter_state("llm_guard", &guard::header_value(&self.guard_acted));
            self.record_guard_metrics();
        }
        facts.ttft_ms = self.meter.as_ref().and_then(|m| m.first_token_ms);
        for (name, value) in facts.filter_state() {
            glue::set_filter_state(name, &value);
        }
        for (name, value) in metrics::counter_updates(&facts) {
            self.metrics.add(&name, value);
        }
        for (name, value) in metrics::histogram_updates(&facts) {
            self.metrics.record(&name, value);
        }
        Some(facts)
    }
}

/// OpenAI's `x-ratelimit-*` headers, and Anthropic's `anthropic-ratelimit-*` too on the
/// messages API.
fn rate_limit_headers(api: Api, status: &RateLimitStatus, now_us: u64) -> Vec<(String, String)> {
    let mut headers = status.openai_headers();
    if api == Api::AnthropicMessages {
        headers.extend(status.anthropic_headers(now_us));
    }
    headers
}

/// Reads the caller's credentials from the request and identifies them.
fn identify(identity: &Identity) -> Result<Option<Caller>, UserError> {
    let authorization = glue::request_header("authorization");
    let x_api_key = glue::request_header("x-api-key");
    let claims = identity.jwt.as_ref().map(|jwt| {
        let claim = |name: &str| {
            glue::property(&[
                "metadata",
                "filter_metadata",
                &jwt.metadata_namespace,
                &jwt.payload_key,
                name,
            ])
        };
        (
            claim(&jwt.consumer_claim),
            jwt.group_claim.as_deref().and_then(claim),
        )
    });
    let trusted = identity.trusted_header.as_ref().map(|t| {
        (
            glue::request_header(&t.consumer),
            t.group.as_deref().and_then(glue::request_header),
        )
    });
    let creds = Credentials {
        authorization: authorization.as_deref(),
        x_api_key: x_api_key.as_deref(),
        jwt_claims: claims.as_ref().map(|(c, g)| (c.as_deref(), g.as_deref())),
        trusted: trusted.as_ref().map(|(c, g)| (c.as_deref(), g.as_deref())),
    };
    identity.identify(&creds).map_err(|e| match e {
        IdentityError::InvalidKey => {
            UserError::InvalidApiKey("the key is missing or not known to this gateway".into())
        }
        IdentityError::MalformedKey(why) => UserError::InvalidApiKey(why.to_string()),
    })
}

impl Context for HttpExchange {
    fn on_http_call_response(
        &mut self,
        _token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let (Some(plan), Some(config)) = (self.judging.take(), self.config.clone()) else {
            return;
        };
        let Some(judge) = config.guard.as_ref().and_then(|g| g.judge.as_ref()) else {
            return;
        };
        // A timeout arrives here too, as Envoy's own 504.
        let (status, answer) = glue::call_response(body_size);
        let verdict = Judge::verdict(status, &answer);
        if self.judged(&config, judge, verdict, plan) == Action::Continue {
            glue::resume_request();
        }
    }
}

impl HttpContext for HttpExchange {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(config) = self.config.clone() else {
            return Action::Continue;
        };
        if config.route.is_some() && glue::request_header("x-llm-provider").is_some() {
            // Only the gateway decides the provider route.
            glue::set_request_header("x-llm-provider", None);
        }
        if glue::request_header(":method").as_deref() != Some("POST") {
            return Action::Continue;
        }
        let Some(api) = glue::request_header(":path").and_then(|p| config.api_for_path(&p)) else {
            return Action::Continue;
        };
        self.api = Some(api);
        self.started = glue::now();
        if let Some(identity) = &config.identity {
            match identify(identity) {
                Ok(caller) => self.caller = caller,
                Err(e) => return self.reject(api, e),
            }
            // The client's credential is for the gateway only; the route stage injects
            // the provider's own key.
            glue::set_request_header("authorization", None);
            glue::set_request_header("x-api-key", None);
        }
        if end_of_stream {
            return self.reject(api, UserError::MalformedBody("the body is empty".into()));
        }
        let declared =
            glue::request_header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > config.max_body_bytes) {
            return self.reject(
                api,
                UserError::BodyTooLarge {
                    limit: config.max_body_bytes,
                },
            );
        }
        // Hold the headers until the body is read: the provider route and the body may
        // change. Needs `allow_on_headers_stop_iteration: true` in the filter config.
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(api), Some(config)) = (self.api, self.config.clone()) else {
            return Action::Continue;
        };
        if body_size as u64 > config.max_body_bytes {
            return self.reject(
                api,
                UserError::BodyTooLarge {
                    limit: config.max_body_bytes,
                },
            );
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let body = glue::body(BufferType::HttpRequestBody, body_size);
        let group = self.caller.as_ref().map(|c| c.consumer.group.clone());
        let consumer = self.caller.as_ref().map(|c| c.consumer.id.clone());
        let path = glue::request_header(":path").unwrap_or_default();
        let policy = config
            .guard
            .as_ref()
            .map(|g| g.policy_for(&path, group.as_deref(), consumer.as_deref()));
        let mut guarded_body = None;
        let mut parsed = None;
        let mut judge_ask = None;
        if let Some(policy) = policy {
            let outcome = guard::inspect_request(policy, api, &body);
            self.guard_acted = outcome.acted;
            if let Some(e) = outcome.blocked {
                return self.reject(api, e);
            }
            self.answer_guard = outcome.answer;
            guarded_body = outcome.body;
            parsed = outcome.parsed;
            judge_ask = outcome.judge.filter(|_| policy.mode == Mode::Enforce);
        }
        let ctx = exchange::RouteContext {
            group: group.as_deref(),
            header: &glue::request_header,
        };
        let sent = guarded_body.as_deref().unwrap_or(&body);
        let planned = exchange::plan_parsed_request(&config, api, sent, parsed, &ctx)
            .and_then(|plan| exchange::authorize(&plan, self.caller.as_ref()).map(|()| plan));
        let mut plan = match planned {
            Ok(plan) => plan,
            Err(e) => return self.reject(api, e),
        };
        if plan.new_body.is_none() {
            plan.new_body = guarded_body;
        }
        if let Some(policy) = policy {
            if let Err((acted, error)) = guard::check_tokens(policy, plan.input_tokens) {
                self.guard_acted.push(acted);
                if let Some(e) = error {
                    return self.reject(api, e);
                }
            }
        }
        // The body and route are set now, so that the judge's verdict only has to let the
        // request go (a body cannot be replaced from an HTTP-call callback).
        self.apply_plan(&plan, body_size);
        let judge = config.guard.as_ref().and_then(|g| g.judge.as_ref());
        if let (Some(ask), Some(judge)) = (judge_ask, judge) {
            return self.ask_judge(&config, judge, plan, &ask.text);
        }
        self.proceed(&config, plan)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Some(plan) = self.plan.as_mut().filter(|p| p.fallback) {
            // The chain's upstream filter names the provider and model that answered.
            if let Some(provider) = glue::response_header("x-llm-provider") {
                plan.provider = provider;
            }
            if let Some(model) = glue::response_header("x-llm-model") {
                plan.model = model;
            }
        }
        let Some(plan) = &self.plan else {
            return Action::Continue;
        };
        let status = glue::response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = glue::response_header("content-type");
        // Usage is read in the provider's own format, before any translation.
        let meter = ResponseMeter::new(
            plan.upstream_format,
            status,
            content_type.as_deref(),
            MAX_JSON_RESPONSE,
        );
        let kind = meter.kind;
        let translated = plan.translated();
        if let Some(direction) = plan
            .translation()
            .filter(|_| kind == BodyKind::EventStream && status < 400)
        {
            let now = glue::now_us();
            self.stream_translator = Some(StreamBack::new(
                direction,
                &plan.model,
                &format!("{now:x}"),
                plan.client_wants_stream_usage,
                now / 1_000_000,
            ));
            // The translated stream has another length.
            glue::remove_response_header("content-length");
        } else if kind == BodyKind::EventStream && status < 400 {
            self.whole_events = Some(WholeEvents::new());
            // A stream ended early gets a final event: another length.
            glue::remove_response_header("content-length");
        }
        for (name, value) in Facts::from_plan(plan).early_headers() {
            glue::set_response_header(name, &value);
        }
        if !self.guard_acted.is_empty() {
            glue::set_response_header("x-llm-guard", &guard::header_value(&self.guard_acted));
        }
        if status >= 400 {
            self.answer_guard = None;
        } else if kind == BodyKind::EventStream {
            if let Some(answer) = self.answer_guard.take() {
                self.guarded_stream = Some(answer.stream());
                glue::remove_response_header("content-length");
            }
        }
        if let Some(admission) = &self.admission {
            for (name, value) in rate_limit_headers(plan.api, &admission.headers, glue::now_us()) {
                glue::set_response_header(&name, &value);
            }
        }
        self.meter = Some(meter);
        if end_of_stream {
            if let Some(facts) = self.settle() {
                for (name, value) in facts.final_headers() {
                    glue::set_response_header(name, &value);
                }
            }
            return Action::Continue;
        }
        if kind == BodyKind::Json || (translated && self.stream_translator.is_none()) {
            // Hold the headers so tokens and cost can go into them once the body is read
            // (and, when translating, the body's length).
            self.holding_response_headers = true;
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(meter) = self.meter.as_mut() else {
            return Action::Continue;
        };
        let elapsed = glue::elapsed_ms(self.started);
        if self.holding_response_headers && body_size > MAX_JSON_RESPONSE {
            log::info!("llm-gateway: JSON response over {MAX_JSON_RESPONSE} bytes passes through unmetered");
            meter.unreadable = true;
            self.holding_response_headers = false;
        }
        if self.holding_response_headers {
            if !end_of_stream {
                // The host keeps buffering; the whole body is read at the end.
                return Action::Pause;
            }
            let body = glue::body(BufferType::HttpResponseBody, body_size);
            meter.feed(&body, elapsed);
            if let Some((plan, direction)) = self
                .plan
                .as_ref()
                .and_then(|p| p.translation().map(|d| (p, d)))
            {
                let created = glue::now_us() / 1_000_000;
                let out = direction.whole_body(&plan.model, meter.status, &body, created);
                if glue::replace_body(BufferType::HttpResponseBody, body_size, &out) {
                    glue::set_response_header("content-length", &out.len().to_string());
                    glue::set_response_header("content-type", "application/json");
                }
            }
            if let Some(answer) = self.answer_guard.take() {
                // The client's format now (translated above if need be).
                let current = glue::body(BufferType::HttpResponseBody, usize::MAX);
                let (out, acted) = answer.filter_body(&current);
                if let Some(out) = out {
                    if glue::replace_body(BufferType::HttpResponseBody, current.len(), &out) {
                        glue::set_response_header("content-length", &out.len().to_string());
                    }
                }
                if !acted.is_empty() {
                    self.guard_acted.extend(acted);
                    glue::set_response_header(
                        "x-llm-guard",
                        &guard::header_value(&self.guard_acted),
                    );
                }
            }
        } else if meter.kind == BodyKind::EventStream {
            // After Continue, each callback's buffer holds only the new chunk.
            let chunk = glue::body(BufferType::HttpResponseBody, body_size);
            meter.feed(&chunk, elapsed);
            let mut out = None;
            if let Some(translator) = self.stream_translator.as_mut() {
                let mut bytes = translator.feed(&chunk);
                if end_of_stream {
                    bytes.extend(translator.finish());
                }
                out = Some(bytes);
            } else if let Some(whole) = self.whole_events.as_mut() {
                out = whole.feed(&chunk);
                if end_of_stream {
                    let mut last = out.take().unwrap_or_else(|| chunk.clone());
                    if meter.stream_ended_explicitly() {
                        last.extend(whole.take_tail());
                    } else {
                        // The provider closed before its final event: say so, instead of
                        // a clean end that looks complete. A half event is dropped.
                        log::info!("llm-gateway: stream ended before its final event; closing it with an error event");
                        whole.take_tail();
                        last.extend(stream_end::truncated(meter.api()));
                    }
                    out = Some(last);
                }
            }
            if let Some(guarded) = self.guarded_stream.as_mut() {
                let input = out.as_deref().unwrap_or(&chunk);
                let mut bytes = guarded.feed(input);
                if end_of_stream {
                    bytes.extend(guarded.finish());
                }
                out = Some(bytes);
            }
            if let Some(out) = out {
                glue::replace_body(BufferType::HttpResponseBody, body_size, &out);
            }
        }
        if end_of_stream {
            let holding = self.holding_response_headers;
            if let Some(facts) = self.settle() {
                if holding {
                    for (name, value) in facts.final_headers() {
                        glue::set_response_header(name, &value);
                    }
                }
            }
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        // A stream that never ended (client gone, upstream reset) settles here.
        self.settle();
    }
}
