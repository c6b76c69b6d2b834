//! Output caps per model: the largest `max_tokens` / `max_completion_tokens` a request
//! may ask of a model, from each model's published maximum (longest prefix wins, the
//! operator's `limits.model_max_output_tokens` over the built-in table), and what
//! happens to a request that asks for more: refused (400 naming the field it sent) or
//! clamped (the field rewritten to the cap).

use std::collections::BTreeMap;

use crate::config_error::ConfigError;

/// Published maximum output tokens (the providers' model pages, 2026). A model that
/// matches no prefix gets `limits.max_output_tokens`.
const BUILTIN: &[(&str, u64)] = &[
    // OpenAI
    ("gpt-5", 128_000),
    ("gpt-4.1", 32_768),
    ("gpt-4.5", 16_384),
    ("gpt-4o", 16_384),
    ("chatgpt-4o", 16_384),
    ("gpt-4-turbo", 4_096),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 4_096),
    ("o1", 100_000),
    ("o1-mini", 65_536),
    ("o1-preview", 32_768),
    ("o3", 100_000),
    ("o4-mini", 100_000),
    // Anthropic
    ("claude-opus-4-5", 64_000),
    ("claude-sonnet-4-5", 64_000),
    ("claude-haiku-4-5", 64_000),
    ("claude-opus-4-1", 32_000),
    ("claude-opus-4", 32_000),
    ("claude-sonnet-4", 64_000),
    ("claude-3-7-sonnet", 64_000),
    ("claude-3-5-sonnet", 8_192),
    ("claude-3-5-haiku", 8_192),
    ("claude-3-opus", 4_096),
    ("claude-3-haiku", 4_096),
];

/// What happens to a request that asks for more output than its model's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverCap {
    /// 400 naming the field the client sent.
    Refuse,
    /// The field is rewritten to the cap and the request goes on.
    Clamp,
}

/// The compiled output caps.
#[derive(Debug, Clone)]
pub struct OutputCaps {
    by_prefix: BTreeMap<String, u64>,
    /// For models no prefix matches (`limits.max_output_tokens`).
    pub default_cap: u64,
    pub over: OverCap,
}

/// A request's output cap checked against its model's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapCheck {
    Within,
    /// Clamp the client's field to `cap`.
    Clamp {
        cap: u64,
    },
    /// Refuse with this message (it names `field`).
    Refuse(String),
}

impl OutputCaps {
    /// The built-in table with the operator's entries over it.
    pub fn compile(
        overrides: BTreeMap<String, u64>,
        default_cap: u64,
        over: Option<&str>,
    ) -> Result<OutputCaps, ConfigError> {
        let over = match over.unwrap_or("refuse") {
            "refuse" => OverCap::Refuse,
            "clamp" => OverCap::Clamp,
            other => {
                return Err(ConfigError(format!(
                    "limits.over_max_output must be one of refuse, clamp (got {other:?})"
                )))
            }
        };
        let mut by_prefix: BTreeMap<String, u64> =
            BUILTIN.iter().map(|&(m, n)| (m.to_string(), n)).collect();
        for (model, cap) in overrides {
            if model.is_empty() {
                return Err(ConfigError(
                    "limits.model_max_output_tokens keys must be non-empty model names".into(),
                ));
            }
            if cap == 0 {
                return Err(ConfigError(format!(
                    "limits.model_max_output_tokens.{model} must be > 0 (got 0)"
                )));
            }
            by_prefix.insert(model, cap);
        }
        Ok(OutputCaps {
            by_prefix,
            default_cap,
            over,
        })
    }

    /// The output cap of `model`: its longest matching prefix's, else the default.
    pub fn cap(&self, model: &str) -> u64 {
        self.by_prefix
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(self.default_cap, |(_, &n)| n)
    }

    /// Checks `requested` (the value of the client's `field`) against `model`'s cap.
    pub fn check(&self, model: &str, field: &str, requested: u64) -> CapCheck {
        let cap = self.cap(model);
        if requested <= cap {
            return CapCheck::Within;
        }
        match self.over {
            OverCap::Clamp => CapCheck::Clamp { cap },
            OverCap::Refuse => CapCheck::Refuse(format!(
                "`{field}` must be at most {cap} for {model} (got {requested})"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(overrides: &[(&str, u64)], over: &str) -> OutputCaps {
        let o = overrides.iter().map(|&(m, n)| (m.to_string(), n)).collect();
        OutputCaps::compile(o, 32_768, Some(over)).unwrap()
    }

    #[test]
    fn published_maximums_longest_prefix_wins() {
        let c = caps(&[], "refuse");
        assert_eq!(c.cap("claude-sonnet-4-5-20250929"), 64_000);
        assert_eq!(c.cap("claude-haiku-4-5"), 64_000);
        assert_eq!(c.cap("claude-opus-4-1-20250805"), 32_000);
        assert_eq!(c.cap("o3-mini"), 100_000);
        assert_eq!(c.cap("o4-mini-2025-04-16"), 100_000);
        assert_eq!(c.cap("o1-mini"), 65_536);
        assert_eq!(c.cap("gpt-4o-mini"), 16_384);
        assert_eq!(c.cap("gpt-4-0613"), 8_192);
        assert_eq!(c.cap("gpt-4.1-nano"), 32_768);
        assert_eq!(c.cap("llama3.2"), 32_768, "unknown models get the default");
    }

    #[test]
    fn the_operator_overrides_and_extends_the_table() {
        let c = caps(&[("claude-", 8_000), ("claude-haiku-4-5", 1_000)], "refuse");
        assert_eq!(c.cap("claude-haiku-4-5"), 1_000);
        assert_eq!(
            c.cap("claude-sonnet-4-5"),
            64_000,
            "the longer built-in wins"
        );
        assert_eq!(c.cap("claude-instant"), 8_000);
    }

    #[test]
    fn refusal_names_the_field_the_client_sent_clamp_gives_the_cap() {
        let c = caps(&[], "refuse");
        assert_eq!(
            c.check("claude-sonnet-4-5", "max_tokens", 64_000),
            CapCheck::Within
        );
        assert_eq!(
            c.check("o3", "max_completion_tokens", 100_001),
            CapCheck::Refuse(
                "`max_completion_tokens` must be at most 100000 for o3 (got 100001)".into()
            )
        );
        let c = caps(&[], "clamp");
        assert_eq!(
            c.check("gpt-4o", "max_tokens", 20_000),
            CapCheck::Clamp { cap: 16_384 }
        );
    }

    #[test]
    fn bad_settings_name_the_field_and_the_rule() {
        let err = |o: &[(&str, u64)], over| {
            let o = o.iter().map(|&(m, n)| (m.to_string(), n)).collect();
            OutputCaps::compile(o, 1, Some(over)).unwrap_err().0
        };
        assert_eq!(
            err(&[], "cut"),
            "limits.over_max_output must be one of refuse, clamp (got \"cut\")"
        );
        assert_eq!(
            err(&[("o3", 0)], "refuse"),
            "limits.model_max_output_tokens.o3 must be > 0 (got 0)"
        );
    }
}
