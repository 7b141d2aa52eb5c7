//! The Python bridge of a run: one interpreter running `bridge.py`, started when the
//! run starts to import the hook files it will run (or at the first Python file), then
//! taking one file at a time over a control socket while the relay lends it the run's
//! session.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::child_io::{
    absolute, file_failed, keep_tail, read_lines, service_text, tail_lines, text_of, went_on,
};
use super::code::{Code, CodeKind};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::process::Group;
use crate::settings;
use crate::version::Version;
use crate::wire::relay::{PORT, Relay};
use crate::wire::{RawSession, ServerError};

/// The bridge that runs Python deltas and hooks (see its comments).
const BRIDGE: &str = include_str!("bridge.py");

/// What the bridge prints on standard output after each file, so that pum knows it has
/// every line the file printed.
const END_OF_FILE: &str = "\u{1e}pum-bridge-end";

/// How long the bridge may take to start (and connect back).
const BRIDGE_START: Duration = Duration::from_secs(60);

/// The interpreter for Python code: the one given, `PUM_PYTHON`, or `python3`.
pub(super) fn python(code: &Code<'_>) -> Result<PathBuf> {
    let python = match code.python {
        Some(path) => path.display().to_string(),
        None => settings::text("PUM_PYTHON")?.unwrap_or_else(|| "python3".into()),
    };
    which::which(&python).map_err(|_| Error::ToolNotFound {
        tool: python.clone(),
        hint: match code.kind {
            CodeKind::HookBase => format!(
                "{} is a Python hook, which pum runs with python3 (or PUM_PYTHON): install \
                 Python 3 and psycopg (pip install \"psycopg[binary]\"), or set PUM_PYTHON",
                code.shown
            ),
            _ => format!(
                "{} is a Python delta, which pum runs with python3 (or PUM_PYTHON): install \
                 Python 3 and psycopg2 (pip install psycopg2-binary), or set PUM_PYTHON",
                code.shown
            ),
        },
    })
}

/// A Python interpreter running the bridge, waiting for files to run.
pub(super) struct Bridge {
    pub(super) program: PathBuf,
    child: Child,
    /// Its process group, killed when the bridge is dropped (after the bridge itself
    /// ended or was killed): what the Python code started ends with it.
    #[allow(dead_code)]
    group: Group,
    relay: Relay,
    /// Where the bridge connects back to take files.
    listener: UnixListener,
    /// The connection it made, once taken (when the first file is sent): the bridge
    /// starts, and imports what it was given to preload, without pum waiting for it.
    control: Option<UnixStream>,
    /// Lines for the bridge waiting for its connection.
    queued: Vec<String>,
    /// What arrived on the control socket after the last full line.
    pending: Vec<u8>,
    /// Lines the bridge printed.
    printed: mpsc::Receiver<String>,
    /// The end of what it wrote on standard error.
    stderr: Arc<Mutex<Vec<u8>>>,
    /// It died or stopped answering: the next file needs a new one.
    pub(super) broken: bool,
}

