//! Phone numbers, by the shape people write them in, graded by how sure the shape alone
//! makes us ([`Grade`]); the number finder (`numeric.rs`) asks the words around for the
//! weaker grades (`context.rs`).
//!
//! Sure anywhere:
//! - international: `+CC`, `00CC`, `011 CC` then the national number (country code from
//!   ITU's assignments, 6-13 national digits, `+1` exactly ten), any grouping with
//!   spaces, dashes, dots, parentheses, the trunk written as `(0)` (`+44 (0)20 7946 0958`);
//! - North American 3-3-4 (`(415) 555-0132`, `415.555.0132`, `1-415-555-0132`,
//!   `1 (415) 555-0132`) with a valid area code and exchange;
//! - a trunk `0` area or mobile prefix then groups (`020 7946 0958`, `030 123456`,
//!   `01 23 45 67 89`, `06-1234-5678`, `(02) 1234 5678`, `0412 345 678`, `0 801 23 45 67`),
//!   9 to 14 digits; Brazilian `(11) 96123-4567`; Spanish `612 34 56 78`; Indian mobile
//!   `98765 43210`; `75-6508-8995` (2-4-4, 3-4-4); toll-free `1800 123 456`;
//!   Korean mobile `01012345678`.
//!
//! Likely (taken unless the words before say order, account, ISBN... or it sits in code):
//! bare `0` + 9-10 digits, not a valid ISBN-10; the North American shapes with an area
//! code or exchange no plan assigned (`123-456-7890`, `+1 (150) 889-9579`): people and
//! generators write them, and the value is still theirs.
//!
//! Plausible (taken only where the words around say phone, call, fax, Telefon, 電話...):
//! any other 7-15 digits in groups (`555-0132`, `4656 3414`), bare national digits
//! (`7296313758`): ten bare digits are as often an order number as a phone number.
//!
//! Extensions (`x123`, ` ext. 123`, `#123`, `;ext=123`) belong to the number: see
//! [`extension_len`].

/// How much the shape alone says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Grade {
    /// Digits a phone number may be written as, and so may much else.
    Plausible,
    /// Usually a phone number; not next to words that say it is something else.
    Likely,
    /// Only phone numbers look like this.
    Sure,
}

/// Two-digit country codes; one-digit ones are 1 and 7, every other code has three digits.
const CC2: &[u8] = &[
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56,
    57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
];

/// Most groups in one number (`+33 (0)1 41 63 60 83` has seven).
const MAX_GROUPS: usize = 10;

