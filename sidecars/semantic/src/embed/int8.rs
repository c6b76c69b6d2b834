//! The encoder's dense layers with int8 weights, on CPUs with AVX-512 VNNI (and on
//! AMX tiles where the CPU has them: src/embed/int8/amx.rs), or with AVX2 alone
//! (`vpmaddwd`, 16 products per instruction against VNNI's 32): the same integers.
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

#[cfg(target_arch = "x86_64")]
mod amx;

/// Output columns per vector (16 lanes of i32) and input values per lane (2 x i16).
const LANES: usize = 16;
const DEPTH: usize = 2;
/// Columns one kernel step computes (4 vectors) and rows it shares each weight load with.
const BLOCK_COLUMNS: usize = 64;
const BLOCK_ROWS: usize = 4;
/// The weights' range: q in -127..=127.
const WEIGHT_MAX: f32 = 127.0;

/// Which instructions compute the integer product. Both give the same integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 VNNI: 32 products per instruction.
    Vnni,
    /// AMX tiles: 16 x 16 x 64 products per instruction (two per 16-bit input).
    Amx,
    /// AVX2: 16 products per instruction (`vpmaddwd`, then `vpaddd`), on the VNNI
    /// kernel's packing. For x86-64 CPUs without AVX-512 (many AMD EPYC).
    Avx2,
}

impl Kernel {
    /// The kernels this CPU runs, fastest first.
    pub fn here() -> Vec<Kernel> {
        [Kernel::Amx, Kernel::Vnni, Kernel::Avx2]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect()
    }

    /// The fastest kernel this CPU runs, if any.
    pub fn best() -> Option<Kernel> {
        Kernel::here().first().copied()
    }

    /// Whether this CPU runs this kernel.
    pub fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Kernel::Vnni => vnni_available(),
                Kernel::Amx => vnni_available() && amx::available(),
                Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Vnni => "vnni",
            Kernel::Amx => "amx",
            Kernel::Avx2 => "avx2",
        }
    }
}

