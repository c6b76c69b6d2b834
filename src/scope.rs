//! Which requests a configured override applies to: path prefixes, consumer groups,
//! consumers. The `guard` and `cache` sections write it the same way (`when`). A leaf:
//! it imports nothing of the stages.

use serde::Deserialize;

use crate::config_error::ConfigError;

/// `when` as the operator writes it. Every condition given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    /// Request path prefixes (the path the client sent, without the query).
    #[serde(default)]
    pub paths: Vec<String>,
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
    groups: Vec<String>,
    consumers: Vec<String>,
}

impl When {
    /// Checks a `when` at `field` (e.g. `guard.overrides[0]`): at least one condition,
    /// paths starting with `/`.
    pub fn compile(field: &str, raw: RawWhen) -> Result<When, ConfigError> {
        if raw.paths.is_empty() && raw.groups.is_empty() && raw.consumers.is_empty() {
            return Err(ConfigError(format!(
                "{field}.when must name at least one of paths, groups, consumers"
            )));
        }
        if let Some(p) = raw.paths.iter().find(|p| !p.starts_with('/')) {
            return Err(ConfigError(format!(
                "{field}.when.paths must start with '/' (got {p:?})"
            )));
        }
        Ok(When {
            paths: raw.paths,
            groups: raw.groups,
            consumers: raw.consumers,
        })
    }

    /// Whether a request on `path` (a query is ignored) from this caller matches.
    pub fn matches(&self, path: &str, group: Option<&str>, consumer: Option<&str>) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p.as_str())))
            && (self.groups.is_empty() || group.is_some_and(|g| self.groups.iter().any(|x| x == g)))
            && (self.consumers.is_empty()
                || consumer.is_some_and(|c| self.consumers.iter().any(|x| x == c)))
    }
}
