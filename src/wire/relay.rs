//! Lending a run's session to a child process: the child connects to a private Unix
//! socket as to a server; pum answers its start-up itself (no password: only this user
//! can reach the socket), then passes what it sends to the run's session and the
//! session's answers back, so the child's SQL runs inside the run's transaction.
//!
//! - **Both ways at once.** A thread reads the server's answers as they come, so a child
//!   that sends a long pipeline (psycopg 3's `executemany`, Flush requests, COPY) never
//!   waits on a server waiting on pum.
//! - **The child's transactions are savepoints.** pum 0.x gave each Python delta its own
//!   connection: what it committed stayed, what it did not commit (or rolled back) went
//!   away. Here its `BEGIN` becomes a savepoint of the run's transaction, `COMMIT` releases
//!   it, `ROLLBACK` (or closing the connection without committing) returns to it; the
//!   transaction status the child sees is the one it expects (`T` after its `BEGIN`, `I`
//!   after its `COMMIT`). The run commits everything at its end, or nothing. Prepared
//!   transactions, and transaction control inside a string of several statements, are
//!   refused with an error from the server.
//! - **Turns.** A child may hold several connections; each query (or extended-protocol
//!   sequence up to its Sync) has the session to itself.
//! - **Left as found.** The session's settings are put back as they were before the child
//!   (prepared statements, cursors and LISTENs are dropped), as if it had had its own.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::backend::Message;

use super::raw_session::{Frame, Stream, read_frame, server_error};
use super::{Control, RawSession, ServerError, Sql, TextRow, classify};
use crate::error::{Error, Result};
use crate::sql::quote_literal;

/// The port in the socket's name (`.s.PGSQL.5432`).
pub(crate) const PORT: u16 = 5432;

/// A statement that does nothing and succeeds (`SET`), standing in for a child's
/// transaction control that has nothing to do.
const NOTHING: &str = "SET LOCAL pum.relay TO DEFAULT";

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
        sweep_abandoned(&std::env::temp_dir());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RELAY_PREFIX}{}-", std::process::id()))
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

    /// Serves the child's connections with `session` (in a transaction) until `done`
    /// says the child's work is over and every connection is settled, calling `tick`
    /// every few milliseconds; returns the last error the server sent the child, if any.
    ///
    /// `done` is asked until it answers true: the child exited, or (a child that stays)
    /// it said it finished. With `close_at_done`, the connections it left open are then
    /// closed as if it had closed them (what they did not commit goes away).
    ///
    /// # Errors
    /// `done`'s errors; [`Error::Io`] when the socket fails; [`Error::Sql`] when the
    /// session broke or could not be put back.
    pub(crate) fn serve(
        &self,
        session: &mut RawSession,
        done: &mut dyn FnMut() -> Result<bool>,
        close_at_done: bool,
        tick: &mut dyn FnMut(),
    ) -> Result<Option<ServerError>> {
        let settings = session
            .rows("SELECT name, setting FROM pg_settings WHERE source = 'session'")
            .map_err(|e| Error::server("read the session's settings", &e))?;
        let (sender, events) = mpsc::channel();
        let reader = ServerReader::start(&session.stream, sender.clone())
            .map_err(|e| Error::io("the session's socket", e))?;
        let mut state = State {
            session,
            clients: Vec::new(),
            events,
            last_error: None,
        };
        let served = (|| {
            let mut over = false;
            loop {
                loop {
                    match self.listener.accept() {
                        Ok((stream, _)) => state.add(stream, &sender),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(Error::io(self.dir.path(), e)),
                    }
                }
                let wait = if over { 20 } else { 5 };
                state.receive(Duration::from_millis(wait))?;
                state.work()?;
                tick();
                if !over {
                    over = done()?;
                    if over && close_at_done {
                        state.close_all();
                    }
                }
                if over && state.finished() {
                    return Ok(());
                }
            }
        })();
        let stopped = reader.stop(&state.session.stream);
        served?;
        stopped.map_err(|e| lost(e.to_string()))?;
        restore(state.session, &settings)?;
        Ok(state.last_error)
    }
}

