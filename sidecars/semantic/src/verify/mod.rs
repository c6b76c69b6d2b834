//! The hard-negative verifier: given a question and a stored neighbour that the
//! embedding finds similar, reject the pair when there is evidence that they ask
//! different things. Lexical differences alone are not evidence (paraphrases have
//! plenty); only contrasts are:
//!
//! 1. **negation**: the number of negation cues (`not`, `no`, `never`, `without`,
//!    `n't`, `non-`, ...) differs in parity, or a word appears with a negating prefix on
//!    one side only (`refundable` / `nonrefundable`).
//! 2. **number**: the numbers differ (digits, spelled numbers and ordinals, months,
//!    weekdays, today/tomorrow), or the unit after the same number does.
//! 3. **entity**: a name on one side (a capitalised word inside a sentence, a code like
//!    `V15` or `A320`, an acronym, a quoted string) is absent from the other.
//! 4. **scope**: the two name different alternatives of a contrast group (long / short,
//!    domestic / international, monthly / annual, enable / disable, all / some / only,
//!    ...), or they are the same question with a content word swapped, added or
//!    removed (near-identical wording, yet not identical content).
//!
//! Pure: no model, no clock (the sidecar passes in which asides its model judged small
//! talk, `asides.rs`). Each rejection names its rule and its evidence.

pub mod asides;
pub mod lexicon;
pub mod text;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use lexicon::*;
use text::{stem, words_without, Word};

/// Why a neighbour was rejected: the closed set the HTTP API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Negation,
    Number,
    Entity,
    Scope,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Negation => "negation",
            Reason::Number => "number",
            Reason::Entity => "entity",
            Reason::Scope => "scope",
        }
    }
}

/// A rejection: the rule and what it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: Reason,
    pub evidence: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.evidence)
    }
}

/// How near-identical two questions must be for a swapped or added content word to
/// count as a narrowed or changed scope: shared content words / all content words.
/// Calibrated on bench/semantic/dev.jsonl (see README).
pub const DEFAULT_NEAR_IDENTICAL: f32 = 0.5;

/// A swap needs this many shared content words and at most `SWAP_MAX` different ones
/// on each side.
const SWAP_SHARED: usize = 2;
const SWAP_MAX: usize = 1;

/// A replaced span needs this many unchanged words around it.
const SPAN_CONTEXT: usize = 3;

/// `from X to Y` vs `from Y to X`: the words around `to`/`from` trade places.
fn swapped_direction(a: &Question, b: &Question) -> Result<(), Rejection> {
    let around = |q: &Question| -> Vec<(String, String)> {
        let ws: Vec<&str> = q
            .words
            .iter()
            .map(|w| w.lower.as_str())
            .filter(|w| !matches!(*w, "a" | "an" | "the" | "my" | "your"))
            .collect();
        (1..ws.len().saturating_sub(1))
            .filter(|&i| matches!(ws[i], "to" | "into" | "from" | "vs" | "versus" | "than"))
            .map(|i| (stem(ws[i - 1]), stem(ws[i + 1])))
            .collect()
    };
    // "calls to Mexico" vs "calls from Mexico": same words, the direction flipped.
    let directed = |q: &Question| -> Vec<(String, &'static str, String)> {
        let ws: Vec<&str> = q.words.iter().map(|w| w.lower.as_str()).collect();
        (1..ws.len().saturating_sub(1))
            .filter_map(|i| {
                let dir = match ws[i] {
                    "to" | "into" => "to",
                    "from" => "from",
                    _ => return None,
                };
                Some((stem(ws[i - 1]), dir, stem(ws[i + 1])))
            })
            .collect()
    };
    let (da, db) = (directed(a), directed(b));
    for (p, d, n) in &da {
        if db.iter().any(|(q, e, m)| q == p && m == n && e != d) {
            return Err(Rejection {
                reason: Reason::Scope,
                evidence: format!("{p} {d} {n} vs the other direction"),
            });
        }
    }
    let (sa, sb) = (around(a), around(b));
    for (p, n) in &sa {
        if p != n && sb.iter().any(|(q, m)| q == n && m == p) {
            return Err(Rejection {
                reason: Reason::Scope,
                evidence: format!("{p:?} and {n:?} trade places"),
            });
        }
    }
    Ok(())
}

