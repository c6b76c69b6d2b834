//! The cache stage in the exchange: after `limits`, look the request up in the cache
//! sidecar and, on a hit, answer from the gateway (the stored answer in the client's
//! API, plain or replayed as a stream, through the output guard); on a miss, record the
//! provider's answer as it passes and store it, once complete, from the root context.
//!
//! With `cache.semantic` on for the request, an exact miss asks the semantic-index
//! sidecar for a verified neighbour of the last user turn in the request's partition
//! (src/cache/semantic.rs), then reads the exact entry its payload names from the cache
//! sidecar: three calls in one stage, each resumed here. A semantic hit is replayed and
//! accounted as an exact one (`x-llm-cache: hit-semantic`, `x-llm-cache-similarity`);
//! a failed or slow semantic call is a miss, never a failed request. A stored answer
//! is also upserted into the index, beside the store.
//!
//! A hit costs no provider tokens: its facts say 0 input and output tokens and cost 0,
//! `llm_cache_saved_*` say what the provider's answer used, and the limits' admission
//! is settled with 0 tokens (it counts as a request).

use serde_json::Value;

use super::{BodyStage, CallAnswer, Callout, Exchange, HostView, LocalReply, Next};
use crate::cache::entry::Entry;
use crate::cache::key::{self, KeyParts};
use crate::cache::record::{self, AnswerRecorder};
use crate::cache::semantic::{self, Match, Question};
use crate::cache::{self, control, replay, Status, Tenant};
use crate::config::Config;
use crate::errors::UserError;
use crate::facts::{format_usd, Facts};
use crate::limits::Actual;
use crate::metrics::{self, Metric};
use crate::usage::meter::{BodyKind, ResponseMeter};
use crate::usage::settle::usd_to_micro;

pub(super) const LOOKUP: BodyStage = BodyStage {
    name: "cache",
    run: lookup,
    resume: looked_up,
};

