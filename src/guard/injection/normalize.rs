//! Text normalisation before any cue is looked for: the attacker's formatting tricks are
//! undone here once, so the signal rules only ever see plain lower-case words.
//!
//! No `unicode-normalization` crate: a hand-written fold covers the compatibility
//! characters that attackers actually use (fullwidth forms, mathematical alphanumerics,
//! circled / squared / parenthesised letters, regional indicators, superscripts and
//! subscripts, small capitals, ligatures), strips diacritics from Latin letters, turns
//! Unicode tag characters back into the ASCII they smuggle, and drops zero-width, bidi and
//! variation-selector characters. Everything else passes through lower-cased. Cyrillic and
//! Greek look-alikes are folded per word (see [`Words`]) so genuine Russian or Greek text
//! keeps its letters.

use crate::swar::{bytes_equal, chunk, in_range, load8, movemask, HI};

/// The folded text of one input: lower case, compatibility characters folded, invisible
/// characters removed. Punctuation and line breaks are kept (template tokens and fake
/// conversation turns are read from here).
pub(super) struct Folded {
    pub text: String,
    /// Any Han, Hiragana, Katakana or Hangul character: the CJK phrase rules run only then.
    pub cjk: bool,
    /// How many invisible or smuggling characters were removed or decoded.
    pub hidden: usize,
}

pub(super) fn fold(raw: &str) -> Folded {
    if let Some(text) = ascii_lowercase(raw) {
        return Folded {
            text,
            cjk: false,
            hidden: 0,
        };
    }
    let mut text = String::with_capacity(raw.len());
    let mut cjk = false;
    let mut hidden = 0;
    for c in raw.chars() {
        if c.is_ascii() {
            text.push(c.to_ascii_lowercase());
            continue;
        }
        if is_cjk(c) {
            cjk = true;
            text.push(c);
            continue;
        }
        match fold_char(c) {
            Fold::Drop => hidden += 1,
            Fold::Smuggled(a) => {
                hidden += 1;
                text.push(a.to_ascii_lowercase());
            }
            Fold::One(a) => text.push(a),
            Fold::Two(a, b) => {
                text.push(a);
                text.push(b);
            }
            Fold::Keep => {
                cjk |= is_cjk(c);
                // `to_lowercase` of one char is one char for every script we read.
                text.push(c.to_lowercase().next().unwrap_or(c));
            }
        }
    }
    Folded { text, cjk, hidden }
}

/// `raw` in lower case when it is all ASCII: copied whole, then only the stretches of
/// eight bytes that hold a capital are lowered (wasm has no SIMD here, so a byte loop
/// over the whole text costs as much as the rest of the fold).
fn ascii_lowercase(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = raw.to_string();
    let mut chunks = b.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let x = chunk(c);
        if x & HI != 0 {
            return None;
        }
        if in_range(x, b'A', b'Z') != 0 {
            out[i..i + 8].make_ascii_lowercase();
        }
        i += 8;
    }
    if !chunks.remainder().is_ascii() {
        return None;
    }
    out[i..].make_ascii_lowercase();
    Some(out)
}

enum Fold {
    Drop,
    Smuggled(char),
    One(char),
    Two(char, char),
    Keep,
}

/// Base letters of U+0100..=U+017F (Latin Extended-A), in code point order.
const LATIN_EXT_A: &[u8; 128] = b"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

/// Base letters of U+00C0..=U+00FF (Latin-1 letters); `*` marks the two symbols.
const LATIN_1: &[u8; 64] = b"aaaaaaaceeeeiiiidnooooo*ouuuuypsaaaaaaaceeeeiiiidnooooo*ouuuuypy";

