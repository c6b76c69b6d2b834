//! The route stage's decision for one request: the body validated, the model resolved
//! (`auto`, aliases), the provider chosen, the body translated for it, input tokens
//! counted. Pure: a body and a configuration in, a [`RequestPlan`] or the client's error out.

use serde_json::{Map, Value};

use super::config::{Provider, Route};
use crate::api::{Api, ProviderFormat};
use crate::errors::UserError;
use crate::facts::Facts;
use crate::limits::{CapCheck, OutputCaps};
use crate::providers::translate::Direction;
use crate::providers::{self, openai, openai_responses};
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
    /// The translated request's structured output travels as a call of this tool,
    /// turned back into the answer's content.
    pub structured_tool: Option<String>,
    /// The request in the client's API after the gateway's rewrites (PII masked, the
    /// model routed, the output cap clamped), before any translation: what the cache
    /// key is made of. The exchange drops it once the request goes upstream.
    pub request: Option<Map<String, Value>>,
}

/// Request headers the downstream filter sets for the chain's upstream filter: the
/// client's wire format (an attempt cannot tell it from `:path`, which an earlier attempt
/// may have rewritten; header changes persist across attempts, bodies do not).
pub const CLIENT_API_HEADER: &str = "x-llm-client-api";
/// Set to `true` on streaming requests, so Envoy's route can give streams their own
/// retry policy (the per-try timeout is the time-to-first-token limit).
pub const STREAM_HEADER: &str = "x-llm-stream";

/// The `accept-encoding` every LLM request goes upstream with.
pub const IDENTITY_ENCODING: &str = "identity";

/// What routing may look at besides the body.
pub struct RouteContext<'a> {
    pub group: Option<&'a str>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

impl RequestPlan {
    /// The facts known before the response: model, provider, stream, counted input.
    pub fn facts(&self) -> Facts {
        Facts {
            api: self.api,
            model: self.model.clone(),
            response_model: None,
            provider: self.provider.clone(),
            stream: self.stream,
            input_tokens: self.input_tokens,
            input_tokens_counted: self.input_tokens,
            input_accuracy: self.input_accuracy,
            output_tokens: None,
            cached_tokens: 0,
            cost_usd: None,
            price_key: None,
            usage_source: None,
            error: None,
            status: 0,
            ttft_ms: None,
            duration_ms: None,
            consumer: None,
            consumer_group: None,
            route_reason: self.route_reason.clone(),
        }
    }

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

/// What the plan reads of the configuration besides the route section.
#[derive(Debug, Clone, Copy)]
pub struct PlanRules<'a> {
    /// The `route` section; `None`: Envoy's route decides, the provider is the API's family.
    pub route: Option<&'a Route>,
    /// `api.max_body_bytes`.
    pub max_body_bytes: u64,
    /// Count the input tokens (the usage or the limits stage is on).
    pub count_tokens: bool,
    /// Ask OpenAI streams for usage (`usage.request_stream_usage`).
    pub request_stream_usage: bool,
    /// Output caps per model (the `limits` section's), refusing or clamping a request
    /// that asks for more.
    pub output_caps: Option<&'a OutputCaps>,
}