/// A number split into digit groups and the separators before them.
struct Shape<'a> {
    plus: bool,
    groups: [&'a [u8]; MAX_GROUPS],
    n: usize,
    /// Separator before group k (index 0: before the first group, after `+`).
    seps: [&'a [u8]; MAX_GROUPS],
}

impl<'a> Shape<'a> {
    fn parse(c: &'a [u8]) -> Option<Shape<'a>> {
        let mut s = Shape {
            plus: false,
            groups: [&[]; MAX_GROUPS],
            n: 0,
            seps: [&[]; MAX_GROUPS],
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
            if i - st > 2 || s.n == MAX_GROUPS {
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

    fn len(&self, k: usize) -> usize {
        self.groups[k].len()
    }

    fn lens_are(&self, want: &[usize]) -> bool {
        self.n == want.len() && want.iter().enumerate().all(|(k, &l)| self.len(k) == l)
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

    /// Whether the separators from group `from` on are one plain kind, or the first of
    /// them closes a parenthesis (`(02) 1234 5678`, `(0161) 496-0066`).
    fn plain_from(&self, from: usize) -> bool {
        let mut kind: Option<&[u8]> = None;
        for k in from..self.n {
            let sep = self.seps[k];
            if k == from && is_paren_close(sep) {
                continue;
            }
            if !plain(sep) || kind.is_some_and(|x| x != sep) {
                return false;
            }
            kind = Some(sep);
        }
        true
    }

    /// The first group, `(0XX)` or `0XX`: a parenthesis opened before it closes after it.
    fn first_wrapped_ok(&self) -> bool {
        match self.seps[0] {
            b"" => self.n < 2 || !self.seps[1].starts_with(b")"),
            b"(" => self.n > 1 && is_paren_close(self.seps[1]),
            _ => false,
        }
    }
}

fn plain(sep: &[u8]) -> bool {
    matches!(sep, b" " | b"-" | b".")
}

fn is_paren_close(sep: &[u8]) -> bool {
    matches!(sep, b")" | b") " | b")-" | b")." | b" )")
}

/// The grade of `c` (digits, separators, maybe a leading `+`), `None` if no phone number
/// is written so.
pub(super) fn grade(c: &[u8]) -> Option<Grade> {
    let s = Shape::parse(c)?;
    let (d, nd) = s.digits();
    let d = &d[..nd];
    if s.plus {
        if !international(&s, d, 0) {
            return None;
        }
        // `+1` with an area code or exchange no plan assigned: as the national form.
        let nanp_ok = d[0] != b'1' || d.len() < 11 || nanp(&d[1..4], &d[4..7]);
        return Some(if nanp_ok { Grade::Sure } else { Grade::Likely });
    }
    if let Some(skip) = idd_prefix(&s) {
        // `0049 30 1234567`, `001-269-420-6159`; not `008-9974605-4680479`.
        let long_groups = (1..s.n).filter(|&k| s.len(k) > 4).count();
        if long_groups <= 1 && international(&s, d, skip) {
            // Written as one bare run, `0049301234567` could be an id padded with zeros.
            return Some(if s.n > 1 {
                Grade::Sure
            } else {
                Grade::Plausible
            });
        }
    }
    if national_sure(&s, d) {
        return Some(Grade::Sure);
    }
    if nanp_layout(&s) {
        // `123-456-7890`: the shape of a North American number, an area code or exchange
        // no plan assigned (generators and people write them; so do ticket ids).
        return Some(Grade::Likely);
    }
    if s.n == 1 && likely_bare(d) {
        return Some(Grade::Likely);
    }
    plausible(&s, d).then_some(Grade::Plausible)
}

/// Digits of an international call prefix written before the country code: `00`, or
/// `011` (from North America) as a group of its own.
fn idd_prefix(s: &Shape) -> Option<usize> {
    let g = s.groups[0];
    // `00` + a country code is at most five digits before the first break.
    if !s.seps[0].is_empty() || s.n > 1 && g.len() > 5 {
        return None;
    }
    if g == b"011" && s.n > 1 {
        return Some(3);
    }
    (g.len() >= 2 && g.starts_with(b"00") && g.get(2).is_none_or(|&x| x != b'0')).then_some(2)
}

/// `+` or an international prefix (`skip` digits of `d`), country code, national number.
fn international(s: &Shape, d: &[u8], skip: usize) -> bool {
    let d = &d[skip..];
    let Some(cc_len) = country_code_len(d) else {
        return false;
    };
    // `(0)`: the trunk prefix, written for readers dialling from inside the country.
    let trunk = (1..s.n).any(|k| s.groups[k] == b"0" && s.seps[k].ends_with(b"("));
    let national = d.len() - cc_len - usize::from(trunk);
    if d.len() > 15 + usize::from(trunk) {
        return false;
    }
    // Separators: plain, or parentheses around one group (the area code or the trunk).
    let mut open = false;
    for k in 1..s.n {
        let sep = s.seps[k];
        if sep.ends_with(b"(") {
            if open || !matches!(sep, b"(" | b" (") {
                return false;
            }
            open = true;
        } else if sep.starts_with(b")") {
            if !open || !is_paren_close(sep) {
                return false;
            }
            open = false;
        } else if !plain(sep) {
            return false;
        }
    }
    if open || !s.seps[0].is_empty() {
        return false;
    }
    match &d[..cc_len] {
        // `+1 310-1234`: Canada's seven-digit 310 numbers.
        b"1" => national == 10 || national == 7 && d[1..4] == *b"310",
        b"7" => national == 10,
        _ => (6..=13).contains(&national),
    }
}

fn country_code_len(d: &[u8]) -> Option<usize> {
    match d.first()? {
        b'1' | b'7' => Some(1),
        b'0' => None,
        _ => {
            let two = (d.get(1)? - b'0') + 10 * (d[0] - b'0');
            Some(if CC2.contains(&two) { 2 } else { 3 })
        }
    }
}

/// National formats only phone numbers take.
fn national_sure(s: &Shape, d: &[u8]) -> bool {
    (nanp_layout(s) && {
        let k = s.n - 3;
        nanp(s.groups[k], s.groups[k + 1])
    }) || trunk_layout(s, d)
        || brazil(s)
        || spain(s)
        || india_mobile(s)
        || two_four_four(s)
        || toll_free(s, d)
        || korean_mobile_bare(s)
}

/// `[1 ]` then 3-3-4, the area code in parentheses or not.
fn nanp_layout(s: &Shape) -> bool {
    let k = usize::from(s.n == 4 && s.groups[0] == b"1");
    if k == 1 && !(plain(s.seps[1]) || matches!(s.seps[1], b" (" | b"(" | b"-(")) {
        return false;
    }
    if s.n - k != 3 || s.len(k) != 3 || s.len(k + 1) != 3 || s.len(k + 2) != 4 {
        return false;
    }
    let (before, mid, last) = (s.seps[k], s.seps[k + 1], s.seps[k + 2]);
    if before.ends_with(b"(") {
        return is_paren_close(mid) && plain(last);
    }
    (k == 1 || before.is_empty()) && plain(mid) && plain(last)
}

/// A trunk `0` with its area or mobile prefix (2-6 digits, maybe in parentheses), then
/// groups; 9-14 digits (German `0800 1234567890`). French `0 8XX XX XX XX` too.
fn trunk_layout(s: &Shape, d: &[u8]) -> bool {
    if s.n < 2 || !(9..=14).contains(&d.len()) || !s.first_wrapped_ok() {
        return false;
    }
    let g0 = s.groups[0];
    if g0 == b"0" {
        return s.lens_are(&[1, 3, 2, 2, 2]) && s.plain_from(1);
    }
    if g0[0] != b'0' || g0[1] == b'0' || !(2..=6).contains(&g0.len()) {
        return false;
    }
    // ZIP+4 (`02134-1234`), US SSN (`077-12-7278`), Korean RRN shapes are no phone numbers.
    if s.lens_are(&[5, 4]) && s.seps[1] == b"-" || s.lens_are(&[3, 2, 4]) || s.lens_are(&[6, 7]) {
        return false;
    }
    // Inner groups of one digit after a long prefix: German `0900 1 234567`.
    let inner_ok =
        |k: usize| (2..=8).contains(&s.len(k)) || s.len(k) == 1 && k + 1 < s.n && g0.len() >= 4;
    (1..s.n).all(inner_ok) && s.plain_from(1)
}

/// `(11) 2345-6789`, `11 96123-4567`: two-digit area code without zeros, 4 or 5 digits,
/// a dash, 4 digits.
fn brazil(s: &Shape) -> bool {
    let g = s.groups[0];
    s.n == 3
        && g.len() == 2
        && g[0] != b'0'
        && g[1] != b'0'
        && (4..=5).contains(&s.len(1))
        && s.len(2) == 4
        && s.seps[2] == b"-"
        && (matches!(s.seps[1], b" ") && s.seps[0].is_empty()
            || s.seps[0] == b"(" && s.seps[1] == b") ")
}

/// `612 34 56 78`: 3-2-2-2 starting 5-9, spaces.
fn spain(s: &Shape) -> bool {
    s.lens_are(&[3, 2, 2, 2])
        && (b'5'..=b'9').contains(&s.groups[0][0])
        && s.seps[0].is_empty()
        && (1..4).all(|k| s.seps[k] == b" ")
}

/// `98765 43210`: Indian mobile numbers start 6-9.
fn india_mobile(s: &Shape) -> bool {
    s.lens_are(&[5, 5])
        && s.seps[1] == b" "
        && s.seps[0].is_empty()
        && (b'6'..=b'9').contains(&s.groups[0][0])
}

/// `75-6508-8995`, `090-1234-5678`, `55 1234 5678`: 2 or 3 digits, then 4-4.
fn two_four_four(s: &Shape) -> bool {
    s.n == 3
        && (2..=3).contains(&s.len(0))
        && s.len(1) == 4
        && s.len(2) == 4
        && s.seps[0].is_empty()
        && matches!(s.seps[1], b"-" | b" ")
        && s.seps[1] == s.seps[2]
}

/// `1800 123 456`, `1300 123 456`, `1860 345 1234`: Australian and Indian non-geographic.
fn toll_free(s: &Shape, d: &[u8]) -> bool {
    s.n >= 2
        && matches!(s.groups[0], b"1800" | b"1300" | b"1900" | b"1860" | b"1861")
        && (10..=13).contains(&d.len())
        && s.seps[0].is_empty()
        && s.plain_from(1)
}

/// `01012345678`: a Korean mobile number without separators.
fn korean_mobile_bare(s: &Shape) -> bool {
    let d = s.groups[0];
    s.n == 1 && s.seps[0].is_empty() && d.len() == 11 && d.starts_with(b"010")
}

/// Bare `0` + 9-10 digits that are no ISBN-10 (`0232781286`, `01914960069`).
fn likely_bare(d: &[u8]) -> bool {
    d[0] == b'0' && d[1] != b'0' && (d.len() == 11 || d.len() == 10 && !isbn10(d))
}

/// Area code `[2-9][0-8]X` and exchange `[2-9]XX`, neither `N11`.
fn nanp(area: &[u8], exchange: &[u8]) -> bool {
    let n11 = |g: &[u8]| g[1] == b'1' && g[2] == b'1';
    area[0] >= b'2' && exchange[0] >= b'2' && area[1] != b'9' && !n11(area) && !n11(exchange)
}

fn isbn10(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| (10 - i as u32) * u32::from(x - b'0'))
        .sum();
    sum % 11 == 0
}

/// 7-15 digits in groups of 2 to 12 (8-11 when bare), plain separators or one
/// parenthesised group; not a date (`2024-01-15`, `15.01.2024`), an amount
/// (`312734.00`), an address, a card or a national id.
fn plausible(s: &Shape, d: &[u8]) -> bool {
    let digits = if s.n == 1 { 8..=11 } else { 7..=15 };
    if !digits.contains(&d.len()) || (0..s.n).any(|k| !(2..=12).contains(&s.len(k))) {
        return false;
    }
    if !s.first_wrapped_ok() || !s.plain_from(1) {
        return false;
    }
    // Dotted groups of 1-3 digits are addresses, versions and amounts (`312734.00`).
    let dots = s.n > 1
        && s.seps[s.n - 1] == b"."
        && ((0..s.n).any(|k| s.len(k) < 3) || (0..s.n).all(|k| s.len(k) == 3));
    // 3-2-4 is a US SSN, 6-7 a Korean RRN, 4-4-4... a card.
    let id = s.lens_are(&[3, 2, 4]) || s.lens_are(&[6, 7]);
    let card = s.n >= 3 && (0..3).all(|k| s.len(k) == 4);
    !(dots || id || card || date_like(s))
}

fn date_like(s: &Shape) -> bool {
    let num = |g: &[u8]| g.iter().fold(0u32, |n, &x| n * 10 + u32::from(x - b'0'));
    let (l, g) = (&s, &s.groups);
    if s.n < 3 {
        return false;
    }
    let ymd = l.len(0) == 4 && l.len(1) <= 2 && l.len(2) <= 2;
    let dmy = l.len(0) <= 2 && l.len(1) <= 2 && l.len(2) == 4;
    (ymd && (1..=12).contains(&num(g[1])) && (1..=31).contains(&num(g[2])))
        || (dmy && (1..=31).contains(&num(g[0])) && (1..=31).contains(&num(g[1])))
}

/// Length of an extension written right at `text[at..]`: `x123`, ` x123`, ` ext. 123`,
/// ` ext 123`, `Ext.123`, ` extension 123`, `#123`, `;ext=123` (1-6 digits, then no
/// letter or digit); 0 when there is none.
pub(super) fn extension_len(text: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < text.len() && i - at < 2 && matches!(text[i], b' ' | b',') {
        i += 1;
    }
    let rest = &text[i..];
    let lower = |k: usize| rest.get(k).map(u8::to_ascii_lowercase);
    let marker = if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"extension") {
        9
    } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b";ext=") {
        5
    } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"ext") {
        3
    } else if lower(0) == Some(b'x') || rest.first() == Some(&b'#') {
        1
    } else {
        return 0;
    };
    i += marker;
    let after_marker = i;
    while i < text.len() && i - after_marker < 2 && matches!(text[i], b' ' | b'.' | b':') {
        i += 1;
    }
    let digits = i;
    while i < text.len() && i - digits < 7 && text[i].is_ascii_digit() {
        i += 1;
    }
    let n = i - digits;
    if !(1..=6).contains(&n) || text.get(i).is_some_and(u8::is_ascii_alphanumeric) {
        return 0;
    }
    i - at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades() {
        for v in [
            "+1 415 555 0132",
            "+44 (0)20 7946 0958",
            "+44(0)2074960074",
            "+49 (0) 9141 777631",
            "+33 (0)1 41 63 60 83",
            "+61.2.3289.2184",
            "+34842 91 41 77",
            "001-269-420-6159",
            "0049 30 123456",
            "011 44 20 7946 0958",
            "(250) 889-9579",
            "1 (786) 834-4978",
            "020 7946 0958",
            "(0161) 4960066",
            "04 15 39 15 00",
            "0 801 23 45 67",
            "(02).4397.2981",
            "12 3915-0008",
            "(11) 96123-4567",
            "612 34 56 78",
            "98765 43210",
            "75-6508-8995",
            "1800 123 456",
            "01012345678",
        ] {
            assert_eq!(grade(v.as_bytes()), Some(Grade::Sure), "{v}");
        }
        for v in [
            "0232781286",
            "01914960069",
            "(150) 889-9579",
            "+1 123 456 7890",
            "495-826-0214",
        ] {
            assert_eq!(grade(v.as_bytes()), Some(Grade::Likely), "{v}");
        }
        for v in [
            "555-0132",
            "4656 3414",
            "7296313758",
            "1712345678",
            "0306406152",
            "0049301234567",
        ] {
            assert_eq!(grade(v.as_bytes()), Some(Grade::Plausible), "{v}");
        }
        for v in [
            "2024-01-15",
            "15.01.2024",
            "02134-1234",
            "+12 34",
            "+0 12345678",
            "123456",
            "10.0.19041.1",
        ] {
            assert!(grade(v.as_bytes()) < Some(Grade::Likely), "{v}");
        }
    }

    #[test]
    fn extensions() {
        for (t, n) in [
            ("x220", 4),
            (" x220", 5),
            (" ext. 123", 9),
            (" ext 123", 8),
            ("#123", 4),
            (";ext=123", 8),
            (" Extension 12", 13),
            (" x", 0),
            ("x1234567", 0),
            (" xylophone", 0),
            ("x12a", 0),
        ] {
            assert_eq!(extension_len(t.as_bytes(), 0), n, "{t:?}");
        }
    }
}
