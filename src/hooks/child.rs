//! Running code as a child process whose connections are relayed to the run's session
//! (Unix: the relay is a Unix socket).
//!
//! Python code (deltas, hooks) runs in one interpreter per run (`interpreter.rs`): the
//! bridge starts when the run starts if it will create the application (importing the
//! create hooks meanwhile), else on the first Python file, then takes one file at a time
//! over a control socket, so a run with several Python files pays for starting Python and
//! importing psycopg (a quarter of a second) once, as Python pum does. Executables start
//! once per file (here). What both kinds share is in `child_io.rs`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::child_io::{
    absolute, keep_tail, read_lines, service_text, tail_lines, text_of, version_text, went_on,
};
use super::code::{Code, CodeKind};
use super::interpreter::{Bridge, context_json, python};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::process::Group;
use crate::wire::RawSession;
use crate::wire::relay::{PORT, Relay};

/// The code runners of one run: the Python bridge, once started.
#[derive(Default)]
pub(crate) struct Runner {
    python: Option<Bridge>,
}

impl Runner {
    /// Runs `code` as a child process whose connections are relayed to `session` (which
    /// is in the run's transaction); the lines it prints go to `messages`.
    ///
    /// # Errors
    /// [`Error::ToolNotFound`] without a Python interpreter; [`Error::Code`] when the code
    /// fails (the Python exception and its line, or the exit status and the end of what
    /// it printed) or when its SQL failed and it went on; [`Error::Sql`] when the session
    /// broke.
    pub(crate) fn run(
        &mut self,
        session: &mut RawSession,
        code: &Code<'_>,
        messages: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let spec = &session.spec().clone();
        match code.kind {
            CodeKind::Executable => run_executable(session, spec, code, messages),
            CodeKind::DeltaPy | CodeKind::HookBase => {
                let program = python(code)?;
                if self.python.as_ref().is_some_and(|b| b.program != program) {
                    self.python = None;
                }
                let bridge = self.bridge(program, spec, code)?;
                let result = bridge.run(session, spec, code, messages);
                if bridge.broken {
                    self.python = None;
                }
                result
            }
        }
    }
}

impl Runner {
    /// Starts the bridge now, having it import `codes`' hook files (`HookBase` files;
    /// others are left alone) before anything else, as Python pum imports hook files when
    /// it reads the configuration: the interpreter's start and the files' imports happen
    /// while the changelogs run, and pum does not wait for them. Nothing is reported here:
    /// a file's run reports what went wrong (the interpreter missing, the import failing),
    /// as without this.
    pub(crate) fn preload(&mut self, spec: &ConnectionSpec, codes: &[Code<'_>]) {
        let codes: Vec<&Code> = codes
            .iter()
            .filter(|c| c.kind == CodeKind::HookBase)
            .collect();
        let Some(first) = codes.first() else {
            return;
        };
        let Ok(program) = python(first) else {
            return;
        };
        let lines: Vec<String> = codes.iter().map(|c| context_json(c, true)).collect();
        if let Some(bridge) = self.python.as_mut().filter(|b| b.program == program) {
            // Already running (an earlier hook): the lines go before the next file's.
            for line in lines {
                bridge.queue(line);
            }
            return;
        }
        if let Ok(bridge) = Bridge::start(program, spec, first, &lines) {
            self.python = Some(bridge);
        }
    }

    /// The bridge running `program`, started when there is none yet.
    fn bridge(
        &mut self,
        program: PathBuf,
        spec: &ConnectionSpec,
        code: &Code<'_>,
    ) -> Result<&mut Bridge> {
        if self.python.as_ref().is_some_and(|b| b.program != program) {
            self.python = None;
        }
        match &mut self.python {
            Some(bridge) => Ok(bridge),
            slot => Ok(slot.insert(Bridge::start(program, spec, code, &[])?)),
        }
    }
}

/// Runs an executable, its connections relayed to `session`, until it exits.
fn run_executable(
    session: &mut RawSession,
    spec: &ConnectionSpec,
    code: &Code<'_>,
    messages: &mut dyn FnMut(&str),
) -> Result<()> {
    let relay = Relay::new()?;
    let dir = relay.socket_dir();
    let relayed = ConnectionSpec::unix_socket(dir, PORT, spec.user(), spec.dbname());
    let service_file = dir.join("pg_service.conf");
    crate::files::write(
        &service_file,
        service_text(code.service, dir, spec).as_bytes(),
    )?;
    let mut command = Command::new(absolute(code.file));
    relayed.apply_to(&mut command);
    command
        .env("PGSERVICEFILE", &service_file)
        .env("PUM_CURRENT_VERSION", version_text(code.current_version))
        .env("PUM_TARGET_VERSION", version_text(code.target_version))
        .env("PUM_DELTA_DIR", &code.delta_dir)
        .env("PUM_MIGRATIONS_TABLE", code.table)
        .env("PUM_SERVICE", code.service)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in code.variables {
        command.env(
            format!("PUM_PARAM_{}", name.to_ascii_uppercase()),
            value.text(),
        );
    }
    crate::process::die_with_pum(&mut command);
    crate::process::own_group(&mut command);
    let mut child = command.spawn().map_err(|e| Error::Code {
        file: code.shown.to_string(),
        line: None,
        message: format!("cannot start it: {e}"),
    })?;
    // Killed on every way out of here; at once when the executable exits, so that what
    // it left running in the background neither writes on nor holds its output open.
    let mut group = Group::of(child.id());
    let printed = read_lines(child.stdout.take());
    let stderr = keep_tail(child.stderr.take());
    let mut deliver = || {
        while let Ok(line) = printed.try_recv() {
            messages(&crate::text::printable(&line));
        }
    };
    let mut status = None;
    let mut exited = || -> Result<bool> {
        status = child
            .try_wait()
            .map_err(|e| Error::io("the child process", e))?;
        Ok(status.is_some())
    };
    let served = relay.serve(session, &mut exited, false, &mut deliver);
    if served.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    group.kill();
    let last_error = served?;
    let status = status.expect("served until it exited");
    // What the child printed last arrives after it exited; a process it left running
    // may keep its output open, so the wait is bounded.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => messages(&crate::text::printable(&line)),
            Err(_) => break,
        }
    }
    let failed = |line: Option<usize>, message: String| Error::Code {
        file: code.shown.to_string(),
        line,
        message: crate::error::one_line(&message),
    };
    if !status.success() {
        let tail = tail_lines(&text_of(&stderr), 3);
        return Err(failed(
            None,
            match tail.is_empty() {
                true => format!("exited with {status}"),
                false => format!("exited with {status}: {tail}"),
            },
        ));
    }
    went_on(session, last_error).map_err(|why| failed(None, why))
}
