//! Differential tests: our counter against tiktoken-rs (the oracle), on real texts and
//! on a few hundred thousand generated ones, both encodings, exact equality. Piece
//! boundaries are also checked against the regexes themselves (fancy-regex), so a
//! pre-tokenizer slip cannot hide behind an equal total.
//!
//! `regenerate_data_files` (ignored; `scripts/make-vocab.sh` runs it) writes the tables
//! in `data/` from the same oracle.

use std::path::Path;

use fancy_regex::Regex;
use tiktoken_rs::CoreBPE;

use super::{charclass, count_text, pretokenize, vocab, Encoding};

const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

struct Oracle {
    encoding: Encoding,
    bpe: &'static CoreBPE,
    regex: Regex,
    next: fn(&[u8], usize) -> usize,
}

fn oracles() -> [Oracle; 2] {
    [
        Oracle {
            encoding: Encoding::O200kBase,
            bpe: tiktoken_rs::o200k_base_singleton(),
            regex: Regex::new(tiktoken_rs::O200K_BASE_PAT_STR).unwrap(),
            next: pretokenize::next_o200k,
        },
        Oracle {
            encoding: Encoding::Cl100kBase,
            bpe: tiktoken_rs::cl100k_base_singleton(),
            regex: Regex::new(CL100K_PATTERN).unwrap(),
            next: pretokenize::next_cl100k,
        },
    ]
}

fn our_pieces(next: fn(&[u8], usize) -> usize, text: &str) -> Vec<&str> {
    let s = text.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let end = next(s, i);
        assert!(end > i && end <= s.len(), "no progress at {i} in {text:?}");
        pieces.push(&text[i..end]);
        i = end;
    }
    pieces
}

impl Oracle {
    /// Panics with the text and the first differing piece when we disagree.
    fn check(&self, text: &str) {
        let ours = count_text(self.encoding, text);
        let theirs = self.bpe.count_ordinary(text) as u64;
        let pieces = our_pieces(self.next, text);
        let regex_pieces: Vec<&str> = self
            .regex
            .find_iter(text)
            .map(|m| m.unwrap().as_str())
            .collect();
        if pieces != regex_pieces || ours != theirs {
            let first = pieces.iter().zip(&regex_pieces).position(|(a, b)| a != b);
            panic!(
                "{:?}: ours {ours}, tiktoken {theirs} on {text:?}\n first differing piece {first:?}: ours {:?} regex {:?}",
                self.encoding,
                first.map(|k| pieces[k]),
                first.map(|k| regex_pieces[k]),
            );
        }
    }
}

fn repo_file(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn strings_in(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings_in(v, out)
        }),
        _ => {}
    }
}

#[test]
fn equal_on_token_texts() {
    let mut texts = Vec::new();
    for line in repo_file("integration/data/token_texts.jsonl").lines() {
        if !line.trim().is_empty() {
            strings_in(&serde_json::from_str(line).unwrap(), &mut texts);
        }
    }
    assert!(texts.len() > 100, "only {} texts", texts.len());
    for oracle in oracles() {
        for text in &texts {
            oracle.check(text);
        }
        // All of them as one text too, joined by every kind of separator.
        oracle.check(&texts.join("\n"));
        oracle.check(&texts.join(" "));
        oracle.check(&texts.concat());
    }
}

#[test]
fn equal_on_bench_prose() {
    let prose = repo_file("bench/prose.txt");
    for oracle in oracles() {
        oracle.check(&prose);
        for line in prose.lines().take(2000) {
            oracle.check(line);
        }
    }
}

/// A tiny seeded xorshift: same strings on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "The",
    "THE",
    "hello",
    "World",
    "iPhone",
    "McDonald",
    "HTTPServer",
    "camelCase",
    "snake_case",
    "a",
    "I",
    "x",
    "don",
    "can",
    "it",
    "rock",
    "n",
    "ǅemal",
    "ǈ",
    "ʰa",
    "ªb",
    "ſ",
    "K",
    "Straße",
    "ÉCOLE",
    "café",
    "naïve",
    "Ωmega",
    "Σίσυφος",
    "ПРИВЕТ",
    "привет",
    "ﬁne",
    "Ⅻ",
    "ⅻ",
];
const CONTRACTIONS: &[&str] = &[
    "'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m", "'M", "'ll", "'LL",
    "'Ll", "'d", "'D", "'ſ", "'K", "'x", "'", "''", "'l", "'r", "'v", "’s", "'1",
];
const DIGITS: &[&str] = &[
    "0",
    "7",
    "42",
    "123",
    "2024",
    "12345",
    "3.14159",
    "1,000,000",
    "٣٤٥",
    "०१२",
    "²",
    "½",
    "Ⅻ",
    "१२३४",
    "𝟘𝟙𝟚",
    "⑳",
];
const PUNCT: &[&str] = &[
    ".",
    ",",
    "!",
    "?",
    "...",
    "--",
    "—",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "<",
    ">",
    "/",
    "//",
    "\\",
    "\"",
    "#",
    "$",
    "%",
    "&",
    "*",
    "+",
    "=",
    "@",
    "^",
    "_",
    "`",
    "|",
    "~",
    ";",
    ":",
    "->",
    "=>",
    "::",
    "/*",
    "*/",
    "«",
    "»",
    "¿",
    "¡",
    "€",
    "©",
    "\u{1}",
    "\u{1c}",
    "\u{7f}",
    "\u{ad}",
    "\u{200b}",
    "\u{200d}",
    "\u{feff}",
    "<|endoftext|>",
    "<|im_start|>",
    "<|fim_prefix|>",
    "<|endofprompt|>",
    "</s>",
    "[INST]",
];
const SPACES: &[&str] = &[
    " ", " ", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\r\n\r\n", " \n", "\n ",
    " \t\n", "\u{a0}", "\u{3000}", "\u{2028}", "\u{2029}", "\u{85}", "\u{b}", "\u{c}", "\u{1680}",
    "\u{2003}", "\u{202f}", "\u{205f}", "\u{180e}", "\n/", "/\n",
];
const SCRIPTS: &[&str] = &[
    "안녕하세요",
    "한국어",
    "ㄱㄴ",
    "中文",
    "漢字",
    "日本語",
    "ひらがな",
    "カタカナ",
    "ｶﾀｶﾅ",
    "مرحبا",
    "العربية",
    "ﷺ",
    "नमस्ते",
    "हिन्दी",
    "क़",
    "각",
    "e\u{301}",
    "a\u{300}\u{301}",
    "\u{301}",
    "\u{20dd}",
    "\u{94d}",
    "\u{e01}\u{e31}",
    "ภาษาไทย",
    "עברית",
    "ქართული",
    "Ελληνικά",
    "ꙮ",
    "𐐷𐐷",
    "𓀀",
    "ߦ",
];
const EMOJI: &[&str] = &[
    "😀",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇺🇸",
    "🇯🇵🇰🇷",
    "❤️",
    "☺",
    "✨",
    "🧑🏿‍💻",
    "#️⃣",
    "1️⃣",
    "🤷‍♀️",
    "\u{fe0f}",
    "\u{e0067}\u{e0062}",
];