/// What the cache stage decided for this exchange.
pub(super) struct CacheState {
    pub(super) status: Status,
    /// Where a complete answer goes; `None`: it is not stored (bypass, `no-store`, a
    /// lookup that failed other than by a timeout).
    store: Option<Target>,
    /// When the lookup left, µs.
    asked_us: u64,
    /// The model label of the metrics (the price-table key of the routed model).
    model_label: String,
    /// Which call the stage waits for.
    waiting: Waiting,
    /// The request's `max-age`, for the exact entry a semantic hit reads.
    max_age_s: Option<u64>,
    /// The semantic tier's question, when the tier is on and the request has one.
    question: Option<Question>,
    /// The similarity the tier asks for (`None`: the sidecar's).
    threshold: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Waiting {
    /// The exact lookup.
    Exact,
    /// The semantic-index query.
    Query,
    /// The exact entry a verified neighbour names.
    Matched(Match),
}

struct Target {
    namespace: String,
    key: String,
    ttl_s: u64,
}

impl CacheState {
    /// The `x-llm-cache` header of an answer that came from the provider.
    pub(super) fn header(&self) -> (&'static str, &'static str) {
        ("x-llm-cache", self.status.as_str())
    }
}

/// Decides whether the request is looked up (a callout to the sidecar) or bypasses the
/// cache, and computes its key.
fn lookup(ex: &mut Exchange, config: &Config, host: &dyn HostView) -> Next {
    let (Some(cache), Some(plan)) = (config.cache.as_ref(), ex.plan.as_mut()) else {
        return Next::Go;
    };
    let request = plan.request.take();
    let caller = ex.caller.as_ref();
    let group = caller.map(|c| c.consumer.group.as_str());
    let consumer = caller.map(|c| c.consumer.id.as_str());
    let policy = cache.policy_for(&ex.path, group, consumer);
    let controls = match host.request_header("cache-control") {
        Some(value) => match control::parse(&value) {
            Ok(c) => c,
            Err(message) => {
                let name = "cache-control".to_string();
                return Next::Refuse(UserError::InvalidHeader { name, message }, vec![]);
            }
        },
        None => control::Controls::default(),
    };
    let model_label = metrics::model_label_of(config, &plan.model);
    let mut state = CacheState {
        status: Status::Bypass,
        store: None,
        asked_us: host.now_us(),
        model_label,
        waiting: Waiting::Exact,
        max_age_s: controls.max_age_s,
        question: None,
        threshold: policy.threshold,
    };
    let temperature = request
        .as_ref()
        .and_then(|r| r.get("temperature"))
        .and_then(Value::as_f64);
    let too_hot = temperature.is_some_and(|t| t > cache.max_temperature);
    let Some(request) = request.filter(|_| policy.enabled && controls.store() && !too_hot) else {
        return bypass(ex, state);
    };
    let tenant = match caller {
        Some(c) => Tenant::Consumer(c.consumer.id.clone()),
        None => Tenant::Anonymous(cache.anonymous_namespace.clone()),
    };
    let key = key::key(&KeyParts {
        tenant: &tenant,
        api: plan.api,
        model: &plan.model,
        provider: &plan.provider,
        request: &request,
    });
    if let Some(tier) = cache.semantic.as_ref().filter(|_| policy.semantic) {
        state.question = semantic::question(
            &tenant,
            plan.api,
            &plan.model,
            &plan.provider,
            &request,
            tier.max_text_bytes,
        );
    }
    let namespace = tenant.namespace();
    let path = cache::lookup_path(&namespace, &key, controls.max_age_s);
    state.store = Some(Target {
        namespace,
        key,
        ttl_s: policy.ttl_s,
    });
    if !controls.lookup() {
        // `no-cache`: the fresh answer replaces the entry.
        return bypass(ex, state);
    }
    state.status = Status::Miss;
    ex.cache = Some(state);
    Next::Call(Callout {
        cluster: cache.cluster.clone(),
        headers: vec![
            (":method".into(), "GET".into()),
            (":path".into(), path),
            (":authority".into(), cache.authority.clone()),
        ],
        body: vec![],
        timeout_ms: cache.lookup_timeout_ms,
    })
}

fn bypass(ex: &mut Exchange, state: CacheState) -> Next {
    note(ex, &state);
    ex.cache = Some(state);
    Next::Go
}

/// The status in the access log and the metrics.
fn note(ex: &mut Exchange, state: &CacheState) {
    let status = state.status.as_str();
    ex.pending.facts.push(("llm_cache", status.to_string()));
    ex.pending
        .metrics
        .push(metrics::cache_request(status, &state.model_label));
}

/// The answer to the call the stage waits for: the exact lookup, the semantic query
/// or the exact entry a verified neighbour names.
fn looked_up(ex: &mut Exchange, config: &Config, answer: &CallAnswer, host: &dyn HostView) -> Next {
    let (Some(cache), Some(mut state)) = (config.cache.as_ref(), ex.cache.take()) else {
        return Next::Go;
    };
    let waited = host.now_us().saturating_sub(state.asked_us);
    match std::mem::replace(&mut state.waiting, Waiting::Exact) {
        Waiting::Exact => {
            ex.pending.metrics.push(metrics::cache_lookup_us(waited));
            exact_answer(ex, config, cache, state, answer, host)
        }
        Waiting::Query => {
            ex.pending
                .metrics
                .push(metrics::cache_semantic_lookup_us(waited));
            query_answer(ex, config, cache, state, answer, host)
        }
        Waiting::Matched(found) => {
            if answer.status == 200 {
                if let Ok(entry) = Entry::decode(&answer.body, ex.api) {
                    let age = answer.header("age");
                    let hit = hit(ex, config, &mut state, entry, age, Some(&found), host);
                    if let Some(next) = hit {
                        return next;
                    }
                }
            }
            // Expired, purged or not servable: the provider answers (and is stored).
            log::info!(
                "llm-gateway: semantic match {} not served (cache status {}); a miss",
                found.id,
                answer.status
            );
            semantic_outcome(ex, "stale");
            miss(ex, state)
        }
    }
}

/// The exact lookup's answer: 200 is an entry, 404 none; anything else (status 0: the
/// call failed; 504: Envoy's timeout; 5xx: the sidecar's store failed) is a failed
/// lookup. A miss asks the semantic tier, when it is on for the request.
fn exact_answer(
    ex: &mut Exchange,
    config: &Config,
    cache: &crate::cache::Cache,
    mut state: CacheState,
    answer: &CallAnswer,
    host: &dyn HostView,
) -> Next {
    match answer.status {
        200 => match Entry::decode(&answer.body, ex.api) {
            Ok(entry) => {
                if let Some(next) = hit(
                    ex,
                    config,
                    &mut state,
                    entry,
                    answer.header("age"),
                    None,
                    host,
                ) {
                    return next;
                }
            }
            Err(why) => log::info!("llm-gateway: cache entry not served ({why}); a miss"),
        },
        404 => {}
        status => {
            log::info!(
                "llm-gateway: cache lookup failed (status {status}; 0: no answer, 504: timeout)"
            );
            state.status = Status::Error;
            // A sidecar that answered too late is alive: the answer is stored as on a
            // miss, so a slow first lookup (a cold start) does not cost the next request
            // its hit. A refused or failed call (0, 503, another 5xx) stores nothing:
            // a second call to a sidecar that is gone would only add load.
            if status != 504 {
                state.store = None;
            }
            note(ex, &state);
            ex.cache = Some(state);
            if cache.fail_closed {
                let header = (
                    "x-llm-cache".to_string(),
                    Status::Error.as_str().to_string(),
                );
                return Next::Refuse(UserError::CacheUnavailable, vec![header]);
            }
            return Next::Go;
        }
    }
    let (Some(tier), Some(question), Some(target)) = (
        cache.semantic.as_ref(),
        state.question.as_ref(),
        state.store.as_ref(),
    ) else {
        return miss(ex, state);
    };
    let call = Callout {
        cluster: tier.cluster.clone(),
        headers: vec![
            (":method".into(), "POST".into()),
            (":path".into(), semantic::query_path(&target.namespace)),
            (":authority".into(), tier.authority.clone()),
            ("content-type".into(), "application/json".into()),
        ],
        body: semantic::query_body(question, tier.k, state.threshold),
        timeout_ms: tier.lookup_timeout_ms,
    };
    state.waiting = Waiting::Query;
    state.asked_us = host.now_us();
    ex.cache = Some(state);
    Next::Call(call)
}

/// The semantic query's answer: a verified neighbour is read from the cache sidecar;
/// none is a miss; a failed, slow or unreadable answer is a miss too (the exact tier
/// answered), counted in `llm_cache_semantic_lookups{status="error"}`.
fn query_answer(
    ex: &mut Exchange,
    _config: &Config,
    cache: &crate::cache::Cache,
    mut state: CacheState,
    answer: &CallAnswer,
    host: &dyn HostView,
) -> Next {
    let found = match answer.status {
        200 => semantic::first_verified(&answer.body),
        status => Err(format!("status {status} (0: no answer, 504: timeout)")),
    };
    let found = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            semantic_outcome(ex, "miss");
            return miss(ex, state);
        }
        Err(why) => {
            log::info!("llm-gateway: semantic lookup failed ({why}); a miss");
            semantic_outcome(ex, "error");
            return miss(ex, state);
        }
    };
    let Some(target) = state.store.as_ref() else {
        return miss(ex, state);
    };
    let call = Callout {
        cluster: cache.cluster.clone(),
        headers: vec![
            (":method".into(), "GET".into()),
            (
                ":path".into(),
                cache::lookup_path(&target.namespace, &found.key, state.max_age_s),
            ),
            (":authority".into(), cache.authority.clone()),
        ],
        body: vec![],
        timeout_ms: cache.lookup_timeout_ms,
    };
    state.waiting = Waiting::Matched(found);
    state.asked_us = host.now_us();
    ex.cache = Some(state);
    Next::Call(call)
}

