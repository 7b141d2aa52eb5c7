//! The ephemeral server: one per directory, shared by processes, gone when unused.

use crate::support::Bounded;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pum::ConnectionSpec;
use pum::server::{self, Server, ServerOptions};

use crate::support::server::{
    StopOnDrop, alive, data_dir, ends_within, postmasters, select_one, server_dir,
};

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
        .bounded_status();
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

/// The directory in memory holding a server's data (`/dev/shm/pum-<hash>`).
fn memory_home(options: &ServerOptions) -> std::path::PathBuf {
    let status = server::status(options).unwrap();
    assert!(status.in_memory, "{status}");
    status.data_dir.parent().unwrap().to_path_buf()
}

#[test]
fn status_says_where_the_data_is_and_how_big() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let _attached = Server::attach(&options).unwrap();
    let status = server::status(&options).unwrap();
    // initdb's cluster alone takes tens of megabytes.
    assert!(status.data_size > 10_000_000, "{}", status.data_size);
    let text = status.to_string();
    let line = text.lines().find(|l| l.starts_with("data: ")).unwrap();
    let expected = format!("data: {} (", status.data_dir.display());
    assert!(line.starts_with(&expected), "{text}");
    assert!(line.ends_with(" MB)"), "{text}");
}

#[test]
fn cargo_clean_under_a_running_server_leaves_no_data_in_memory() {
    if !Path::new("/dev/shm").is_dir() {
        eprintln!(
            "skipped: cargo_clean_under_a_running_server_leaves_no_data_in_memory: no /dev/shm, \
             the server's data is not kept in memory"
        );
        return;
    }
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let attached = Server::attach(&options).unwrap();
    let pid = attached.pid().unwrap();
    let home = memory_home(&options);
    assert!(home.join("data/PG_VERSION").is_file());
    drop(attached);
    std::fs::remove_dir_all(options.dir.as_ref().unwrap()).unwrap();
    assert!(
        ends_within(pid, Duration::from_secs(10)),
        "the server stopped"
    );
    let started = std::time::Instant::now();
    while home.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!home.exists(), "{} is left in memory", home.display());
}

#[test]
fn cargo_clean_of_a_stopped_server_leaves_no_data_in_memory_after_the_next_attach() {
    if !Path::new("/dev/shm").is_dir() {
        eprintln!(
            "skipped: cargo_clean_of_a_stopped_server_leaves_no_data_in_memory_after_the_next_attach: \
             no /dev/shm, the server's data is not kept in memory"
        );
        return;
    }
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    drop(Server::attach(&options).unwrap());
    assert!(server::stop(&options).unwrap());
    let home = memory_home(&options);
    std::fs::remove_dir_all(options.dir.as_ref().unwrap()).unwrap();
    assert!(home.join("data/PG_VERSION").is_file(), "nothing ran since");

    // Any server attached on this machine sweeps it.
    let (_other_root, other) = server_dir();
    let _stop_other = StopOnDrop(other.clone());
    let attached = Server::attach(&other).unwrap();
    assert!(!home.exists(), "{} is left in memory", home.display());

    // And --purge leaves nothing of its own.
    let other_home = memory_home(&other);
    drop(attached);
    server::purge(&other).unwrap();
    assert!(
        !other_home.exists(),
        "{} is left in memory",
        other_home.display()
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
        assert!(
            status.to_string().contains(" (in memory, 0 bytes)\n"),
            "{status}"
        );
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
            "skipped: unreachable_directory_is_relocated_when_running_as_root: not root, the server \
             runs as this user"
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
            "relocated: user postgres cannot reach {} ({} is mode 700)",
            root.path().join("srv").display(),
            root.path().display()
        )),
        "{text}"
    );
    drop(attached);
    server::purge(&options).unwrap();
    std::fs::remove_dir_all(status.dir.parent().unwrap()).unwrap();
}

