//! Token counting with OpenAI's own encodings (tiktoken's BPE tables, byte for byte).
//!
//! Exact for OpenAI models; for Anthropic and self-hosted models the count is an
//! estimate made with `o200k_base` (their tokenizers are not public or vary by model).
//!
//! Count-only BPE of our own: `pretokenize` splits text as tiktoken's regexes do,
//! `bpe` counts each piece with the ranks in `vocab`. Counts equal tiktoken's on every
//! text (see `differential`, which checks against tiktoken-rs); the tables cost ~2.3 MB
//! of module data and ~4.3 MB of heap per VM, built in a few ms by `warm_up`.

pub mod base64;
mod bpe;
mod charclass;
mod chat;
#[cfg(test)]
mod differential;
mod embeddings;
pub mod image;
mod messages;
mod pretokenize;
mod vocab;

pub use chat::{count_openai_chat, same_chat_counting};
pub use embeddings::count_embedding_input;
pub use messages::count_anthropic_messages;

use std::sync::OnceLock;

use vocab::Vocab;

static O200K_FILE: &[u8] = include_bytes!("data/o200k_base.bin");
static CL100K_FILE: &[u8] = include_bytes!("data/cl100k_base.bin");

fn o200k() -> &'static Vocab {
    static V: OnceLock<Vocab> = OnceLock::new();
    V.get_or_init(|| Vocab::from_file(O200K_FILE))
}

fn cl100k() -> &'static Vocab {
    static V: OnceLock<Vocab> = OnceLock::new();
    V.get_or_init(|| Vocab::from_file(CL100K_FILE))
}

/// The BPE encoding a model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

/// Whether a count is what the provider will bill, or our estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accuracy {
    Exact,
    Estimate,
}

impl Accuracy {
    pub fn as_str(self) -> &'static str {
        match self {
            Accuracy::Exact => "exact",
            Accuracy::Estimate => "estimate",
        }
    }
}

/// The encoding of an OpenAI model name and whether counts with it are exact.
pub fn encoding_for_model(model: &str) -> (Encoding, Accuracy) {
    const O200K: &[&str] = &[
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "o1",
        "o3",
        "o4",
        "gpt-oss",
    ];
    const CL100K: &[&str] = &[
        "gpt-4",
        "gpt-3.5",
        "gpt-35",
        "text-embedding-3",
        "text-embedding-ada-002",
    ];
    let model = model.strip_prefix("openai/").unwrap_or(model);
    if O200K.iter().any(|p| model.starts_with(p)) {
        (Encoding::O200kBase, Accuracy::Exact)
    } else if CL100K.iter().any(|p| model.starts_with(p)) {
        (Encoding::Cl100kBase, Accuracy::Exact)
    } else {
        (Encoding::O200kBase, Accuracy::Estimate)
    }
}

/// Number of tokens in `text`, special-token text counted as ordinary text (as OpenAI
/// does for message content).
pub fn count_text(encoding: Encoding, text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match encoding {
        Encoding::O200kBase => count_with(o200k(), pretokenize::next_o200k, text),
        Encoding::Cl100kBase => count_with(cl100k(), pretokenize::next_cl100k, text),
    }
}

#[inline(always)]
fn count_with(vocab: &Vocab, next: impl Fn(&[u8], usize) -> usize, text: &str) -> u64 {
    let s = text.as_bytes();
    let mut total = 0;
    let mut i = 0;
    while i < s.len() {
        let end = next(s, i);
        total += bpe::count_piece(vocab, &s[i..end]);
        i = end;
    }
    total
}

/// Builds both encodings' tables now (a few ms), so no request pays for it.
pub fn warm_up() {
    count_text(Encoding::O200kBase, "warm up");
    count_text(Encoding::Cl100kBase, "warm up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_families_pick_their_encoding() {
        for m in [
            "gpt-4o",
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1-nano",
            "o3-mini",
            "o1",
            "gpt-5",
            "o4-mini",
        ] {
            assert_eq!(
                encoding_for_model(m),
                (Encoding::O200kBase, Accuracy::Exact),
                "{m}"
            );
        }
        for m in ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo-0125"] {
            assert_eq!(
                encoding_for_model(m),
                (Encoding::Cl100kBase, Accuracy::Exact),
                "{m}"
            );
        }
        assert_eq!(
            encoding_for_model("claude-sonnet-4-5").1,
            Accuracy::Estimate
        );
        assert_eq!(encoding_for_model("llama3.1").1, Accuracy::Estimate);
    }

    #[test]
    fn counts_match_known_tiktoken_values() {
        // Values printed by Python tiktoken 0.x for these strings.
        assert_eq!(count_text(Encoding::Cl100kBase, "hello world"), 2);
        assert_eq!(count_text(Encoding::O200kBase, "hello world"), 2);
        assert_eq!(count_text(Encoding::Cl100kBase, "tiktoken is great!"), 6);
        assert_eq!(count_text(Encoding::O200kBase, ""), 0);
        // Special-token text is ordinary text.
        assert!(count_text(Encoding::O200kBase, "<|endoftext|>") > 1);
    }
}
