//! The output guard: a streaming transducer over answer text deltas.
//!
//! Each `feed` appends a delta to a small pending buffer and emits at once everything
//! that can already be judged; it holds back only a tail that could still begin or
//! continue a match (`scan::holdback`, a possible canary prefix, trailing words that may
//! grow into a system-prompt leak). On the judged part, in one pass over the provider's
//! text: PII the model generated is masked (or hashed, reported, or stops the answer),
//! leaks are masked or stop the answer, and placeholders of the request's vault are
//! swapped back for the user's values. Because restoring happens in the same pass, a
//! restored value is never masked again, and a mask this guard produced is never restored.
//!
//! The detectors see up to [`CONTEXT`] bytes of already emitted text on the left, so
//! `password = <value>` split across deltas is still caught. Streaming output equals
//! one-shot output (feed everything, then `finish`) as long as no undecided tail exceeds
//! its cap (`scan::MAX_HOLD`, `secret::MAX_PEM`); custom entities are guaranteed only
//! when their matches are single tokens of entity bytes (no spaces).

use super::leak::{self, PromptShingles};
use super::scan::{self, holdback, PiiMatch, MAX_HOLD};
use super::secret::MAX_PEM;
use super::vault::{find_placeholders, PiiVault};
use super::{Action, Finding, PiiPolicy};

/// Bytes of emitted text kept as left context for the detectors.
pub const CONTEXT: usize = 128;

/// Most text held at once. Past it (a leak region or a match still growing), the oldest
/// part is released anyway, a match crossing the release point cut there.
pub const MAX_PENDING: usize = MAX_PEM + MAX_HOLD;

/// What one `feed` or `finish` released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputPiece {
    /// Text to send to the client now (possibly empty).
    pub text: String,
    /// Entities acted on in this piece (`canary`, `system_prompt` for leaks).
    pub findings: Vec<Finding>,
    /// The rule that stopped the answer: the caller ends the stream (with a valid final
    /// event) after sending `text`, which holds everything before the offending value.
    pub blocked: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Entity(usize),
    Placeholder,
    Canary,
    SystemPrompt,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    kind: Kind,
}

/// Streaming output guard for one answer. Build it with the request's vault.
pub struct OutputGuard {
    policy: PiiPolicy,
    vault: PiiVault,
    shingles: Option<PromptShingles>,
    /// Original (provider) text already emitted, its last `CONTEXT` bytes.
    context: String,
    pending: String,
    stopped: bool,
}

impl OutputGuard {
    /// `system_prompt`: the system prompt as the provider saw it (after redaction, see
    /// `InputReport::system_prompt`), for the leak check; ignored when that check is off.
    pub fn new(policy: &PiiPolicy, vault: PiiVault, system_prompt: Option<&str>) -> OutputGuard {
        let p = &policy.inner;
        let shingles = match (system_prompt, p.leak.system_prompt_min_words) {
            (Some(sp), n) if n > 0 => PromptShingles::new(sp, n),
            _ => None,
        };
        OutputGuard {
            policy: policy.clone(),
            vault,
            shingles,
            context: String::new(),
            pending: String::new(),
            stopped: false,
        }
    }

    /// Feeds one text delta of the answer.
    pub fn feed(&mut self, delta: &str) -> OutputPiece {
        if self.stopped {
            return OutputPiece::default();
        }
        self.pending.push_str(delta);
        self.release(false)
    }

    /// Ends the answer: releases the held tail.
    pub fn finish(&mut self) -> OutputPiece {
        if self.stopped {
            return OutputPiece::default();
        }
        let piece = self.release(true);
        self.stopped = true;
        piece
    }

    /// A whole (non-streaming) answer: `feed` + `finish`.
    pub fn filter_all(&mut self, text: &str) -> OutputPiece {
        let mut a = self.feed(text);
        if a.blocked.is_none() {
            let b = self.finish();
            a.text.push_str(&b.text);
            merge_findings(&mut a.findings, b.findings);
            a.blocked = b.blocked;
        }
        a
    }

    /// The request's vault (with values this guard masked, not restorable).
    pub fn vault(&self) -> &PiiVault {
        &self.vault
    }

