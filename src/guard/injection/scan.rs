//! One text through the whole pipeline: fold, split into words, tag concepts, run the
//! rules, then decode hidden layers (base64, hex, URL-encoding, rot13, reversed text) and
//! scan those too, within a depth and a byte budget that keep the total work linear.

use super::decode;
use super::lexicon::{rot13, Mask, META, NUMBER, REVERSED, ROT13};
use super::normalize::{self, Words};
use super::signals::{scan_folded, scan_words, Hits, Signal};
use super::InjectionPolicy;

/// A decoded layer counts when its own score reaches this.
const LAYER_MIN_SCORE: f32 = 0.3;
/// Words that look like rot13 or reversed concept words before that layer is decoded.
const DISGUISED_MIN_WORDS: usize = 2;
/// Factor on the weights of a text that talks about attacks ("mitigate", "detection").
const META_DAMPING: f32 = 0.6;

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
    let mut masks: Vec<Mask> = Vec::with_capacity(words.len());
    let mut starts: Vec<Option<&[u16]>> = Vec::with_capacity(words.len());
    let (mut rot, mut rev) = (0usize, 0usize);
    for i in 0..words.len() {
        match lexicon.get(words.get(i)) {
            Some(e) => {
                masks.push(e.mask & !(ROT13 | REVERSED));
                if e.mask & ROT13 != 0 {
                    rot += 1;
                }
                if e.mask & REVERSED != 0 {
                    rev += 1;
                }
                starts.push((!e.phrases.is_empty()).then_some(e.phrases.as_slice()));
            }
            None => {
                masks.push(number(words.get(i)));
                starts.push(None);
            }
        }
    }
    scan_words(&words, &masks, &starts, &policy.phrases, hits);
    scan_folded(&folded.text, folded.cjk, &policy.cues, hits);
    for (phrase, w) in &policy.extra_substrings {
        if folded.text.contains(phrase.as_str()) {
            hits.add(Signal::ExtraPhrase, *w);
        }
    }
    if masks.iter().any(|m| m & META != 0) {
        // People asking how to defend against an attack quote it; weaken what was found
        // here (before decoded layers, which a discussion does not carry).
        hits.scale(META_DAMPING);
    }
    if let Some(c) = &policy.classifier {
        let p = c.probability(&words, &masks);
        if p >= c.floor {
            hits.add(Signal::Classifier, p * c.weight);
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
        if sub.score() >= LAYER_MIN_SCORE {
            hits.merge(&sub);
            hits.add(Signal::EncodedPayload, 0.5);
        }
    }
}

/// The text read backwards, word by word and letter by letter.
fn reversed_words(words: &Words) -> String {
    words.text.chars().rev().collect()
}

/// `NUMBER` for a digit word of value 20 or more ("repeat it 100 times").
pub(super) fn number(w: &str) -> Mask {
    let big = (2..=9).contains(&w.len())
        && w.bytes().all(|b| b.is_ascii_digit())
        && w.parse::<u32>().is_ok_and(|n| n >= 20);
    if big {
        NUMBER
    } else {
        0
    }
}
