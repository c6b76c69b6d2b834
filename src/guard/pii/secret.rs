//! Credentials: vendor API keys by their documented prefixes, AWS key ids, secret-looking
//! assignments (`aws_secret_access_key = ...`, `password: ...`), PEM private key blocks
//! and JWTs (three base64url parts whose header decodes to a JSON object with `alg`).
//!
//! Each scanner visits a byte a bounded number of times: word runs are disjoint, every
//! `=`/`:` looks at most [`MAX_KEY`] bytes left and [`MAX_VALUE`] right, JWT parts and
//! PEM bodies are capped.

use super::entity::Builtin;
use super::scan::Span;
use crate::swar::{chunk, find_bytes, in_range};
use crate::tokens::base64::{self, Alphabet};

/// Longest PEM block taken, in bytes; a longer body is cut there (the rest is plain text).
pub(super) const MAX_PEM: usize = 16 * 1024;
const MAX_JWT_HEADER: usize = 1024;
const MAX_JWT_PART: usize = 8 * 1024;
const MAX_KEY: usize = 64;
const MAX_VALUE: usize = 200;
const MAX_WORD: usize = 256;

/// `[A-Za-z0-9_-]`, as a table: this test runs on every byte of every text.
static WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    t
};

fn is_word(b: u8) -> bool {
    WORD[b as usize]
}

fn push(out: &mut Vec<Span>, start: usize, end: usize) {
    out.push(Span {
        start,
        end,
        kind: Builtin::Secret,
    });
}

/// Shortest vendor key (`xoxb-` + 10).
const MIN_KEY: usize = 15;

/// Prefixed vendor keys, each a whole run of `[A-Za-z0-9_-]` of at least [`MIN_KEY`]
/// bytes. Such a run covers an aligned chunk of eight bytes, so only runs that hold a
/// chunk of word bytes are read; a chunk with a byte below `-` (space, newline, most
/// punctuation) is passed over in a few operations.
pub(super) fn find_tokens(text: &[u8], out: &mut Vec<Span>) {
    let mut q = 0;
    while q + 8 <= text.len() {
        let c = &text[q..q + 8];
        if in_range(chunk(c), 0, b'-' - 1) != 0 || !c.iter().all(|&b| is_word(b)) {
            q += 8;
            continue;
        }
        let mut s = q;
        while s > 0 && is_word(text[s - 1]) {
            s -= 1;
        }
        let mut e = q + 8;
        while e < text.len() && is_word(text[e]) {
            e += 1;
        }
        // A word glued to `.`/`/`+`=` followed by more word bytes is part of something
        // larger (a JWT, a path, base64); the JWT and PEM scanners handle those.
        if (MIN_KEY..=MAX_WORD).contains(&(e - s)) && vendor_key(&text[s..e]) {
            push(out, s, e);
        }
        q = e.next_multiple_of(8);
    }
}

fn mixed(b: &[u8]) -> bool {
    b.iter().any(u8::is_ascii_digit) && b.iter().any(u8::is_ascii_alphabetic)
}

fn alnum_len(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_alphanumeric)
}

fn vendor_key(w: &[u8]) -> bool {
    if let Some(rest) = w.strip_prefix(b"sk-ant-") {
        return rest.len() >= 32 && mixed(rest);
    }
    for p in [&b"sk-proj-"[..], b"sk-svcacct-", b"sk-admin-", b"sk-"] {
        if let Some(rest) = w.strip_prefix(p) {
            return rest.len() >= 20 && mixed(rest);
        }
    }
    if w.len() == 20 {
        const AWS: [&[u8]; 11] = [
            b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AIPA", b"ANPA", b"ANVA",
            b"AROA", b"APKA",
        ];
        if AWS.contains(&&w[..4])
            && w[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return true;
        }
    }
    for p in [&b"ghp_"[..], b"gho_", b"ghs_", b"ghu_", b"ghr_"] {
        if let Some(rest) = w.strip_prefix(p) {
            return rest.len() >= 30 && alnum_len(rest);
        }
    }
    if let Some(rest) = w.strip_prefix(b"github_pat_") {
        return rest.len() >= 22;
    }
    if w.len() > 5
        && w.starts_with(b"xox")
        && matches!(w[3], b'a' | b'b' | b'p' | b'r')
        && w[4] == b'-'
    {
        let rest = &w[5..];
        return rest.len() >= 10 && rest.iter().any(u8::is_ascii_digit);
    }
    for p in [&b"sk_live_"[..], b"rk_live_", b"sk_test_", b"rk_test_"] {
        if let Some(rest) = w.strip_prefix(p) {
            return rest.len() >= 16 && alnum_len(rest);
        }
    }
    w.len() == 39 && w.starts_with(b"AIza")
}

