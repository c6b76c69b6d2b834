//! The BERT encoder of all-MiniLM-L6-v2 (and any BERT checkpoint of the same layout:
//! absolute positions, post-LayerNorm, GELU), inference only, in f32 on candle's CPU
//! tensors: the checkpoint's own arithmetic, and the reference the int8 encoder
//! (src/embed/int8_bert.rs) is tested against.
//! Written here rather than taken from `candle-transformers`, whose hundred other models
//! would cost minutes of build time for the ~100 lines this needs.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{LayerNorm, Linear};
use serde::Deserialize;

use super::int8;

/// The fields of the checkpoint's `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".into()
}

/// A dense layer `x W^T + b`, optionally followed by GELU (erf).
struct Dense(Linear);

impl Dense {
    /// `[batch, seq, inputs]` -> `[batch, seq, outputs]`.
    fn forward(&self, x: &Tensor, gelu: bool) -> candle_core::Result<Tensor> {
        let y = self.0.forward(x)?;
        if !gelu {
            return Ok(y);
        }
        // candle's own gelu_erf calls libm's erff per value: slower than the matmul.
        let shape = y.shape().clone();
        let v: Vec<f32> = y.flatten_all()?.to_vec1::<f32>()?;
        Tensor::from_vec(
            v.into_iter().map(int8::gelu_erf).collect(),
            shape,
            x.device(),
        )
    }
}

struct Layer {
    /// Query, key and value projections fused into one matrix: one matmul instead of three.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

pub struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    pub max_positions: usize,
}

/// A checkpoint's tensors by name.
pub(super) struct Weights {
    tensors: HashMap<String, Tensor>,
    /// `bert.` when the checkpoint was saved from a task model, else empty.
    prefix: String,
}

impl Weights {
    pub(super) fn get(&self, name: &str) -> Result<Tensor, String> {
        let key = format!("{}{name}", self.prefix);
        self.tensors
            .get(&key)
            .cloned()
            .ok_or_else(|| format!("the checkpoint has no tensor {key}"))
    }

    fn dense(&self, name: &str) -> Result<Dense, String> {
        Ok(Dense(Linear::new(
            self.get(&format!("{name}.weight"))?,
            Some(self.get(&format!("{name}.bias"))?),
        )))
    }

    /// A layer's query, key and value weights and biases, concatenated in that order.
    pub(super) fn qkv(&self, layer: usize) -> Result<(Tensor, Tensor), String> {
        let part = |n: &str| self.get(&format!("encoder.layer.{layer}.attention.self.{n}"));
        let weight = Tensor::cat(
            &[
                part("query.weight")?,
                part("key.weight")?,
                part("value.weight")?,
            ],
            0,
        )
        .map_err(err)?;
        let bias = Tensor::cat(
            &[part("query.bias")?, part("key.bias")?, part("value.bias")?],
            0,
        )
        .map_err(err)?;
        Ok((weight, bias))
    }

    fn norm(&self, name: &str, eps: f64) -> Result<LayerNorm, String> {
        Ok(LayerNorm::new(
            self.get(&format!("{name}.weight"))?,
            self.get(&format!("{name}.bias"))?,
            eps,
        ))
    }
}

pub(super) fn err(e: candle_core::Error) -> String {
    e.to_string()
}

/// Reads `config.json` and `model.safetensors` from `dir`.
pub(super) fn read_checkpoint(dir: &Path) -> Result<(BertConfig, Weights), String> {
    let config_path = dir.join("config.json");
    let config: BertConfig = serde_json::from_slice(
        &std::fs::read(&config_path)
            .map_err(|e| format!("cannot read {}: {e}", config_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", config_path.display()))?;
    if config.hidden_act != "gelu" {
        return Err(format!(
            "hidden_act must be gelu (got {:?})",
            config.hidden_act
        ));
    }
    if config.num_attention_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
    {
        return Err("hidden_size must be a multiple of num_attention_heads".into());
    }
    let weights_path = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
        .map_err(|e| format!("cannot load {}: {e}", weights_path.display()))?;
    let prefix = if tensors.contains_key("embeddings.word_embeddings.weight") {
        String::new()
    } else {
        "bert.".into()
    };
    Ok((config, Weights { tensors, prefix }))
}

impl Bert {
    pub(super) fn load(config: &BertConfig, w: &Weights) -> Result<Bert, String> {
        let eps = config.layer_norm_eps;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let (qkv_w, qkv_b) = w.qkv(i)?;
            layers.push(Layer {
                qkv: Dense(Linear::new(qkv_w, Some(qkv_b))),
                attention_out: w.dense(&format!("{p}.attention.output.dense"))?,
                attention_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), eps)?,
                intermediate: w.dense(&format!("{p}.intermediate.dense"))?,
                output: w.dense(&format!("{p}.output.dense"))?,
                output_norm: w.norm(&format!("{p}.output.LayerNorm"), eps)?,
            });
        }
        let token_type = w
            .get("embeddings.token_type_embeddings.weight")?
            .narrow(0, 0, 1)
            .map_err(err)?;
        Ok(Bert {
            word: w.get("embeddings.word_embeddings.weight")?,
            position: w.get("embeddings.position_embeddings.weight")?,
            token_type,
            embedding_norm: w.norm("embeddings.LayerNorm", eps)?,
            layers,
            heads: config.num_attention_heads,
            hidden: config.hidden_size,
            max_positions: config.max_position_embeddings,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// The last hidden states `[batch, seq, hidden]` for token ids `[batch, seq]` (u32)
    /// with `mask` `[batch, seq]` (f32, 1 for tokens, 0 for padding). Token type 0 for all.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, String> {
        self.forward_inner(ids, mask).map_err(err)
    }

    fn forward_inner(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        let h = self.hidden;
        let head_dim = h / self.heads;
        let words = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((batch, seq, h))?;
        let positions = self.position.narrow(0, 0, seq)?;
        let x = words
            .broadcast_add(&positions)?
            .broadcast_add(&self.token_type)?;
        let mut x = self.embedding_norm.forward(&x)?;
        // Padding gets a large negative score before the softmax: [batch, 1, 1, seq].
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * 1e4)?.reshape((batch, 1, 1, seq))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, false)?;
            let split = |i: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(2, i * h, h)?
                    .reshape((batch, seq, self.heads, head_dim))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (split(0)?, split(1)?, split(2)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch, seq, h))?;
            let attended = layer.attention_out.forward(&context, false)?;
            x = layer.attention_norm.forward(&(attended + &x)?)?;
            let inner = layer.intermediate.forward(&x, true)?;
            let out = layer.output.forward(&inner, false)?;
            x = layer.output_norm.forward(&(out + &x)?)?;
        }
        Ok(x)
    }
}

/// Mean of the token states over the mask, then L2-normalised (sentence-transformers'
/// `Pooling(mean)` + `Normalize`): `[batch, seq, hidden]` -> one vector per text.
pub fn mean_pool_normalised(states: &Tensor, mask: &Tensor) -> Result<Vec<Vec<f32>>, String> {
    (|| -> candle_core::Result<Vec<Vec<f32>>> {
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = states.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    })()
    .map_err(err)
}
