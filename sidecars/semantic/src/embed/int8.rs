//! The encoder's dense layers with int8 weights, on CPUs with AVX-512 VNNI.
//!
//! A 50-token question spends two thirds of its f32 forward pass in six layers of
//! `x W^T + b`, and the `gemm` crate re-packs each weight matrix on every call (it
//! cannot know the matrix is constant). Here each weight matrix is quantised once, per
//! output row (w = q * scale, q in -127..=127), and packed in the order the kernel
//! reads it; each call quantises its input per row to 16 bits and multiplies 32 pairs
//! per instruction (`vpdpwssd`), exact in i32.
//!
//! Why 16-bit inputs and not 8: with 8-bit inputs embeddings agreed with f32 to a
//! cosine of 0.998 on average, enough to move the semantic cache's dev recall below
//! its goal; with 16-bit inputs only the weights' rounding is left (0.9997), at about
//! twice the kernel time of 8 bits and still 2.5x faster than f32 overall.

/// Output columns per vector (16 lanes of i32) and input values per lane (2 x i16).
const LANES: usize = 16;
const DEPTH: usize = 2;
/// Columns one kernel step computes (4 vectors) and rows it shares each weight load with.
const BLOCK_COLUMNS: usize = 64;
const BLOCK_ROWS: usize = 4;
/// The weights' range: q in -127..=127.
const WEIGHT_MAX: f32 = 127.0;

/// Whether this CPU runs the kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y = x W^T + b` (optionally followed by GELU) with W in int8.
pub struct Int8Linear {
    inputs: usize,
    outputs: usize,
    /// The inputs' range: the largest magnitude whose products, summed over all
    /// inputs, cannot overflow i32 (`vpdpwssd` wraps).
    input_max: f32,
    /// The quantised weights as the kernel reads them: for each block of 64 outputs,
    /// for each 2 inputs, 4 vectors of 16 outputs x 2 inputs.
    packed: Vec<i16>,
    /// Per output: its row's scale.
    scales: Vec<f32>,
    bias: Vec<f32>,
}

impl Int8Linear {
    /// From a row-major `[outputs, inputs]` weight and its bias; `None` when the shape
    /// does not fit the kernel's blocks (inputs even, outputs a multiple of 64; BERT's
    /// 384, 1152 and 1536 do).
    pub fn new(weight: &[f32], bias: &[f32], outputs: usize, inputs: usize) -> Option<Int8Linear> {
        if inputs == 0
            || !inputs.is_multiple_of(DEPTH)
            || outputs == 0
            || !outputs.is_multiple_of(BLOCK_COLUMNS)
            || weight.len() != outputs * inputs
            || bias.len() != outputs
        {
            return None;
        }
        let input_max = (i32::MAX as f32 / (inputs as f32 * WEIGHT_MAX))
            .floor()
            .min(f32::from(i16::MAX));
        if input_max < 127.0 {
            return None;
        }
        let mut quantised = vec![0i16; outputs * inputs];
        let mut scales = Vec::with_capacity(outputs);
        for (row, out) in weight
            .chunks_exact(inputs)
            .zip(quantised.chunks_exact_mut(inputs))
        {
            scales.push(quantise_into(row, out, WEIGHT_MAX));
        }
        let steps = inputs / DEPTH;
        let mut packed = vec![0i16; outputs * inputs];
        for block in 0..outputs / BLOCK_COLUMNS {
            for step in 0..steps {
                for column in 0..BLOCK_COLUMNS {
                    let o = block * BLOCK_COLUMNS + column;
                    for d in 0..DEPTH {
                        let at = ((block * steps + step) * BLOCK_COLUMNS + column) * DEPTH + d;
                        packed[at] = quantised[o * inputs + step * DEPTH + d];
                    }
                }
            }
        }
        Some(Int8Linear {
            inputs,
            outputs,
            input_max,
            packed,
            scales,
            bias: bias.to_vec(),
        })
    }

