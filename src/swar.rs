//! Eight bytes at a time in a `u64` (the module's wasm has no SIMD): a byte class is the
//! high bit of each byte that belongs to it. The scanners cross long texts this way.

pub const LO: u64 = 0x0101_0101_0101_0101;
pub const HI: u64 = 0x8080_8080_8080_8080;

/// The first eight bytes of `c` (at least eight), little-endian.
#[inline(always)]
pub fn chunk(c: &[u8]) -> u64 {
    u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
}

/// Eight bytes of `b` from `i`, little-endian, if there are eight.
#[inline(always)]
pub fn load8(b: &[u8], i: usize) -> Option<u64> {
    Some(chunk(b.get(i..i + 8)?))
}

/// The high bit of each byte of `x` that equals `c`.
#[inline(always)]
pub fn bytes_equal(x: u64, c: u8) -> u64 {
    let y = x ^ (LO * u64::from(c));
    // A byte's high bit ends up set iff the byte is not zero; no carries between bytes.
    !(((y & !HI) + !HI) | y) & HI
}

/// The high bit of each byte of `x` in `lo..=hi` (both below 0x80).
#[inline(always)]
pub fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    // Only the low seven bits are added, so no carry crosses into the next byte.
    let y = x & !HI;
    y.wrapping_add(LO * u64::from(0x80 - lo)) & !y.wrapping_add(LO * u64::from(0x7f - hi)) & !x & HI
}

/// The high bit of each byte of `m` gathered into the low eight bits.
#[inline(always)]
pub fn movemask(m: u64) -> u64 {
    // Byte k's bit lands on bit 56 + k; no two partial products overlap.
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Where the first `a` byte of `hay` is, eight bytes at a time.
pub fn find_byte(hay: &[u8], a: u8) -> Option<usize> {
    let mut chunks = hay.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let m = bytes_equal(chunk(c), a);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == a)
        .map(|k| i + k)
}

/// Where `needle` first occurs in `hay`: `find_byte` for its first byte, then a compare.
pub fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match find_byte(&hay[i..hay.len() - needle.len() + 1], first) {
            Some(o) => {
                i += o;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every class agrees with a byte-by-byte check, for every byte value in every lane.
    #[test]
    fn classes_are_exact_in_every_lane() {
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut bytes = [b'm'; 8];
                bytes[lane] = b;
                let x = chunk(&bytes);
                let bit = |m: u64| m >> (8 * lane + 7) & 1 == 1;
                assert_eq!(bit(bytes_equal(x, b'J')), b == b'J');
                assert_eq!(bit(in_range(x, b'0', b'9')), b.is_ascii_digit());
                assert_eq!(bit(in_range(x, 0, b',')), b <= b',');
                assert_eq!(movemask(bytes_equal(x, b)) >> lane & 1, 1);
            }
        }
    }
}
