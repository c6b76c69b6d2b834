//! The limits' counter store over proxy-wasm shared data: one store per `vm_id`, shared
//! by every worker VM of this Envoy, with compare-and-swap on every write.

use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;

use crate::limits::{CounterStore, StoreOutcome};

pub struct SharedData;

impl CounterStore for SharedData {
    fn load(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            // An empty value comes back without data but with its CAS token.
            Ok((value, Some(cas))) => Some((value.unwrap_or_default(), cas)),
            _ => None,
        }
    }

    fn store(&self, key: &str, value: &[u8], cas: u32) -> StoreOutcome {
        match hostcalls::set_shared_data(key, Some(value), Some(cas)) {
            Ok(()) => StoreOutcome::Stored,
            Err(Status::CasMismatch) => StoreOutcome::Conflict,
            Err(_) => StoreOutcome::Failed,
        }
    }
}

/// Creates every slot that does not exist yet. Never overwrites one: that would reset
/// live counters (VMs of other workers, or of the previous configuration, share them).
pub fn create_slots(keys: &[String], empty: &[u8]) {
    for key in keys {
        if let Ok((None, None)) = hostcalls::get_shared_data(key) {
            if let Err(e) = hostcalls::set_shared_data(key, Some(empty), None) {
                log::warn!("llm-gateway: could not create limits slot {key}: {e:?}");
            }
        }
    }
}
