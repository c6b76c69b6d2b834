//! The root context: configuration and tokenizer warm-up, one per VM.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use super::attempt::UpstreamAttempt;
use super::glue::Metrics;
use super::http::HttpExchange;
use crate::config::{Config, Role};

#[derive(Default)]
pub struct GatewayRoot {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
}

impl Context for GatewayRoot {}

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
                if let Some(limits) = &config.limits {
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
        if let Some(limits) = self.config.as_ref().and_then(|c| c.limits.as_ref()) {
            crate::limits::sweep(limits, &super::store::SharedData, super::glue::now_us());
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never return None here: the SDK panics on it.
        if let Some(config) = self.config.as_ref().filter(|c| c.role == Role::Upstream) {
            return Some(Box::new(UpstreamAttempt::new(
                config.clone(),
                self.metrics.clone(),
            )));
        }
        Some(Box::new(HttpExchange::new(
            self.config.clone(),
            self.metrics.clone(),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
