//! The int8 layers' integer product on AMX tiles (Sapphire Rapids and later): the same
//! integers as the AVX-512 VNNI kernel, about a tenth of its time.
//!
//! A tile multiply-add (`tdpbssd`) computes a 16 x 16 block of sums over 64 inputs in
//! one instruction. AMX multiplies bytes only, so each 16-bit input is split into a
//! signed high byte and an unsigned low byte (x = hi * 256 + lo) and both halves are
//! multiplied by the int8 weights (`tdpbssd`, `tdpbusd`); `hi_sum * 256 + lo_sum` is the
//! exact 16 x 8-bit sum, which `Int8Linear` keeps inside i32 by its input range.
//!
//! Rust's AMX intrinsics are not stable, so the kernel is inline assembly. Linux gives a
//! process the tile registers only after it asks (`arch_prctl`), which `available` does.

use std::arch::asm;
use std::sync::OnceLock;

/// A tile: 16 rows of 64 bytes. Inputs: 16 rows x 64 int8. Weights: 16 groups of 4
/// inputs x 16 outputs (the layout `tdpbssd` reads). Sums: 16 rows x 16 i32.
pub(super) const TILE_ROWS: usize = 16;
pub(super) const TILE_INPUTS: usize = 64;
pub(super) const TILE_OUTPUTS: usize = 16;
const TILE_BYTES: usize = 1024;
/// Outputs per kernel call: two weight tiles share each input tile load.
pub(super) const BLOCK_OUTPUTS: usize = 2 * TILE_OUTPUTS;

/// Whether this CPU has AMX-INT8 and the kernel lets this process use it.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

fn detect() -> bool {
    // CPUID leaf 7: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
    #[allow(unused_unsafe)]
    // SAFETY: CPUID leaf 7 exists on every x86-64 CPU with AVX-512, the only callers.
    let leaf = unsafe { std::arch::x86_64::__cpuid_count(7, 0) };
    if leaf.edx & (0b11 << 24) != 0b11 << 24 {
        return false;
    }
    // Linux (5.16+) keeps the tile data out of a process's saved state until the
    // process asks for it; a tile instruction before that is killed with SIGILL.
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with an integer argument; it changes no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        ) == 0
    }
}

/// Whether `[outputs, inputs]` fits the tiles.
pub(super) fn fits(outputs: usize, inputs: usize) -> bool {
    inputs > 0
        && inputs.is_multiple_of(TILE_INPUTS)
        && outputs > 0
        && outputs.is_multiple_of(BLOCK_OUTPUTS)
}

/// Row-major `[outputs, inputs]` int8 weights -> weight tiles: for each 16 outputs, for
/// each 64 inputs, one tile whose row g holds, for each of the 16 outputs, inputs
/// 4g..4g+4.
pub(super) fn pack(quantised: &[i16], outputs: usize, inputs: usize) -> Vec<i8> {
    let blocks = inputs / TILE_INPUTS;
    let mut packed = vec![0i8; outputs * inputs];
    for o in 0..outputs {
        let (tile_column, n) = (o / TILE_OUTPUTS, o % TILE_OUTPUTS);
        for k in 0..inputs {
            let (block, within) = (k / TILE_INPUTS, k % TILE_INPUTS);
            let at = (tile_column * blocks + block) * TILE_BYTES
                + (within / 4) * 64
                + n * 4
                + within % 4;
            // Weights are in -127..=127 (quantise_into).
            packed[at] = quantised[o * inputs + k] as i8;
        }
    }
    packed
}

/// The tile configuration: palette 1, all eight tiles 16 rows of 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn all_full() -> TileConfig {
        let mut c = [0u8; 64];
        c[0] = 1;
        for t in 0..8 {
            c[16 + 2 * t] = 64;
            c[48 + t] = TILE_ROWS as u8;
        }
        TileConfig(c)
    }
}

