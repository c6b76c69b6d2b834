//! The verifier's view of a question: words with their case, the pleasantries removed
//! ("Hi there,", "Sorry if this was asked before.", "Thanks in advance."), contractions
//! opened, and light stemming for comparing content words.

use std::collections::BTreeSet;

/// One word or number as written, and what the rules compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// As written (case kept), without surrounding punctuation.
    pub raw: String,
    /// Lower case, contractions opened (`don't` -> `do` + `not` as two words).
    pub lower: String,
    /// First word of a sentence (its capital says nothing).
    pub sentence_start: bool,
    /// Written inside quotes.
    pub quoted: bool,
}

/// Greetings, thanks and apologies: a clause made only of these (and function words)
/// is dropped before comparing, so a near repeat with small talk compares as itself.
const PLEASANTRIES: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "there",
    "thanks",
    "thank",
    "cheers",
    "please",
    "pls",
    "sorry",
    "advance",
    "quick",
    "question",
    "asked",
    "before",
    "find",
    "website",
    "site",
    "help",
    "appreciated",
    "appreciate",
    "ok",
    "okay",
    "wondering",
    "curious",
    "folks",
    "team",
    "again",
    "already",
    "much",
    "lot",
    "good",
    "morning",
    "afternoon",
    "evening",
    "ask",
    "asking",
    "wife",
    "husband",
    "friend",
    "mom",
    "dad",
    "colleague",
    "boss",
    "regards",
    "guys",
    "all",
    "anyone",
    "somebody",
    "someone",
    "know",
    "does",
    "anybody",
    "urgent",
];

/// More small talk, dropped only in statements ("I've been trying for ages.", "Have a
/// nice day!", "No rush.") and in the clause that opens a question before it asks
/// ("Apologies if this is obvious, ..."), never where these words can ask something
/// ("How long?", "What time?").
const SMALL_TALK: &[&str] = &[
    // how the asker feels
    "frustrated",
    "frustrating",
    "annoyed",
    "annoying",
    "confused",
    "confusing",
    "lost",
    "stuck",
    "stressed",
    "desperate",
    "crazy",
    "driving",
    "mad",
    "worried",
    "panicking",
    "totally",
    "completely",
    "bit",
    "little",
    "really",
    "so",
    "very",
    "super",
    "right",
    "honestly",
    "fine",
    // what the asker tried
    "trying",
    "tried",
    "try",
    "searching",
    "searched",
    "search",
    "looked",
    "looking",
    "ages",
    "forever",
    "nowhere",
    "everywhere",
    "google",
    "googled",
    "faq",
    "faqs",
    "clear",
    "unclear",
    "luck",
    "see",
    "said",
    "told",
    "suggested",
    // thanks, wishes and sign-offs
    "grateful",
    "thankful",
    "kind",
    "best",
    "wishes",
    "warm",
    "warmly",
    "sincerely",
    "love",
    "great",
    "awesome",
    "amazing",
    "nice",
    "lovely",
    "wonderful",
    "day",
    "weekend",
    "keep",
    "guidance",
    "tips",
    "advice",
    "ideas",
    "input",
    "reply",
    "response",
    "helpful",
    "helping",
    // apologies and modesty
    "apologies",
    "apologise",
    "apologize",
    "bother",
    "bothering",
    "dumb",
    "silly",
    "stupid",
    "obvious",
    "message",
    "long",
    "english",
    "bad",
    "poor",
    "maybe",
    "perhaps",
    "newbie",
    "new",
    "beginner",
    // hurry
    "asap",
    "rush",
    "hurry",
    "urgently",
    "quickly",
    "soon",
    "sorted",
    "fast",
    // chat
    "lol",
    "haha",
    "hahaha",
    "lmao",
    "btw",
    "tbh",
    "fyi",
    "imo",
    // well-being and who asks
    "hope",
    "hoping",
    "well",
    "doing",
    "makes",
    "sense",
    "mate",
    "buddy",
    "everyone",
    "reader",
    "time",
    "first",
    "probably",
];