fn fold_char(c: char) -> Fold {
    let u = c as u32;
    let az = |k: u32| Fold::One(char::from(b'a' + (k % 26) as u8));
    match u {
        // Invisible: zero-width, joiners, bidi controls, word joiner, BOM, soft hyphen,
        // Mongolian vowel separator, variation selectors, combining diacritics.
        0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x2069
        | 0xFEFF
        | 0x00AD
        | 0x180E
        | 0x034F
        | 0xFE00..=0xFE0F
        | 0xE0100..=0xE01EF
        | 0x0300..=0x036F
        // Arabic short vowels and the tatweel that stretches a word: drawn, never spelt.
        | 0x064B..=0x065F
        | 0x0670
        | 0x0640 => Fold::Drop,
        // Unicode tags: invisible copies of ASCII ("ASCII smuggling").
        0xE0020..=0xE007E => Fold::Smuggled(char::from((u - 0xE0000) as u8)),
        0xE0000..=0xE001F | 0xE007F => Fold::Drop,
        // Spaces of every width.
        0x00A0 | 0x1680 | 0x2000..=0x200A | 0x202F | 0x205F | 0x3000 => Fold::One(' '),
        0x2028 | 0x2029 | 0x0085 => Fold::One('\n'),
        0x00C0..=0x00FF => match LATIN_1[(u - 0xC0) as usize] {
            b'*' => Fold::Keep,
            b's' if u == 0xDF => Fold::Two('s', 's'),
            b'a' if u == 0xC6 || u == 0xE6 => Fold::Two('a', 'e'),
            b => Fold::One(char::from(b)),
        },
        0x0152 | 0x0153 => Fold::Two('o', 'e'),
        0x0132 | 0x0133 => Fold::Two('i', 'j'),
        0x0100..=0x017F => Fold::One(char::from(LATIN_EXT_A[(u - 0x100) as usize])),
        // Fullwidth ASCII.
        0xFF01..=0xFF5E => {
            Fold::One(char::from_u32(u - 0xFEE0).map_or(c, |a| a.to_ascii_lowercase()))
        }
        // Mathematical alphanumerics: 13 styles of A-Z a-z, then digits in 5 styles.
        0x1D400..=0x1D6A3 => az((u - 0x1D400) % 52),
        0x1D7CE..=0x1D7FF => Fold::One(char::from(b'0' + ((u - 0x1D7CE) % 10) as u8)),
        // Circled, parenthesised, squared, negative and regional-indicator letters.
        0x24B6..=0x24CF => az(u - 0x24B6),
        0x24D0..=0x24E9 => az(u - 0x24D0),
        0x249C..=0x24B5 => az(u - 0x249C),
        0x1F130..=0x1F149 => az(u - 0x1F130),
        0x1F150..=0x1F169 => az(u - 0x1F150),
        0x1F170..=0x1F189 => az(u - 0x1F170),
        0x1F1E6..=0x1F1FF => az(u - 0x1F1E6),
        // Circled and superscript digits.
        0x2460..=0x2468 => Fold::One(char::from(b'1' + (u - 0x2460) as u8)),
        0x2070 => Fold::One('0'),
        0x00B9 => Fold::One('1'),
        0x00B2 => Fold::One('2'),
        0x00B3 => Fold::One('3'),
        0x2074..=0x2079 => Fold::One(char::from(b'4' + (u - 0x2074) as u8)),
        0x2080..=0x2089 => Fold::One(char::from(b'0' + (u - 0x2080) as u8)),
        // Ligatures.
        0xFB00 => Fold::Two('f', 'f'),
        0xFB01 => Fold::Two('f', 'i'),
        0xFB02 => Fold::Two('f', 'l'),
        0xFB03 | 0xFB04 => Fold::Two('f', 'f'),
        0xFB05 | 0xFB06 => Fold::Two('s', 't'),
        _ => match letterlike(c) {
            Some(a) => Fold::One(a),
            None => Fold::Keep,
        },
    }
}

