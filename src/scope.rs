//! Which requests a configured override applies to: path prefixes, model prefixes,
//! consumer groups, consumers. The `guard`, `cache` and `prompt` sections write it the
//! same way (`when`); `models` only where the stage reads the model first (`prompt`). A
//! leaf: it imports nothing of the stages.

use serde::Deserialize;

use crate::config_error::ConfigError;

/// `when` as the operator writes it. Every condition given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    /// Request path prefixes (the path the client sent, without the query).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Model name prefixes (the model the client asked for); `prompt` only.
    #[serde(default)]
    pub models: Vec<String>,
    /// Consumer groups (from `identity`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Consumer ids (from `identity`).
    #[serde(default)]
    pub consumers: Vec<String>,
}

/// A compiled `when`: an empty list sets no condition; anonymous callers match no
/// `groups` or `consumers` condition.
#[derive(Debug, Clone, Default)]
pub struct When {
    paths: Vec<String>,
    models: Vec<String>,
    groups: Vec<String>,
    consumers: Vec<String>,
}

/// Who and what a request is, for choosing an override.
pub struct Subject<'a> {
    pub path: &'a str,
    /// The model the client asked for (empty where a stage has not read it).
    pub model: &'a str,
    pub group: Option<&'a str>,
    pub consumer: Option<&'a str>,
}

impl<'a> Subject<'a> {
    /// A caller before its model is read (guard and cache choose their policy there).
    pub fn caller(path: &'a str, group: Option<&'a str>, consumer: Option<&'a str>) -> Self {
        Subject {
            path,
            model: "",
            group,
            consumer,
        }
    }
}

/// The policy of the first override whose `when` matches `s`, else `default`.
pub fn first_match<'p, P>(overrides: &'p [(When, P)], default: &'p P, s: &Subject) -> &'p P {
    overrides
        .iter()
        .find(|(w, _)| w.matches(s))
        .map_or(default, |(_, p)| p)
}

impl When {
    /// Checks a `when` at `field` (e.g. `guard.overrides[0]`): at least one condition,
    /// paths starting with `/`, no `models` (the stage chooses before it reads one).
    pub fn compile(field: &str, raw: RawWhen) -> Result<When, ConfigError> {
        if let Some(m) = raw.models.first() {
            return Err(ConfigError(format!(
                "{field}.when.models is not supported in this section (got {m:?})"
            )));
        }
        if raw.paths.is_empty() && raw.groups.is_empty() && raw.consumers.is_empty() {
            return Err(ConfigError(format!(
                "{field}.when must name at least one of paths, groups, consumers"
            )));
        }
        When::checked(field, raw)
    }

    /// As [`When::compile`], with `models` allowed.
    pub fn compile_with_models(field: &str, raw: RawWhen) -> Result<When, ConfigError> {
        if raw.paths.is_empty()
            && raw.models.is_empty()
            && raw.groups.is_empty()
            && raw.consumers.is_empty()
        {
            return Err(ConfigError(format!(
                "{field}.when must set at least one of paths, models, groups, consumers"
            )));
        }
        When::checked(field, raw)
    }

    fn checked(field: &str, raw: RawWhen) -> Result<When, ConfigError> {
        if let Some(p) = raw.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(ConfigError(format!(
                "{field}.when.paths must start with '/' (got {p:?})"
            )));
        }
        Ok(When {
            paths: raw.paths,
            models: raw.models,
            groups: raw.groups,
            consumers: raw.consumers,
        })
    }

    /// Whether a request matches (a query in the path is ignored); anonymous callers
    /// match no `groups` or `consumers` condition.
    pub fn matches(&self, s: &Subject) -> bool {
        let path = s.path.split('?').next().unwrap_or(s.path);
        (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p.as_str())))
            && (self.models.is_empty()
                || self.models.iter().any(|m| s.model.starts_with(m.as_str())))
            && (self.groups.is_empty()
                || s.group.is_some_and(|g| self.groups.iter().any(|x| x == g)))
            && (self.consumers.is_empty()
                || s.consumer
                    .is_some_and(|c| self.consumers.iter().any(|x| x == c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawWhen {
        serde_json::from_str(json).unwrap()
    }

    fn subject<'a>(path: &'a str, model: &'a str, group: Option<&'a str>) -> Subject<'a> {
        Subject {
            path,
            model,
            group,
            consumer: None,
        }
    }

    #[test]
    fn models_are_prefixes_where_the_section_allows_them() {
        let w = When::compile_with_models("prompt.overrides[0]", raw(r#"{"models": ["docs"]}"#))
            .unwrap();
        assert!(w.matches(&subject("/v1/chat/completions", "docs-v2", None)));
        assert!(!w.matches(&subject("/v1/chat/completions", "gpt-4o", None)));
        let err = When::compile("guard.overrides[0]", raw(r#"{"models": ["docs"]}"#)).unwrap_err();
        assert!(
            err.0
                .contains("guard.overrides[0].when.models is not supported"),
            "{}",
            err.0
        );
    }

    #[test]
    fn every_condition_given_must_hold() {
        let w = When::compile(
            "cache.overrides[0]",
            raw(r#"{"paths": ["/v1/messages"], "groups": ["pro"]}"#),
        )
        .unwrap();
        assert!(w.matches(&subject("/v1/messages?beta=true", "", Some("pro"))));
        assert!(!w.matches(&subject("/v1/messages", "", None)));
        assert!(!w.matches(&subject("/v1/chat/completions", "", Some("pro"))));
        assert!(When::compile("x", raw(r#"{"paths": ["v1"]}"#)).is_err());
    }
}
