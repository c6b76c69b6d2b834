//! The only code that touches the proxy-wasm host. It translates callbacks into calls of
//! the pure logic and turns the results into host calls.
//!
//! Every host call goes through `proxy_wasm::hostcalls` (which returns `Result`) rather
//! than the context traits' helpers (which panic on a host error): a panic kills the
//! worker's VM.

mod glue;
mod http;
mod root;
mod store;

pub fn install() {
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|context_id| Box::new(root::GatewayRoot::new(context_id)));
}
