//! One base64 decoder for the crate. The injection scanner decodes hidden payloads
//! written in either alphabet, padded or not; the secret scanner reads a JWT's header,
//! which is URL-safe and unpadded, and must refuse anything else; the token counter reads
//! an image's header out of a data URL without decoding the rest. The encoder is for those
//! who write base64 (the mock provider's embeddings, the scanners' tests); the module
//! itself only reads it.

/// Standard base64 (`+`, `/`) with `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The characters a decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// Standard (`+`, `/`) or URL-safe (`-`, `_`), mixed freely; trailing `=` padding is
    /// optional.
    Either,
    /// URL-safe only (`-`, `_`) and no padding, as in a JWT (RFC 7515).
    UrlUnpadded,
}

/// The six bits a character stands for in `alphabet`.
#[inline]
fn value(c: u8, alphabet: Alphabet) -> Option<u32> {
    let either = alphabet == Alphabet::Either;
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        b'+' if either => 62,
        b'/' if either => 63,
        _ => return None,
    } as u32)
}

/// Decodes `s` in `alphabet`; `None` on a character outside it. Bits left over at the
/// end that do not make a byte are dropped.
pub(crate) fn decode(s: &[u8], alphabet: Alphabet) -> Option<Vec<u8>> {
    let body = match alphabet {
        Alphabet::Either => {
            let end = s.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
            &s[..end]
        }
        Alphabet::UrlUnpadded => s,
    };
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in body {
        acc = (acc << 6) | value(c, alphabet)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn either(s: &str) -> Option<Vec<u8>> {
        decode(s.as_bytes(), Alphabet::Either)
    }

    fn url(s: &str) -> Option<Vec<u8>> {
        decode(s.as_bytes(), Alphabet::UrlUnpadded)
    }

    #[test]
    fn encodes_the_standard_alphabet_with_padding() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foobar\xff"), "Zm9vYmFy/w==");
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(either(&encode(&bytes)), Some(bytes));
    }

    #[test]
    fn standard_alphabet_with_and_without_padding() {
        assert_eq!(either("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(either("aGVsbG8gd29ybGQ").unwrap(), b"hello world");
        assert_eq!(either("aGk=").unwrap(), b"hi");
        assert_eq!(either("aA==").unwrap(), b"h");
        assert_eq!(either("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(either("").unwrap(), b"");
    }

    #[test]
    fn url_alphabet_in_both_modes() {
        assert_eq!(either("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(url("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(url("eyJhbGciOiJIUzI1NiJ9").unwrap(), br#"{"alg":"HS256"}"#);
    }

    #[test]
    fn url_unpadded_refuses_the_standard_alphabet_and_padding() {
        assert_eq!(url("+/8"), None);
        assert_eq!(url("aGk="), None);
    }

    #[test]
    fn a_stray_character_is_none() {
        assert_eq!(either("aGVs*bG8"), None);
        assert_eq!(url("aGVs*bG8"), None);
        assert_eq!(either("aG Vs"), None);
        // Padding counts only at the end.
        assert_eq!(either("aGk=aGk="), None);
    }
}
