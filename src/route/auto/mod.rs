//! Model routing: a routing alias (`model: "auto"`) gets a tier from cheap signals of the
//! request, and the tier's model; rules by header, consumer group or path pin a model or
//! a tier, or forbid models.
//!
//! Pure logic: the host reads the body, counts tokens, looks up the group and headers,
//! and calls [`decide`]. Every decision carries a short ASCII `reason` for the
//! `x-llm-route-reason` header and the access log, e.g.
//! `tier=complex score=7 signals=reasoning_cue,code_block,long_input`.

mod config;
mod signals;
#[cfg(test)]
mod tests;

pub use config::{
    compile, Action, Alias, Condition, RawAlias, RawHeaderMatch, RawRouting, RawRule,
    RawThresholds, RawWeights, RawWhen, Routing, Rule, Thresholds,
};
pub use signals::{Signal, Signals, Weights};

use serde_json::{Map, Value};

/// Longest `reason`, in bytes. Signals that do not fit are summarised as `+N`.
pub const MAX_REASON_LEN: usize = 256;

/// How demanding a request is; each alias maps tiers to models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Simple = 0,
    Moderate = 1,
    Complex = 2,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Simple, Tier::Moderate, Tier::Complex];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Simple => "simple",
            Tier::Moderate => "moderate",
            Tier::Complex => "complex",
        }
    }

    pub fn from_name(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The tier a score falls in.
    pub fn of_score(score: i32, t: &Thresholds) -> Tier {
        if score >= t.complex_at {
            Tier::Complex
        } else if score >= t.moderate_at {
            Tier::Moderate
        } else {
            Tier::Simple
        }
    }

    /// Tiers by distance from `self`, the cheaper one first on a tie.
    fn nearest_first(self) -> [Tier; 3] {
        match self {
            Tier::Simple => [Tier::Simple, Tier::Moderate, Tier::Complex],
            Tier::Moderate => [Tier::Moderate, Tier::Simple, Tier::Complex],
            Tier::Complex => [Tier::Complex, Tier::Moderate, Tier::Simple],
        }
    }
}

/// Where a request aliased for routing goes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDecision {
    /// The tier served (after rules); for a pinned model outside the alias's tiers, the
    /// scored tier.
    pub tier: Tier,
    /// The model to send upstream and account usage, cost and limits against.
    pub model: String,
    /// Short ASCII explanation, at most [`MAX_REASON_LEN`] bytes.
    pub reason: String,
}

/// Why no model could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The requested model is not a routing alias; leave the request alone.
    UnknownAlias,
    /// Rules forbid every model of the alias. The host refuses the request (403); the
    /// reason is for the log.
    AllForbidden { reason: String },
}

/// Routes a request whose `model` is `alias`.
///
/// `input_tokens` is the request's counted input; `group` the caller's consumer group;
/// `header` looks up a request header by lower-case name (`:path` included).
pub fn decide(
    routing: &Routing,
    alias: &str,
    request: &Map<String, Value>,
    input_tokens: u64,
    group: Option<&str>,
    header: &dyn Fn(&str) -> Option<String>,
) -> Result<RouteDecision, RouteError> {
    let Some(models) = routing.aliases.get(alias) else {
        return Err(RouteError::UnknownAlias);
    };
    let signals = Signals::of(request, input_tokens, &routing.thresholds);
    let score = signals.score(&routing.weights);
    let scored = Tier::of_score(score, &routing.thresholds);

    let mut forbidden: Vec<&str> = Vec::new();
    let mut fixed: Option<(usize, &Action)> = None;
    let mut matched: Vec<usize> = Vec::new();
    for (i, rule) in routing.rules.iter().enumerate() {
        if !rule.matches(alias, group, header) {
            continue;
        }
        matched.push(i);
        match &rule.action {
            Action::Forbid(list) => forbidden.extend(list.iter().map(String::as_str)),
            a @ (Action::Pin(_) | Action::Tier(_)) if fixed.is_none() => fixed = Some((i, a)),
            _ => {}
        }
    }
    let allowed = |m: &str| !forbidden.contains(&m);

    let mut notes = String::new();
    if !matched.is_empty() {
        notes.push_str(" rules=");
        push_list(&mut notes, matched.iter().take(8).map(|i| i.to_string()));
        if matched.len() > 8 {
            notes.push_str(",+");
        }
    }

    let mut wanted = scored;
    match fixed {
        Some((_, Action::Pin(model))) if allowed(model) => {
            let tier = Tier::ALL
                .into_iter()
                .find(|t| models.model(*t) == Some(model.as_str()))
                .unwrap_or(scored);
            notes.push_str(" pin=");
            notes.push_str(model);
            return Ok(RouteDecision {
                tier,
                model: model.clone(),
                reason: reason(tier, score, &signals, &notes),
            });
        }
        Some((_, Action::Pin(model))) => {
            notes.push_str(" pin_forbidden=");
            notes.push_str(model);
        }
        Some((_, Action::Tier(t))) => {
            wanted = *t;
            notes.push_str(" tier_rule=");
            notes.push_str(t.as_str());
        }
        _ => {}
    }
    for tier in wanted.nearest_first() {
        if let Some(model) = models.model(tier).filter(|m| allowed(m)) {
            if tier != wanted {
                notes.push_str(" from=");
                notes.push_str(wanted.as_str());
            }
            return Ok(RouteDecision {
                tier,
                model: model.to_string(),
                reason: reason(tier, score, &signals, &notes),
            });
        }
    }
    notes.push_str(" all_forbidden");
    Err(RouteError::AllForbidden {
        reason: reason(wanted, score, &signals, &notes),
    })
}

fn push_list(out: &mut String, items: impl Iterator<Item = String>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
}

/// `tier=T score=S signals=a,b,c<notes>`, signals cut to keep within [`MAX_REASON_LEN`].
fn reason(tier: Tier, score: i32, signals: &Signals, notes: &str) -> String {
    let mut out = format!("tier={} score={score} signals=", tier.as_str());
    let names: Vec<String> = signals
        .fired()
        .map(|s| match s {
            Signal::LongInput | Signal::VeryLongInput => {
                format!("{}:{}", s.name(), signals.input_tokens)
            }
            Signal::DeepConversation => format!("{}:{}", s.name(), signals.messages),
            _ => s.name().to_string(),
        })
        .collect();
    if names.is_empty() {
        out.push_str("none");
    }
    // Room for the notes and a "+NN" summary of what does not fit.
    let budget = MAX_REASON_LEN.saturating_sub(notes.len() + 4);
    for (i, name) in names.iter().enumerate() {
        let sep = usize::from(i > 0);
        if out.len() + sep + name.len() > budget {
            out.push_str(&format!(",+{}", names.len() - i));
            break;
        }
        if sep == 1 {
            out.push(',');
        }
        out.push_str(name);
    }
    out.push_str(notes);
    if out.len() > MAX_REASON_LEN {
        // Only reachable with a very long pinned model name; cut at a char boundary.
        let mut end = MAX_REASON_LEN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
    out
}
