//! Resolving what a user typed (a service name, a URL, a keyword string) into complete
//! settings, in libpq's order: the string, the service file, the environment, defaults,
//! the password file. No connection is made here.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::conninfo::shown;
use super::pgpass::PassFile;
use super::{
    ConnectionSpec, DEFAULT_CONNECT_TIMEOUT, Environment, conninfo, default_socket_dir, service,
};
use crate::error::{Error, Result};

/// libpq keywords pum understands, with the environment variable that supplies a default.
const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("dbname", Some("PGDATABASE")),
    ("sslmode", Some("PGSSLMODE")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("options", Some("PGOPTIONS")),
    ("service", Some("PGSERVICE")),
    ("passfile", Some("PGPASSFILE")),
];

const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A value and where it came from (for error messages).
#[derive(Debug, Clone)]
struct Setting {
    value: String,
    origin: String,
}

/// Settings gathered from the string, the service file and the environment.
#[derive(Debug, Default)]
struct Params {
    values: BTreeMap<&'static str, Setting>,
}

impl Params {
    fn set(&mut self, key: &'static str, value: String, origin: &str) {
        self.values.insert(
            key,
            Setting {
                value,
                origin: origin.to_string(),
            },
        );
    }

    fn set_if_absent(&mut self, key: &'static str, value: String, origin: &str) {
        if !self.values.contains_key(key) {
            self.set(key, value, origin);
        }
    }

    fn get(&self, key: &str) -> Option<&Setting> {
        self.values.get(key)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|s| s.value.as_str())
    }
}