/// `acc[r][o] = sum_k q[r][k] * w[o][k]` for `rows` rows of `inputs` 16-bit values and
/// the packed weight tiles of `outputs` outputs. Only call where `available()`.
/// AVX-512 for the loops around the tiles (splitting the input, adding the halves).
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn matmul(
    q: &[i16],
    rows: usize,
    inputs: usize,
    outputs: usize,
    packed: &[i8],
    acc: &mut [i32],
) {
    assert!(fits(outputs, inputs), "shape {outputs}x{inputs}");
    assert_eq!(q.len(), rows * inputs, "input shape");
    assert_eq!(packed.len(), outputs * inputs, "weight shape");
    assert_eq!(acc.len(), rows * outputs, "output shape");
    // The input's two bytes, rows padded with zeros to whole tiles.
    let padded = rows.div_ceil(TILE_ROWS) * TILE_ROWS;
    let mut high = vec![0i8; padded * inputs];
    let mut low = vec![0u8; padded * inputs];
    for ((v, h), l) in q.iter().zip(&mut high).zip(&mut low) {
        *h = (v >> 8) as i8;
        *l = *v as u8;
    }
    let blocks = inputs / TILE_INPUTS;
    let tile_stride = blocks * TILE_BYTES;
    let config = TileConfig::all_full();
    // tmm0/tmm1: high-byte sums of the two output tiles, tmm2/tmm3: low-byte sums;
    // tmm4/tmm5: the input tile's high and low bytes; tmm6/tmm7: the two weight tiles.
    let mut sums = [0i32; 4 * TILE_ROWS * TILE_OUTPUTS];
    // SAFETY: the CPU has AMX and the process may use it (`available`, the caller's
    // contract); the configuration is 64 readable bytes.
    unsafe { asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
    // Weight tiles outer: a pair's tiles stay in L1 while every input tile passes.
    for block in 0..outputs / BLOCK_OUTPUTS {
        for first_row in (0..padded).step_by(TILE_ROWS) {
            let input_at = first_row * inputs;
            let weight_at = 2 * block * tile_stride;
            // SAFETY: every tile load reads 16 rows of 64 bytes: the input tiles from
            // rows first_row..first_row + 16 of `high`/`low` (padded, row stride
            // `inputs`), the weight tiles from `packed` (two tile columns of `blocks`
            // tiles each), all in bounds; the stores write 4 KiB into `sums`.
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "tileloadd tmm4, [{high} + {row_stride}*1]",
                    "tileloadd tmm5, [{low} + {row_stride}*1]",
                    "tileloadd tmm6, [{w0} + {tile_row}*1]",
                    "tileloadd tmm7, [{w1} + {tile_row}*1]",
                    "tdpbssd tmm0, tmm4, tmm6",
                    "tdpbssd tmm1, tmm4, tmm7",
                    "tdpbusd tmm2, tmm5, tmm6",
                    "tdpbusd tmm3, tmm5, tmm7",
                    "add {high}, 64",
                    "add {low}, 64",
                    "add {w0}, 1024",
                    "add {w1}, 1024",
                    "dec {n}",
                    "jnz 2b",
                    "tilestored [{out} + {tile_row}*1], tmm0",
                    "add {out}, 1024",
                    "tilestored [{out} + {tile_row}*1], tmm1",
                    "add {out}, 1024",
                    "tilestored [{out} + {tile_row}*1], tmm2",
                    "add {out}, 1024",
                    "tilestored [{out} + {tile_row}*1], tmm3",
                    high = inout(reg) high.as_ptr().add(input_at) => _,
                    low = inout(reg) low.as_ptr().add(input_at) => _,
                    w0 = inout(reg) packed.as_ptr().add(weight_at) => _,
                    w1 = inout(reg) packed.as_ptr().add(weight_at + tile_stride) => _,
                    n = inout(reg) blocks => _,
                    out = inout(reg) sums.as_mut_ptr() => _,
                    row_stride = in(reg) inputs,
                    tile_row = in(reg) 64usize,
                    options(nostack),
                );
            }
            let tile = TILE_ROWS * TILE_OUTPUTS;
            for r in 0..TILE_ROWS.min(rows - first_row) {
                let row = &mut acc[(first_row + r) * outputs + block * BLOCK_OUTPUTS..];
                for half in 0..2 {
                    for n in 0..TILE_OUTPUTS {
                        let at = half * tile + r * TILE_OUTPUTS + n;
                        row[half * TILE_OUTPUTS + n] =
                            sums[at].wrapping_mul(256).wrapping_add(sums[2 * tile + at]);
                    }
                }
            }
        }
    }
    // SAFETY: releases the tile state configured above.
    unsafe { asm!("tilerelease", options(nostack, nomem)) };
}
