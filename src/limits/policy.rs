//! A client-sent rate-limit policy, in Helicone's format:
//! `Helicone-RateLimit-Policy: 100;w=60;u=request;s=user`
//! (quota; `w` = window in seconds; `u` = unit, `request` (default) or `token`;
//! `s` = segment, only `user` is understood).
//!
//! Honoured only when `limits.client_policy` is true, and only to tighten: it adds one
//! more rule for this request, scoped to the calling consumer (all anonymous callers
//! share one bucket). It can never loosen an operator rule.

/// The header that carries a client policy.
pub const CLIENT_POLICY_HEADER: &str = "Helicone-RateLimit-Policy";

/// Largest window a client may ask for, in seconds (one day).
pub const MAX_POLICY_WINDOW_SECS: u64 = 86_400;
/// Largest quota a client may ask for.
pub const MAX_POLICY_QUOTA: u64 = 1_000_000_000;
const MAX_HEADER_LEN: usize = 256;

/// What a client policy counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyUnit {
    /// One per request.
    Request,
    /// Total tokens: counted input plus reserved output, settled with real usage.
    Token,
}

/// A parsed client policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Units allowed per window, >= 1.
    pub quota: u64,
    /// Window in seconds, 1..=86400.
    pub window_secs: u64,
    pub unit: PolicyUnit,
}

/// Parses the value of `Helicone-RateLimit-Policy` strictly. The error is a message for
/// the client (the host answers 400 with it).
pub fn parse_client_policy(header: &str) -> Result<ClientPolicy, String> {
    let fail = |why: &str| {
        let shown: String = header.chars().take(64).collect();
        Err(format!(
            "{CLIENT_POLICY_HEADER} must look like \"100;w=60\" with optional \";u=request\" or \";u=token\" and \";s=user\": {why} (got {shown:?})"
        ))
    };
    if header.len() > MAX_HEADER_LEN {
        return fail("the value is too long");
    }
    let mut parts = header.split(';').map(str::trim);
    let quota = match parts.next().map(str::parse::<u64>) {
        Some(Ok(q)) if (1..=MAX_POLICY_QUOTA).contains(&q) => q,
        _ => return fail("the quota must be a whole number from 1 to 1000000000"),
    };
    let (mut window, mut unit, mut segment) = (None, None, None);
    for part in parts {
        let Some((name, value)) = part.split_once('=') else {
            return fail("each parameter must be name=value");
        };
        let slot = match name.trim() {
            "w" => &mut window,
            "u" => &mut unit,
            "s" => &mut segment,
            _ => return fail("the only parameters are w, u and s"),
        };
        if slot.is_some() {
            return fail("a parameter is repeated");
        }
        *slot = Some(value.trim());
    }
    let window_secs = match window.map(str::parse::<u64>) {
        Some(Ok(w)) if (1..=MAX_POLICY_WINDOW_SECS).contains(&w) => w,
        None => return fail("w (the window in seconds) is required"),
        _ => return fail("w must be a whole number of seconds from 1 to 86400"),
    };
    let unit = match unit {
        None | Some("request") => PolicyUnit::Request,
        Some("token") => PolicyUnit::Token,
        Some(_) => return fail("u must be request or token"),
    };
    match segment {
        None | Some("user") => {}
        Some(_) => return fail("s must be user"),
    }
    Ok(ClientPolicy {
        quota,
        window_secs,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_helicone_policies() {
        let p = parse_client_policy("100;w=60;s=user").unwrap();
        assert_eq!(
            p,
            ClientPolicy {
                quota: 100,
                window_secs: 60,
                unit: PolicyUnit::Request
            }
        );
        let p = parse_client_policy(" 5000 ; w=3600 ; u=token ").unwrap();
        assert_eq!(p.unit, PolicyUnit::Token);
        assert_eq!(p.window_secs, 3600);
        assert_eq!(parse_client_policy("1;w=1;u=request").unwrap().quota, 1);
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "100",
            "0;w=60",
            "-1;w=60",
            "abc;w=60",
            "100;w=0",
            "100;w=86401",
            "100;w=1m",
            "100;w=60;w=60",
            "100;w=60;u=cents",
            "100;w=60;s=org",
            "100;w=60;x=1",
            "100;w=60;",
            "100;w",
            "\"100;w=60\"",
            "1000000001;w=60",
        ] {
            let err = parse_client_policy(bad).unwrap_err();
            assert!(err.starts_with(CLIENT_POLICY_HEADER), "{bad:?}: {err}");
        }
        assert!(parse_client_policy(&"9".repeat(300)).is_err());
    }
}
