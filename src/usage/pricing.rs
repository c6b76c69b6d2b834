//! Model prices and the cost of one request.
//!
//! Prices are USD per million tokens, looked up by the longest configured prefix of the
//! model name, so dated snapshots (`gpt-4o-2024-08-06`) find their family.

use std::collections::BTreeMap;

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub cached_input: f64,
    pub cache_write: f64,
    pub output: f64,
}

/// Token counts that a response is billed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BilledTokens {
    /// Input tokens billed at the full input price (cache reads and writes excluded).
    pub input: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic).
    pub cache_write: u64,
    pub output: u64,
}

impl Price {
    pub fn cost_usd(&self, t: &BilledTokens) -> f64 {
        (t.input as f64 * self.input
            + t.cached_input as f64 * self.cached_input
            + t.cache_write as f64 * self.cache_write
            + t.output as f64 * self.output)
            / 1_000_000.0
    }
}

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    by_prefix: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn insert(&mut self, prefix: String, price: Price) {
        self.by_prefix.insert(prefix, price);
    }

    /// The price of `model` and the table key it matched (the longest matching prefix).
    pub fn lookup(&self, model: &str) -> Option<(&str, &Price)> {
        self.by_prefix
            .iter()
            .filter(|(prefix, _)| model.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(k, v)| (k.as_str(), v))
    }

    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.by_prefix.keys().map(String::as_str)
    }
}

/// Built-in list prices (USD per million tokens), from the providers' public price pages
/// as of 2026. Operators override or extend them with `usage.prices`.
/// Columns: input, cached input (cache read), cache write, output.
const BUILTIN: &[(&str, f64, f64, f64, f64)] = &[
    // OpenAI
    ("gpt-5", 1.25, 0.125, 1.25, 10.0),
    ("gpt-5-mini", 0.25, 0.025, 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.005, 0.05, 0.40),
    ("gpt-4.1", 2.0, 0.50, 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 0.10, 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.025, 0.10, 0.40),
    ("gpt-4o", 2.50, 1.25, 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.075, 0.15, 0.60),
    ("o1", 15.0, 7.50, 15.0, 60.0),
    ("o1-mini", 1.10, 0.55, 1.10, 4.40),
    ("o3", 2.0, 0.50, 2.0, 8.0),
    ("o3-mini", 1.10, 0.55, 1.10, 4.40),
    ("o4-mini", 1.10, 0.275, 1.10, 4.40),
    ("gpt-4-turbo", 10.0, 10.0, 10.0, 30.0),
    ("gpt-4", 30.0, 30.0, 30.0, 60.0),
    ("gpt-3.5-turbo", 0.50, 0.50, 0.50, 1.50),
    // OpenAI embeddings: input only (an answer is vectors, no output tokens)
    ("text-embedding-3-small", 0.02, 0.02, 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.13, 0.13, 0.0),
    ("text-embedding-ada-002", 0.10, 0.10, 0.10, 0.0),
    // Anthropic (cache write is the 5-minute rate, 1.25x input)
    ("claude-opus-4-5", 5.0, 0.50, 6.25, 25.0),
    ("claude-opus-4-1", 15.0, 1.50, 18.75, 75.0),
    ("claude-opus-4", 15.0, 1.50, 18.75, 75.0),
    ("claude-sonnet-4-5", 3.0, 0.30, 3.75, 15.0),
    ("claude-sonnet-4", 3.0, 0.30, 3.75, 15.0),
    ("claude-3-7-sonnet", 3.0, 0.30, 3.75, 15.0),
    ("claude-3-5-sonnet", 3.0, 0.30, 3.75, 15.0),
    ("claude-haiku-4-5", 1.0, 0.10, 1.25, 5.0),
    ("claude-3-5-haiku", 0.80, 0.08, 1.0, 4.0),
    ("claude-3-haiku", 0.25, 0.03, 0.30, 1.25),
];

pub fn default_prices() -> PriceTable {
    let mut t = PriceTable::default();
    for &(model, input, cached_input, cache_write, output) in BUILTIN {
        t.insert(
            model.to_string(),
            Price {
                input,
                cached_input,
                cache_write,
                output,
            },
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let t = default_prices();
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().0, "gpt-4o-mini");
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(t.lookup("gpt-4-0613").unwrap().0, "gpt-4");
        assert_eq!(t.lookup("gpt-4.1-nano").unwrap().0, "gpt-4.1-nano");
        assert_eq!(
            t.lookup("claude-sonnet-4-5-20250929").unwrap().0,
            "claude-sonnet-4-5"
        );
        assert!(t.lookup("llama-3.1-8b").is_none());
    }

    #[test]
    fn embeddings_cost_their_input_only() {
        let t = default_prices();
        let (key, p) = t.lookup("text-embedding-3-small").unwrap();
        assert_eq!(key, "text-embedding-3-small");
        let billed = BilledTokens {
            input: 1_000_000,
            ..Default::default()
        };
        assert!((p.cost_usd(&billed) - 0.02).abs() < 1e-12);
        assert_eq!(t.lookup("text-embedding-3-large").unwrap().1.input, 0.13);
        assert_eq!(t.lookup("text-embedding-ada-002").unwrap().1.input, 0.10);
        assert_eq!(t.lookup("text-embedding-3-large").unwrap().1.output, 0.0);
    }

    #[test]
    fn cost_adds_every_kind_of_token() {
        let p = Price {
            input: 2.5,
            cached_input: 1.25,
            cache_write: 3.0,
            output: 10.0,
        };
        let t = BilledTokens {
            input: 1000,
            cached_input: 2000,
            cache_write: 100,
            output: 500,
        };
        let expected = (1000.0 * 2.5 + 2000.0 * 1.25 + 100.0 * 3.0 + 500.0 * 10.0) / 1e6;
        assert!((p.cost_usd(&t) - expected).abs() < 1e-12);
    }
}
