//! The request's `Cache-Control` (RFC 9111 request directives, the three the cache
//! honours): `no-cache` (do not look up; store the fresh answer), `no-store` (neither look
//! up nor store), `max-age=N` (accept only an entry at most N seconds old). Directive
//! names are case-insensitive; other directives are ignored.

/// What the client asked of the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Controls {
    pub no_cache: bool,
    pub no_store: bool,
    /// Seconds; an entry older than this is a miss.
    pub max_age_s: Option<u64>,
}

impl Controls {
    /// Whether the entry is looked up.
    pub fn lookup(&self) -> bool {
        !self.no_cache && !self.no_store
    }

    /// Whether a fresh answer is stored.
    pub fn store(&self) -> bool {
        !self.no_store
    }
}

/// Reads a `Cache-Control` value. `Err` says what is wrong with a `max-age`, the one
/// directive whose value the cache reads.
pub fn parse(value: &str) -> Result<Controls, String> {
    let mut out = Controls::default();
    for directive in value.split(',') {
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-cache") {
            out.no_cache = true;
        } else if name.eq_ignore_ascii_case("no-store") {
            out.no_store = true;
        } else if name.eq_ignore_ascii_case("max-age") {
            let arg = arg.unwrap_or("");
            let digits = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit());
            if !digits {
                return Err(format!(
                    "`max-age` must be a whole number of seconds (got {arg:?})"
                ));
            }
            // RFC 9111 1.2.2: a value too large to represent is taken as 2^31.
            let seconds = arg.parse::<u64>().unwrap_or(u64::MAX).min(1 << 31);
            out.max_age_s = Some(out.max_age_s.map_or(seconds, |s| s.min(seconds)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_directives_in_any_case_and_order() {
        assert_eq!(parse("").unwrap(), Controls::default());
        let c = parse("No-Cache").unwrap();
        assert!(c.no_cache && !c.no_store && !c.lookup() && c.store());
        let c = parse("private, no-store, max-age=0").unwrap();
        assert!(c.no_store && !c.lookup() && !c.store());
        assert_eq!(c.max_age_s, Some(0));
        let c = parse(" MAX-AGE = 60 ,must-revalidate").unwrap();
        assert_eq!((c.lookup(), c.store(), c.max_age_s), (true, true, Some(60)));
        assert_eq!(
            parse("max-age=99999999999999999999").unwrap().max_age_s,
            Some(1 << 31)
        );
        assert_eq!(
            parse("max-age=60, max-age=5").unwrap().max_age_s,
            Some(5),
            "the stricter wins"
        );
    }

    #[test]
    fn a_bad_max_age_is_an_error_that_names_it() {
        for (value, got) in [
            ("max-age=abc", "\"abc\""),
            ("max-age", "\"\""),
            ("max-age=-1", "\"-1\""),
            ("max-age=\"5\"", "\"\\\"5\\\"\""),
        ] {
            assert_eq!(
                parse(value).unwrap_err(),
                format!("`max-age` must be a whole number of seconds (got {got})"),
                "{value}"
            );
        }
    }
}