/// Words by which a question points back at an earlier sentence.
const POINTING_BACK: &[&str] = &["it", "this", "that", "them", "these", "those", "they"];

/// Words that open a question: a clause holding one asks something.
const QUESTION_WORDS: &[&str] = &["what", "how", "when", "where", "which", "who", "why"];

/// Words that close a message; a name may follow them ("Best wishes, Sam").
const SIGN_OFFS: &[&str] = &["regards", "wishes", "cheers", "thanks", "best", "sincerely"];

/// Opens a clause with small talk about who asks ("Asking for my wife.").
const PLEASANTRY_OPENERS: &[&str] = &[
    "asking for",
    "thanks",
    "thank you",
    "sorry if",
    "cheers",
    "i couldn't find",
    "i could not find",
    "couldn't find",
    "any help",
    "i can't find it",
    "hope you can help",
    "i looked everywhere",
    "i've looked everywhere",
    "i have looked everywhere",
];

/// Whole clauses of support small talk that the word list above cannot take (they hold
/// "new", "one", "kind"...): matched only as the entire clause, so "please advise how
/// to cancel" stays a question.
const SMALL_TALK_CLAUSES: &[&str] = &[
    "sorry to bother you",
    "sorry to bother",
    "sorry for the trouble",
    "please advise",
    "it's urgent",
    "it is urgent",
    "it's kind of urgent",
    "it's a bit urgent",
    "this is urgent",
    "kind of urgent",
    "i'm new here",
    "i am new here",
    "new here",
    "quick one",
    "quick one for you",
    "hey quick one",
    "hi quick one",
    "any advice",
    "any ideas",
    "many thanks",
    "much appreciated",
    "appreciate it",
    "thanks a lot",
    "thanks a bunch",
];

/// Splits `text` into clauses (at . ? ! ; : , and dashes between spaces), drops those
/// that are only small talk, and returns the words of the rest.
pub fn words(text: &str) -> Vec<Word> {
    words_without(text, &BTreeSet::new())
}

/// `words`, also without the asides named in `asides` (keys from `aside_candidates`,
/// judged small talk by the embedding model), unless the rest of the question points
/// back at them ("I'm fed up with my router. How do I reset it?").
pub fn words_without(text: &str, asides: &BTreeSet<String>) -> Vec<Word> {
    let kept: Vec<(Vec<Word>, bool)> = parts(text)
        .into_iter()
        .map(|p| {
            let aside = p.aside_key.as_ref().is_some_and(|k| asides.contains(k));
            (p.words, aside)
        })
        .collect();
    let rest = kept
        .iter()
        .filter(|(_, aside)| !aside)
        .flat_map(|(ws, _)| ws);
    let refers_back = rest
        .clone()
        .any(|w| POINTING_BACK.contains(&w.lower.as_str()));
    let drop_asides = !refers_back && rest.count() > 0;
    kept.into_iter()
        .filter(|(_, aside)| !(drop_asides && *aside))
        .flat_map(|(ws, _)| ws)
        .collect()
}