/// What the semantic tier found: `llm_cache_semantic` in the access log,
/// `llm_cache_semantic_lookups{status}`.
fn semantic_outcome(ex: &mut Exchange, status: &'static str) {
    ex.pending
        .facts
        .push(("llm_cache_semantic", status.to_string()));
    ex.pending
        .metrics
        .push(metrics::cache_semantic_lookup(status));
}

/// No entry answers: the provider does, and its answer is stored.
fn miss(ex: &mut Exchange, mut state: CacheState) -> Next {
    state.status = Status::Miss;
    note(ex, &state);
    ex.cache = Some(state);
    Next::Go
}

/// Answers from an entry: the stored answer in the client's API (replayed as a stream
/// for a streaming request), metered as any answer is, through the output guard; the
/// admission settled with 0 tokens. `None` when the entry cannot answer this request (a
/// stream it cannot replay): a miss. `semantic`: the verified neighbour that named it.
fn hit(
    ex: &mut Exchange,
    config: &Config,
    state: &mut CacheState,
    entry: Entry,
    age: Option<&str>,
    semantic: Option<&Match>,
    host: &dyn HostView,
) -> Option<Next> {
    let plan = ex.plan.as_mut()?;
    let (body, content_type) = match plan.stream {
        true => (
            replay::stream(plan.api, &entry.answer, plan.client_wants_stream_usage)?,
            "text/event-stream",
        ),
        false => (entry.answer.to_string().into_bytes(), "application/json"),
    };
    // The provider's usage, read from the stored answer as the usage stage reads any.
    let mut meter = ResponseMeter::new(plan.api, 200, Some(content_type), usize::MAX);
    meter.feed(&body, 0);
    let outcome = meter.finish(0);
    plan.model = entry.model;
    plan.provider = entry.provider;
    let stream = plan.stream;
    let mut facts = super::settle(config, plan, &outcome, 200);
    let saved_input = facts.input_tokens.or(outcome.usage.input).unwrap_or(0);
    let saved_output = facts.output_tokens.or(outcome.usage.output).unwrap_or(0);
    let saved_usd = facts.cost_usd;
    // Billed: nothing.
    facts.input_tokens = Some(0);
    facts.output_tokens = Some(0);
    facts.cached_tokens = 0;
    facts.cost_usd = saved_usd.map(|_| 0.0);
    facts.usage_source = Some("cache");
    let now = host.now_us();
    facts.duration_ms = Some(now.saturating_sub(ex.started_us) / 1000);
    if let Some(c) = &ex.caller {
        facts.consumer = Some(c.consumer.id.clone());
        facts.consumer_group = Some(c.consumer.group.clone());
    }
    let body = guarded(ex, stream, body);
    let status = match semantic {
        Some(_) => Status::HitSemantic,
        None => Status::HitExact,
    };
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), content_type.into()),
        ("x-llm-cache".into(), status.as_str().into()),
        ("age".into(), age.unwrap_or("0").to_string()),
    ];
    if let Some(found) = semantic {
        headers.push((
            "x-llm-cache-similarity".into(),
            format!("{:.2}", found.similarity),
        ));
        semantic_outcome(ex, "hit");
        ex.pending.facts.extend([
            ("llm_cache_semantic_id", found.id.clone()),
            ("llm_cache_similarity", format!("{:.4}", found.similarity)),
        ]);
    }
    headers.extend(
        facts
            .final_headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    if !ex.acted.is_empty() {
        let value = crate::guard::header_value(&ex.acted);
        headers.push(("x-llm-guard".into(), value.clone()));
        ex.pending.facts.push(("llm_guard", value));
        let acted = ex.guard_metrics();
        ex.pending.metrics.extend(acted);
    }
    if let Some(admission) = ex.admission.take() {
        let api = ex.api;
        headers.extend(super::limits::rate_limit_headers(
            api,
            &admission.headers,
            now,
        ));
        let mut settled = crate::effects::Effects::default();
        super::limits::settle(
            ex,
            config,
            &admission,
            &Actual::default(),
            host,
            &mut settled,
        );
        ex.pending.metrics.extend(settled.metrics);
        ex.pending.background.extend(settled.background);
    }
    state.status = status;
    state.store = None;
    note(ex, state);
    let label = metrics::model_label(&facts);
    let micro = saved_usd.map_or(0, usd_to_micro);
    ex.pending.metrics.extend(metrics::cache_saved(
        &label,
        saved_input + saved_output,
        micro,
    ));
    ex.pending
        .metrics
        .extend(metrics::of_exchange(config, &facts));
    ex.pending.facts.extend(facts.filter_state());
    ex.pending.facts.extend([
        ("llm_cache_saved_input_tokens", saved_input.to_string()),
        ("llm_cache_saved_output_tokens", saved_output.to_string()),
    ]);
    if let Some(usd) = saved_usd {
        ex.pending
            .facts
            .push(("llm_cache_saved_usd", format_usd(usd)));
    }
    Some(Next::Answer(LocalReply {
        status: 200,
        headers,
        body,
    }))
}

