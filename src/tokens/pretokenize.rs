//! Hand-written scanners equal to tiktoken's pre-tokenizer regexes.
//!
//! Each `next_*` returns where the piece starting at `i` ends, exactly as fancy-regex's
//! leftmost-first backtracking search finds it. The patterns, from tiktoken-rs 0.12.1:
//!
//! cl100k_base:
//! `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
//!
//! o200k_base:
//! `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! `|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! `|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
//!
//! Every position starts some alternative, so the pieces cover the text.
//! Surprises the regexes hold: `(?i)s` also matches U+017F (long s), so `'ſ` is a
//! contraction; marks (`\p{M}`) are not letters for `\p{L}` but are in o200k's word
//! classes and in `[^\s\p{L}\p{N}]`; `\s` is Unicode White_Space (not U+001C..U+001F).

use super::charclass::{self as cc, at};

const fn bit(class: u8) -> u8 {
    1 << class
}
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`
const UP: u8 = bit(cc::UPPER) | bit(cc::OTHER_LETTER) | bit(cc::MARK);
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`
const LOW: u8 = bit(cc::LOWER) | bit(cc::OTHER_LETTER) | bit(cc::MARK);
/// `\p{L}`
const LETTER: u8 = bit(cc::UPPER) | bit(cc::LOWER) | bit(cc::OTHER_LETTER);
/// `[^\r\n\p{L}\p{N}]`
const PREFIX: u8 = bit(cc::OTHER) | bit(cc::MARK) | bit(cc::SPACE);
/// `[^\s\p{L}\p{N}]`
const PUNCT: u8 = bit(cc::OTHER) | bit(cc::MARK);

