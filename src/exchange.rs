//! One request/response exchange on an LLM path, as pure logic: the host feeds it the
//! request body, then response headers and body chunks, and asks for facts at the end.

use serde_json::{Map, Value};

use crate::api::{Api, ProviderFormat};
use crate::config::Config;
use crate::errors::UserError;
use crate::facts::Facts;
use crate::identity::Caller;
use crate::limits::{Actual, Budget, Demand, LimitKind, Limits, Refusal, Subject};
use crate::providers::translate::Direction;
use crate::providers::{self, anthropic, openai, ProviderUsage, ResponsePiece};
use crate::sse::SseParser;
use crate::tokens::{self, Accuracy};

/// What to do with an accepted request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPlan {
    pub api: Api,
    pub model: String,
    pub provider: String,
    pub stream: bool,
    /// Counted input tokens (`None` when the usage stage is off).
    pub input_tokens: Option<u64>,
    pub input_accuracy: Accuracy,
    /// A rewritten body to send upstream instead of the client's.
    pub new_body: Option<Vec<u8>>,
    /// Request headers to set (name, value). Values may be secrets: never log them.
    pub set_headers: Vec<(&'static str, String)>,
    /// Request headers to remove.
    pub remove_headers: Vec<&'static str>,
    /// The gateway asked for stream usage that the client did not ask for.
    pub added_stream_usage: bool,
    /// The output cap the client asked for.
    pub max_output_tokens: Option<u64>,
    /// The wire format the provider speaks for this request: `api`, or Anthropic when an
    /// OpenAI request is translated for an Anthropic provider.
    pub upstream_format: Api,
    /// The client asked for usage in its stream (OpenAI `stream_options.include_usage`).
    pub client_wants_stream_usage: bool,
    /// Why a routing alias (`auto`) chose `model`; for `x-llm-route-reason`.
    pub route_reason: Option<String>,
    /// The request goes to the fallback chain: the upstream filter adapts each attempt
    /// and names the provider and model that answered in the response headers.
    pub fallback: bool,
}

/// Request headers the downstream filter sets for the chain's upstream filter: the
/// client's wire format (an attempt cannot tell it from `:path`, which an earlier attempt
/// may have rewritten; header changes persist across attempts, bodies do not).
pub const CLIENT_API_HEADER: &str = "x-llm-client-api";
/// Set to `true` on streaming requests, so Envoy's route can give streams their own
/// retry policy (the per-try timeout is the time-to-first-token limit).
pub const STREAM_HEADER: &str = "x-llm-stream";

/// What routing may look at besides the body.
pub struct RouteContext<'a> {
    pub group: Option<&'a str>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

impl RequestPlan {
    /// The request is translated on the way up and the response on the way back.
    pub fn translated(&self) -> bool {
        self.translation().is_some()
    }

    /// Which way, when the request is translated.
    pub fn translation(&self) -> Option<Direction> {
        Direction::between(self.api, self.upstream_format)
    }
}

pub use crate::providers::translate::DEFAULT_TRANSLATED_MAX_TOKENS;

/// Validates a complete request body and decides what goes upstream.
pub fn plan_request(config: &Config, api: Api, body: &[u8]) -> Result<RequestPlan, UserError> {
    plan_routed_request(
        config,
        api,
        body,
        &RouteContext {
            group: None,
            header: &|_| None,
        },
    )
}

/// Validates a complete request body and decides what goes upstream, resolving routing
/// aliases with the caller's group and request headers.
pub fn plan_routed_request(
    config: &Config,
    api: Api,
    body: &[u8],
    ctx: &RouteContext,
) -> Result<RequestPlan, UserError> {
    plan_parsed_request(config, api, body, None, ctx)
}