/// A hit's body through the request's output guard (placeholders of this request
/// restored, PII the answer holds masked, leaks stopped), as a provider's would go.
fn guarded(ex: &mut Exchange, stream: bool, body: Vec<u8>) -> Vec<u8> {
    let Some(guard) = ex.request.answer_guard.take() else {
        return body;
    };
    if stream {
        let mut g = guard.stream();
        let mut out = g.feed(&body);
        out.extend(g.finish());
        ex.acted.extend(g.acted);
        out
    } else {
        let (filtered, acted) = guard.filter_body(&body);
        ex.acted.extend(acted);
        filtered.unwrap_or(body)
    }
}

/// A recorder for the provider's answer when it may be stored: 200, JSON or an event
/// stream, a lookup that missed (or was skipped by `no-cache`).
pub(super) fn recorder(ex: &Exchange, status: u32, kind: BodyKind) -> Option<AnswerRecorder> {
    let config = ex.config.as_ref()?;
    let cache = config.cache.as_ref()?;
    ex.cache.as_ref()?.store.as_ref()?;
    let stream = match kind {
        BodyKind::Json => false,
        BodyKind::EventStream => true,
        BodyKind::Other => return None,
    };
    let api = ex.plan.as_ref()?.api;
    (status == 200).then(|| AnswerRecorder::new(api, stream, cache.max_entry_bytes))
}