/// The same words in the same order but one content word, replaced by another that is
/// not a typo of it: "How do I cancel my subscription?" / "How do I pause my
/// subscription?". Users who reword change more than one word in place; a question with
/// one word substituted asks about something else. Catches the short questions the
/// near-identical rule cannot (it needs `SWAP_SHARED` shared content words).
fn one_word_substituted(a: &Question, b: &Question) -> Result<(), Rejection> {
    if a.words.len() != b.words.len() {
        return Ok(());
    }
    let mut differing = a
        .words
        .iter()
        .zip(&b.words)
        .filter(|(x, y)| x.lower != y.lower);
    let (Some((x, y)), None) = (differing.next(), differing.next()) else {
        return Ok(());
    };
    let is_content = |w: &str| {
        !FUNCTION_WORDS.contains(&w)
            && !NEGATIONS.contains(&w)
            && number_word(w).is_none()
            && w.chars().any(char::is_alphabetic)
            && !w.chars().any(|c| c.is_ascii_digit())
    };
    let (x, y) = (x.lower.as_str(), y.lower.as_str());
    let same_unit = unit_of(x).is_some() && unit_of(x) == unit_of(y);
    if !is_content(x) || !is_content(y) || meaning(x) == meaning(y) || typo_of(x, y) || same_unit {
        return Ok(());
    }
    Err(Rejection {
        reason: Reason::Scope,
        evidence: format!("the same question with {x:?} in place of {y:?}"),
    })
}

/// The same words around one or two words replaced by one or two others ("a promo code
/// on the mobile app" / "on the website", "What annual income do I need" / "What credit
/// score do I need"): one thing asked about in place of another. Single words are
/// `one_word_substituted`'s.
fn span_substituted(a: &Question, b: &Question) -> Result<(), Rejection> {
    let (wa, wb): (Vec<&str>, Vec<&str>) = (
        a.words.iter().map(|w| w.lower.as_str()).collect(),
        b.words.iter().map(|w| w.lower.as_str()).collect(),
    );
    let prefix = wa.iter().zip(&wb).take_while(|(x, y)| x == y).count();
    let room = wa.len().min(wb.len()) - prefix;
    let suffix = wa
        .iter()
        .rev()
        .zip(wb.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (
        &wa[prefix..wa.len() - suffix],
        &wb[prefix..wb.len() - suffix],
    );
    let spans = (1..=2).contains(&ma.len()) && (1..=2).contains(&mb.len());
    if !spans || ma.len() + mb.len() == 2 || prefix + suffix < SPAN_CONTEXT {
        return Ok(());
    }
    let words = |m: &[&str]| m.iter().filter(|w| !FUNCTION_WORDS.contains(w)).count();
    let plain = |w: &&str| {
        !NEGATIONS.contains(w) && number_word(w).is_none() && !w.chars().any(|c| c.is_ascii_digit())
    };
    let squash = |m: &[&str]| m.concat();
    // Each content word of one span is one of the other's, or a misspelling of it.
    let covered = |m: &[&str], by: &[&str]| {
        m.iter()
            .filter(|w| !FUNCTION_WORDS.contains(w))
            .all(|x| by.iter().any(|y| meaning(x) == meaning(y) || typo_of(x, y)))
    };
    let (ca, cb) = (words(ma), words(mb));
    if ca == 0
        || cb == 0
        || (covered(ma, mb) && covered(mb, ma))
        || squash(ma) == squash(mb)
        || !ma.iter().chain(mb).all(plain)
    {
        return Ok(());
    }
    Err(Rejection {
        reason: Reason::Scope,
        evidence: format!(
            "the same question with {:?} in place of {:?}",
            ma.join(" "),
            mb.join(" ")
        ),
    })
}

/// Whether two words are one misspelling apart: one edit for words of 4 to 7 letters,
/// two from 8 letters.
/// The words of `q` (lower case) whose stem is `s`.
fn spellings<'q>(q: &'q Question, s: &'q str) -> impl Iterator<Item = &'q str> + 'q {
    q.words
        .iter()
        .map(|w| w.lower.as_str())
        .filter(move |w| stem(w) == s)
}

fn typo_of(x: &str, y: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
    let shorter = a.len().min(b.len());
    let allowed = match shorter {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    edit_distance(&a, &b) <= allowed
}

/// Levenshtein distance (insertions, deletions, substitutions), two rows.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row[j + 1] = substitute.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// The verifier's settings.
#[derive(Debug, Clone, Copy)]
pub struct Verifier {
    /// See `DEFAULT_NEAR_IDENTICAL`.
    pub near_identical: f32,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            near_identical: DEFAULT_NEAR_IDENTICAL,
        }
    }
}

/// A question as the rules see it.
struct Question {
    words: Vec<Word>,
    /// Lower-case words (for "does the other side mention it at all").
    lower: BTreeSet<String>,
    /// Stems of every word, and of every two-word phrase ("turn on"); the unit of a
    /// length of time ("6 months") is left to the number rule, so it does not read
    /// as "monthly".
    stems: BTreeSet<String>,
    /// The whole text lower-cased with only letters and digits (`wi-fi` == `wifi`).
    squashed: String,
}

