//! The encoder's fast path: bert.rs's forward pass on plain slices, one text at a time
//! (no padding), with the dense layers in int8 (src/embed/int8.rs). bert.rs's candle
//! forward stays the f32 reference (`--f32`) that tests/eval.rs compares this one with.
//!
//! Why not candle's tensors here: once the dense layers were int8, candle's
//! per-operation threads, copies and allocations took about two thirds of a 50-token
//! question's time. Here the attention, layer norms and pooling are loops over a few
//! buffers, compiled for AVX-512 (every CPU with the int8 kernels has it).

use super::bert::{err, BertConfig, Weights};
use super::int8::{Int8Linear, Kernel};

/// `(x - mean) / sqrt(var + eps) * gamma + beta` over each row.
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

struct Layer {
    /// Query, key and value projections fused: one product instead of three.
    qkv: Int8Linear,
    attention_out: Int8Linear,
    attention_norm: Norm,
    intermediate: Int8Linear,
    output: Int8Linear,
    output_norm: Norm,
}

pub struct Int8Bert {
    /// `[vocabulary, hidden]`, `[max_positions, hidden]`, `[hidden]` (token type 0).
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    max_positions: usize,
}

fn values(w: &Weights, name: &str) -> Result<Vec<f32>, String> {
    w.get(name)?
        .flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(err)
}

fn dense(
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    kernel: Kernel,
) -> Result<Int8Linear, String> {
    let outputs = bias.len();
    if weight.len() != outputs * inputs {
        return Err(format!(
            "a dense layer has {} weights for {outputs} x {inputs}",
            weight.len()
        ));
    }
    Int8Linear::with_kernel(&weight, &bias, outputs, inputs, kernel).ok_or_else(|| {
        format!(
            "a {outputs} x {inputs} layer does not fit the {} kernel",
            kernel.name()
        )
    })
}

/// Head widths the attention is written for (all-MiniLM's 32, BERT-base's 64).
const HEAD_WIDTHS: [usize; 2] = [32, 64];

impl Int8Bert {
    /// Whether this encoder can run the checkpoint (else candle's f32 forward does).
    pub(super) fn fits(config: &BertConfig) -> bool {
        HEAD_WIDTHS.contains(&(config.hidden_size / config.num_attention_heads))
    }

