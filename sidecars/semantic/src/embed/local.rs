//! all-MiniLM-L6-v2 in-process: its own `tokenizer.json`, the BERT encoder, mean pooling
//! over the attention mask and L2 normalisation, as sentence-transformers computes it.

use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::{Tokenizer, TruncationParams};

use super::bert::{mean_pool_normalised, Bert, Precision};

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2
/// (`sentence_bert_config.json`); longer texts are truncated to it, as there.
pub const MAX_TOKENS: usize = 256;

/// Texts per forward pass; a batch pads to its longest text.
const BATCH: usize = 16;

pub struct LocalModel {
    tokenizer: Tokenizer,
    bert: Bert,
    max_tokens: usize,
}

impl LocalModel {
    /// Loads `tokenizer.json`, `config.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path, precision: Precision) -> Result<LocalModel, String> {
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| format!("cannot load {}: {e}", tokenizer_path.display()))?;
        let bert = Bert::load(dir, precision)?;
        let max_tokens = MAX_TOKENS.min(bert.max_positions);
        // The file pads to 128 and truncates at 128; sentence-transformers overrides both.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| format!("tokenizer truncation: {e}"))?;
        Ok(LocalModel {
            tokenizer,
            bert,
            max_tokens,
        })
    }

    pub fn dim(&self) -> usize {
        self.bert.hidden_size()
    }

    /// `int8` or `f32`: how the dense layers compute.
    pub fn precision(&self) -> &'static str {
        if self.bert.is_int8() {
            "int8"
        } else {
            "f32"
        }
    }

    /// Token ids (with `[CLS]` and `[SEP]`) of `text`, truncated like the model sees it.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| format!("tokenize: {e}"))?;
        let mut ids = enc.get_ids().to_vec();
        ids.truncate(self.max_tokens);
        Ok(ids)
    }

    /// One unit vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut encoded = Vec::with_capacity(texts.len());
        for t in texts {
            encoded.push(self.token_ids(t)?);
        }
        // Sort by length so each batch pads little; answer in the caller's order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encoded[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH) {
            let longest = chunk.iter().map(|&i| encoded[i].len()).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(chunk.len() * longest);
            let mut mask = Vec::with_capacity(chunk.len() * longest);
            for &i in chunk {
                let e = &encoded[i];
                ids.extend_from_slice(e);
                ids.extend(std::iter::repeat_n(0u32, longest - e.len()));
                mask.extend(std::iter::repeat_n(1f32, e.len()));
                mask.extend(std::iter::repeat_n(0f32, longest - e.len()));
            }
            let shape = (chunk.len(), longest);
            let ids = Tensor::from_vec(ids, shape, &Device::Cpu).map_err(|e| e.to_string())?;
            let mask = Tensor::from_vec(mask, shape, &Device::Cpu).map_err(|e| e.to_string())?;
            let states = self.bert.forward(&ids, &mask)?;
            for (&i, v) in chunk.iter().zip(mean_pool_normalised(&states, &mask)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
