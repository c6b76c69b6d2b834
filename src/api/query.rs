//! The query string of a request path, as the gateway's own endpoints read it.

/// The value of a hexadecimal digit.
pub fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `%XX` escapes decoded and `+` as a space (form encoding); a `%` that starts no escape
/// stays as it is.
pub fn percent_decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    out
}

/// The first value of the query parameter `name` in `path` (`/v1/models?limit=2`),
/// decoded; `None` when absent. Bytes that are not UTF-8 are replaced.
pub fn query_param(path: &str, name: &str) -> Option<String> {
    let (_, query) = path.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key.as_bytes()) == name.as_bytes())
            .then(|| String::from_utf8_lossy(&percent_decode(value.as_bytes())).into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_found_and_decoded() {
        let path = "/v1/models?beta=true&limit=2&after_id=claude%2Dx+y&empty";
        assert_eq!(query_param(path, "limit").as_deref(), Some("2"));
        assert_eq!(query_param(path, "after_id").as_deref(), Some("claude-x y"));
        assert_eq!(query_param(path, "empty").as_deref(), Some(""));
        assert_eq!(query_param(path, "before_id"), None);
        assert_eq!(query_param("/v1/models", "limit"), None);
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%zz%41"), b"%zzA");
    }
}
