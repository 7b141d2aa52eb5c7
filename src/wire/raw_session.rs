//! [`RawSession`]: a PostgreSQL session pum drives itself, message by message.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{self, ChannelBinding, ScramSha256};
use postgres_protocol::message::backend::{AuthenticationSaslBody, ErrorFields, Message};
use postgres_protocol::message::frontend;

use super::{ServerError, Sql, TextRow};
use crate::connect::{ConnectionSpec, Endpoint};
use crate::error::{Error, Result};

/// The byte stream under a session.
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    /// Another handle on the same connection (for a reader thread).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            #[cfg(unix)]
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(timeout),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(timeout),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(timeout),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(unix)]
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// One whole protocol message: its tag, and its bytes (tag and length included).
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Frame {
    pub tag: u8,
    pub bytes: BytesMut,
}

impl Frame {
    /// The message, parsed.
    pub(crate) fn parse(&self) -> std::io::Result<Message> {
        let mut bytes = self.bytes.clone();
        Message::parse(&mut bytes)?.ok_or_else(|| std::io::Error::other("an incomplete message"))
    }
}

/// Reads one message (1-byte tag, 4-byte length, body) from `stream`.
pub(crate) fn read_frame(stream: &mut impl Read) -> std::io::Result<Frame> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if !(4..=1 << 30).contains(&len) {
        return Err(std::io::Error::other(format!("a message of {len} bytes")));
    }
    let mut bytes = BytesMut::zeroed(1 + len);
    bytes[..5].copy_from_slice(&header);
    stream.read_exact(&mut bytes[5..])?;
    Ok(Frame {
        tag: header[0],
        bytes,
    })
}

/// A session pum drives itself (see the module docs).
pub(crate) struct RawSession {
    pub(crate) stream: Stream,
    /// What the server reported at start-up (`server_version`, `DateStyle`…).
    parameters: Vec<(String, String)>,
    /// The transaction status of the last ReadyForQuery: `I`dle, in `T`ransaction, `E`rror.
    status: u8,
    broken: bool,
    /// What it connected with (for the connections relayed to it).
    spec: ConnectionSpec,
}

