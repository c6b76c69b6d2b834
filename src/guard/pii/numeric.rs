//! Number-like entities (phone, card, SSN, RRN, IBAN) share one candidate finder.
//!
//! A *piece* is a maximal run of `[A-Za-z0-9+().-]`. Pieces that look like groups of a
//! number (they hold a digit, or are 1-4 capital letters as in `GB29 NWBK 6016`) and are
//! separated by exactly one space form a *run*, so `4111 1111 1111 1111` and
//! `+1 (415) 555 0132` are one run. Inside a run every span of up to [`MAX_PIECES`]
//! consecutive pieces is tried, longest first, against each validator; a span whose
//! neighbour in the run is a bare group of 3+ digits is skipped (it is a slice of a longer
//! number). Work per piece is bounded, so the scan is linear.
//!
//! The output guard holds back a trailing run for the same reason (see `scan::holdback`).

use super::card::is_card;
use super::context::{self, Says};
use super::entity::Builtin;
use super::iban::is_iban;
use super::national_id::{is_kr_rrn, is_us_ssn};
use super::phone::{self, Grade};
use super::scan::Span;

/// Most pieces in one candidate (an IBAN in print form has up to 9 groups).
pub(super) const MAX_PIECES: usize = 9;
/// Longest candidate, in bytes.
const MAX_CANDIDATE: usize = 48;
/// Shortest candidate the card, IBAN and national-id validators accept.
const MIN_CANDIDATE: usize = 9;
/// Shortest phone number (before its extension): seven digits (`5550132`), where the
/// words around say phone.
const MIN_PHONE: usize = 7;
/// Longest piece that can join a run.
pub(super) const MAX_GROUP: usize = 34;

static PIECE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'(' | b')' | b'.' | b'-');
        b += 1;
    }
    t
};

const DIGIT: u8 = 1;
const UPPER: u8 = 2;
const LOWER: u8 = 3;

/// Piece bytes by kind: 0 outside a piece, [`DIGIT`], [`UPPER`], [`LOWER`], 4 for
/// `+().-`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_lowercase() {
            LOWER
        } else if PIECE[b] {
            4
        } else {
            0
        };
        b += 1;
    }
    t
};

pub(super) fn is_piece_byte(b: u8) -> bool {
    PIECE[b as usize]
}

/// Whether a whole piece may join a run.
pub(super) fn group_like(p: &[u8]) -> bool {
    p.len() <= MAX_GROUP
        && (p.iter().any(u8::is_ascii_digit)
            || (p.len() <= 4 && p.iter().all(u8::is_ascii_uppercase)))
}

#[derive(Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    /// A group of 3 or more digits and no letters: a span next to one is a slice of a
    /// longer number.
    long_digits: bool,
    has_digit: bool,
    group_like: bool,
}

/// Which validators to run.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Wanted {
    pub phone: bool,
    pub card: bool,
    pub ssn: bool,
    pub rrn: bool,
    pub iban: bool,
}

impl Wanted {
    pub fn any(self) -> bool {
        self.phone || self.card || self.ssn || self.rrn || self.iban
    }
}

/// Number-like entities, fed every digit of a text in order. A run without a digit
/// yields nothing, and the digit-less groups (`GB`, `NWBK`) before a run's first digit
/// piece cannot change what [`check_run`] finds, so each run is read from the piece
/// holding its first digit.
pub(super) struct Numbers {
    want: Wanted,
    run: Vec<Piece>,
    /// End of the last run read (never inside a piece): digits before it were in it.
    from: usize,
}

impl Numbers {
    pub fn new(want: Wanted) -> Numbers {
        Numbers {
            want,
            run: Vec::new(),
            from: 0,
        }
    }

    pub fn at(&mut self, text: &[u8], digit: usize, out: &mut Vec<Span>) {
        if digit < self.from {
            return;
        }
        let mut st = digit;
        while st > self.from && is_piece_byte(text[st - 1]) {
            st -= 1;
        }
        self.run.clear();
        let mut p = piece_at(text, st);
        self.run.push(p);
        while p.group_like && text.get(p.end) == Some(&b' ') {
            // Exactly one space: a second one ends the run (the next piece is empty).
            let next = piece_at(text, p.end + 1);
            if next.start == next.end || !next.group_like {
                break;
            }
            self.run.push(next);
            p = next;
        }
        check_run(text, &self.run, self.want, out);
        self.from = p.end;
    }
}

/// The piece starting at `st` (empty when `text[st]` is not a piece byte).
fn piece_at(text: &[u8], st: usize) -> Piece {
    let (mut digits, mut upper, mut lower) = (0, 0, 0);
    let mut i = st;
    while i < text.len() {
        let class = CLASS[text[i] as usize];
        if class == 0 {
            break;
        }
        digits += usize::from(class == DIGIT);
        upper += usize::from(class == UPPER);
        lower += usize::from(class == LOWER);
        i += 1;
    }
    Piece {
        start: st,
        end: i,
        long_digits: digits >= 3 && upper + lower == 0,
        has_digit: digits > 0,
        group_like: group_like(&text[st..i]),
    }
}

