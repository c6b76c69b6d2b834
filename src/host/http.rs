//! One HTTP stream: shows a filter (the exchange, or the chain's attempt) what Envoy gives
//! and applies what it returns. The decisions live in `crate::exchange` and
//! `crate::attempt`; nothing here decides.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};

use super::glue::{self, Metrics};
use super::store::SharedData;
use crate::effects::{Effects, Filter, Flow, HostView};
use crate::limits::CounterStore;

/// The exchange's view of Envoy for the current callback.
struct Envoy;

impl HostView for Envoy {
    fn now_us(&self) -> u64 {
        glue::now_us()
    }

    fn request_header(&self, name: &str) -> Option<String> {
        glue::request_header(name)
    }

    fn response_header(&self, name: &str) -> Option<String> {
        glue::response_header(name)
    }

    fn request_headers(&self) -> Vec<(String, String)> {
        glue::request_headers()
    }

    fn property(&self, path: &[&str]) -> Option<String> {
        glue::property(path)
    }

    fn counters(&self) -> &dyn CounterStore {
        &SharedData
    }
}

/// Which message a callback's effects are about.
#[derive(Clone, Copy, PartialEq)]
enum Message {
    Request,
    Response,
}

pub struct HttpFilter {
    filter: Box<dyn Filter>,
    metrics: Rc<Metrics>,
    /// The root context's id and this one's, for background calls.
    ids: (u32, u32),
    /// The message a pending callout holds, and the size of its held body (a response
    /// callout replaces the whole buffered answer when it resolves).
    calling: (Message, usize),
}

impl HttpFilter {
    pub fn new(filter: Box<dyn Filter>, metrics: Rc<Metrics>, ids: (u32, u32)) -> Self {
        HttpFilter {
            filter,
            metrics,
            ids,
            calling: (Message::Request, 0),
        }
    }

    /// Applies one callback's effects; `body_size` is the size of the body buffer the
    /// callback saw (0 outside body callbacks).
    fn apply(&mut self, fx: Effects, message: Message, body_size: usize) -> Action {
        let (buffer, map) = match message {
            Message::Request => (BufferType::HttpRequestBody, MapType::HttpRequestHeaders),
            Message::Response => (BufferType::HttpResponseBody, MapType::HttpResponseHeaders),
        };
        if let Some(body) = &fx.body {
            glue::replace_body(buffer, body_size, body);
        }
        for (name, value) in &fx.headers {
            glue::set_header(map, name, value.as_deref());
        }
        for (name, value) in &fx.facts {
            glue::set_filter_state(name, value);
        }
        for metric in &fx.metrics {
            self.metrics.apply(metric);
        }
        for call in &fx.background {
            glue::dispatch_background(self.ids, call);
        }
        match fx.flow {
            Flow::Continue => Action::Continue,
            Flow::Pause => Action::Pause,
            Flow::Respond(reply) => {
                glue::send_response(
                    reply.status,
                    "application/json",
                    &reply.body,
                    &reply.headers,
                );
                Action::Pause
            }
            Flow::Call(call) => {
                let headers: Vec<(&str, &str)> = call
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let timeout = std::time::Duration::from_millis(call.timeout_ms);
                self.calling = match message {
                    Message::Request => (Message::Request, 0),
                    Message::Response => (Message::Response, body_size),
                };
                match glue::dispatch_call(&call.cluster, &headers, &call.body, timeout) {
                    Some(_) => Action::Pause,
                    None => {
                        let fx = self.filter.on_callout(&Envoy, None);
                        let (message, size) = self.calling;
                        self.apply(fx, message, size)
                    }
                }
            }
        }
    }
}

impl Context for HttpFilter {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, size: usize, _: usize) {
        // A timeout arrives here too, as Envoy's own 504.
        let fx = self
            .filter
            .on_callout(&Envoy, Some(glue::call_response(size)));
        // A response callout (the schema retry) resolves with the whole held answer
        // still buffered: its body is replaced in place, then the response resumes.
        let (message, size) = self.calling;
        if self.apply(fx, message, size) == Action::Continue {
            match message {
                Message::Request => glue::resume_request(),
                Message::Response => glue::resume_response(),
            }
        }
    }
}

impl HttpContext for HttpFilter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let fx = self.filter.on_request_headers(&Envoy, end_of_stream);
        // A Pause here holds the body callbacks too unless the filter config sets
        // `allow_on_headers_stop_iteration: true`.
        self.apply(fx, Message::Request, 0)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let read = || glue::body(BufferType::HttpRequestBody, body_size);
        let fx = self
            .filter
            .on_request_body(&Envoy, body_size, end_of_stream, &read);
        self.apply(fx, Message::Request, body_size)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let fx = self.filter.on_response_headers(&Envoy, end_of_stream);
        self.apply(fx, Message::Response, 0)
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        // While the headers are held the buffer holds the whole body so far; after a
        // Continue, each callback's buffer holds only the new chunk.
        let read = || glue::body(BufferType::HttpResponseBody, body_size);
        let fx = self
            .filter
            .on_response_body(&Envoy, body_size, end_of_stream, &read);
        self.apply(fx, Message::Response, body_size)
    }

    fn on_log(&mut self) {
        let fx = self.filter.on_log(&Envoy);
        self.apply(fx, Message::Response, 0);
    }
}
