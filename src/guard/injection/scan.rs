//! One text through the whole pipeline: fold, split into words, tag concepts, run the
//! rules, then decode hidden layers (base64, hex, URL-encoding, rot13, reversed text) and
//! scan those too, within a depth and a byte budget that keep the total work linear.

use super::decode;
use super::lexicon::{
    rot13, Mask, AI_NOUN, AI_WEAK, DIRECTS, FOLLOW, IGNORE, META, NUMBER, PERSONAL, REPEAT, REVEAL,
    REVERSED, ROT13, SAY, SECRET_DATA, SEND, UNKNOWN,
};
use super::normalize::{self, Words};
use super::signals::{
    addressed_labels, exfil_open_url, exfil_secret_file, forged_role_markers, has_http,
    scan_folded, scan_words, Hits, Signal, WordTags,
};
use super::technical;
use super::InjectionPolicy;

/// A decoded layer counts when its own score reaches this.
const LAYER_MIN_SCORE: f32 = 0.3;
/// Words that look like rot13 or reversed concept words before that layer is decoded.
const DISGUISED_MIN_WORDS: usize = 2;
/// Factor on the weights of a text that talks about attacks ("mitigate", "detection").
const META_DAMPING: f32 = 0.6;
/// Verbs that command the model: beside words addressed to an AI they make an instruction.
const COMMANDING: Mask = IGNORE | REVEAL | SEND | REPEAT | FOLLOW | SAY | DIRECTS;
/// Factor on the lexical signals of code, markup, logs and configs (`technical`).
const TECHNICAL_DAMPING: f32 = 0.55;
/// Factor on `<script`, `onload=`, `onerror=` in technical text: an HTML page always
/// holds them, so they stay below the grey zone there.
const MARKUP_DAMPING: f32 = 0.4;

/// Scans `raw` and its decoded layers into `hits`. `budget` is the number of bytes that
/// may still be scanned; every layer spends its length.
pub(super) fn scan(
    policy: &InjectionPolicy,
    raw: &str,
    depth: u8,
    budget: &mut usize,
    hits: &mut Hits,
) {
    *budget = budget.saturating_sub(raw.len());
    let folded = normalize::fold(raw);
    if folded.hidden >= 3
        && raw
            .chars()
            .any(|c| ('\u{E0020}'..='\u{E007E}').contains(&c))
    {
        hits.add(Signal::HiddenText, 0.4);
    }
    let lexicon = &policy.lexicon;
    let words = normalize::words(&folded.text, &|w| lexicon.knows(w));
    let mut tags = WordTags {
        masks: Vec::with_capacity(words.len()),
        ids: Vec::with_capacity(words.len()),
        union: 0,
        tagged: Vec::new(),
        phrase_starts: Vec::new(),
    };
    let (mut rot, mut rev) = (0usize, 0usize);
    for i in 0..words.len() {
        let (mask, id) = match lexicon.index(words.bytes(i)) {
            Some(id) => {
                let e = lexicon.entry(id);
                if e.mask & ROT13 != 0 {
                    rot += 1;
                }
                if e.mask & REVERSED != 0 {
                    rev += 1;
                }
                if !e.phrases.is_empty() {
                    tags.phrase_starts.push(i as u32);
                }
                (e.mask & !(ROT13 | REVERSED), id)
            }
            None => (number(words.bytes(i)), UNKNOWN),
        };
        if mask != 0 {
            tags.tagged.push(i as u32);
        }
        tags.union |= mask;
        tags.masks.push(mask);
        tags.ids.push(id);
    }
    scan_words(&words, &tags, lexicon, &policy.phrases, hits);
    let http = has_http(folded.text.as_bytes());
    if http {
        exfil_open_url(
            &folded.text,
            tags.union & (SECRET_DATA | PERSONAL) != 0,
            hits,
        );
        if tags.union & SEND != 0 {
            exfil_secret_file(&folded.text, hits);
        }
    }
    // "@assistant" reads as a leetspeak word, so an @ in the text also looks for labels.
    if tags.union & (AI_NOUN | AI_WEAK) != 0 || folded.text.contains('@') {
        addressed_labels(&folded.text, lexicon, COMMANDING, hits);
    }
    if tags.union & COMMANDING != 0 {
        forged_role_markers(raw, lexicon, COMMANDING, hits);
    }
    // In code, markup and configs the words' meaning counts for less; the cues found in
    // the folded text next (chat-template tokens, forged turns, image beacons) are
    // structure and keep their weight, except the markup an HTML page always holds.
    let technical = technical::looks_technical(raw);
    if technical {
        hits.scale_lexical(TECHNICAL_DAMPING);
    }
    scan_folded(&folded.text, folded.cjk, http, &policy.cues, hits);
    if technical {
        hits.scale_one(Signal::ActiveMarkup, MARKUP_DAMPING);
    }
    for (phrase, w) in &policy.extra_substrings {
        if folded.text.contains(phrase.as_str()) {
            hits.add(Signal::ExtraPhrase, *w);
        }
    }
    hits.join_address_and_instruction(tags.union & COMMANDING != 0);
    if tags.union & META != 0 {
        // People asking how to defend against an attack quote it; weaken what was found
        // here (before decoded layers, which a discussion does not carry).
        hits.scale(META_DAMPING);
    }
    if let Some(c) = &policy.classifier {
        let add = c.contribution(c.probability(&words, &tags.masks, &tags.ids), hits.score());
        if add > 0.0 {
            hits.add(Signal::Classifier, add);
        }
    }
    if words.despaced && hits.score() >= LAYER_MIN_SCORE {
        hits.add(Signal::HiddenText, 0.2);
    }
    if depth >= policy.max_decode_depth || *budget == 0 {
        return;
    }
    let mut layers = decode::segments(raw, *budget);
    if rot >= DISGUISED_MIN_WORDS {
        layers.push(folded.text.chars().map(rot13).collect());
    }
    if rev >= DISGUISED_MIN_WORDS {
        layers.push(reversed_words(&words));
    }
    for layer in layers {
        if *budget < layer.len() {
            break;
        }
        let mut sub = Hits::default();
        scan(policy, &layer, depth + 1, budget, &mut sub);
        // Code and configs carry base64 and hex blobs: there only a decoded layer that
        // is an attack by itself counts.
        let min = if technical {
            policy.threshold
        } else {
            LAYER_MIN_SCORE
        };
        if sub.score() >= min {
            hits.merge(&sub);
            hits.add(Signal::EncodedPayload, 0.5);
        }
    }
}

/// The text read backwards, word by word and letter by letter.
fn reversed_words(words: &Words) -> String {
    let mut text = String::new();
    for i in 0..words.len() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(words.get(i));
    }
    text.chars().rev().collect()
}

/// `NUMBER` for a digit word of value 20 or more ("repeat it 100 times").
pub(super) fn number(w: &[u8]) -> Mask {
    // Nine digits at most: the value fits a u32.
    let big = (2..=9).contains(&w.len())
        && w.iter().all(u8::is_ascii_digit)
        && w.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) >= 20;
    if big {
        NUMBER
    } else {
        0
    }
}
