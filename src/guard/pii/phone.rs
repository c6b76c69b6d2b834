//! Phone numbers, by format and numbering plan rather than digit count:
//!
//! - international E.164, `+CC` then the national number (8 to 15 digits in all), the
//!   country code decoded prefix-free from ITU's assignments;
//! - North American (NANP) `(415) 555-0132`, `415-555-0132`, `415.555.0132`,
//!   `415 555 0132`, `1-415-555-0132`, `+1 415 555 0132`: area code and exchange
//!   `[2-9]XX`, neither `N11`;
//! - Korean mobile `010-1234-5678`, `01012345678`, `+82 10-1234-5678` and landline
//!   `02-123-4567`, `031-1234-5678` (area codes 02, 031-033, 041-044, 051-055, 061-064,
//!   and 070).
//!
//! Bare ten-digit runs without `+` are not taken: too many order numbers look like them.

/// Korean landline area codes after the trunk `0` (`02` -> `2`).
const KR_AREAS: &[&[u8]] = &[
    b"2", b"31", b"32", b"33", b"41", b"42", b"43", b"44", b"51", b"52", b"53", b"54", b"55",
    b"61", b"62", b"63", b"64", b"70",
];

/// Two-digit country codes; one-digit ones are 1 and 7, every other code has three digits.
const CC2: &[u8] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// A number split into digit groups and the separators between them.
struct Shape<'a> {
    plus: bool,
    groups: [&'a [u8]; 8],
    n: usize,
    /// Separator before group k (index 0: before the first group, after `+`).
    seps: [&'a [u8]; 8],
}

impl<'a> Shape<'a> {
    fn parse(c: &'a [u8]) -> Option<Shape<'a>> {
        let mut s = Shape {
            plus: false,
            groups: [&[]; 8],
            n: 0,
            seps: [&[]; 8],
        };
        let mut i = 0;
        if c.first() == Some(&b'+') {
            s.plus = true;
            i = 1;
        }
        while i < c.len() {
            let st = i;
            while i < c.len() && matches!(c[i], b' ' | b'-' | b'.' | b'(' | b')') {
                i += 1;
            }
            if i - st > 2 || s.n == 8 {
                return None;
            }
            s.seps[s.n] = &c[st..i];
            let g = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            if i == g {
                return None;
            }
            s.groups[s.n] = &c[g..i];
            s.n += 1;
        }
        (s.n > 0).then_some(s)
    }

    fn lens(&self) -> ([usize; 8], usize) {
        let mut l = [0; 8];
        for (len, g) in l.iter_mut().zip(&self.groups[..self.n]) {
            *len = g.len();
        }
        (l, self.n)
    }

    fn digits(&self) -> ([u8; 24], usize) {
        let mut d = [0; 24];
        let mut n = 0;
        for g in &self.groups[..self.n] {
            for &b in *g {
                if n == 24 {
                    return (d, n);
                }
                d[n] = b;
                n += 1;
            }
        }
        (d, n)
    }
}

pub(super) fn is_phone(c: &[u8]) -> bool {
    let Some(s) = Shape::parse(c) else {
        return false;
    };
    if s.plus {
        international(&s)
    } else {
        national_us(&s, 0) || national_kr(&s)
    }
}

fn plain_sep(sep: &[u8]) -> bool {
    matches!(sep, b" " | b"-" | b".")
}

/// NANP `[area, exchange, line]` starting at group `k`, area in parens or not.
fn national_us(s: &Shape, k: usize) -> bool {
    let (l, n) = s.lens();
    let mut k = k;
    // Optional leading trunk `1` (national form only).
    if k == 0 && !s.plus && n == 4 && s.groups[0] == b"1" {
        if !plain_sep(s.seps[1]) && s.seps[1] != b" (" && s.seps[1] != b"(" {
            return false;
        }
        k = 1;
    }
    if n - k == 1 && s.plus && l[k] == 10 {
        let g = s.groups[k];
        return nanp(&g[..3], &g[3..6]) && s.seps[k].len() <= 1;
    }
    if n - k != 3 || l[k] != 3 || l[k + 1] != 3 || l[k + 2] != 4 {
        return false;
    }
    let (before, mid, last) = (s.seps[k], s.seps[k + 1], s.seps[k + 2]);
    let paren = before.ends_with(b"(") && (mid == b")" || mid == b") " || mid == b")-");
    let layout = if paren {
        plain_sep(last)
    } else {
        !before.contains(&b'(') && plain_sep(mid) && mid == last
    };
    layout && nanp(s.groups[k], s.groups[k + 1])
}

fn nanp(area: &[u8], exchange: &[u8]) -> bool {
    let n11 = |g: &[u8]| g[1] == b'1' && g[2] == b'1';
    area[0] >= b'2' && exchange[0] >= b'2' && area[1] != b'9' && !n11(area) && !n11(exchange)
}

fn national_kr(s: &Shape) -> bool {
    let (l, n) = s.lens();
    let g = &s.groups;
    if n == 1 {
        // Bare mobile numbers: 010 + 8 digits (or the old 01X + 7 digits).
        let d = g[0];
        return s.seps[0].is_empty()
            && ((l[0] == 11 && d.starts_with(b"010"))
                || (l[0] == 10 && d.starts_with(b"01") && matches!(d[2], b'1' | b'6'..=b'9')));
    }
    if n != 3 || l[2] != 4 || !(3..=4).contains(&l[1]) {
        return false;
    }
    let paren = s.seps[0] == b"(" && (s.seps[1] == b")" || s.seps[1] == b") ");
    let seps_ok = (s.seps[0].is_empty() && plain_sep(s.seps[1]) && s.seps[1] == s.seps[2])
        || (paren && plain_sep(s.seps[2]));
    if !seps_ok || g[0][0] != b'0' {
        return false;
    }
    let head = &g[0][1..];
    mobile_prefix(head, l[1]) || KR_AREAS.contains(&head)
}

/// `1X` after the trunk 0: 010 needs a four-digit middle group, 011/016-019 three or four.
fn mobile_prefix(head: &[u8], mid: usize) -> bool {
    match head {
        b"10" => mid == 4,
        [b'1', b'1' | b'6'..=b'9'] => true,
        _ => false,
    }
}

fn international(s: &Shape) -> bool {
    let (d, nd) = s.digits();
    let d = &d[..nd];
    if !(8..=15).contains(&nd) || !s.seps[0].is_empty() {
        return false;
    }
    let cc_len = country_code_len(d);
    let Some(cc_len) = cc_len else {
        return false;
    };
    // The country code is its own group, or the whole number is written without breaks.
    let first = s.groups[0].len();
    if s.n > 1 && first != cc_len {
        return false;
    }
    // Separators: at most one kind among the national groups, parens only around the
    // first national group.
    let mut kind: Option<&[u8]> = None;
    for k in 1..s.n {
        let sep = s.seps[k];
        if sep.is_empty() || sep.contains(&b'(') || sep.contains(&b')') {
            continue;
        }
        if k > 1 {
            if kind.is_some_and(|x| x != sep) {
                return false;
            }
            kind = Some(sep);
        }
    }
    for k in 1..s.n {
        let sep = s.seps[k];
        let paren_open = k == 1 && matches!(sep, b" (" | b"(");
        let paren_close = k == 2 && matches!(sep, b")" | b") " | b")-");
        if !(plain_sep(sep) || paren_open || paren_close) {
            return false;
        }
    }
    let national = &d[cc_len..];
    match &d[..cc_len] {
        b"1" => {
            national.len() == 10 && national_us_groups(s) && nanp(&national[..3], &national[3..6])
        }
        b"82" => korean_national(national),
        _ => (s.n == 1 || s.groups[1..s.n].iter().all(|g| g.len() <= 5)) && national.len() >= 6,
    }
}

/// After `+1`: groups 3-3-4 or one group of ten.
fn national_us_groups(s: &Shape) -> bool {
    let (l, n) = s.lens();
    n == 1 || (n == 2 && l[1] == 10) || (n == 4 && l[1] == 3 && l[2] == 3 && l[3] == 4)
}

/// After `+82` (a leading trunk 0, often written, is tolerated).
fn korean_national(national: &[u8]) -> bool {
    let nat = national.strip_prefix(b"0").unwrap_or(national);
    let n = nat.len();
    if nat.len() >= 2 && nat[0] == b'1' && matches!(nat[1], b'0' | b'1' | b'6'..=b'9') {
        return n == 10 || (n == 9 && nat[1] != b'0');
    }
    KR_AREAS
        .iter()
        .any(|a| nat.starts_with(a) && (7..=8).contains(&(n - a.len())))
}

fn country_code_len(d: &[u8]) -> Option<usize> {
    match d.first()? {
        b'1' | b'7' => Some(1),
        b'0' => None,
        _ => {
            let two = (d[0] - b'0') * 10 + (d[1] - b'0');
            Some(if CC2.contains(&two) { 2 } else { 3 })
        }
    }
}