/// Superscript and subscript letters, small capitals, and the letter-like symbols that
/// fill the holes of the mathematical alphanumeric block.
fn letterlike(c: char) -> Option<char> {
    Some(match c {
        'ᵃ' | 'ₐ' | 'ᴀ' => 'a',
        'ᵇ' | 'ʙ' | 'ℬ' => 'b',
        'ᶜ' | 'ᴄ' | 'ℂ' | 'ℭ' => 'c',
        'ᵈ' | 'ᴅ' | 'ⅆ' => 'd',
        'ᵉ' | 'ₑ' | 'ᴇ' | 'ℯ' | 'ℰ' | 'ⅇ' => 'e',
        'ᶠ' | 'ꜰ' | 'ℱ' => 'f',
        'ᵍ' | 'ɢ' | 'ℊ' => 'g',
        'ʰ' | 'ₕ' | 'ʜ' | 'ℎ' | 'ℋ' | 'ℌ' | 'ℍ' => 'h',
        'ⁱ' | 'ɪ' | 'ℐ' | 'ℑ' | 'ⅈ' | 'ı' => 'i',
        'ʲ' | 'ᴊ' | 'ⅉ' => 'j',
        'ᵏ' | 'ₖ' | 'ᴋ' => 'k',
        'ˡ' | 'ₗ' | 'ʟ' | 'ℒ' | 'ℓ' => 'l',
        'ᵐ' | 'ₘ' | 'ᴍ' | 'ℳ' => 'm',
        'ⁿ' | 'ₙ' | 'ɴ' | 'ℕ' => 'n',
        'ᵒ' | 'ₒ' | 'ᴏ' | 'ℴ' => 'o',
        'ᵖ' | 'ₚ' | 'ᴘ' | 'ℙ' => 'p',
        'ǫ' | 'ℚ' => 'q',
        'ʳ' | 'ʀ' | 'ℛ' | 'ℜ' | 'ℝ' => 'r',
        'ˢ' | 'ₛ' | 'ꜱ' => 's',
        'ᵗ' | 'ₜ' | 'ᴛ' => 't',
        'ᵘ' | 'ᴜ' => 'u',
        'ᵛ' | 'ᴠ' => 'v',
        'ʷ' | 'ᴡ' => 'w',
        'ˣ' | 'ₓ' => 'x',
        'ʸ' | 'ʏ' => 'y',
        'ᶻ' | 'ᴢ' | 'ℤ' | 'ℨ' => 'z',
        _ => return None,
    })
}

pub(super) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F)
}

/// A Cyrillic or Greek letter that looks like a Latin one, and that Latin letter.
fn lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' | 'ё' => 'e',
        'һ' | 'н' | 'η' => 'h',
        'і' | 'ι' | 'ї' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' | 'μ' => 'm',
        'ν' | 'п' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' => 'u',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ζ' => 'z',
        _ => return None,
    })
}

fn is_cyrillic_or_greek(c: char) -> bool {
    matches!(c as u32, 0x0370..=0x052F)
}

/// Leetspeak digit or symbol inside a word, and the letter it stands for.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        '9' => 'g',
        '|' => 'l',
        _ => return None,
    })
}

/// The words of a folded text, with the spacing tricks undone:
/// - runs of single letters split by one repeated separator are joined
///   (`i g n o r e`, `i.g.n.o.r.e`, `i-g-n-o-r-e`); a different gap ends the word;
/// - a hyphen, apostrophe or underscore between letters is dropped when the joined word is
///   known (`ig-nore`), otherwise it separates;
/// - leetspeak is read as letters inside words that mix letters and digits;
/// - Cyrillic and Greek look-alikes are read as Latin in words that mix scripts or use
///   only look-alike letters.
pub(super) struct Words<'a> {
    /// The folded text the words were read from; most words are slices of it.
    src: &'a str,
    /// The words that are not (joined, split, read as letters), back to back.
    extra: String,
    /// Byte range of each word: in `src` below `src.len()`, else in `extra` after
    /// `src.len()`.
    spans: Vec<(u32, u32)>,
    /// Whether any spacing trick (a joined run of at least three single letters) was seen.
    pub despaced: bool,
    /// Whether each word sits inside a short quotation (at most `SHORT_QUOTE` words),
    /// which may be someone citing an attack phrase rather than issuing it. Empty when the
    /// text has no quotation.
    pub quoted: Vec<bool>,
}

const SHORT_QUOTE: usize = 12;

