//! How many tokens byte-pair encoding makes of one pre-tokenized piece.
//!
//! tiktoken's merge rule: repeatedly merge the adjacent pair whose concatenation has the
//! lowest rank (the leftmost one on ties) until no adjacent pair is a token. We only
//! count the parts left at the end. Short pieces use tiktoken's quadratic scan, long ones
//! a heap, as tiktoken-rs does; both apply the same merges in the same order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::vocab::Vocab;

const NONE: u32 = u32::MAX;
/// Pieces at least this long use the heap (tiktoken-rs switches at 100 too).
const LARGE: usize = 100;

/// Tokens in `piece` (non-empty).
#[inline]
pub fn count_piece(vocab: &Vocab, piece: &[u8]) -> u64 {
    if piece.len() == 1 || vocab.rank(piece).is_some() {
        return 1;
    }
    if piece.len() < LARGE {
        merge_small(vocab, piece)
    } else {
        merge_large(vocab, piece)
    }
}

#[inline(always)]
fn rank_of(vocab: &Vocab, piece: &[u8]) -> u32 {
    vocab.rank(piece).unwrap_or(NONE)
}

fn merge_small(vocab: &Vocab, piece: &[u8]) -> u64 {
    // parts[k] = (start of part k, rank of part k merged with part k + 1).
    let mut starts = [0u8; LARGE + 1];
    let mut ranks = [NONE; LARGE + 1];
    let n = piece.len();
    for i in 0..n - 1 {
        starts[i] = i as u8;
        ranks[i] = rank_of(vocab, &piece[i..i + 2]);
    }
    starts[n - 1] = (n - 1) as u8;
    starts[n] = n as u8;
    ranks[n - 1] = NONE;
    ranks[n] = NONE;
    let mut len = n + 1;
    loop {
        let mut best = NONE;
        let mut at = 0;
        for (k, &r) in ranks[..len - 1].iter().enumerate() {
            if r < best {
                best = r;
                at = k;
            }
        }
        if best == NONE {
            break;
        }
        // Merge parts at and at + 1: recompute the ranks that now span the new part.
        let span = |k: usize, starts: &[u8], len: usize| {
            if k + 3 < len {
                rank_of(vocab, &piece[starts[k] as usize..starts[k + 3] as usize])
            } else {
                NONE
            }
        };
        ranks[at] = span(at, &starts, len);
        if at > 0 {
            ranks[at - 1] = span(at - 1, &starts, len);
        }
        starts.copy_within(at + 2..len, at + 1);
        ranks.copy_within(at + 2..len, at + 1);
        len -= 1;
    }
    (len - 1) as u64
}

fn merge_large(vocab: &Vocab, piece: &[u8]) -> u64 {
    let n = piece.len();
    // Parts as a linked list over their start offsets.
    let mut end: Vec<u32> = (1..=n as u32).collect();
    let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
    // Rank of the merge of the part starting at i with its successor (NONE if none).
    let mut next_rank = vec![NONE; n];
    let mut heap = BinaryHeap::with_capacity(n);
    for i in 0..n - 1 {
        let r = rank_of(vocab, &piece[i..i + 2]);
        if r != NONE {
            next_rank[i] = r;
            heap.push(Reverse((r, i as u32)));
        }
    }
    let mut parts = n as u64;
    while let Some(Reverse((rank, start))) = heap.pop() {
        let left = start as usize;
        if next_rank[left] != rank {
            continue; // stale
        }
        let right = end[left] as usize;
        let right_end = end[right] as usize;
        end[left] = right_end as u32;
        next_rank[right] = NONE;
        parts -= 1;
        if right_end < n {
            prev[right_end] = left as u32;
        }
        // The merge with the new successor.
        next_rank[left] = NONE;
        if right_end < n {
            let r = rank_of(vocab, &piece[left..end[right_end] as usize]);
            if r != NONE {
                next_rank[left] = r;
                heap.push(Reverse((r, left as u32)));
            }
        }
        // The merge of the predecessor with the new part.
        if left > 0 {
            let p = prev[left] as usize;
            let r = rank_of(vocab, &piece[p..right_end]);
            next_rank[p] = r;
            if r != NONE {
                heap.push(Reverse((r, p as u32)));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same count both ways, on long pieces whose merges tie a lot.
    #[test]
    fn small_and_large_merges_agree() {
        let vocab = super::super::o200k();
        let samples: [&[u8]; 5] = [
            &[b'a'; 99],
            b"!@#$%^&*()_+-=[]{}|;:,.<>?/~`!@#$%^&*()_+-=[]{}|;:,.<>?/~`!@#$%^&*()_+-=[]{}|;:,.<>?",
            "\u{1F600}\u{1F601}\u{1F602}\u{1F923}\u{1F603}\u{1F604}\u{1F605}\u{1F606}\u{1F607}\u{1F608}\u{1F609}\u{1F60A}\u{1F60B}\u{1F60C}\u{1F60D}\u{1F60E}\u{1F60F}\u{1F610}\u{1F611}\u{1F612}\u{1F613}\u{1F614}".as_bytes(),
            b"================================================================================----",
            "--------\u{2014}\u{2014}\u{2014}\u{2014}--------..........,,,,,,,,,,;;;;;;;;::::::::''''''''\"\"\"\"".as_bytes(),
        ];
        for piece in samples {
            let piece = &piece[..piece.len().min(LARGE - 1)];
            assert_eq!(merge_small(vocab, piece), merge_large(vocab, piece));
        }
    }
}
