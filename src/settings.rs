//! pum's own environment variables (`PUM_*`), read in one place with one error shape.
//!
//! Every reader treats a variable that is unset or empty as "not given" (its default), and
//! a value it cannot use as [`Error::Environment`], which names the variable, the value and
//! what was expected: `PUM_TEST_SPARES="x": expected a whole number from 0 to 32`. The
//! parsing is a pure function of the value (`parse_*`), unit-tested without touching the
//! process's environment.
//!
//! A reader is compiled where something uses it (the server's and the harness's
//! variables with their features; the module itself on Unix, for hooks and the file
//! checks, or with the server), so that every build uses all it has.
//!
//! libpq's variables (`PG*`) are not read here: `connect::Environment` reads them as libpq
//! does. Nor are cargo's (`CARGO_*`), which only say where files are.

#[cfg(any(feature = "server", test))]
use std::fmt::Display;
#[cfg(any(feature = "server", test))]
use std::ops::{Bound, RangeBounds};
#[cfg(any(feature = "server", test))]
use std::path::PathBuf;
#[cfg(any(feature = "server", test))]
use std::str::FromStr;
#[cfg(any(feature = "server", test))]
use std::time::Duration;

use crate::error::{Error, Result};

/// The value of `name`, or `None` when it is unset or empty.
///
/// # Errors
/// [`Error::Environment`] when the value is not UTF-8.
fn read(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(Error::Environment {
            variable: name.into(),
            value: value.to_string_lossy().into_owned(),
            expected: "UTF-8 text".into(),
        }),
    }
}

#[cfg(any(feature = "server", test))]
/// A whole number in `range` (`PUM_TEST_SPARES`, `PUM_SERVER_MAX_CONNECTIONS`…), or
/// `default` when the variable is not given.
///
/// # Errors
/// [`Error::Environment`] for anything but a whole number in `range`.
pub(crate) fn bounded_number<T, R>(name: &str, range: R, default: T) -> Result<T>
where
    T: FromStr + PartialOrd + Display,
    R: RangeBounds<T>,
{
    Ok(number(name, range)?.unwrap_or(default))
}

#[cfg(any(feature = "server", test))]
/// A whole number in `range`, `None` when the variable is not given (the default is
/// worked out later: `PUM_TEST_CONNECTIONS` asks the server).
///
/// # Errors
/// [`Error::Environment`] for anything but a whole number in `range`.
pub(crate) fn number<T, R>(name: &str, range: R) -> Result<Option<T>>
where
    T: FromStr + PartialOrd + Display,
    R: RangeBounds<T>,
{
    match read(name)? {
        None => Ok(None),
        Some(text) => parse_number(name, &text, &range, "").map(Some),
    }
}

#[cfg(any(feature = "server", test))]
/// A whole number of seconds in `range` (`PUM_TEST_LEASE`, `PUM_SERVER_IDLE`), or
/// `default` when the variable is not given.
///
/// # Errors
/// [`Error::Environment`] for anything but a whole number of seconds in `range`.
pub(crate) fn duration<R: RangeBounds<u64>>(
    name: &str,
    range: R,
    default: Duration,
) -> Result<Duration> {
    parse_duration(name, read(name)?.as_deref(), &range, default)
}

/// A switch (`PUM_TRUST_WRITABLE`, `PUM_SERVER_MEMORY`…): `1` on, `0` off, `default`
/// when the variable is not given.
///
/// # Errors
/// [`Error::Environment`] for any other value.
pub(crate) fn flag(name: &str, default: bool) -> Result<bool> {
    parse_flag(name, read(name)?.as_deref(), default)
}

#[cfg(any(feature = "testing", test))]
/// One of `choices` by its name (`PUM_TEST_KEEP`), or `default` when the variable is
/// not given.
///
/// # Errors
/// [`Error::Environment`] for a name not among `choices`.
pub(crate) fn choice<T: Copy>(name: &str, choices: &[(&str, T)], default: T) -> Result<T> {
    parse_choice(name, read(name)?.as_deref(), choices, default)
}

/// Text (`PUM_PYTHON`, `PUM_TEST_DATABASE_URL`…), `None` when the variable is not given.
///
/// # Errors
/// [`Error::Environment`] when the value is not UTF-8.
pub(crate) fn text(name: &str) -> Result<Option<String>> {
    read(name)
}

#[cfg(any(feature = "server", test))]
/// A path (`PUM_SERVER_DIR`, `PUM_PG_BINDIR`), `None` when the variable is not given; any
/// bytes the operating system allows.
pub(crate) fn path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