/// Key names (ASCII case-insensitive substrings) whose assigned value is a credential.
const SECRET_KEYS: &[&[u8]] = &[
    b"secret",
    b"password",
    b"passwd",
    b"api_key",
    b"apikey",
    b"access_key",
    b"accesskey",
    b"private_key",
    b"auth_token",
    b"access_token",
];

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

fn is_value_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=' | b'_' | b'.' | b'~' | b'-')
}

/// `key = value`, `key: value`, `"key": "value"`: the value (8 to 200 bytes holding a
/// letter and a digit) when the key names a secret. `i` is the `=` or `:`.
pub(super) fn assignment_at(text: &[u8], i: usize, out: &mut Vec<Span>) {
    // Key: skip a closing quote and spaces, then an identifier.
    let mut k = i;
    let mut skipped = 0;
    while k > 0 && skipped < 3 && matches!(text[k - 1], b' ' | b'"' | b'\'') {
        k -= 1;
        skipped += 1;
    }
    let key_end = k;
    while k > 0 && key_end - k < MAX_KEY && is_key_byte(text[k - 1]) {
        k -= 1;
    }
    let key = &text[k..key_end];
    if key.is_empty() || !SECRET_KEYS.iter().any(|s| contains_ignore_case(key, s)) {
        return;
    }
    // Value: skip spaces and an opening quote.
    let mut v = i + 1;
    while v < text.len() && v - i <= 3 && matches!(text[v], b' ' | b'"' | b'\'') {
        v += 1;
    }
    let mut e = v;
    while e < text.len() && e - v <= MAX_VALUE && is_value_byte(text[e]) {
        e += 1;
    }
    while e > v && text[e - 1] == b'.' {
        e -= 1;
    }
    let value = &text[v..e];
    if (8..=MAX_VALUE).contains(&value.len()) && mixed(value) {
        push(out, v, e);
    }
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";

/// PEM blocks and JWTs, fed every `-` and `J` of a text in order.
#[derive(Default)]
pub(super) struct Blocks {
    /// `-` before this lie inside a PEM block already taken.
    pem_next: usize,
    /// `J` before this lie inside a JWT or a run already read.
    jwt_next: usize,
}

impl Blocks {
    /// `s` is a `-`: a PEM block may start there.
    pub fn pem_at(&mut self, text: &[u8], s: usize, out: &mut Vec<Span>) {
        if s < self.pem_next || !text[s..].starts_with(BEGIN) {
            return;
        }
        if let Some(PemExtent { end, .. }) = pem_extent(text, s) {
            push(out, s, end);
            self.pem_next = end;
        }
    }

    /// `j` is a `J`: a JWT may start two bytes before (`eyJ`, the start of `{"`
    /// encoded; the rare `J` is the anchor, not the common `e`).
    pub fn jwt_at(&mut self, text: &[u8], j: usize, out: &mut Vec<Span>) {
        if j < self.jwt_next {
            return;
        }
        if j < 2 || &text[j - 2..j] != b"ey" {
            return;
        }
        let s = j - 2;
        if s > 0 && (is_b64url(text[s - 1]) || text[s - 1] == b'.') {
            return;
        }
        let h_end = run_end(text, s, MAX_JWT_HEADER);
        self.jwt_next = h_end;
        if h_end >= text.len() || text[h_end] != b'.' || !header_has_alg(&text[s..h_end]) {
            return;
        }
        let p_end = run_end(text, h_end + 1, MAX_JWT_PART);
        if p_end == h_end + 1 || p_end >= text.len() || text[p_end] != b'.' {
            return;
        }
        let sig_end = run_end(text, p_end + 1, MAX_JWT_PART);
        if sig_end < text.len() && is_b64url(text[sig_end]) {
            return;
        }
        push(out, s, sig_end);
        self.jwt_next = sig_end;
    }
}

/// Where a PEM private key block starting at `s` ends.
pub(super) struct PemExtent {
    pub end: usize,
    /// The body ran to the end of `text` (neither a footer nor another byte ended it), so
    /// more text could extend it.
    pub open: bool,
}

/// The block at `s` (which starts with `-----BEGIN `): header label must contain
/// `PRIVATE KEY`; the body is base64 and header lines up to an `-----END ...-----`
/// footer, another byte, or [`MAX_PEM`]. `None` when it is not a private key block.
pub(super) fn pem_extent(text: &[u8], s: usize) -> Option<PemExtent> {
    let open_at_end = |i: usize| Some(PemExtent { end: i, open: true });
    let mut i = label_end(text, s + BEGIN.len());
    let label = &text[s + BEGIN.len()..i];
    if label.len() > 40 {
        return None;
    }
    if dashes_pending(&text[i..]) {
        return open_at_end(text.len());
    }
    if !text[i..].starts_with(b"-----") || find_bytes(label, b"PRIVATE KEY").is_none() {
        return None;
    }
    i += 5;
    let limit = (s + MAX_PEM).min(text.len());
    while i < limit {
        let b = text[i];
        if b == b'-' && (text[i..].starts_with(b"-----") || dashes_pending(&text[i..])) {
            if dashes_pending(&text[i..])
                || text[i..].len() < END.len() && END.starts_with(&text[i..])
            {
                return open_at_end(text.len());
            }
            if text[i..].starts_with(END) {
                let f = label_end(text, i + END.len());
                if text[f..].starts_with(b"-----") {
                    return Some(PemExtent {
                        end: f + 5,
                        open: false,
                    });
                }
                if dashes_pending(&text[f..]) {
                    return open_at_end(text.len());
                }
            }
            break;
        }
        if !(b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'+' | b'/' | b'=' | b':' | b',' | b'-' | b' ' | b'\t' | b'\r' | b'\n'
            ))
        {
            break;
        }
        i += 1;
    }
    if i == text.len() && i < s + MAX_PEM {
        return open_at_end(i);
    }
    Some(PemExtent {
        end: trim_ws(text, s, i),
        open: false,
    })
}

