//! Leak checks on answers: canary strings, and long fragments of the request's system
//! prompt.
//!
//! The system prompt and the answer are cut into *words* (runs of Unicode alphanumerics,
//! lower-cased; everything else separates words, so spacing, punctuation and case do
//! not matter). A window of `min_words` consecutive answer words that also occurs
//! consecutively in the prompt is a leak; overlapping leak windows are reported as one
//! region. Word n-grams are kept as 64-bit FNV hashes: one set of `min_words`-grams to
//! detect, one set of word pairs that tells the stream which trailing words may still
//! grow into a leak.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are already hashes.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<IdHasher>>;

/// A word of a text: byte range and hash of its lower-cased form.
#[derive(Debug, Clone, Copy)]
pub(super) struct Word {
    pub start: usize,
    pub end: usize,
    pub hash: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub(super) fn words(text: &str, out: &mut Vec<Word>) {
    let mut cur: Option<(usize, u64)> = None;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphanumeric() {
            let (s, h) = cur.unwrap_or((i, FNV_OFFSET));
            let b = (c as u8).to_ascii_lowercase();
            cur = Some((s, (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)));
        } else if !c.is_ascii() && c.is_alphanumeric() {
            let (s, mut h) = cur.unwrap_or((i, FNV_OFFSET));
            for l in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for &b in l.encode_utf8(&mut buf).as_bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
                }
            }
            cur = Some((s, h));
        } else if let Some((s, h)) = cur.take() {
            out.push(Word {
                start: s,
                end: i,
                hash: h,
            });
        }
    }
    if let Some((s, h)) = cur {
        out.push(Word {
            start: s,
            end: text.len(),
            hash: h,
        });
    }
}

fn gram(ws: &[Word]) -> u64 {
    ws.iter().fold(FNV_OFFSET, |h, w| {
        (h ^ w.hash).wrapping_mul(FNV_PRIME).rotate_left(23)
    })
}

/// The word n-grams of one system prompt.
pub(super) struct PromptShingles {
    pub min_words: usize,
    grams: HashSet64,
    pairs: HashSet64,
    singles: HashSet64,
}

impl PromptShingles {
    /// `None` when the prompt has fewer than `min_words` words (nothing can leak).
    pub fn new(prompt: &str, min_words: usize) -> Option<PromptShingles> {
        let mut ws = Vec::new();
        words(prompt, &mut ws);
        if min_words < 2 || ws.len() < min_words {
            return None;
        }
        let mut s = PromptShingles {
            min_words,
            grams: HashSet64::default(),
            pairs: HashSet64::default(),
            singles: HashSet64::default(),
        };
        for w in ws.windows(min_words) {
            s.grams.insert(gram(w));
        }
        for w in ws.windows(2) {
            s.pairs.insert(gram(w));
        }
        s.singles.extend(ws.iter().map(|w| w.hash));
        Some(s)
    }

    /// Leak regions (byte ranges) of `ws`'s text: unions of overlapping windows.
    pub fn regions(&self, ws: &[Word], out: &mut Vec<(usize, usize)>) {
        let n = self.min_words;
        let mut cur: Option<(usize, usize, usize)> = None; // (start, end, last word index)
        for (i, w) in ws.windows(n).enumerate() {
            if !self.grams.contains(&gram(w)) {
                continue;
            }
            let last = i + n - 1;
            cur = match cur {
                Some((s, _, l)) if i <= l => Some((s, w[n - 1].end, last)),
                other => {
                    if let Some((s, e, _)) = other {
                        out.push((s, e));
                    }
                    Some((w[0].start, w[n - 1].end, last))
                }
            };
        }
        if let Some((s, e, _)) = cur {
            out.push((s, e));
        }
    }

    /// Start of the trailing words that may still become part of a leak window: the
    /// words after the last one (it may be incomplete) back while consecutive pairs occur
    /// in the prompt, at most `min_words - 1` complete words. `complete_end`: whether the
    /// last word is followed by a separator.
    pub fn hold_from(&self, ws: &[Word], text_len: usize) -> usize {
        let Some(last) = ws.last() else {
            return text_len;
        };
        let mut j = ws.len();
        let mut hold = text_len;
        if last.end == text_len {
            hold = last.start;
            j -= 1;
        }
        if j == 0 || !self.singles.contains(&ws[j - 1].hash) {
            return hold;
        }
        let mut k = j - 1;
        hold = ws[k].start;
        while k > 0 && j - k < self.min_words - 1 && self.pairs.contains(&gram(&ws[k - 1..=k])) {
            k -= 1;
            hold = ws[k].start;
        }
        hold
    }
}