impl Question {
    fn new(text: &str, asides: &BTreeSet<String>) -> Question {
        let words = words_without(text, asides);
        let lower = words.iter().map(|w| w.lower.clone()).collect();
        let mut stems: BTreeSet<String> = (0..words.len())
            // "6 months" is not "monthly"; "a month" may be ("$10 a month").
            .filter(|&i| !counts_a_duration(&words, i, false))
            .map(|i| stem(&words[i].lower))
            .collect();
        for pair in words.windows(2) {
            stems.insert(format!("{} {}", stem(&pair[0].lower), stem(&pair[1].lower)));
        }
        let squashed = words
            .iter()
            .flat_map(|w| w.lower.chars())
            .filter(|c| c.is_alphanumeric())
            .collect();
        Question {
            words,
            lower,
            stems,
            squashed,
        }
    }
}

impl Verifier {
    /// `Ok` when nothing says the two ask different things.
    pub fn check(&self, query: &str, neighbour: &str) -> Result<(), Rejection> {
        self.check_without(query, neighbour, &BTreeSet::new())
    }

    /// `check`, with the asides the embedding model found (`asides.rs`) left out.
    pub fn check_without(
        &self,
        query: &str,
        neighbour: &str,
        asides: &BTreeSet<String>,
    ) -> Result<(), Rejection> {
        let a = Question::new(query, asides);
        let b = Question::new(neighbour, asides);
        negation(&a, &b)?;
        numbers(&a, &b)?;
        entities(&a, &b)?;
        contrasts(&a, &b)?;
        swapped_direction(&a, &b)?;
        one_word_substituted(&a, &b)?;
        span_substituted(&a, &b)?;
        self.near_identical_change(&a, &b)
    }

    /// Same question with a content word swapped, added or removed.
    fn near_identical_change(&self, a: &Question, b: &Question) -> Result<(), Rejection> {
        // Words of one meaning make two questions the same, but never count towards
        // "mostly the same": that would refuse more paraphrases, not fewer.
        if content(a, true) == content(b, true) {
            return Ok(());
        }
        let (mut ca, mut cb) = (content(a, false), content(b, false));
        let respelled = set_units_aside(&mut ca, &mut cb);
        // The same words but misspelt ("parkng", "colour"): a near repeat. (Only when
        // nothing else differs: a merged word raises the overlap the rule below refuses.)
        let only_a: Vec<&String> = ca.difference(&cb).collect();
        let only_b: Vec<&String> = cb.difference(&ca).collect();
        let misspelt = |x: &String, y: &String| {
            spellings(a, x).any(|sx| spellings(b, y).any(|sy| typo_of(sx, sy)))
        };
        if !only_a.is_empty()
            && only_a.len() == only_b.len()
            && only_a
                .iter()
                .all(|x| only_b.iter().filter(|y| misspelt(x, y)).count() == 1)
            && only_b
                .iter()
                .all(|y| only_a.iter().filter(|x| misspelt(x, y)).count() == 1)
        {
            return Ok(());
        }
        let shared = ca.intersection(&cb).count();
        let union = ca.union(&cb).count();
        if shared == 0 || shared == union {
            return Ok(());
        }
        let (na, nb) = (ca.len() - shared, cb.len() - shared);
        // One word swapped for another in an otherwise identical question.
        let swap = shared + respelled >= SWAP_SHARED
            && na >= 1
            && nb >= 1
            && na <= SWAP_MAX
            && nb <= SWAP_MAX;
        // All of one question and more: the more narrows it ("How do I cancel my
        // subscription? I signed up through the app store.").
        let widened = na == 0 || nb == 0;
        if swap || widened || (shared as f32) / (union as f32) >= self.near_identical {
            let only_a: Vec<&str> = ca.difference(&cb).map(String::as_str).collect();
            let only_b: Vec<&str> = cb.difference(&ca).map(String::as_str).collect();
            return Err(Rejection {
                reason: Reason::Scope,
                evidence: format!(
                    "same question but {:?} vs {:?}",
                    only_a.join(" "),
                    only_b.join(" ")
                ),
            });
        }
        Ok(())
    }
}

/// Takes the units (`unit:<kind>:<stem>`, from `content`) out of both content sets and
/// returns how many kinds both sides have, spelled differently. Spelled alike on both
/// sides a unit goes back in as a shared word like any other; of one kind but spelled
/// differently ("24 hours" / "a day") it is context only the one-word-swap rule counts;
/// on one side only it is the number rule's business ("24 hours" / "the day before").
fn set_units_aside(ca: &mut BTreeSet<String>, cb: &mut BTreeSet<String>) -> usize {
    let take = |c: &mut BTreeSet<String>| -> BTreeSet<String> {
        let units = c
            .iter()
            .filter(|k| k.starts_with("unit:"))
            .cloned()
            .collect();
        c.retain(|k| !k.starts_with("unit:"));
        units
    };
    let (ua, ub) = (take(ca), take(cb));
    let kinds = |units: &BTreeSet<String>| -> BTreeSet<String> {
        units
            .iter()
            .filter_map(|k| k.rsplit_once(':').map(|(kind, _)| kind.to_string()))
            .collect()
    };
    let alike: BTreeSet<String> = ua.intersection(&ub).cloned().collect();
    let alike_kinds = kinds(&alike);
    let respelled = kinds(&ua)
        .intersection(&kinds(&ub))
        .filter(|k| !alike_kinds.contains(*k))
        .count();
    ca.extend(alike.iter().cloned());
    cb.extend(alike);
    respelled
}

