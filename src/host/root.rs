//! The root context: configuration and tokenizer warm-up, one per VM.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::glue::Metrics;
use super::http::HttpFilter;
use crate::attempt::upstream::UpstreamAttempt;
use crate::config::{Config, Role};
use crate::effects::Filter;
use crate::exchange::Exchange;
use crate::limits::Store;

pub struct GatewayRoot {
    /// This root context's id: background calls are made in its name.
    id: u32,
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
}

impl GatewayRoot {
    pub fn new(id: u32) -> Self {
        GatewayRoot {
            id,
            config: None,
            metrics: Rc::default(),
        }
    }
}

impl Context for GatewayRoot {
    /// The answer to a background call (an exchange's `Effects::background`): nobody waits
    /// for it; a failure is counted and logged.
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, size: usize, _: usize) {
        let status = super::glue::call_response(size).status;
        if !(200..300).contains(&status) {
            log::info!("llm-gateway: a background call answered {status}");
            self.metrics
                .apply(&crate::metrics::background_call_failed(status));
        }
    }
}

impl RootContext for GatewayRoot {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        // Build the BPE tables now: lazily they cost ~100 ms on a worker's first request.
        crate::tokens::warm_up();
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let raw = proxy_wasm::hostcalls::get_buffer(
            proxy_wasm::types::BufferType::PluginConfiguration,
            0,
            usize::MAX,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        match Config::parse(&raw, &|name| std::env::var(name).ok()) {
            Ok(config) => {
                if let Some(route) = &config.route {
                    for p in route.providers.iter().filter(|p| p.missing_key) {
                        log::info!("llm-gateway: provider {} has no API key set; its models go to the default provider", p.name);
                    }
                }
                // The sidecar store needs neither slots nor a sweep: its store expires
                // counters itself.
                let shared = config
                    .limits
                    .as_ref()
                    .filter(|l| l.store == Store::SharedData);
                if let Some(limits) = shared {
                    super::store::create_slots(
                        &limits.slot_keys(),
                        &crate::limits::empty_slot_value(),
                    );
                    // Expired counters are dropped from their slots on this tick.
                    if let Err(e) =
                        proxy_wasm::hostcalls::set_tick_period(std::time::Duration::from_secs(10))
                    {
                        log::warn!("llm-gateway: could not set tick period: {e:?}");
                    }
                }
                self.config = Some(Rc::new(config));
                true
            }
            Err(e) => {
                // Returning false makes Envoy reject the configuration; this line is what
                // the operator sees in Envoy's log.
                log::error!("{e}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let limits = self.config.as_ref().and_then(|c| c.limits.as_ref());
        if let Some(limits) = limits.filter(|l| l.store == Store::SharedData) {
            crate::limits::sweep(limits, &super::store::SharedData, super::glue::now_us());
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never return None here: the SDK panics on it.
        let filter: Box<dyn Filter> = match self.config.as_ref() {
            Some(config) if config.role == Role::Upstream => {
                Box::new(UpstreamAttempt::new(config.clone()))
            }
            config => Box::new(Exchange::new(config.cloned())),
        };
        Some(Box::new(HttpFilter::new(
            filter,
            self.metrics.clone(),
            (self.id, context_id),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