/// End of the run of characters in `set` starting at `i`.
#[inline(always)]
fn run(s: &[u8], mut i: usize, set: u8) -> usize {
    while i < s.len() {
        let (c, l) = at(s, i);
        if bit(c) & set == 0 {
            break;
        }
        i += l;
    }
    i
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `i`: its end, or `i`.
#[inline(always)]
fn contraction(s: &[u8], i: usize) -> usize {
    if i + 1 >= s.len() || s[i] != b'\'' {
        return i;
    }
    match s[i + 1] | 0x20 {
        b's' | b't' | b'm' | b'd' => return i + 2,
        b'l' | b'v' | b'r' if i + 2 < s.len() => {
            // `| 0x20` maps only `A-Z` onto these lower-case letters.
            if matches!(&[s[i + 1] | 0x20, s[i + 2] | 0x20], b"ll" | b"ve" | b"re") {
                return i + 3;
            }
        }
        _ => {}
    }
    // U+017F LATIN SMALL LETTER LONG S folds to `s`.
    if s[i + 1] == 0xC5 && s.get(i + 2) == Some(&0xBF) {
        return i + 3;
    }
    i
}

/// o200k: `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` at `p`.
#[inline(always)]
fn lower_word(s: &[u8], p: usize) -> Option<usize> {
    let mut q = p;
    // End of the last character of the upper run that is also in LOW.
    let mut last_low = p;
    while q < s.len() {
        let (c, l) = at(s, q);
        if bit(c) & UP == 0 {
            if c == cc::LOWER {
                return Some(run(s, q + l, LOW));
            }
            break;
        }
        q += l;
        if bit(c) & LOW != 0 {
            last_low = q;
        }
    }
    // Backtracking the upper run to just after its last LOW character.
    (last_low > p).then_some(last_low)
}

/// o200k: `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` at `p`.
#[inline(always)]
fn upper_word(s: &[u8], p: usize) -> Option<usize> {
    if p >= s.len() || bit(at(s, p).0) & UP == 0 {
        return None;
    }
    let q = run(s, p, UP);
    Some(run(s, q, LOW))
}

/// Whitespace alternatives at `i` (a white-space character of length `l0`).
/// Returns (end of the run, end of its last CR/LF or 0, start of its last character,
/// number of characters, capped at 2).
#[inline(always)]
fn space_run(s: &[u8], i: usize) -> (usize, usize, usize, u32) {
    let mut q = i;
    let mut last_crlf_end = 0;
    let mut last_start = i;
    let mut chars = 0u32;
    while q < s.len() {
        let (c, l) = at(s, q);
        if c == cc::CR_LF {
            last_crlf_end = q + l;
        } else if c != cc::SPACE {
            break;
        }
        last_start = q;
        q += l;
        chars = (chars + 1).min(2);
    }
    (q, last_crlf_end, last_start, chars)
}

/// End of `\p{N}{1,3}` whose first character ends at `p`: up to two more numbers.
#[inline(always)]
fn number(s: &[u8], p: usize) -> usize {
    let mut e = p;
    for _ in 0..2 {
        if e >= s.len() {
            break;
        }
        let (c, l) = at(s, e);
        if c != cc::NUMBER {
            break;
        }
        e += l;
    }
    e
}

/// ` ?[^\s\p{L}\p{N}]+` at `i` (whose first character's class bit is `b0`), then any run
/// of `\r`, `\n`, and with `SLASH` also `/` (o200k's `[\r\n/]*`, cl100k's `[\r\n]*+`):
/// its end, or `None` when no punctuation starts at `i`.
#[inline(always)]
fn punct<const SLASH: bool>(s: &[u8], i: usize, b0: u8) -> Option<usize> {
    let n = s.len();
    let p = if b0 & PUNCT != 0 {
        i
    } else if s[i] == b' ' && i + 1 < n && bit(at(s, i + 1).0) & PUNCT != 0 {
        i + 1
    } else {
        return None;
    };
    let mut e = run(s, p, PUNCT);
    while e < n && (matches!(s[e], b'\r' | b'\n') || (SLASH && s[e] == b'/')) {
        e += 1;
    }
    Some(e)
}

/// End of the o200k_base piece starting at `i < s.len()`.
#[inline]
pub fn next_o200k(s: &[u8], i: usize) -> usize {
    let n = s.len();
    let (c0, l0) = at(s, i);
    let b0 = bit(c0);
    // Letter words, optionally after one non-letter, non-digit, non-newline character.
    if b0 & (UP | LOW | PREFIX) != 0 {
        let prefixed = b0 & PREFIX != 0 && i + l0 < n;
        if prefixed {
            if let Some(e) = lower_word(s, i + l0) {
                return contraction(s, e);
            }
        }
        if let Some(e) = lower_word(s, i) {
            return contraction(s, e);
        }
        if prefixed {
            if let Some(e) = upper_word(s, i + l0) {
                return contraction(s, e);
            }
        }
        if let Some(e) = upper_word(s, i) {
            return contraction(s, e);
        }
    }
    if c0 == cc::NUMBER {
        return number(s, i + l0);
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    if let Some(e) = punct::<true>(s, i, b0) {
        return e;
    }
    // White space: `\s*[\r\n]+|\s+(?!\S)|\s+`
    let (end, last_crlf_end, last_start, chars) = space_run(s, i);
    if last_crlf_end != 0 {
        last_crlf_end
    } else if end == n || chars < 2 {
        end
    } else {
        last_start
    }
}

/// End of the cl100k_base piece starting at `i < s.len()`.
#[inline]
pub fn next_cl100k(s: &[u8], i: usize) -> usize {
    let n = s.len();
    if s[i] == b'\'' {
        let e = contraction(s, i);
        if e != i {
            return e;
        }
    }
    let (c0, l0) = at(s, i);
    let b0 = bit(c0);
    // `[^\r\n\p{L}\p{N}]?+\p{L}++`
    if b0 & LETTER != 0 {
        return run(s, i + l0, LETTER);
    }
    if b0 & PREFIX != 0 && i + l0 < n {
        let (c1, l1) = at(s, i + l0);
        if bit(c1) & LETTER != 0 {
            return run(s, i + l0 + l1, LETTER);
        }
    }
    if c0 == cc::NUMBER {
        return number(s, i + l0);
    }
    // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
    if let Some(e) = punct::<false>(s, i, b0) {
        return e;
    }
    // White space: `\s++$|\s*[\r\n]|\s+(?!\S)|\s`
    let (end, last_crlf_end, last_start, chars) = space_run(s, i);
    if end == n {
        end
    } else if last_crlf_end != 0 {
        last_crlf_end
    } else if chars >= 2 {
        last_start
    } else {
        i + l0
    }
}
