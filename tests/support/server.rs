//! The ephemeral server as tests use it: a directory of one's own, and ways to watch
//! its processes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pum::ConnectionSpec;
use pum::server::{self, ServerOptions};

/// A server directory of its own, reachable by the server's account.
pub fn server_dir() -> (tempfile::TempDir, ServerOptions) {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let options = ServerOptions {
        dir: Some(root.path().join("srv")),
        idle: Duration::from_secs(2),
        ..ServerOptions::default()
    };
    (root, options)
}

/// Stops the server whatever happens to the test.
pub struct StopOnDrop(pub ServerOptions);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Purged: the data may be in memory, which a temporary directory does not free.
        let _ = server::purge(&self.0);
    }
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// Waits up to `limit` for `pid` to end; true if it did.
pub fn ends_within(pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// The postmasters running on `data`, found by their command lines.
pub fn postmasters(data: &Path) -> Vec<u32> {
    let data = data.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = cmd
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.len() > 2 && args[0].ends_with("postgres") && args[1] == "-D" && args[2] == data
        })
        .collect()
}

pub fn data_dir(options: &ServerOptions) -> PathBuf {
    server::status(options).unwrap().data_dir
}

/// The server's log (empty when there is none yet).
pub fn log(options: &ServerOptions) -> String {
    std::fs::read_to_string(data_dir(options).join("postgres.log")).unwrap_or_default()
}

pub fn select_one(spec: &ConnectionSpec) -> i32 {
    spec.connect()
        .unwrap()
        .query_one("SELECT 1", &[])
        .unwrap()
        .get(0)
}

/// Whether the tests run as root (who can act as another user to test what they may do).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// The uid and gid of `nobody`, to act as a stranger.
pub fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a nobody account");
    let fields: Vec<&str> = line.split(':').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}