/// Whether a gap between words opens or closes a quotation. An apostrophe between two
/// letters (`don't`) is not a quote.
#[inline]
fn quote_in(gap: &str) -> bool {
    if gap == " " {
        return false;
    }
    if gap.is_ascii() {
        let b = gap.as_bytes();
        return b.contains(&b'"') || (b.len() > 1 && b.contains(&b'\''));
    }
    gap.chars().any(|c| {
        matches!(
            c,
            '"' | '“' | '”' | '«' | '»' | '„' | '「' | '」' | '『' | '』'
        )
    }) || (gap.chars().count() > 1 && gap.chars().any(|c| matches!(c, '\'' | '‘' | '’')))
}

impl Words<'_> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Word `i` as bytes: slicing a `str` checks char boundaries, and the lexicon reads
    /// bytes anyway.
    pub fn bytes(&self, i: usize) -> &[u8] {
        let (a, b) = self.spans[i];
        let (a, b) = (a as usize, b as usize);
        match a.checked_sub(self.src.len()) {
            None => &self.src.as_bytes()[a..b],
            Some(x) => &self.extra.as_bytes()[x..x + (b - a)],
        }
    }

    pub fn get(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        let (a, b) = (a as usize, b as usize);
        match a.checked_sub(self.src.len()) {
            None => &self.src[a..b],
            Some(x) => &self.extra[x..x + (b - a)],
        }
    }
}

/// Raw tokens of the folded text: maximal runs of word characters, with the gap (the
/// separator characters) that preceded each. Byte offsets: the gap is `gap..word`, the
/// word `word..end` (slicing a `str` checks char boundaries, so most tokens never are).
struct Token {
    gap: usize,
    word: usize,
    end: usize,
    /// The word is lower-case ASCII letters only (false when unsure).
    plain: bool,
}

fn is_word_char(c: char) -> bool {
    !is_cjk(c) && c.is_alphanumeric() || matches!(c, '@' | '$') || is_indic_mark(c)
}

/// The vowel signs, viramas and nuktas of the Indic scripts (Devanagari to Malayalam):
/// not alphabetic to Unicode, but inside the word (`निर्देश` is one word, not two).
fn is_indic_mark(c: char) -> bool {
    ('\u{0900}'..='\u{0D7F}').contains(&c) && {
        let low = c as u32 & 0x7F;
        // Each script's block: the signs before its letters, and the marks after them.
        low < 0x05
            || (0x3C..=0x4F).contains(&low)
            || (0x51..=0x57).contains(&low)
            || (0x62..=0x63).contains(&low)
    }
}

/// ASCII bytes that belong to words: letters, digits, and the leetspeak `@` and `$`.
/// Non-ASCII bytes are marked 2: decode the char to decide.
const WORD_BYTE: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = (b.is_ascii_alphanumeric() || b == b'@' || b == b'$') as u8;
        c += 1;
    }
    t
};

/// The high bit of each byte of `x` that is `a`..=`z`, and of each that is `0`..=`9`.
#[inline(always)]
pub(super) fn lower_and_digit(x: u64) -> (u64, u64) {
    (in_range(x, b'a', b'z'), in_range(x, b'0', b'9'))
}

/// Where the next word character (`word`) or non-word character (`!word`) is in `s`;
/// ASCII bytes are classified by table, without decoding.
#[inline(always)]
fn find_word(s: &str, word: bool) -> Option<usize> {
    let b = s.as_bytes();
    let want = word as u8;
    let mut i = 0;
    while i < b.len() {
        let class = WORD_BYTE[b[i] as usize];
        if class == want {
            return Some(i);
        }
        if class < 2 {
            i += 1;
        } else {
            let ch = s[i..].chars().next()?;
            if is_word_char(ch) == word {
                return Some(i);
            }
            i += ch.len_utf8();
        }
    }
    None
}

