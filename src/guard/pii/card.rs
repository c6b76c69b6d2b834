//! Payment card numbers: 12 to 19 digits, optionally in groups split by single spaces or
//! dashes (one kind per number: 4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3, 6-10...), an issuer
//! prefix (IIN) and length of a common brand, and a valid Luhn check digit.

/// Whether `c` (digits, optionally grouped) is a card number.
pub(super) fn is_card(c: &[u8]) -> bool {
    let mut digits = [0u8; 19];
    let mut n = 0;
    let mut sep = 0u8;
    let mut group = 0;
    let mut groups = 0;
    let mut first = 0;
    for &b in c {
        if b.is_ascii_digit() {
            if n == 19 {
                return false;
            }
            digits[n] = b - b'0';
            n += 1;
            group += 1;
        } else if (b == b' ' || b == b'-') && group > 0 && (sep == 0 || sep == b) {
            // First group 4 to 6 digits; inner groups 3 to 8 (4-4-4-4, Amex 4-6-5, Diners
            // 4-6-4, 6-10, 4-4-4-4-3...); the last group any length.
            if (groups == 0 && !(4..=6).contains(&group))
                || (groups > 0 && !(3..=8).contains(&group))
            {
                return false;
            }
            if groups == 0 {
                first = group;
            }
            sep = b;
            groups += 1;
            group = 0;
        } else {
            return false;
        }
    }
    if group == 0 || (sep != 0 && group > 10) {
        return false;
    }
    // A first group of 5 or 6 only before one long group (`622126 1234567890`): 6-7 is
    // a Korean RRN's shape.
    if first > 4 && (groups != 1 || group < 9) {
        return false;
    }
    let d = &digits[..n];
    (12..=19).contains(&n) && brand_accepts(d) && luhn(d)
}

/// Luhn (mod 10) over digit values.
pub(super) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &x) in d.iter().rev().enumerate() {
        let mut v = u32::from(x);
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !d.is_empty() && sum % 10 == 0
}

fn prefix(d: &[u8], k: usize) -> u32 {
    d[..k].iter().fold(0, |n, &x| n * 10 + u32::from(x))
}

/// Visa, Mastercard, Mir, Amex, Discover, JCB, Diners, UnionPay and Maestro by IIN and
/// length.
fn brand_accepts(d: &[u8]) -> bool {
    let n = d.len();
    let (p2, p3, p4, p6) = (prefix(d, 2), prefix(d, 3), prefix(d, 4), prefix(d, 6));
    let visa = d[0] == 4 && matches!(n, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let mir = (2200..=2204).contains(&p4) && (16..=19).contains(&n);
    let amex = (p2 == 34 || p2 == 37) && n == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&n);
    // JCB assigns 3528-3589; generators (Faker) draw from all of 35xx.
    let jcb = (p2 == 35 && (16..=19).contains(&n)) || ((p4 == 2131 || p4 == 1800) && n == 15);
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39))
        && (14..=19).contains(&n);
    let unionpay = p2 == 62 && (16..=19).contains(&n);
    let maestro = (matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763 | 604 | 6390
    ) || (56..=58).contains(&p2))
        && (12..=19).contains(&n);
    visa || mastercard || mir || amex || discover || jcb || diners || unionpay || maestro
}
