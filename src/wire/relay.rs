//! Lending a run's session to a child process: the child connects to a private Unix
//! socket as to a server; pum answers its start-up itself (no password: only this user
//! can reach the socket), then forwards what it sends to the run's session and the
//! session's answers back, so the child's SQL runs inside the run's transaction.
//!
//! Transaction control stays pum's: the child's `BEGIN` and `COMMIT` (psycopg sends them
//! on its own) are answered without reaching the server, since the run's transaction is
//! already open and commits when the run does; a `ROLLBACK`, `PREPARE TRANSACTION` or a
//! transaction statement inside a multi-statement string is refused with an error, which
//! fails the child (to fail the run, a child raises). A child may hold several
//! connections; their queries take turns on the session.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::session::{Frame, read_frame, server_error};
use super::{RawSession, ServerError, Sql};
use crate::changelog::sql::{first_significant, split};
use crate::error::{Error, Result};

/// The port in the socket's name (`.s.PGSQL.5432`).
pub(crate) const PORT: u16 = 5432;

/// SQLSTATE for refused transaction control (invalid_transaction_state).
const INVALID_TRANSACTION_STATE: &str = "25000";

/// A private socket lending a session.
pub(crate) struct Relay {
    dir: tempfile::TempDir,
    listener: UnixListener,
}

impl Relay {
    /// A socket in a new directory only this user can enter.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory or the socket cannot be made.
    pub(crate) fn new() -> Result<Relay> {
        let dir = tempfile::Builder::new()
            .prefix("pum-relay-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(dir.path(), e))?;
        }
        let path = dir.path().join(format!(".s.PGSQL.{PORT}"));
        let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Relay { dir, listener })
    }

    /// The directory holding the socket (libpq's `host`), private to this user.
    pub(crate) fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Serves `child`'s connections with `session` until the child exits, calling `tick`
    /// every few milliseconds; returns the child's exit status and the last error the
    /// server sent the child, if any.
    ///
    /// The child may hold several connections at once: their statements take turns on
    /// the session, a whole query (or extended-protocol sequence up to its Sync) at a
    /// time. When the last connection closes, what it left in the session is cleared
    /// (prepared statements, cursors, settings, LISTENs), as if it had closed its own
    /// session.
    ///
    /// # Errors
    /// [`Error::Io`] when the child cannot be watched; [`Error::Sql`] when the session
    /// broke while relaying.
    pub(crate) fn serve(
        &self,
        session: &mut RawSession,
        child: &mut Child,
        tick: &mut dyn FnMut(),
    ) -> Result<(std::process::ExitStatus, Option<ServerError>)> {
        let (sender, events) = mpsc::channel();
        let mut state = State {
            session,
            clients: Vec::new(),
            events,
            last_error: None,
            used: false,
        };
        let mut exited = None;
        loop {
            loop {
                match self.listener.accept() {
                    Ok((stream, _)) => state.add(stream, &sender),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Error::io(self.dir.path(), e)),
                }
            }
            state.receive(Duration::from_millis(if exited.is_some() { 0 } else { 5 }));
            state.work()?;
            tick();
            if exited.is_none() {
                exited = child
                    .try_wait()
                    .map_err(|e| Error::io("the child process", e))?;
            }
            if let Some(status) = exited {
                // The child is gone: what it sent has arrived (its sockets are closed).
                state.receive(Duration::from_millis(20));
                state.work()?;
                if state.clients.iter().all(|c| c.gone && c.queue.is_empty()) {
                    state.clean()?;
                    return Ok((status, state.last_error));
                }
            }
        }
    }
}

/// One connection of the child.
struct Client {
    /// Where answers go.
    writer: UnixStream,
    /// Frames received, not yet handled.
    queue: VecDeque<Frame>,
    /// In the middle of an extended-protocol sequence (its Sync not yet handled): the
    /// session is this client's until then.
    in_sequence: bool,
    /// After a refused message: frames are dropped up to the next Sync.
    skipping: bool,
    /// The connection has closed.
    gone: bool,
}

enum Event {
    Frame(usize, Frame),
    Gone(usize),
}

/// The relay at work.
struct State<'s> {
    session: &'s mut RawSession,
    clients: Vec<Client>,
    events: mpsc::Receiver<Event>,
    last_error: Option<ServerError>,
    /// Whether any connection used the session (then it is cleared at the end).
    used: bool,
}