/// As [`plan_routed_request`], with `parsed` the body already parsed (by the guard stage),
/// so it is not parsed twice.
pub fn plan_parsed_request(
    config: &Config,
    api: Api,
    body: &[u8],
    parsed: Option<Map<String, Value>>,
    ctx: &RouteContext,
) -> Result<RequestPlan, UserError> {
    if body.len() as u64 > config.max_body_bytes {
        return Err(UserError::BodyTooLarge {
            limit: config.max_body_bytes,
        });
    }
    let mut req = match parsed {
        Some(req) => req,
        None => providers::parse_object(body)?,
    };
    let mut summary = match api {
        Api::AnthropicMessages => anthropic::validate_request(&req)?,
        Api::OpenAiChat => openai::validate_request(&req)?,
    };
    let mut routed_body = None;
    let mut route_reason = None;
    // The count made for routing, and the model it was made for.
    let mut routing_count: Option<(String, u64)> = None;
    let routing = config.route.as_ref().and_then(|r| r.auto.as_ref());
    if let Some(routing) = routing.filter(|r| api == Api::OpenAiChat && r.is_alias(&summary.model))
    {
        let estimate = tokens::count_openai_chat(&summary.model, &req);
        match crate::route::auto::decide(
            routing,
            &summary.model,
            &req,
            estimate,
            ctx.group,
            ctx.header,
        ) {
            Ok(decision) => {
                routing_count = Some((summary.model.clone(), estimate));
                req.insert("model".into(), decision.model.clone().into());
                routed_body = Some(
                    serde_json::Value::Object(req.clone())
                        .to_string()
                        .into_bytes(),
                );
                summary.model = decision.model;
                route_reason = Some(decision.reason);
            }
            Err(crate::route::auto::RouteError::AllForbidden { reason }) => {
                log::info!("llm-gateway: routing refused {}: {reason}", summary.model);
                return Err(UserError::ModelNotAllowed {
                    model: summary.model,
                });
            }
            Err(crate::route::auto::RouteError::UnknownAlias) => {}
        }
    }
    // An alias: the provider's own model name from here on (sent, counted, priced).
    let alias = config.route.as_ref().and_then(|r| {
        r.aliases
            .get(&summary.model)
            .map(|(p, m)| (&r.providers[*p], m))
    });
    if let Some((provider, model)) = alias {
        route_reason
            .get_or_insert_with(|| format!("alias={} provider={}", summary.model, provider.name));
        req.insert("model".into(), model.clone().into());
        routed_body = Some(
            serde_json::Value::Object(req.clone())
                .to_string()
                .into_bytes(),
        );
        summary.model = model.clone();
    }
    let body: &[u8] = routed_body.as_deref().unwrap_or(body);
    let counts = config.usage.is_some() || config.limits.is_some();
    let (input_tokens, input_accuracy) = match (counts, api) {
        (false, _) => (None, Accuracy::Estimate),
        (true, Api::AnthropicMessages) => (
            Some(tokens::count_anthropic_messages(&req)),
            Accuracy::Estimate,
        ),
        (true, _) => {
            let count = match routing_count {
                Some((alias, n)) if tokens::same_chat_counting(&alias, &summary.model) => n,
                _ => tokens::count_openai_chat(&summary.model, &req),
            };
            (Some(count), tokens::encoding_for_model(&summary.model).1)
        }
    };
    let mut plan = RequestPlan {
        api,
        provider: match api {
            Api::AnthropicMessages => "anthropic".to_string(),
            _ => "openai".to_string(),
        },
        model: summary.model,
        stream: summary.stream,
        input_tokens,
        input_accuracy,
        new_body: None,
        set_headers: vec![],
        remove_headers: vec![],
        added_stream_usage: false,
        max_output_tokens: summary.max_output_tokens,
        upstream_format: api,
        client_wants_stream_usage: summary.client_wants_stream_usage,
        route_reason,
        fallback: false,
    };
    if routed_body.is_some() {
        plan.new_body = Some(body.to_vec());
    }
    let chain = config
        .route
        .as_ref()
        .and_then(|r| r.fallback.as_ref())
        .filter(|f| f.models.contains_key(&plan.model));
    if let Some(chain) = chain {
        // The chain's upstream filter picks the body, path and key per attempt.
        plan.fallback = true;
        plan.provider = chain.name.clone();
        plan.set_headers
            .push(("x-llm-provider", chain.name.clone()));
        plan.set_headers
            .push((CLIENT_API_HEADER, api.name().to_string()));
        if plan.stream {
            plan.set_headers.push((STREAM_HEADER, "true".to_string()));
        }
    } else if let Some(route) = &config.route {
        // Any provider can serve either API: the body is translated when the formats
        // differ.
        let serves = |p: &crate::config::Provider| {
            !p.missing_key && p.models.iter().any(|m| plan.model.starts_with(m.as_str()))
        };
        // An alias's provider without its key is skipped like any other.
        let provider = alias
            .map(|(p, _)| p)
            .filter(|p| !p.missing_key)
            .or_else(|| route.providers.iter().find(|p| serves(p)))
            .unwrap_or(&route.providers[route.default_provider]);
        plan.provider = provider.name.clone();
        let upstream = provider.format.api_for(api);
        if let Some(direction) = Direction::between(api, upstream) {
            // E.g. the OpenAI SDK talks to a Claude model: send Anthropic's Messages API.
            plan.new_body =
                Some(direction.request(&req, &plan.model, summary.max_output_tokens)?);
            plan.upstream_format = upstream;
            plan.set_headers
                .push((":path", direction.upstream_path().to_string()));
            match direction {
                Direction::OpenAiToAnthropic => plan
                    .set_headers
                    .push(("anthropic-version", "2023-06-01".to_string())),
                Direction::AnthropicToOpenAi => {
                    plan.remove_headers.push("anthropic-version");
                    plan.remove_headers.push("anthropic-beta");
                }
            }
        }
        plan.set_headers
            .push(("x-llm-provider", provider.name.clone()));
        if let Some(key) = &provider.api_key {
            match provider.format {
                ProviderFormat::Anthropic => {
                    plan.set_headers.push(("x-api-key", key.clone()));
                    plan.remove_headers.push("authorization");
                }
                _ => {
                    plan.set_headers
                        .push(("authorization", format!("Bearer {key}")));
                    plan.remove_headers.push("x-api-key");
                }
            }
        }
    }
    let wants_usage = config
        .usage
        .as_ref()
        .is_some_and(|u| u.request_stream_usage);
    if wants_usage
        && api == Api::OpenAiChat
        && !plan.translated()
        && plan.stream
        && !summary.client_wants_stream_usage
    {
        plan.new_body = Some(openai::with_stream_usage(body, &req));
        plan.added_stream_usage = true;
    }
    Ok(plan)
}

