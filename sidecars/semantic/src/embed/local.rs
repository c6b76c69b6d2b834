//! all-MiniLM-L6-v2 in-process: its own `tokenizer.json`, the BERT encoder, mean pooling
//! over the attention mask and L2 normalisation, as sentence-transformers computes it.

use std::path::Path;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use super::bert::{mean_pool_normalised, read_checkpoint, Bert};
use super::int8::Kernel;
use super::int8_bert::Int8Bert;

/// How the encoder computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The int8 encoder where the CPU has AVX-512 VNNI and the checkpoint's heads fit it
    /// (src/embed/int8_bert.rs), else f32.
    Auto,
    /// f32 everywhere (candle, the checkpoint's own arithmetic).
    F32,
    /// The int8 encoder on this kernel (an error where the CPU cannot run it): tests
    /// compare both kernels end to end.
    Int8(Kernel),
}

enum Encoder {
    /// f32, texts batched with padding.
    Reference(Bert),
    /// int8, one text at a time.
    Int8(Int8Bert),
}

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2
/// (`sentence_bert_config.json`); longer texts are truncated to it, as there.
pub const MAX_TOKENS: usize = 256;

/// Texts per forward pass; a batch pads to its longest text.
const BATCH: usize = 16;

pub struct LocalModel {
    tokenizer: Tokenizer,
    encoder: Encoder,
    max_tokens: usize,
}

impl LocalModel {
    /// Loads `tokenizer.json`, `config.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path, precision: Precision) -> Result<LocalModel, String> {
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| format!("cannot load {}: {e}", tokenizer_path.display()))?;
        let (config, weights) = read_checkpoint(dir)?;
        let kernel = match precision {
            Precision::Auto => Kernel::best().filter(|_| Int8Bert::fits(&config)),
            Precision::F32 => None,
            Precision::Int8(k) => Some(k),
        };
        let encoder = match kernel {
            Some(k) => Encoder::Int8(Int8Bert::load(&config, &weights, k)?),
            None => Encoder::Reference(Bert::load(&config, &weights)?),
        };
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
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
            encoder,
            max_tokens,
        })
    }

    pub fn dim(&self) -> usize {
        match &self.encoder {
            Encoder::Reference(b) => b.hidden_size(),
            Encoder::Int8(b) => b.hidden_size(),
        }
    }

    /// `int8` or `f32`: how the dense layers compute.
    pub fn precision(&self) -> &'static str {
        match self.encoder {
            Encoder::Reference(_) => "f32",
            Encoder::Int8(_) => "int8",
        }
    }

    /// What `/healthz` and the logs say: `int8 (amx)`, `int8 (vnni)` or `f32`.
    pub fn describe(&self) -> String {
        match &self.encoder {
            Encoder::Reference(_) => "f32".into(),
            Encoder::Int8(b) => format!("int8 ({})", b.kernel().name()),
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
        let bert = match &self.encoder {
            // One text per core: each text's forward pass runs on one core.
            Encoder::Int8(b) if encoded.len() > 1 => {
                return encoded.par_iter().map(|ids| b.embed(ids)).collect();
            }
            Encoder::Int8(b) => return encoded.iter().map(|ids| b.embed(ids)).collect(),
            Encoder::Reference(b) => b,
        };
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
            let states = bert.forward(&ids, &mask)?;
            for (&i, v) in chunk.iter().zip(mean_pool_normalised(&states, &mask)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
