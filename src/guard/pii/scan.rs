//! One scan of a text with every enabled detector, overlaps resolved; and the hold-back
//! rule that lets the streaming output guard see the same matches as a one-shot scan.

use super::context::RIGHT;
use super::email::Emails;
use super::entity::Builtin;
use super::ip::Ips;
use super::numeric::{self, group_like, is_piece_byte, Numbers};
use super::secret::{self, pem_extent, Blocks};
use super::PolicyInner;
use crate::swar::{bytes_equal, chunk, in_range};

/// A raw hit of a built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: Builtin,
}

/// One detected entity in a text: byte range (on char boundaries) and the index of the
/// entity rule in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiiMatch {
    pub start: usize,
    pub end: usize,
    pub entity: usize,
}

/// Every match of the policy's enabled entities in `text`, sorted and non-overlapping.
/// An earlier match wins an overlap; at the same start the longer one wins.
pub(super) fn detect(policy: &PolicyInner, text: &str, out: &mut Vec<PiiMatch>) {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    find_anchored(policy, bytes, &mut spans);
    if policy.builtin[Builtin::Secret as usize].is_some() {
        secret::find_tokens(bytes, &mut spans);
    }
    let first = out.len();
    for s in spans {
        if let Some(entity) = policy.builtin[s.kind as usize] {
            out.push(PiiMatch {
                start: s.start,
                end: s.end,
                entity,
            });
        }
    }
    for c in &policy.custom {
        for m in c.regex.find_iter(text) {
            if m.start() < m.end() && c.validator.is_none_or(|v| v.accepts(m.as_str())) {
                out.push(PiiMatch {
                    start: m.start(),
                    end: m.end(),
                    entity: c.entity,
                });
            }
        }
    }
    resolve_overlaps(&mut out[first..]);
    let mut keep = first;
    let mut last_end = 0;
    for k in first..out.len() {
        let m = out[k];
        if k == first || m.start >= last_end {
            out[keep] = m;
            keep += 1;
            last_end = m.end;
        }
    }
    out.truncate(keep);
}

/// The detectors that start from an anchor byte share one pass over the text: each is
/// fed its anchors in order and keeps its own position, so it finds what a scan of its
/// own would. The order of `out` does not matter (see [`resolve_overlaps`]).
fn find_anchored(policy: &PolicyInner, text: &[u8], out: &mut Vec<Span>) {
    let on = |b: Builtin| policy.builtin[b as usize].is_some();
    let (email_on, ip_on, secret_on) = (
        on(Builtin::Email),
        on(Builtin::IpAddress),
        on(Builtin::Secret),
    );
    let numbers_on = policy.wanted.any();
    let mut emails = Emails::default();
    let mut numbers = Numbers::new(policy.wanted);
    let mut ips = Ips::default();
    let mut blocks = Blocks::default();
    for_each_anchor(text, |i| match text[i] {
        b'@' if email_on => emails.at(text, i, out),
        b'0'..=b'9' if numbers_on => numbers.at(text, i, out),
        b'.' if ip_on => ips.at(text, i, out),
        b':' => {
            if ip_on {
                ips.at(text, i, out);
            }
            if secret_on {
                secret::assignment_at(text, i, out);
            }
        }
        b'=' if secret_on => secret::assignment_at(text, i, out),
        b'-' if secret_on => blocks.pem_at(text, i, out),
        b'J' if secret_on => blocks.jwt_at(text, i, out),
        _ => {}
    });
}

/// Calls `f` in order with the position of every `J`, every byte from `-` to `@`
/// (`- . : = @`, the digits, `/ ; < > ?`) except a digit right after a digit (the number
/// detector reads a whole piece from its first digit), and of every byte of a last
/// chunk shorter than eight (`f` checks the byte).
fn for_each_anchor(text: &[u8], mut f: impl FnMut(usize)) {
    let mut chunks = text.chunks_exact(8);
    let mut base = 0;
    let mut prev_digits = 0;
    for c in &mut chunks {
        let w = chunk(c);
        let digits = in_range(w, b'0', b'9');
        let digit_after_digit = digits & ((digits << 8) | (prev_digits >> 56));
        prev_digits = digits;
        let mut m = (in_range(w, b'-', b'@') & !digit_after_digit) | bytes_equal(w, b'J');
        while m != 0 {
            f(base + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
        base += 8;
    }
    for k in base..text.len() {
        f(k);
    }
}

/// Sorts by start, longer first; secrets before other kinds at equal ranges.
fn resolve_overlaps(ms: &mut [PiiMatch]) {
    ms.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.entity.cmp(&b.entity))
    });
}

