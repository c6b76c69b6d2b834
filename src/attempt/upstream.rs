//! One attempt as the upstream filter lives it (`role: upstream`): the callbacks of the
//! aggregate cluster's upstream HTTP filter, turned into [`Effects`] like the exchange's.

use std::rc::Rc;

use super::{client_api, plan_attempt, AttemptAnswer, AttemptError, AttemptPlan, Hold};
use super::{SKIP_HEADER, SKIP_PROBE, SKIP_PROBE_REMOVE};
use crate::api::Api;
use crate::config::Config;
use crate::effects::{CallAnswer, Effects, Filter, Flow, HostView, LocalReply};
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

/// One attempt of the fallback chain.
pub struct UpstreamAttempt {
    config: Rc<Config>,
    client_api: Option<Api>,
    provider: Option<String>,
    plan: Option<AttemptPlan>,
    answer: Option<AttemptAnswer>,
    /// Response headers (and body) held until the first token or the whole body.
    holding: bool,
    /// The attempt is skipped: the status and body its probe's answer is replaced with.
    skip: Option<(u32, Vec<u8>)>,
}

impl UpstreamAttempt {
    pub fn new(config: Rc<Config>) -> Self {
        UpstreamAttempt {
            config,
            client_api: None,
            provider: None,
            plan: None,
            answer: None,
            holding: false,
            skip: None,
        }
    }
}

fn metadata(host: &dyn HostView, key: &str) -> Option<String> {
    let [a, b, c, d] = METADATA;
    host.property(&[a, b, c, d, key])
}

/// Sets `headers` on the request; a new `:path` keeps the client's query string.
fn set_request_headers(fx: &mut Effects, host: &dyn HostView, headers: &[(&str, String)]) {
    for (name, value) in headers {
        if *name == ":path" {
            let query = host
                .request_header(":path")
                .and_then(|p| p.split_once('?').map(|(_, q)| format!("?{q}")))
                .unwrap_or_default();
            fx.set_header(name, format!("{value}{query}"));
        } else {
            fx.set_header(name, value.clone());
        }
    }
}

