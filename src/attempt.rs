//! One attempt of the fallback chain, as the upstream filter sees it (pure logic).
//!
//! Envoy's router retries a chain request on the next provider of an aggregate cluster
//! (envoy/FALLBACK.md). The downstream filter sends the client's body unchanged; for each
//! attempt the upstream filter learns which provider Envoy picked and:
//! - adapts the request: the provider's model for the public one, the provider's wire
//!   format (OpenAI chat <-> Anthropic Messages), its path and its key;
//! - adapts the answer back to the client's format, plain, streaming and errors;
//! - holds a stream's response headers until its first token, so that Envoy's per-try
//!   timeout is a time-to-first-token limit: a provider that stalls before its first
//!   token is abandoned and the next one tried, while the client has seen nothing.
//!
//! The request body is fresh on every attempt (the router replays its copy), but header
//! changes persist into later attempts: every header an attempt depends on is *set* or
//! *removed* here, never appended, and nothing is read back from a header that an earlier
//! attempt wrote.

use serde_json::Value;

use crate::api::Api;
use crate::config::{Config, Fallback, Provider};
use crate::errors::UserError;
use crate::providers::translate::{Direction, StreamBack};
use crate::providers::{self, openai, openai_responses};
use crate::route::plan::unserved;
use crate::sse::SseParser;
use crate::usage::meter::BodyKind;

/// What one attempt sends upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptPlan {
    /// The provider Envoy picked for this attempt.
    pub provider: String,
    /// The model the provider serves for the client's public model.
    pub model: String,
    pub client_api: Api,
    pub upstream_format: Api,
    pub stream: bool,
    /// The client asked for usage in its stream (OpenAI `stream_options.include_usage`).
    pub client_wants_stream_usage: bool,
    pub body: Vec<u8>,
    /// Headers to set, `:path` among them. Values may be secrets: never log them.
    pub set_headers: Vec<(&'static str, String)>,
    pub remove_headers: Vec<&'static str>,
    /// The translated request's structured output travels as a call of this tool.
    pub structured_tool: Option<String>,
}

impl AttemptPlan {
    pub fn translated(&self) -> bool {
        self.translation().is_some()
    }

    pub fn translation(&self) -> Option<Direction> {
        Direction::between(self.client_api, self.upstream_format)
    }
}

/// Why an attempt cannot be adapted.
#[derive(Debug, PartialEq)]
pub enum AttemptError {
    /// The endpoint names no provider of the chain: a configuration mismatch between
    /// envoy.yaml and the filter. The request passes through unchanged.
    UnknownProvider(String),
    /// The chain does not cover this model (the downstream filter only sends models it
    /// covers). The request passes through unchanged.
    UnknownModel(String),
    /// The client's request is not valid; the client gets this error in its own
    /// envelope.
    User(UserError),
    /// This provider cannot serve what the request asks for (a feature it lacks, a field
    /// its format has no equivalent for): the attempt is answered with this error and
    /// [`SKIP_HEADER`], which the chain route's retry policy retries on the next
    /// provider. Only when no provider can serve it does the client see the error.
    Skip(UserError),
}

/// Response header of an attempt skipped because its provider cannot serve the request;
/// the chain route retries on it (`retry_on: retriable-headers`, envoy/envoy.yaml). Its
/// value is the provider's name.
pub const SKIP_HEADER: &str = "x-llm-skip-provider";

/// What a skipped attempt sends its provider instead of the request: the model list, a
/// request that costs no tokens. Envoy 1.40's router never retries a local reply of an
/// upstream filter (nor a reset it asks for: that resets the client's stream), only a
/// response that came from upstream, so the skip rides on this probe's answer, whose
/// status, header and body the filter replaces (envoy/FALLBACK.md).
pub const SKIP_PROBE: [(&str, &str); 2] = [(":method", "GET"), (":path", "/v1/models")];

/// Headers a skip probe must not carry: an earlier attempt's key (header changes outlive
/// the attempt) and the body's.
pub const SKIP_PROBE_REMOVE: [&str; 5] = [
    "authorization",
    "x-api-key",
    "anthropic-version",
    "content-type",
    "content-length",
];

/// The client's API, from the header the downstream filter set.
pub fn client_api(header: &str) -> Option<Api> {
    Api::from_name(header)
}