fn check_run(text: &[u8], run: &[Piece], want: Wanted, out: &mut Vec<Span>) {
    let n = run.len();
    let mut i = 0;
    'start: while i < n {
        if !run[i].has_digit {
            i += 1;
            continue;
        }
        // What the words before the span say, read once for every span starting here.
        let mut said = None;
        // A `+CC` piece before the span belongs to the number.
        let left_digits = i > 0 && (run[i - 1].long_digits || text[run[i - 1].start] == b'+');
        for j in (i + 1..=(i + MAX_PIECES).min(n)).rev() {
            if run[j - 1].end - run[i].start > MAX_CANDIDATE && j > i + 1 {
                continue;
            }
            if left_digits || (j < n && run[j].long_digits) {
                continue;
            }
            let Some((a, b)) = trim(text, run[i].start, run[j - 1].end) else {
                continue;
            };
            if let Some((kind, end)) = classify(text, a, b, want, &mut said) {
                out.push(Span {
                    start: a,
                    end,
                    kind,
                });
                i = j;
                continue 'start;
            }
        }
        i += 1;
    }
}

/// Drops sentence punctuation around a candidate: leading `.`/`-`, and a trailing tail
/// after the last alphanumeric that starts with `.`, `-` or `)` and holds no digit
/// (`0132.`, `0132-Office`, `0132)`); a `)` closing a `(` inside is kept out too, since
/// every accepted form ends in a digit or letter.
fn trim(text: &[u8], mut a: usize, b: usize) -> Option<(usize, usize)> {
    while a < b && matches!(text[a], b'.' | b'-') {
        a += 1;
    }
    let c = &text[a..b];
    let last_digit = c.iter().rposition(u8::is_ascii_digit)?;
    let mut end = last_digit + 1;
    if end < c.len() {
        let tail = &c[end..];
        let letters_after_sep =
            matches!(tail[0], b'.' | b'-' | b')') && tail[1..].iter().all(u8::is_ascii_alphabetic);
        let punct = tail.iter().all(|x| matches!(x, b'.' | b'-' | b')'));
        if !(letters_after_sep || punct) {
            // An IBAN may end in letters (Malta, Seychelles).
            end = c.len();
        }
    }
    (end > 0).then_some((a, a + end))
}

/// The entity `text[a..b]` is, and where it ends (a phone number's extension may follow).
fn classify(
    text: &[u8],
    a: usize,
    b: usize,
    want: Wanted,
    said: &mut Option<Says>,
) -> Option<(Builtin, usize)> {
    let c = &text[a..b];
    if c.len() > MAX_CANDIDATE {
        return None;
    }
    if c.len() >= MIN_CANDIDATE {
        let kind = if want.rrn && is_kr_rrn(c) && !(want.card && card_named(text, a, c)) {
            Some(Builtin::KrRrn)
        } else if want.ssn && is_us_ssn(c) {
            Some(Builtin::UsSsn)
        } else if want.card && is_card(c) && !bare_id(text, a, c) {
            Some(Builtin::CreditCard)
        } else if want.iban && is_iban(c) {
            Some(Builtin::Iban)
        } else {
            None
        };
        if let Some(kind) = kind {
            return Some((kind, b));
        }
    }
    if want.phone {
        return phone_end(text, a, b, said).map(|end| (Builtin::Phone, end));
    }
    None
}

/// Thirteen digits can be both a valid Korean RRN and a valid Visa number
/// (`4903117108663`); a card word before them (`Kartennummer:`) makes them the card.
fn card_named(text: &[u8], a: usize, c: &[u8]) -> bool {
    is_card(c) && context::names_card(text, a)
}

/// A card number written without breaks right after `#` or words that name a shipment
/// or an order (`Order #502004646159`, `FedEx tracking 573411585309509`).
fn bare_id(text: &[u8], a: usize, c: &[u8]) -> bool {
    c.iter().all(u8::is_ascii_digit) && context::shipment_or_order(text, a)
}

/// Where the phone number at `text[a..b]` ends, with its extension (written inside the
/// candidate, `2997x220`, or after it, ` ext. 220`); `None` if it is none. Weaker shapes
/// need the words around (see `phone.rs`, `context.rs`); `said` caches what the words
/// before `a` say.
fn phone_end(text: &[u8], a: usize, b: usize, said: &mut Option<Says>) -> Option<usize> {
    let c = &text[a..b];
    let (base_end, inline_ext) = match c.iter().position(u8::is_ascii_alphabetic) {
        Some(k) if k > 0 && phone::extension_len(text, a + k) == c.len() - k => (a + k, true),
        Some(_) => return None,
        None => (b, false),
    };
    if base_end - a < MIN_PHONE {
        return None;
    }
    let grade = phone::grade(&text[a..base_end])?;
    let end = if inline_ext {
        b
    } else {
        b + phone::extension_len(text, b)
    };
    // The word right after vetoes (`312734.00 KRW`), else the words before decide.
    let says = match *said.get_or_insert_with(|| context::left(text, a)) {
        _ if grade == Grade::Sure => Says::Phone,
        left => match context::right(text, end) {
            Says::Nothing => left,
            Says::Phone if left == Says::Other => Says::Other,
            right => right,
        },
    };
    let taken = match grade {
        Grade::Sure => true,
        Grade::Likely => says != Says::Other,
        Grade::Plausible => says == Says::Phone,
    };
    taken.then_some(end)
}
