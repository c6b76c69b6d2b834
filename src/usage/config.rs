//! The `usage` section: token counting, cost and usage facts, as the operator writes it
//! (serde) and compiled.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::pricing::{default_prices, Price, PriceTable};
use crate::config_error::ConfigError;

/// The `usage` section as the operator writes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsage {
    /// Ask OpenAI-format providers for usage on streams (`stream_options.include_usage`)
    /// when the client did not. The client then also receives the final usage chunk
    /// (`choices: []`). Default true.
    pub request_stream_usage: Option<bool>,
    /// Prices in USD per million tokens, by model name or prefix (longest prefix wins).
    /// Merged over the built-in table; an entry here replaces the built-in one.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// Start from the built-in price table. Default true.
    pub builtin_prices: Option<bool>,
}

/// One entry of `usage.prices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million cached input tokens (cache reads). Default: `input`.
    pub cached_input: Option<f64>,
    /// USD per million tokens written to the provider's prompt cache. Default: `input`.
    pub cache_write: Option<f64>,
    /// USD per million output tokens.
    pub output: f64,
}

/// The compiled `usage` section.
#[derive(Debug, Clone)]
pub struct Usage {
    pub request_stream_usage: bool,
    pub prices: PriceTable,
}

/// Compiles the `usage` section over the built-in price table.
pub fn compile(raw: RawUsage) -> Result<Usage, ConfigError> {
    let mut prices = if raw.builtin_prices.unwrap_or(true) {
        default_prices()
    } else {
        PriceTable::default()
    };
    for (model, p) in raw.prices {
        let field = format!("usage.prices.{model}");
        if model.is_empty() {
            return Err(ConfigError(
                "usage.prices keys must be non-empty model names".into(),
            ));
        }
        let check = |name: &str, v: f64| {
            if v.is_finite() && (0.0..=100_000.0).contains(&v) {
                Ok(v)
            } else {
                Err(ConfigError(format!(
                    "{field}.{name} must be between 0 and 100000 USD per million tokens (got {v})"
                )))
            }
        };
        let input = check("input", p.input)?;
        let price = Price {
            input,
            cached_input: check("cached_input", p.cached_input.unwrap_or(input))?,
            cache_write: check("cache_write", p.cache_write.unwrap_or(input))?,
            output: check("output", p.output)?,
        };
        prices.insert(model, price);
    }
    Ok(Usage {
        request_stream_usage: raw.request_stream_usage.unwrap_or(true),
        prices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_error::section;

    fn parse(json: &[u8]) -> Result<Usage, ConfigError> {
        compile(section(json, "usage")?)
    }

    fn err(json: &str) -> String {
        parse(json.as_bytes()).unwrap_err().0
    }

    #[test]
    fn invalid_values_name_the_field_and_rule() {
        assert_eq!(
            err(r#"{"usage":{"prices":{"m":{"input":-1,"output":1}}}}"#),
            "usage.prices.m.input must be between 0 and 100000 USD per million tokens (got -1)"
        );
    }

    #[test]
    fn configured_prices_override_builtins() {
        let usage = parse(br#"{"usage":{"prices":{"gpt-4o":{"input":1,"output":2}}}}"#).unwrap();
        let p = usage.prices.lookup("gpt-4o-2024-08-06").unwrap().1;
        assert_eq!((p.input, p.cached_input, p.output), (1.0, 1.0, 2.0));
    }
}
