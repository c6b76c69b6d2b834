//! IP addresses. IPv4: four dotted decimal octets <= 255 without leading zeros, not part
//! of a longer dotted run (`1.2.3.4.5`) and not glued to a letter (`v1.2.3.4`). IPv6:
//! full, `::`-compressed, or with an embedded IPv4 tail; at least two non-empty groups.
//! Each candidate run is visited once and capped in length, so the scan is linear.

use super::entity::Builtin;
use super::scan::Span;

const MAX_V6: usize = 45;

fn is_run(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IP addresses, fed every `.` and `:` of a text in order: every address holds one, so
/// only the maximal runs around those are read.
#[derive(Default)]
pub(super) struct Ips {
    /// End of the last run read: marks before it were part of it.
    from: usize,
}

impl Ips {
    pub fn at(&mut self, text: &[u8], m: usize, out: &mut Vec<Span>) {
        let from = self.from;
        if m < from {
            return;
        }
        let mut i = m;
        while i > from && is_run(text[i - 1]) {
            i -= 1;
        }
        let mut e = m + 1;
        while e < text.len() && is_run(text[e]) {
            e += 1;
        }
        self.from = e;
        if i > 0
            && (text[i - 1].is_ascii_alphanumeric() || matches!(text[i - 1], b'_' | b'.' | b':'))
        {
            return;
        }
        // A run glued to a non-hex letter or `_` (`std::abc`, `1.2.3.4x`) is not an address.
        let glued = e < text.len() && (text[e].is_ascii_alphanumeric() || text[e] == b'_');
        if glued {
            return;
        }
        let mut end = e;
        // One trailing `.` or `:` is punctuation of the sentence.
        if end > i && matches!(text[end - 1], b'.' | b':') && !text[i..end].ends_with(b"::") {
            end -= 1;
        }
        let run = &text[i..end];
        let marks = run.iter().filter(|&&b| b == b'.' || b == b':').count();
        if marks >= 2 && (is_v4(run) || (run.len() <= MAX_V6 && is_v6(run))) {
            out.push(Span {
                start: i,
                end,
                kind: Builtin::IpAddress,
            });
        }
    }
}

pub(super) fn is_v4(s: &[u8]) -> bool {
    let mut parts = 0;
    for p in s.split(|&b| b == b'.') {
        parts += 1;
        if parts > 4 || !octet(p) {
            return false;
        }
    }
    parts == 4
}

fn octet(p: &[u8]) -> bool {
    if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if p.len() > 1 && p[0] == b'0' {
        return false;
    }
    p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 255
}

fn is_v6(s: &[u8]) -> bool {
    if s.iter().filter(|&&b| b == b':').count() < 2 {
        return false;
    }
    let (head, tail, compressed) = match find_double_colon(s) {
        Some(k) => (&s[..k], &s[k + 2..], true),
        None => (s, &s[..0], false),
    };
    if compressed && find_double_colon(tail).is_some() {
        return false;
    }
    let mut groups = 0;
    let mut nonempty = 0;
    let mut v4_seen = false;
    for (side, part) in [(0, head), (1, tail)] {
        if part.is_empty() {
            continue;
        }
        let pieces: Vec<&[u8]> = part.split(|&b| b == b':').collect();
        for (k, g) in pieces.iter().enumerate() {
            let last = k + 1 == pieces.len() && (side == 1 || !compressed);
            if last && g.contains(&b'.') {
                if !is_v4(g) {
                    return false;
                }
                groups += 2;
                nonempty += 2;
                v4_seen = true;
            } else if g.is_empty() || g.len() > 4 || !g.iter().all(u8::is_ascii_hexdigit) {
                return false;
            } else {
                groups += 1;
                nonempty += 1;
            }
        }
    }
    let _ = v4_seen;
    if compressed {
        groups <= 7 && nonempty >= 2
    } else {
        groups == 8
    }
}

fn find_double_colon(s: &[u8]) -> Option<usize> {
    s.windows(2).position(|w| w == b"::")
}