/// Where the word at the start of `s` ends, and whether it is lower-case ASCII letters
/// only (false when unsure). Most words end at an ASCII separator within eight bytes.
#[inline(always)]
fn word_end(s: &str) -> (usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    while let Some(x) = load8(b, i) {
        let (lower, digit) = lower_and_digit(x);
        let stop = !(lower | digit) & HI;
        if stop != 0 {
            let k = stop.trailing_zeros() / 8;
            digits |= digit & ((1u64 << (8 * k)) - 1);
            i += k as usize;
            // Word bytes besides letters and digits: `@`, capitals, `$`, non-ASCII.
            let wordish = in_range(x, b'@', b'Z') | bytes_equal(x, b'$') | (x & HI);
            if (wordish & stop & stop.wrapping_neg()) == 0 {
                return (i, digits == 0);
            }
            break;
        }
        digits |= digit;
        i += 8;
    }
    // Only ASCII letters and digits were skipped: `i` is a char boundary.
    (find_word(&s[i..], false).map_or(s.len(), |k| i + k), false)
}

fn tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        let word = pos + find_word(&text[pos..], true)?;
        let (len, plain) = word_end(&text[word..]);
        let t = Token {
            gap: pos,
            word,
            end: word + len,
            plain,
        };
        pos = t.end;
        Some(t)
    })
}

/// [`tokens`] of an all-ASCII text, read from bitmaps: bit `i` of `word` says byte `i` is
/// a word byte, of `other` that it is one but not `a`..=`z`. Eight bytes are classified at
/// once, and tokens start and end where the `word` bitmap flips, so a token costs a few
/// bit operations instead of a walk over its bytes.
struct AsciiTokens {
    word: Vec<u64>,
    other: Vec<u64>,
    /// The bitmap word being read and its flips not yet returned.
    k: usize,
    flips: u64,
    /// Where the previous token ended: the next gap starts there.
    end: usize,
}

impl AsciiTokens {
    /// `None` when `b` holds a non-ASCII byte.
    fn new(b: &[u8]) -> Option<AsciiTokens> {
        // One spare zero word: a token running to the end of the text still flips back.
        let mut word = vec![0u64; b.len() / 64 + 1];
        let mut other = vec![0u64; b.len() / 64 + 1];
        let mut chunks = b.chunks_exact(8);
        for (k, c) in (&mut chunks).enumerate() {
            let x = chunk(c);
            if x & HI != 0 {
                return None;
            }
            let lower = in_range(x, b'a', b'z');
            let rest = in_range(x, b'0', b'9') | in_range(x, b'@', b'Z') | bytes_equal(x, b'$');
            let shift = (k % 8) * 8;
            word[k / 8] |= movemask(lower | rest) << shift;
            other[k / 8] |= movemask(rest) << shift;
        }
        let base = b.len() - chunks.remainder().len();
        for (j, &c) in chunks.remainder().iter().enumerate() {
            if !c.is_ascii() {
                return None;
            }
            let i = base + j;
            if WORD_BYTE[c as usize] == 1 {
                word[i / 64] |= 1 << (i % 64);
                if !c.is_ascii_lowercase() {
                    other[i / 64] |= 1 << (i % 64);
                }
            }
        }
        let flips = word[0] ^ (word[0] << 1);
        Some(AsciiTokens {
            word,
            other,
            k: 0,
            flips,
            end: 0,
        })
    }

    fn next_flip(&mut self) -> Option<usize> {
        while self.flips == 0 {
            self.k += 1;
            let w = *self.word.get(self.k)?;
            self.flips = w ^ ((w << 1) | (self.word[self.k - 1] >> 63));
        }
        let at = self.k * 64 + self.flips.trailing_zeros() as usize;
        self.flips &= self.flips - 1;
        Some(at)
    }

    /// Whether bytes `a..b` (`a < b`) hold no word byte besides `a`..=`z`.
    fn plain(&self, a: usize, b: usize) -> bool {
        let (ka, kb) = (a / 64, (b - 1) / 64);
        let from = !0u64 << (a % 64);
        let to = !0u64 >> (63 - (b - 1) % 64);
        if ka == kb {
            return self.other[ka] & from & to == 0;
        }
        self.other[ka] & from == 0
            && self.other[ka + 1..kb].iter().all(|&o| o == 0)
            && self.other[kb] & to == 0
    }
}

