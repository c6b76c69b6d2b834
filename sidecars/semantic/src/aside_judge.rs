//! Asks the embedding model which asides of a question are small talk
//! (`verify/asides.rs`), remembering its answers: stored questions come back as
//! neighbours again and again, and their asides with them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::embed::Embedder;
use crate::verify::asides::{candidates, AsideModel, FACT_EXAMPLES, SMALL_TALK_EXAMPLES};

/// Most answers remembered; all are forgotten when it fills.
const REMEMBERED: usize = 50_000;

pub struct AsideJudge {
    model: AsideModel,
    known: Mutex<HashMap<String, bool>>,
}

impl AsideJudge {
    /// Embeds the examples once.
    pub async fn build(embedder: &Embedder) -> Result<AsideJudge, String> {
        let texts = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let small_talk = embedder.embed(texts(SMALL_TALK_EXAMPLES)).await?;
        let facts = embedder.embed(texts(FACT_EXAMPLES)).await?;
        Ok(AsideJudge {
            model: AsideModel::new(small_talk, facts),
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The asides of `texts` that are small talk; embeds only those not seen before.
    pub async fn asides(
        &self,
        embedder: &Embedder,
        texts: &[&str],
    ) -> Result<BTreeSet<String>, String> {
        let candidates = candidates(texts);
        let mut out = BTreeSet::new();
        let mut unknown = Vec::new();
        {
            let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
            for c in candidates {
                match known.get(&c) {
                    Some(true) => {
                        out.insert(c);
                    }
                    Some(false) => {}
                    None => unknown.push(c),
                }
            }
        }
        if unknown.is_empty() {
            return Ok(out);
        }
        let vectors = embedder.embed(unknown.clone()).await?;
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + unknown.len() > REMEMBERED {
            known.clear();
        }
        for (c, v) in unknown.into_iter().zip(&vectors) {
            let aside = self.model.is_aside(v);
            known.insert(c.clone(), aside);
            if aside {
                out.insert(c);
            }
        }
        Ok(out)
    }
}
