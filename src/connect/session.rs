//! Connecting: a `postgres::Config` from resolved settings, and a session opened within
//! the connect timeout, whatever the server does.

use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use super::ConnectionSpec;
use crate::error::{Error, Result, describe_pg_error};

impl ConnectionSpec {
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
        // Sessions say they are pum's (pg_stat_activity), unless told otherwise.
        config.application_name(self.application_name.as_deref().unwrap_or("pum"));
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
                message: explain_connect_error(self, &e),
                code: e.code().map(|c| c.code().to_string()),
            }),
            Err(_) => Err(Error::ConnectTimeout {
                target: self.to_string(),
                timeout: self.connect_timeout,
            }),
        }
    }
}

/// The reason a connection failed, with a hint when the client had no password to give.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl ConnectionSpec {
    /// A `tokio_postgres::Config` with every setting applied (as [`ConnectionSpec::config`]).
    ///
    /// # Errors
    /// As [`ConnectionSpec::config`].
    pub fn async_config(&self) -> Result<tokio_postgres::Config> {
        let sync = self.config()?;
        let mut config = tokio_postgres::Config::new();
        for host in sync.get_hosts() {
            match host {
                postgres::config::Host::Tcp(name) => config.host(name),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => config.host_path(path),
            };
        }
        for addr in sync.get_hostaddrs() {
            config.hostaddr(*addr);
        }
        for port in sync.get_ports() {
            config.port(*port);
        }
        if let Some(user) = sync.get_user() {
            config.user(user);
        }
        if let Some(password) = sync.get_password() {
            config.password(password);
        }
        if let Some(dbname) = sync.get_dbname() {
            config.dbname(dbname);
        }
        if let Some(options) = sync.get_options() {
            config.options(options);
        }
        if let Some(name) = sync.get_application_name() {
            config.application_name(name);
        }
        if let Some(timeout) = sync.get_connect_timeout() {
            config.connect_timeout(*timeout);
        }
        config.ssl_mode(sync.get_ssl_mode());
        Ok(config)
    }

    /// Opens a tokio-postgres session (its connection driven by a task spawned on the
    /// current tokio runtime), giving up after the connect timeout for each host tried.
    ///
    /// # Errors
    /// As [`ConnectionSpec::connect`].
    pub async fn connect_async(&self) -> Result<tokio_postgres::Client> {
        let config = self.async_config()?;
        let hosts = self
            .host
            .split(',')
            .filter(|h| !h.is_empty())
            .count()
            .max(1) as u32;
        let deadline = self.connect_timeout * hosts + Duration::from_millis(500);
        let timed_out = || Error::ConnectTimeout {
            target: self.to_string(),
            timeout: self.connect_timeout,
        };
        match tokio::time::timeout(deadline, config.connect(tokio_postgres::NoTls)).await {
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(client)
            }
            Ok(Err(e)) if is_timeout(&e) => Err(timed_out()),
            Ok(Err(e)) => Err(Error::Connect {
                target: self.to_string(),
                message: explain_connect_error(self, &e),
                code: e.code().map(|c| c.code().to_string()),
            }),
            Err(_) => Err(timed_out()),
        }
    }
}

fn explain_connect_error(spec: &ConnectionSpec, err: &postgres::Error) -> String {
    let text = describe_pg_error(err);
    // Neither the server nor the network refused: the client gave up, and without a
    // password that is (almost always) because the server asked for one.
    if err.as_db_error().is_none() && !is_io(err) && spec.effective_password().is_none() {
        return format!(
            "{text} (no password was given: password=, PGPASSWORD or a matching password file \
             line)"
        );
    }
    text
}

/// Whether the error comes from the network (refused, reset, timed out…).
fn is_io(err: &postgres::Error) -> bool {
    io_kind(err).is_some()
}

fn is_timeout(err: &postgres::Error) -> bool {
    io_kind(err) == Some(std::io::ErrorKind::TimedOut)
}

/// The kind of the I/O error under `err`, if there is one.
fn io_kind(err: &postgres::Error) -> Option<std::io::ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Environment;

    #[test]
    fn tls_modes_are_refused_when_building_a_config() {
        let spec =
            ConnectionSpec::resolve_with("user=u sslmode=require", &Environment::empty()).unwrap();
        let err = spec.config().unwrap_err().to_string();
        assert!(err.contains("sslmode=require needs TLS"), "{err}");
    }
}