/// Checks that the identified caller may use the requested model.
pub fn authorize(
    plan: &RequestPlan,
    caller: Option<&crate::identity::Caller>,
) -> Result<(), UserError> {
    match caller {
        Some(c) if !c.consumer.may_use(&plan.model) => Err(UserError::ModelNotAllowed {
            model: plan.model.clone(),
        }),
        _ => Ok(()),
    }
}

/// What the limits stage reserves for a request: counted input, the output cap (or the
/// configured expectation) and the cost of both at list price.
pub fn demand(config: &Config, limits: &Limits, plan: &RequestPlan) -> Result<Demand, UserError> {
    let reserved_output_tokens =
        limits
            .check_max_tokens(plan.max_output_tokens)
            .map_err(|message| UserError::InvalidRequest {
                message: format!("`{message}"),
                param: Some("max_tokens".into()),
            })?;
    let input_tokens = plan.input_tokens.unwrap_or(0);
    let price = config
        .usage
        .as_ref()
        .and_then(|u| u.prices.lookup(&plan.model));
    let estimated_cost_micro_usd = price.map_or(0, |(_, p)| {
        let billed = crate::usage::pricing::BilledTokens {
            input: input_tokens,
            output: reserved_output_tokens,
            ..Default::default()
        };
        usd_to_micro(p.cost_usd(&billed))
    });
    Ok(Demand {
        input_tokens,
        reserved_output_tokens,
        estimated_cost_micro_usd,
    })
}

/// What really happened, for settling an admission.
pub fn actual(facts: &Facts) -> Actual {
    Actual {
        input_tokens: facts.input_tokens.unwrap_or(0),
        output_tokens: facts.output_tokens.unwrap_or(0),
        cost_micro_usd: facts.cost_usd.map_or(0, usd_to_micro),
    }
}

pub fn usd_to_micro(usd: f64) -> u64 {
    (usd * 1_000_000.0).ceil().max(0.0) as u64
}