/// The store of a complete answer, once the exchange is settled: a call the host makes
/// from the root context (it outlives the request), with the TTL. Nothing for an error,
/// a cut stream, an answer the output guard stopped or one over `max_entry_bytes`.
/// With the semantic tier on, a second call upserts the question into the index under
/// the entry's key. Both leave together (a background call has no continuation): if the
/// store fails, the index entry names a key that is not there, and a later semantic
/// match on it reads 404, a miss.
pub(super) fn store(
    ex: &mut Exchange,
    config: &Config,
    facts: &Facts,
    recorder: Option<AnswerRecorder>,
    guard_stopped: bool,
) -> (Vec<Callout>, Vec<Metric>) {
    let (Some(cache), Some(state)) = (config.cache.as_ref(), ex.cache.as_mut()) else {
        return (vec![], vec![]);
    };
    let (Some(target), Some(recorder)) = (state.store.take(), recorder) else {
        return (vec![], vec![]);
    };
    let answer = match facts.error.is_none() && !guard_stopped {
        true => recorder.finish(),
        false => None,
    };
    let Some(mut answer) = answer else {
        return (vec![], vec![metrics::cache_store_skipped("incomplete")]);
    };
    if facts.usage_source == Some("provider") {
        // A translated OpenAI stream carries usage only when the client asked for it;
        // the entry keeps the provider's, which the meter read.
        let input = facts.input_tokens.unwrap_or(0);
        let output = facts.output_tokens.unwrap_or(0);
        record::fill_usage(facts.api, &mut answer, input, output, facts.cached_tokens);
    }
    let entry = Entry {
        api: facts.api,
        model: facts.model.clone(),
        provider: facts.provider.clone(),
        answer,
    }
    .encode();
    if entry.len() > cache.max_entry_bytes {
        log::info!(
            "llm-gateway: answer of {} bytes not cached (cache.max_entry_bytes {})",
            entry.len(),
            cache.max_entry_bytes
        );
        return (vec![], vec![metrics::cache_store_skipped("too_large")]);
    }
    let call = Callout {
        cluster: cache.cluster.clone(),
        headers: vec![
            (":method".into(), "PUT".into()),
            (
                ":path".into(),
                cache::store_path(&target.namespace, &target.key, target.ttl_s),
            ),
            (":authority".into(), cache.authority.clone()),
            ("content-type".into(), "application/octet-stream".into()),
            ("content-length".into(), entry.len().to_string()),
        ],
        body: entry,
        timeout_ms: cache.store_timeout_ms,
    };
    let mut calls = vec![call];
    if let (Some(tier), Some(question)) = (cache.semantic.as_ref(), state.question.as_ref()) {
        calls.push(Callout {
            cluster: tier.cluster.clone(),
            headers: vec![
                (":method".into(), "POST".into()),
                (":path".into(), semantic::upsert_path(&target.namespace)),
                (":authority".into(), tier.authority.clone()),
                ("content-type".into(), "application/json".into()),
            ],
            body: semantic::upsert_body(question, &target.key, target.ttl_s),
            timeout_ms: tier.store_timeout_ms,
        });
    }
    (
        calls,
        vec![metrics::cache_stored(&metrics::model_label(facts))],
    )
}