#[cfg(any(feature = "server", test))]
/// `text`, the value of `name`, as a whole number in `range` (`unit` says of what).
fn parse_number<T, R>(name: &str, text: &str, range: &R, unit: &str) -> Result<T>
where
    T: FromStr + PartialOrd + Display,
    R: RangeBounds<T>,
{
    text.trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            let bounds = match (range.start_bound(), range.end_bound()) {
                (Bound::Included(lo), Bound::Included(hi)) => format!(" from {lo} to {hi}"),
                (Bound::Included(lo), _) => format!(", {lo} or more"),
                (_, Bound::Included(hi)) => format!(", {hi} or less"),
                _ => String::new(),
            };
            Error::Environment {
                variable: name.into(),
                value: text.into(),
                expected: format!("a whole number{unit}{bounds}"),
            }
        })
}

#[cfg(any(feature = "server", test))]
fn parse_duration<R: RangeBounds<u64>>(
    name: &str,
    value: Option<&str>,
    range: &R,
    default: Duration,
) -> Result<Duration> {
    match value {
        None => Ok(default),
        Some(text) => parse_number(name, text, range, " of seconds").map(Duration::from_secs),
    }
}

fn parse_flag(name: &str, value: Option<&str>, default: bool) -> Result<bool> {
    match value.map(str::trim) {
        None => Ok(default),
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) => Err(Error::Environment {
            variable: name.into(),
            value: other.into(),
            expected: "1 (on) or 0 (off)".into(),
        }),
    }
}

#[cfg(any(feature = "testing", test))]
fn parse_choice<T: Copy>(
    name: &str,
    value: Option<&str>,
    choices: &[(&str, T)],
    default: T,
) -> Result<T> {
    let Some(text) = value else {
        return Ok(default);
    };
    choices
        .iter()
        .find(|(choice, _)| *choice == text.trim())
        .map(|(_, value)| *value)
        .ok_or_else(|| Error::Environment {
            variable: name.into(),
            value: text.into(),
            expected: format!(
                "one of {}",
                choices
                    .iter()
                    .map(|(choice, _)| *choice)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.expect_err("an error").to_string()
    }

    #[test]
    fn a_number_is_a_whole_number_in_its_range() {
        assert_eq!(parse_number("N", " 7 ", &(0..=32), "").unwrap(), 7);
        assert_eq!(
            message(parse_number::<i64, _>(
                "PUM_TEST_SPARES",
                "x",
                &(0..=32),
                ""
            )),
            "PUM_TEST_SPARES=\"x\": expected a whole number from 0 to 32"
        );
        assert_eq!(
            message(parse_number::<i64, _>("N", "33", &(0..=32), "")),
            "N=\"33\": expected a whole number from 0 to 32"
        );
        assert_eq!(
            message(parse_number::<i64, _>("N", "-1", &(0_i64..), "")),
            "N=\"-1\": expected a whole number, 0 or more"
        );
    }

    #[test]
    fn a_duration_is_a_whole_number_of_seconds() {
        assert_eq!(
            parse_duration("D", None, &(2..=9), Duration::from_millis(1500)).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("D", Some("3"), &(2..=9), Duration::ZERO).unwrap(),
            Duration::from_secs(3)
        );
        assert_eq!(
            message(parse_duration(
                "PUM_TEST_LEASE",
                Some("1m"),
                &(2..=86_400),
                Duration::ZERO
            )),
            "PUM_TEST_LEASE=\"1m\": expected a whole number of seconds from 2 to 86400"
        );
    }

    #[test]
    fn a_flag_is_one_or_zero() {
        assert!(parse_flag("F", None, true).unwrap());
        assert!(parse_flag("F", Some("1"), false).unwrap());
        assert!(!parse_flag("F", Some(" 0 "), true).unwrap());
        assert_eq!(
            message(parse_flag("PUM_TRUST_WRITABLE", Some("yes"), false)),
            "PUM_TRUST_WRITABLE=\"yes\": expected 1 (on) or 0 (off)"
        );
    }

    #[test]
    fn a_choice_is_one_of_its_names() {
        let choices = [("failed", 1), ("never", 2)];
        assert_eq!(parse_choice("C", None, &choices, 1).unwrap(), 1);
        assert_eq!(parse_choice("C", Some("never"), &choices, 1).unwrap(), 2);
        assert_eq!(
            message(parse_choice(
                "PUM_TEST_KEEP",
                Some("sometimes"),
                &choices,
                1
            )),
            "PUM_TEST_KEEP=\"sometimes\": expected one of failed, never"
        );
    }

    #[test]
    fn text_and_paths_not_given_are_none() {
        let name = "PUM_SETTINGS_UNIT_TEST_NEVER_SET";
        assert_eq!(text(name).unwrap(), None);
        assert_eq!(path(name), None);
    }
}
