//! Encoded segments hidden in a text: base64 runs, hex runs (plain, spaced, `\x`-escaped),
//! URL-encoding. Each finder is one forward pass; a decoded segment is kept only when it is
//! mostly printable UTF-8 text, so hashes, keys and binary blobs are not rescanned.

/// Shortest base64 run worth decoding (15 bytes of payload).
const MIN_BASE64: usize = 20;
/// Fewest hex bytes worth decoding.
const MIN_HEX_BYTES: usize = 8;

/// Decoded texts of the base64, hex and URL-encoded segments of `raw`, longest first is
/// not promised; at most `max_out` bytes in total are returned.
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
        if let Some(bytes) = base64(run) {
            keep(bytes, &mut out);
        }
    }
    for bytes in hex_runs(raw) {
        keep(bytes, &mut out);
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

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_')
}

/// Runs of base64 characters (standard or URL-safe alphabet) with optional `=` padding,
/// long enough, and not plain words: a run must mix cases or contain digits.
fn base64_runs(raw: &str) -> impl Iterator<Item = &str> {
    let b = raw.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !is_b64(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            let (mut upper, mut lower, mut digit) = (false, false, false);
            while i < b.len() && is_b64(b[i]) {
                upper |= b[i].is_ascii_uppercase();
                lower |= b[i].is_ascii_lowercase();
                digit |= b[i].is_ascii_digit();
                i += 1;
            }
            let mut end = i;
            while end < b.len() && b[end] == b'=' && end - i < 2 {
                end += 1;
            }
            i = end;
            if end - start >= MIN_BASE64 && ((upper && lower) || digit) {
                return Some(&raw[start..end]);
            }
        }
        None
    })
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes base64 (either alphabet, padding optional). `None` on a stray character.
pub(super) fn base64(run: &str) -> Option<Vec<u8>> {
    let body = run.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in body {
        acc = (acc << 6) | b64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
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
        // A pair must not be the middle of a longer word ("cafe" in "cafeteria" is fine
        // as part of a run, "be" alone is not a run anyway).
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
    let escapes = b
        .windows(3)
        .filter(|w| w[0] == b'%' && hex_value(w[1]).is_some() && hex_value(w[2]).is_some())
        .count();
    if escapes < 3 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    Some(out)
}