impl Filter for UpstreamAttempt {
    fn on_request_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        // Only requests the downstream filter sent to the chain carry this header.
        let Some(api) = host
            .request_header(CLIENT_API_HEADER)
            .and_then(|h| client_api(&h))
        else {
            return Effects::go_on();
        };
        let Some(provider) = metadata(host, "provider") else {
            log::warn!("llm-gateway: chain endpoint without metadata.filter_metadata.llm_gateway.provider; attempt passes through");
            return Effects::go_on();
        };
        let mut fx = Effects::go_on();
        if let Some(authority) = metadata(host, "host") {
            fx.set_header(":authority", authority);
        }
        if end_of_stream {
            return fx;
        }
        self.client_api = Some(api);
        self.provider = Some(provider);
        // Hold the headers until the body is read: path, key and length change with it.
        fx.flow = Flow::Pause;
        fx
    }

    fn on_request_body(
        &mut self,
        host: &dyn HostView,
        _size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        let (Some(api), Some(provider)) = (self.client_api, self.provider.clone()) else {
            return Effects::go_on();
        };
        if !end_of_stream {
            return Effects::hold();
        }
        let mut fx = Effects::go_on();
        match plan_attempt(&self.config, api, &provider, &read()) {
            Ok(plan) => {
                // The header map is the one the access log reads; it outlives the attempt.
                fx.set_header("content-length", plan.body.len().to_string());
                fx.body = Some(plan.body.clone());
                for name in &plan.remove_headers {
                    fx.remove_header(name);
                }
                set_request_headers(&mut fx, host, &plan.set_headers);
                fx.metrics.push(metrics::chain_attempt(&provider));
                self.plan = Some(plan);
            }
            Err(AttemptError::User(e)) => {
                fx.flow = Flow::Respond(LocalReply {
                    status: e.status(),
                    headers: vec![],
                    body: e.envelope(api),
                });
            }
            Err(AttemptError::Skip(e)) => {
                // Answered here, as if by the provider: the route's retry policy sees the
                // header and tries the next provider (envoy/FALLBACK.md).
                log::info!(
                    "llm-gateway: chain provider {provider} skipped: {}",
                    e.message()
                );
                fx.metrics.push(metrics::chain_skip(&provider));
                fx.set_header("content-length", "0");
                fx.body = Some(Vec::new());
                for name in SKIP_PROBE_REMOVE {
                    fx.remove_header(name);
                }
                let probe: Vec<(&str, String)> = SKIP_PROBE
                    .iter()
                    .map(|&(k, v)| (k, v.to_string()))
                    .collect();
                set_request_headers(&mut fx, host, &probe);
                self.skip = Some((e.status(), e.envelope(api)));
            }
            Err(e) => {
                log::warn!("llm-gateway: chain attempt passes through unchanged: {e:?}");
            }
        }
        fx
    }

    fn on_callout(&mut self, _: &dyn HostView, _: Option<CallAnswer>) -> Effects {
        Effects::go_on()
    }

    fn on_response_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects {
        let mut fx = Effects::go_on();
        if let Some((status, body)) = &self.skip {
            // The probe's answer becomes the skip: the router retries on the header; when
            // no provider is left, the client reads why.
            let length = if end_of_stream { 0 } else { body.len() };
            fx.set_header(":status", status.to_string());
            fx.set_header(SKIP_HEADER, self.provider.clone().unwrap_or_default());
            fx.set_header("content-type", "application/json");
            fx.set_header("content-length", length.to_string());
            return fx;
        }
        let Some(plan) = &self.plan else {
            return fx;
        };
        let status = host
            .response_header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if status >= 500 || status == 429 {
            fx.metrics.push(metrics::chain_failure(&plan.provider));
        }
        let content_type = host.response_header("content-type");
        let answer = AttemptAnswer::new(plan, status, content_type.as_deref(), host.now_us());
        // The downstream filter reads these: the provider and model that answered are
        // what usage, cost and limits account for.
        fx.set_header("x-llm-provider", plan.provider.clone());
        fx.set_header("x-llm-model", plan.model.clone());
        if answer.rewrites_body() {
            fx.remove_header("content-length");
            let kind = match answer.hold {
                Hold::FirstToken => "text/event-stream",
                _ => "application/json",
            };
            fx.set_header("content-type", kind);
        }
        self.holding = answer.hold != Hold::None && !end_of_stream;
        self.answer = Some(answer);
        if self.holding {
            // Envoy's router sees no response until the first token: its per-try timeout
            // then abandons a stalled provider for the next one.
            fx.flow = Flow::Pause;
        }
        fx
    }

    fn on_response_body(
        &mut self,
        host: &dyn HostView,
        _size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects {
        let mut fx = Effects::go_on();
        if let Some((_, body)) = &self.skip {
            if !end_of_stream {
                return Effects::hold();
            }
            fx.body = Some(body.clone());
            return fx;
        }
        let Some(answer) = self.answer.as_mut() else {
            return fx;
        };
        match answer.hold {
            Hold::None => {}
            Hold::WholeBody => {
                if !end_of_stream {
                    return Effects::hold();
                }
                let out = answer.whole_body(&read(), host.now_us());
                if self.holding {
                    fx.set_header("content-length", out.len().to_string());
                }
                fx.body = Some(out);
                self.holding = false;
            }
            Hold::FirstToken => {
                // While held, the buffer holds everything so far; once released, each
                // callback sees only its new chunk.
                let bytes = read();
                if self.holding {
                    let seen = answer.first_token_in(&bytes);
                    if !seen && !end_of_stream {
                        return Effects::hold();
                    }
                    self.holding = false;
                }
                fx.body = answer.stream_chunk(&bytes, end_of_stream);
            }
        }
        fx
    }

    fn on_log(&mut self, _: &dyn HostView) -> Effects {
        Effects::go_on()
    }
}
