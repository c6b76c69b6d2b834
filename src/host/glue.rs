//! Thin, non-panicking wrappers over host calls. Failures are logged, never unwrapped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, MetricType};

use crate::metrics::Metric;

pub fn now() -> SystemTime {
    hostcalls::get_current_time().unwrap_or(UNIX_EPOCH)
}

pub fn request_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpRequestHeaders, name)
        .ok()
        .flatten()
}

pub fn response_header(name: &str) -> Option<String> {
    hostcalls::get_map_value(MapType::HttpResponseHeaders, name)
        .ok()
        .flatten()
}

/// A host property as a string (e.g. a JWT claim in dynamic metadata). Leaf string
/// values come back as their raw bytes.
pub fn property(path: &[&str]) -> Option<String> {
    let bytes = hostcalls::get_property(path.to_vec()).ok().flatten()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

/// Sets (`Some`) or removes (`None`) a header of the request or the response.
pub fn set_header(map: MapType, name: &str, value: Option<&str>) {
    if let Err(e) = hostcalls::set_map_value(map, name, value) {
        log::warn!("llm-gateway: could not set header {name}: {e:?}");
    }
}

pub fn body(buffer: BufferType, size: usize) -> Vec<u8> {
    match hostcalls::get_buffer(buffer, 0, size) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => Vec::new(),
        Err(e) => {
            log::warn!("llm-gateway: could not read body: {e:?}");
            Vec::new()
        }
    }
}

pub fn replace_body(buffer: BufferType, old_size: usize, new: &[u8]) -> bool {
    match hostcalls::set_buffer(buffer, 0, old_size, new) {
        Ok(()) => true,
        Err(e) => {
            log::warn!("llm-gateway: could not replace body: {e:?}");
            false
        }
    }
}

pub fn now_us() -> u64 {
    now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as u64
}

/// Answers the client from the filter; `extra` may name its own `content-type`.
pub fn send_response(status: u32, content_type: &str, body: &[u8], extra: &[(String, String)]) {
    let mut headers = Vec::with_capacity(extra.len() + 1);
    if !extra.iter().any(|(k, _)| k == "content-type") {
        headers.push(("content-type", content_type));
    }
    headers.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Err(e) = hostcalls::send_http_response(status, headers, Some(body)) {
        log::warn!("llm-gateway: could not send local response: {e:?}");
    }
}

pub fn set_filter_state(name: &str, value: &str) {
    if let Err(e) = hostcalls::set_property(vec![name], Some(value.as_bytes())) {
        log::debug!("llm-gateway: could not set filter state {name}: {e:?}");
    }
}

/// Metric ids by name, defined on first use (one registry per VM).
#[derive(Default)]
pub struct Metrics {
    ids: RefCell<HashMap<String, u32>>,
}

impl Metrics {
    fn id(&self, kind: MetricType, name: &str) -> Option<u32> {
        if let Some(id) = self.ids.borrow().get(name) {
            return Some(*id);
        }
        match hostcalls::define_metric(kind, name) {
            Ok(id) => {
                self.ids.borrow_mut().insert(name.to_string(), id);
                Some(id)
            }
            Err(e) => {
                log::warn!("llm-gateway: could not define metric {name}: {e:?}");
                None
            }
        }
    }

    pub fn add(&self, name: &str, value: u64) {
        if let Some(id) = self.id(MetricType::Counter, name) {
            let _ = hostcalls::increment_metric(id, value.min(i64::MAX as u64) as i64);
        }
    }

    pub fn record(&self, name: &str, value: u64) {
        if let Some(id) = self.id(MetricType::Histogram, name) {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    pub fn apply(&self, metric: &Metric) {
        match metric {
            Metric::Counter(name, value) => self.add(name, *value),
            Metric::Histogram(name, value) => self.record(name, *value),
        }
    }
}

/// Starts an HTTP call through an Envoy cluster; the answer comes to
/// `on_http_call_response` of the calling context.
pub fn dispatch_call(
    cluster: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Option<u32> {
    match hostcalls::dispatch_http_call(cluster, headers.to_vec(), Some(body), vec![], timeout) {
        Ok(token) => Some(token),
        Err(e) => {
            log::warn!("llm-gateway: could not call cluster {cluster}: {e:?}");
            None
        }
    }
}

/// Starts an HTTP call in the root context's name (`ids`: the root's and the caller's):
/// its answer goes to the root, so it completes even when the request that asked for it
/// ends first (a call of an HTTP context is cancelled with it).
pub fn dispatch_background(ids: (u32, u32), call: &crate::exchange::Callout) {
    let (root, own) = ids;
    if let Err(e) = hostcalls::set_effective_context(root) {
        log::warn!("llm-gateway: could not switch to the root context: {e:?}");
        return;
    }
    let headers: Vec<(&str, &str)> = call
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let timeout = Duration::from_millis(call.timeout_ms);
    dispatch_call(&call.cluster, &headers, &call.body, timeout);
    if let Err(e) = hostcalls::set_effective_context(own) {
        log::warn!("llm-gateway: could not switch back from the root context: {e:?}");
    }
}

/// The HTTP call being answered: status (0 when missing), headers and body.
pub fn call_response(body_size: usize) -> crate::effects::CallAnswer {
    let headers = hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default();
    let status = headers
        .iter()
        .find(|(k, _)| k == ":status")
        .and_then(|(_, s)| s.parse().ok())
        .unwrap_or(0);
    let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    crate::effects::CallAnswer {
        status,
        headers,
        body,
    }
}

pub fn resume_response() {
    if let Err(e) = hostcalls::resume_http_response() {
        log::warn!("llm-gateway: could not resume the response: {e:?}");
    }
}

/// Every request header as the request stands now (pseudo-headers included).
pub fn request_headers() -> Vec<(String, String)> {
    hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_else(|e| {
        log::warn!("llm-gateway: could not read the request headers: {e:?}");
        Vec::new()
    })
}

pub fn resume_request() {
    if let Err(e) = hostcalls::resume_http_request() {
        log::warn!("llm-gateway: could not resume the request: {e:?}");
    }
}
