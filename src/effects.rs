//! The interface between the pure filters (the exchange, the chain's attempt) and the
//! host glue: what a filter may read from the host, and what it asks the host to do after
//! each callback. A leaf: it names no stage.

use crate::limits::CounterStore;
use crate::metrics::Metric;

/// What the host shows the exchange on demand. The host implements it over proxy-wasm;
/// tests implement it over maps.
pub trait HostView {
    /// Wall-clock time, microseconds since the Unix epoch.
    fn now_us(&self) -> u64;
    /// A request header as the request stands now (lower-case name).
    fn request_header(&self, name: &str) -> Option<String>;
    /// A response header (lower-case name); `None` before the response.
    fn response_header(&self, name: &str) -> Option<String>;
    /// Every request header as the request stands now (pseudo-headers first, then the
    /// others, lower-case names). Default: none (a host that cannot list them).
    fn request_headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// A host property as a string (e.g. a JWT claim in dynamic metadata).
    fn property(&self, path: &[&str]) -> Option<String>;
    /// The counters the limits stage reserves in (shared by every worker).
    fn counters(&self) -> &dyn CounterStore;
}

/// Everything the host must do after one callback, in this order: replace the body it
/// just saw, edit the headers of the same message, record facts and metrics, then go on
/// as `flow` says.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// New bytes for the body this callback saw (its whole buffer).
    pub body: Option<Vec<u8>>,
    /// Header edits, in order: `Some` sets, `None` removes. On the request during the
    /// request callbacks, on the response during the response callbacks.
    pub headers: Vec<(String, Option<String>)>,
    /// Filter state for the access log (`%FILTER_STATE(wasm.<name>:PLAIN)%`).
    pub facts: Vec<(&'static str, String)>,
    pub metrics: Vec<Metric>,
    /// Calls the host makes on the VM's behalf, from its root context: nobody waits for
    /// their answer, and they outlive this request (e.g. storing an answer in a cache).
    pub background: Vec<Callout>,
    pub flow: Flow,
}

/// How the host goes on after applying the effects.
#[derive(Debug, Default, PartialEq)]
pub enum Flow {
    /// Let the message go on.
    #[default]
    Continue,
    /// Hold it (and keep buffering its body).
    Pause,
    /// Answer the client from the gateway; the request goes no further.
    Respond(LocalReply),
    /// Call a cluster and hold the request; its answer goes to `Exchange::on_callout`.
    Call(Callout),
}

/// A response the gateway writes itself: JSON unless `headers` name another
/// `content-type` (a cache hit replayed as an event stream).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An HTTP call through an Envoy cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Callout {
    pub cluster: String,
    /// `:method`, `:path` and `:authority` first, then the others.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

/// The answer to a callout: status 0 and an empty body when the call failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallAnswer {
    pub status: u32,
    /// Its headers (lower-case names), `:status` included.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CallAnswer {
    /// A header of the answer (lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A filter as the host drives it: one method per callback, each returning what to do.
/// `read` gives the body bytes the callback saw, and is called only when needed.
pub trait Filter {
    fn on_request_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects;
    fn on_request_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects;
    /// The answer to the callout the last effects asked for (`None`: it could not be made).
    fn on_callout(&mut self, host: &dyn HostView, answer: Option<CallAnswer>) -> Effects;
    fn on_response_headers(&mut self, host: &dyn HostView, end_of_stream: bool) -> Effects;
    fn on_response_body(
        &mut self,
        host: &dyn HostView,
        size: usize,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
    ) -> Effects;
    /// The access log's callback, the last one.
    fn on_log(&mut self, host: &dyn HostView) -> Effects;
}

impl Effects {
    /// Nothing to do; the message goes on.
    pub fn go_on() -> Effects {
        Effects::default()
    }

    /// Nothing to do but hold the message.
    pub fn hold() -> Effects {
        Effects {
            flow: Flow::Pause,
            ..Effects::default()
        }
    }

    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), Some(value.into())));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.push((name.to_string(), None));
    }
}
