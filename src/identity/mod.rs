//! `identity`: who is calling, from an authenticated source only.
//!
//! Three sources, tried in this order:
//! 1. a JWT that Envoy's `jwt_authn` filter verified: its payload is in dynamic metadata
//!    (`payload_in_metadata`), and the host reads the configured claims from there;
//! 2. a virtual API key (`Authorization: Bearer <key>` or `x-api-key: <key>`), matched by
//!    its SHA-256 against the configured consumers;
//! 3. a header the operator marked as trusted (off unless configured: a plain client
//!    header never decides identity otherwise).
//!
//! The client's credential headers are removed before the request goes upstream; the
//! route stage injects the provider's own key.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::config_error::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// Reject requests with no recognised identity (401 `invalid_api_key`). Default true.
    pub required: Option<bool>,
    /// Consumers with virtual API keys and their settings. Default none.
    #[serde(default)]
    pub consumers: Vec<RawConsumer>,
    /// Identity from a JWT verified by Envoy's `jwt_authn`. Default off.
    pub jwt: Option<RawJwt>,
    /// Identity from headers that an earlier, trusted hop sets. Default off.
    pub trusted_header: Option<RawTrustedHeader>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsumer {
    /// Consumer id: `[A-Za-z0-9_.@-]`, 1-64 characters, unique. Reported in the access log.
    pub id: String,
    /// Group or tier, used by limits and metrics. Default `default`.
    pub group: Option<String>,
    /// Lowercase hex SHA-256 of the consumer's virtual API key (`printf %s KEY | sha256sum`).
    /// Optional: consumers known only through a JWT need none.
    pub key_sha256: Option<String>,
    /// Model-name prefixes this consumer may use. Default: all models.
    #[serde(default)]
    pub models: Vec<String>,
    /// Spending limits in USD. Default none.
    pub budget: Option<RawBudget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// USD per UTC calendar day.
    pub daily_usd: Option<f64>,
    /// USD per UTC calendar month.
    pub monthly_usd: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    /// Dynamic-metadata namespace of the JWT filter. Default `envoy.filters.http.jwt_authn`.
    pub metadata_namespace: Option<String>,
    /// The `payload_in_metadata` name set on the jwt_authn provider.
    pub payload_key: String,
    /// Claim holding the consumer id. Default `sub`.
    pub consumer_claim: Option<String>,
    /// Claim holding the group or tier. Default: the configured consumer's group, else `default`.
    pub group_claim: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrustedHeader {
    /// Header holding the consumer id, set by a trusted hop in front of Envoy.
    pub consumer: String,
    /// Header holding the group. Default: the configured consumer's group, else `default`.
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub id: String,
    pub group: String,
    pub key_sha256: Option<[u8; 32]>,
    pub models: Vec<String>,
    pub daily_budget_usd: Option<f64>,
    pub monthly_budget_usd: Option<f64>,
}

impl Consumer {
    pub fn may_use(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|p| model.starts_with(p.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub metadata_namespace: String,
    pub payload_key: String,
    pub consumer_claim: String,
    pub group_claim: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrustedHeader {
    pub consumer: String,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub required: bool,
    pub consumers: Vec<Consumer>,
    pub jwt: Option<Jwt>,
    pub trusted_header: Option<TrustedHeader>,
}

/// Where an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ApiKey,
    Jwt,
    TrustedHeader,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::ApiKey => "api_key",
            Source::Jwt => "jwt",
            Source::TrustedHeader => "trusted_header",
        }
    }
}

/// The identified caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub consumer: Consumer,
    pub source: Source,
}

