//! National identifiers: US Social Security numbers and Korean resident registration
//! numbers (RRN, 주민등록번호).
//!
//! RRN: `YYMMDD-SXXXXXX`. The date must exist in the century that the seventh digit `S`
//! gives (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s; 9 and 0, the 1800s, are rejected). Numbers
//! issued since October 2020 no longer carry the mod-11 check digit, so the dashed form is
//! accepted on date and century digit alone; a bare 13-digit run (far more often some other
//! number) must also satisfy the check digit.

/// `AAA-GG-SSSS` or `AAA GG SSSS` (one separator kind), excluding numbers never issued:
/// area 000, 666, 900-999; group 00; serial 0000. Bare nine-digit runs are not taken.
pub(super) fn is_us_ssn(c: &[u8]) -> bool {
    if c.len() != 11 {
        return false;
    }
    let sep = c[3];
    if !(sep == b'-' || sep == b' ') || c[6] != sep {
        return false;
    }
    let (area, group, serial) = (&c[0..3], &c[4..6], &c[7..11]);
    if ![area, group, serial]
        .iter()
        .all(|p| p.iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    let area_n = number(area);
    area_n != 0 && area_n != 666 && area_n < 900 && number(group) != 0 && number(serial) != 0
}

/// `YYMMDD-SXXXXXX`, or 13 bare digits with a valid check digit.
pub(super) fn is_kr_rrn(c: &[u8]) -> bool {
    let mut d = [0u8; 13];
    match c.len() {
        14 if c[6] == b'-' => {
            for (k, &b) in c[..6].iter().chain(&c[7..]).enumerate() {
                if !b.is_ascii_digit() {
                    return false;
                }
                d[k] = b - b'0';
            }
            valid_birth(&d)
        }
        13 => {
            for (k, &b) in c.iter().enumerate() {
                if !b.is_ascii_digit() {
                    return false;
                }
                d[k] = b - b'0';
            }
            valid_birth(&d) && rrn_check_digit(&d[..12]) == d[12]
        }
        _ => false,
    }
}

/// The pre-2020 RRN check digit of the first 12 digits: weights 2..9,2..5, mod 11.
pub fn rrn_check_digit(d: &[u8]) -> u8 {
    const W: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = d.iter().zip(W).map(|(&x, w)| u32::from(x) * w).sum();
    ((11 - sum % 11) % 10) as u8
}

fn valid_birth(d: &[u8; 13]) -> bool {
    let century = match d[6] {
        1 | 2 | 5 | 6 => 1900,
        3 | 4 | 7 | 8 => 2000,
        _ => return false,
    };
    let year = century + u32::from(d[0] * 10 + d[1]);
    let month = u32::from(d[2] * 10 + d[3]);
    let day = u32::from(d[4] * 10 + d[5]);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

fn number(p: &[u8]) -> u32 {
    p.iter().fold(0, |n, &b| n * 10 + u32::from(b - b'0'))
}