    fn release(&mut self, last: bool) -> OutputPiece {
        let ctx = self.context.len();
        let mut scan_text = String::with_capacity(ctx + self.pending.len());
        scan_text.push_str(&self.context);
        scan_text.push_str(&self.pending);
        let mut words = Vec::new();
        if self.shingles.is_some() {
            leak::words(&scan_text, &mut words);
        }
        let hits = self.hits(&scan_text, ctx, &words);

        let pend = self.pending.as_bytes();
        let mut cut = if last {
            pend.len()
        } else {
            self.hold_from(&scan_text, ctx, &words)
        };
        for h in &hits {
            if h.start < cut && h.end > cut {
                cut = h.start;
                break;
            }
        }
        let mut hits = hits;
        if pend.len() - cut > MAX_PENDING {
            cut = pend.len() - MAX_HOLD;
            while !self.pending.is_char_boundary(cut) {
                cut -= 1;
            }
            for h in &mut hits {
                if h.start < cut && h.end > cut {
                    h.end = cut;
                }
            }
        }
        let mut piece = OutputPiece::default();
        let mut pos = 0;
        let inner = &self.policy.inner;
        for h in hits.iter().filter(|h| h.end <= cut) {
            let value = &self.pending[h.start..h.end];
            let (name, action, label): (&str, Action, &str) = match h.kind {
                Kind::Placeholder => {
                    if let Some(orig) = self.vault.original(value).filter(|_| inner.restore) {
                        piece.text.push_str(&self.pending[pos..h.start]);
                        piece.text.push_str(orig);
                        pos = h.end;
                    }
                    continue;
                }
                Kind::Entity(e) => {
                    let rule = &inner.entities[e];
                    if self.vault.holds_value(&rule.label, value) {
                        continue; // the user's own value, passed through on input
                    }
                    (
                        &rule.name,
                        inner.output_action.unwrap_or(Action::Monitor),
                        &rule.label,
                    )
                }
                Kind::Canary => ("canary", inner.leak.action, "CANARY"),
                Kind::SystemPrompt => ("system_prompt", inner.leak.action, "SYSTEM_PROMPT"),
            };
            add_finding(&mut piece.findings, name, action);
            piece.text.push_str(&self.pending[pos..h.start]);
            match action {
                Action::Block => {
                    piece.blocked = Some(name.to_string());
                    self.stopped = true;
                    self.pending.clear();
                    return piece;
                }
                Action::Monitor => piece.text.push_str(value),
                Action::Mask | Action::Hash => {
                    if matches!(h.kind, Kind::Entity(_)) {
                        let p =
                            self.vault
                                .placeholder(label, value, action, &inner.hash_salt, false);
                        piece.text.push_str(&p);
                    } else {
                        piece.text.push('[');
                        piece.text.push_str(label);
                        piece.text.push(']');
                    }
                }
            }
            pos = h.end;
        }
        piece.text.push_str(&self.pending[pos..cut]);
        // Keep the last CONTEXT bytes of original text as left context.
        self.context.push_str(&self.pending[..cut]);
        if self.context.len() > CONTEXT {
            let mut k = self.context.len() - CONTEXT;
            while !self.context.is_char_boundary(k) {
                k += 1;
            }
            self.context.drain(..k);
        }
        self.pending.drain(..cut);
        piece
    }

    /// Hits in `scan_text` that start in the pending part, relative to it; sorted and
    /// non-overlapping (earlier wins, then longer, then placeholders and leaks first).
    fn hits(&self, scan_text: &str, ctx: usize, ws: &[leak::Word]) -> Vec<Hit> {
        let inner = &self.policy.inner;
        let mut hits = Vec::new();
        let bytes = scan_text.as_bytes();
        if inner.restore && !self.vault.is_empty() {
            let mut ph = Vec::new();
            find_placeholders(bytes, &mut ph);
            hits.extend(ph.into_iter().map(|(start, end)| Hit {
                start,
                end,
                kind: Kind::Placeholder,
            }));
        }
        if inner.output_action.is_some() {
            let mut ms: Vec<PiiMatch> = Vec::new();
            scan::detect(inner, scan_text, &mut ms);
            hits.extend(ms.into_iter().map(|m| Hit {
                start: m.start,
                end: m.end,
                kind: Kind::Entity(m.entity),
            }));
        }
        for c in &inner.leak.canaries {
            let mut at = 0;
            while let Some(o) = scan_text[at..].find(c.as_str()) {
                hits.push(Hit {
                    start: at + o,
                    end: at + o + c.len(),
                    kind: Kind::Canary,
                });
                at += o + c.len();
            }
        }
        if let Some(sh) = &self.shingles {
            let mut regions = Vec::new();
            sh.regions(ws, &mut regions);
            hits.extend(regions.into_iter().map(|(start, end)| Hit {
                start,
                end,
                kind: Kind::SystemPrompt,
            }));
        }
        let rank = |k: Kind| match k {
            Kind::Placeholder => 0,
            Kind::SystemPrompt => 1,
            Kind::Canary => 2,
            Kind::Entity(_) => 3,
        };
        hits.sort_unstable_by(|a, b| {
            a.start
                .cmp(&b.start)
                .then(b.end.cmp(&a.end))
                .then(rank(a.kind).cmp(&rank(b.kind)))
        });
        let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
        let mut last_end = 0;
        for h in hits {
            if out.is_empty() || h.start >= last_end {
                last_end = h.end;
                out.push(h);
            }
        }
        out.retain(|h| h.start >= ctx);
        for h in &mut out {
            h.start -= ctx;
            h.end -= ctx;
        }
        out
    }

    /// Start (in the pending text) of the tail that must wait for more text.
    fn hold_from(&self, scan_text: &str, ctx: usize, ws: &[leak::Word]) -> usize {
        let pend = &scan_text[ctx..];
        let mut h = holdback(pend.as_bytes());
        for c in &self.policy.inner.leak.canaries {
            // Longest proper prefix of the canary that the text ends with.
            for (k, _) in c
                .char_indices()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                if pend.ends_with(&c[..k]) {
                    h = h.min(pend.len() - k);
                    break;
                }
            }
        }
        if let Some(sh) = &self.shingles {
            let from = sh
                .hold_from(ws, scan_text.len())
                .max(scan_text.len().saturating_sub(MAX_HOLD))
                .max(ctx)
                - ctx;
            h = h.min(from);
        }
        while !pend.is_char_boundary(h) {
            h -= 1;
        }
        h
    }
}

pub(super) fn add_finding(findings: &mut Vec<Finding>, name: &str, action: Action) {
    match findings
        .iter_mut()
        .find(|f| f.entity == name && f.action == action)
    {
        Some(f) => f.count += 1,
        None => findings.push(Finding {
            entity: name.to_string(),
            action,
            count: 1,
        }),
    }
}

pub(super) fn merge_findings(into: &mut Vec<Finding>, more: Vec<Finding>) {
    for f in more {
        match into
            .iter_mut()
            .find(|g| g.entity == f.entity && g.action == f.action)
        {
            Some(g) => g.count += f.count,
            None => into.push(f),
        }
    }
}