/// What the host read from the request for identification.
#[derive(Debug, Default)]
pub struct Credentials<'a> {
    pub authorization: Option<&'a str>,
    pub x_api_key: Option<&'a str>,
    /// Claims of a JWT that jwt_authn verified: (consumer claim, group claim).
    pub jwt_claims: Option<(Option<&'a str>, Option<&'a str>)>,
    /// Trusted headers: (consumer, group).
    pub trusted: Option<(Option<&'a str>, Option<&'a str>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// A key was sent but is not a configured one, or none was sent where one is needed.
    InvalidKey,
    /// The credential is malformed (empty, too long, not printable ASCII).
    MalformedKey(&'static str),
}

const MAX_KEY_LEN: usize = 256;

impl Identity {
    /// Identifies the caller. `Ok(None)`: anonymous and allowed (`required: false`).
    pub fn identify(&self, creds: &Credentials) -> Result<Option<Caller>, IdentityError> {
        if self.jwt.is_some() {
            if let Some((Some(sub), group)) = creds.jwt_claims {
                if !sub.is_empty() {
                    return Ok(Some(self.caller_named(sub, group, Source::Jwt)));
                }
            }
        }
        let key_configured = self.consumers.iter().any(|c| c.key_sha256.is_some());
        if key_configured {
            let presented = match (creds.authorization, creds.x_api_key) {
                // A JWT that jwt_authn verified was used above; a bearer value here is a
                // virtual key (or a JWT that failed verification, which is then unknown).
                (Some(auth), _) => Some(bearer(auth)?),
                (_, Some(key)) => Some(key.trim()),
                _ => None,
            };
            if let Some(key) = presented {
                check_key_shape(key)?;
                let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
                return match self
                    .consumers
                    .iter()
                    .find(|c| c.key_sha256.is_some_and(|h| constant_eq(&h, &digest)))
                {
                    Some(c) => Ok(Some(Caller {
                        consumer: c.clone(),
                        source: Source::ApiKey,
                    })),
                    None => Err(IdentityError::InvalidKey),
                };
            }
        }
        if self.trusted_header.is_some() {
            if let Some((Some(id), group)) = creds.trusted {
                if !id.trim().is_empty() {
                    return Ok(Some(self.caller_named(
                        id.trim(),
                        group,
                        Source::TrustedHeader,
                    )));
                }
            }
        }
        if self.required {
            Err(IdentityError::InvalidKey)
        } else {
            Ok(None)
        }
    }

    fn caller_named(&self, id: &str, group: Option<&str>, source: Source) -> Caller {
        let known = self.consumers.iter().find(|c| c.id == id);
        let mut consumer = known.cloned().unwrap_or_else(|| Consumer {
            id: sanitize_id(id),
            group: "default".to_string(),
            key_sha256: None,
            models: vec![],
            daily_budget_usd: None,
            monthly_budget_usd: None,
        });
        if let Some(g) = group.map(str::trim).filter(|g| !g.is_empty()) {
            consumer.group = sanitize_id(g);
        }
        Caller { consumer, source }
    }
}

fn bearer(authorization: &str) -> Result<&str, IdentityError> {
    let v = authorization.trim();
    match v.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => Ok(v[7..].trim()),
        _ => Err(IdentityError::MalformedKey(
            "the Authorization header must be `Bearer <key>`",
        )),
    }
}

fn check_key_shape(key: &str) -> Result<(), IdentityError> {
    if key.is_empty() {
        return Err(IdentityError::MalformedKey("the API key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(IdentityError::MalformedKey(
            "the API key is longer than 256 characters",
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(IdentityError::MalformedKey(
            "the API key must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

fn constant_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Identity values from claims and headers become metric labels and log fields: keep
/// them short and plain.
fn sanitize_id(id: &str) -> String {
    id.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.@-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c))
}

fn parse_hex32(field: &str, hex: &str) -> Result<[u8; 32], ConfigError> {
    let err = || {
        ConfigError(format!(
            "{field} must be 64 lowercase hex characters, a SHA-256 (got {hex:?})"
        ))
    };
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(err());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| err())?;
    }
    Ok(out)
}

fn budget_usd(field: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0 && x <= 1e9) => Err(ConfigError(format!(
            "{field} must be a positive number of USD (got {x})"
        ))),
        other => Ok(other),
    }
}