/// How relay directories start: `pum-relay-<pid>-`.
const RELAY_PREFIX: &str = "pum-relay-";

/// Removes the relay directories in `tmp` that a killed pum left: named for a process
/// that no longer runs, owned by this user, directories (not links). Best effort, and
/// only where `/proc` tells which processes run.
fn sweep_abandoned(tmp: &Path) {
    use std::os::unix::fs::MetadataExt;
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(me) = crate::os_user::effective_uid() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(RELAY_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let abandoned = !Path::new(&format!("/proc/{pid}")).exists()
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if abandoned {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Reads the server's messages on a thread of its own until stopped.
struct ServerReader {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl ServerReader {
    fn start(stream: &Stream, events: mpsc::Sender<Event>) -> std::io::Result<ServerReader> {
        let mut stream = stream.try_clone()?;
        // Reads wake up now and then to see whether they should stop.
        stream.set_read_timeout(Some(Duration::from_millis(20)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("pum-relay-server".into())
            .spawn(move || {
                let mut buffer = BytesMut::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    while let Some(frame) = take_frame(&mut buffer) {
                        if events.send(Event::Server(frame)).is_err() {
                            return;
                        }
                    }
                    if stopping.load(Ordering::SeqCst) && buffer.is_empty() {
                        return;
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) => {
                            let _ = events
                                .send(Event::ServerLost("the server closed the connection".into()));
                            return;
                        }
                        Ok(n) => buffer.put_slice(&chunk[..n]),
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(e) => {
                            let _ = events.send(Event::ServerLost(e.to_string()));
                            return;
                        }
                    }
                }
            })?;
        Ok(ServerReader { stop, thread })
    }

    /// Stops the thread (nothing is in flight then) and gives the session back its
    /// blocking reads.
    fn stop(self, stream: &Stream) -> std::io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        stream.set_read_timeout(None)
    }
}

/// One whole message at the front of `buffer`, if it holds one.
fn take_frame(buffer: &mut BytesMut) -> Option<Frame> {
    if buffer.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
    if buffer.len() < 1 + len {
        return None;
    }
    let bytes = buffer.split_to(1 + len);
    Some(Frame {
        tag: bytes[0],
        bytes,
    })
}

/// What the relay's threads report.
enum Event {
    Client(usize, Frame),
    Gone(usize),
    Server(Frame),
    ServerLost(String),
}

/// One connection of the child.
struct Client {
    /// Where answers go.
    writer: UnixStream,
    /// Frames received, not yet handled.
    queue: VecDeque<Frame>,
    /// Queries and Syncs sent to the server whose ReadyForQuery has not come back.
    pending: usize,
    /// What is pending are Syncs (extended protocol), not a simple query.
    pending_syncs: bool,
    /// Extended-protocol messages sent since the last Sync.
    in_sequence: bool,
    /// The server waits for this client's COPY data.
    copying: bool,
    /// The child believes a transaction of its own is open (its savepoint).
    open: bool,
    /// The connection has closed.
    gone: bool,
    /// Its savepoint has been rolled back to after it closed.
    settled: bool,
}

impl Client {
    fn holds_session(&self) -> bool {
        self.pending > 0 || self.in_sequence
    }
}

/// The relay at work.
struct State<'s> {
    session: &'s mut RawSession,
    clients: Vec<Client>,
    events: mpsc::Receiver<Event>,
    last_error: Option<ServerError>,
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
            pending: 0,
            pending_syncs: false,
            in_sequence: false,
            copying: false,
            open: false,
            gone: false,
            settled: false,
        });
        let parameters = self.session.parameters().to_vec();
        let sender = sender.clone();
        let spawned = std::thread::Builder::new()
            .name("pum-relay-client".into())
            .spawn(move || {
                let mut stream = stream;
                if start(&parameters, &mut stream).is_ok() {
                    while let Ok(frame) = read_frame(&mut stream) {
                        let last = frame.tag == b'X';
                        if sender.send(Event::Client(id, frame)).is_err() || last {
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

    /// Handles what arrived, waiting at most `wait` for the first event.
    fn receive(&mut self, wait: Duration) -> Result<()> {
        let mut next = self.events.recv_timeout(wait).ok();
        while let Some(event) = next {
            self.event(event)?;
            next = self.events.try_recv().ok();
        }
        Ok(())
    }

    fn event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Client(id, frame) => self.clients[id].queue.push_back(frame),
            Event::Gone(id) => self.clients[id].gone = true,
            Event::Server(frame) => self.pass_to_client(frame),
            Event::ServerLost(why) => {
                self.session.mark_broken();
                return Err(lost(why));
            }
        }
        Ok(())
    }

    /// Passes a server message to the client holding the session.
    fn pass_to_client(&mut self, mut frame: Frame) {
        let Some(id) = self.clients.iter().position(Client::holds_session) else {
            return; // nothing is in flight: nothing to answer (a late notice)
        };
        match frame.tag {
            b'Z' => {
                let status = *frame.bytes.last().unwrap_or(&b'E');
                self.session.set_transaction_status(status);
                let client = &mut self.clients[id];
                client.pending = client.pending.saturating_sub(1);
                client.copying = false;
                // The status the child expects: its own transaction's.
                let seen = match (status, client.open) {
                    (b'E', _) => b'E',
                    (_, true) => b'T',
                    (_, false) => b'I',
                };
                if let Some(last) = frame.bytes.last_mut() {
                    *last = seen;
                }
            }
            b'E' => {
                if let Ok(Message::ErrorResponse(body)) = frame.parse()
                    && let Ok(e) = server_error(body.fields())
                {
                    self.last_error = Some(e);
                }
            }
            b'G' => {
                let client = &mut self.clients[id];
                client.copying = true;
                // A COPY started with the extended protocol: the server ignores the Syncs
                // it receives in copy mode (those sent after the COPY's Execute), and
                // answers the one the client sends after its CopyDone or CopyFail.
                if client.pending_syncs {
                    client.pending = 0;
                }
            }
            _ => {}
        }
        let client = &mut self.clients[id];
        if !client.gone && client.writer.write_all(&frame.bytes).is_err() {
            client.gone = true;
        }
    }

    /// Handles queued client messages: the holder's first, else the next client's.
    fn work(&mut self) -> Result<()> {
        loop {
            self.end_for_gone_clients()?;
            let holder = self.clients.iter().position(Client::holds_session);
            let next = match holder {
                Some(id) => (!self.clients[id].queue.is_empty()).then_some(id),
                None => self.clients.iter().position(|c| !c.queue.is_empty()),
            };
            let Some(id) = next else {
                return Ok(());
            };
            // A new simple query waits for the answers to the holder's earlier ones.
            if self.clients[id].pending > 0
                && self.clients[id]
                    .queue
                    .front()
                    .is_some_and(|f| f.tag == b'Q')
            {
                return Ok(());
            }
            let Some(frame) = self.clients[id].queue.pop_front() else {
                return Ok(());
            };
            self.pass_to_server(id, frame)?;
        }
    }

    /// Passes a client message to the server, rewriting transaction control.
    fn pass_to_server(&mut self, id: usize, frame: Frame) -> Result<()> {
        let client = &mut self.clients[id];
        let frame = match frame.tag {
            b'X' => {
                client.gone = true;
                return Ok(());
            }
            b'Q' => {
                client.pending += 1;
                client.pending_syncs = false;
                let sql = cstring(&frame.bytes[5..]);
                match rewrite(&sql, id, client) {
                    Some(sql) => query_frame(&sql),
                    None => frame,
                }
            }
            b'P' => {
                client.in_sequence = true;
                let body = &frame.bytes[5..];
                let name_end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
                let name = &body[..name_end];
                let sql = cstring(body.get(name_end + 1..).unwrap_or_default());
                match rewrite(&sql, id, client) {
                    Some(sql) => parse_frame(name, &sql),
                    None => frame,
                }
            }
            b'S' => {
                client.in_sequence = false;
                // In copy mode the server ignores a Sync: nothing will answer it.
                if !client.copying {
                    client.pending += 1;
                    client.pending_syncs = true;
                }
                frame
            }
            b'F' => {
                client.pending += 1;
                frame
            }
            b'c' | b'f' => {
                client.copying = false;
                frame
            }
            // Flush asks for what is pending; alone it starts nothing (psycopg 3 sends
            // one after a pipeline's last Sync).
            b'd' | b'H' => frame,
            _ => {
                client.in_sequence = true;
                frame
            }
        };
        self.send(&frame.bytes)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.session.stream.write_all(bytes).map_err(|e| {
            self.session.mark_broken();
            lost(e.to_string())
        })
    }

    /// Ends, for the server, what a client that went away left half done, and returns to
    /// its savepoint when it closed without committing.
    fn end_for_gone_clients(&mut self) -> Result<()> {
        for id in 0..self.clients.len() {
            let client = &mut self.clients[id];
            // What it sent before closing (a COMMIT) is handled first.
            if !client.gone || !client.queue.is_empty() {
                continue;
            }
            if client.copying {
                client.copying = false;
                let mut buf = BytesMut::new();
                postgres_protocol::message::frontend::copy_fail("the client went away", &mut buf)
                    .map_err(|e| lost(e.to_string()))?;
                self.send(&buf)?;
            }
            let client = &mut self.clients[id];
            if client.in_sequence {
                client.in_sequence = false;
                client.pending += 1;
                self.send(&[b'S', 0, 0, 0, 4])?;
            }
            let client = &self.clients[id];
            let idle = self.clients.iter().all(|c| !c.holds_session());
            if idle && client.pending == 0 && client.open && !client.settled {
                self.clients[id].settled = true;
                self.clients[id].open = false;
                self.internal(&format!("ROLLBACK TO SAVEPOINT {}", savepoint(id)))?;
            }
        }
        Ok(())
    }

    /// Runs pum's own statement while no client holds the session; its answers are read
    /// here, not passed on.
    fn internal(&mut self, sql: &str) -> Result<()> {
        self.send(&query_frame(sql).bytes)?;
        loop {
            match self.events.recv_timeout(Duration::from_secs(3600)) {
                Ok(Event::Server(frame)) if frame.tag == b'Z' => {
                    self.session
                        .set_transaction_status(*frame.bytes.last().unwrap_or(&b'E'));
                    return Ok(());
                }
                Ok(Event::Server(_)) => {}
                Ok(Event::Client(id, frame)) => self.clients[id].queue.push_back(frame),
                Ok(Event::Gone(id)) => self.clients[id].gone = true,
                Ok(Event::ServerLost(why)) => return Err(lost(why)),
                Err(_) => return Err(lost("no answer from the server".into())),
            }
        }
    }

    /// Closes the connections the child left open, once what they sent is handled.
    fn close_all(&mut self) {
        for client in &mut self.clients {
            if !client.gone {
                let _ = client.writer.shutdown(std::net::Shutdown::Both);
                client.gone = true;
            }
        }
    }

    /// Whether every connection is closed and settled, with nothing in flight.
    fn finished(&self) -> bool {
        self.clients
            .iter()
            .all(|c| c.gone && c.queue.is_empty() && c.pending == 0 && !c.in_sequence && !c.open)
    }
}

/// The savepoint standing for client `id`'s transaction.
fn savepoint(id: usize) -> String {
    format!("pum_child_{id}")
}

/// The statement to send instead of a child's transaction control, or `None` to send
/// the child's own.
fn rewrite(sql: &str, id: usize, client: &mut Client) -> Option<String> {
    match classify(sql) {
        Control::None => None,
        Control::Begin => {
            client.open = true;
            Some(format!("SAVEPOINT {}", savepoint(id)))
        }
        Control::Commit if client.open => {
            client.open = false;
            Some(format!("RELEASE SAVEPOINT {}", savepoint(id)))
        }
        Control::Rollback if client.open => {
            client.open = false;
            Some(format!("ROLLBACK TO SAVEPOINT {}", savepoint(id)))
        }
        // Outside a transaction of its own, as PostgreSQL does with a warning: nothing.
        Control::Commit | Control::Rollback => Some(NOTHING.to_string()),
        Control::Refused(why) => Some(format!(
            "DO $pum$ BEGIN RAISE EXCEPTION USING ERRCODE = '25000', MESSAGE = {}; END $pum$",
            quote_literal(why)
        )),
    }
}

/// Puts the session back as it was before the child: settings, no prepared statements,
/// cursors or LISTENs of the child's (unless the transaction failed: then the run fails).
fn restore(session: &mut RawSession, settings: &[TextRow]) -> Result<()> {
    if session.transaction_status() == b'E' {
        return Ok(());
    }
    let mut sql = String::from(
        "CLOSE ALL; DEALLOCATE ALL; UNLISTEN *; SET SESSION AUTHORIZATION DEFAULT; RESET ALL;",
    );
    for row in settings {
        if let [Some(name), Some(value)] = row.as_slice() {
            sql.push_str(&format!(
                " SELECT set_config({}, {}, false);",
                quote_literal(name),
                quote_literal(value)
            ));
        }
    }
    session
        .batch(&sql)
        .map_err(|e| Error::server("put the session back after a child process", &e))
}

fn lost(why: String) -> Error {
    Error::Sql {
        context: "relay the session to a child process".into(),
        message: ServerError::lost(why).describe(),
        code: None,
    }
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
    messages.push(backend(b'Z', b"I"));
    client.write_all(&messages.concat())
}

/// A message: tag, length, body.
fn backend(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(5 + body.len());
    message.push(tag);
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(body);
    message
}

/// A simple Query message.
fn query_frame(sql: &str) -> Frame {
    let mut body = sql.as_bytes().to_vec();
    body.push(0);
    Frame {
        tag: b'Q',
        bytes: BytesMut::from(&backend(b'Q', &body)[..]),
    }
}

/// A Parse message for `sql` under the statement name `name`, with no parameter types.
fn parse_frame(name: &[u8], sql: &str) -> Frame {
    let mut body = name.to_vec();
    body.push(0);
    body.extend_from_slice(sql.as_bytes());
    body.push(0);
    body.extend_from_slice(&0u16.to_be_bytes());
    Frame {
        tag: b'P',
        bytes: BytesMut::from(&backend(b'P', &body)[..]),
    }
}

/// The text of a NUL-terminated string.
fn cstring(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn relay_directories_of_dead_processes_are_removed_others_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // pid 1 always runs; a pid above the kernel's maximum never does.
        let alive = tmp.path().join("pum-relay-1-abc");
        let dead = tmp.path().join("pum-relay-99999999-abc");
        let other = tmp.path().join("pum-relay-x");
        for dir in [&alive, &dead, &other] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("pg_service.conf"), "").unwrap();
        }
        // A link named like a dead relay is not followed nor removed.
        let link = tmp.path().join("pum-relay-99999998-abc");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        sweep_abandoned(tmp.path());
        assert!(alive.exists() && other.join("pg_service.conf").exists());
        assert!(!dead.exists());
        assert!(std::fs::symlink_metadata(&link).is_ok());
    }
}
