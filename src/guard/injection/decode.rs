//! Encoded segments hidden in a text: base64 runs, hex runs (plain, spaced, `\x`-escaped),
//! URL-encoding. Each finder is one forward pass; a decoded segment is kept only when it is
//! mostly printable UTF-8 text, so hashes, keys and binary blobs are not rescanned.

use crate::api::query::{hex_value, percent_decode};
use crate::tokens::base64::{self, Alphabet};

/// Shortest base64 run worth decoding (15 bytes of payload).
const MIN_BASE64: usize = 20;
/// Fewest hex bytes worth decoding.
const MIN_HEX_BYTES: usize = 8;

/// Decoded texts of the base64, hex and URL-encoded segments of `raw`, in that order; at
/// most `max_out` bytes in total.
pub(super) fn segments(raw: &str, max_out: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut room = max_out;
    let mut keep = |bytes: Vec<u8>, out: &mut Vec<String>| {
        if bytes.len() > room {
            return;
        }
        if let Some(s) = printable(bytes) {
            room -= s.len();
            out.push(s);
        }
    };
    for run in base64_runs(raw) {
        if let Some(bytes) = base64::decode(run.as_bytes(), Alphabet::Either) {
            keep(bytes, &mut out);
        }
    }
    for stretch in hex_stretches(raw) {
        for bytes in hex_runs(stretch) {
            keep(bytes, &mut out);
        }
    }
    if let Some(bytes) = percent(raw) {
        keep(bytes, &mut out);
    }
    out
}

/// Mostly printable UTF-8 (letters, punctuation, whitespace), at least 4 characters.
fn printable(bytes: Vec<u8>) -> Option<String> {
    let s = String::from_utf8(bytes).ok()?;
    let mut total = 0usize;
    let mut bad = 0usize;
    let mut letters = 0usize;
    for c in s.chars() {
        total += 1;
        if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            bad += 1;
        }
        if c.is_alphabetic() {
            letters += 1;
        }
    }
    (total >= 4 && bad * 20 <= total && letters * 2 >= total).then_some(s)
}

const B64: u8 = 1;
const HEXISH: u8 = 2;

/// Byte classes: base64 alphabet (either variant), and what a hex run may contain.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_') {
            t[c] |= B64;
        }
        if b.is_ascii_hexdigit() || matches!(b, b' ' | b',' | b':' | b'\\' | b'x') {
            t[c] |= HEXISH;
        }
        c += 1;
    }
    t
};

/// Maximal runs of at least `min` bytes of class `class`, found by skipping ahead: if
/// the byte `min - 1` ahead is outside the class, no long run can cover it, so the search
/// jumps past it. Prose, whose words are short, is crossed in a few probes per word.
fn long_runs(b: &[u8], class: u8, min: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let inside = move |c: u8| CLASS[c as usize] & class != 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i + min <= b.len() {
            let probe = i + min - 1;
            if !inside(b[probe]) {
                i = probe + 1;
                continue;
            }
            // The last byte outside the class in [i, probe], if any.
            match (i..probe).rev().find(|&k| !inside(b[k])) {
                Some(k) => i = k + 1,
                None => {
                    let start = i;
                    let mut end = probe + 1;
                    while end < b.len() && inside(b[end]) {
                        end += 1;
                    }
                    i = end;
                    return Some((start, end));
                }
            }
        }
        None
    })
}

/// Runs of base64 characters (standard or URL-safe alphabet) with optional `=` padding,
/// long enough, and not plain words: a run must mix cases or contain digits.
fn base64_runs(raw: &str) -> impl Iterator<Item = &str> {
    let b = raw.as_bytes();
    long_runs(b, B64, MIN_BASE64).filter_map(move |(start, mut end)| {
        let run = &b[start..end];
        let upper = run.iter().any(u8::is_ascii_uppercase);
        let lower = run.iter().any(u8::is_ascii_lowercase);
        let digit = run.iter().any(u8::is_ascii_digit);
        let pad = end;
        while end < b.len() && b[end] == b'=' && end - pad < 2 {
            end += 1;
        }
        // The class is ASCII, so both ends are char boundaries.
        ((upper && lower) || digit).then(|| &raw[start..end])
    })
}

/// Stretches of at least `2 * MIN_HEX_BYTES` bytes made only of hex digits and hex
/// separators: the only places a hex run can be. Prose rarely has one, so the pair parser
/// below seldom runs.
fn hex_stretches(raw: &str) -> impl Iterator<Item = &str> {
    // The class is ASCII, so both ends are char boundaries.
    long_runs(raw.as_bytes(), HEXISH, 2 * MIN_HEX_BYTES).map(move |(s, e)| &raw[s..e])
}

/// Hex-encoded byte strings: `4967...` (even length), `49 67 6e`, `\x49\x67`, `0x49 0x67`.
/// One pass: bytes accumulate while pairs keep coming with the same separator.
fn hex_runs(raw: &str) -> Vec<Vec<u8>> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut sep: Option<&[u8]> = None;
    let mut i = 0;
    let flush = |cur: &mut Vec<u8>, out: &mut Vec<Vec<u8>>| {
        if cur.len() >= MIN_HEX_BYTES {
            out.push(std::mem::take(cur));
        } else {
            cur.clear();
        }
    };
    while i < b.len() {
        // A prefix before the pair: `\x`, `0x`, or nothing.
        let prefix: &[u8] = if b[i..].starts_with(b"\\x") || b[i..].starts_with(b"0x") {
            &b[i..i + 2]
        } else {
            &[]
        };
        let p = i + prefix.len();
        let pair = (p + 1 < b.len())
            .then(|| Some(hex_value(b[p])? << 4 | hex_value(b[p + 1])?))
            .flatten();
        match pair {
            Some(v) => {
                cur.push(v);
                i = p + 2;
                // What separates this pair from the next: nothing, one space, a comma…
                let s_end = (i..b.len().min(i + 2))
                    .find(|&k| !matches!(b[k], b' ' | b',' | b':'))
                    .unwrap_or(b.len().min(i + 2));
                let s = &b[i..s_end];
                let next_is_pair = {
                    let q = s_end
                        + if b[s_end..].starts_with(b"\\x") || b[s_end..].starts_with(b"0x") {
                            2
                        } else {
                            0
                        };
                    q + 1 < b.len() && hex_value(b[q]).is_some() && hex_value(b[q + 1]).is_some()
                };
                match sep {
                    None if next_is_pair => sep = Some(s),
                    Some(prev) if next_is_pair && prev == s => {}
                    _ => {
                        flush(&mut cur, &mut out);
                        sep = None;
                    }
                }
                if !next_is_pair {
                    flush(&mut cur, &mut out);
                    sep = None;
                } else {
                    i = s_end;
                }
            }
            None => {
                flush(&mut cur, &mut out);
                sep = None;
                i += 1;
                while i < b.len() && !b.is_char_boundary_at(i) {
                    i += 1;
                }
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

trait CharBoundary {
    fn is_char_boundary_at(&self, i: usize) -> bool;
}

impl CharBoundary for [u8] {
    fn is_char_boundary_at(&self, i: usize) -> bool {
        i >= self.len() || (self[i] as i8) >= -0x40
    }
}

/// The text with `%XX` escapes decoded, when it holds at least three of them.
fn percent(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    if !b.contains(&b'%') {
        return None;
    }
    let escapes = b
        .windows(3)
        .filter(|w| w[0] == b'%' && hex_value(w[1]).is_some() && hex_value(w[2]).is_some())
        .count();
    if escapes < 3 {
        return None;
    }
    Some(percent_decode(b))
}
