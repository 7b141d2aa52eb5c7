//! The ephemeral server through `pum server …`, in processes of their own.

use crate::support::Bounded;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pum::ConnectionSpec;

use crate::support::server::{
    StopOnDrop, alive, data_dir, ends_within, postmasters, select_one, server_dir,
};

fn pum(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
    command
        .args(args)
        .env_remove("PUM_SERVER_DIR")
        .env_remove("PUM_SERVER_IDLE")
        .stdin(Stdio::null());
    command
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
    let url = crate::support::child::read_line_within(
        client.0.stdout.take().unwrap(),
        Duration::from_secs(60),
    );
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
    crate::support::child::wait(&mut client.0);
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
        .map(crate::support::child::wait_output)
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
fn cli_status_url_and_stop() {
    let (_root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let dir = options.dir.as_ref().unwrap().to_str().unwrap().to_string();

    let out = pum(&["server", "status", "--dir", &dir]).bounded_output();
    assert_eq!(out.status.code(), Some(3), "not running: pg_ctl status's 3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("not running (PostgreSQL "), "{text}");
    assert!(text.contains(&format!("directory: {dir}\n")), "{text}");

    let out = pum(&["server", "url", "--dir", &dir]).bounded_output();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pum: warning: the server is not running; start it with: pum server start\n"
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let out = pum(&["server", "start", "--dir", &dir, "--idle", "30"]).bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), url);
    assert_eq!(select_one(&ConnectionSpec::resolve(&url).unwrap()), 1);

    let out = pum(&["server", "status", "--dir", &dir]).bounded_output();
    assert!(out.status.success(), "running: 0");
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = postmasters(&data_dir(&options))[0];
    assert!(text.starts_with("running: PostgreSQL "), "{text}");
    assert!(text.contains(&format!("(pid {pid}, as ")), "{text}");
    assert!(text.contains(&format!("url: {url}")), "{text}");

    let out = pum(&["server", "stop", "--dir", &dir]).bounded_output();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "server stopped\n");
    assert!(
        ends_within(pid, Duration::from_secs(5)),
        "stopped at once, not after 30 s"
    );

    let data = data_dir(&options);
    assert!(data.join("PG_VERSION").is_file(), "stop keeps the data");
    let out = pum(&["server", "stop", "--purge", "--dir", &dir]).bounded_output();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "server was not running\n"
    );
    assert!(!data.exists(), "--purge deletes it");
}

#[test]
fn a_server_directory_is_used_where_asked_or_refused() {
    let (root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    // A regular file where the directory should be.
    let file = root.path().join("file");
    std::fs::write(&file, "").unwrap();
    let out = pum(&["server", "status"])
        .env("PUM_SERVER_DIR", &file)
        .bounded_output();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "pum: error: {} is not a directory (PUM_SERVER_DIR or --dir): remove it, or name \
             a directory\n",
            file.display()
        )
    );
    // A directory a failed start left behind (made, not yet the server account's): used
    // where it is.
    let dir = options.dir.clone().unwrap();
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = pum(&["server", "start", "--idle", "30"])
        .env("PUM_SERVER_DIR", &dir)
        .bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pum(&["server", "status"])
        .env("PUM_SERVER_DIR", &dir)
        .bounded_output();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("directory: {}\n", dir.display())),
        "{text}"
    );
    assert!(!text.contains("relocated"), "{text}");
}

#[test]
fn bad_idle_setting_is_one_line() {
    let out = pum(&["server", "status"])
        .env("PUM_SERVER_IDLE", "soon")
        .bounded_output();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pum: error: PUM_SERVER_IDLE=\"soon\": expected a whole number of seconds, 0 or more\n"
    );
}

#[test]
fn a_closed_pipe_ends_pum_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = pum(&["server", "url", "--dir", dir.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before pum writes
    let out = crate::support::child::wait_output(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE, as `ls | head` does"
    );
}

#[test]
fn server_psql_and_dash_p_test_reach_the_test_server() {
    let (root, options) = server_dir();
    let _stop = StopOnDrop(options.clone());
    let dir = options.dir.as_ref().unwrap().to_str().unwrap().to_string();
    let query = ["--", "-XAtc", "SELECT current_database()"];

    let out = pum(&[&["server", "psql", "--dir", &dir][..], &query].concat()).bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "postgres\n");

    let server = pum::server::Server::attach(&options).unwrap();
    pum::create_database(server.spec(), "pum_t_kept_1", &Default::default()).unwrap();
    let out = pum(&[
        &["server", "psql", "--dir", &dir, "pum_t_kept_1"][..],
        &query,
    ]
    .concat())
    .bounded_output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pum_t_kept_1\n");

    // A database that is not there: one line naming it and what is there, psql's exit
    // status for a failed connection.
    let out = pum(&["server", "psql", "--dir", &dir, "nope"]).bounded_output();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "pum: error: database \"nope\" does not exist on the server in {dir}: its test \
             databases: pum_t_kept_1\n"
        )
    );

    // -p test/<database>: the same server, for every other command.
    let trees = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/trees");
    let trees = trees.to_str().unwrap();
    let with_server = |args: &[&str]| {
        let mut command = pum(args);
        command
            .env("PUM_SERVER_DIR", &dir)
            .env_remove("PUM_TEST_DATABASE_URL")
            .env("PGSERVICEFILE", root.path().join("no-services.conf"))
            .current_dir(root.path());
        command.bounded_output()
    };
    let out = with_server(&[
        "-p",
        "test/pum_t_kept_1",
        "-d",
        trees,
        "install",
        "--skip-create-app",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = with_server(&["-p", "test/pum_t_kept_1", "-d", trees, "current"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2.0.0\n");
    let out = with_server(&[
        "-p",
        "test",
        "db",
        "create",
        "pum_t_kept_1",
        "--if-not-exists",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"pum_t_kept_1\" exists already"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A name that cannot be a database is refused before connecting.
    let long = format!("test/{}", "x".repeat(64));
    let out = with_server(&["-p", &long, "-d", trees, "current"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("pum: error: ") && stderr.contains("63"),
        "{stderr}"
    );

    // A service called test wins, and pum says so.
    let services = root.path().join("services.conf");
    std::fs::write(
        &services,
        format!("[test]\nhost={dir}\nport=5432\nuser=postgres\ndbname=pum_t_kept_1\n"),
    )
    .unwrap();
    let out = pum(&["-p", "test", "-d", trees, "current"])
        .env("PGSERVICEFILE", &services)
        .bounded_output();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2.0.0\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pum: warning: \"test\" is the service of that name in pg_service.conf, not the test \
         server (reach that with -p \"$(pum server url)\")\n"
    );
    drop(server);
}
