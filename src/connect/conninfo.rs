//! Parsing of the two libpq connection-string forms: URLs and `key=value` strings.
//!
//! Both produce a list of `(keyword, value)` pairs in libpq's keyword names; checking
//! that the keywords and values make sense is the caller's job ([`super::Params`]).

use crate::error::{Error, Result};

/// Where connection-string errors are reported from.
const URL_ORIGIN: &str = "connection URL";
const KEYWORDS_ORIGIN: &str = "connection string";

fn url_error(message: impl Into<String>) -> Error {
    Error::ConnectionSetting {
        origin: URL_ORIGIN.into(),
        message: message.into(),
    }
}

fn keywords_error(message: impl Into<String>) -> Error {
    Error::ConnectionSetting {
        origin: KEYWORDS_ORIGIN.into(),
        message: message.into(),
    }
}

/// A value the user wrote, quoted for an error message if it looks like what belongs
/// there (a port, a mode, a name: short, no `@`, `:`, `=` or spaces), otherwise not shown:
/// a password typed in the wrong place must not end up on the screen.
pub(crate) fn shown(text: &str) -> String {
    shown_if(text, |c| matches!(c, '.' | '_' | '/' | '-' | '%'))
}

/// As [`shown`], for a host (IPv6 addresses have `:` and brackets).
fn shown_host(text: &str) -> String {
    shown_if(text, |c| {
        matches!(c, '.' | '_' | '/' | '-' | '%' | ':' | '[' | ']')
    })
}

fn shown_if(text: &str, allowed: impl Fn(char) -> bool) -> String {
    let plain = text.chars().count() <= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || allowed(c));
    if plain {
        format!("\"{text}\"")
    } else {
        "(not shown)".to_string()
    }
}

/// True when `input` starts with one of the URL schemes libpq accepts.
pub(crate) fn is_url(input: &str) -> bool {
    url_rest(input).is_some()
}

fn url_rest(input: &str) -> Option<&str> {
    input
        .strip_prefix("postgresql://")
        .or_else(|| input.strip_prefix("postgres://"))
}

/// Parses `postgresql://[user[:password]@][host[:port][,…]][/dbname][?key=value&…]`.
///
/// Percent-encoded text is decoded everywhere; an IPv6 host is written in brackets;
/// `?host=/socket/dir` names a socket directory; `ssl=true` means `sslmode=require`.
pub(crate) fn parse_url(input: &str) -> Result<Vec<(String, String)>> {
    let rest =
        url_rest(input).ok_or_else(|| url_error("must start with postgresql:// or postgres://"))?;
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, dbname) = match main.split_once('/') {
        Some((a, d)) => (a, Some(d)),
        None => (main, None),
    };
    let mut out = Vec::new();
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.push((
                    "user".to_string(),
                    percent_decode(user, Part::Shown("user name"))?,
                ));
            }
            if let Some(p) = password {
                out.push((
                    "password".to_string(),
                    percent_decode(p, Part::Secret("password"))?,
                ));
            }
            hosts
        }
        None => authority,
    };
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for spec in hostlist.split(',') {
            let (host, port) = split_host_port(spec)?;
            hosts.push(percent_decode(host, Part::Shown("host"))?);
            ports.push(port.map(str::to_string));
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            out.push(("host".to_string(), hosts.join(",")));
        }
        if ports.iter().any(Option::is_some) {
            let ports: Vec<String> = ports
                .into_iter()
                .map(|p| p.unwrap_or_else(|| "5432".to_string()))
                .collect();
            out.push(("port".to_string(), ports.join(",")));
        }
    }
    if let Some(db) = dbname.filter(|d| !d.is_empty()) {
        out.push((
            "dbname".to_string(),
            percent_decode(db, Part::Shown("database name"))?,
        ));
    }
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            url_error(format!(
                "missing \"=\" after {} in the query part",
                shown(pair)
            ))
        })?;
        let key = percent_decode(key, Part::Shown("parameter name"))?;
        // A value may be a password (?password=…): never shown.
        let value = percent_decode(value, Part::Secret("a parameter value"))?;
        if key == "ssl" {
            if value != "true" {
                return Err(url_error(format!(
                    "invalid value {} for ssl (only ssl=true is accepted)",
                    shown(&value)
                )));
            }
            out.push(("sslmode".to_string(), "require".to_string()));
        } else {
            out.push((key, value));
        }
    }
    Ok(out)
}

/// Splits `host:port`, `[v6addr]:port`, `host` or `:port`.
fn split_host_port(spec: &str) -> Result<(&str, Option<&str>)> {
    if let Some(rest) = spec.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| url_error(format!("missing \"]\" in IPv6 host {}", shown_host(spec))))?;
        return match after {
            "" => Ok((addr, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((addr, Some(port))),
                None => Err(url_error(format!(
                    "unexpected {} after IPv6 host {}",
                    shown_host(after),
                    shown_host(&format!("[{addr}]"))
                ))),
            },
        };
    }
    Ok(match spec.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (spec, None),
    })
}

/// A part of a URL, named in errors; a secret one is never shown.
#[derive(Clone, Copy)]
enum Part {
    Shown(&'static str),
    Secret(&'static str),
}

impl Part {
    fn describe(self, text: &str) -> String {
        match self {
            Part::Shown(what) => format!("{what} {}", shown(text)),
            Part::Secret(what) => format!("{what} (not shown)"),
        }
    }
}

/// Decodes `%XX` escapes; `part` names the URL part for the error message.
fn percent_decode(text: &str, part: Part) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    url_error(format!(
                        "invalid percent-encoding in {}",
                        part.describe(text)
                    ))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        url_error(format!(
            "{} is not valid UTF-8 once decoded",
            part.describe(text)
        ))
    })
}