    /// The int8 encoder of a checkpoint on `kernel`, which must run here.
    pub(super) fn load(
        config: &BertConfig,
        w: &Weights,
        kernel: Kernel,
    ) -> Result<Int8Bert, String> {
        if !kernel.runs_here() {
            return Err(format!("this CPU cannot run the {} kernel", kernel.name()));
        }
        if !Int8Bert::fits(config) {
            return Err(format!(
                "the int8 encoder takes heads {HEAD_WIDTHS:?} wide, not {}",
                config.hidden_size / config.num_attention_heads
            ));
        }
        let hidden = config.hidden_size;
        let eps = config.layer_norm_eps as f32;
        let norm = |name: &str| -> Result<Norm, String> {
            Ok(Norm {
                gamma: values(w, &format!("{name}.weight"))?,
                beta: values(w, &format!("{name}.bias"))?,
                eps,
            })
        };
        let linear = |name: &str, inputs: usize| -> Result<Int8Linear, String> {
            dense(
                values(w, &format!("{name}.weight"))?,
                values(w, &format!("{name}.bias"))?,
                inputs,
                kernel,
            )
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let (qkv_w, qkv_b) = w.qkv(i)?;
            let flat = |t: candle_core::Tensor| {
                t.flatten_all()
                    .and_then(|t| t.to_vec1::<f32>())
                    .map_err(err)
            };
            let intermediate = linear(&format!("{p}.intermediate.dense"), hidden)?;
            let inner = intermediate.outputs();
            layers.push(Layer {
                qkv: dense(flat(qkv_w)?, flat(qkv_b)?, hidden, kernel)?,
                attention_out: linear(&format!("{p}.attention.output.dense"), hidden)?,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate,
                output: linear(&format!("{p}.output.dense"), inner)?,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let token_type = values(w, "embeddings.token_type_embeddings.weight")?;
        let bert = Int8Bert {
            word: values(w, "embeddings.word_embeddings.weight")?,
            position: values(w, "embeddings.position_embeddings.weight")?,
            token_type: token_type.get(..hidden).ok_or("no token type 0")?.to_vec(),
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            heads: config.num_attention_heads,
            hidden,
            max_positions: config.max_position_embeddings,
        };
        if bert.position.len() < bert.max_positions * hidden
            || bert.embedding_norm.gamma.len() != hidden
        {
            return Err("the embedding tables do not match hidden_size".into());
        }
        Ok(bert)
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Which instructions the dense layers use.
    pub fn kernel(&self) -> Kernel {
        self.layers.first().map_or(Kernel::Vnni, |l| l.qkv.kernel())
    }

    /// The sentence embedding of one text's token ids: the last hidden states' mean,
    /// L2-normalised (sentence-transformers' `Pooling(mean)` + `Normalize`).
    pub fn embed(&self, ids: &[u32]) -> Result<Vec<f32>, String> {
        if ids.is_empty() || ids.len() > self.max_positions {
            return Err(format!(
                "{} tokens; the model takes 1 to {}",
                ids.len(),
                self.max_positions
            ));
        }
        let vocabulary = self.word.len() / self.hidden;
        if let Some(id) = ids.iter().find(|&&id| id as usize >= vocabulary) {
            return Err(format!("token id {id} is outside the vocabulary"));
        }
        #[cfg(target_arch = "x86_64")]
        {
            assert!(
                self.kernel().runs_here(),
                "an Int8Bert exists only with int8 kernels"
            );
            if self.kernel() == Kernel::Avx2 {
                // SAFETY: the CPU has AVX2 (its kernel runs here, asserted above).
                return Ok(unsafe { self.embed_avx2(ids) });
            }
            // SAFETY: the CPU has AVX-512F and BW (VNNI and AMX CPUs have them; the
            // kernel runs here, asserted above).
            Ok(unsafe { self.embed_avx512(ids) })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            unreachable!("no int8 kernel off x86-64")
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn embed_avx512(&self, ids: &[u32]) -> Vec<f32> {
        self.embed_plain(ids)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn embed_avx2(&self, ids: &[u32]) -> Vec<f32> {
        self.embed_plain(ids)
    }

    /// Inlined into the AVX-512 and AVX2 functions above, as are the helpers: plain loops, no
    /// closures (a closure handed to a library function is compiled without the
    /// caller's target features).
    #[inline(always)]
    fn embed_plain(&self, ids: &[u32]) -> Vec<f32> {
        let (seq, h) = (ids.len(), self.hidden);
        let mut x = vec![0f32; seq * h];
        for (i, &id) in ids.iter().enumerate() {
            let word = &self.word[id as usize * h..][..h];
            let position = &self.position[i * h..][..h];
            let row = &mut x[i * h..][..h];
            for k in 0..h {
                row[k] = word[k] + position[k] + self.token_type[k];
            }
        }
        layer_norm(&mut x, &self.embedding_norm);
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x, seq, false);
            let context = attention(&qkv, seq, self.heads, h);
            let mut attended = layer.attention_out.forward(&context, seq, false);
            add(&mut attended, &x);
            layer_norm(&mut attended, &layer.attention_norm);
            let inner = layer.intermediate.forward(&attended, seq, true);
            let mut out = layer.output.forward(&inner, seq, false);
            add(&mut out, &attended);
            layer_norm(&mut out, &layer.output_norm);
            x = out;
        }
        mean_pool_normalised(&x, h)
    }
}

#[inline(always)]
fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// Each row of `x` (rows of `gamma.len()`) normalised in place.
#[inline(always)]
fn layer_norm(x: &mut [f32], n: &Norm) {
    let h = n.gamma.len();
    let mut centred = vec![0f32; h];
    for row in x.chunks_exact_mut(h) {
        let mean = sum(row) / h as f32;
        for (c, v) in centred.iter_mut().zip(row.iter()) {
            *c = (v - mean) * (v - mean);
        }
        let inverse = 1.0 / (sum(&centred) / h as f32 + n.eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(&n.gamma).zip(&n.beta) {
            *v = (*v - mean) * inverse * g + b;
        }
    }
}

/// The sum in sixteen running lanes: one running f32 sum does not vectorise (its
/// order is fixed), sixteen do.
#[inline(always)]
fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (chunks, rest) = x.as_chunks::<16>();
    for chunk in chunks {
        for j in 0..16 {
            lanes[j] += chunk[j];
        }
    }
    let mut total = 0f32;
    for v in lanes.iter().chain(rest) {
        total += v;
    }
    total
}

/// The largest value, in sixteen running lanes (as `sum`).
#[inline(always)]
fn max(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let (chunks, rest) = x.as_chunks::<16>();
    for chunk in chunks {
        for j in 0..16 {
            lanes[j] = lanes[j].max(chunk[j]);
        }
    }
    let mut largest = f32::NEG_INFINITY;
    for v in lanes.iter().chain(rest) {
        largest = largest.max(*v);
    }
    largest
}

/// Multi-head self-attention over `seq` rows of `[q | k | v]` (each `hidden` wide, heads
/// of one of HEAD_WIDTHS): per head, softmax(q k^T / sqrt(d)) v; the heads side by
/// side. No mask: one text, no padding.
#[inline(always)]
fn attention(qkv: &[f32], seq: usize, heads: usize, hidden: usize) -> Vec<f32> {
    match hidden / heads {
        32 => attention_of::<32>(qkv, seq, heads, hidden),
        64 => attention_of::<64>(qkv, seq, heads, hidden),
        d => unreachable!("Int8Bert::load refuses {d}-wide heads"),
    }
}

/// Scores are computed 16 keys at a time.
const KEYS: usize = 16;

/// Heads of `D` values: each query's scores for 16 keys and its context row are sums
/// kept in registers while the keys and values stream past.
#[inline(always)]
fn attention_of<const D: usize>(qkv: &[f32], seq: usize, heads: usize, hidden: usize) -> Vec<f32> {
    let width = 3 * hidden;
    let scale = 1.0 / (D as f32).sqrt();
    let padded = seq.div_ceil(KEYS) * KEYS;
    let mut context = vec![0f32; seq * hidden];
    // One head's keys transposed ([D, padded], zeros past seq).
    let mut keys = vec![0f32; D * padded];
    let mut scores = vec![0f32; padded];
    for head in 0..heads {
        for j in 0..seq {
            let k = &qkv[j * width + hidden + head * D..][..D];
            for c in 0..D {
                keys[c * padded + j] = k[c];
            }
        }
        for i in 0..seq {
            let q = &qkv[i * width + head * D..][..D];
            for first in (0..padded).step_by(KEYS) {
                let mut block = [0f32; KEYS];
                for c in 0..D {
                    let qc = q[c] * scale;
                    let column = &keys[c * padded + first..][..KEYS];
                    for l in 0..KEYS {
                        block[l] += qc * column[l];
                    }
                }
                scores[first..first + KEYS].copy_from_slice(&block);
            }
            softmax(&mut scores[..seq]);
            let mut row = [0f32; D];
            for j in 0..seq {
                let p = scores[j];
                let v = &qkv[j * width + 2 * hidden + head * D..][..D];
                for c in 0..D {
                    row[c] += p * v[c];
                }
            }
            context[i * hidden + head * D..][..D].copy_from_slice(&row);
        }
    }
    context
}

#[inline(always)]
fn softmax(x: &mut [f32]) {
    let largest = max(x);
    for v in x.iter_mut() {
        *v = exp(*v - largest);
    }
    let inverse = 1.0 / sum(x);
    for v in x.iter_mut() {
        *v *= inverse;
    }
}

/// e^x within 2e-7 relative on [-87, 88] (tested), saturating outside: x = n ln 2 + r
/// with ln 2 in two parts (so r keeps its precision however large n), then 2^n times a
/// degree-7 Taylor polynomial for e^r, |r| <= ln 2 / 2. libm's expf is a call per
/// value (a tenth of the forward pass in candle's softmax); this vectorises.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LN_2_HIGH: f32 = 0.693_359_4; // 0x3f318000: few bits, so n * it is exact
    const LN_2_LOW: f32 = -2.121_944_4e-4;
    // Not clamp: f32::max returns the other argument for a NaN, so x is finite here.
    #[allow(clippy::manual_clamp)]
    let x = x.max(-87.0).min(88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = (x - n * LN_2_HIGH) - n * LN_2_LOW;
    let mut p = 1.0 / 5040.0_f32;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // SAFETY: n is an integer in -126..=127 (|x| <= 88), so n + 127 is a normal
    // float's biased exponent.
    let exponent = unsafe { n.to_int_unchecked::<i32>() } + 127;
    p * f32::from_bits((exponent as u32) << 23)
}

/// The rows' mean direction, unit length (their sum, normalised).
fn mean_pool_normalised(x: &[f32], h: usize) -> Vec<f32> {
    let mut pooled = vec![0f32; h];
    for row in x.chunks_exact(h) {
        add(&mut pooled, row);
    }
    super::normalise(&mut pooled);
    pooled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_2e_7_relative() {
        let mut worst = 0f64;
        for i in 0..=1_750_000 {
            let x = -87.0 + i as f32 / 10_000.0;
            let exact = f64::from(x).exp();
            worst = worst.max((f64::from(exp(x)) - exact).abs() / exact);
        }
        assert!(worst < 2e-7, "max relative error {worst}");
        assert_eq!(exp(f32::NEG_INFINITY), exp(-87.0));
        assert!(exp(f32::NAN).is_finite());
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_the_order() {
        let mut x = vec![1.0, 3.0, -2.0, 3.0, 0.5];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[1] > x[0] && x[0] > x[4] && x[4] > x[2]);
        assert_eq!(x[1], x[3]);
    }

    #[test]
    fn layer_norm_gives_zero_mean_unit_variance_before_the_affine() {
        let n = Norm {
            gamma: vec![1.0; 4],
            beta: vec![0.0; 4],
            eps: 1e-12,
        };
        let mut x = vec![1.0, 2.0, 3.0, 4.0, -5.0, 5.0, -5.0, 5.0];
        layer_norm(&mut x, &n);
        for row in x.chunks(4) {
            let mean: f32 = row.iter().sum::<f32>() / 4.0;
            let var: f32 = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / 4.0;
            assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5, "{row:?}");
        }
    }
}