/// Adapts the client's request body to the attempt's provider.
pub fn plan_attempt(
    config: &Config,
    client_api: Api,
    provider_name: &str,
    body: &[u8],
) -> Result<AttemptPlan, AttemptError> {
    let Some((route, chain)) = config
        .route
        .as_ref()
        .and_then(|r| r.fallback.as_ref().map(|f| (r, f)))
    else {
        return Err(AttemptError::UnknownProvider(provider_name.to_string()));
    };
    let Some(index) = route.providers.iter().position(|p| p.name == provider_name) else {
        return Err(AttemptError::UnknownProvider(provider_name.to_string()));
    };
    let provider = &route.providers[index];
    let mut req = providers::parse_object(body).map_err(AttemptError::User)?;
    let summary = providers::validate_request(client_api, &req).map_err(AttemptError::User)?;
    let model = upstream_model(chain, &summary.model, provider_name, index)?;
    if let Some(e) = provider.cannot_serve(client_api, &req) {
        return Err(AttemptError::Skip(e));
    }
    let upstream_format = provider
        .format
        .api_for(client_api)
        .ok_or_else(|| AttemptError::User(unserved(client_api, &model, provider)))?;
    let mut structured_tool = None;
    let (path, body) = match Direction::between(client_api, upstream_format) {
        Some(direction) => {
            structured_tool = direction.structured_tool(&req);
            (
                direction.upstream_path(),
                direction
                    .request(&req, &model, summary.max_output_tokens)
                    .map_err(AttemptError::Skip)?,
            )
        }
        None => {
            req.insert("model".into(), Value::String(model.clone()));
            let path = client_api.upstream_path();
            (path, Value::Object(req).to_string().into_bytes())
        }
    };
    let mut plan = AttemptPlan {
        provider: provider.name.clone(),
        model,
        client_api,
        upstream_format,
        stream: summary.stream,
        client_wants_stream_usage: summary.client_wants_stream_usage,
        body,
        // Set, never assumed: a skip probe of an earlier attempt changed the method.
        set_headers: vec![(":method", "POST".to_string()), (":path", path.to_string())],
        remove_headers: vec![],
        structured_tool,
    };
    key_headers(provider, upstream_format, &mut plan);
    Ok(plan)
}

fn upstream_model(
    chain: &Fallback,
    model: &str,
    provider: &str,
    index: usize,
) -> Result<String, AttemptError> {
    if !chain.providers.contains(&index) {
        return Err(AttemptError::UnknownProvider(provider.to_string()));
    }
    chain
        .upstream_model(model, index)
        .map(str::to_string)
        .ok_or_else(|| AttemptError::UnknownModel(model.to_string()))
}

/// The provider's key in the provider's header; the other provider's header removed, so
/// that a key set for an earlier attempt never reaches this one.
fn key_headers(provider: &Provider, format: Api, plan: &mut AttemptPlan) {
    match format {
        Api::AnthropicMessages => {
            plan.set_headers
                .push(("anthropic-version", "2023-06-01".to_string()));
            plan.remove_headers.push("authorization");
            match &provider.api_key {
                Some(key) => plan.set_headers.push(("x-api-key", key.clone())),
                None => plan.remove_headers.push("x-api-key"),
            }
        }
        _ => {
            plan.remove_headers.push("anthropic-version");
            plan.remove_headers.push("x-api-key");
            match &provider.api_key {
                Some(key) => plan
                    .set_headers
                    .push(("authorization", format!("Bearer {key}"))),
                None => plan.remove_headers.push("authorization"),
            }
        }
    }
}

/// How the upstream filter treats an attempt's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Pass it through as it comes.
    None,
    /// Hold headers and body to the end (a translated JSON answer or error).
    WholeBody,
    /// Hold headers (and the body so far) until the first token of a stream.
    FirstToken,
}

/// The answer of one attempt, adapted back to the client's format.
pub struct AttemptAnswer {
    pub hold: Hold,
    pub status: u32,
    translation: Option<Direction>,
    model: String,
    structured_tool: Option<String>,
    gate: FirstTokenGate,
    stream: Option<StreamBack>,
}