/// Validates a complete request body and decides what goes upstream, resolving routing
/// aliases with the caller's group and request headers. `parsed` is the body already
/// parsed (by the guard stage), so it is not parsed twice.
pub fn plan(
    rules: &PlanRules,
    api: Api,
    body: &[u8],
    parsed: Option<Map<String, Value>>,
    ctx: &RouteContext,
) -> Result<RequestPlan, UserError> {
    if body.len() as u64 > rules.max_body_bytes {
        return Err(UserError::BodyTooLarge {
            limit: rules.max_body_bytes,
        });
    }
    let mut req = match parsed {
        Some(req) => req,
        None => providers::parse_object(body)?,
    };
    let mut summary = providers::validate_request(api, &req)?;
    let mut routed_body = None;
    let mut route_reason = None;
    // The count made for routing, and the model it was made for.
    let mut routing_count: Option<(String, u64)> = None;
    let routing = rules.route.and_then(|r| r.auto.as_ref());
    // The chat request a Responses request amounts to, for routing and counting.
    let chat_view = (api == Api::OpenAiResponses).then(|| openai_responses::chat_view(&req));
    if let Some(routing) =
        routing.filter(|r| api != Api::AnthropicMessages && r.is_alias(&summary.model))
    {
        let chat = chat_view.as_ref().unwrap_or(&req);
        let estimate = tokens::count_openai_chat(&summary.model, chat);
        match crate::route::auto::decide(
            routing,
            &summary.model,
            chat,
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
    let alias = rules.route.and_then(|r| {
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
    if let (Some(caps), Some(requested)) = (rules.output_caps, summary.max_output_tokens) {
        let field = summary.max_output_field;
        match caps.check(&summary.model, field, requested) {
            CapCheck::Within => {}
            CapCheck::Refuse(message) => {
                return Err(UserError::InvalidRequest {
                    message,
                    param: Some(field.to_string()),
                })
            }
            CapCheck::Clamp { cap } => {
                log::info!(
                    "llm-gateway: {field} {requested} clamped to {cap} for {}",
                    summary.model
                );
                req.insert(field.into(), cap.into());
                routed_body = Some(Value::Object(req.clone()).to_string().into_bytes());
                summary.max_output_tokens = Some(cap);
            }
        }
    }
    let body: &[u8] = routed_body.as_deref().unwrap_or(body);
    let counts = rules.count_tokens;
    let (input_tokens, input_accuracy) = match (counts, api) {
        (false, _) => (None, Accuracy::Estimate),
        (true, Api::AnthropicMessages) => (
            Some(tokens::count_anthropic_messages(&req)),
            Accuracy::Estimate,
        ),
        (true, Api::OpenAiEmbeddings) => (
            Some(tokens::count_embedding_input(&summary.model, &req)),
            tokens::encoding_for_model(&summary.model).1,
        ),
        (true, _) => {
            let chat = chat_view.as_ref().unwrap_or(&req);
            let count = match routing_count {
                Some((alias, n)) if tokens::same_chat_counting(&alias, &summary.model) => n,
                _ => tokens::count_openai_chat(&summary.model, chat),
            };
            // OpenAI does not publish the Responses overheads: the chat method applied to
            // the equivalent chat request is an estimate there. A remote image counts at a
            // default size: the count is an estimate too.
            let estimated = api == Api::OpenAiResponses || tokens::image::has_estimated_image(chat);
            let accuracy = match estimated {
                true => Accuracy::Estimate,
                false => tokens::encoding_for_model(&summary.model).1,
            };
            (Some(count), accuracy)
        }
    };
    let mut plan = RequestPlan {
        api,
        provider: api.family().to_string(),
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
        structured_tool: None,
        request: None,
    };
    if routed_body.is_some() {
        plan.new_body = Some(body.to_vec());
    }
    // Embeddings never go to the chain: another provider's model would answer with vectors
    // of another space, which the client could not tell from the ones it stored.
    let chain = rules
        .route
        .and_then(|r| r.fallback.as_ref())
        .filter(|f| api.generates() && f.models.contains_key(&plan.model));
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
    } else if let Some(route) = rules.route {
        // A provider serves a chat API in either format (the body is translated when the
        // formats differ); embeddings only in OpenAI's.
        let claims = |p: &Provider| {
            !p.missing_key && p.models.iter().any(|m| plan.model.starts_with(m.as_str()))
        };
        let serves = |p: &Provider| claims(p) && p.format.api_for(api).is_some();
        // An alias's provider without its key is skipped like any other. A model that only
        // providers without the API claim is theirs still: refused below, not sent to the
        // default provider under a name it does not know.
        let provider = alias
            .map(|(p, _)| p)
            .filter(|p| !p.missing_key)
            .or_else(|| route.providers.iter().find(|p| serves(p)))
            .or_else(|| route.providers.iter().find(|p| claims(p)))
            .unwrap_or(&route.providers[route.default_provider]);
        plan.provider = provider.name.clone();
        if let Some(e) = provider.cannot_serve(api, &req) {
            return Err(e);
        }
        let Some(upstream) = provider.format.api_for(api) else {
            return Err(unserved(api, &plan.model, provider));
        };
        if let Some(direction) = Direction::between(api, upstream) {
            // E.g. the OpenAI SDK talks to a Claude model: send Anthropic's Messages API.
            plan.new_body =
                Some(direction.request(&req, &plan.model, summary.max_output_tokens)?);
            plan.upstream_format = upstream;
            plan.structured_tool = direction.structured_tool(&req);
            plan.set_headers
                .push((":path", direction.upstream_path().to_string()));
            match direction.upstream_api() {
                Api::AnthropicMessages => plan
                    .set_headers
                    .push(("anthropic-version", "2023-06-01".to_string())),
                _ => {
                    plan.remove_headers.push("anthropic-version");
                    plan.remove_headers.push("anthropic-beta");
                }
            }
        }
        provider_headers(provider, &mut plan.set_headers, &mut plan.remove_headers);
    }
    // The answer is metered, translated and guarded as it passes: ask for it unencoded
    // (identity is always acceptable, RFC 9110). Envoy's compressor, when installed
    // before the module, still compresses for a client that accepts it.
    plan.set_headers
        .push(("accept-encoding", IDENTITY_ENCODING.to_string()));
    if rules.request_stream_usage
        && api == Api::OpenAiChat
        && !plan.translated()
        && plan.stream
        && !summary.client_wants_stream_usage
    {
        plan.new_body = Some(openai::with_stream_usage(body, &req));
        plan.added_stream_usage = true;
    }
    plan.request = Some(req);
    Ok(plan)
}

/// The client's error when the provider of `model` cannot serve `api`.
pub fn unserved(api: Api, model: &str, provider: &Provider) -> UserError {
    UserError::InvalidRequest {
        message: format!(
            "The model `{model}` is served by provider `{}` (format {}), which cannot serve {} requests; no provider of this gateway serves them for this model",
            provider.name,
            provider.format.name(),
            api.name()
        ),
        param: Some("model".into()),
    }
}

/// The headers that send a request to `provider`: `x-llm-provider` (Envoy's route
/// matches it) and the provider's key in its format's header, the other header removed.
fn provider_headers(
    provider: &Provider,
    set: &mut Vec<(&'static str, String)>,
    remove: &mut Vec<&'static str>,
) {
    set.push(("x-llm-provider", provider.name.clone()));
    if let Some(key) = &provider.api_key {
        match provider.format {
            ProviderFormat::Anthropic => {
                set.push(("x-api-key", key.clone()));
                remove.push("authorization");
            }
            _ => {
                set.push(("authorization", format!("Bearer {key}")));
                remove.push("x-api-key");
            }
        }
    }
}

/// A stored OpenAI Response (`GET`/`DELETE /v1/responses/{id}`, ...) lives where it
/// was created; it goes to the provider that holds stored responses
/// (`route.stored_responses_provider`), with its key. Returns the provider's name and
/// the headers to set and to remove.
pub fn stored_response(route: &Route) -> (String, Vec<(&'static str, String)>, Vec<&'static str>) {
    let provider = &route.providers[route.stored_responses];
    let (mut set, mut remove) = (Vec::new(), Vec::new());
    provider_headers(provider, &mut set, &mut remove);
    (provider.name.clone(), set, remove)
}

#[cfg(test)]
mod tests;
