//! Small talk the word lists do not know, told apart from facts by the embedding model.
//!
//! A statement beside a question is either small talk ("I'm pulling my hair out.") or a
//! fact that changes the answer ("I paid by bank transfer."). The word lists in
//! `text.rs` know a few idioms; for the rest the sidecar embeds each candidate
//! (`text::aside_candidates`) and compares it with the examples below: an aside is
//! nearer to the small-talk examples than to the facts, by `ASIDE_MARGIN` on the mean
//! of the `NEAREST` best matches. Written for this rule and checked on
//! bench/semantic/small_talk_*.jsonl (README).

use std::collections::BTreeSet;

use crate::embed::dot;
use crate::verify::text::aside_candidates;

/// How many of the best matches of each side are averaged.
const NEAREST: usize = 3;
/// How much nearer to small talk than to facts an aside must be (cosine).
pub const ASIDE_MARGIN: f32 = 0.06;

/// What people add to a question that a support agent would ignore.
pub const SMALL_TALK_EXAMPLES: &[&str] = &[
    "I'm so frustrated with this.",
    "This is really annoying.",
    "I'm at my wits' end.",
    "I'm getting really stressed about it.",
    "Honestly I'm a bit embarrassed to ask.",
    "I feel silly asking this.",
    "I'm losing my mind here.",
    "It's been a long day.",
    "Ugh, what a week.",
    "I'm so confused right now.",
    "This has been a nightmare.",
    "I'm close to giving up.",
    "I've searched everywhere.",
    "I already checked the help pages.",
    "I tried the chatbot first.",
    "I've read the FAQ twice.",
    "I couldn't work it out myself.",
    "I spent an hour on this already.",
    "I looked online but found nothing.",
    "Nothing I try works.",
    "Thanks so much for your help.",
    "Many thanks.",
    "Really appreciate it.",
    "Thank you, you're a lifesaver.",
    "Cheers!",
    "Have a lovely day.",
    "Enjoy your weekend.",
    "Take care.",
    "Kind regards, Anna",
    "Best, Mark",
    "Warm wishes.",
    "Thanks again, Joe",
    "Talk soon.",
    "All the best.",
    "Looking forward to hearing from you.",
    "Hope to hear from you soon.",
    "Sorry if this is a stupid question.",
    "Apologies for the bother.",
    "Sorry for asking again.",
    "Sorry, I'm hopeless with technology.",
    "Sorry for the rambling message.",
    "Excuse my spelling.",
    "I'm not very tech savvy.",
    "Sorry if I've posted this in the wrong place.",
    "I'm new to all this.",
    "Forgive me if this has been answered.",
    "It's quite urgent.",
    "I need an answer today if possible.",
    "Please get back to me quickly.",
    "In a bit of a hurry here.",
    "No pressure though.",
    "Whenever you get a chance.",
    "Hi everyone!",
    "Hello there.",
    "Good morning team.",
    "Hey, hope you're having a good day.",
    "Hope all is well with you.",
    "Just a quick question.",
    "Quick query.",
    "Random question.",
    "Haha sorry.",
    "Thanks in advance, legends.",
    "You guys are the best.",
    "Love the app by the way.",
    "Long-time customer here.",
    "First time posting here.",
    "A friend told me to ask you.",
    "Hoping you can shed some light.",
    "Any pointers would be great.",
    "Would love some advice.",
    "Help would be amazing.",
];

/// Facts about the asker's situation: each changes the right answer to some question.
pub const FACT_EXAMPLES: &[&str] = &[
    "I bought it through a reseller.",
    "I'm on the family plan.",
    "My account is a business account.",
    "I live in Northern Ireland.",
    "I'm on a student visa.",
    "The item was on clearance.",
    "I paid with a gift card.",
    "I booked with reward points.",
    "It was a group booking.",
    "My partner is the account holder.",
    "I'm self-employed.",
    "I'm over 65.",
    "My daughter is 16.",
    "The car is a hybrid.",
    "The flat is furnished.",
    "It's a second-hand phone.",
    "I'm travelling with a baby.",
    "I use a wheelchair.",
    "I'm allergic to penicillin.",
    "We have two cats.",
    "I'm on the free tier.",
    "The subscription renews annually.",
    "It was a pre-order.",
    "I ordered from the US site.",
    "The parcel was sent by courier.",
    "I'm a temporary employee.",
    "I work night shifts.",
    "I'm on maternity leave.",
    "The tenancy is in joint names.",
    "My landlord pays the bills.",
    "The meter is prepaid.",
    "I'm moving house next week.",
    "The trip is for work.",
    "The ticket was a gift from my mum.",
    "It's a refurbished model.",
    "I signed up on the iPhone app.",
    "The card is a prepaid card.",
    "I'm abroad at the moment.",
    "The booking was made by my company.",
    "I have a pre-existing condition.",
    "It's a leased vehicle.",
    "I'm under 21.",
    "I have a criminal record.",
    "The school is private.",
    "My visa expires soon.",
    "I'm a dual citizen.",
    "The warranty was bought separately.",
    "I opened the box already.",
    "The seal is broken.",
    "I've lost the receipt.",
    "I paid in cash.",
    "It's a corporate card.",
    "The event is outdoors.",
    "We're a registered charity.",
    "I'm a member of the union.",
    "The house is a listed building.",
    "I'm renting, not buying.",
    "The dog is an assistance dog.",
    "My contract is zero hours.",
    "The order was split into two deliveries.",
    "I was referred by my GP.",
    "I'm an international student.",
    "The account is in my late father's name.",
    "We're on a water meter.",
    "It's for a wedding.",
    "The software is installed on a Mac.",
];

/// The examples' embeddings.
pub struct AsideModel {
    small_talk: Vec<Vec<f32>>,
    facts: Vec<Vec<f32>>,
}

impl AsideModel {
    /// From the embeddings of `SMALL_TALK_EXAMPLES` and `FACT_EXAMPLES`, in order.
    pub fn new(small_talk: Vec<Vec<f32>>, facts: Vec<Vec<f32>>) -> AsideModel {
        AsideModel { small_talk, facts }
    }

    /// Whether a candidate with embedding `v` is small talk.
    pub fn is_aside(&self, v: &[f32]) -> bool {
        nearest(&self.small_talk, v) - nearest(&self.facts, v) > ASIDE_MARGIN
    }

    /// The candidates (with their embeddings, in order) that are small talk.
    pub fn asides(&self, candidates: &[String], vectors: &[Vec<f32>]) -> BTreeSet<String> {
        candidates
            .iter()
            .zip(vectors)
            .filter(|(_, v)| self.is_aside(v))
            .map(|(c, _)| c.clone())
            .collect()
    }
}

/// The asides of all `texts` (`text::aside_candidates`), each once, sorted.
pub fn candidates(texts: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = texts.iter().flat_map(|t| aside_candidates(t)).collect();
    all.sort();
    all.dedup();
    all
}

/// Mean cosine of the `NEAREST` examples nearest to `v`.
fn nearest(examples: &[Vec<f32>], v: &[f32]) -> f32 {
    let mut scores: Vec<f32> = examples.iter().map(|e| dot(e, v)).collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    let n = scores.len().clamp(1, NEAREST);
    scores.iter().take(n).sum::<f32>() / n as f32
}