impl Iterator for AsciiTokens {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let word = self.next_flip()?;
        let end = self.next_flip()?;
        let t = Token {
            gap: self.end,
            word,
            end,
            plain: self.plain(word, end),
        };
        self.end = end;
        Some(t)
    }
}

/// Tokens at least this long that are not known words are tried as glued words.
const GLUED_MIN: usize = 18;
/// Bytes of glued tokens segmented per text (each costs up to `MAX_WORD` lookups a byte).
const GLUED_BUDGET: usize = 2048;

/// The longest word a lexicon holds; longer tokens are never looked up as a whole.
pub(super) const MAX_WORD: usize = 40;

pub(super) fn words<'a>(folded: &'a str, known: &dyn Fn(&str) -> bool) -> Words<'a> {
    match AsciiTokens::new(folded.as_bytes()) {
        Some(t) => words_from(folded, t, known),
        None => words_from(folded, tokens(folded), known),
    }
}

fn words_from<'a>(
    folded: &'a str,
    tokens: impl Iterator<Item = Token>,
    known: &dyn Fn(&str) -> bool,
) -> Words<'a> {
    let mut out = Words {
        src: folded,
        extra: String::new(),
        spans: Vec::with_capacity(folded.len() / 5 + 1),
        despaced: false,
        quoted: Vec::new(),
    };
    let mut toggles: Vec<usize> = Vec::new();
    let mut glued_budget = GLUED_BUDGET;
    let mut scratch = String::new();
    // A pending run of single letters: its letters and the separator that joins them.
    let mut run = String::new();
    let mut run_gap: Option<&str> = None;
    // The previous word, as a byte range of `folded`.
    let mut prev: Option<(usize, usize)> = None;
    let mut joined_with_prev = false;
    let bytes = folded.as_bytes();
    for t in tokens {
        let gap = &bytes[t.gap..t.word];
        let single = if t.plain {
            t.end - t.word == 1
        } else {
            let mut chars = folded[t.word..t.end].chars();
            chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
        };
        if single {
            let (gap, word) = (&folded[t.gap..t.word], &folded[t.word..t.end]);
            let joins = !run.is_empty() && run_gap.is_none_or(|g| g == gap) && gap.len() <= 3;
            if joins {
                run_gap = Some(gap);
                run.push_str(word);
                continue;
            }
            if !run.is_empty() {
                flush_run(&mut out, &mut run, known, &mut scratch);
            }
            if gap != " " && quote_in(gap) {
                toggles.push(out.spans.len());
            }
            run_gap = None;
            run.push_str(word);
            prev = None;
            continue;
        }
        if !run.is_empty() {
            flush_run(&mut out, &mut run, known, &mut scratch);
        }
        if gap != b" " && quote_in(&folded[t.gap..t.word]) {
            toggles.push(out.spans.len());
        }
        run_gap = None;
        // `ig-nore`, `don't`: a one-character joiner between two word pieces.
        let joiner = match gap {
            [b'-' | b'\'' | b'_' | b'.' | b'*'] => true,
            g => g == "’".as_bytes(),
        };
        if joiner && !joined_with_prev {
            if let Some((pa, pb)) = prev {
                scratch.clear();
                read_word(&folded[pa..pb], &mut scratch);
                let plen = scratch.len();
                read_word(&folded[t.word..t.end], &mut scratch);
                if plen > 0 && scratch.len() <= MAX_WORD && known(&scratch) {
                    // Replace the previous word with the joined one.
                    if let Some((a, _)) = out.spans.pop() {
                        if let Some(x) = (a as usize).checked_sub(folded.len()) {
                            out.extra.truncate(x);
                        }
                        for w in expand(&scratch) {
                            push_word(&mut out, w);
                        }
                        joined_with_prev = true;
                        prev = Some((t.word, t.end));
                        continue;
                    }
                }
            }
        }
        joined_with_prev = false;
        prev = Some((t.word, t.end));
        if t.end - t.word < GLUED_MIN && (t.plain || reads_as_itself(&bytes[t.word..t.end])) {
            // The common case: a plain word or a number, a slice of the folded text.
            push_src(&mut out, t.word, t.end);
            continue;
        }
        let word = &folded[t.word..t.end];
        scratch.clear();
        read_word(word, &mut scratch);
        if scratch.len() >= GLUED_MIN && glued_budget >= scratch.len() && !known(&scratch) {
            // "IgnoreAllPreviousInstructions", "ignorepreviousinstructions": glued words.
            glued_budget -= scratch.len();
            segment_glued(&mut out, &scratch, known);
        } else if scratch == word {
            push_src(&mut out, t.word, t.end);
        } else {
            push_word(&mut out, &scratch);
        }
    }
    if !run.is_empty() {
        flush_run(&mut out, &mut run, known, &mut scratch);
    }
    if toggles.len() >= 2 {
        out.quoted = vec![false; out.spans.len()];
    }
    for pair in toggles.chunks_exact(2) {
        let (a, b) = (pair[0], pair[1].min(out.spans.len()));
        if b > a && b - a <= SHORT_QUOTE {
            out.quoted[a..b].iter_mut().for_each(|q| *q = true);
        }
    }
    out
}

