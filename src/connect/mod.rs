//! libpq-compatible connection settings.
//!
//! A user names a database the way they would for `psql`: a service name
//! (`-p tww_prod`), a URL (`postgresql://me@db.example.org/tww`) or a keyword string
//! (`host=/var/run/postgresql dbname=tww`). [`ConnectionSpec::resolve`] turns that into
//! complete settings exactly as libpq would:
//!
//! 1. settings written in the string itself;
//! 2. then, for settings still unset, the service named by `service=` (or the bare name,
//!    or `PGSERVICE`), looked up in `PGSERVICEFILE` (default `~/.pg_service.conf`), then in
//!    `PGSYSCONFDIR/pg_service.conf` (default `/etc/postgresql-common/pg_service.conf`);
//!    the first file holding the service wins;
//! 3. then the environment: `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//!    `PGDATABASE`, `PGSSLMODE`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`, `PGOPTIONS`,
//!    `PGPASSFILE`;
//! 4. then defaults: the socket directory `/var/run/postgresql` (or `/tmp` where that does
//!    not exist), port 5432, the operating-system user name, a database named after the user;
//! 5. and if no password was given, the first matching line of the password file
//!    (`PGPASSFILE` or `~/.pgpass`), which is ignored with a warning unless its mode is 0600
//!    or stricter.
//!
//! Unlike libpq, a connection always has a timeout: `connect_timeout` defaults to 10 s,
//! and `0` (which means "wait forever" to libpq) also means 10 s. The timeout covers the
//! whole connection start-up, not only opening the socket.
//!
//! TLS is not built in: `sslmode` `disable`, `allow` and `prefer` connect without TLS;
//! `require`, `verify-ca` and `verify-full` fail with a clear error instead of silently
//! connecting in clear text.

mod conninfo;
mod environment;
mod pgpass;
mod resolve;
mod service;
mod session;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use environment::Environment;
use pgpass::PassFile;

pub(crate) use conninfo::{percent_encode, quote_keyword_value};

#[cfg(fuzzing)]
pub(crate) fn fuzz_service(text: &str, name: &str, file: &Path) -> crate::error::Result<bool> {
    Ok(service::parse_service(text, name, file)?.is_some())
}

#[cfg(fuzzing)]
pub(crate) fn fuzz_pgpass(text: &str) {
    pgpass::fuzz(text);
}

/// One place a session can be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A Unix socket file.
    Unix(PathBuf),
    /// A host name or address, and a port.
    Tcp(String, u16),
}

/// The connect timeout used when none is configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Every environment variable a child process could read its connection from; all are
/// cleared before pum sets its own, so nothing stale leaks into `pg_dump` and friends.
const CHILD_VARIABLES: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGPASSFILE",
];

/// Complete, resolved settings for connecting to one database.
///
/// Built by [`ConnectionSpec::resolve`]; turned into a live session by
/// [`ConnectionSpec::connect`], into a `postgres::Config` by [`ConnectionSpec::config`],
/// and handed to child processes (`pg_dump`) as environment variables by
/// [`ConnectionSpec::apply_to`], never as a command-line argument. `Display` and `Debug`
/// mask the password.
#[derive(Clone)]
pub struct ConnectionSpec {
    host: String,
    hostaddr: Option<String>,
    port: String,
    user: String,
    dbname: String,
    password: Option<String>,
    sslmode: String,
    connect_timeout: Duration,
    application_name: Option<String>,
    options: Option<String>,
    service: Option<String>,
    passfile: Option<PassFile>,
    warnings: Vec<String>,
}

