//! IBAN: country code, two check digits and a BBAN of the country's registered length,
//! with a valid ISO 7064 mod-97 checksum. Written bare or in the print form (groups of
//! four separated by single spaces). Upper case only.

/// Registered IBAN lengths (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

pub(super) fn is_iban(c: &[u8]) -> bool {
    let mut v = [0u8; 34];
    let mut n = 0;
    let mut group = 0;
    let mut spaced = false;
    for &b in c {
        if b == b' ' {
            if group != 4 {
                return false;
            }
            spaced = true;
            group = 0;
        } else if b.is_ascii_uppercase() || b.is_ascii_digit() {
            if n == 34 {
                return false;
            }
            v[n] = b;
            n += 1;
            group += 1;
        } else {
            return false;
        }
    }
    if spaced && !(1..=4).contains(&group) {
        return false;
    }
    let v = &v[..n];
    if n < 15 || !v[0].is_ascii_uppercase() || !v[1].is_ascii_uppercase() {
        return false;
    }
    if !v[2].is_ascii_digit() || !v[3].is_ascii_digit() {
        return false;
    }
    let Some(&(_, len)) = LENGTHS.iter().find(|(cc, _)| cc[..] == v[..2]) else {
        return false;
    };
    len == n && mod97(v[4..].iter().chain(&v[..4])) == 1
}

/// ISO 7064 MOD 97-10 over upper-case letters (A = 10 ... Z = 35) and digits.
pub(super) fn mod97<'a>(chars: impl Iterator<Item = &'a u8>) -> u32 {
    let mut r = 0u32;
    for &b in chars {
        r = if b.is_ascii_digit() {
            (r * 10 + u32::from(b - b'0')) % 97
        } else {
            (r * 100 + u32::from(b.to_ascii_uppercase() - b'A') + 10) % 97
        };
    }
    r
}
