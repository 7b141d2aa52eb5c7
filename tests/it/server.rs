//! The ephemeral server: one per directory, shared by processes, gone when unused.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pum::ConnectionSpec;
use pum::server::{self, Server, ServerOptions};

/// A server directory of its own, reachable by the server's account.
fn server_dir() -> (tempfile::TempDir, ServerOptions) {
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
struct StopOnDrop(ServerOptions);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Purged: the data may be in memory, which a temporary directory does not free.
        let _ = server::purge(&self.0);
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').unwrap().1.trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// Waits up to `limit` for `pid` to end; true if it did.
fn ends_within(pid: u32, limit: Duration) -> bool {
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
fn postmasters(data: &Path) -> Vec<u32> {
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

fn data_dir(options: &ServerOptions) -> PathBuf {
    server::status(options).unwrap().data_dir
}

fn pum(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
    command
        .args(args)
        .env_remove("PUM_SERVER_DIR")
        .env_remove("PUM_SERVER_IDLE")
        .stdin(Stdio::null());
    command
}

fn select_one(spec: &ConnectionSpec) -> i32 {
    spec.connect()
        .unwrap()
        .query_one("SELECT 1", &[])
        .unwrap()
        .get(0)
}

#[test]
fn attach_starts_one_server_and_later_attaches_share_it() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let first = Server::attach(&options).unwrap();
    let second = Server::attach(&options).unwrap();
    let pid = first.pid().unwrap();
    assert_eq!(second.pid(), Some(pid));
    assert_eq!(postmasters(&data_dir(&options)), [pid]);
    assert_eq!(select_one(first.spec()), 1);
    // The URL is one other tools (and pum itself) can use.
    assert_eq!(
        select_one(&ConnectionSpec::resolve(&first.url()).unwrap()),
        1
    );
    assert!(data_dir(&options).join("postgres.log").is_file());

    if let Some(uid) = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .filter(|uid| uid == "0")
    {
        let server_uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert_ne!(
            server_uid, uid,
            "as root, the server runs as another account"
        );
    }

    assert!(server::stop(&options).unwrap());
    assert!(ends_within(pid, Duration::from_secs(5)));
    assert!(!server::stop(&options).unwrap(), "already stopped");
}

#[test]
fn server_stops_after_the_idle_period_once_nobody_uses_it() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let attached = Server::attach(&options).unwrap();
    let pid = attached.pid().unwrap();
    std::thread::sleep(options.idle + Duration::from_secs(2));
    assert!(alive(pid), "an attached process keeps the server");
    drop(attached);
    assert!(
        ends_within(pid, options.idle + Duration::from_secs(5)),
        "the server outlived its idle period"
    );
    assert!(postmasters(&data_dir(&options)).is_empty());
}

/// A `pum server attach` process, killed with SIGKILL when dropped.
struct Attached(Child);

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn killed_client_releases_the_server() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let dir = options.dir.as_ref().unwrap().to_str().unwrap().to_string();
    let mut client = Attached(
        pum(&["server", "attach", "--dir", &dir, "--idle", "2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut url = String::new();
    BufReader::new(client.0.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    assert!(url.starts_with("postgresql://"), "{url}");
    let pid = postmasters(&data_dir(&options))[0];
    let watchdog: u32 = std::fs::read_to_string(Path::new(&dir).join("watchdog.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    std::thread::sleep(Duration::from_secs(4));
    assert!(
        alive(pid),
        "the attached client keeps the server past its idle period"
    );

    client.0.kill().unwrap(); // SIGKILL: the client cleans nothing up
    client.0.wait().unwrap();
    assert!(
        ends_within(pid, Duration::from_secs(8)),
        "the server outlived its killed client"
    );
    assert!(
        ends_within(watchdog, Duration::from_secs(3)),
        "the watchdog is gone too"
    );
}

#[test]
fn concurrent_first_use_starts_exactly_one_server() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let dir = options.dir.as_ref().unwrap().to_str().unwrap().to_string();
    let children: Vec<Child> = (0..4)
        .map(|_| {
            pum(&["server", "start", "--dir", &dir, "--idle", "5"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let messages: Vec<String> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");
    let pids = postmasters(&data_dir(&options));
    assert_eq!(pids.len(), 1, "{pids:?}");
    assert!(
        messages[0].contains(&format!("(pid {})", pids[0])),
        "{messages:?}"
    );
}

#[test]
fn killed_server_leaves_a_stale_pid_file_that_is_recovered() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let attached = Server::attach(&options).unwrap();
    let old = attached.pid().unwrap();
    drop(attached);
    let watchdog = std::fs::read_to_string(options.dir.as_ref().unwrap().join("watchdog.pid"))
        .unwrap()
        .trim()
        .to_string();
    // SIGKILL the watchdog's whole process group: shell, monitor and postmaster.
    let status = Command::new("kill")
        .args(["-KILL", "--", &format!("-{watchdog}")])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(ends_within(old, Duration::from_secs(5)));
    assert!(
        data_dir(&options).join("postmaster.pid").is_file(),
        "left behind"
    );

    let again = Server::attach(&options).unwrap();
    let new = again.pid().unwrap();
    assert_ne!(new, old);
    assert_eq!(select_one(again.spec()), 1);
    assert_eq!(postmasters(&data_dir(&options)), [new]);
}

#[test]
fn deleted_server_directory_is_recreated() {
    let (_root, mut options) = server_dir();
    options.idle = Duration::from_secs(30);
    let _stop = StopOnDrop(options.clone());
    let first = Server::attach(&options).unwrap();
    let old = first.pid().unwrap();
    first
        .spec()
        .connect()
        .unwrap()
        .batch_execute("CREATE DATABASE pum_it_before_clean")
        .unwrap();
    drop(first);
    // What `cargo clean` does to a running server.
    std::fs::remove_dir_all(options.dir.as_ref().unwrap()).unwrap();

    let second = Server::attach(&options).unwrap();
    let new = second.pid().unwrap();
    assert_ne!(new, old);
    assert_eq!(select_one(second.spec()), 1);
    assert!(!pum::database_exists(second.spec(), "pum_it_before_clean").unwrap());
    assert!(
        ends_within(old, Duration::from_secs(5)),
        "the server of the deleted directory stopped"
    );
}

#[test]
fn a_data_directory_pum_did_not_make_is_left_alone() {
    let (_root, options) = server_dir();
    let data = data_dir(&options);
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("precious"), "keep me").unwrap();
    let err = Server::attach(&options).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{} exists but was not made by pum (no pum-server file in it); delete it or set \
             PUM_SERVER_DIR to another directory",
            data.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(data.join("precious")).unwrap(),
        "keep me"
    );
    std::fs::remove_dir_all(&data).unwrap();
}

#[test]
fn data_lives_in_memory_unless_told_otherwise() {
    let (root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let status = server::status(&options).unwrap();
    if Path::new("/dev/shm").is_dir() {
        assert!(status.in_memory);
        assert!(status.data_dir.starts_with("/dev/shm"), "{status}");
        assert!(status.to_string().contains(" (in memory)\n"), "{status}");
    }
    let on_disk = ServerOptions {
        memory: false,
        dir: Some(root.path().join("disk")),
        ..options.clone()
    };
    let _stop_disk = StopOnDrop(on_disk.clone());
    let attached = Server::attach(&on_disk).unwrap();
    assert_eq!(attached.data_dir(), root.path().join("disk/data"));
    assert_eq!(select_one(attached.spec()), 1);
    assert!(!server::status(&on_disk).unwrap().in_memory);
}

#[test]
fn unreachable_directory_is_relocated_when_running_as_root() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !is_root {
        eprintln!(
            "unreachable_directory_is_relocated_when_running_as_root: not root, the server runs as this user"
        );
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let options = ServerOptions {
        dir: Some(root.path().join("srv")),
        idle: Duration::from_secs(2),
        ..ServerOptions::default()
    };
    let _stop = StopOnDrop(options.clone());
    let attached = Server::attach(&options).unwrap();
    assert!(attached.dir().starts_with(std::env::temp_dir()));
    assert!(!attached.dir().starts_with(root.path()));
    assert_eq!(select_one(attached.spec()), 1);

    let status = server::status(&options).unwrap();
    assert!(status.relocated.is_some());
    let text = status.to_string();
    assert!(
        text.contains(&format!(
            "relocated: user postgres cannot reach {}",
            root.path().join("srv").display()
        )),
        "{text}"
    );
    drop(attached);
    server::purge(&options).unwrap();
    std::fs::remove_dir_all(status.dir.parent().unwrap()).unwrap();
}

#[test]
fn cli_status_url_and_stop() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let dir = options.dir.as_ref().unwrap().to_str().unwrap().to_string();

    let out = pum(&["server", "status", "--dir", &dir]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("not running (PostgreSQL "), "{text}");
    assert!(text.contains(&format!("directory: {dir}\n")), "{text}");

    let out = pum(&["server", "url", "--dir", &dir]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pum: warning: the server is not running; start it with: pum server start\n"
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let out = pum(&["server", "start", "--dir", &dir, "--idle", "30"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), url);
    assert_eq!(select_one(&ConnectionSpec::resolve(&url).unwrap()), 1);

    let out = pum(&["server", "status", "--dir", &dir]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = postmasters(&data_dir(&options))[0];
    assert!(text.starts_with("running: PostgreSQL "), "{text}");
    assert!(text.contains(&format!("(pid {pid}, as ")), "{text}");
    assert!(text.contains(&format!("url: {url}")), "{text}");

    let out = pum(&["server", "stop", "--dir", &dir]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "server stopped\n");
    assert!(
        ends_within(pid, Duration::from_secs(5)),
        "stopped at once, not after 30 s"
    );

    let data = data_dir(&options);
    assert!(data.join("PG_VERSION").is_file(), "stop keeps the data");
    let out = pum(&["server", "stop", "--purge", "--dir", &dir])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "server was not running\n"
    );
    assert!(!data.exists(), "--purge deletes it");
}

#[test]
fn bad_idle_setting_is_one_line() {
    let out = pum(&["server", "status"])
        .env("PUM_SERVER_IDLE", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pum: error: PUM_SERVER_IDLE: invalid value \"soon\": expected whole seconds\n"
    );
}