fn random_scalar(rng: &mut Rng) -> char {
    loop {
        let cp = match rng.below(4) {
            0 => rng.below(0x800),
            1 => rng.below(0x10000),
            2 => 0x10000 + rng.below(0x20000),
            _ => rng.below(0x110000),
        } as u32;
        if let Some(c) = char::from_u32(cp) {
            return c;
        }
    }
}

fn generated_text(rng: &mut Rng) -> String {
    let mut text = String::new();
    let atoms = 1 + rng.below(12);
    for _ in 0..atoms {
        match rng.below(16) {
            0..=3 => text.push_str(rng.pick(WORDS)),
            4 => text.push_str(rng.pick(CONTRACTIONS)),
            5 => text.push_str(rng.pick(DIGITS)),
            6 | 7 => text.push_str(rng.pick(PUNCT)),
            8..=10 => text.push_str(rng.pick(SPACES)),
            11 => text.push_str(rng.pick(SCRIPTS)),
            12 => text.push_str(rng.pick(EMOJI)),
            13 => text.push(random_scalar(rng)),
            14 => {
                // A single ASCII byte of any kind.
                text.push(char::from(rng.below(128) as u8));
            }
            _ => {
                // Long runs: the merge's slow path and runs of one class.
                let unit = rng.pick(&[" ", "a", "9", "!", "\n", "ab", "=", "😀", "한", "\u{301}"]);
                for _ in 0..rng.below(140) {
                    text.push_str(unit);
                }
            }
        }
    }
    text
}

#[test]
fn equal_on_generated_texts() {
    let count: usize = std::env::var("TOKENS_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let oracles = oracles();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..count {
        let text = generated_text(&mut rng);
        for oracle in &oracles {
            oracle.check(&text);
        }
    }
}

#[test]
fn equal_on_every_character_in_context() {
    // Every code point, alone and between an ASCII letter/apostrophe/space/digit
    // neighbourhood, in chunks, so every class the table knows meets every rule.
    let oracles = oracles();
    let mut text = String::new();
    for cp in (0..0x110000u32).step_by(7) {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        for ctx in ["a", " ", "'", "1", "A"] {
            text.push_str(ctx);
            text.push(c);
        }
        text.push(c);
        text.push('s');
        if text.len() > 4000 {
            for oracle in &oracles {
                oracle.check(&text);
            }
            text.clear();
        }
    }
    for oracle in &oracles {
        oracle.check(&text);
    }
}

#[test]
fn known_counts() {
    assert_eq!(count_text(Encoding::O200kBase, "hello world"), 2);
    assert_eq!(count_text(Encoding::Cl100kBase, "tiktoken is great!"), 6);
}

/// Writes `data/*.bin` from tiktoken-rs and regex-syntax. Run by scripts/make-vocab.sh.
#[test]
#[ignore = "a generator, not a test: scripts/make-vocab.sh runs it to rewrite src/tokens/data"]
fn regenerate_data_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tokens/data");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        std::fs::write(dir.join(name), &bytes).unwrap();
        println!("wrote src/tokens/data/{name} ({} bytes)", bytes.len());
    };
    write("charclass.bin", charclass::tests::table_bytes());
    write(
        "o200k_base.bin",
        vocab::tests::file_bytes(tiktoken_rs::o200k_base_singleton(), vocab::tests::O200K_LEN),
    );
    write(
        "cl100k_base.bin",
        vocab::tests::file_bytes(
            tiktoken_rs::cl100k_base_singleton(),
            vocab::tests::CL100K_LEN,
        ),
    );
}