/// Parts of `text` that may be small talk the word lists do not know ("I'm pulling my
/// hair out.", "Fingers crossed!"): whole statement sentences and the clause that opens
/// a question, not already dropped as small talk, without digits. The sidecar asks the
/// embedding model about each (see `asides.rs`); `words_without` drops those it names.
pub fn aside_candidates(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in parts(text).into_iter().filter_map(|p| p.aside_key) {
        if !key.chars().any(|c| c.is_ascii_digit()) && !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// A clause the word lists keep: its words, and its aside key (see `aside_keys`).
struct Part {
    words: Vec<Word>,
    aside_key: Option<String>,
}

/// The clauses of `text` that are not small talk by the word lists, in order.
fn parts(text: &str) -> Vec<Part> {
    let mut quoted = false;
    // "9 p.m." would end a sentence twice; "6:00" is 6 o'clock.
    let text = clock_times(text);
    let clauses = clauses(&text);
    let keys = aside_keys(&clauses);
    let mut out = Vec::new();
    let mut signed_off = false;
    for (i, (clause, aside_key)) in clauses.iter().zip(keys).enumerate() {
        let words = split_words(&clause.text, clause.starts_sentence, &mut quoted);
        // "Best wishes, Sam": the name after a sign-off at the end of the text.
        let signature = signed_off
            && i + 1 == clauses.len()
            && (1..=2).contains(&words.len())
            && words
                .iter()
                .all(|w| w.raw.chars().next().is_some_and(char::is_uppercase));
        if signature || is_pleasantry(clause, &words) {
            signed_off = words.iter().any(|w| SIGN_OFFS.contains(&w.lower.as_str()));
            continue;
        }
        signed_off = false;
        out.push(Part { words, aside_key });
    }
    out
}

/// Whether `clause` holds a question word.
fn asks(clause: &str) -> bool {
    clause
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| QUESTION_WORDS.contains(&w))
}

/// Each clause's aside key: its whole sentence for a statement, itself for the clause
/// that opens a question without asking, none otherwise.
fn aside_keys(clauses: &[Clause]) -> Vec<Option<String>> {
    clauses
        .iter()
        .map(|c| {
            if c.statement {
                let sentence: Vec<&str> = clauses
                    .iter()
                    .filter(|o| o.sentence == c.sentence)
                    .map(|o| o.text.trim())
                    .collect();
                Some(sentence.join(", "))
            } else if c.leads_question && !asks(&c.text) {
                Some(c.text.trim().to_string())
            } else {
                None
            }
        })
        .collect()
}

/// `a.m.` / `p.m.` as `am` / `pm`, and `6:00` as `6` (`6:30` stays as written).
fn clock_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
        let after_digit_or_space = i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == ' ');
        let lower = rest.to_lowercase();
        if after_digit_or_space && (lower == "a.m." || lower == "p.m.") {
            out.push_str(if lower == "a.m." { "am" } else { "pm" });
            i += 4;
            continue;
        }
        let on_the_hour = chars[i] == ':'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1) == Some(&'0')
            && chars.get(i + 2) == Some(&'0')
            && !chars.get(i + 3).is_some_and(|c| c.is_ascii_digit());
        if on_the_hour {
            i += 3;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A clause of the text: its words as written, whether it starts a sentence, and
/// whether its sentence is a statement (ends in `.` or `!`, or is unterminated after a
/// question: "Do you ship to Canada? lol").
struct Clause {
    text: String,
    starts_sentence: bool,
    /// Which sentence of the text (0, 1, ...) the clause belongs to.
    sentence: usize,
    statement: bool,
    /// Opens a question without being its last clause ("Sorry to bother you again, how
    /// do I...?").
    leads_question: bool,
}

fn clauses(text: &str) -> Vec<Clause> {
    let mut out: Vec<Clause> = Vec::new();
    let mut current = String::new();
    let mut starts_sentence = true;
    // Where the sentence being read starts in `out`.
    let mut sentence_from = 0;
    let mut sentence = 0;
    let mut asked = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        // A period or comma inside a number (3.5, 1,000) does not end anything.
        let in_number =
            (c == '.' || c == ',' || c == ':') && prev.is_ascii_digit() && next.is_ascii_digit();
        let dash = (c == '-' || c == '–' || c == '—') && prev == ' ' && next == ' ';
        let ends_sentence = matches!(c, '.' | '?' | '!') && !in_number;
        let ends_clause = ends_sentence || dash || (matches!(c, ';' | ':' | ',') && !in_number);
        if ends_clause {
            if !current.trim().is_empty() {
                out.push(Clause {
                    text: std::mem::take(&mut current),
                    starts_sentence,
                    sentence,
                    statement: false,
                    leads_question: false,
                });
            }
            current.clear();
            starts_sentence = ends_sentence || dash || c == ':';
            if ends_sentence {
                let statement = c != '?';
                asked |= !statement;
                let last = out.len().saturating_sub(1);
                for (j, cl) in out.iter_mut().enumerate().skip(sentence_from) {
                    cl.statement = statement;
                    cl.leads_question = !statement && j == sentence_from && j < last;
                }
                sentence_from = out.len();
                sentence += 1;
            }
        } else {
            current.push(c);
        }
        i += 1;
    }
    if !current.trim().is_empty() {
        out.push(Clause {
            text: current,
            starts_sentence,
            sentence,
            statement: false,
            leads_question: false,
        });
    }
    out[sentence_from..]
        .iter_mut()
        .for_each(|cl| cl.statement = asked);
    out
}