impl AttemptAnswer {
    /// Translated answers name the model that served them, as untranslated ones do
    /// (`plan.model`); `now_us` seeds ids and timestamps of translated chunks.
    pub fn new(plan: &AttemptPlan, status: u32, content_type: Option<&str>, now_us: u64) -> Self {
        let kind = BodyKind::from_content_type(content_type);
        let translation = plan.translation();
        let translate = translation.is_some();
        let hold = match (status, kind) {
            (s, _) if s >= 400 && translate => Hold::WholeBody,
            (s, _) if s >= 400 => Hold::None,
            (_, BodyKind::EventStream) => Hold::FirstToken,
            _ if translate => Hold::WholeBody,
            _ => Hold::None,
        };
        let stream = translation
            .filter(|_| hold == Hold::FirstToken)
            .map(|direction| {
                StreamBack::new(
                    direction,
                    &plan.model,
                    &format!("{now_us:x}"),
                    plan.client_wants_stream_usage,
                    now_us / 1_000_000,
                    plan.structured_tool.as_deref(),
                )
            });
        AttemptAnswer {
            hold,
            status,
            translation,
            model: plan.model.clone(),
            structured_tool: plan.structured_tool.clone(),
            gate: FirstTokenGate::new(plan.upstream_format),
            stream,
        }
    }

    /// Whether the body changes length (the provider's `content-length` must go).
    pub fn rewrites_body(&self) -> bool {
        self.translation.is_some() && self.hold != Hold::None
    }

    /// Watches a held stream until its first token. `held` is everything received so
    /// far (the host's buffer grows while held); true once the first token has arrived,
    /// or the stream failed or said it has nothing to say.
    pub fn first_token_in(&mut self, held: &[u8]) -> bool {
        let new = held.get(self.gate.seen..).unwrap_or_default();
        self.gate.feed(new)
    }

    /// Adapts stream bytes for the client; `end` ends the stream (a translated stream
    /// that stopped early then ends with an explicit error event).
    pub fn stream_chunk(&mut self, bytes: &[u8], end: bool) -> Option<Vec<u8>> {
        let translator = self.stream.as_mut()?;
        let mut out = translator.feed(bytes);
        if end {
            out.extend(translator.finish());
        }
        Some(out)
    }

    /// A whole translated answer or error, as the client expects it (unchanged when
    /// the formats match).
    pub fn whole_body(&self, body: &[u8], now_us: u64) -> Vec<u8> {
        match self.translation {
            Some(d) => d.whole_body(
                &self.model,
                self.status,
                body,
                now_us / 1_000_000,
                self.structured_tool.as_deref(),
            ),
            None => body.to_vec(),
        }
    }
}

/// Largest part of a stream held back while waiting for its first token; past it the
/// stream is released as it is (a provider that sends that much without a token is not
/// stalled).
const MAX_HELD_BYTES: usize = 64 * 1024;

/// Watches a provider's event stream for its first token.
#[derive(Debug)]
pub struct FirstTokenGate {
    format: Api,
    parser: SseParser,
    seen: usize,
    open: bool,
}

impl FirstTokenGate {
    pub fn new(format: Api) -> Self {
        FirstTokenGate {
            format,
            parser: SseParser::new(),
            seen: 0,
            open: false,
        }
    }

    /// Feeds the next bytes of the stream; true once the gate is open.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.open {
            return true;
        }
        self.seen += bytes.len();
        self.parser.feed(bytes);
        while let Some(event) = self.parser.next_event() {
            if self.opens(&event.event, &event.data) {
                self.open = true;
                return true;
            }
        }
        if self.seen > MAX_HELD_BYTES {
            self.open = true;
        }
        self.open
    }

    fn opens(&self, event: &str, data: &str) -> bool {
        let data = data.trim();
        if data == "[DONE]" || event == "error" {
            return true;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            // Not ours to judge: let the client see it.
            return true;
        };
        if v.get("error").is_some() {
            return true;
        }
        match self.format {
            Api::AnthropicMessages => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
                matches!(
                    kind,
                    "content_block_delta" | "message_delta" | "message_stop" | "error"
                ) || (kind == "content_block_start"
                    && v.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use"))
            }
            Api::OpenAiResponses => openai_responses::starts_answer(&v),
            _ => {
                let choice_done = v
                    .get("choices")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c.get("finish_reason").is_some_and(|f| !f.is_null())
                                || c.pointer("/delta/tool_calls").is_some()
                        })
                    });
                choice_done || !openai::read_stream_event(&v).text.is_empty()
            }
        }
    }
}

pub mod upstream;

#[cfg(test)]
mod tests;