impl State<'_> {
    /// Takes a new connection: a thread answers its start-up, then reads its messages.
    fn add(&mut self, stream: UnixStream, sender: &mpsc::Sender<Event>) {
        let _ = stream.set_nonblocking(false);
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        let id = self.clients.len();
        self.clients.push(Client {
            writer,
            queue: VecDeque::new(),
            in_sequence: false,
            skipping: false,
            gone: false,
        });
        let parameters = self.session.parameters().to_vec();
        let sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name("pum-relay".into())
            .spawn(move || {
                let mut stream = stream;
                if start(&parameters, &mut stream).is_ok() {
                    while let Ok(frame) = read_frame(&mut stream) {
                        let last = frame.tag == b'X';
                        if sender.send(Event::Frame(id, frame)).is_err() || last {
                            break;
                        }
                    }
                }
                let _ = sender.send(Event::Gone(id));
            });
        if spawned.is_err() {
            self.clients[id].gone = true;
        }
    }

    /// Moves what arrived (waiting at most `wait` for the first) into the queues.
    fn receive(&mut self, wait: Duration) {
        let mut next = self.events.recv_timeout(wait).ok();
        while let Some(event) = next {
            match event {
                Event::Frame(id, frame) => self.clients[id].queue.push_back(frame),
                Event::Gone(id) => self.clients[id].gone = true,
            }
            next = self.events.try_recv().ok();
        }
    }

    /// Handles queued frames: the client holding the session first, then the others in
    /// turn.
    fn work(&mut self) -> Result<()> {
        loop {
            let holder = self.clients.iter().position(|c| c.in_sequence);
            let next = match holder {
                Some(id) => (!self.clients[id].queue.is_empty()).then_some(id),
                None => self.clients.iter().position(|c| !c.queue.is_empty()),
            };
            let Some(id) = next else {
                break;
            };
            let Some(frame) = self.clients[id].queue.pop_front() else {
                break;
            };
            match self.handle(id, &frame) {
                Ok(()) => {}
                Err(Broken::Client) => {
                    let client = &mut self.clients[id];
                    client.gone = true;
                    client.queue.clear();
                    if client.in_sequence {
                        // Its sequence has no Sync coming: end it for the server.
                        client.in_sequence = false;
                        self.sync_for_lost_client()?;
                    }
                }
                Err(Broken::Server(e)) => {
                    self.session.mark_broken();
                    return Err(Error::Sql {
                        context: "relay the session to a child process".into(),
                        message: e.describe(),
                        code: None,
                    });
                }
            }
        }
        if self.used && self.clients.iter().all(|c| c.gone && c.queue.is_empty()) {
            self.clean()?;
        }
        Ok(())
    }

    /// Clears what the child's connections left in the session.
    fn clean(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.used) {
            return Ok(());
        }
        if self.session.transaction_status() == b'E' {
            // A failed transaction refuses everything; the run fails anyway.
            return Ok(());
        }
        self.session
            .batch("CLOSE ALL; DEALLOCATE ALL; UNLISTEN *; RESET ALL")
            .map_err(|e| Error::server("clear the session after a child process", &e))
    }

    fn handle(&mut self, id: usize, frame: &Frame) -> Result<(), Broken> {
        let status = self.session.transaction_status();
        let client = &mut self.clients[id];
        if client.skipping {
            if frame.tag == b'S' {
                client.skipping = false;
                client.in_sequence = false;
                return reply(&mut client.writer, &[ready(status)]);
            }
            return Ok(());
        }
        match frame.tag {
            b'X' => {
                client.gone = true;
                Ok(())
            }
            b'Q' => {
                let sql = cstring(&frame.bytes[5..]);
                match classify(&sql) {
                    Control::None => {
                        self.used = true;
                        self.forward(frame)?;
                        self.pump(id)
                    }
                    Control::Begin => reply(&mut client.writer, &[complete("BEGIN"), ready(b'T')]),
                    Control::Commit => {
                        reply(&mut client.writer, &[complete("COMMIT"), ready(b'I')])
                    }
                    Control::Refused(why) => {
                        reply(&mut client.writer, &[error(why), ready(status)])
                    }
                }
            }
            b'P' => {
                // Parse: a statement name, then the query.
                let body = &frame.bytes[5..];
                let name_end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
                let sql = cstring(body.get(name_end + 1..).unwrap_or_default());
                if classify(&sql) == Control::None {
                    client.in_sequence = true;
                    self.used = true;
                    self.forward(frame)
                } else {
                    client.in_sequence = true;
                    client.skipping = true;
                    reply(
                        &mut client.writer,
                        &[error(
                            "transaction control is pum's: the run's transaction is open and \
                             commits when the run ends",
                        )],
                    )
                }
            }
            b'H' => {
                // Flush asks for answers before the Sync, which only pipelines need.
                client.in_sequence = true;
                client.skipping = true;
                reply(
                    &mut client.writer,
                    &[error(
                        "pum relays whole queries: pipeline mode (Flush) is not supported in \
                         code run by pum",
                    )],
                )
            }
            b'S' => {
                client.in_sequence = false;
                self.forward(frame)?;
                self.pump(id)
            }
            b'F' => {
                self.used = true;
                self.forward(frame)?;
                self.pump(id)
            }
            _ => {
                client.in_sequence = true;
                self.forward(frame)
            }
        }
    }

    /// Sends a frame of the child to the server.
    fn forward(&mut self, frame: &Frame) -> Result<(), Broken> {
        self.session
            .stream
            .write_all(&frame.bytes)
            .map_err(|e| Broken::Server(ServerError::lost(e)))
    }

    /// Passes the server's answers to client `id` up to the server's ReadyForQuery
    /// (passing COPY FROM STDIN data from the client on the way).
    fn pump(&mut self, id: usize) -> Result<(), Broken> {
        let mut client_lost = false;
        loop {
            let answer = read_frame(&mut self.session.stream)
                .map_err(|e| Broken::Server(ServerError::lost(e)))?;
            if !client_lost && self.clients[id].writer.write_all(&answer.bytes).is_err() {
                client_lost = true;
            }
            match answer.tag {
                b'Z' => {
                    self.session
                        .set_transaction_status(*answer.bytes.last().unwrap_or(&b'E'));
                    return if client_lost {
                        Err(Broken::Client)
                    } else {
                        Ok(())
                    };
                }
                b'E' => {
                    if let Ok(Message::ErrorResponse(body)) = answer.parse()
                        && let Ok(e) = server_error(body.fields())
                    {
                        self.last_error = Some(e);
                    }
                }
                // CopyInResponse: the client sends data until CopyDone or CopyFail.
                b'G' => loop {
                    match self.next_frame_of(id) {
                        Some(data) => {
                            self.forward(&data)?;
                            if matches!(data.tag, b'c' | b'f') {
                                break;
                            }
                        }
                        None => {
                            let mut buf = BytesMut::new();
                            frontend::copy_fail("the client went away", &mut buf)
                                .map_err(|e| Broken::Server(ServerError::lost(e)))?;
                            self.session
                                .stream
                                .write_all(&buf)
                                .map_err(|e| Broken::Server(ServerError::lost(e)))?;
                            client_lost = true;
                            break;
                        }
                    }
                },
                _ => {}
            }
        }
    }

    /// The next frame of client `id` (queueing other clients' frames meanwhile); `None`
    /// when it is gone.
    fn next_frame_of(&mut self, id: usize) -> Option<Frame> {
        loop {
            if let Some(frame) = self.clients[id].queue.pop_front() {
                return Some(frame);
            }
            if self.clients[id].gone {
                return None;
            }
            match self.events.recv_timeout(Duration::from_secs(3600)).ok()? {
                Event::Frame(other, frame) => self.clients[other].queue.push_back(frame),
                Event::Gone(other) => self.clients[other].gone = true,
            }
        }
    }

    /// Ends, for the server, the extended-protocol sequence of a client that went away.
    fn sync_for_lost_client(&mut self) -> Result<()> {
        let mut buf = BytesMut::new();
        frontend::sync(&mut buf);
        let lost = |e: std::io::Error| Error::Sql {
            context: "relay the session to a child process".into(),
            message: ServerError::lost(e).describe(),
            code: None,
        };
        self.session.stream.write_all(&buf).map_err(lost)?;
        loop {
            let answer = read_frame(&mut self.session.stream).map_err(lost)?;
            if answer.tag == b'Z' {
                self.session
                    .set_transaction_status(*answer.bytes.last().unwrap_or(&b'E'));
                return Ok(());
            }
        }
    }
}