fn is_pleasantry(clause: &Clause, words: &[Word]) -> bool {
    let lower = clause.text.trim().to_lowercase().replace('’', "'");
    if PLEASANTRY_OPENERS.iter().any(|p| lower.starts_with(p))
        || SMALL_TALK_CLAUSES.contains(&lower.as_str())
    {
        return true;
    }
    let asks = words
        .iter()
        .any(|w| QUESTION_WORDS.contains(&w.lower.as_str()));
    let aside = clause.statement || (clause.leads_question && !asks);
    let pleasant = |w: &Word| {
        PLEASANTRIES.contains(&w.lower.as_str())
            || (aside && SMALL_TALK.contains(&w.lower.as_str()))
    };
    let negation = |w: &Word| super::lexicon::NEGATIONS.contains(&w.lower.as_str());
    // A negated clause is small talk only in a statement ("Google didn't help."); in a
    // question it asks something ("Isn't there any help?").
    !words.is_empty()
        && words.iter().all(|w| {
            pleasant(w) || super::lexicon::FUNCTION_WORDS.contains(&w.lower.as_str()) || negation(w)
        })
        && words.iter().any(pleasant)
        && (clause.statement || !words.iter().any(negation))
}

/// Words of one clause: letters, digits and the marks inside them (`3.5`, `1,000`,
/// `don't`), with currency and percent signs as words of their own; hyphens split
/// (`long-haul` -> `long`, `haul`; `non-refundable` -> `non`, `refundable`).
fn split_words(clause: &str, starts_sentence: bool, quoted: &mut bool) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = clause.chars().collect();
    let mut first = starts_sentence;
    let flush = |cur: &mut String, out: &mut Vec<Word>, quoted: bool, first: &mut bool| {
        if cur.is_empty() {
            return;
        }
        let raw = std::mem::take(cur);
        for lower in open_contraction(&raw.to_lowercase()) {
            out.push(Word {
                raw: raw.clone(),
                lower,
                sentence_start: *first,
                quoted,
            });
        }
        *first = false;
    };
    for i in 0..chars.len() {
        let c = chars[i];
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        if c.is_alphanumeric() {
            // 50GB -> 50 GB; 3rd, 10th, 5G and A320 stay whole (ordinals and codes).
            if !cur.is_empty()
                && c.is_alphabetic()
                && cur
                    .chars()
                    .all(|d| d.is_ascii_digit() || d == '.' || d == ',')
            {
                let rest: String = chars[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                let unit = rest.to_lowercase();
                if super::lexicon::UNITS.iter().any(|(u, _)| *u == unit) {
                    flush(&mut cur, &mut out, *quoted, &mut first);
                }
            }
            cur.push(c);
        } else if (c == '.' || c == ',') && prev.is_ascii_digit() && next.is_ascii_digit() {
            cur.push(c);
        } else if (c == '\'' || c == '’') && prev.is_alphabetic() && next.is_alphabetic() {
            cur.push('\'');
        } else {
            flush(&mut cur, &mut out, *quoted, &mut first);
            match c {
                '"' | '“' | '”' => *quoted = !*quoted,
                '$' | '€' | '£' | '%' | '¥' => {
                    let mut s = String::new();
                    s.push(c);
                    cur = s;
                    flush(&mut cur, &mut out, *quoted, &mut first);
                }
                _ => {}
            }
        }
    }
    flush(&mut cur, &mut out, *quoted, &mut first);
    out
}