fn keyword(name: &str, origin: &str) -> Result<&'static str> {
    KEYWORDS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| *k == name)
        .ok_or_else(|| Error::ConnectionSetting {
            origin: origin.to_string(),
            message: format!(
                "unknown or unsupported connection option {} (supported: {})",
                shown_name(name),
                KEYWORDS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// An option's name in quotes, if it looks like one; what does not (a mistyped URL with
/// its password) is not shown.
fn shown_name(name: &str) -> String {
    let plain = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        format!("\"{name}\"")
    } else {
        "(not shown: not an option name)".to_string()
    }
}

/// The scheme of `input` if it starts like a URL (`scheme://`).
fn url_scheme(input: &str) -> Option<&str> {
    let (scheme, _) = input.split_once("://")?;
    let looks_like_one = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    looks_like_one.then_some(scheme)
}

impl ConnectionSpec {
    /// Resolves `input` (service name, URL, keyword string, or empty for "environment
    /// only") against the environment of this process.
    ///
    /// # Errors
    /// [`Error::ConnectionSetting`] naming the URL, string, service file line or variable
    /// that is malformed; [`Error::ServiceNotFound`] when a named service is in no file.
    pub fn resolve(input: &str) -> Result<ConnectionSpec> {
        ConnectionSpec::resolve_with(input, &Environment::from_process())
    }

    /// Like [`ConnectionSpec::resolve`], in the given environment.
    ///
    /// ```
    /// use pum::connect::{ConnectionSpec, Environment};
    ///
    /// let env = Environment::empty().set("PGPORT", "5433");
    /// let spec = ConnectionSpec::resolve_with("host=/tmp dbname=app user=me", &env).unwrap();
    /// assert_eq!(spec.port(), "5433");
    /// assert_eq!(spec.dbname(), "app");
    /// ```
    pub fn resolve_with(input: &str, env: &Environment) -> Result<ConnectionSpec> {
        let mut params = Params::default();
        let input = input.trim();
        let (given, origin) = if input.is_empty() {
            (Vec::new(), "")
        } else if conninfo::is_url(input) {
            (conninfo::parse_url(input)?, "connection URL")
        } else if let Some(scheme) = url_scheme(input) {
            // A URL with a mistyped scheme: not keywords nor a service name, and not to be
            // echoed (it may hold a password).
            return Err(Error::ConnectionSetting {
                origin: "connection URL".into(),
                message: format!(
                    "unknown scheme \"{}\": a URL starts with postgresql:// or postgres://",
                    scheme.chars().take(20).collect::<String>()
                ),
            });
        } else if input.contains('=') {
            (conninfo::parse_keywords(input)?, "connection string")
        } else if input.contains('@') {
            return Err(Error::ConnectionSetting {
                origin: "connection".into(),
                message: "this looks like a URL without its postgresql:// (not shown: it may \
                          hold a password); a service name has no @"
                    .into(),
            });
        } else {
            (
                vec![("service".to_string(), input.to_string())],
                "service name",
            )
        };
        for (name, value) in given {
            params.set(keyword(&name, origin)?, value, origin);
        }

        let service = params
            .value("service")
            .map(str::to_string)
            .or_else(|| env.get("PGSERVICE").map(str::to_string));
        if let Some(name) = &service {
            let files = env.service_files();
            let entry =
                service::find_service(name, &files)?.ok_or_else(|| Error::ServiceNotFound {
                    service: name.clone(),
                    searched: files
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            for (name, value, origin) in entry.settings {
                params.set_if_absent(keyword(&name, &origin)?, value, &origin);
            }
        }

        for (key, var) in KEYWORDS {
            if let Some(var) = var
                && let Some(value) = env.get(var)
            {
                params.set_if_absent(key, value.to_string(), var);
            }
        }

        ConnectionSpec::from_params(&params, service, env)
    }

    /// Checks the gathered settings and fills in libpq's defaults and the password file.
    fn from_params(
        params: &Params,
        service: Option<String>,
        env: &Environment,
    ) -> Result<ConnectionSpec> {
        let hostaddr = checked_hostaddr(params)?;
        let host = match params.value("host") {
            Some(host) => host.to_string(),
            None if hostaddr.is_some() => String::new(),
            None => default_socket_dir(),
        };
        let port = checked_port(params)?;
        let user = user_name(params, env)?;
        let dbname = params.value("dbname").unwrap_or(&user).to_string();
        let sslmode = checked_sslmode(params)?;
        let connect_timeout = connect_timeout(params)?;

        let application_name = params
            .value("application_name")
            .or_else(|| params.value("fallback_application_name"))
            .map(str::to_string);

        let password = params.value("password").map(str::to_string);
        let mut warnings = Vec::new();
        let passfile = if password.is_none() {
            password_file(params, env, &mut warnings)
        } else {
            None
        };

        Ok(ConnectionSpec {
            host,
            hostaddr,
            port,
            user,
            dbname,
            password,
            sslmode,
            connect_timeout,
            application_name,
            options: params.value("options").map(str::to_string),
            service,
            passfile,
            warnings,
        })
    }
}

/// The error for an invalid value of `key`, naming where the value came from.
fn invalid(params: &Params, key: &str, message: String) -> Error {
    let origin = params
        .get(key)
        .map(|s| s.origin.clone())
        .unwrap_or_default();
    Error::ConnectionSetting { origin, message }
}

/// `hostaddr`, once every comma-separated entry is checked to be an IP address.
fn checked_hostaddr(params: &Params) -> Result<Option<String>> {
    let hostaddr = params.value("hostaddr").map(str::to_string);
    if let Some(addrs) = &hostaddr {
        for addr in addrs.split(',') {
            addr.trim().parse::<IpAddr>().map_err(|_| {
                invalid(
                    params,
                    "hostaddr",
                    format!("invalid hostaddr {}: not an IP address", shown(addr)),
                )
            })?;
        }
    }
    Ok(hostaddr)
}

/// `port` (5432 by default), once every comma-separated entry is checked to be a port.
fn checked_port(params: &Params) -> Result<String> {
    let port = params.value("port").unwrap_or("5432").to_string();
    for p in port.split(',') {
        match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => {
                return Err(invalid(
                    params,
                    "port",
                    format!("invalid port {}", shown(p)),
                ));
            }
        }
    }
    Ok(port)
}

/// `user`, else the operating system's user, else `$USER`.
fn user_name(params: &Params, env: &Environment) -> Result<String> {
    match params.value("user") {
        Some(user) => Ok(user.to_string()),
        None => crate::os_user::current_name()
            .or_else(|| env.get("USER").map(str::to_string))
            .ok_or_else(|| Error::ConnectionSetting {
                origin: "user".into(),
                message: "cannot tell which user to connect as; set PGUSER or user=".into(),
            }),
    }
}

/// `sslmode` (`prefer` by default), once checked to be one libpq knows.
fn checked_sslmode(params: &Params) -> Result<String> {
    let sslmode = params.value("sslmode").unwrap_or("prefer").to_string();
    if !SSL_MODES.contains(&sslmode.as_str()) {
        return Err(invalid(
            params,
            "sslmode",
            format!(
                "invalid sslmode {} (one of {})",
                shown(&sslmode),
                SSL_MODES.join(", ")
            ),
        ));
    }
    Ok(sslmode)
}

/// `connect_timeout` as libpq reads it: none or ≤ 0 is the default, at least 2 s.
fn connect_timeout(params: &Params) -> Result<Duration> {
    Ok(match params.value("connect_timeout") {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(secs) if secs <= 0 => DEFAULT_CONNECT_TIMEOUT,
            // libpq never waits less than 2 s.
            Ok(secs) => Duration::from_secs(secs.max(2) as u64),
            Err(_) => {
                return Err(invalid(
                    params,
                    "connect_timeout",
                    format!(
                        "invalid connect_timeout {}: not a whole number of seconds",
                        shown(text)
                    ),
                ));
            }
        },
    })
}

/// The password file `passfile` names, else `~/.pgpass`, loaded (its problems go to
/// `warnings`).
fn password_file(
    params: &Params,
    env: &Environment,
    warnings: &mut Vec<String>,
) -> Option<PassFile> {
    params
        .value("passfile")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|h| h.join(".pgpass")))
        .map(|path| PassFile::load(&path, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::tests::{base_env, write};

    #[test]
    fn keyword_string_wins_over_service_which_wins_over_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "services.conf",
            "[prod]\nhost=svc-host\nport=6000\ndbname=svc-db\nuser=svc-user\n",
        );
        let env = base_env(dir.path())
            .set("PGSERVICEFILE", file.display().to_string())
            .set("PGHOST", "env-host")
            .set("PGPORT", "7000")
            .set("PGAPPNAME", "env-app");
        let spec = ConnectionSpec::resolve_with("service=prod dbname=given", &env).unwrap();
        assert_eq!(spec.dbname(), "given");
        assert_eq!(spec.host(), "svc-host");
        assert_eq!(spec.port(), "6000");
        assert_eq!(spec.user(), "svc-user");
        assert_eq!(spec.application_name.as_deref(), Some("env-app"));
        assert_eq!(spec.service(), Some("prod"));
    }

    #[test]
    fn bare_name_is_a_service_and_pgservice_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pg_service.conf",
            "[a]\ndbname=from-a\n[b]\ndbname=from-b\n",
        );
        let env = base_env(dir.path()).set("PGUSER", "u");
        assert_eq!(
            ConnectionSpec::resolve_with("a", &env).unwrap().dbname(),
            "from-a"
        );
        let env = env.set("PGSERVICE", "b");
        assert_eq!(
            ConnectionSpec::resolve_with("", &env).unwrap().dbname(),
            "from-b"
        );
        assert_eq!(
            ConnectionSpec::resolve_with("postgresql:///x", &env)
                .unwrap()
                .dbname(),
            "x"
        );
    }

    #[test]
    fn home_service_file_is_searched_before_the_system_one() {
        let home = tempfile::tempdir().unwrap();
        let sys = tempfile::tempdir().unwrap();
        write(home.path(), ".pg_service.conf", "[s]\ndbname=home\n");
        write(
            sys.path(),
            "pg_service.conf",
            "[s]\ndbname=system\n[t]\ndbname=sys-t\n",
        );
        let env = base_env(sys.path())
            .set("HOME", home.path().display().to_string())
            .set("PGUSER", "u");
        assert_eq!(
            ConnectionSpec::resolve_with("s", &env).unwrap().dbname(),
            "home"
        );
        assert_eq!(
            ConnectionSpec::resolve_with("t", &env).unwrap().dbname(),
            "sys-t"
        );
    }

    #[test]
    fn url_can_name_a_service() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pg_service.conf", "[s]\nhost=/sock\nuser=svc\n");
        let env = base_env(dir.path());
        let spec = ConnectionSpec::resolve_with("postgresql:///app?service=s", &env).unwrap();
        assert_eq!(
            (spec.host(), spec.user(), spec.dbname()),
            ("/sock", "svc", "app")
        );
    }

    #[test]
    fn missing_service_lists_the_files_searched() {
        let dir = tempfile::tempdir().unwrap();
        let env = base_env(dir.path()).set("PGSERVICEFILE", "/nonexistent/services");
        let err = ConnectionSpec::resolve_with("nope", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "service \"nope\" not found (searched: /nonexistent/services, {}/pg_service.conf)",
                dir.path().display()
            )
        );
    }

    #[test]
    fn bad_values_name_their_origin() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "s.conf", "[s]\n\nport=abc\n");
        let env = base_env(dir.path()).set("PGSERVICEFILE", file.display().to_string());
        let err = ConnectionSpec::resolve_with("s", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("service file {}:3: invalid port \"abc\"", file.display())
        );

        let env = base_env(dir.path()).set("PGCONNECT_TIMEOUT", "soon");
        let err = ConnectionSpec::resolve_with("", &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "PGCONNECT_TIMEOUT: invalid connect_timeout \"soon\": not a whole number of seconds"
        );

        let err = ConnectionSpec::resolve_with("host=h sslmode=maybe", &base_env(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("connection string: invalid sslmode \"maybe\""),
            "{err}"
        );

        let err = ConnectionSpec::resolve_with("host=h colour=blue", &base_env(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "connection string: unknown or unsupported connection option \"colour\""
            ),
            "{err}"
        );

        let err = ConnectionSpec::resolve_with("hostaddr=not-an-ip", &base_env(dir.path()))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "connection string: invalid hostaddr \"not-an-ip\": not an IP address"
        );

        let file = write(dir.path(), "t.conf", "[t]\nsslcert=/x\n");
        let env = base_env(dir.path()).set("PGSERVICEFILE", file.display().to_string());
        let err = ConnectionSpec::resolve_with("t", &env)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "service file {}:2: unknown or unsupported connection option \"sslcert\"",
                file.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn defaults_fill_what_nobody_set() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ConnectionSpec::resolve_with("user=alice", &base_env(dir.path())).unwrap();
        assert_eq!(spec.port(), "5432");
        assert_eq!(spec.dbname(), "alice");
        assert_eq!(spec.host(), default_socket_dir());
        assert_eq!(spec.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
    }

    #[test]
    fn connect_timeout_zero_still_has_a_timeout_and_one_means_two() {
        let dir = tempfile::tempdir().unwrap();
        let env = base_env(dir.path());
        let zero = ConnectionSpec::resolve_with("user=u connect_timeout=0", &env).unwrap();
        assert_eq!(zero.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
        let one = ConnectionSpec::resolve_with("user=u connect_timeout=1", &env).unwrap();
        assert_eq!(one.connect_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn mistyped_urls_are_not_service_names_and_are_not_echoed() {
        let dir = tempfile::tempdir().unwrap();
        for input in [
            "postgresq://me:hunter2@host/db",
            "me:hunter2@host/db",
            "pos'/t&0mpgresT//me:hunter2xyz@host:5433,other/d",
            "postgrreesql://me:hunter2xyz@hostpassword=x",
            "host=h me:hunter2@x=1",
        ] {
            let err = ConnectionSpec::resolve_with(input, &base_env(dir.path()))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("hunter2"), "{input}: {err}");
        }
    }
}