impl Bridge {
    /// Starts the bridge, which first imports the files of `preload` (their contexts as
    /// the control socket carries them), then connects back; its connections (the `PG*`
    /// variables, the service file) lead to the relay. Does not wait for it.
    pub(super) fn start(
        program: PathBuf,
        spec: &ConnectionSpec,
        code: &Code<'_>,
        preload: &[String],
    ) -> Result<Bridge> {
        let relay = Relay::new()?;
        let dir = relay.socket_dir().to_path_buf();
        let relayed = ConnectionSpec::unix_socket(&dir, PORT, spec.user(), spec.dbname());
        let bridge = dir.join("pum_bridge.py");
        crate::files::write(&bridge, BRIDGE.as_bytes())?;
        crate::files::write(
            &dir.join("pg_service.conf"),
            service_text(code.service, &dir, spec).as_bytes(),
        )?;
        let control_path = dir.join("pum_bridge.sock");
        let listener =
            UnixListener::bind(&control_path).map_err(|e| Error::io(&control_path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&control_path, e))?;
        let mut command = Command::new(&program);
        relayed.apply_to(&mut command);
        command
            .arg(&bridge)
            .env("PUM_BRIDGE_CONTROL", &control_path)
            .env("PUM_BRIDGE_PRELOAD", format!("[{}]", preload.join(",")))
            .env("PGSERVICEFILE", dir.join("pg_service.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = |e: std::io::Error| Error::Code {
            file: code.shown.to_string(),
            line: None,
            message: format!("cannot start {}: {e}", program.display()),
        };
        crate::process::die_with_pum(&mut command);
        crate::process::own_group(&mut command);
        let mut child = command.spawn().map_err(started)?;
        let group = Group::of(child.id());
        let printed = read_lines(child.stdout.take());
        let stderr = keep_tail(child.stderr.take());
        Ok(Bridge {
            program,
            child,
            group,
            relay,
            listener,
            control: None,
            queued: Vec::new(),
            pending: Vec::new(),
            printed,
            stderr,
            broken: false,
        })
    }

    /// Waits for the bridge to connect back (once), then sends what was queued.
    fn connect(&mut self, code: &Code<'_>) -> Result<()> {
        if self.control.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + BRIDGE_START;
        let control = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::io("the Python bridge's socket", e)),
            }
            let exited = self
                .child
                .try_wait()
                .map_err(|e| Error::io("the Python bridge", e))?;
            if exited.is_some() || Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.broken = true;
                std::thread::sleep(Duration::from_millis(20));
                let tail = tail_lines(&text_of(&self.stderr), 3);
                return Err(Error::Code {
                    file: code.shown.to_string(),
                    line: None,
                    message: format!(
                        "{} could not run pum's Python bridge: {tail}",
                        self.program.display()
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        control
            .set_nonblocking(true)
            .map_err(|e| Error::io("the Python bridge's socket", e))?;
        self.control = Some(control);
        for line in std::mem::take(&mut self.queued) {
            self.queue(line);
        }
        Ok(())
    }

    /// Sends `line` (a context) now, or once the bridge has connected back.
    pub(super) fn queue(&mut self, mut line: String) {
        line.push('\n');
        match &mut self.control {
            Some(control) => {
                if control.write_all(line.as_bytes()).is_err() {
                    self.broken = true;
                }
            }
            None => self.queued.push(line.trim_end().to_string()),
        }
    }

    /// Runs one file in the bridge, lending it `session`.
    pub(super) fn run(
        &mut self,
        session: &mut RawSession,
        spec: &ConnectionSpec,
        code: &Code<'_>,
        messages: &mut dyn FnMut(&str),
    ) -> Result<()> {
        self.send_file(spec, code)?;
        let failed = |line: Option<usize>, message: String| file_failed(code, line, message);
        let served = match self.serve_file(session, messages) {
            Ok(served) => served,
            Err(e) => {
                self.broken = true;
                return Err(e);
            }
        };
        if !served.ended && !served.printed_all {
            self.wait_for_end_of_file(messages);
        }
        let Some(result) = served.answer.filter(|_| !served.ended) else {
            self.broken = true;
            return Err(failed(None, self.ended()));
        };
        let value: serde_json::Value = serde_json::from_str(&result).map_err(|e| {
            failed(
                None,
                format!("pum's Python bridge answered {result:?}: {e}"),
            )
        })?;
        if value.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
            let line = value
                .get("line")
                .and_then(serde_json::Value::as_u64)
                .map(|l| l as usize);
            let message = value
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("failed")
                .to_string();
            return Err(failed(line, message));
        }
        went_on(session, served.last_error).map_err(|why| file_failed(code, None, why))
    }

    /// Hands the bridge `code`'s file: the service file its connections read, then the
    /// file's context on the control socket.
    fn send_file(&mut self, spec: &ConnectionSpec, code: &Code<'_>) -> Result<()> {
        let dir = self.relay.socket_dir().to_path_buf();
        crate::files::write(
            &dir.join("pg_service.conf"),
            service_text(code.service, &dir, spec).as_bytes(),
        )?;
        self.connect(code)?;
        self.queue(context_json(code, false));
        if self.broken {
            return Err(file_failed(code, None, self.ended()));
        }
        Ok(())
    }

    /// Relays the file's connections to `session` until the bridge answers or ends; the
    /// lines it prints meanwhile go to `messages`.
    fn serve_file(
        &mut self,
        session: &mut RawSession,
        messages: &mut dyn FnMut(&str),
    ) -> Result<Served> {
        let mut answer: Option<String> = None;
        let mut ended = false;
        let mut printed_all = false;
        let Bridge {
            relay,
            control,
            pending,
            printed,
            child,
            ..
        } = self;
        let mut deliver = || {
            while !printed_all && let Ok(line) = printed.try_recv() {
                if line == END_OF_FILE {
                    printed_all = true;
                } else {
                    messages(&crate::text::printable(&line));
                }
            }
        };
        let mut done = || -> Result<bool> {
            if let Some(control) = control.as_mut()
                && let Some(line) = take_line(control, pending)?
            {
                answer = Some(line);
                return Ok(true);
            }
            if child
                .try_wait()
                .map_err(|e| Error::io("the Python bridge", e))?
                .is_some()
            {
                ended = true;
                return Ok(true);
            }
            Ok(false)
        };
        let last_error = relay.serve(session, &mut done, true, &mut deliver)?;
        Ok(Served {
            answer,
            ended,
            printed_all,
            last_error,
        })
    }

    /// Passes on the lines the file printed that are still coming: every one comes before
    /// the bridge's end-of-file line (waited for two seconds at most).
    fn wait_for_end_of_file(&mut self, messages: &mut dyn FnMut(&str)) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.printed.recv_timeout(left) {
                Ok(line) if line == END_OF_FILE => break,
                Ok(line) => messages(&crate::text::printable(&line)),
                Err(_) => break,
            }
        }
    }

    /// Why the bridge stopped: its exit status and the end of what it wrote.
    fn ended(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = self.child.kill();
                    break self.child.wait().ok();
                }
            }
        };
        std::thread::sleep(Duration::from_millis(20));
        let tail = tail_lines(&text_of(&self.stderr), 3);
        let status = status.map_or("ended".to_string(), |s| format!("exited with {s}"));
        if tail.is_empty() {
            format!("Python {status}")
        } else {
            format!("Python {status}: {tail}")
        }
    }
}

