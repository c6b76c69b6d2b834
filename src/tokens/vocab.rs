//! An encoding's vocabulary, token bytes -> rank, kept compact.
//!
//! The data files (`data/<encoding>.bin`) hold tiktoken's tokens in rank order: a u32 LE
//! count `n`, `n` token lengths (one byte each, tokens are at most 128 bytes), then all
//! token bytes back to back. They are written by `scripts/make-vocab.sh` from
//! tiktoken-rs's tables, and the test `vocab_files_equal_tiktoken` proves them equal.
//!
//! In memory: the token bytes stay where the module's data segment put them; we add one
//! u32 offset per token and an open-addressing table of u32 slots (`tag << 18 | rank`,
//! load factor <= 0.4), built when the VM starts (a few ms).

/// Rank bits in a slot; o200k_base has 199,998 ranks (< 2^18).
const RANK_BITS: u32 = 18;
const RANK_MASK: u32 = (1 << RANK_BITS) - 1;
/// Hash bits kept in a slot so most misses never touch the token bytes.
const TAG_BITS: u32 = 32 - RANK_BITS;
const EMPTY: u32 = u32::MAX;

pub struct Vocab {
    bytes: &'static [u8],
    /// `offsets[r]..offsets[r + 1]` are the bytes of rank `r` in `bytes`.
    offsets: Box<[u32]>,
    slots: Box<[u32]>,
    /// 64 - log2(slots.len()).
    shift: u32,
}

const K: u64 = 0xf135_7aea_2e62_a9c5;

#[inline(always)]
fn hash(piece: &[u8]) -> u64 {
    let mut h = piece.len() as u64;
    let mut rest = piece;
    while rest.len() > 8 {
        let (chunk, tail) = rest.split_at(8);
        h = (h ^ u64::from_le_bytes(chunk.try_into().unwrap()))
            .wrapping_mul(K)
            .rotate_left(29);
        rest = tail;
    }
    let last = if rest.len() >= 4 {
        let lo = u32::from_le_bytes(rest[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(rest[rest.len() - 4..].try_into().unwrap()) as u64;
        lo | (hi << 32)
    } else if !rest.is_empty() {
        let n = rest.len();
        rest[0] as u64 | (rest[n / 2] as u64) << 8 | (rest[n - 1] as u64) << 16
    } else {
        0
    };
    (h ^ last).wrapping_mul(K)
}

impl Vocab {
    /// Reads a data file (see the module doc).
    pub fn from_file(data: &'static [u8]) -> Vocab {
        let n = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
        assert!(
            n < RANK_MASK as usize,
            "vocabulary too large for the slot layout"
        );
        let lens = &data[4..4 + n];
        let bytes = &data[4 + n..];
        let mut offsets = Vec::with_capacity(n + 1);
        let mut at = 0u32;
        offsets.push(0);
        for &len in lens {
            at += len as u32;
            offsets.push(at);
        }
        assert_eq!(at as usize, bytes.len(), "vocabulary file is truncated");
        let capacity = (n * 5 / 2).next_power_of_two();
        let mut vocab = Vocab {
            bytes,
            offsets: offsets.into_boxed_slice(),
            slots: vec![EMPTY; capacity].into_boxed_slice(),
            shift: 64 - capacity.trailing_zeros(),
        };
        let mask = capacity - 1;
        for rank in 0..n as u32 {
            let (mut i, tag) = vocab.place(vocab.token(rank));
            while vocab.slots[i] != EMPTY {
                i = (i + 1) & mask;
            }
            vocab.slots[i] = tag | rank;
        }
        vocab
    }

    #[inline(always)]
    fn place(&self, piece: &[u8]) -> (usize, u32) {
        let h = hash(piece);
        let i = (h >> self.shift) as usize;
        let tag = ((h >> (self.shift - TAG_BITS)) as u32) << RANK_BITS;
        (i, tag)
    }

    /// Number of tokens (ranks `0..len`).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The bytes of token `rank`.
    #[inline(always)]
    pub fn token(&self, rank: u32) -> &[u8] {
        let r = rank as usize;
        &self.bytes[self.offsets[r] as usize..self.offsets[r + 1] as usize]
    }

    /// The rank of `piece`, if it is a token.
    #[inline]
    pub fn rank(&self, piece: &[u8]) -> Option<u32> {
        let (mut i, tag) = self.place(piece);
        let mask = self.slots.len() - 1;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return None;
            }
            if slot & !RANK_MASK == tag && self.token(slot & RANK_MASK) == piece {
                return Some(slot & RANK_MASK);
            }
            i = (i + 1) & mask;
        }
    }

    /// Bytes of memory this table holds besides the module's data segment.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        self.offsets.len() * 4 + self.slots.len() * 4
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use tiktoken_rs::CoreBPE;

    /// The bytes of a vocabulary data file, from tiktoken-rs's table.
    pub(crate) fn file_bytes(bpe: &CoreBPE, n: usize) -> Vec<u8> {
        let mut lens = Vec::with_capacity(n);
        let mut bytes = Vec::new();
        for rank in 0..n as u32 {
            let token = bpe.decode_bytes(&[rank]).expect("rank below n decodes");
            lens.push(u8::try_from(token.len()).unwrap());
            bytes.extend_from_slice(&token);
        }
        // Rank n is the first one past the ordinary tokens.
        assert!(bpe.decode_bytes(&[n as u32]).is_err());
        let mut out = (n as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&lens);
        out.extend_from_slice(&bytes);
        out
    }

    pub(crate) const O200K_LEN: usize = 199_998;
    pub(crate) const CL100K_LEN: usize = 100_256;

    #[test]
    fn vocab_files_equal_tiktoken() {
        let o200k = file_bytes(tiktoken_rs::o200k_base_singleton(), O200K_LEN);
        assert!(
            super::super::O200K_FILE == o200k.as_slice(),
            "src/tokens/data/o200k_base.bin is stale: run scripts/make-vocab.sh"
        );
        let cl100k = file_bytes(tiktoken_rs::cl100k_base_singleton(), CL100K_LEN);
        assert!(
            super::super::CL100K_FILE == cl100k.as_slice(),
            "src/tokens/data/cl100k_base.bin is stale: run scripts/make-vocab.sh"
        );
    }

    #[test]
    fn every_token_is_found_at_its_rank() {
        for vocab in [super::super::o200k(), super::super::cl100k()] {
            for rank in 0..vocab.len() as u32 {
                assert_eq!(vocab.rank(vocab.token(rank)), Some(rank));
            }
            for b in 0..=255u8 {
                assert!(vocab.rank(&[b]).is_some(), "byte {b} is a token");
            }
            assert_eq!(vocab.rank(b""), None);
            // One u32 offset per token and <= 2.5 u32 slots per token, rounded up to 2^k.
            assert!(
                vocab.heap_bytes() <= vocab.len() * 4 * 6,
                "{}",
                vocab.heap_bytes()
            );
            assert_eq!(vocab.rank(b"\xff\xfe\xfd not a token"), None);
        }
    }
}