/// The stem of `word`, or of the first word of its `SAME_MEANING` group; a name, the
/// first of its `NAME_ALIASES`.
fn meaning(word: &str) -> String {
    if let Some(group) = NAME_ALIASES.iter().find(|g| g.contains(&word)) {
        return group[0].to_string();
    }
    let s = stem(word);
    same_meaning_stems()
        .iter()
        .find(|(spelling, _)| *spelling == s)
        .map_or(s, |(_, first)| first.clone())
}

/// `SAME_MEANING` stemmed once: (a word's stem, its group's first word's stem).
fn same_meaning_stems() -> &'static [(String, String)] {
    static STEMS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    STEMS.get_or_init(|| {
        SAME_MEANING
            .iter()
            .flat_map(|group| group.iter().map(|w| (stem(w), stem(group[0]))))
            .collect()
    })
}

/// Content-word stems: not function words, not numbers (the number rule owns those);
/// with `same_meaning`, each word of a `SAME_MEANING` group as the group's first.
fn content(q: &Question, same_meaning: bool) -> BTreeSet<String> {
    let ws = &q.words;
    let mut out = BTreeSet::new();
    for (i, w) in ws.iter().enumerate() {
        let l = w.lower.as_str();
        // A number's unit stands for its kind, whatever the spelling ("24 hours" and "a
        // day" are both a time; "$" and "dollars" a currency): the number rule compares
        // the values. So does "one" in "one-year".
        let currency_sign = matches!(l, "$" | "€" | "£" | "¥")
            && ws.get(i + 1).is_some_and(|n| starts_with_digit(&n.lower));
        if million_sign(ws, i) {
            continue; // 10M: a million, read by the number rule
        }
        if counts_a_unit(ws, i, true) || currency_sign {
            let unit = unit_of(l).unwrap_or(l);
            let kind = if duration(1.0, unit).is_some() {
                "time"
            } else {
                unit
            };
            out.insert(format!("unit:{kind}:{}", stem(l)));
            continue;
        }
        if counts_a_duration(ws, i + 1, true)
            || FUNCTION_WORDS.contains(&l)
            || starts_with_digit(l)
            || number_word(l).is_some()
            || NEGATIONS.contains(&l)
        {
            continue;
        }
        let after_non = i > 0 && ws[i - 1].lower == "non";
        let s = match l {
            // One thing, three words: "bags" / "baggage" / "luggage".
            "baggage" | "luggage" => "bag".to_string(),
            // "non-profit" is "nonprofit".
            _ if after_non => stem(&format!("non{l}")),
            _ if same_meaning => meaning(l),
            other => stem(other),
        };
        if !s.is_empty() && s.chars().any(|c| c.is_alphanumeric()) {
            out.insert(s);
        }
    }
    if same_meaning && asks_a_price(ws) {
        out.insert(meaning("price"));
    }
    if same_meaning && asks_a_time(ws) {
        out.insert(meaning("time"));
    }
    out
}

/// "When ...", "how long does ...": a time asked, as "what time ..." or "the delivery
/// time" asks one. (Only for two questions' equality: read as a word shared, "time"
/// made real negatives look near-identical.) Not "how long is the cable".
fn asks_a_time(ws: &[Word]) -> bool {
    ws.iter().any(|w| w.lower == "when")
        || ws.windows(3).any(|w| {
            w[0].lower == "how"
                && w[1].lower == "long"
                && matches!(
                    w[2].lower.as_str(),
                    "does"
                        | "do"
                        | "will"
                        | "would"
                        | "should"
                        | "until"
                        | "till"
                        | "before"
                        | "after"
                        | "to"
                )
        })
}

/// "How much is ...", "how much does it ...": a price asked, as "the cost of ..." asks
/// one. Not "how much data ...": that is an amount.
fn asks_a_price(ws: &[Word]) -> bool {
    ws.windows(3).any(|w| {
        w[0].lower == "how"
            && w[1].lower == "much"
            && matches!(
                w[2].lower.as_str(),
                "is" | "are" | "was" | "does" | "do" | "will" | "would" | "should" | "for" | "to"
            )
    })
}

