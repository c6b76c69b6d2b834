//! The Unicode classes the pre-tokenizer regexes ask about, one per code point.
//!
//! The table is generated from `regex-syntax`'s own Unicode tables (the crate tiktoken-rs's
//! regexes run on), so a code point is a letter, number, mark or space here exactly when
//! it is one for tiktoken. `data/charclass.bin` is written by `scripts/make-vocab.sh`;
//! the test `charclass_table_matches_regex_syntax` proves it equal to a fresh build.
//!
//! Layout: 0x110000 / 128 little-endian u16 block numbers, then the deduplicated blocks of
//! 128 class bytes.

/// Not a letter, number, mark or white space: punctuation, symbols, controls, unassigned.
pub const OTHER: u8 = 0;
/// `\p{Lu}` or `\p{Lt}`.
pub const UPPER: u8 = 1;
/// `\p{Ll}`.
pub const LOWER: u8 = 2;
/// `\p{Lm}` or `\p{Lo}`.
pub const OTHER_LETTER: u8 = 3;
/// `\p{M}`.
pub const MARK: u8 = 4;
/// `\p{N}`.
pub const NUMBER: u8 = 5;
/// `\s` (Unicode White_Space) other than `\r` and `\n`.
pub const SPACE: u8 = 6;
/// `\r` or `\n`.
pub const CR_LF: u8 = 7;

pub const BLOCK_BITS: u32 = 7;
pub const BLOCK: usize = 1 << BLOCK_BITS;
pub const STAGE1_LEN: usize = 0x110000 >> BLOCK_BITS;

static TABLE: &[u8] = include_bytes!("data/charclass.bin");

/// Classes of the ASCII bytes, the hot path.
pub static ASCII: [u8; 128] = ascii_classes();

const fn ascii_classes() -> [u8; 128] {
    let mut t = [OTHER; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'A'..=b'Z' => UPPER,
            b'a'..=b'z' => LOWER,
            b'0'..=b'9' => NUMBER,
            b'\r' | b'\n' => CR_LF,
            b' ' | b'\t' | 0x0b | 0x0c => SPACE,
            _ => OTHER,
        };
        b += 1;
    }
    t
}

/// Class of a non-ASCII code point.
#[inline]
pub fn of_scalar(cp: u32) -> u8 {
    let b = (cp >> BLOCK_BITS) as usize;
    let block = u16::from_le_bytes([TABLE[2 * b], TABLE[2 * b + 1]]) as usize;
    TABLE[2 * STAGE1_LEN + block * BLOCK + (cp as usize & (BLOCK - 1))]
}

/// Class and byte length of the character starting at `s[i]` (`s` is valid UTF-8).
#[inline(always)]
pub fn at(s: &[u8], i: usize) -> (u8, usize) {
    let b0 = s[i];
    if b0 < 0x80 {
        return (ASCII[b0 as usize], 1);
    }
    non_ascii_at(s, i)
}

#[inline(never)]
fn non_ascii_at(s: &[u8], i: usize) -> (u8, usize) {
    let b0 = s[i] as u32;
    let (cp, len) = if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (s[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12) | ((s[i + 1] as u32 & 0x3F) << 6) | (s[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((s[i + 1] as u32 & 0x3F) << 12)
                | ((s[i + 2] as u32 & 0x3F) << 6)
                | (s[i + 3] as u32 & 0x3F),
            4,
        )
    };
    (of_scalar(cp), len)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use regex_syntax::hir::{Class, HirKind};

    fn ranges(pattern: &str) -> Vec<(u32, u32)> {
        let hir = regex_syntax::Parser::new().parse(pattern).unwrap();
        match hir.kind() {
            HirKind::Class(Class::Unicode(c)) => c
                .ranges()
                .iter()
                .map(|r| (r.start() as u32, r.end() as u32))
                .collect(),
            other => panic!("{pattern} is not a class: {other:?}"),
        }
    }

    /// The class of every code point, from regex-syntax's tables.
    pub(crate) fn classes_from_regex_syntax() -> Vec<u8> {
        let mut classes = vec![OTHER; 0x110000];
        let sets = [
            (r"[\p{Lu}\p{Lt}]", UPPER),
            (r"\p{Ll}", LOWER),
            (r"[\p{Lm}\p{Lo}]", OTHER_LETTER),
            (r"\p{M}", MARK),
            (r"\p{N}", NUMBER),
            (r"\s", SPACE),
        ];
        for (pattern, class) in sets {
            for (lo, hi) in ranges(pattern) {
                for cp in lo..=hi {
                    assert_eq!(classes[cp as usize], OTHER, "U+{cp:04X} in two classes");
                    classes[cp as usize] = class;
                }
            }
        }
        classes[b'\r' as usize] = CR_LF;
        classes[b'\n' as usize] = CR_LF;
        classes
    }

    /// The bytes of `data/charclass.bin`.
    pub(crate) fn table_bytes() -> Vec<u8> {
        let classes = classes_from_regex_syntax();
        let mut blocks: Vec<&[u8]> = Vec::new();
        let mut stage1 = Vec::with_capacity(STAGE1_LEN * 2);
        for chunk in classes.chunks(BLOCK) {
            let n = match blocks.iter().position(|b| *b == chunk) {
                Some(n) => n,
                None => {
                    blocks.push(chunk);
                    blocks.len() - 1
                }
            };
            stage1.extend_from_slice(&u16::try_from(n).unwrap().to_le_bytes());
        }
        let mut out = stage1;
        for b in blocks {
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn charclass_table_matches_regex_syntax() {
        assert!(
            TABLE == table_bytes().as_slice(),
            "src/tokens/data/charclass.bin is stale: run scripts/make-vocab.sh"
        );
        let classes = classes_from_regex_syntax();
        for (cp, &class) in classes.iter().enumerate() {
            if cp < 128 {
                assert_eq!(ASCII[cp], class, "U+{cp:04X}");
            }
            assert_eq!(of_scalar(cp as u32), class, "U+{cp:04X}");
        }
        for c in [
            'é',
            'ſ',
            '\u{0301}',
            '한',
            '中',
            '\u{3000}',
            '😀',
            '\u{E0100}',
        ] {
            let mut buf = [0u8; 4];
            let s = c.encode_utf8(&mut buf);
            assert_eq!(at(s.as_bytes(), 0), (of_scalar(c as u32), c.len_utf8()));
        }
    }
}