/// `don't` -> [`do`, `not`], `can't` -> [`can`, `not`], `it's` -> [`it`], `whats` ->
/// [`what`].
fn open_contraction(w: &str) -> Vec<String> {
    let special = match w {
        "can't" | "cant" | "cannot" => Some(["can", "not"]),
        "won't" | "wont" => Some(["will", "not"]),
        "shan't" => Some(["shall", "not"]),
        "ain't" => Some(["is", "not"]),
        "whats" => Some(["what", "is"]),
        "dont" => Some(["do", "not"]),
        "doesnt" => Some(["does", "not"]),
        "didnt" => Some(["did", "not"]),
        "isnt" => Some(["is", "not"]),
        "arent" => Some(["are", "not"]),
        _ => None,
    };
    if let Some(pair) = special {
        return pair.iter().map(|s| s.to_string()).collect();
    }
    if let Some(stem) = w.strip_suffix("n't") {
        return vec![stem.to_string(), "not".into()];
    }
    for suffix in ["'s", "'re", "'ve", "'ll", "'d", "'m"] {
        if let Some(stem) = w.strip_suffix(suffix) {
            return vec![stem.to_string()];
        }
    }
    vec![w.to_string()]
}

/// A light stem for comparing content words: plurals and common verb endings
/// (`flights` -> `flight`, `charged` -> `charg`, `charging` -> `charg`).
pub fn stem(w: &str) -> String {
    let w = w.trim_end_matches('\'');
    if w.len() <= 3 || w.chars().any(|c| c.is_ascii_digit()) {
        return w.to_string();
    }
    for (suffix, keep) in [("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")] {
        if let Some(base) = w.strip_suffix(suffix) {
            if base.len() >= 3 && !(suffix == "s" && base.ends_with('s')) {
                let base = undouble(format!("{base}{keep}"));
                // charge/charged/charges -> charg
                return base.trim_end_matches('e').to_string();
            }
        }
    }
    w.trim_end_matches('e').to_string()
}

/// `shipp` (from shipping) -> `ship`.
fn undouble(mut base: String) -> String {
    let b = base.as_bytes();
    let n = b.len();
    if n >= 4 && b[n - 1] == b[n - 2] && !matches!(b[n - 1], b'l' | b's' | b'z' | b'e' | b'o') {
        base.pop();
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowers(t: &str) -> Vec<String> {
        words(t).into_iter().map(|w| w.lower).collect()
    }

    #[test]
    fn small_talk_is_dropped() {
        assert_eq!(
            lowers("Hey, how much does gift wrapping cost? Sorry if this was asked before."),
            lowers("How much does gift wrapping cost?")
        );
        assert_eq!(
            lowers("Hi, what is the API rate limit? I couldn't find it on the website."),
            lowers("what is the API rate limit")
        );
        assert_eq!(
            lowers("Is there a fee? Asking for my wife."),
            lowers("Is there a fee")
        );
        assert_eq!(
            lowers("Can I cancel? Thanks in advance."),
            lowers("can i cancel")
        );
    }

    #[test]
    fn numbers_units_contractions() {
        assert_eq!(
            lowers("50GB for $1,000.50"),
            ["50", "gb", "for", "$", "1,000.50"]
        );
        assert_eq!(lowers("I don't know"), ["i", "do", "not", "know"]);
        assert_eq!(lowers("non-refundable A320"), ["non", "refundable", "a320"]);
        assert_eq!(lowers("the 10th"), ["the", "10th"]);
    }

    #[test]
    fn stems() {
        assert_eq!(stem("flights"), "flight");
        assert_eq!(stem("charged"), stem("charges"));
        assert_eq!(stem("policies"), "policy");
        assert_eq!(stem("class"), "class");
    }
}