/// End of a PEM label (`RSA PRIVATE KEY`) starting at `i`, at most 41 bytes on.
fn label_end(text: &[u8], mut i: usize) -> usize {
    let st = i;
    while i < text.len()
        && i - st <= 40
        && (text[i].is_ascii_uppercase() || text[i].is_ascii_digit() || text[i] == b' ')
    {
        i += 1;
    }
    i
}

/// `rest` is what remains of the text and is a proper prefix of `-----` (possibly empty):
/// the block is still arriving.
fn dashes_pending(rest: &[u8]) -> bool {
    rest.len() < 5 && rest.iter().all(|&b| b == b'-')
}

fn trim_ws(text: &[u8], s: usize, mut e: usize) -> usize {
    while e > s && text[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    e
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// End of the base64url run at `s`; `s + cap + 1` marks a run longer than `cap`.
fn run_end(text: &[u8], s: usize, cap: usize) -> usize {
    let mut e = s;
    while e < text.len() && is_b64url(text[e]) {
        if e - s > cap {
            return e;
        }
        e += 1;
    }
    e
}

fn header_has_alg(h: &[u8]) -> bool {
    if h.len() > MAX_JWT_HEADER {
        return false;
    }
    let Some(json) = base64::decode(h, Alphabet::UrlUnpadded) else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(&json),
        Ok(serde_json::Value::Object(m)) if m.contains_key("alg")
    )
}
