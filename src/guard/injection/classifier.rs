//! The learned second opinion: a linear classifier over the normalised words of a text,
//! trained offline on the dev split of `bench/guard/injection/` by
//! `bench/guard/injection/train` and shipped as `classifier.bin`.
//!
//! Features per word: the word, the word with the one before it, the letter 4-grams of a
//! word of 6 to 24 letters, and the word's lexicon concepts (so "udhezimet" and
//! "instructions" share evidence). Each word contributes the
//! sum of its features' weights; the text scores as its most attack-like run of
//! [`WINDOW`] words, so an injection hidden in a long benign document is not diluted by
//! it. The weights are hashed into a fixed table, quantised to one byte each.

use super::lexicon::{FxHasher, Lexicon, Mask, REVERSED, ROT13, UNKNOWN};
use super::normalize::Words;
use std::hash::Hasher;

/// The weight table has `2^BUCKET_BITS` entries.
pub const BUCKET_BITS: u32 = 17;
const BUCKETS: usize = 1 << BUCKET_BITS;
/// Words in the window that is scored.
pub const WINDOW: usize = 32;
/// The fewest words the classifier gives an opinion on.
pub const MIN_WORDS: usize = 4;
/// Concept features per word, at most.
const MAX_CONCEPTS: usize = 4;

const MAGIC: &[u8; 4] = b"LGIC";
const HEADER: usize = 4 * 6;
const BUILTIN: &[u8] = include_bytes!("classifier.bin");

/// A loaded weight table.
#[derive(Clone)]
pub(super) struct Classifier {
    scale: f32,
    bias: f32,
    /// Probabilities below this add nothing to the score.
    pub floor: f32,
    /// Share of the probability that is added to the score as signal `classifier`.
    pub weight: f32,
    weights: &'static [u8; BUCKETS],
    /// Per lexicon entry: the word's hash and the summed weights of the features that do
    /// not depend on its neighbour. Most words of ordinary text ("the", "you", "please")
    /// are lexicon words, so this saves hashing them and their letter 4-grams.
    known: Vec<Known>,
}

#[derive(Clone, Copy)]
struct Known {
    hash: u64,
    own: i32,
}