/// Whether this CPU has AVX-512 VNNI (AMX CPUs have it too).
fn vnni_available() -> bool {
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

/// The quantised weights in the order their kernel reads them.
enum Packed {
    /// For each block of 64 outputs, for each 2 inputs, 4 vectors of 16 outputs x 2
    /// inputs.
    Vnni(Vec<i16>),
    /// Tiles (src/embed/int8/amx.rs).
    Amx(Vec<i8>),
    /// As `Vnni`, read 8 outputs x 2 inputs per vector.
    Avx2(Vec<i16>),
}

/// `y = x W^T + b` (optionally followed by GELU) with W in int8.
pub struct Int8Linear {
    inputs: usize,
    outputs: usize,
    /// The inputs' range: the largest magnitude whose products, summed over all
    /// inputs, cannot overflow i32 (`vpdpwssd` wraps).
    input_max: f32,
    packed: Packed,
    /// Per output: its row's scale.
    scales: Vec<f32>,
    bias: Vec<f32>,
}

impl Int8Linear {
    /// From a row-major `[outputs, inputs]` weight and its bias, for `kernel` (whether
    /// the CPU runs it is checked at `forward`); `None` where the shape does not fit its
    /// blocks (VNNI: inputs even, outputs a multiple of 64; AMX: inputs a multiple of 64,
    /// outputs of 32; BERT's 384, 1152 and 1536 fit both).
    pub fn with_kernel(
        weight: &[f32],
        bias: &[f32],
        outputs: usize,
        inputs: usize,
        kernel: Kernel,
    ) -> Option<Int8Linear> {
        let fits = match kernel {
            Kernel::Vnni | Kernel::Avx2 => {
                inputs > 0
                    && inputs.is_multiple_of(DEPTH)
                    && outputs > 0
                    && outputs.is_multiple_of(BLOCK_COLUMNS)
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Amx => amx::fits(outputs, inputs),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Amx => false,
        };
        if !fits || weight.len() != outputs * inputs || bias.len() != outputs {
            return None;
        }
        let input_max = (i32::MAX as f32 / (inputs as f32 * WEIGHT_MAX))
            .floor()
            .min(f32::from(i16::MAX));
        if input_max < 127.0 {
            return None;
        }
        let (quantised, scales) = quantise_weights(weight, inputs);
        let packed = match kernel {
            Kernel::Vnni => Packed::Vnni(pack_vnni(&quantised, outputs, inputs)),
            Kernel::Avx2 => Packed::Avx2(pack_vnni(&quantised, outputs, inputs)),
            #[cfg(target_arch = "x86_64")]
            Kernel::Amx => Packed::Amx(amx::pack(&quantised, outputs, inputs)),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Amx => unreachable!("AMX fits nothing off x86-64"),
        };
        Some(Int8Linear {
            inputs,
            outputs,
            input_max,
            packed,
            scales,
            bias: bias.to_vec(),
        })
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn kernel(&self) -> Kernel {
        match self.packed {
            Packed::Vnni(_) => Kernel::Vnni,
            Packed::Amx(_) => Kernel::Amx,
            Packed::Avx2(_) => Kernel::Avx2,
        }
    }

    /// `rows` rows of `inputs` values -> `rows` rows of `outputs` values, GELU (erf)
    /// applied when `gelu`. Panics where the CPU does not run the kernel.
    pub fn forward(&self, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.inputs, "input shape");
        #[cfg(target_arch = "x86_64")]
        {
            let kernel = self.kernel();
            assert!(
                kernel.runs_here(),
                "this Int8Linear needs {}",
                kernel.name()
            );
            if kernel == Kernel::Avx2 {
                // SAFETY: the CPU has AVX2 (asserted just above); the slices' lengths
                // are the ones the kernel indexes (checked in `with_kernel` and above).
                return unsafe { avx2::forward(self, x, rows, gelu) };
            }
            // SAFETY: the CPU has AVX-512F, BW and VNNI (and AMX for AMX weights),
            // asserted just above; lengths as above.
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

    /// The same product without SIMD, from the unpacked `weight` this layer was made
    /// of: the integers every kernel must give.
    #[cfg(test)]
    fn reference(&self, weight: &[f32], x: &[f32], rows: usize) -> Vec<i32> {
        let (q, _) = self.quantise_rows(x);
        let (w, _) = quantise_weights(weight, self.inputs);
        let mut acc = vec![0i32; rows * self.outputs];
        for r in 0..rows {
            for o in 0..self.outputs {
                let mut sum = 0i32;
                for k in 0..self.inputs {
                    sum += i32::from(q[r * self.inputs + k]) * i32::from(w[o * self.inputs + k]);
                }
                acc[r * self.outputs + o] = sum;
            }
        }
        acc
    }
}

/// Row-major weights quantised per output row into -127..=127, and each row's scale.
fn quantise_weights(weight: &[f32], inputs: usize) -> (Vec<i16>, Vec<f32>) {
    let mut quantised = vec![0i16; weight.len()];
    let mut scales = Vec::with_capacity(weight.len() / inputs);
    for (row, out) in weight
        .chunks_exact(inputs)
        .zip(quantised.chunks_exact_mut(inputs))
    {
        scales.push(quantise_into(row, out, WEIGHT_MAX));
    }
    (quantised, scales)
}

/// The VNNI kernel's order: for each block of 64 outputs, for each 2 inputs, 4 vectors
/// of 16 outputs x 2 inputs.
fn pack_vnni(quantised: &[i16], outputs: usize, inputs: usize) -> Vec<i16> {
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
    packed
}

/// Symmetric quantisation of `v` into `out` over -`max`..=`max`; returns the scale
/// (value = q * scale).
#[inline(always)]
fn quantise_into(v: &[f32], out: &mut [i16], max: f32) -> f32 {
    // Sixteen running maxima: one chain of f32 max does not vectorise (its order is
    // fixed), sixteen independent ones do.
    let mut lanes = [0f32; 16];
    let (chunks, rest) = v.as_chunks::<16>();
    for chunk in chunks {
        for j in 0..16 {
            lanes[j] = lanes[j].max(chunk[j].abs());
        }
    }
    let mut largest = 0f32;
    for x in lanes.iter().chain(rest) {
        largest = largest.max(x.abs());
    }
    if largest == 0.0 || !largest.is_finite() {
        out.fill(0);
        return 0.0;
    }
    let inverse = max / largest;
    // Ties to even: one rounding instruction (`round` is ties away from zero, a
    // sequence of several). `as i16` saturates and maps NaN to 0, which does not
    // vectorise; f32::max returns its other argument for a NaN, so `y` is a finite
    // integer within +-max (< 2^15) and the plain conversion is exact.
    for (q, x) in out.iter_mut().zip(v) {
        let y = (x * inverse).round_ties_even().max(-max).min(max);
        // SAFETY: `y` is finite and within i32 (above).
        *q = unsafe { y.to_int_unchecked::<i32>() } as i16;
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

/// Fewer rows than this per half are not worth a second core's wake-up.
const PARALLEL_FROM_ROWS: usize = 8;

/// `layer(x, rows)` on all rows, or on two halves on two cores where there are enough.
/// Inlined into each kernel's `forward`, so its closure keeps that kernel's features.
#[inline(always)]
fn in_halves(
    l: &Int8Linear,
    x: &[f32],
    rows: usize,
    layer: impl Fn(&[f32], usize) -> Vec<f32> + Sync,
) -> Vec<f32> {
    if rows < 2 * PARALLEL_FROM_ROWS {
        return layer(x, rows);
    }
    let half = rows / 2;
    let (top, bottom) = x.split_at(half * l.inputs);
    let (mut y, rest) = rayon::join(|| layer(top, half), || layer(bottom, rows - half));
    y.extend_from_slice(&rest);
    y
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Int8Linear, Packed, BLOCK_COLUMNS, BLOCK_ROWS, DEPTH, LANES};

    const GROUPS: usize = BLOCK_COLUMNS / LANES;

    /// The whole layer with AVX-512 enabled, so that the quantising and dequantising
    /// loops (rounding, GELU) vectorise too: built for the baseline x86-64 target they
    /// cost more than the product itself.
    /// VNNI layers split their rows in two halves computed on two cores where there are
    /// enough; AMX layers run on one (measured faster: the halves each pad to whole
    /// tiles, and a batch already spreads its texts over the cores).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn forward(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        if matches!(l.packed, Packed::Amx(_)) {
            return forward_rows(l, x, rows, gelu);
        }
        // The closure inherits this function's target features.
        super::in_halves(l, x, rows, |x, rows| forward_rows(l, x, rows, gelu))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn forward_rows(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        let (q, row_scales) = l.quantise_rows(x);
        let acc = integer_product(l, &q, rows);
        l.dequantise(&acc, &row_scales, gelu)
    }

    /// `q` (rows of 16-bit inputs) times the layer's int8 weights, by its kernel.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn integer_product(l: &Int8Linear, q: &[i16], rows: usize) -> Vec<i32> {
        let mut acc = vec![0i32; rows * l.outputs];
        match &l.packed {
            Packed::Vnni(weights) => matmul(q, rows, l, weights, &mut acc),
            Packed::Amx(weights) => {
                super::amx::matmul(q, rows, l.inputs, l.outputs, weights, &mut acc)
            }
            Packed::Avx2(_) => unreachable!("AVX2 weights go to avx2::integer_product"),
        }
        acc
    }

    /// `acc[r][o] = sum_k q[r][k] * q_w[o][k]` for every row and output. One block of
    /// 64 outputs at a time, for all rows: its weights stay in cache.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn matmul(q: &[i16], rows: usize, l: &Int8Linear, packed: &[i16], acc: &mut [i32]) {
        let steps = l.inputs / DEPTH;
        for (b, weights) in packed
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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Int8Linear, Packed, BLOCK_COLUMNS, DEPTH};

    /// Outputs per vector (8 lanes of i32), and vectors per half block of 64 outputs:
    /// R rows x 4 accumulators + 4 weights fit AVX2's 16 registers for R <= 2.
    const LANES: usize = 8;
    const HALF: usize = BLOCK_COLUMNS / 2;
    const GROUPS: usize = HALF / LANES;
    const BLOCK_ROWS: usize = 2;

    /// The whole layer with AVX2 enabled (quantising, dequantising and GELU too), rows
    /// split over two cores where there are enough.
    #[target_feature(enable = "avx2")]
    pub(super) fn forward(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        // The closure inherits this function's target features.
        super::in_halves(l, x, rows, |x, rows| forward_rows(l, x, rows, gelu))
    }

    #[target_feature(enable = "avx2")]
    fn forward_rows(l: &Int8Linear, x: &[f32], rows: usize, gelu: bool) -> Vec<f32> {
        let (q, row_scales) = l.quantise_rows(x);
        let acc = integer_product(l, &q, rows);
        l.dequantise(&acc, &row_scales, gelu)
    }

    /// `acc[r][o] = sum_k q[r][k] * q_w[o][k]`, one block of 64 outputs at a time (its
    /// weights stay in cache), each in two halves of 32.
    #[target_feature(enable = "avx2")]
    pub(super) fn integer_product(l: &Int8Linear, q: &[i16], rows: usize) -> Vec<i32> {
        let Packed::Avx2(packed) = &l.packed else {
            unreachable!("only AVX2 weights come here");
        };
        let mut acc = vec![0i32; rows * l.outputs];
        let steps = l.inputs / DEPTH;
        for (b, weights) in packed
            .chunks_exact(steps * BLOCK_COLUMNS * DEPTH)
            .enumerate()
        {
            for half in 0..2 {
                let mut r = 0;
                while r < rows {
                    if rows - r == 1 {
                        block::<1>(q, r, b, half, weights, l, &mut acc);
                    } else {
                        block::<BLOCK_ROWS>(q, r, b, half, weights, l, &mut acc);
                    }
                    r += BLOCK_ROWS.min(rows - r);
                }
            }
        }
        acc
    }

    /// Rows `first..first + R` against outputs `half * 32..half * 32 + 32` of block `b`.
    #[target_feature(enable = "avx2")]
    fn block<const R: usize>(
        q: &[i16],
        first: usize,
        b: usize,
        half: usize,
        weights: &[i16],
        l: &Int8Linear,
        acc: &mut [i32],
    ) {
        let rows = &q[first * l.inputs..(first + R) * l.inputs];
        let mut sums = [[_mm256_setzero_si256(); GROUPS]; R];
        for (step, w) in weights.chunks_exact(BLOCK_COLUMNS * DEPTH).enumerate() {
            let w = &w[half * HALF * DEPTH..(half + 1) * HALF * DEPTH];
            // SAFETY: `w` holds GROUPS vectors of 16 i16; unaligned loads.
            let w: [__m256i; GROUPS] = std::array::from_fn(|g| unsafe {
                _mm256_loadu_si256(w.as_ptr().add(g * LANES * DEPTH).cast())
            });
            for (r, sum) in sums.iter_mut().enumerate() {
                let at = r * l.inputs + step * DEPTH;
                debug_assert!(at + DEPTH <= rows.len());
                // SAFETY: r < R and step < inputs / 2, so the two i16 are in `rows`;
                // one unaligned load, broadcast to the 8 lanes.
                let pair = unsafe { rows.as_ptr().add(at).cast::<i32>().read_unaligned() };
                let x = _mm256_set1_epi32(pair);
                for g in 0..GROUPS {
                    sum[g] = _mm256_add_epi32(sum[g], _mm256_madd_epi16(x, w[g]));
                }
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            for (g, s) in sum.iter().enumerate() {
                let at = (first + r) * l.outputs + b * BLOCK_COLUMNS + half * HALF + g * LANES;
                let dst = &mut acc[at..at + LANES];
                // SAFETY: `dst` holds 8 i32; unaligned store.
                unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), *s) };
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
        let vnni = |o: usize, i: usize, b: usize| {
            Int8Linear::with_kernel(&vec![0.0; o * i], &vec![0.0; b], o, i, Kernel::Vnni)
        };
        assert!(vnni(64, 5, 64).is_none());
        assert!(vnni(48, 8, 48).is_none());
        assert!(vnni(64, 8, 63).is_none());
        assert!(vnni(64, 8, 64).is_some());
        let amx = |o: usize, i: usize| {
            Int8Linear::with_kernel(&vec![0.0; o * i], &vec![0.0; o], o, i, Kernel::Amx)
        };
        assert!(amx(32, 8).is_none());
        assert!(amx(48, 64).is_none());
        assert_eq!(amx(32, 64).is_some(), cfg!(target_arch = "x86_64"));
        assert_eq!(amx(96, 1536).is_some(), cfg!(target_arch = "x86_64"));
    }

    fn kernels_here() -> Vec<Kernel> {
        let kernels = Kernel::here();
        if kernels.is_empty() {
            eprintln!(
                "no AVX2 or AVX-512 VNNI here: the f32 path runs instead; nothing to compare"
            );
        }
        kernels
    }

    /// The widest input BERT has (1536) keeps the sum inside i32 at full scale, in
    /// every kernel (AMX adds 256 x a high-byte sum to a low-byte sum).
    #[test]
    fn the_input_range_cannot_overflow() {
        let inputs = 1536;
        let w = vec![1.0; 64 * inputs];
        let l = Int8Linear::with_kernel(&w, &[0.0; 64], 64, inputs, Kernel::Vnni).unwrap();
        assert!(f64::from(l.input_max) * 127.0 * inputs as f64 <= f64::from(i32::MAX));
        assert!(l.input_max >= 8191.0, "{}", l.input_max);
        for kernel in kernels_here() {
            let l = Int8Linear::with_kernel(&w, &[0.0; 64], 64, inputs, kernel).unwrap();
            for sign in [-1.0, 1.0] {
                let y = l.forward(&vec![sign; 3 * inputs], 3, false);
                assert!(
                    y.iter()
                        .all(|v| (v - sign * inputs as f32).abs() < 1e-3 * inputs as f32),
                    "{kernel:?} {sign}: {}",
                    y[0]
                );
            }
        }
    }

    /// Every kernel's integer sums equal the plain loop's for every row count (VNNI's
    /// 4-row blocks and 1-3-row tails, AMX's 16-row tiles and padding), and the
    /// dequantised result is the f32 product within the weights' rounding.
    #[test]
    fn every_kernel_equals_the_plain_product() {
        for kernel in kernels_here() {
            for (outputs, inputs) in [(128, 384), (64, 1536)] {
                let w = noise(outputs * inputs, 1, 0.2);
                let b = noise(outputs, 2, 0.5);
                let l = Int8Linear::with_kernel(&w, &b, outputs, inputs, kernel).unwrap();
                assert_eq!(l.kernel(), kernel);
                for rows in [1, 2, 3, 4, 5, 7, 15, 16, 17, 50] {
                    let x = noise(rows * inputs, 3 + rows as u32, 3.0);
                    let (q, scales) = l.quantise_rows(&x);
                    let acc = if kernel == Kernel::Avx2 {
                        unsafe { avx2::integer_product(&l, &q, rows) }
                    } else {
                        unsafe { vnni::integer_product(&l, &q, rows) }
                    };
                    assert_eq!(acc, l.reference(&w, &x, rows), "{kernel:?} rows {rows}");
                    let y = l.forward(&x, rows, false);
                    let plain = l.dequantise(&acc, &scales, false);
                    for (a, b) in y.iter().zip(&plain) {
                        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
                    }
                    if inputs > 384 {
                        continue;
                    }
                    for r in 0..rows {
                        for o in 0..outputs {
                            let exact: f32 = (0..inputs)
                                .map(|k| x[r * inputs + k] * w[o * inputs + k])
                                .sum::<f32>()
                                + b[o];
                            let got = y[r * outputs + o];
                            // The weights' rounding: ~0.016 rms (384 terms of +-3 x +-0.2);
                            // 0.1 is six of it, over ~13k values.
                            assert!(
                                (got - exact).abs() < 0.1,
                                "row {r} out {o}: {got} vs {exact}"
                            );
                        }
                    }
                }
            }
        }
    }
}