    /// `rows` rows of `inputs` values -> `rows` rows of `outputs` values, GELU (erf)
    /// applied when `gelu`. Only call where `available()`.
    pub fn forward(&self, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.inputs, "input shape");
        #[cfg(target_arch = "x86_64")]
        {
            assert!(available(), "Int8Linear::forward needs AVX-512 VNNI");
            // SAFETY: the CPU has AVX-512F, BW and VNNI (asserted just above); the
            // slices' lengths are the ones the kernel indexes (checked in `new` and above).
            unsafe { vnni::forward(self, x, rows, gelu) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            unreachable!("Int8Linear::forward needs AVX-512 VNNI");
        }
    }

    /// Each row quantised with its own scale. A plain loop: a closure passed to an
    /// iterator adapter is compiled outside the caller's target features (measured:
    /// a libm `roundf` call per value).
    #[inline(always)]
    fn quantise_rows(&self, x: &[f32]) -> (Vec<i16>, Vec<f32>) {
        let mut q = vec![0i16; x.len()];
        let mut scales = Vec::with_capacity(x.len() / self.inputs);
        for (row, out) in x
            .chunks_exact(self.inputs)
            .zip(q.chunks_exact_mut(self.inputs))
        {
            scales.push(quantise_into(row, out, self.input_max));
        }
        (q, scales)
    }

    /// `acc` back to f32: `acc * row scale * weight scale + bias`, then GELU if asked.
    #[inline(always)]
    fn dequantise(&self, acc: &[i32], row_scales: &[f32], gelu: bool) -> Vec<f32> {
        let mut y = vec![0f32; acc.len()];
        for ((row, out), &xs) in acc
            .chunks_exact(self.outputs)
            .zip(y.chunks_exact_mut(self.outputs))
            .zip(row_scales)
        {
            for (((a, o), ws), b) in row
                .iter()
                .zip(out.iter_mut())
                .zip(&self.scales)
                .zip(&self.bias)
            {
                *o = *a as f32 * (xs * ws) + b;
            }
            if gelu {
                out.iter_mut().for_each(|v| *v = gelu_erf(*v));
            }
        }
        y
    }

    /// The same product without SIMD: the integers the kernel must give.
    #[cfg(test)]
    fn reference(&self, x: &[f32], rows: usize) -> Vec<i32> {
        let (q, _) = self.quantise_rows(x);
        let steps = self.inputs / DEPTH;
        let mut acc = vec![0i32; rows * self.outputs];
        for r in 0..rows {
            for o in 0..self.outputs {
                let (block, column) = (o / BLOCK_COLUMNS, o % BLOCK_COLUMNS);
                let mut sum = 0i32;
                for step in 0..steps {
                    for d in 0..DEPTH {
                        let at = ((block * steps + step) * BLOCK_COLUMNS + column) * DEPTH + d;
                        sum += i32::from(q[r * self.inputs + step * DEPTH + d])
                            * i32::from(self.packed[at]);
                    }
                }
                acc[r * self.outputs + o] = sum;
            }
        }
        acc
    }
}

/// Symmetric quantisation of `v` into `out` over -`max`..=`max`; returns the scale
/// (value = q * scale).
#[inline(always)]
fn quantise_into(v: &[f32], out: &mut [i16], max: f32) -> f32 {
    let largest = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if largest == 0.0 || !largest.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let inverse = max / largest;
    for (q, x) in out.iter_mut().zip(v) {
        *q = (x * inverse).round().clamp(-max, max) as i16;
    }
    largest / max
}