/// The limits' view of the caller.
pub fn subject<'a>(caller: Option<&'a Caller>, model: &'a str) -> Subject<'a> {
    Subject {
        consumer: caller.map(|c| c.consumer.id.as_str()),
        group: caller.map(|c| c.consumer.group.as_str()),
        model,
        budget: caller.map(|c| Budget {
            daily_micro_usd: c.consumer.daily_budget_usd.map(usd_to_micro),
            monthly_micro_usd: c.consumer.monthly_budget_usd.map(usd_to_micro),
        }),
    }
}

/// The client's error for a refusal.
pub fn refusal_error(refusal: &Refusal) -> UserError {
    match refusal.kind {
        LimitKind::Budget => UserError::QuotaExceeded {
            message: refusal.message.clone(),
        },
        LimitKind::Tokens => UserError::RateLimited {
            message: refusal.message.clone(),
            unit: "tokens",
        },
        LimitKind::Requests | LimitKind::Concurrency => UserError::RateLimited {
            message: refusal.message.clone(),
            unit: "requests",
        },
    }
}

/// How the response body is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    EventStream,
    /// Neither JSON nor SSE: passed on untouched and not metered.
    Other,
}

impl BodyKind {
    pub fn from_content_type(content_type: Option<&str>) -> BodyKind {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.starts_with("text/event-stream") {
            BodyKind::EventStream
        } else if ct.starts_with("application/json") || ct.contains("+json") {
            BodyKind::Json
        } else {
            BodyKind::Other
        }
    }
}

/// Reads a response as it passes, collecting usage and generated text.
#[derive(Debug)]
pub struct ResponseMeter {
    api: Api,
    pub kind: BodyKind,
    pub status: u32,
    sse: SseParser,
    json: Vec<u8>,
    json_limit: usize,
    usage: ProviderUsage,
    text: String,
    model: Option<String>,
    saw_done: bool,
    /// The stream carried an error event (an explicit, if unhappy, end).
    saw_error: bool,
    /// Time of the first generated content of a stream, in ms since the request started.
    pub first_token_ms: Option<u64>,
    /// The body could not be read as its content type claims.
    pub unreadable: bool,
    pub bytes: u64,
}

impl ResponseMeter {
    pub fn new(api: Api, status: u32, content_type: Option<&str>, json_limit: usize) -> Self {
        ResponseMeter {
            api,
            kind: BodyKind::from_content_type(content_type),
            status,
            sse: SseParser::new(),
            json: Vec::new(),
            json_limit,
            usage: ProviderUsage::default(),
            text: String::new(),
            model: None,
            saw_done: false,
            saw_error: false,
            first_token_ms: None,
            unreadable: false,
            bytes: 0,
        }
    }

    /// Feeds a body chunk. `elapsed_ms` is the time since the request started.
    pub fn feed(&mut self, chunk: &[u8], elapsed_ms: u64) {
        self.bytes += chunk.len() as u64;
        match self.kind {
            BodyKind::EventStream => {
                self.sse.feed(chunk);
                while let Some(ev) = self.sse.next_event() {
                    self.on_event(&ev.data, elapsed_ms);
                }
            }
            BodyKind::Json => {
                if !self.unreadable && self.json.len() + chunk.len() <= self.json_limit {
                    self.json.extend_from_slice(chunk);
                } else {
                    self.unreadable = true;
                }
            }
            BodyKind::Other => {}
        }
    }

    fn on_event(&mut self, data: &str, elapsed_ms: u64) {
        let data = data.trim();
        if data == "[DONE]" {
            self.saw_done = true;
            return;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(v) => {
                let is_error = match self.api {
                    Api::AnthropicMessages => {
                        v.get("type").and_then(Value::as_str) == Some("error")
                    }
                    _ => v.get("error").is_some(),
                };
                self.saw_error |= is_error;
                if self.api == Api::AnthropicMessages
                    && v.get("type").and_then(Value::as_str) == Some("message_stop")
                {
                    self.saw_done = true;
                }
                let piece = match self.api {
                    Api::AnthropicMessages => anthropic::read_stream_event(&v),
                    _ => openai::read_stream_event(&v),
                };
                if !piece.text.is_empty() && self.first_token_ms.is_none() {
                    self.first_token_ms = Some(elapsed_ms);
                }
                self.take(piece);
            }
            Err(_) => self.unreadable = true,
        }
    }

