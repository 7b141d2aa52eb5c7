//! The relay at work: the child's connections ([`Client`]), the thread reading the
//! server's answers ([`ServerReader`]), and the loop passing messages both ways in turns
//! ([`State`]), with the child's transaction control rewritten as savepoints.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use postgres_protocol::message::backend::Message;

use super::lost;
use super::messages::{cstring, parse_frame, query_frame, start};
use crate::error::Result;
use crate::sql::quote_literal;
use crate::wire::raw_session::{Frame, Stream, read_frame, server_error};
use crate::wire::{Control, RawSession, ServerError, classify};

/// A statement that does nothing and succeeds (`SET`), standing in for a child's
/// transaction control that has nothing to do.
const NOTHING: &str = "SET LOCAL pum.relay TO DEFAULT";

/// Reads the server's messages on a thread of its own until stopped.
pub(super) struct ServerReader {
    /// How many ReadyForQuery messages it has read (counted before they are passed on).
    ready: Arc<AtomicU64>,
    /// The count of ReadyForQuery messages after which it ends (`u64::MAX`: none yet).
    last: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

/// A Sync message: outside an extended-protocol sequence, the server answers it with a
/// ReadyForQuery and does nothing else.
const SYNC: [u8; 5] = [b'S', 0, 0, 0, 4];

/// How many read timeouts (of 20 ms) the reader waits for the Sync's answer once stopped.
const STOP_PATIENCE: u32 = 250;

impl ServerReader {
    pub(super) fn start(
        stream: &Stream,
        events: mpsc::Sender<Event>,
    ) -> std::io::Result<ServerReader> {
        let mut stream = stream.try_clone()?;
        // Reads wake up now and then to see whether they should stop (a stop without the
        // Sync; see `stop`).
        stream.set_read_timeout(Some(Duration::from_millis(20)))?;
        let ready = Arc::new(AtomicU64::new(0));
        let last = Arc::new(AtomicU64::new(u64::MAX));
        let (counted, ending) = (Arc::clone(&ready), Arc::clone(&last));
        let thread = std::thread::Builder::new()
            .name("pum-relay-server".into())
            .spawn(move || {
                let mut buffer = BytesMut::new();
                let mut chunk = vec![0u8; 64 * 1024];
                // Reads that timed out since the stop: a server that never answers the
                // Sync does not keep the thread (and pum) waiting past a few seconds.
                let mut idle_since_stop = 0;
                loop {
                    // What one read brought goes on as one event.
                    let mut frames = Vec::new();
                    while let Some(frame) = take_frame(&mut buffer) {
                        if frame.tag == b'Z' {
                            counted.fetch_add(1, Ordering::SeqCst);
                        }
                        frames.push(frame);
                    }
                    if !frames.is_empty() && events.send(Event::Server(frames)).is_err() {
                        return;
                    }
                    let (read, last) = (
                        counted.load(Ordering::SeqCst),
                        ending.load(Ordering::SeqCst),
                    );
                    if (read >= last && buffer.is_empty()) || idle_since_stop > STOP_PATIENCE {
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
                            ) =>
                        {
                            if last != u64::MAX {
                                idle_since_stop += 1;
                            }
                        }
                        Err(e) => {
                            let _ = events.send(Event::ServerLost(e.to_string()));
                            return;
                        }
                    }
                }
            })?;
        Ok(ServerReader {
            ready,
            last,
            thread,
        })
    }

    /// Stops the thread and gives the session back its blocking reads.
    ///
    /// `settled`: nothing is in flight, every ReadyForQuery the server sent has been
    /// passed on. Then the thread is woken at once: a Sync is sent, whose ReadyForQuery
    /// it takes as its last message, leaving the session's stream in step (a socket's
    /// read timeout ends only at the kernel's next tick, 4 to 8 ms later on a 250 Hz
    /// kernel: a small project's hook phase paid that per file). Otherwise (the relay
    /// failed) it ends at its next read timeout.
    pub(super) fn stop(self, stream: &mut Stream, settled: bool) -> std::io::Result<()> {
        let woken = settled && {
            self.last
                .store(self.ready.load(Ordering::SeqCst) + 1, Ordering::SeqCst);
            stream
                .write_all(&SYNC)
                .and_then(|()| stream.flush())
                .is_ok()
        };
        if !woken {
            self.last.store(0, Ordering::SeqCst);
        }
        let _ = self.thread.join();
        stream.set_read_timeout(None)
    }
}

