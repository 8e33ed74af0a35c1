//! Connection strings with their secrets hidden: the password, and the query-string
//! options that carry credentials (`authMechanismProperties`, which may hold an AWS
//! session token, and any option whose name speaks of a password, secret, token or
//! credential, such as `tlsCertificateKeyFilePassword`).

/// What a hidden value reads as.
pub const HIDDEN: &str = "***";

/// Whether an option or argument of this name holds a secret (any case).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authmechanismproperties"
        || ["password", "passwd", "secret", "token", "credential"].iter().any(|w| name.contains(w))
}

/// The parts of a connection string: where the password and the query sit.
struct Parts<'a> {
    /// The password as written (percent-encoded), with its byte range in the string.
    password: Option<(&'a str, std::ops::Range<usize>)>,
    /// The query string (after `?`) and where it starts.
    query: Option<(&'a str, usize)>,
}

fn parts(uri: &str) -> Parts<'_> {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else { return Parts { password: None, query: None } };
    let rest = &uri[scheme_end..];
    // Users type passwords with `@`, `/` or `?` unescaped (the driver refuses them, and
    // the refusal quotes the string): the credentials end at the last `@` before the
    // first `/` or `?` that follows the first `@`, unless that `@` is in the query.
    let at = rest.find('@').filter(|&first| {
        let before = &rest[..first];
        !before.find('?').is_some_and(|q| before[q..].contains('='))
    });
    let at = at.map(|first| {
        let end = rest[first..].find(['/', '?']).map_or(rest.len(), |e| first + e);
        rest[..end].rfind('@').unwrap_or(first)
    });
    let password = at.and_then(|at| {
        let colon = rest[..at].find(':')?;
        Some((&rest[colon + 1..at], scheme_end + colon + 1..scheme_end + at))
    });
    let authority_start = at.map_or(0, |at| at + 1);
    let authority_end = rest[authority_start..].find(['/', '?']).map_or(rest.len(), |e| authority_start + e);
    let query = rest[authority_end..].find('?').map(|q| {
        let start = scheme_end + authority_end + q + 1;
        (&uri[start..], start)
    });
    Parts { password, query }
}

/// The query's `name=value` options whose value is secret, as (value, byte range).
fn secret_options(query: &str, offset: usize) -> Vec<(&str, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut start = 0;
    for option in query.split(['&', ';']) {
        if let Some((name, value)) = option.split_once('=')
            && is_secret_name(&percent_decode(name))
            && !value.is_empty()
        {
            let at = offset + start + name.len() + 1;
            found.push((value, at..at + value.len()));
        }
        start += option.len() + 1;
    }
    found
}

/// A connection string with its password and secret options replaced by `***`, for
/// logs and reports.
pub fn redact_uri(uri: &str) -> String {
    let Parts { password, query } = parts(uri);
    let mut ranges: Vec<_> = password.into_iter().map(|(_, r)| r).collect();
    if let Some((query, offset)) = query {
        ranges.extend(secret_options(query, offset).into_iter().map(|(_, r)| r));
    }
    let mut out = uri.to_string();
    // From the end, so that earlier ranges stay valid.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.start));
    for range in ranges {
        out.replace_range(range, HIDDEN);
    }
    out
}

/// The secret strings of a connection string, as written and percent-decoded (a
/// message may show either): the password, each secret option's value, and the values
/// inside `authMechanismProperties` whose property name is secret.
pub fn uri_secrets(uri: &str) -> Vec<String> {
    let Parts { password, query } = parts(uri);
    let mut raw: Vec<&str> = password.into_iter().map(|(p, _)| p).collect();
    if let Some((query, offset)) = query {
        for (value, _) in secret_options(query, offset) {
            raw.push(value);
            // AWS_SESSION_TOKEN:abc,SERVICE_NAME:mongodb: the token alone, too.
            raw.extend(
                value.split(',').filter_map(|p| p.split_once(':')).filter(|(k, _)| is_secret_name(k)).map(|(_, v)| v),
            );
        }
    }
    let mut secrets = Vec::new();
    for s in raw.into_iter().filter(|s| !s.is_empty()) {
        let decoded = percent_decode(s);
        if decoded != s {
            // A decoded value may hold the properties' separators too.
            if let Some(props) = decoded.split(',').filter_map(|p| p.split_once(':')).find(|(k, _)| is_secret_name(k)) {
                secrets.push(props.1.to_string());
            }
            secrets.push(decoded);
        }
        secrets.push(s.to_string());
    }
    secrets.retain(|s| !s.is_empty());
    secrets
}

/// `%XX` escapes decoded (invalid ones left as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact_uri("mongodb://bob:s3cret@h:27017/db?x=1"), "mongodb://bob:***@h:27017/db?x=1");
        assert_eq!(redact_uri("mongodb+srv://bob:p@ss@cluster/"), "mongodb+srv://bob:***@cluster/");
        assert_eq!(redact_uri("mongodb://h:1/db?authSource=a@b"), "mongodb://h:1/db?authSource=a@b");
        assert_eq!(redact_uri("mongodb://h:1"), "mongodb://h:1");
        assert_eq!(redact_uri("mongodb://bob@h:1"), "mongodb://bob@h:1");
        assert_eq!(redact_uri("mongodb://bob:pa/s?s@h:1/db?w=1"), "mongodb://bob:***@h:1/db?w=1");
        assert_eq!(redact_uri("mongodb://bob:pa/s?s@h:1/?password=x@y"), "mongodb://bob:***@h:1/?password=***");
    }

    #[test]
    fn query_string_credentials_never_show() {
        assert_eq!(
            redact_uri("mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok,X:y"),
            "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***"
        );
        assert_eq!(
            redact_uri("mongodb://u:p@h/db?tls=true&tlsCertificateKeyFilePassword=pw&appName=a"),
            "mongodb://u:***@h/db?tls=true&tlsCertificateKeyFilePassword=***&appName=a"
        );
        assert_eq!(redact_uri("mongodb://h?myApiToken=t;w=1"), "mongodb://h?myApiToken=***;w=1");
        assert_eq!(redact_uri("mongodb://h/?sslPEMKeyPassword="), "mongodb://h/?sslPEMKeyPassword=");
    }

    #[test]
    fn the_secrets_of_a_uri_as_written_and_decoded() {
        assert_eq!(uri_secrets("mongodb://bob:p%40ss@h/?w=1"), ["p@ss", "p%40ss"]);
        let uri = "mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:tok%2Fen,SERVICE_NAME:mongodb";
        let secrets = uri_secrets(uri);
        for s in ["AWS_SESSION_TOKEN:tok%2Fen,SERVICE_NAME:mongodb", "tok%2Fen", "tok/en"] {
            assert!(secrets.iter().any(|x| x == s), "{s} in {secrets:?}");
        }
        assert!(!secrets.iter().any(|x| x == "mongodb"), "a property that is no secret stays: {secrets:?}");
        assert!(uri_secrets("mongodb://h:1/db?appName=x").is_empty());
    }

    #[test]
    fn secret_names() {
        for name in [
            "tlsCertificateKeyFilePassword",
            "authMechanismProperties",
            "api_token",
            "CLIENT_SECRET",
            "aws_credentials",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["appName", "flag", "tls", "authSource"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