fn flush_run(
    out: &mut Words,
    run: &mut String,
    known: &dyn Fn(&str) -> bool,
    scratch: &mut String,
) {
    if run.is_empty() {
        return;
    }
    if run.chars().count() >= 3 {
        out.despaced = true;
        scratch.clear();
        read_word(run, scratch);
        let w = scratch.clone();
        segment(out, &w, known);
    } else {
        // "a", "i", "e g": ordinary single letters.
        for c in run.chars() {
            let mut b = [0u8; 4];
            push_word(out, c.encode_utf8(&mut b));
        }
    }
    run.clear();
}

/// Splits a run of letters with no spaces into known words, greedily taking the longest
/// known word at each position ("ignoreallpreviousinstructions"). Letters that start no
/// known word are skipped. Bounded: at most `MAX_WORD` lookups per letter, and runs longer
/// than 256 bytes are kept whole.
pub(super) fn segment(out: &mut Words, run: &str, known: &dyn Fn(&str) -> bool) {
    if run.len() > 256 || known(run) {
        push_word(out, run);
        return;
    }
    let b = run.as_bytes();
    let mut i = 0;
    let mut found = false;
    while i < b.len() {
        let mut best = 0;
        let max = (b.len() - i).min(MAX_WORD);
        for len in (2..=max).rev() {
            if run.is_char_boundary(i) && run.is_char_boundary(i + len) && known(&run[i..i + len]) {
                best = len;
                break;
            }
        }
        if best > 0 {
            push_word(out, &run[i..i + best]);
            found = true;
            i += best;
        } else {
            i += 1;
        }
    }
    if !found {
        push_word(out, run);
    }
}

/// Like [`segment`], for a single glued token: the split is kept only when known words
/// cover at least three quarters of it, otherwise the token stays whole.
fn segment_glued(out: &mut Words, run: &str, known: &dyn Fn(&str) -> bool) {
    let mut parts: Vec<(usize, usize)> = Vec::new();
    let mut covered = 0;
    let mut i = 0;
    while i < run.len() {
        let max = (run.len() - i).min(MAX_WORD);
        let best = (3..=max).rev().find(|&len| {
            run.is_char_boundary(i) && run.is_char_boundary(i + len) && known(&run[i..i + len])
        });
        match best {
            Some(len) => {
                parts.push((i, i + len));
                covered += len;
                i += len;
            }
            None => i += 1,
        }
    }
    if parts.len() >= 2 && covered * 4 >= run.len() * 3 {
        for (a, b) in parts {
            push_word(out, &run[a..b]);
        }
    } else {
        push_word(out, run);
    }
}

