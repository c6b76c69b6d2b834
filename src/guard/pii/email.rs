//! E-mail addresses: anchored at each `@`, a dot-atom local part (at most 64 bytes) and a
//! domain of at least two labels whose last label is alphabetic (2 to 24 letters, or a
//! punycode `xn--` label). Work per `@` is bounded, so the scan is linear.

use super::entity::Builtin;
use super::scan::Span;

const MAX_LOCAL: usize = 64;
const MAX_DOMAIN: usize = 253;

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// E-mails, fed every `@` of a text in order.
#[derive(Default)]
pub(super) struct Emails {
    /// `@` before this lie inside an address already taken.
    next: usize,
}

impl Emails {
    pub fn at(&mut self, text: &[u8], i: usize, out: &mut Vec<Span>) {
        if i < self.next {
            return;
        }
        if let Some((start, end)) = address_around(text, i) {
            out.push(Span {
                start,
                end,
                kind: Builtin::Email,
            });
            self.next = end;
        }
    }
}

fn address_around(text: &[u8], at: usize) -> Option<(usize, usize)> {
    // Local part: walk left, at most MAX_LOCAL + 1 bytes.
    let mut s = at;
    while s > 0 && at - s <= MAX_LOCAL && is_local(text[s - 1]) {
        s -= 1;
    }
    if at - s > MAX_LOCAL {
        return None;
    }
    while s < at && text[s] == b'.' {
        s += 1;
    }
    let local = &text[s..at];
    if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    // Domain: walk right, then drop a trailing sentence dot or hyphen.
    let mut e = at + 1;
    while e < text.len() && e - at <= MAX_DOMAIN && is_domain(text[e]) {
        e += 1;
    }
    if e - at > MAX_DOMAIN || (e < text.len() && matches!(text[e], b'@' | b'_')) {
        return None;
    }
    while e > at + 1 && matches!(text[e - 1], b'.' | b'-') {
        e -= 1;
    }
    let domain = &text[at + 1..e];
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return None;
        }
        labels += 1;
        last = label;
    }
    let tld_ok = (2..=24).contains(&last.len()) && last.iter().all(u8::is_ascii_alphabetic)
        || (last.len() > 4 && last[..4].eq_ignore_ascii_case(b"xn--"));
    (labels >= 2 && tld_ok).then_some((s, e))
}