impl RawSession {
    /// Connects and authenticates as `spec` says, within its connect timeout.
    ///
    /// # Errors
    /// [`Error::Connect`] (with the SQLSTATE when the server refused),
    /// [`Error::ConnectTimeout`].
    pub(crate) fn connect(spec: &ConnectionSpec) -> Result<RawSession> {
        // The settings this session cannot honour (sslmode=require: no TLS) are refused
        // as for every other session.
        spec.config()?;
        let timeout = spec.connect_timeout();
        let mut last = None;
        for endpoint in spec.endpoints() {
            let started = Instant::now();
            match open(&endpoint, timeout).and_then(|stream| {
                let mut session = RawSession {
                    spec: spec.clone(),
                    stream,
                    parameters: Vec::new(),
                    status: b'I',
                    broken: false,
                };
                session.start(spec, timeout)?;
                Ok(session)
            }) {
                Ok(session) => return Ok(session),
                Err(Failure::Refused(e)) => {
                    return Err(Error::Connect {
                        target: spec.to_string(),
                        message: e.text(),
                        code: e.code,
                    });
                }
                Err(Failure::Io(e)) => {
                    let timed_out = matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) || started.elapsed() >= timeout;
                    last = Some((e, timed_out));
                }
                Err(Failure::Auth(message)) => {
                    return Err(Error::Connect {
                        target: spec.to_string(),
                        message,
                        code: None,
                    });
                }
            }
        }
        Err(match last {
            Some((_, true)) => Error::ConnectTimeout {
                target: spec.to_string(),
                timeout,
            },
            Some((e, false)) => Error::Connect {
                target: spec.to_string(),
                message: e.to_string(),
                code: None,
            },
            None => Error::Connect {
                target: spec.to_string(),
                message: "no host to connect to".into(),
                code: None,
            },
        })
    }

    /// The start-up: the startup message, authentication, the server's parameters, until
    /// the server is ready for queries.
    fn start(&mut self, spec: &ConnectionSpec, timeout: Duration) -> Result<(), Failure> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))?;
        self.send_startup(spec)?;
        let password = spec.effective_password().map(str::as_bytes);
        let mut scram: Option<ScramSha256> = None;
        loop {
            let frame = read_frame(&mut self.stream)?;
            match frame.parse()? {
                Message::ParameterStatus(body) => {
                    self.parameters
                        .push((body.name()?.to_string(), body.value()?.to_string()));
                }
                Message::BackendKeyData(_) | Message::NoticeResponse(_) => {}
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    // Statements may take as long as they take.
                    self.stream.set_read_timeout(None)?;
                    self.stream.set_write_timeout(None)?;
                    return Ok(());
                }
                Message::ErrorResponse(body) => {
                    return Err(Failure::Refused(server_error(body.fields())?));
                }
                message => self.authenticate(message, spec.user(), password, &mut scram)?,
            }
        }
    }

    /// Sends the startup message: the user, the database and the session's settings.
    fn send_startup(&mut self, spec: &ConnectionSpec) -> Result<(), Failure> {
        let mut params = vec![
            ("user", spec.user()),
            ("database", spec.dbname()),
            ("application_name", spec.application_name().unwrap_or("pum")),
            ("client_encoding", "UTF8"),
        ];
        if let Some(options) = spec.options() {
            params.push(("options", options));
        }
        let mut buf = BytesMut::new();
        frontend::startup_message(params, &mut buf)?;
        self.send(&buf)?;
        Ok(())
    }

    /// Answers one authentication message of the start-up (`scram` keeps a SCRAM
    /// exchange between its messages); any other message is a method pum does not support.
    fn authenticate(
        &mut self,
        message: Message,
        user: &str,
        password: Option<&[u8]>,
        scram: &mut Option<ScramSha256>,
    ) -> Result<(), Failure> {
        match message {
            Message::AuthenticationOk => {}
            Message::AuthenticationCleartextPassword => {
                let mut buf = BytesMut::new();
                frontend::password_message(password.ok_or_else(no_password)?, &mut buf)?;
                self.send(&buf)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = postgres_protocol::authentication::md5_hash(
                    user.as_bytes(),
                    password.ok_or_else(no_password)?,
                    body.salt(),
                );
                let mut buf = BytesMut::new();
                frontend::password_message(hash.as_bytes(), &mut buf)?;
                self.send(&buf)?;
            }
            Message::AuthenticationSasl(body) => {
                *scram = Some(self.start_scram(body, password)?);
            }
            Message::AuthenticationSaslContinue(body) => {
                let state = scram
                    .as_mut()
                    .ok_or_else(|| Failure::Auth("an unexpected SASL message".into()))?;
                state.update(body.data())?;
                let mut buf = BytesMut::new();
                frontend::sasl_response(state.message(), &mut buf)?;
                self.send(&buf)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let state = scram
                    .as_mut()
                    .ok_or_else(|| Failure::Auth("an unexpected SASL message".into()))?;
                state.finish(body.data())?;
            }
            _ => {
                return Err(Failure::Auth(
                    "the server asks for an authentication method pum does not support \
                     (GSSAPI, SSPI)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Begins a SCRAM-SHA-256 exchange, when the server offers it among its SASL mechanisms.
    fn start_scram(
        &mut self,
        body: AuthenticationSaslBody,
        password: Option<&[u8]>,
    ) -> Result<ScramSha256, Failure> {
        let mut mechanisms = body.mechanisms();
        let mut offered = false;
        while let Some(mechanism) = mechanisms.next()? {
            offered |= mechanism == sasl::SCRAM_SHA_256;
        }
        if !offered {
            return Err(Failure::Auth(
                "the server asks for a SASL mechanism pum does not know".into(),
            ));
        }
        let state = ScramSha256::new(
            password.ok_or_else(no_password)?,
            ChannelBinding::unsupported(),
        );
        let mut buf = BytesMut::new();
        frontend::sasl_initial_response(sasl::SCRAM_SHA_256, state.message(), &mut buf)?;
        self.send(&buf)?;
        Ok(state)
    }

    fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// What it connected with.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn spec(&self) -> &ConnectionSpec {
        &self.spec
    }

    /// What the server reported at start-up.
    #[cfg(unix)]
    pub(crate) fn parameters(&self) -> &[(String, String)] {
        &self.parameters
    }

    /// The transaction status the server last reported: `I`, `T` or `E`.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn transaction_status(&self) -> u8 {
        self.status
    }

    /// Records the status of a ReadyForQuery passed on by the relay.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn set_transaction_status(&mut self, status: u8) {
        self.status = status;
    }

    /// Marks the connection broken (after an I/O error).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Sends `sql` as one simple query; returns the rows of every statement in it, or the
    /// first error.
    fn query(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        if self.broken {
            return Err(ServerError::lost("it broke earlier"));
        }
        match self.query_inner(sql) {
            Ok(outcome) => outcome,
            Err(Failure::Refused(e)) => Err(e),
            Err(Failure::Auth(m)) => Err(ServerError::lost(m)),
            Err(Failure::Io(e)) => {
                self.broken = true;
                Err(ServerError::lost(e))
            }
        }
    }

    fn query_inner(&mut self, sql: &str) -> Result<Result<Vec<TextRow>, ServerError>, Failure> {
        let mut buf = BytesMut::new();
        frontend::query(sql, &mut buf)?;
        self.send(&buf)?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let frame = read_frame(&mut self.stream)?;
            match frame.parse()? {
                Message::DataRow(body) => {
                    let buffer = body.buffer();
                    let mut row = Vec::new();
                    let mut ranges = body.ranges();
                    while let Some(range) = ranges.next()? {
                        row.push(range.map(|r| String::from_utf8_lossy(&buffer[r]).into_owned()));
                    }
                    rows.push(row);
                }
                Message::ErrorResponse(body) if error.is_none() => {
                    error = Some(server_error(body.fields())?);
                }
                Message::CopyInResponse(_) => {
                    let mut buf = BytesMut::new();
                    frontend::copy_fail(
                        "COPY FROM STDIN needs a client that sends the data, which pum is not",
                        &mut buf,
                    )?;
                    self.send(&buf)?;
                }
                Message::ParameterStatus(body) => {
                    let (name, value) = (body.name()?.to_string(), body.value()?.to_string());
                    self.parameters.retain(|(n, _)| n != &name);
                    self.parameters.push((name, value));
                }
                Message::ReadyForQuery(body) => {
                    self.status = body.status();
                    return Ok(match error {
                        Some(e) => Err(e),
                        None => Ok(rows),
                    });
                }
                // Row descriptions, command tags, notices, COPY OUT data: nothing to keep.
                _ => {}
            }
        }
    }
}