/// What the child's simple query is, for pum.
#[derive(Debug, PartialEq, Eq)]
enum Control {
    /// Not transaction control: forwarded.
    None,
    /// `BEGIN`: answered, the run's transaction is open.
    Begin,
    /// `COMMIT`: answered, the run commits when it ends.
    Commit,
    /// Refused, with why.
    Refused(&'static str),
}

fn classify(sql: &str) -> Control {
    let Ok(statements) = split(sql) else {
        return Control::None;
    };
    let controls: Vec<Control> = statements.iter().map(|s| control(&s.sql)).collect();
    match controls.as_slice() {
        [one] => match one {
            Control::None => Control::None,
            Control::Begin => Control::Begin,
            Control::Commit => Control::Commit,
            Control::Refused(why) => Control::Refused(why),
        },
        many if many.iter().all(|c| *c == Control::None) => Control::None,
        _ => Control::Refused(
            "transaction control inside a string of several statements: send it alone",
        ),
    }
}

fn control(statement: &str) -> Control {
    let start = first_significant(statement).unwrap_or(statement.len());
    let words: Vec<String> = statement[start..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    let second = words.get(1).map(String::as_str);
    match words.first().map(String::as_str) {
        Some("BEGIN") | Some("START") => Control::Begin,
        Some("COMMIT") | Some("END") if second == Some("PREPARED") => Control::Refused(PREPARED),
        Some("COMMIT") | Some("END") => Control::Commit,
        Some("ROLLBACK") if second == Some("PREPARED") => Control::Refused(PREPARED),
        Some("ROLLBACK") if second == Some("TO") => Control::None,
        Some("ROLLBACK") | Some("ABORT") => Control::Refused(
            "pum runs this code inside the run's transaction, which it may not roll back: \
             raise an exception to fail the run",
        ),
        Some("PREPARE") if second == Some("TRANSACTION") => Control::Refused(PREPARED),
        _ => Control::None,
    }
}

const PREPARED: &str = "prepared transactions would take the run's transaction away from pum";

/// Which side of the relay broke.
enum Broken {
    Client,
    Server(ServerError),
}

/// Answers the child's start-up: no authentication, the session's parameters, ready.
fn start(parameters: &[(String, String)], client: &mut UnixStream) -> std::io::Result<()> {
    loop {
        let mut len = [0u8; 4];
        client.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len) as usize;
        if !(8..=10_000).contains(&len) {
            return Err(std::io::Error::other("a bad start-up packet"));
        }
        let mut body = vec![0u8; len - 4];
        client.read_exact(&mut body)?;
        let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        match code {
            // SSLRequest, GSSENCRequest: no.
            80_877_103 | 80_877_104 => client.write_all(b"N")?,
            // CancelRequest: nothing to cancel here.
            80_877_102 => return Err(std::io::Error::other("a cancel request")),
            _ => break,
        }
    }
    let mut messages = vec![backend(b'R', &0u32.to_be_bytes())];
    for (name, value) in parameters {
        let mut body = Vec::new();
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
        messages.push(backend(b'S', &body));
    }
    messages.push(backend(b'K', &[0u8; 8]));
    messages.push(ready(b'I'));
    client.write_all(&messages.concat())
}

fn reply(client: &mut UnixStream, messages: &[Vec<u8>]) -> Result<(), Broken> {
    client
        .write_all(&messages.concat())
        .map_err(|_| Broken::Client)
}

/// A backend message: tag, length, body.
fn backend(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(5 + body.len());
    message.push(tag);
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

fn ready(status: u8) -> Vec<u8> {
    backend(b'Z', &[status])
}

fn complete(tag: &str) -> Vec<u8> {
    let mut body = tag.as_bytes().to_vec();
    body.push(0);
    backend(b'C', &body)
}

fn error(message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "ERROR"),
        (b'V', "ERROR"),
        (b'C', INVALID_TRANSACTION_STATE),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    backend(b'E', &body)
}

/// The text of a NUL-terminated string.
fn cstring(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_told_apart() {
        assert_eq!(classify("BEGIN"), Control::Begin);
        assert_eq!(
            classify("  begin transaction isolation level serializable"),
            Control::Begin
        );
        assert_eq!(classify("COMMIT"), Control::Commit);
        assert_eq!(classify("end;"), Control::Commit);
        assert!(matches!(classify("ROLLBACK"), Control::Refused(_)));
        assert!(matches!(classify("abort"), Control::Refused(_)));
        assert!(matches!(
            classify("PREPARE TRANSACTION 'x'"),
            Control::Refused(_)
        ));
        assert!(matches!(
            classify("COMMIT PREPARED 'x'"),
            Control::Refused(_)
        ));
        assert!(matches!(
            classify("INSERT INTO t VALUES (1); COMMIT"),
            Control::Refused(_)
        ));
        assert_eq!(classify("ROLLBACK TO SAVEPOINT a"), Control::None);
        assert_eq!(
            classify("SAVEPOINT a; INSERT INTO t VALUES (1)"),
            Control::None
        );
        assert_eq!(classify("-- begin\nSELECT 'COMMIT'"), Control::None);
        assert_eq!(classify(""), Control::None);
    }
}