pub fn compile(raw: RawIdentity) -> Result<Identity, ConfigError> {
    let mut consumers: Vec<Consumer> = Vec::with_capacity(raw.consumers.len());
    for (i, c) in raw.consumers.into_iter().enumerate() {
        let field = format!("identity.consumers[{i}]");
        if !valid_id(&c.id) {
            return Err(ConfigError(format!(
                "{field}.id must be 1-64 characters of [A-Za-z0-9_.@-] (got {:?})",
                c.id
            )));
        }
        if consumers.iter().any(|o| o.id == c.id) {
            return Err(ConfigError(format!(
                "{field}.id must be unique (got {:?} twice)",
                c.id
            )));
        }
        let group = c.group.unwrap_or_else(|| "default".to_string());
        if !valid_id(&group) {
            return Err(ConfigError(format!(
                "{field}.group must be 1-64 characters of [A-Za-z0-9_.@-] (got {group:?})"
            )));
        }
        let key_sha256 = c
            .key_sha256
            .as_deref()
            .map(|h| parse_hex32(&format!("{field}.key_sha256"), h))
            .transpose()?;
        if let Some(h) = key_sha256 {
            if let Some(other) = consumers.iter().find(|o| o.key_sha256 == Some(h)) {
                return Err(ConfigError(format!(
                    "{field}.key_sha256 must be unique (same as consumer {:?})",
                    other.id
                )));
            }
        }
        if let Some(j) = c.models.iter().position(String::is_empty) {
            return Err(ConfigError(format!(
                "{field}.models[{j}] must not be empty"
            )));
        }
        let (daily, monthly) = match c.budget {
            Some(b) => {
                if b.daily_usd.is_none() && b.monthly_usd.is_none() {
                    return Err(ConfigError(format!(
                        "{field}.budget must set daily_usd or monthly_usd"
                    )));
                }
                (
                    budget_usd(&format!("{field}.budget.daily_usd"), b.daily_usd)?,
                    budget_usd(&format!("{field}.budget.monthly_usd"), b.monthly_usd)?,
                )
            }
            None => (None, None),
        };
        consumers.push(Consumer {
            id: c.id,
            group,
            key_sha256,
            models: c.models,
            daily_budget_usd: daily,
            monthly_budget_usd: monthly,
        });
    }
    let jwt = match raw.jwt {
        Some(j) => {
            if j.payload_key.is_empty() {
                return Err(ConfigError(
                    "identity.jwt.payload_key must name jwt_authn's payload_in_metadata".into(),
                ));
            }
            Some(Jwt {
                metadata_namespace: j
                    .metadata_namespace
                    .unwrap_or_else(|| "envoy.filters.http.jwt_authn".into()),
                payload_key: j.payload_key,
                consumer_claim: j.consumer_claim.unwrap_or_else(|| "sub".into()),
                group_claim: j.group_claim,
            })
        }
        None => None,
    };
    let trusted_header = match raw.trusted_header {
        Some(t) => {
            let ok = |h: &str| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            };
            if !ok(&t.consumer) {
                return Err(ConfigError(format!(
                    "identity.trusted_header.consumer must be a lowercase header name (got {:?})",
                    t.consumer
                )));
            }
            if let Some(g) = t.group.as_deref().filter(|g| !ok(g)) {
                return Err(ConfigError(format!(
                    "identity.trusted_header.group must be a lowercase header name (got {g:?})"
                )));
            }
            Some(TrustedHeader {
                consumer: t.consumer,
                group: t.group,
            })
        }
        None => None,
    };
    let required = raw.required.unwrap_or(true);
    if required
        && consumers.iter().all(|c| c.key_sha256.is_none())
        && jwt.is_none()
        && trusted_header.is_none()
    {
        return Err(ConfigError(
            "identity needs at least one source (a consumer with key_sha256, jwt or trusted_header) when required is true".into(),
        ));
    }
    Ok(Identity {
        required,
        consumers,
        jwt,
        trusted_header,
    })
}

#[cfg(test)]
mod tests;