    fn take(&mut self, piece: ResponsePiece) {
        if let Some(u) = piece.usage {
            self.usage.merge(u);
        }
        self.text.push_str(&piece.text);
        if self.model.is_none() {
            self.model = piece.model;
        }
    }

    /// The wire format this meter reads.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The stream reached its final event (`[DONE]`, `message_stop`) or an error event.
    pub fn stream_ended_explicitly(&self) -> bool {
        self.saw_done || self.saw_error
    }

    /// Ends the body; returns what was learned. Safe to call on a cut stream.
    pub fn finish(&mut self, elapsed_ms: u64) -> ResponseOutcome {
        let mut cut = false;
        match self.kind {
            BodyKind::EventStream => {
                let partial = self.sse.has_partial_event();
                if let Some(ev) = self.sse.finish() {
                    self.on_event(&ev.data, elapsed_ms);
                }
                cut = partial || (!self.saw_done && self.status < 400);
            }
            BodyKind::Json if !self.unreadable => match serde_json::from_slice::<Value>(&self.json)
            {
                Ok(v) => {
                    let piece = match self.api {
                        Api::AnthropicMessages => anthropic::read_response(&v),
                        _ => openai::read_response(&v),
                    };
                    self.take(piece);
                }
                Err(_) => self.unreadable = true,
            },
            _ => {}
        }
        self.json = Vec::new();
        ResponseOutcome {
            usage: self.usage,
            generated_text: std::mem::take(&mut self.text),
            response_model: self.model.take(),
            cut,
            unreadable: self.unreadable || self.kind == BodyKind::Other,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ResponseOutcome {
    pub usage: ProviderUsage,
    pub generated_text: String,
    pub response_model: Option<String>,
    /// An event stream that ended without its final event, or mid-event.
    pub cut: bool,
    pub unreadable: bool,
}

/// Combines the request plan and the response outcome into the exchange's facts.
pub fn settle(
    config: &Config,
    plan: &RequestPlan,
    outcome: &ResponseOutcome,
    status: u32,
) -> Facts {
    let mut facts = Facts::from_plan(plan);
    facts.status = status;
    if config.usage.is_none() && config.limits.is_none() {
        return facts;
    }
    let counted_output = || {
        let (encoding, _) = tokens::encoding_for_model(&plan.model);
        tokens::count_text(encoding, &outcome.generated_text)
    };
    let (input, output, source) = match (outcome.usage.input, outcome.usage.output) {
        (Some(i), Some(o)) => (Some(i), o, "provider"),
        (i, o) => (
            i.or(plan.input_tokens),
            o.unwrap_or_else(counted_output),
            "counted",
        ),
    };
    facts.input_tokens = input;
    facts.output_tokens = Some(output);
    facts.cached_tokens = outcome.usage.cached_input;
    facts.usage_source = Some(source);
    let prices = config.usage.as_ref().map(|u| &u.prices);
    if let Some((_, price)) = prices.and_then(|p| p.lookup(&plan.model)) {
        let input = input.unwrap_or(0);
        let billed = crate::usage::pricing::BilledTokens {
            input: input.saturating_sub(outcome.usage.cached_input + outcome.usage.cache_write),
            cached_input: outcome.usage.cached_input,
            cache_write: outcome.usage.cache_write,
            output,
        };
        facts.cost_usd = Some(price.cost_usd(&billed));
    }
    facts.price_key = prices
        .and_then(|p| p.lookup(&plan.model))
        .map(|(k, _)| k.to_string());
    if outcome.cut {
        facts.error = Some("stream_cut");
    } else if status >= 500 {
        facts.error = Some("upstream_5xx");
    } else if status >= 400 {
        facts.error = Some("upstream_4xx");
    } else if outcome.unreadable {
        facts.error = Some("response_unreadable");
    }
    facts
}

#[cfg(test)]
mod tests;
