//! Connecting the way libpq users do: service files, .pgpass, timeouts.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use pum::{ConnectionSpec, Environment, Error};

use crate::support::{self, ScratchDb};

/// An environment that sees only the files the test writes.
fn isolated_env(dir: &std::path::Path) -> Environment {
    Environment::empty().set("PGSYSCONFDIR", dir.display().to_string())
}

fn current_database_and_user(spec: &ConnectionSpec) -> (String, String) {
    let row = spec
        .connect()
        .unwrap()
        .query_one("SELECT current_database()::text, current_user::text", &[])
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn service_file_names_the_database() {
    let db = ScratchDb::new("svc", "");
    let dir = tempfile::tempdir().unwrap();
    let file = support::service_file(dir.path(), "pum_it", &db.name);
    let env = isolated_env(dir.path()).set("PGSERVICEFILE", file.display().to_string());
    let spec = ConnectionSpec::resolve_with("pum_it", &env).unwrap();
    assert_eq!(current_database_and_user(&spec).0, db.name);

    // service= inside a keyword string, with an override of the database.
    let spec = ConnectionSpec::resolve_with("service=pum_it dbname=postgres", &env).unwrap();
    assert_eq!(current_database_and_user(&spec).0, "postgres");
}

#[test]
fn system_service_file_is_used_through_pgsysconfdir() {
    let db = ScratchDb::new("sysconf", "");
    let dir = tempfile::tempdir().unwrap();
    support::service_file(dir.path(), "pum_sys", &db.name);
    let spec = ConnectionSpec::resolve_with("pum_sys", &isolated_env(dir.path())).unwrap();
    assert_eq!(current_database_and_user(&spec).0, db.name);
}

fn write_pgpass(dir: &std::path::Path, line: &str, mode: u32) -> std::path::PathBuf {
    let path = dir.join("pgpass");
    std::fs::write(&path, format!("# test file\n{line}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace(':', "\\:")
}

fn password_spec(pgpass_line: &str, mode: u32) -> (ConnectionSpec, tempfile::TempDir) {
    let (role, _) = support::password_role();
    let server = support::spec();
    let dir = tempfile::tempdir().unwrap();
    let file = write_pgpass(dir.path(), pgpass_line, mode);
    let env = isolated_env(dir.path()).set("PGPASSFILE", file.display().to_string());
    let spec = ConnectionSpec::resolve_with(
        &format!(
            "host='{}' port={} user={role} dbname=postgres",
            server.host(),
            server.port()
        ),
        &env,
    )
    .unwrap();
    (spec, dir)
}

#[test]
fn password_comes_from_pgpass() {
    let (role, password) = support::password_role();
    let server = support::spec();
    let line = format!(
        "{}:{}:*:{role}:{}",
        escape(server.host()),
        server.port(),
        escape(password)
    );
    let (spec, _dir) = password_spec(&line, 0o600);
    assert!(spec.warnings().is_empty(), "{:?}", spec.warnings());
    assert_eq!(current_database_and_user(&spec).1, role);
}

#[test]
fn wrong_pgpass_password_is_refused_without_showing_it() {
    if !support::own_server_or_note("wrong_pgpass_password_is_refused_without_showing_it") {
        return;
    }
    let (role, _) = support::password_role();
    let (spec, _dir) = password_spec(&format!("*:*:*:{role}:not-the-password"), 0o600);
    let err = spec.connect().err().expect("the connection must fail");
    assert_eq!(err.sqlstate(), Some("28P01"), "{err}");
    assert!(!err.to_string().contains("not-the-password"), "{err}");
}

#[test]
fn world_readable_pgpass_is_ignored_with_a_warning() {
    if !support::own_server_or_note("world_readable_pgpass_is_ignored_with_a_warning") {
        return;
    }
    let (role, password) = support::password_role();
    let (spec, dir) = password_spec(&format!("*:*:*:{role}:{}", escape(password)), 0o644);
    assert_eq!(
        spec.warnings(),
        [format!(
            "password file \"{}\" has group or world access; permissions should be u=rw (0600) \
             or less; ignored",
            dir.path().join("pgpass").display()
        )]
    );
    let err = spec.connect().err().expect("the connection must fail");
    assert!(
        err.to_string().ends_with(
            "(no password was given: password=, PGPASSWORD or a matching password file line)"
        ),
        "{err}"
    );
}

#[test]
fn wrong_password_in_a_url_is_masked_in_the_error() {
    if !support::own_server_or_note("wrong_password_in_a_url_is_masked_in_the_error") {
        return;
    }
    let (role, _) = support::password_role();
    let server = support::spec();
    let spec = ConnectionSpec::resolve_with(
        &format!(
            "host='{}' port={} user={role} password=hunter2 dbname=postgres",
            server.host(),
            server.port()
        ),
        &Environment::empty(),
    )
    .unwrap();
    let err = spec
        .connect()
        .err()
        .expect("the connection must fail")
        .to_string();
    assert!(err.contains("password=********"), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn silent_server_times_out_instead_of_hanging() {
    // A listener that accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            std::thread::sleep(Duration::from_secs(10));
            drop(stream);
        }
    });
    let spec = ConnectionSpec::resolve_with(
        &format!("host=127.0.0.1 port={port} user=u dbname=d connect_timeout=2"),
        &Environment::empty(),
    )
    .unwrap();
    let started = Instant::now();
    let err = spec.connect().err().expect("the connection must fail");
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    assert!(
        elapsed < Duration::from_secs(5),
        "gave up after {elapsed:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "could not connect to host=127.0.0.1 port={port} user=u dbname=d: \
             no answer within 2 s (connect_timeout)"
        )
    );
}

#[test]
fn refused_connection_is_a_one_line_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let spec = ConnectionSpec::resolve_with(
        &format!("postgresql://u@127.0.0.1:{port}/d"),
        &Environment::empty(),
    )
    .unwrap();
    let err = spec
        .connect()
        .err()
        .expect("the connection must fail")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "could not connect to host=127.0.0.1 port={port} user=u dbname=d: "
        )),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn missing_database_is_reported_with_its_sqlstate() {
    let err = support::spec()
        .with_dbname("pum_it_no_such_database")
        .connect()
        .err()
        .expect("the connection must fail");
    assert_eq!(err.sqlstate(), Some("3D000"), "{err}");
    assert!(
        err.to_string()
            .contains("database \"pum_it_no_such_database\" does not exist"),
        "{err}"
    );
}