impl ConnectionSpec {
    /// Settings for a server listening on a Unix socket in `socket_dir`, with no password.
    pub fn unix_socket(socket_dir: &Path, port: u16, user: &str, dbname: &str) -> ConnectionSpec {
        ConnectionSpec {
            host: socket_dir.display().to_string(),
            hostaddr: None,
            port: port.to_string(),
            user: user.to_string(),
            dbname: dbname.to_string(),
            password: None,
            sslmode: "disable".to_string(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: None,
            options: None,
            service: None,
            passfile: None,
            warnings: Vec::new(),
        }
    }

    /// The same settings for another database on the same server.
    pub fn with_dbname(&self, dbname: &str) -> ConnectionSpec {
        ConnectionSpec {
            dbname: dbname.to_string(),
            ..self.clone()
        }
    }

    /// The same settings as another user, with `password` (or none).
    pub fn with_user(&self, user: &str, password: Option<&str>) -> ConnectionSpec {
        ConnectionSpec {
            user: user.to_string(),
            password: password.map(str::to_string),
            ..self.clone()
        }
    }

    /// The same settings with another connect timeout.
    pub fn with_connect_timeout(&self, timeout: Duration) -> ConnectionSpec {
        ConnectionSpec {
            connect_timeout: timeout,
            ..self.clone()
        }
    }

    /// Host name(s) or socket directory(ies), comma-separated as in libpq.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port(s), comma-separated as in libpq.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The service these settings were read from, if any.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// The connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Problems noticed while resolving that did not prevent it (an ignored password file,
    /// a skipped malformed line). The CLI prints them; library users may log them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Where to connect, in libpq's order: each host (a socket directory or a name) with
    /// its port (the last port serving the hosts beyond the list), `hostaddr` standing in
    /// for a host's address.
    pub(crate) fn endpoints(&self) -> Vec<Endpoint> {
        let ports: Vec<u16> = self
            .port
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let port_of = |i: usize| ports.get(i).or(ports.last()).copied().unwrap_or(5432);
        let addrs: Vec<&str> = self
            .hostaddr
            .iter()
            .flat_map(|a| a.split(','))
            .map(str::trim)
            .collect();
        let hosts: Vec<&str> = self
            .host
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let count = hosts.len().max(addrs.len()).max(1);
        (0..count)
            .map(|i| {
                let port = port_of(i);
                match (addrs.get(i), hosts.get(i)) {
                    (Some(addr), _) => Endpoint::Tcp(addr.to_string(), port),
                    (None, Some(host)) if host.starts_with('/') => {
                        Endpoint::Unix(Path::new(host).join(format!(".s.PGSQL.{port}")))
                    }
                    (None, Some(host)) => Endpoint::Tcp(host.to_string(), port),
                    (None, None) => Endpoint::Unix(
                        Path::new(&default_socket_dir()).join(format!(".s.PGSQL.{port}")),
                    ),
                }
            })
            .collect()
    }

    /// `application_name`, if set.
    pub(crate) fn application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// `options` (`-c name=value …`), if set.
    pub(crate) fn options(&self) -> Option<&str> {
        self.options.as_deref()
    }

    /// The password to send: the configured one, else the password file's first match.
    pub(crate) fn effective_password(&self) -> Option<&str> {
        if let Some(password) = &self.password {
            return Some(password);
        }
        let passfile = self.passfile.as_ref()?;
        let first = |list: &str| list.split(',').next().unwrap_or("").trim().to_string();
        let mut host = first(&self.host);
        if host.is_empty() {
            host = self.hostaddr.as_deref().map(first).unwrap_or_default();
        }
        // libpq matches the default socket directory as "localhost".
        if host.starts_with('/') && host == default_socket_dir() {
            host = "localhost".to_string();
        }
        passfile.lookup(&host, &first(&self.port), &self.dbname, &self.user)
    }

    /// A URL for other tools (`psql "$URL"`, sqlx, diesel): host, port, user and
    /// database, never the password (libpq finds it in `PGPASSWORD` or `.pgpass`). One
    /// TCP host is written in the URL's authority (`postgresql://me@db.example:5432/app`);
    /// a socket directory or several hosts go in the query, after `localhost` in the
    /// authority (which the query's `host` overrides, for libpq and sqlx alike; a URL with
    /// an empty host is one sqlx refuses).
    pub fn url(&self) -> String {
        let single_tcp = !self.host.is_empty()
            && !self.host.starts_with('/')
            && !self.host.contains(',')
            && !self.port.contains(',');
        let mut url = if single_tcp {
            let host = if self.host.contains(':') {
                format!("[{}]", self.host)
            } else {
                percent_encode(&self.host)
            };
            format!(
                "postgresql://{}@{host}:{}/{}",
                percent_encode(&self.user),
                percent_encode(&self.port),
                percent_encode(&self.dbname)
            )
        } else {
            format!(
                "postgresql://{}@localhost/{}?host={}&port={}",
                percent_encode(&self.user),
                percent_encode(&self.dbname),
                percent_encode(&self.host),
                percent_encode(&self.port)
            )
        };
        if let Some(addr) = &self.hostaddr {
            let separator = if url.contains('?') { '&' } else { '?' };
            url.push_str(&format!("{separator}hostaddr={}", percent_encode(addr)));
        }
        url
    }

    /// The `PG*` variables a libpq program needs to reach this database, password included
    /// (as `PGPASSWORD`) when there is one.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("PGHOST", self.host.clone()),
            ("PGPORT", self.port.clone()),
            ("PGUSER", self.user.clone()),
            ("PGDATABASE", self.dbname.clone()),
            ("PGSSLMODE", self.sslmode.clone()),
            (
                "PGCONNECT_TIMEOUT",
                self.connect_timeout.as_secs().max(2).to_string(),
            ),
        ];
        let optional = [
            ("PGHOSTADDR", self.hostaddr.clone()),
            ("PGPASSWORD", self.effective_password().map(str::to_string)),
            ("PGAPPNAME", self.application_name.clone()),
            ("PGOPTIONS", self.options.clone()),
        ];
        vars.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
        vars
    }

    /// Points a child process (`pg_dump`, `psql`…) at this database through its
    /// environment, after clearing every `PG*` connection variable it inherited.
    pub fn apply_to(&self, command: &mut Command) {
        for var in CHILD_VARIABLES {
            command.env_remove(var);
        }
        command.envs(self.child_env());
    }
}