fn negation(a: &Question, b: &Question) -> Result<(), Rejection> {
    let count = |q: &Question| {
        let ws = &q.words;
        (0..ws.len())
            .filter(|&i| NEGATIONS.contains(&ws[i].lower.as_str()) || glued_non(&ws[i].lower))
            .filter(|&i| {
                let two = ws
                    .get(i + 1)
                    .map(|n| format!("{} {}", ws[i].lower, n.lower));
                let three = ws
                    .get(i + 2)
                    .map(|n| format!("{} {} {}", ws[i].lower, ws[i + 1].lower, n.lower));
                ![two, three]
                    .iter()
                    .flatten()
                    .any(|p| NOT_NEGATIONS.contains(&p.as_str()))
            })
            .count()
    };
    let (na, nb) = (count(a), count(b));
    if na % 2 != nb % 2 {
        return Err(Rejection {
            reason: Reason::Negation,
            evidence: format!("{na} negation cue(s) vs {nb}"),
        });
    }
    // "non-profit" and "non profit" as "nonprofit".
    let glued = |q: &Question| -> BTreeSet<String> {
        q.words
            .windows(2)
            .filter(|p| p[0].lower == "non")
            .map(|p| format!("non{}", p[1].lower))
            .collect()
    };
    for (x, y) in [(a, b), (b, a)] {
        let y_glued = glued(y);
        for w in x.words.iter().filter(|w| !y_glued.contains(&w.lower)) {
            for p in NEGATING_PREFIXES {
                if let Some(base) = w.lower.strip_prefix(p) {
                    if base.len() >= 4 && y.lower.contains(base) && !x.lower.contains(base) {
                        return Err(Rejection {
                            reason: Reason::Negation,
                            evidence: format!("{:?} vs {base:?}", w.lower),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// `nonrefundable`, `nonprofit`: the cue `non` written as one word with what it
/// negates counts as `non-refundable` and `non refundable` do.
fn glued_non(w: &str) -> bool {
    w != "nonetheless" && w.strip_prefix("non").is_some_and(|base| base.len() >= 4)
}

/// The number of a version or model written `v18`, `v3.2` or `V15` (lower-cased).
fn version_number(w: &str) -> Option<&str> {
    w.strip_prefix('v')
        .filter(|n| starts_with_digit(n) && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Digits first: a number as written (`3`, `1,000`, `10th`, `5k`).
fn starts_with_digit(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_digit())
}

/// Word `i` is the `M` of `10M` (split off as a unit): a million.
fn million_sign(ws: &[Word], i: usize) -> bool {
    ws[i].raw == "M" && i > 0 && starts_with_digit(&ws[i - 1].lower)
}

fn number_word(w: &str) -> Option<f64> {
    NUMBER_WORDS.iter().find(|(n, _)| *n == w).map(|(_, v)| *v)
}

/// `thousand` after a number multiplies it.
fn multiplier(next: &str) -> f64 {
    match next {
        "hundred" => 100.0,
        "thousand" => 1000.0,
        "million" => 1e6,
        "billion" => 1e9,
        _ => 1.0,
    }
}

fn unit_of(w: &str) -> Option<&'static str> {
    UNITS.iter().find(|(u, _)| *u == w).map(|(_, c)| *c)
}

/// A number as compared: its value (or a date word), and the unit written with it.
#[derive(Debug, Clone)]
struct Quantity {
    key: String,
    unit: Option<&'static str>,
    soft: bool,
}

fn quantities(q: &Question) -> Vec<Quantity> {
    let ws = &q.words;
    let mut out = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        let l = w.lower.as_str();
        let prev = i.checked_sub(1).map(|j| ws[j].lower.as_str()).unwrap_or("");
        let next = ws.get(i + 1).map(|x| x.lower.as_str()).unwrap_or("");
        let next_is_digit = starts_with_digit(next);
        let prev_is_digit = starts_with_digit(prev);
        let mut soft = false;
        // The word a unit would follow: "half a year" reads past the article.
        let mut unit_at = i + 1;
        // "v18" is version 18, as "Node 18" says; "V15" model 15.
        let l = version_number(l).unwrap_or(l);
        let key = if starts_with_digit(l) {
            // 1,000 / 3.5 / 10th / 5g (a code: keep as written)
            let digits: String = l.chars().filter(|c| *c != ',').collect();
            let trimmed = ["st", "nd", "rd", "th"]
                .iter()
                .find_map(|s| digits.strip_suffix(s))
                .unwrap_or(&digits);
            // 5k; 10M (split off as a unit: a lowercase m is as often metres or minutes).
            let million = i + 1 < ws.len() && million_sign(ws, i + 1);
            if million {
                unit_at = i + 2;
            }
            let (trimmed, scale) = match trimmed.strip_suffix('k') {
                Some(t) => (t, 1000.0),
                None if million => (trimmed, 1e6),
                None => (trimmed, 1.0),
            };
            match trimmed.parse::<f64>() {
                Ok(v) => format_value(v * scale * multiplier(next)),
                Err(_) => digits.clone(),
            }
        } else if let Some(v) = number_word(l) {
            if l == "second" && matches!(prev, "a" | "per" | "one" | "each" | "every") {
                continue;
            }
            // "five thousand": one number (the multiplier word is skipped below).
            if multiplier(prev) > 1.0
                && i > 0
                && ws
                    .get(i.wrapping_sub(2))
                    .is_some_and(|p| number_word(&p.lower).is_some() || starts_with_digit(&p.lower))
                && matches!(l, "hundred" | "thousand" | "million" | "billion")
            {
                continue;
            }
            if matches!(l, "hundred" | "thousand" | "million" | "billion")
                && (starts_with_digit(prev) || number_word(prev).is_some())
            {
                continue;
            }
            // "thirty-five": one number (the units word is skipped here).
            if (1.0..10.0).contains(&v) && tens_word(prev) {
                continue;
            }
            let units = number_word(next).filter(|u| tens_word(l) && (1.0..10.0).contains(u));
            if let Some(u) = units {
                unit_at = i + 2;
                format_value(v + u)
            } else {
                if l == "half" && matches!(next, "a" | "an") {
                    unit_at = i + 2;
                }
                format_value(v * multiplier(next))
            }
        } else if let Some((_, v)) = SOFT_NUMBER_WORDS.iter().find(|(n, _)| *n == l) {
            soft = true;
            format_value(*v)
        } else if MONTHS.contains(&l)
            && (l != "may"
                || next_is_digit
                || prev_is_digit
                || (w.raw == "May" && !w.sentence_start))
        {
            format!("month:{}", &l[..3])
        } else if MONTH_ABBREVIATIONS.contains(&l) && l != "may" && (next_is_digit || prev_is_digit)
        {
            format!("month:{l}")
        } else if let Some(day) = WEEKDAYS
            .iter()
            .find(|d| l == **d || l.strip_suffix('s') == Some(**d))
        {
            format!("day:{day}")
        } else if RELATIVE_DAYS.contains(&l) {
            format!("day:{l}")
        } else if matches!(l, "a" | "an")
            && prev != "half"
            && unit_of(next).is_some_and(|u| duration(1.0, u).is_some())
        {
            // "within a day": one day, counted like "one" (soft).
            soft = true;
            "1".to_string()
        } else {
            continue;
        };
        let unit = if starts_with_digit(&key) {
            let before = i
                .checked_sub(1)
                .and_then(|j| unit_of(ws[j].lower.as_str()))
                .filter(|u| matches!(*u, "$" | "€" | "£" | "¥"));
            before
                .or_else(|| ws.get(unit_at).and_then(|u| unit_of(&u.lower)))
                // "2 in the afternoon": a preposition, not inches.
                .filter(|u| {
                    *u != "in"
                        || !ws
                            .get(unit_at + 1)
                            .is_some_and(|x| FUNCTION_WORDS.contains(&x.lower.as_str()))
                })
        } else {
            None
        };
        // A duration compares by its length: 24 hours is a day, two weeks 14 days. An
        // age ("16-year-old") is a number.
        let age = ws
            .get(unit_at + 1)
            .is_some_and(|x| matches!(x.lower.as_str(), "old" | "olds"));
        let length = unit
            .filter(|_| !age)
            .and_then(|u| Some((duration(key.parse().ok()?, u)?, u)));
        let (key, unit) = match length {
            Some((length, _)) => (length, None),
            None => (key, unit),
        };
        out.push(Quantity { key, unit, soft });
    }
    out
}

/// Whether word `i` is the unit of a number ("24 hours", "thirty-five dollars") or of a
/// length of time after an article ("a day"): the number rule compares those.
fn counts_a_unit(ws: &[Word], i: usize, articles: bool) -> bool {
    let (Some(prev), Some(w)) = (i.checked_sub(1).map(|j| ws[j].lower.as_str()), ws.get(i)) else {
        return false;
    };
    let Some(unit) = unit_of(&w.lower) else {
        return false;
    };
    starts_with_digit(prev)
        || number_word(prev).is_some()
        || SOFT_NUMBER_WORDS.iter().any(|(n, _)| *n == prev)
        || (articles && matches!(prev, "a" | "an") && duration(1.0, unit).is_some())
}

/// The same for units of time only; `articles`: "a day" counts too.
fn counts_a_duration(ws: &[Word], i: usize, articles: bool) -> bool {
    counts_a_unit(ws, i, articles)
        && unit_of(&ws[i].lower).is_some_and(|u| duration(1.0, u).is_some())
}

fn tens_word(w: &str) -> bool {
    number_word(w).is_some_and(|v| (20.0..100.0).contains(&v) && v % 10.0 == 0.0)
}

/// `value` `unit` as a length of time in minutes (minutes to weeks) or months (months
/// and years: a month has no fixed number of days); `None` for other units.
fn duration(value: f64, unit: &str) -> Option<String> {
    let (scale, family) = match unit {
        "s" => (1.0 / 60.0, "minutes"),
        "min" => (1.0, "minutes"),
        "h" => (60.0, "minutes"),
        "day" => (1440.0, "minutes"),
        "week" => (10080.0, "minutes"),
        "month" => (1.0, "months"),
        "year" => (12.0, "months"),
        _ => return None,
    };
    Some(format!("{family}:{}", format_value(value * scale)))
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn numbers(a: &Question, b: &Question) -> Result<(), Rejection> {
    let qa = quantities(a);
    let qb = quantities(b);
    let keys = |q: &[Quantity], soft: bool| -> BTreeSet<String> {
        q.iter()
            .filter(|x| x.soft == soft)
            .map(|x| x.key.clone())
            .collect()
    };
    let (ha, hb) = (keys(&qa, false), keys(&qb, false));
    let all_a: BTreeSet<String> = ha.union(&keys(&qa, true)).cloned().collect();
    let all_b: BTreeSet<String> = hb.union(&keys(&qb, true)).cloned().collect();
    // A hard number missing on the other side (soft ones there count as present).
    let missing_a: Vec<&String> = ha.iter().filter(|k| !all_b.contains(*k)).collect();
    let missing_b: Vec<&String> = hb.iter().filter(|k| !all_a.contains(*k)).collect();
    // A soft number counts only against a different hard one ("one bag" vs "two bags").
    let soft_clash =
        |soft: &[Quantity], other_hard: &BTreeSet<String>, all_other: &BTreeSet<String>| {
            !other_hard.is_empty()
                && soft.iter().any(|x| {
                    x.soft
                        && !all_other.contains(&x.key)
                        && !other_hard
                            .iter()
                            .any(|k| k.starts_with("month:") || k.starts_with("day:"))
                })
        };
    // Lengths of time differ whether written with a number or an article ("a day" vs
    // "a week").
    let durations = |all: &BTreeSet<String>| -> BTreeSet<String> {
        all.iter()
            .filter(|k| k.starts_with("minutes:") || k.starts_with("months:"))
            .cloned()
            .collect()
    };
    let (da, db) = (durations(&all_a), durations(&all_b));
    let durations_differ = !da.is_empty() && !db.is_empty() && da != db;
    if durations_differ
        || !missing_a.is_empty()
        || !missing_b.is_empty()
        || (soft_clash(&qa, &hb, &all_b) && !missing_b.is_empty())
        || (soft_clash(&qb, &ha, &all_a) && !missing_a.is_empty())
    {
        return Err(Rejection {
            reason: Reason::Number,
            evidence: format!("{missing_a:?} vs {missing_b:?}"),
        });
    }
    for x in &qa {
        for y in &qb {
            if x.key == y.key {
                if let (Some(u), Some(v)) = (x.unit, y.unit) {
                    // "pounds" after a number is a weight or sterling.
                    let pounds = matches!((u, v), ("lb", "£") | ("£", "lb"));
                    if u != v && !pounds {
                        return Err(Rejection {
                            reason: Reason::Number,
                            evidence: format!("{} {u} vs {} {v}", x.key, y.key),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Names in `q`: runs of capitalised words inside sentences, codes (letters with
/// digits), acronyms and quoted words. Ignores capitals when the text shouts.
fn names(q: &Question) -> Vec<Vec<&Word>> {
    let letters: Vec<char> = q
        .words
        .iter()
        .flat_map(|w| w.raw.chars())
        .filter(|c| c.is_alphabetic())
        .collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    let shouting = letters.len() > 8 && upper * 10 > letters.len() * 6;
    let mut out: Vec<Vec<&Word>> = Vec::new();
    let mut run: Vec<&Word> = Vec::new();
    for w in &q.words {
        let has_digit = w.raw.chars().any(|c| c.is_ascii_digit());
        let has_alpha = w.raw.chars().any(|c| c.is_alphabetic());
        let thousands = w
            .lower
            .strip_suffix('k')
            .is_some_and(|n| n.replace(',', "").parse::<f64>().is_ok());
        let code = has_digit
            && has_alpha
            && !is_ordinal_or_unit(&w.lower)
            && !thousands
            && version_number(&w.lower).is_none();
        let capital = !shouting
            && w.raw.chars().next().is_some_and(|c| c.is_uppercase())
            && w.raw != "I"
            && (!w.sentence_start || w.raw.chars().skip(1).any(|c| c.is_uppercase()));
        let dateword = WEEKDAYS.iter().any(|d| w.lower.trim_end_matches('s') == *d)
            || MONTHS.contains(&w.lower.as_str());
        let is_name = (code || w.quoted || capital) && !dateword && unit_of(&w.lower).is_none();
        // Consecutive names form one ("New York", "Basic Economy").
        if is_name && (w.quoted || !FUNCTION_WORDS.contains(&w.lower.as_str())) {
            run.push(w);
        } else if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn is_ordinal_or_unit(l: &str) -> bool {
    let letters: String = l.chars().filter(|c| c.is_alphabetic()).collect();
    matches!(letters.as_str(), "st" | "nd" | "rd" | "th") || unit_of(&letters).is_some()
}

/// Does `q` mention `name` (all its words, or the words run together, or its initials)?
fn mentions(q: &Question, name: &[&Word]) -> bool {
    if name.iter().all(|w| q.lower.contains(&w.lower)) {
        return true;
    }
    let squashed: String = name
        .iter()
        .flat_map(|w| w.lower.chars())
        .filter(|c| c.is_alphanumeric())
        .collect();
    if !squashed.is_empty() && q.squashed.contains(&squashed) {
        return true;
    }
    // Another spelling of the same name: Postgres == PostgreSQL, NYC == New York.
    let alias_on = |alias: &str| {
        if alias.len() <= 3 {
            q.lower.contains(alias)
        } else {
            q.squashed.contains(alias)
        }
    };
    if NAME_ALIASES
        .iter()
        .filter(|group| group.contains(&squashed.as_str()))
        .any(|group| group.iter().any(|alias| alias_on(alias)))
    {
        return true;
    }
    // A name whose acronym is on the other side: JavaScript == JS, European Union == EU.
    let initials: String = if name.len() == 1 {
        camel_initials(&name[0].raw)
    } else {
        name.iter()
            .filter_map(|w| w.raw.chars().next())
            .filter(|c| c.is_uppercase())
            .collect()
    };
    if initials.len() >= 2 && q.words.iter().any(|w| w.raw == initials) {
        return true;
    }
    // An acronym spelled out on the other side: EU == European Union.
    if name.len() == 1 {
        let acronym = &name[0].raw;
        if acronym.len() >= 2 && acronym.chars().all(|c| c.is_ascii_uppercase()) {
            let initials: String = q
                .words
                .iter()
                .filter(|w| w.raw.starts_with(|c: char| c.is_uppercase()))
                .filter_map(|w| w.raw.chars().next())
                .collect();
            return initials.contains(acronym.as_str())
                || q.words.iter().any(|w| camel_initials(&w.raw) == *acronym)
                || spelled_out(q, &acronym.to_lowercase());
        }
    }
    false
}

/// The capitals of a CamelCase word ("JavaScript" -> "JS"); empty for other words.
fn camel_initials(word: &str) -> String {
    let capitals: String = word.chars().filter(|c| c.is_ascii_uppercase()).collect();
    let mixed = word.chars().any(|c| c.is_lowercase());
    if capitals.len() >= 2 && mixed && word.starts_with(|c: char| c.is_uppercase()) {
        capitals
    } else {
        String::new()
    }
}

/// Whether consecutive words of `q`, two of them or more not function words, have the
/// initials `acronym` (three letters or more: "single sign on" is SSO; "out of memory"
/// is not OOM, one content word).
fn spelled_out(q: &Question, acronym: &str) -> bool {
    let n = acronym.chars().count();
    n >= 3
        && q.words.windows(n).any(|run| {
            let content = |w: &Word| !FUNCTION_WORDS.contains(&w.lower.as_str());
            run.iter().filter(|w| content(w)).count() >= 2
                && run
                    .iter()
                    .filter_map(|w| w.lower.chars().next())
                    .eq(acronym.chars())
        })
}

fn entities(a: &Question, b: &Question) -> Result<(), Rejection> {
    for (x, y) in [(a, b), (b, a)] {
        for name in names(x) {
            if !mentions(y, &name) {
                let text: Vec<&str> = name.iter().map(|w| w.raw.as_str()).collect();
                return Err(Rejection {
                    reason: Reason::Entity,
                    evidence: format!("{:?} is only on one side", text.join(" ")),
                });
            }
        }
    }
    Ok(())
}

fn contrasts(a: &Question, b: &Question) -> Result<(), Rejection> {
    for group in CONTRASTS {
        let named = |q: &Question| -> BTreeSet<usize> {
            group
                .iter()
                .enumerate()
                .filter(|(_, spellings)| {
                    spellings.iter().any(|s| {
                        let key: Vec<String> = s.split(' ').map(stem).collect();
                        q.stems.contains(&key.join(" "))
                    })
                })
                .map(|(i, _)| i)
                .collect()
        };
        let (ga, gb) = (named(a), named(b));
        if !ga.is_empty() && !gb.is_empty() && ga != gb {
            let show = |g: &BTreeSet<usize>| -> String {
                g.iter().map(|i| group[*i][0]).collect::<Vec<_>>().join("+")
            };
            return Err(Rejection {
                reason: Reason::Scope,
                evidence: format!("{} vs {}", show(&ga), show(&gb)),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
