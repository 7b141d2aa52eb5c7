//! Running code as a child process whose connections are relayed to the run's session
//! (Unix: the relay is a Unix socket).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use super::code::{Code, CodeKind};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::version::Version;
use crate::wire::RawSession;

/// The bridge that runs Python deltas (see its comments).
const BRIDGE: &str = include_str!("bridge.py");

/// The most of a child's standard error kept for its error message.
const STDERR_KEPT: usize = 64 * 1024;

/// Runs `code` as a child process whose connections are relayed to `session` (which is
/// in the run's transaction); the lines it prints go to `messages`.
///
/// # Errors
/// [`Error::ToolNotFound`] without a Python interpreter; [`Error::Code`] when the child
/// fails (the Python exception and its line, or the exit status and the end of what it
/// printed) or when its SQL failed and it went on; [`Error::Sql`] when the session broke.
pub(crate) fn run_code(
    session: &mut RawSession,
    spec: &ConnectionSpec,
    code: &Code<'_>,
    messages: &mut dyn FnMut(&str),
) -> Result<()> {
    use crate::wire::relay::{PORT, Relay};

    let relay = Relay::new()?;
    let dir = relay.socket_dir();
    let relayed = ConnectionSpec::unix_socket(dir, PORT, spec.user(), spec.dbname());
    let service_file = dir.join("pg_service.conf");
    crate::files::write(
        &service_file,
        service_text(code.service, dir, spec).as_bytes(),
    )?;
    let mut command = match code.kind {
        CodeKind::DeltaPy | CodeKind::HookBase => {
            let python = match code.python {
                Some(path) => path.display().to_string(),
                None => std::env::var("PUM_PYTHON")
                    .ok()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "python3".into()),
            };
            let program = which::which(&python).map_err(|_| Error::ToolNotFound {
                tool: python.clone(),
                hint: match code.kind {
                    CodeKind::HookBase => format!(
                        "{} is a Python hook, which pum runs with python3 (or PUM_PYTHON): \
                         install Python 3 and psycopg (pip install \"psycopg[binary]\"), or \
                         set PUM_PYTHON",
                        code.shown
                    ),
                    _ => format!(
                        "{} is a Python delta, which pum runs with python3 (or PUM_PYTHON): \
                         install Python 3 and psycopg2 (pip install psycopg2-binary), or set \
                         PUM_PYTHON",
                        code.shown
                    ),
                },
            })?;
            let bridge = dir.join("pum_bridge.py");
            crate::files::write(&bridge, BRIDGE.as_bytes())?;
            let mut command = Command::new(program);
            command.arg(&bridge).env("PUM_BRIDGE", context_json(code));
            command
        }
        CodeKind::Executable => Command::new(absolute(code.file)),
    };
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
    let mut child = command.spawn().map_err(|e| Error::Code {
        file: code.shown.to_string(),
        line: None,
        message: format!("cannot start it: {e}"),
    })?;
    let (lines, printed) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let (stderr_sender, stderr_text) = mpsc::channel();
    if let Some(mut stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut kept: Vec<u8> = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEPT {
                    kept.drain(..kept.len() - STDERR_KEPT);
                }
            }
            let _ = stderr_sender.send(String::from_utf8_lossy(&kept).into_owned());
        });
    }
    let mut deliver = || {
        while let Ok(line) = printed.try_recv() {
            messages(&crate::text::printable(&line));
        }
    };
    let served = relay.serve(session, &mut child, &mut deliver);
    if served.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (status, last_error) = served?;
    // What the child printed last arrives after it exited; a process it left running
    // may keep its output open, so the wait is bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match printed.recv_timeout(left) {
            Ok(line) => messages(&crate::text::printable(&line)),
            Err(_) => break,
        }
    }
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    let stderr = stderr_text.recv_timeout(left).unwrap_or_default();
    let failed = |line: Option<usize>, message: String| Error::Code {
        file: code.shown.to_string(),
        line,
        message: crate::error::one_line(&message),
    };
    if !status.success() {
        if let Some((line, message)) = bridge_error(&stderr) {
            return Err(failed(line, message));
        }
        let tail = tail_lines(&stderr, 3);
        return Err(failed(
            None,
            match tail.is_empty() {
                true => format!("exited with {status}"),
                false => format!("exited with {status}: {tail}"),
            },
        ));
    }
    if session.transaction_status() == b'E' {
        let why = last_error.map(|e| e.describe()).unwrap_or_default();
        return Err(failed(
            None,
            format!("a statement it sent failed and it went on as if not: {why}"),
        ));
    }
    Ok(())
}

/// The service file the child reads: the service it is told to use, leading to the
/// relay, then the other services of the user's own service file.
fn service_text(service: &str, socket_dir: &Path, spec: &ConnectionSpec) -> String {
    let mut text = format!(
        "[{service}]\nhost={}\nport={}\nuser={}\ndbname={}\nsslmode=disable\n",
        socket_dir.display(),
        crate::wire::relay::PORT,
        spec.user(),
        spec.dbname()
    );
    if let Some(own) = crate::connect::personal_service_file()
        .and_then(|path| crate::files::read_text(&path, crate::files::SMALL_FILE).ok())
    {
        let mut keep = true;
        for line in own.lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
                keep = name != service;
            }
            if keep {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

/// The context the bridge reads.
fn context_json(code: &Code<'_>) -> String {
    let variables: Vec<String> = code
        .variables
        .iter()
        .map(|(name, value)| {
            format!(
                "{}: {}",
                serde_json::Value::String(name.clone()),
                value.json()
            )
        })
        .collect();
    let string = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let optional = |v: Option<&Version>| v.map_or("null".to_string(), |v| string(&v.to_string()));
    let kind = match code.kind {
        CodeKind::HookBase => "hook",
        _ => "delta",
    };
    format!(
        "{{\"kind\": {}, \"file\": {}, \"module\": {}, \"current_version\": {}, \
         \"target_version\": {}, \"delta_dir\": {}, \"delta_dirs\": [{}], \"service\": {}, \
         \"table\": {}, \"variables\": {{{}}}, \"parameters\": {}, \"base_dir\": {}, \
         \"dependencies\": {}}}",
        string(kind),
        string(&code.file.display().to_string()),
        string(code.module),
        optional(code.current_version),
        optional(code.target_version),
        string(&code.delta_dir),
        code.delta_dirs
            .iter()
            .map(|d| string(d))
            .collect::<Vec<_>>()
            .join(", "),
        string(code.service),
        string(code.table),
        variables.join(", "),
        code.parameters,
        code.base_dir.map_or("null".to_string(), |d| string(
            &absolute(d).display().to_string()
        )),
        code.dependencies,
    )
}

fn version_text(version: Option<&Version>) -> String {
    version.map(ToString::to_string).unwrap_or_default()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The bridge's report of a Python failure: the line in the file and the exception.
fn bridge_error(stderr: &str) -> Option<(Option<usize>, String)> {
    let json = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("pum-bridge-error "))?;
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let line = value.get("line").and_then(serde_json::Value::as_u64);
    let message = value.get("message")?.as_str()?.to_string();
    Some((line.map(|l| l as usize), message))
}

/// The last `n` non-empty lines, joined with " | ".
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