/// Contractions that the phrase table spells out.
fn expand(w: &str) -> Vec<&str> {
    match w {
        "youre" => vec!["you", "are"],
        "youll" => vec!["you", "will"],
        "im" => vec!["i", "am"],
        _ => vec![w],
    }
}

#[inline]
fn push_word(out: &mut Words, w: &str) {
    if w.is_empty() {
        return;
    }
    let a = out.src.len() + out.extra.len();
    out.extra.push_str(w);
    out.spans.push((a as u32, (a + w.len()) as u32));
}

/// Adds the word `out.src[a..b]` without copying it.
#[inline]
fn push_src(out: &mut Words, a: usize, b: usize) {
    if a < b {
        out.spans.push((a as u32, b as u32));
    }
}

/// ASCII letters only, or digits only (no letter, so no leetspeak): [`read_word`] leaves
/// such a word as it is.
#[inline]
fn reads_as_itself(word: &[u8]) -> bool {
    word.iter().all(u8::is_ascii_alphabetic) || word.iter().all(u8::is_ascii_digit)
}

/// Appends `word` read as letters: leetspeak in words that mix letters and digits or
/// symbols, look-alikes in words that mix Latin with Cyrillic or Greek.
#[inline]
fn read_word(word: &str, out: &mut String) {
    if reads_as_itself(word.as_bytes()) {
        out.push_str(word);
        return;
    }
    let mut letters = 0;
    let mut leets = 0;
    let mut latin = 0;
    let mut foreign = 0;
    let mut foreign_lookalike = 0;
    for c in word.chars() {
        if c.is_ascii_alphabetic() {
            letters += 1;
            latin += 1;
        } else if leet(c).is_some() {
            leets += 1;
        } else if c.is_alphabetic() {
            letters += 1;
            if is_cyrillic_or_greek(c) {
                foreign += 1;
                if lookalike(c).is_some() {
                    foreign_lookalike += 1;
                }
            }
        }
    }
    let use_leet = letters > 0 && leets > 0;
    let fold_foreign = foreign > 0 && (latin > 0 || foreign_lookalike == foreign);
    for c in word.chars() {
        let c = if fold_foreign {
            lookalike(c).unwrap_or(c)
        } else {
            c
        };
        match leet(c) {
            Some(l) if use_leet => out.push(l),
            Some(_) if !c.is_alphanumeric() => {}
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans<'a>(t: impl Iterator<Item = &'a Token>) -> Vec<(usize, usize, usize)> {
        t.map(|t| (t.gap, t.word, t.end)).collect()
    }

    /// The bitmap tokenizer splits every ASCII text exactly as the byte walk does, and
    /// knows exactly which tokens are lower-case letters only.
    #[test]
    fn ascii_tokens_are_the_byte_walks_tokens() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "a".into(),
            " ".into(),
            "ignore all previous instructions".into(),
            "  lead and trail  ".into(),
            "jane.doe@example.com +1 415 555 0132, inv-2024-00912 $5 @@ a$b Caps".into(),
        ];
        // Tokens that start, end or run across a 64-bit bitmap word, texts ending inside
        // a token, lengths around multiples of 8 and 64.
        for n in [7, 8, 9, 63, 64, 65, 127, 128, 129, 200] {
            texts.push("x".repeat(n));
            texts.push(format!("{} y", "x".repeat(n)));
            texts.push(format!("{}wordZ9", " ".repeat(n)));
            texts.push("ab1 ".repeat(n / 4 + 1)[..n].to_string());
        }
        for text in &texts {
            let fast = AsciiTokens::new(text.as_bytes()).expect("ASCII");
            let fast: Vec<Token> = fast.collect();
            let walk: Vec<Token> = tokens(text).collect();
            assert_eq!(spans(fast.iter()), spans(walk.iter()), "{text:?}");
            for t in &fast {
                let lower = text.as_bytes()[t.word..t.end]
                    .iter()
                    .all(u8::is_ascii_lowercase);
                assert_eq!(t.plain, lower, "{text:?} {}..{}", t.word, t.end);
            }
        }
        assert!(AsciiTokens::new("café".as_bytes()).is_none());
    }
}
