//! The facts of one exchange: what the response headers, filter state (for the access
//! log) and metrics report.

use crate::api::Api;
use crate::tokens::Accuracy;

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub api: Api,
    pub model: String,
    /// The model the provider's answer names (e.g. a dated version of `model`).
    pub response_model: Option<String>,
    pub provider: String,
    pub stream: bool,
    /// Input tokens: the provider's figure when it reported one, else our count.
    pub input_tokens: Option<u64>,
    /// Our own count of the request's input tokens.
    pub input_tokens_counted: Option<u64>,
    pub input_accuracy: Accuracy,
    pub output_tokens: Option<u64>,
    pub cached_tokens: u64,
    pub cost_usd: Option<f64>,
    /// The price-table key the model matched (a bounded metric label).
    pub price_key: Option<String>,
    /// `provider` (reported usage) or `counted` (our tokenizer).
    pub usage_source: Option<&'static str>,
    pub error: Option<&'static str>,
    pub status: u32,
    pub ttft_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    /// The identified consumer and its group (identity stage).
    pub consumer: Option<String>,
    pub consumer_group: Option<String>,
    /// Why a routing alias chose the model.
    pub route_reason: Option<String>,
}

impl Facts {
    /// Headers known before the response body: model, provider and counted input tokens.
    /// Streaming responses carry only these.
    pub fn early_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("x-llm-model", self.model.clone()),
            ("x-llm-provider", self.provider.clone()),
        ];
        if let Some(n) = self.input_tokens_counted {
            h.push(("x-llm-input-tokens", n.to_string()));
        }
        if let Some(r) = &self.route_reason {
            h.push(("x-llm-route-reason", r.clone()));
        }
        h
    }

    /// Headers of a complete (non-streaming) response.
    pub fn final_headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("x-llm-model", self.model.clone()),
            ("x-llm-provider", self.provider.clone()),
        ];
        if let Some(n) = self.input_tokens {
            h.push(("x-llm-input-tokens", n.to_string()));
        }
        if let Some(n) = self.output_tokens {
            h.push(("x-llm-output-tokens", n.to_string()));
        }
        if let Some(c) = self.cost_usd {
            h.push(("x-llm-cost-usd", format_usd(c)));
        }
        if let Some(r) = &self.route_reason {
            h.push(("x-llm-route-reason", r.clone()));
        }
        h
    }

    /// Filter-state entries (`wasm.<name>` in Envoy), read by the access log.
    pub fn filter_state(&self) -> Vec<(&'static str, String)> {
        let mut s = vec![
            ("llm_api", self.api.name().to_string()),
            ("llm_operation", self.api.operation().to_string()),
            ("llm_model", self.model.clone()),
            ("llm_provider", self.provider.clone()),
            ("llm_stream", self.stream.to_string()),
            (
                "llm_input_accuracy",
                self.input_accuracy.as_str().to_string(),
            ),
        ];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                s.push((k, v));
            }
        };
        opt("llm_response_model", self.response_model.clone());
        opt("llm_input_tokens", self.input_tokens.map(|n| n.to_string()));
        opt(
            "llm_input_tokens_counted",
            self.input_tokens_counted.map(|n| n.to_string()),
        );
        opt(
            "llm_output_tokens",
            self.output_tokens.map(|n| n.to_string()),
        );
        opt(
            "llm_cached_tokens",
            self.output_tokens.map(|_| self.cached_tokens.to_string()),
        );
        opt("llm_cost_usd", self.cost_usd.map(format_usd));
        opt("llm_usage_source", self.usage_source.map(str::to_string));
        opt("llm_error", self.error.map(str::to_string));
        opt("llm_ttft_ms", self.ttft_ms.map(|n| n.to_string()));
        opt("llm_consumer", self.consumer.clone());
        opt("llm_route_reason", self.route_reason.clone());
        opt("llm_consumer_group", self.consumer_group.clone());
        s
    }
}

/// USD with 10 decimals and no trailing zeros: `0.0000425`.
pub fn format_usd(usd: f64) -> String {
    let s = format!("{usd:.10}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usd_is_formatted_without_noise() {
        assert_eq!(format_usd(0.0000425), "0.0000425");
        assert_eq!(format_usd(1.5), "1.5");
        assert_eq!(format_usd(0.0), "0");
    }
}