/// One whole message at the front of `buffer`, if it holds one.
pub(super) fn take_frame(buffer: &mut BytesMut) -> Option<Frame> {
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
pub(super) enum Event {
    Client(usize, Frame),
    Gone(usize),
    /// The whole messages one read brought.
    Server(Vec<Frame>),
    ServerLost(String),
}

/// One connection of the child.
pub(super) struct Client {
    /// Where answers go.
    writer: UnixStream,
    /// Answers not yet written: the server's messages that arrived together go to the
    /// child in one write, so it wakes once per batch, not once per message.
    out: BytesMut,
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
pub(super) struct State<'s> {
    pub(super) session: &'s mut RawSession,
    /// Messages for the server not yet written (a child's Parse, Bind, Execute and Sync
    /// go in one write, so the server wakes once).
    pub(super) to_server: BytesMut,
    pub(super) clients: Vec<Client>,
    pub(super) events: mpsc::Receiver<Event>,
    pub(super) last_error: Option<ServerError>,
}

impl State<'_> {
    /// Takes a new connection: a thread answers its start-up, then reads its messages.
    pub(super) fn add(&mut self, stream: UnixStream, sender: &mpsc::Sender<Event>) {
        let _ = stream.set_nonblocking(false);
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        let id = self.clients.len();
        self.clients.push(Client {
            writer,
            out: BytesMut::new(),
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
                    let mut stream = BufReader::with_capacity(64 * 1024, stream);
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

    /// Handles what arrived, waiting at most `wait` for the first event; whether
    /// anything did.
    pub(super) fn receive(&mut self, wait: Duration) -> Result<bool> {
        let mut next = self.events.recv_timeout(wait).ok();
        let got = next.is_some();
        while let Some(event) = next {
            self.event(event)?;
            next = self.events.try_recv().ok();
        }
        self.flush_clients();
        Ok(got)
    }

    /// Writes the answers gathered for each client.
    fn flush_clients(&mut self) {
        for client in &mut self.clients {
            if client.out.is_empty() {
                continue;
            }
            if !client.gone && client.writer.write_all(&client.out).is_err() {
                client.gone = true;
            }
            client.out.clear();
        }
    }

    fn event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::Client(id, frame) => self.clients[id].queue.push_back(frame),
            Event::Gone(id) => self.clients[id].gone = true,
            Event::Server(frames) => {
                for frame in frames {
                    self.pass_to_client(frame);
                }
            }
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
        if !client.gone {
            client.out.extend_from_slice(&frame.bytes);
        }
    }

    /// Handles queued client messages: the holder's first, else the next client's.
    pub(super) fn work(&mut self) -> Result<()> {
        let worked = self.pass_queued();
        let flushed = self.flush_server();
        worked.and(flushed)
    }

    fn pass_queued(&mut self) -> Result<()> {
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

    /// Queues `bytes` for the server (written by [`State::flush_server`]).
    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.to_server.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes what is queued for the server.
    fn flush_server(&mut self) -> Result<()> {
        if self.to_server.is_empty() {
            return Ok(());
        }
        let written = self.session.stream.write_all(&self.to_server);
        self.to_server.clear();
        written.map_err(|e| {
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
        self.flush_server()?;
        loop {
            match self.events.recv_timeout(Duration::from_secs(3600)) {
                Ok(Event::Server(frames)) => {
                    // Nothing else is in flight: what follows its ReadyForQuery is nothing.
                    if let Some(ready) = frames.iter().find(|f| f.tag == b'Z') {
                        self.session
                            .set_transaction_status(*ready.bytes.last().unwrap_or(&b'E'));
                        return Ok(());
                    }
                }
                Ok(Event::Client(id, frame)) => self.clients[id].queue.push_back(frame),
                Ok(Event::Gone(id)) => self.clients[id].gone = true,
                Ok(Event::ServerLost(why)) => return Err(lost(why)),
                Err(_) => return Err(lost("no answer from the server".into())),
            }
        }
    }

    /// Closes the connections the child left open, once what they sent is handled.
    pub(super) fn close_all(&mut self) {
        for client in &mut self.clients {
            if !client.gone {
                let _ = client.writer.shutdown(std::net::Shutdown::Both);
                client.gone = true;
            }
        }
    }

    /// Whether the child has a connection open.
    pub(super) fn connected(&self) -> bool {
        self.clients.iter().any(|c| !c.gone)
    }

    /// Whether every connection is closed and settled, with nothing in flight.
    pub(super) fn finished(&self) -> bool {
        self.clients
            .iter()
            .all(|c| c.gone && c.queue.is_empty() && c.pending == 0 && !c.in_sequence && !c.open)
    }
}

/// The savepoint standing for client `id`'s transaction.
pub(super) fn savepoint(id: usize) -> String {
    format!("pum_child_{id}")
}

/// The statement to send instead of a child's transaction control, or `None` to send
/// the child's own.
pub(super) fn rewrite(sql: &str, id: usize, client: &mut Client) -> Option<String> {
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