impl Classifier {
    /// The shipped classifier for texts read with `lexicon`; `None` when `classifier.bin`
    /// is not a table of this build's shape (a unit test keeps it so).
    pub fn builtin(lexicon: &Lexicon) -> Option<Classifier> {
        let bytes = BUILTIN;
        if bytes.len() != HEADER + BUCKETS || &bytes[..4] != MAGIC {
            return None;
        }
        let f = |at: usize| {
            f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let bits = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if bits != BUCKET_BITS {
            return None;
        }
        let mut c = Classifier {
            scale: f(8),
            bias: f(12),
            floor: f(16),
            weight: f(20),
            weights: bytes[HEADER..].try_into().ok()?,
            known: Vec::new(),
        };
        c.known = (0..lexicon.len() as u32)
            .map(|id| {
                let word = lexicon.word(id).as_bytes();
                let hash = word_hash(word);
                let own = c.own_weight(word, hash, lexicon.entry(id).mask);
                Known { hash, own }
            })
            .collect();
        Some(c)
    }

    fn weight_of(&self, bucket: u32) -> i32 {
        // Masked: a fixed-size table needs no bounds check per lookup.
        i32::from(self.weights[bucket as usize & (BUCKETS - 1)] as i8)
    }

    /// The summed weights of a word's features other than the pair with the word before.
    fn own_weight(&self, word: &[u8], own: u64, mask: Mask) -> i32 {
        let mut c = 0;
        own_features(word, own, mask, |b| c += self.weight_of(b));
        c
    }

    /// What a probability adds to the rules' noisy-OR (signal `classifier`).
    pub fn contribution(&self, p: f32, rules: f32) -> f32 {
        contribution(p, self.floor, self.weight, rules)
    }

    /// Probability in [0, 1] that the words are an attack; `masks` and `ids` are the
    /// words' lexicon concepts and entries.
    pub fn probability(&self, words: &Words, masks: &[Mask], ids: &[u32]) -> f32 {
        let mut window = [0i32; WINDOW];
        let (mut sum, mut best) = (0i32, i32::MIN);
        let mut prev = 0u64;
        let mut distinct = 0;
        for i in 0..words.len() {
            let id = ids.get(i).copied().unwrap_or(UNKNOWN);
            let (own, own_c) = match self.known.get(id as usize) {
                Some(k) => (k.hash, k.own),
                None => {
                    let word = words.bytes(i);
                    let own = word_hash(word);
                    let mask = masks.get(i).copied().unwrap_or(0);
                    (own, self.own_weight(word, own, mask))
                }
            };
            // A word repeating the one before adds nothing: "word word word …" would
            // otherwise pile the same evidence up to a block. (Training data has almost
            // no such runs, so the trainer does not need the rule.)
            let mut c = 0;
            if i == 0 || own != prev {
                distinct += 1;
                c = own_c;
                if prev != 0 {
                    c += self.weight_of(pair_bucket(prev, own));
                }
                prev = own;
            }
            let slot = i % WINDOW;
            sum += c - window[slot];
            window[slot] = c;
            if i + 1 >= WINDOW.min(words.len()) {
                best = best.max(sum);
            }
        }
        // A word or three is too little to judge by: "repeat?" or "instructions" alone
        // would otherwise be blocked on the strength of one word. The rules still see them.
        if distinct < MIN_WORDS {
            return 0.0;
        }
        sigmoid(self.bias + best as f32 * self.scale)
    }
}

/// The most the classifier adds when no rule fired (`rules` = 0): inside the default grey
/// zone `[0.3, 0.5)`, so the classifier alone sends a text to the judge (or to the
/// report) and never blocks it at the default threshold. Word statistics learnt from a
/// few corpora are not confidence: alone they flagged "Please repeat the last answer in
/// simpler words." and pages of code.
pub const ALONE_MAX: f32 = 0.45;

/// Nothing below `floor`, else `p * weight`, at most `ALONE_MAX` when the rules' score is
/// 0: the rule shared by the scan and the trainer's choice of `floor` and `weight`.
pub fn contribution(p: f32, floor: f32, weight: f32, rules: f32) -> f32 {
    let c = if p >= floor { p * weight } else { 0.0 };
    if rules > 0.0 {
        c
    } else {
        c.min(ALONE_MAX)
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Calls `each` with the bucket of every feature of `word`, given the hash of the word
/// before it (0 at the start); returns the word's own hash for the next call.
pub fn features(word: &[u8], prev: u64, mask: Mask, mut each: impl FnMut(u32)) -> u64 {
    let own = word_hash(word);
    each(bucket(own));
    if prev != 0 {
        each(pair_bucket(prev, own));
    }
    other_features(word, mask, each);
    own
}

/// The features of a word by itself: [`features`] without the pair.
fn own_features(word: &[u8], own: u64, mask: Mask, mut each: impl FnMut(u32)) {
    each(bucket(own));
    other_features(word, mask, each);
}

fn pair_bucket(prev: u64, own: u64) -> u32 {
    bucket((prev.rotate_left(23) ^ own ^ 0x9e37_79b9).wrapping_mul(K))
}

/// Letter 4-grams and concepts.
fn other_features(word: &[u8], mask: Mask, mut each: impl FnMut(u32)) {
    // Letter 4-grams carry evidence across inflections and related languages; long or
    // alphanumeric runs (base64, hex, identifiers) are left to the decoders.
    if (MIN_GRAM_WORD..=MAX_GRAM_WORD).contains(&word.len()) && letters_only(word) {
        for g in word.windows(4) {
            let v = u64::from(u32::from_le_bytes([g[0], g[1], g[2], g[3]]));
            each(bucket((v ^ GRAM_SALT).wrapping_mul(K)));
        }
    }
    let mut concepts = mask & !(ROT13 | REVERSED);
    let mut n = 0;
    while concepts != 0 && n < MAX_CONCEPTS {
        let bit = u64::from(concepts.trailing_zeros());
        each(bucket((0xC0_0000 + bit).wrapping_mul(K)));
        concepts &= concepts - 1;
        n += 1;
    }
}

fn letters_only(word: &[u8]) -> bool {
    // Folded words are lower case: the common case is one pass.
    if word.iter().all(u8::is_ascii_lowercase) {
        return true;
    }
    if word.is_ascii() {
        word.iter().all(u8::is_ascii_alphabetic)
    } else {
        std::str::from_utf8(word).is_ok_and(|w| w.chars().all(char::is_alphabetic))
    }
}

fn word_hash(word: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(word);
    h.finish()
}

const GRAM_SALT: u64 = 0x4752_414d_0000_0000;
const MIN_GRAM_WORD: usize = 6;
const MAX_GRAM_WORD: usize = 24;
const K: u64 = 0x9e37_79b9_7f4a_7c15;

fn bucket(h: u64) -> u32 {
    (h.wrapping_mul(K) >> (64 - BUCKET_BITS)) as u32
}

/// Serialises a trained table: `weights[i] * scale` is a weight; `floor` and `weight` say
/// how the probability joins the rules' score.
pub fn encode(scale: f32, bias: f32, floor: f32, weight: f32, weights: &[i8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&BUCKET_BITS.to_le_bytes());
    for v in [scale, bias, floor, weight] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend(weights.iter().map(|w| *w as u8));
    out
}