/// The service file of this user (`PGSERVICEFILE`, else `~/.pg_service.conf`), if any.
#[cfg(unix)]
pub(crate) fn personal_service_file() -> Option<std::path::PathBuf> {
    environment::Environment::from_process()
        .service_files()
        .into_iter()
        .next()
        .filter(|path| path.is_file())
}

/// libpq's default socket directory on Debian, or the upstream default where that is absent.
fn default_socket_dir() -> String {
    if Path::new("/var/run/postgresql").is_dir() {
        "/var/run/postgresql".to_string()
    } else {
        "/tmp".to_string()
    }
}

impl fmt::Display for ConnectionSpec {
    /// A keyword string a human can read; the password is shown as `********`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(service) = &self.service {
            write!(f, "service={} ", quote_keyword_value(service))?;
        }
        if !self.host.is_empty() {
            write!(f, "host={} ", quote_keyword_value(&self.host))?;
        }
        if let Some(addr) = &self.hostaddr {
            write!(f, "hostaddr={addr} ")?;
        }
        write!(
            f,
            "port={} user={} dbname={}",
            self.port,
            quote_keyword_value(&self.user),
            quote_keyword_value(&self.dbname)
        )?;
        if self.password.is_some() {
            write!(f, " password=********")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionSpec")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("sslmode", &self.sslmode)
            .field("connect_timeout", &self.connect_timeout)
            .field("service", &self.service)
            .field("passfile", &self.passfile.as_ref().and_then(|p| p.path()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    pub(super) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(super) fn base_env(dir: &Path) -> Environment {
        // An empty system configuration directory so the machine's own files never count.
        Environment::empty().set("PGSYSCONFDIR", dir.display().to_string())
    }

    #[cfg(unix)]
    #[test]
    fn password_comes_from_pgpass_when_not_given() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let pass = write(
            dir.path(),
            "pgpass",
            "otherhost:*:*:*:wrong\n/sock:5433:app:me:from\\:file\n",
        );
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let env = base_env(dir.path()).set("PGPASSFILE", pass.display().to_string());
        let spec =
            ConnectionSpec::resolve_with("host=/sock port=5433 dbname=app user=me", &env).unwrap();
        assert_eq!(spec.effective_password(), Some("from:file"));
        assert!(
            spec.child_env()
                .contains(&("PGPASSWORD", "from:file".to_string()))
        );
        // The lookup follows the database actually used.
        assert_eq!(spec.with_dbname("other").effective_password(), None);
        // An explicit password wins.
        let spec = ConnectionSpec::resolve_with(
            "host=/sock port=5433 dbname=app user=me password=given",
            &env,
        )
        .unwrap();
        assert_eq!(spec.effective_password(), Some("given"));
    }

    #[test]
    fn display_and_debug_mask_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ConnectionSpec::resolve_with(
            "postgresql://me:hunter2@db.example.org/app",
            &base_env(dir.path()),
        )
        .unwrap();
        let shown = spec.to_string();
        assert_eq!(
            shown,
            "host=db.example.org port=5432 user=me dbname=app password=********"
        );
        assert!(!format!("{spec:?}").contains("hunter2"));
    }

    #[test]
    fn child_environment_clears_inherited_connection_variables() {
        let dir = tempfile::tempdir().unwrap();
        let spec =
            ConnectionSpec::resolve_with("host=/s port=1 user=u dbname=d", &base_env(dir.path()))
                .unwrap();
        let mut command = Command::new("true");
        command.env("PGSERVICE", "stale").env("PGPASSWORD", "stale");
        spec.apply_to(&mut command);
        let envs: BTreeMap<String, Option<String>> = command
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert_eq!(envs["PGSERVICE"], None);
        assert_eq!(envs["PGPASSWORD"], None);
        assert_eq!(envs["PGHOST"].as_deref(), Some("/s"));
        assert_eq!(envs["PGDATABASE"].as_deref(), Some("d"));
    }

    #[test]
    fn url_round_trips_without_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ConnectionSpec::resolve_with(
            "host='/tmp/a dir' port=5433 user='me too' dbname='my db' password=secret",
            &base_env(dir.path()),
        )
        .unwrap();
        let url = spec.url();
        // The authority's localhost is for URL parsers that refuse an empty host (sqlx):
        // the query's host overrides it.
        assert_eq!(
            url,
            "postgresql://me%20too@localhost/my%20db?host=/tmp/a%20dir&port=5433"
        );
        let back = ConnectionSpec::resolve_with(&url, &base_env(dir.path())).unwrap();
        assert_eq!(
            (back.host(), back.port(), back.user(), back.dbname()),
            ("/tmp/a dir", "5433", "me too", "my db")
        );
        assert_eq!(back.password, None);

        for (given, expected, host) in [
            (
                "host=db.example port=6432 user=me dbname=app",
                "postgresql://me@db.example:6432/app",
                "db.example",
            ),
            (
                "host=::1 port=5432 user=me dbname=app",
                "postgresql://me@[::1]:5432/app",
                "::1",
            ),
            (
                "host=a,b port=5432 user=me dbname=app",
                "postgresql://me@localhost/app?host=a%2Cb&port=5432",
                "a,b",
            ),
        ] {
            let spec = ConnectionSpec::resolve_with(given, &base_env(dir.path())).unwrap();
            assert_eq!(spec.url(), expected);
            let back = ConnectionSpec::resolve_with(expected, &base_env(dir.path())).unwrap();
            assert_eq!(
                (back.host(), back.user(), back.dbname()),
                (host, "me", "app")
            );
        }
    }
}