/// Percent-encodes everything but unreserved characters and `/`, for URLs.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses a libpq keyword string: `host=db.example.org dbname='my db' user=me`.
///
/// Spaces around `=` are allowed; a value containing spaces is single-quoted, inside
/// which `\'` and `\\` stand for a quote and a backslash.
pub(crate) fn parse_keywords(input: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(keywords_error(format!(
                "missing \"=\" after {}",
                shown(&key)
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(keywords_error(format!(
                            "unterminated quoted value for {}",
                            shown(&key)
                        )));
                    }
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => {
                            return Err(keywords_error(format!(
                                "unterminated quoted value for {}",
                                shown(&key)
                            )));
                        }
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

/// Writes `value` so that [`parse_keywords`] reads it back unchanged.
pub(crate) fn quote_keyword_value(value: &str) -> String {
    let needs_quotes = value
        .chars()
        .any(|c| c.is_whitespace() || c == '\'' || c == '\\');
    if !value.is_empty() && !needs_quotes {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn percent_encoding_keeps_slashes() {
        assert_eq!(percent_encode("/tmp/a b/c%d"), "/tmp/a%20b/c%25d");
        assert_eq!(
            percent_decode(&percent_encode("é ?&=@:"), Part::Shown("x")).unwrap(),
            "é ?&=@:"
        );
    }

    #[test]
    fn url_with_everything() {
        let got = parse_url("postgresql://me:s%40cret@db.example.org:5433/my%20db?sslmode=disable")
            .unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("user", "me"),
                ("password", "s@cret"),
                ("host", "db.example.org"),
                ("port", "5433"),
                ("dbname", "my db"),
                ("sslmode", "disable"),
            ])
        );
    }

    #[test]
    fn url_with_socket_directory_in_host_or_query() {
        assert_eq!(
            parse_url("postgres://%2Fvar%2Frun%2Fpostgresql/app").unwrap(),
            pairs(&[("host", "/var/run/postgresql"), ("dbname", "app")])
        );
        assert_eq!(
            parse_url("postgresql:///app?host=/tmp/sock&port=6000").unwrap(),
            pairs(&[("dbname", "app"), ("host", "/tmp/sock"), ("port", "6000")])
        );
    }

    #[test]
    fn url_with_ipv6_and_several_hosts() {
        assert_eq!(
            parse_url("postgresql://[::1]:5433,other/db").unwrap(),
            pairs(&[
                ("host", "::1,other"),
                ("port", "5433,5432"),
                ("dbname", "db")
            ])
        );
    }

    #[test]
    fn url_ssl_true_means_require() {
        assert_eq!(
            parse_url("postgresql://h/?ssl=true").unwrap(),
            pairs(&[("host", "h"), ("sslmode", "require")])
        );
    }

    #[test]
    fn url_errors_name_the_bad_part() {
        let err = parse_url("postgresql://h/db?sslmode")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "connection URL: missing \"=\" after \"sslmode\" in the query part"
        );
        let err = parse_url("postgresql://u%zz@h/db").unwrap_err().to_string();
        assert_eq!(
            err,
            "connection URL: invalid percent-encoding in user name \"u%zz\""
        );
        let err = parse_url("postgresql://[::1/db").unwrap_err().to_string();
        assert_eq!(err, "connection URL: missing \"]\" in IPv6 host \"[::1\"");
    }

    #[test]
    fn keywords_with_quotes_spaces_and_escapes() {
        let got =
            parse_keywords(r"host = /tmp  dbname='my \'odd\' db' password=a\ b user=x").unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("host", "/tmp"),
                ("dbname", "my 'odd' db"),
                ("password", "a b"),
                ("user", "x"),
            ])
        );
    }

    #[test]
    fn keywords_empty_quoted_value() {
        assert_eq!(
            parse_keywords("password='' host=h").unwrap(),
            pairs(&[("password", ""), ("host", "h")])
        );
    }

    #[test]
    fn keyword_errors() {
        assert_eq!(
            parse_keywords("host").unwrap_err().to_string(),
            "connection string: missing \"=\" after \"host\""
        );
        assert_eq!(
            parse_keywords("dbname='abc").unwrap_err().to_string(),
            "connection string: unterminated quoted value for \"dbname\""
        );
    }

    #[test]
    fn secrets_in_urls_are_never_echoed() {
        for url in [
            "postgresql://me:hunter2%zz@h/db",
            "postgresql://me:hunter2%ff@h/db",
            "postgresql://h/db?password=hunter2%zz",
        ] {
            let err = parse_url(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{url}: {err}");
            assert!(err.contains("(not shown)"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn keyword_values_round_trip(value in "\\PC*", key in "[a-z_]{1,12}") {
            let text = format!("{key}={} other=1", quote_keyword_value(&value));
            let parsed = parse_keywords(&text).unwrap();
            prop_assert_eq!(parsed, vec![(key, value), ("other".to_string(), "1".to_string())]);
        }

        #[test]
        fn url_parser_never_panics(input in "postgres(ql)?://\\PC*") {
            let _ = parse_url(&input);
        }
    }
}