/// GELU with the exact (erf) form BERT was trained with: `x/2 * (1 + erf(x/sqrt 2))`.
#[inline(always)]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a rational function of x^2 on [-4, 4] (beyond, erf is +-1 in f32), max
/// absolute error 5e-7 (tested): no `exp`, so it vectorises, unlike libm's erff that
/// took an eighth of the f32 forward pass.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_473_9e-2;
    x * p / q
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Int8Linear, BLOCK_COLUMNS, BLOCK_ROWS, DEPTH, LANES};

    const GROUPS: usize = BLOCK_COLUMNS / LANES;
    /// Fewer rows than this per half are not worth a second core's wake-up.
    const PARALLEL_FROM_ROWS: usize = 8;

    /// The whole layer with AVX-512 enabled, so that the quantising and dequantising
    /// loops (rounding, GELU) vectorise too: built for the baseline x86-64 target they
    /// cost more than the product itself.
    /// Rows are split in two halves computed on two cores where there are enough.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn forward(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        if rows < 2 * PARALLEL_FROM_ROWS {
            return forward_rows(l, x, rows, gelu);
        }
        let half = rows / 2;
        let (top, bottom) = x.split_at(half * l.inputs);
        // Closures inherit the function's target features.
        let (mut y, rest) = rayon::join(
            || forward_rows(l, top, half, gelu),
            || forward_rows(l, bottom, rows - half, gelu),
        );
        y.extend_from_slice(&rest);
        y
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn forward_rows(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        let (q, row_scales) = l.quantise_rows(x);
        let mut acc = vec![0i32; rows * l.outputs];
        matmul(&q, rows, l, &mut acc);
        l.dequantise(&acc, &row_scales, gelu)
    }

    /// `acc[r][o] = sum_k q[r][k] * q_w[o][k]` for every row and output. One block of
    /// 64 outputs at a time, for all rows: its weights stay in cache.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn matmul(q: &[i16], rows: usize, l: &Int8Linear, acc: &mut [i32]) {
        let steps = l.inputs / DEPTH;
        for (b, weights) in l
            .packed
            .chunks_exact(steps * BLOCK_COLUMNS * DEPTH)
            .enumerate()
        {
            let mut r = 0;
            while r < rows {
                match rows - r {
                    1 => block::<1>(q, r, b, weights, l, acc),
                    2 => block::<2>(q, r, b, weights, l, acc),
                    3 => block::<3>(q, r, b, weights, l, acc),
                    _ => block::<BLOCK_ROWS>(q, r, b, weights, l, acc),
                }
                r += BLOCK_ROWS.min(rows - r);
            }
        }
    }

    /// Rows `first..first + R` against the 64 outputs of block `b` (its packed
    /// `weights`): R x 4 accumulators of 16 outputs, each weight vector loaded once
    /// per R rows.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn block<const R: usize>(
        q: &[i16],
        first: usize,
        b: usize,
        weights: &[i16],
        l: &Int8Linear,
        acc: &mut [i32],
    ) {
        let rows = &q[first * l.inputs..(first + R) * l.inputs];
        let mut sums = [[_mm512_setzero_si512(); GROUPS]; R];
        for (step, w) in weights.chunks_exact(BLOCK_COLUMNS * DEPTH).enumerate() {
            // SAFETY: `w` holds GROUPS vectors of 32 i16; unaligned loads.
            let w: [__m512i; GROUPS] = std::array::from_fn(|g| unsafe {
                _mm512_loadu_si512(w.as_ptr().add(g * LANES * DEPTH).cast())
            });
            for (r, sum) in sums.iter_mut().enumerate() {
                let at = r * l.inputs + step * DEPTH;
                debug_assert!(at + DEPTH <= rows.len());
                // SAFETY: r < R and step < inputs / 2, so the two i16 are in `rows`;
                // one unaligned load, broadcast to the 16 lanes.
                let pair = unsafe { rows.as_ptr().add(at).cast::<i32>().read_unaligned() };
                let x = _mm512_set1_epi32(pair);
                for g in 0..GROUPS {
                    sum[g] = _mm512_dpwssd_epi32(sum[g], x, w[g]);
                }
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            for (g, s) in sum.iter().enumerate() {
                let at = (first + r) * l.outputs + b * BLOCK_COLUMNS + g * LANES;
                let dst = &mut acc[at..at + LANES];
                // SAFETY: `dst` holds 16 i32; unaligned store.
                unsafe { _mm512_storeu_si512(dst.as_mut_ptr().cast(), *s) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32, amplitude: f32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 2.0 * amplitude
            })
            .collect()
    }

    #[test]
    fn erf_is_within_5e_7_of_the_series() {
        let mut worst = 0f64;
        for i in -100_000..=100_000 {
            let x = i as f32 / 10_000.0;
            worst = worst.max((f64::from(erf(x)) - erf_oracle(f64::from(x))).abs());
        }
        assert!(worst < 5e-7, "max error {worst}");
        assert_eq!(gelu_erf(0.0), 0.0);
        assert!((gelu_erf(1.0) - 0.841_344_7).abs() < 1e-6);
    }

    /// erf by its Taylor series (|x| < 3) or its continued fraction, in f64.
    fn erf_oracle(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let (mut term, mut sum, mut n) = (x, x, 0.0);
            while term.abs() > 1e-17 {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            return sum * 2.0 / std::f64::consts::PI.sqrt();
        }
        let t = x.abs();
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = f64::from(k) / 2.0 / (t + f);
        }
        let erfc = (-t * t).exp() / std::f64::consts::PI.sqrt() / (t + f);
        (1.0 - erfc).copysign(x)
    }

    #[test]
    fn shapes_outside_the_blocks_are_refused() {
        assert!(Int8Linear::new(&[0.0; 64 * 5], &[0.0; 64], 64, 5).is_none());
        assert!(Int8Linear::new(&[0.0; 48 * 8], &[0.0; 48], 48, 8).is_none());
        assert!(Int8Linear::new(&[0.0; 64 * 8], &[0.0; 63], 64, 8).is_none());
        assert!(Int8Linear::new(&[0.0; 64 * 8], &[0.0; 64], 64, 8).is_some());
    }

    /// The widest input BERT has (1536) keeps the sum inside i32 at full scale.
    #[test]
    fn the_input_range_cannot_overflow() {
        let inputs = 1536;
        let l = Int8Linear::new(&vec![1.0; 64 * inputs], &[0.0; 64], 64, inputs).unwrap();
        assert!(f64::from(l.input_max) * 127.0 * inputs as f64 <= f64::from(i32::MAX));
        assert!(l.input_max >= 8191.0, "{}", l.input_max);
        if available() {
            let y = l.forward(&vec![-1.0; 3 * inputs], 3, false);
            assert!(y
                .iter()
                .all(|v| (v + inputs as f32).abs() < 1e-3 * inputs as f32));
        }
    }

    /// The kernel's integer sums equal the plain loop's for every row count (the
    /// 4-row blocks and the 1-3-row tails), and the dequantised result is the f32
    /// product within the weights' rounding.
    #[test]
    fn the_kernel_equals_the_plain_product() {
        if !available() {
            eprintln!("no AVX-512 VNNI here: the f32 path runs instead; nothing to compare");
            return;
        }
        let (outputs, inputs) = (128, 384);
        let w = noise(outputs * inputs, 1, 0.2);
        let b = noise(outputs, 2, 0.5);
        let l = Int8Linear::new(&w, &b, outputs, inputs).unwrap();
        for rows in [1, 2, 3, 4, 5, 7, 50] {
            let x = noise(rows * inputs, 3 + rows as u32, 3.0);
            let (q, scales) = l.quantise_rows(&x);
            let mut acc = vec![0i32; rows * outputs];
            unsafe { vnni::matmul(&q, rows, &l, &mut acc) };
            assert_eq!(acc, l.reference(&x, rows), "rows {rows}");
            let y = l.forward(&x, rows, false);
            let plain = l.dequantise(&acc, &scales, false);
            for (a, b) in y.iter().zip(&plain) {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
            }
            for r in 0..rows {
                for o in 0..outputs {
                    let exact: f32 = (0..inputs)
                        .map(|k| x[r * inputs + k] * w[o * inputs + k])
                        .sum::<f32>()
                        + b[o];
                    let got = y[r * outputs + o];
                    // The weights' rounding: ~0.01 rms here (384 terms of +-3 x +-0.2).
                    assert!(
                        (got - exact).abs() < 0.06,
                        "row {r} out {o}: {got} vs {exact}"
                    );
                }
            }
        }
    }
}
