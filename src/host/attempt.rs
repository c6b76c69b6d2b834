//! One attempt of the fallback chain: the filter installed as an upstream HTTP filter of
//! the aggregate cluster (`role: upstream`). See `crate::attempt` for the logic.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType};

use super::glue::{self, Metrics};
use crate::attempt::{self, AttemptAnswer, AttemptError, AttemptPlan, Hold};
use crate::config::Config;
use crate::metrics;
use crate::route::plan::CLIENT_API_HEADER;

/// The endpoint metadata that names an attempt's provider (and, optionally, the
/// `:authority` it expects): `metadata.filter_metadata.llm_gateway` in envoy.yaml.
const METADATA: [&str; 4] = [
    "xds",
    "upstream_host_metadata",
    "filter_metadata",
    "llm_gateway",
];

pub struct UpstreamAttempt {
    config: Rc<Config>,
    metrics: Rc<Metrics>,
    client_api: Option<crate::api::Api>,
    provider: Option<String>,
    plan: Option<AttemptPlan>,
    answer: Option<AttemptAnswer>,
    /// Response headers (and body) held until the first token or the whole body.
    holding: bool,
    /// The attempt is skipped: the status and body its probe's answer is replaced with.
    skip: Option<(u32, Vec<u8>)>,
}

impl UpstreamAttempt {
    pub fn new(config: Rc<Config>, metrics: Rc<Metrics>) -> Self {
        UpstreamAttempt {
            config,
            metrics,
            client_api: None,
            provider: None,
            plan: None,
            answer: None,
            holding: false,
            skip: None,
        }
    }

    fn metadata(key: &str) -> Option<String> {
        let [a, b, c, d] = METADATA;
        glue::property(&[a, b, c, d, key])
    }
}

impl Context for UpstreamAttempt {}

impl HttpContext for UpstreamAttempt {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // Only requests the downstream filter sent to the chain carry this header.
        let Some(api) =
            glue::request_header(CLIENT_API_HEADER).and_then(|h| attempt::client_api(&h))
        else {
            return Action::Continue;
        };
        let Some(provider) = Self::metadata("provider") else {
            log::warn!("llm-gateway: chain endpoint without metadata.filter_metadata.llm_gateway.provider; attempt passes through");
            return Action::Continue;
        };
        if let Some(authority) = Self::metadata("host") {
            glue::set_request_header(":authority", Some(&authority));
        }
        if end_of_stream {
            return Action::Continue;
        }
        self.client_api = Some(api);
        self.provider = Some(provider);
        // Hold the headers until the body is read: path, key and length change with it.
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(api), Some(provider)) = (self.client_api, self.provider.clone()) else {
            return Action::Continue;
        };
        if !end_of_stream {
            return Action::Pause;
        }
        let body = glue::body(BufferType::HttpRequestBody, body_size);
        match attempt::plan_attempt(&self.config, api, &provider, &body) {
            Ok(plan) => {
                // The header map is the one the access log reads; it outlives the attempt.
                glue::rewrite_request(
                    body_size,
                    Some(&plan.body),
                    &plan.remove_headers,
                    &plan.set_headers,
                );
                self.metrics.apply(&metrics::chain_attempt(&provider));
                self.plan = Some(plan);
            }
            Err(AttemptError::User(e)) => {
                glue::send_response(e.status(), "application/json", &e.envelope(api), &[]);
                return Action::Pause;
            }
            Err(AttemptError::Skip(e)) => {
                // Answered here, as if by the provider: the route's retry policy sees the
                // header and tries the next provider (envoy/FALLBACK.md).
                log::info!(
                    "llm-gateway: chain provider {provider} skipped: {}",
                    e.message()
                );
                self.metrics.apply(&metrics::chain_skip(&provider));
                let set: Vec<(&str, String)> = attempt::SKIP_PROBE
                    .iter()
                    .map(|&(k, v)| (k, v.to_string()))
                    .collect();
                glue::rewrite_request(body_size, Some(b""), &attempt::SKIP_PROBE_REMOVE, &set);
                self.skip = Some((e.status(), e.envelope(api)));
                return Action::Continue;
            }
            Err(e) => {
                log::warn!("llm-gateway: chain attempt passes through unchanged: {e:?}");
            }
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Some((status, body)) = &self.skip {
            // The probe's answer becomes the skip: the router retries on the header; when
            // no provider is left, the client reads why.
            let length = if end_of_stream { 0 } else { body.len() };
            glue::set_response_header(":status", &status.to_string());
            glue::set_response_header(attempt::SKIP_HEADER, self.provider.as_deref().unwrap_or(""));
            glue::set_response_header("content-type", "application/json");
            glue::set_response_header("content-length", &length.to_string());
            return Action::Continue;
        }
        let Some(plan) = &self.plan else {
            return Action::Continue;
        };
        let status = glue::response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status >= 500 || status == 429 {
            self.metrics.apply(&metrics::chain_failure(&plan.provider));
        }
        let content_type = glue::response_header("content-type");
        let answer = AttemptAnswer::new(plan, status, content_type.as_deref(), glue::now_us());
        // The downstream filter reads these: the provider and model that answered are
        // what usage, cost and limits account for.
        glue::set_response_header("x-llm-provider", &plan.provider);
        glue::set_response_header("x-llm-model", &plan.model);
        if answer.rewrites_body() {
            glue::remove_response_header("content-length");
            glue::set_response_header(
                "content-type",
                if answer.hold == Hold::FirstToken {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            );
        }
        self.holding = answer.hold != Hold::None && !end_of_stream;
        self.answer = Some(answer);
        if self.holding {
            // Envoy's router sees no response until the first token: its per-try timeout
            // then abandons a stalled provider for the next one.
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if let Some((_, body)) = &self.skip {
            if !end_of_stream {
                return Action::Pause;
            }
            glue::replace_body(BufferType::HttpResponseBody, body_size, body);
            return Action::Continue;
        }
        let Some(answer) = self.answer.as_mut() else {
            return Action::Continue;
        };
        match answer.hold {
            Hold::None => Action::Continue,
            Hold::WholeBody => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let body = glue::body(BufferType::HttpResponseBody, body_size);
                let out = answer.whole_body(&body, glue::now_us());
                if glue::replace_body(BufferType::HttpResponseBody, body_size, &out) && self.holding
                {
                    glue::set_response_header("content-length", &out.len().to_string());
                }
                self.holding = false;
                Action::Continue
            }
            Hold::FirstToken => {
                // While held, the buffer holds everything so far; once released, each
                // callback sees only its new chunk.
                let bytes = glue::body(BufferType::HttpResponseBody, body_size);
                if self.holding {
                    let seen = answer.first_token_in(&bytes);
                    if !seen && !end_of_stream {
                        return Action::Pause;
                    }
                    self.holding = false;
                }
                if let Some(out) = answer.stream_chunk(&bytes, end_of_stream) {
                    glue::replace_body(BufferType::HttpResponseBody, body_size, &out);
                }
                Action::Continue
            }
        }
    }
}