/// Tries `SELECT 1` on the server of `url` with psql, as `nobody`; returns psql's stderr
/// when it failed.
fn connect_as_nobody(url: &str) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let (uid, gid) = crate::support::server::nobody();
    let out = Command::new("psql")
        .args(["-XAtqc", "SELECT 1", url])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .uid(uid)
        .gid(gid)
        .bounded_output();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn only_the_user_who_started_the_server_may_connect() {
    use std::os::unix::fs::MetadataExt;
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let attached = Server::attach(&options).unwrap();
    assert_eq!(select_one(attached.spec()), 1, "its starter connects");

    // The configuration: peer authentication through the socket only, nothing trusted.
    let hba = std::fs::read_to_string(attached.data_dir().join("pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules, ["local all all peer map=pum"], "{hba}");
    // The socket directory and the socket: for the server's account only.
    let socket_dir = std::fs::metadata(attached.socket_dir()).unwrap();
    assert_eq!(socket_dir.mode() & 0o777, 0o700);
    let socket = std::fs::metadata(attached.socket_dir().join(".s.PGSQL.5432")).unwrap();
    assert_eq!(socket.mode() & 0o077, 0, "socket mode {:o}", socket.mode());

    if !crate::support::server::is_root() {
        eprintln!(
            "skipped: the other-user half of only_the_user_who_started_the_server_may_connect: not \
             root, cannot act as another user"
        );
        return;
    }
    let url = attached.url();
    let err = connect_as_nobody(&url).unwrap_err();
    assert!(err.contains("Permission denied"), "{err}");
    // Even with the directory opened up, authentication says no.
    std::fs::set_permissions(
        attached.socket_dir(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        attached.socket_dir().join(".s.PGSQL.5432"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let err = connect_as_nobody(&url).unwrap_err();
    assert!(err.contains("Peer authentication failed"), "{err}");
}

#[test]
fn a_directory_someone_else_could_have_prepared_is_refused() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Writable by everyone, as another user's planted /tmp/pum-<user> would be.
    let planted = root.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let options = ServerOptions {
        dir: Some(planted.join("pg")),
        idle: Duration::from_secs(2),
        ..ServerOptions::default()
    };
    let _stop = StopOnDrop(options.clone());
    let err = Server::attach(&options).unwrap_err();
    assert!(matches!(err, pum::Error::ServerDirectory { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is writable by other users (mode 777): pum will not use a directory someone \
             else could have prepared (remove it, or set PUM_SERVER_DIR to a directory of \
             your own)",
            planted.display()
        )
    );
    assert!(!planted.join("pg/clients.lock").exists(), "nothing used");

    // A symbolic link where the server directory should be.
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let linked = root.path().join("linked");
    std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
    let options = ServerOptions {
        dir: Some(linked),
        ..options
    };
    let err = Server::attach(&options).unwrap_err().to_string();
    assert!(err.contains("is a symbolic link"), "{err}");

    if crate::support::server::is_root() {
        // Owned by another user, even if not writable by others.
        let theirs = root.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        let (uid, gid) = crate::support::server::nobody();
        std::os::unix::fs::chown(&theirs, Some(uid), Some(gid)).unwrap();
        let options = ServerOptions {
            dir: Some(theirs.join("pg")),
            ..options
        };
        let err = Server::attach(&options).unwrap_err().to_string();
        assert!(err.contains("belongs to another user"), "{err}");
    }
}

#[test]
fn stop_and_purge_refuse_a_directory_someone_else_could_have_prepared() {
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let planted = root.path().join("pg");
    std::fs::create_dir(&planted).unwrap();
    std::fs::write(planted.join("watchdog.pid"), "1\n").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let options = ServerOptions {
        dir: Some(planted.clone()),
        ..ServerOptions::default()
    };
    for outcome in [server::stop(&options), server::purge(&options)] {
        let err = outcome.unwrap_err();
        assert!(matches!(err, pum::Error::ServerDirectory { .. }), "{err}");
    }
    assert!(planted.join("watchdog.pid").exists(), "nothing touched");
}