impl Sql for RawSession {
    fn batch(&mut self, sql: &str) -> Result<(), ServerError> {
        self.query(sql).map(drop)
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<TextRow>, ServerError> {
        self.query(sql)
    }
}

impl Drop for RawSession {
    fn drop(&mut self) {
        if !self.broken {
            let mut buf = BytesMut::new();
            frontend::terminate(&mut buf);
            let _ = self.stream.write_all(&buf);
        }
    }
}

/// The failure when the server asks for a password and none was given.
fn no_password() -> Failure {
    Failure::Auth(
        "the server asks for a password and none was given (password=, PGPASSWORD or a \
         matching password file line)"
            .into(),
    )
}

/// Why a start-up or a query did not go through.
enum Failure {
    /// The connection failed.
    Io(std::io::Error),
    /// The server refused (an ErrorResponse).
    Refused(ServerError),
    /// Authentication cannot proceed.
    Auth(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// A ServerError from an ErrorResponse's fields.
pub(crate) fn server_error(mut fields: ErrorFields<'_>) -> std::io::Result<ServerError> {
    let mut error = ServerError::default();
    while let Some(field) = fields.next()? {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => error.code = Some(value),
            b'M' => error.message = value,
            b'D' => error.detail = Some(value),
            b'P' => error.position = value.parse().ok(),
            _ => {}
        }
    }
    Ok(error)
}

/// Opens the byte stream to `endpoint`.
fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Stream, Failure> {
    match endpoint {
        #[cfg(unix)]
        Endpoint::Unix(path) => Ok(Stream::Unix(std::os::unix::net::UnixStream::connect(path)?)),
        #[cfg(not(unix))]
        Endpoint::Unix(_) => Err(Failure::Io(std::io::Error::other(
            "Unix sockets are not available on this system",
        ))),
        Endpoint::Tcp(host, port) => {
            let mut last = std::io::Error::other(format!("{host} has no address"));
            for addr in (host.as_str(), *port).to_socket_addrs()? {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(Stream::Tcp(stream));
                    }
                    Err(e) => last = e,
                }
            }
            Err(Failure::Io(last))
        }
    }
}