/// Bytes that can be part of an entity or its immediate context: ASCII alphanumerics
/// and the punctuation found inside e-mails, keys, URLs-like tokens, placeholders.
pub(super) fn is_entity_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'@' | b'.'
                | b'-'
                | b'_'
                | b'+'
                | b'('
                | b')'
                | b'/'
                | b':'
                | b'='
                | b'%'
                | b'~'
                | b'#'
                | b'['
                | b']'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'*'
                | b'?'
                | b'^'
                | b'{'
                | b'|'
                | b'}'
                | b'`'
        )
}

/// Longest trailing token the output guard holds back while it may still grow into an
/// entity (JWTs longer than this are scanned in pieces and may be missed when split).
pub const MAX_HOLD: usize = 2048;

/// Where the undecided tail of `t` starts: text before it can be judged now, because no
/// entity can span the boundary whatever comes next. The tail is the union of
/// - the trailing token of entity bytes (an e-mail, key, IP, placeholder prefix `[EMA`),
/// - the trailing run of number groups joined by single spaces (`+1 415 555 `),
/// - an unfinished PEM private key block (up to `secret::MAX_PEM`),
/// - a number less than `context::RIGHT` bytes before the end, with its run,
///
/// each capped at [`MAX_HOLD`] bytes except the PEM block.
pub(super) fn holdback(t: &[u8]) -> usize {
    let n = t.len();
    let mut h = n;
    while h > 0 && n - h < MAX_HOLD && is_entity_byte(t[h - 1]) {
        h -= 1;
    }
    // The number run that could cross `h`: start from the piece that begins there.
    let mut cur_start = h;
    let mut cur_end = h;
    while cur_end < n && is_piece_byte(t[cur_end]) {
        cur_end += 1;
    }
    // A pending last piece may still join the run, unless it holds a lower-case letter:
    // no validator accepts one and it can never be a neighbour that vetoes a span.
    let mut cur_is_last = cur_end == n && !t[h..n].iter().any(u8::is_ascii_lowercase);
    let mut start = h;
    while n - start < MAX_HOLD {
        if cur_start < 2 || t[cur_start - 1] != b' ' || !is_piece_byte(t[cur_start - 2]) {
            break;
        }
        if !(cur_is_last || group_like(&t[cur_start..cur_end]) || cur_end == n && cur_start == n) {
            break;
        }
        let prev_end = cur_start - 1;
        let mut prev_start = prev_end;
        while prev_start > 0
            && prev_end - prev_start <= numeric::MAX_GROUP
            && is_piece_byte(t[prev_start - 1])
        {
            prev_start -= 1;
        }
        if !group_like(&t[prev_start..prev_end]) {
            break;
        }
        start = prev_start;
        cur_start = prev_start;
        cur_end = prev_end;
        cur_is_last = false;
    }
    h = h.min(start);
    // A number that ended less than `context::RIGHT` bytes ago: the word after it
    // (`(mobile)`, `USD`) or an extension (` ext. 123`) may still change it.
    let near = n.saturating_sub(RIGHT);
    if let Some(k) = t[near..].iter().rposition(u8::is_ascii_digit) {
        let mut s = near + k;
        while s > 0
            && n - s < MAX_HOLD
            && matches!(
                t[s - 1],
                b'0'..=b'9' | b' ' | b'-' | b'.' | b'(' | b')' | b'+'
            )
        {
            s -= 1;
        }
        while t[s] == b' ' {
            s += 1;
        }
        h = h.min(s);
    }
    if let Some(p) = rfind(t, b"-----BEGIN") {
        let header_pending = t.len() - p < 11;
        if header_pending || (t[p + 10] == b' ' && pem_extent(t, p).is_some_and(|e| e.open)) {
            h = h.min(p);
        }
    }
    h
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| hay[i..].starts_with(needle))
}