impl Drop for Bridge {
    /// Ends the bridge: it exits when the control socket closes; one that does not is
    /// killed, as is one that never ran a file (it was only importing files ahead).
    fn drop(&mut self) {
        let Some(control) = &self.control else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        };
        let _ = control.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + Duration::from_secs(2);
        // Its exit handlers take a millisecond or two: looked at soon, then less often.
        let mut pause = Duration::from_micros(250);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line from the non-blocking control socket, if a whole one has arrived.
fn take_line(control: &mut UnixStream, pending: &mut Vec<u8>) -> Result<Option<String>> {
    let mut buf = [0u8; 4096];
    loop {
        match control.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("the Python bridge's control socket", e)),
        }
    }
    Ok(pending.iter().position(|b| *b == b'\n').map(|end| {
        let line: Vec<u8> = pending.drain(..=end).collect();
        String::from_utf8_lossy(&line[..end]).into_owned()
    }))
}

/// What relaying one file's connections ended with.
struct Served {
    /// The bridge's answer line for the file, if it answered.
    answer: Option<String>,
    /// Whether the bridge process ended.
    ended: bool,
    /// Whether the bridge's end-of-file line has been read.
    printed_all: bool,
    /// The last error the server sent the file's connections.
    last_error: Option<ServerError>,
}

/// The context the bridge reads: the file and what it is told.
pub(super) fn context_json(code: &Code<'_>, preload: bool) -> String {
    let variables: serde_json::Map<String, serde_json::Value> = code
        .variables
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                serde_json::from_str(&value.json()).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect();
    let version = |v: Option<&Version>| v.map(ToString::to_string);
    let parse = |text: &str| serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "kind": match code.kind {
            CodeKind::HookBase => "hook",
            _ => "delta",
        },
        "file": code.file.display().to_string(),
        "module": code.module,
        "current_version": version(code.current_version),
        "target_version": version(code.target_version),
        "delta_dir": code.delta_dir,
        "delta_dirs": code.delta_dirs,
        "service": code.service,
        "table": code.table,
        "variables": variables,
        "parameters": parse(&code.parameters),
        "base_dir": code.base_dir.map(|d| absolute(d).display().to_string()),
        "dependencies": parse(&code.dependencies),
        "preload": preload,
    })
    .to_string()
}
