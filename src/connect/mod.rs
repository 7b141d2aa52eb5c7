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
mod pgpass;
mod service;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result, describe_pg_error};
use pgpass::PassFile;

pub(crate) use conninfo::{percent_encode, quote_keyword_value};

/// The connect timeout used when none is configured.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// The environment a connection is resolved in: variables and the home directory.
///
/// [`Environment::from_process`] reads the real one; tests build their own with
/// [`Environment::empty`] and [`Environment::set`] so they never depend on, or change,
/// the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The variables of the current process.
    ///
    /// When `HOME` is unset, the home directory of the account this process runs as
    /// stands in for it (where `~/.pg_service.conf` and `~/.pgpass` are looked for).
    pub fn from_process() -> Environment {
        let mut vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        if !vars.contains_key("HOME")
            && let Some(account) =
                crate::os_user::current_name().and_then(|n| crate::os_user::by_name(&n))
        {
            vars.insert("HOME".into(), account.home.display().to_string());
        }
        Environment { vars }
    }

    /// No variables at all: only explicit settings and built-in defaults apply.
    pub fn empty() -> Environment {
        Environment::default()
    }

    /// Returns the environment with `name` set to `value`.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Environment {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// A variable's value; empty values count as unset, as in libpq.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.get("HOME").map(PathBuf::from)
    }

    /// The service files searched, in order.
    fn service_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        match self.get("PGSERVICEFILE") {
            Some(file) => files.push(PathBuf::from(file)),
            None => files.extend(self.home().map(|h| h.join(".pg_service.conf"))),
        }
        let sysconf = self.get("PGSYSCONFDIR").unwrap_or("/etc/postgresql-common");
        files.push(Path::new(sysconf).join("pg_service.conf"));
        files
    }
}

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
                "unknown or unsupported connection option \"{name}\" (supported: {})",
                KEYWORDS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

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
        } else if input.contains('=') {
            (conninfo::parse_keywords(input)?, "connection string")
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

    fn from_params(
        params: &Params,
        service: Option<String>,
        env: &Environment,
    ) -> Result<ConnectionSpec> {
        let bad = |key: &str, message: String| -> Error {
            let origin = params
                .get(key)
                .map(|s| s.origin.clone())
                .unwrap_or_default();
            Error::ConnectionSetting { origin, message }
        };

        let hostaddr = params.value("hostaddr").map(str::to_string);
        if let Some(addrs) = &hostaddr {
            for addr in addrs.split(',') {
                addr.trim().parse::<IpAddr>().map_err(|_| {
                    bad(
                        "hostaddr",
                        format!("invalid hostaddr \"{addr}\": not an IP address"),
                    )
                })?;
            }
        }
        let host = match params.value("host") {
            Some(host) => host.to_string(),
            None if hostaddr.is_some() => String::new(),
            None => default_socket_dir(),
        };

        let port = params.value("port").unwrap_or("5432").to_string();
        for p in port.split(',') {
            match p.trim().parse::<u16>() {
                Ok(n) if n > 0 => {}
                _ => return Err(bad("port", format!("invalid port \"{p}\""))),
            }
        }

        let user = match params.value("user") {
            Some(user) => user.to_string(),
            None => crate::os_user::current_name()
                .or_else(|| env.get("USER").map(str::to_string))
                .ok_or_else(|| Error::ConnectionSetting {
                    origin: "user".into(),
                    message: "cannot tell which user to connect as; set PGUSER or user=".into(),
                })?,
        };
        let dbname = params.value("dbname").unwrap_or(&user).to_string();

        let sslmode = params.value("sslmode").unwrap_or("prefer").to_string();
        if !SSL_MODES.contains(&sslmode.as_str()) {
            return Err(bad(
                "sslmode",
                format!(
                    "invalid sslmode \"{sslmode}\" (one of {})",
                    SSL_MODES.join(", ")
                ),
            ));
        }

        let connect_timeout = match params.value("connect_timeout") {
            None => DEFAULT_CONNECT_TIMEOUT,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(secs) if secs <= 0 => DEFAULT_CONNECT_TIMEOUT,
                // libpq never waits less than 2 s.
                Ok(secs) => Duration::from_secs(secs.max(2) as u64),
                Err(_) => {
                    return Err(bad(
                        "connect_timeout",
                        format!(
                            "invalid connect_timeout \"{text}\": not a whole number of seconds"
                        ),
                    ));
                }
            },
        };

        let application_name = params
            .value("application_name")
            .or_else(|| params.value("fallback_application_name"))
            .map(str::to_string);

        let password = params.value("password").map(str::to_string);
        let mut warnings = Vec::new();
        let passfile = if password.is_none() {
            params
                .value("passfile")
                .map(PathBuf::from)
                .or_else(|| env.home().map(|h| h.join(".pgpass")))
                .map(|path| PassFile::load(&path, &mut warnings))
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

    /// The password to send: the configured one, else the password file's first match.
    fn effective_password(&self) -> Option<&str> {
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

    /// A `postgres::Config` with every setting applied.
    ///
    /// # Errors
    /// [`Error::ConnectionSetting`] for `sslmode=require`/`verify-*`: pum is built without TLS.
    pub fn config(&self) -> Result<postgres::Config> {
        let mut config = postgres::Config::new();
        for host in self.host.split(',').filter(|h| !h.is_empty()) {
            config.host(host.trim());
        }
        for addr in self.hostaddr.iter().flat_map(|a| a.split(',')) {
            if let Ok(ip) = addr.trim().parse::<IpAddr>() {
                config.hostaddr(ip);
            }
        }
        for port in self.port.split(',') {
            if let Ok(port) = port.trim().parse::<u16>() {
                config.port(port);
            }
        }
        config.user(&self.user).dbname(&self.dbname);
        if let Some(password) = self.effective_password() {
            config.password(password);
        }
        config.ssl_mode(match self.sslmode.as_str() {
            "disable" => postgres::config::SslMode::Disable,
            "allow" | "prefer" => postgres::config::SslMode::Prefer,
            other => {
                return Err(Error::ConnectionSetting {
                    origin: "sslmode".into(),
                    message: format!(
                        "sslmode={other} needs TLS, which this build of pum does not include; \
                         use sslmode=prefer or disable"
                    ),
                });
            }
        });
        config.connect_timeout(self.connect_timeout);
        if let Some(name) = &self.application_name {
            config.application_name(name);
        }
        if let Some(options) = &self.options {
            config.options(options);
        }
        Ok(config)
    }

    /// Opens a session, giving up after the connect timeout (for each host tried).
    ///
    /// # Errors
    /// [`Error::Connect`] with the server's or network's reason (wrong password, unknown
    /// database, connection refused), [`Error::ConnectTimeout`] when nothing answered.
    pub fn connect(&self) -> Result<postgres::Client> {
        let config = self.config()?;
        let hosts = self
            .host
            .split(',')
            .filter(|h| !h.is_empty())
            .count()
            .max(1) as u32;
        // tokio-postgres times out opening the socket only; a server that accepts and then
        // says nothing would hang the start-up, so the whole attempt runs under a deadline.
        let deadline = self.connect_timeout * hosts + Duration::from_millis(500);
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("pum-connect".into())
            .spawn(move || {
                let _ = sender.send(config.connect(postgres::NoTls));
            })
            .map_err(|e| Error::Connect {
                target: self.to_string(),
                message: format!("cannot start a thread: {e}"),
                code: None,
            })?;
        match receiver.recv_timeout(deadline) {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) if is_timeout(&e) => Err(Error::ConnectTimeout {
                target: self.to_string(),
                timeout: self.connect_timeout,
            }),
            Ok(Err(e)) => Err(Error::Connect {
                target: self.to_string(),
                message: explain_connect_error(&e),
                code: e.code().map(|c| c.code().to_string()),
            }),
            Err(_) => Err(Error::ConnectTimeout {
                target: self.to_string(),
                timeout: self.connect_timeout,
            }),
        }
    }

    /// A URL for other tools (`psql "$URL"`): host, port, user and database, never the
    /// password (libpq finds it in `PGPASSWORD` or `.pgpass`).
    pub fn url(&self) -> String {
        let mut url = format!(
            "postgresql://{}@/{}?host={}&port={}",
            percent_encode(&self.user),
            percent_encode(&self.dbname),
            percent_encode(&self.host),
            percent_encode(&self.port)
        );
        if let Some(addr) = &self.hostaddr {
            url.push_str(&format!("&hostaddr={}", percent_encode(addr)));
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

/// The reason a connection failed, in libpq's terms where tokio-postgres is terse.
fn explain_connect_error(err: &postgres::Error) -> String {
    let text = describe_pg_error(err);
    if text.contains("password missing") {
        return "the server asks for a password and none was given (password=, PGPASSWORD \
                or a matching password file line)"
            .to_string();
    }
    text
}

fn is_timeout(err: &postgres::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = e.source();
    }
    false
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
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn base_env(dir: &Path) -> Environment {
        // An empty system configuration directory so the machine's own files never count.
        Environment::empty().set("PGSYSCONFDIR", dir.display().to_string())
    }

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
        assert_eq!(
            url,
            "postgresql://me%20too@/my%20db?host=/tmp/a%20dir&port=5433"
        );
        let back = ConnectionSpec::resolve_with(&url, &base_env(dir.path())).unwrap();
        assert_eq!(
            (back.host(), back.port(), back.user(), back.dbname()),
            ("/tmp/a dir", "5433", "me too", "my db")
        );
        assert_eq!(back.password, None);
    }

    #[test]
    fn tls_modes_are_refused_when_building_a_config() {
        let dir = tempfile::tempdir().unwrap();
        let spec =
            ConnectionSpec::resolve_with("user=u sslmode=require", &base_env(dir.path())).unwrap();
        let err = spec.config().unwrap_err().to_string();
        assert!(err.contains("sslmode=require needs TLS"), "{err}");
    }
}
