//! The `pum` binary, run as a user would, against a server named by a service file.

use crate::support::Bounded;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::eventually;
use crate::support::{self, ScratchDb, exists, unique_name};

/// A directory with a service file naming `dbname` as service `pum_cli`.
struct Services {
    dir: tempfile::TempDir,
}

impl Services {
    fn for_db(dbname: &str) -> Services {
        let dir = tempfile::tempdir().unwrap();
        support::service_file(dir.path(), "pum_cli", dbname);
        Services { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `pum ARGS` with only this directory's service file visible.
    fn pum(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("PGSYSCONFDIR", self.path())
            .env("HOME", self.path())
            .args(args)
            .stdin(Stdio::null())
            .bounded_output()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failure: exit status 2 and exactly one line on stderr, which is returned.
fn one_line_error(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {text}");
    assert_eq!(text.lines().count(), 1, "one line expected: {text}");
    assert!(text.starts_with("pum: error: "), "{text}");
    text.trim_end().to_string()
}

#[test]
fn db_create_and_drop_through_a_service() {
    let services = Services::for_db("postgres");
    let name = unique_name("cli");
    let _cleanup = ScratchDb::named(name.clone());

    let out = services.pum(&["-p", "pum_cli", "db", "create", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), format!("created database \"{name}\"\n"));
    assert!(exists(&name));

    // No terminal to confirm on and no --force: refused, nothing dropped.
    let out = services.pum(&["-p", "pum_cli", "db", "drop", &name]);
    assert_eq!(
        one_line_error(&out),
        format!(
            "pum: error: refusing to drop database \"{name}\" without --force: standard input \
             is not a terminal to confirm on"
        )
    );
    assert!(exists(&name));

    let out = services.pum(&["-s", "pum_cli", "-q", "db", "drop", &name, "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "-q prints nothing on success");
    assert!(!exists(&name));
}

#[test]
fn db_drop_refuses_maintenance_databases_even_with_force() {
    let services = Services::for_db("postgres");
    let out = services.pum(&["-p", "pum_cli", "db", "drop", "template1", "--force"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: refusing to drop database \"template1\": it is one of the databases every \
         server needs (postgres, template0, template1)"
    );
    assert!(exists("template1"));
    let db = ScratchDb::new("cliself", "");
    let own = Services::for_db(&db.name);
    let out = own.pum(&["-p", "pum_cli", "db", "drop", &db.name, "--force"]);
    assert!(
        one_line_error(&out).contains("it is the database the connection names"),
        "{}",
        stderr(&out)
    );
    assert!(exists(&db.name));
}

#[test]
fn db_drop_if_exists_says_whether_it_dropped_anything() {
    let services = Services::for_db("postgres");
    let name = unique_name("cligone");
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "db",
        "drop",
        &name,
        "--force",
        "--if-exists",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("database \"{name}\" does not exist; nothing dropped\n")
    );
    let db = ScratchDb::new("clithere", "");
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "db",
        "drop",
        &db.name,
        "--force",
        "--if-exists",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), format!("dropped database \"{}\"\n", db.name));
    assert!(!exists(&db.name));
}

#[test]
fn db_create_from_a_template() {
    let source = ScratchDb::new(
        "clisrc",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('x')",
    );
    let services = Services::for_db("postgres");
    let copy = ScratchDb::named(unique_name("clicopy"));
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "db",
        "create",
        &copy.name,
        "--template",
        &source.name,
        "--strategy",
        "file-copy",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(copy.strings("SELECT v FROM t"), ["x"]);
}

#[test]
fn db_access_revokes_public() {
    let db = ScratchDb::new("cliaccess", "");
    let services = Services::for_db("postgres");
    let out = services.pum(&["-p", "pum_cli", "db", "access", &db.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut client = support::spec().connect().unwrap();
    let role = unique_name("nobody");
    client
        .batch_execute(&format!("CREATE ROLE {role}"))
        .unwrap();
    let allowed: bool = client
        .query_one(
            "SELECT has_database_privilege($1, $2, 'CONNECT')",
            &[&role, &db.name],
        )
        .unwrap()
        .get(0);
    client.batch_execute(&format!("DROP ROLE {role}")).unwrap();
    assert!(!allowed);
}

#[test]
fn dump_and_restore_round_trip() {
    let source = ScratchDb::new(
        "clidump",
        "CREATE SCHEMA keep; CREATE TABLE keep.t (v text); INSERT INTO keep.t VALUES ('kept');
         CREATE SCHEMA skip; CREATE TABLE skip.t (v text);",
    );
    let target = ScratchDb::new("clirestore", "");
    let from = Services::for_db(&source.name);
    let to = Services::for_db(&target.name);
    for (format, name) in [("custom", "a.dump"), ("plain", "a.sql")] {
        let file: PathBuf = from.path().join(name);
        let file = file.to_str().unwrap();
        let out = from.pum(&["-p", "pum_cli", "dump", file, "-f", format, "-N", "skip"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("dumped database \"{}\" to {file}\n", source.name)
        );

        let out = to.pum(&["-p", "pum_cli", "restore", file]);
        if format == "custom" {
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(target.strings("SELECT v FROM keep.t"), ["kept"]);
            assert!(
                target
                    .strings("SELECT nspname::text FROM pg_namespace WHERE nspname = 'skip'")
                    .is_empty()
            );
        } else {
            // The second restore collides with the first: refused as a whole…
            let text = one_line_error(&out);
            assert!(text.starts_with("pum: error: psql failed"), "{text}");
            assert!(text.contains("already exists"), "{text}");
            // …or pushed through with -x, which warns about what it ignored.
            let out = to.pum(&["-p", "pum_cli", "restore", file, "-x"]);
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(
                stderr(&out).starts_with("pum: warning: "),
                "{}",
                stderr(&out)
            );
            assert_eq!(target.strings("SELECT v FROM keep.t"), ["kept", "kept"]);
        }
    }
}

#[test]
fn bad_input_gets_one_line_and_changes_nothing() {
    let services = Services::for_db("postgres");

    let long = format!("pum_cli_{}", "y".repeat(56));
    let out = services.pum(&["-p", "pum_cli", "db", "create", &long]);
    assert_eq!(
        one_line_error(&out),
        format!(
            "pum: error: invalid database name \"{long}\": 64 bytes long, PostgreSQL keeps at \
             most 63"
        )
    );
    assert!(!exists(&long[..63]));

    let out = services.pum(&["-p", "no_such_service", "db", "create", "x"]);
    assert_eq!(
        one_line_error(&out),
        format!(
            "pum: error: service \"no_such_service\" not found (searched: {}/.pg_service.conf, \
             {}/pg_service.conf)",
            services.path().display(),
            services.path().display()
        )
    );

    let broken = services.path().join("broken.conf");
    std::fs::write(&broken, "[b]\nhost /tmp\n").unwrap();
    let out = services.pum(&["-p", "service=b sslmode=disable", "db", "create", "x"]);
    let text = one_line_error(&out);
    assert!(text.contains("service \"b\" not found"), "{text}");
    let mut command_env = Command::new(env!("CARGO_BIN_EXE_pum"));
    let out = command_env
        .env("PGSERVICEFILE", &broken)
        .env("PGSYSCONFDIR", services.path())
        .args(["-p", "b", "db", "create", "x"])
        .stdin(Stdio::null())
        .bounded_output();
    assert_eq!(
        one_line_error(&out),
        format!(
            "pum: error: service file {}:2: syntax error: expected key=value",
            broken.display()
        )
    );

    let out = services.pum(&["-p", "host=/tmp port=nope", "db", "create", "x"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: connection string: invalid port \"nope\""
    );
}

#[test]
fn usage_errors_name_what_is_missing_and_the_right_help() {
    let db = ScratchDb::new("cliusage", "CREATE TABLE t (id int);");
    let services = Services::for_db(&db.name);
    let out = services.pum(&["-p", "pum_cli", "check"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: check needs the database to compare with (pum -p LEFT check CONNECTION), \
         or --changelogs to compare with a fresh install (see pum check --help)"
    );
    // -i takes one or more kinds: the database after them is not swallowed.
    let out = services.pum(&["-p", "pum_cli", "check", "-i", "views", "tables", "pum_cli"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("no difference"), "{text}");
    let out = services.pum(&["-p", "pum_cli", "check", "-i", "nokind", "pum_cli"]);
    assert!(one_line_error(&out).contains("nokind"));
    let out = services.pum(&["server", "psql", "x", "-c", "SELECT 1"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: unexpected argument '-c' found; to pass '-c' as a value, use '-- -c' \
         (see pum server psql --help)"
    );
    let out = services.pum(&["install", "-p", "SRID"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: 2 values required for '--parameter <NAME> <VALUE>' but 1 was provided \
         (see pum install --help)"
    );
    let out = services.pum(&["db", "create"]);
    assert_eq!(
        one_line_error(&out),
        "pum: error: the following required arguments were not provided: <NAME> \
         (see pum db create --help)"
    );
}

#[test]
fn unreachable_server_fails_fast_without_showing_the_password() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let services = Services::for_db("postgres");
    let url = format!("postgresql://me:hunter2@127.0.0.1:{port}/db?connect_timeout=2");
    let out = services.pum(&["-p", &url, "db", "create", "x"]);
    let text = one_line_error(&out);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.starts_with(&format!(
            "pum: error: could not connect to host=127.0.0.1 port={port} user=me dbname=postgres \
             password=********: "
        )),
        "{text}"
    );
}

/// Runs `pum ARGS` on a pseudo-terminal (util-linux `script`), typing `answer` once the
/// terminal shows `prompt` (so the answer is read by the prompt, not echoed before it).
fn pum_on_terminal(services: &Services, args: &str, prompt: &str, answer: &str) -> Output {
    use std::io::{Read, Write};
    use std::time::Duration;
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_pum")))
        .arg("/dev/null")
        .env("PGSYSCONFDIR", services.path())
        .env("HOME", services.path())
        .env_remove("PGSERVICE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (chunks, received) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            if chunks.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let mut screen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !String::from_utf8_lossy(&screen).contains(prompt) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match received.recv_timeout(left) {
            Ok(chunk) => screen.extend(chunk),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the terminal never showed {prompt:?}; it shows: {}",
                    String::from_utf8_lossy(&screen)
                );
            }
        }
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let status = crate::support::child::wait(&mut child);
    // The reader ends with the pipe; a grandchild holding it is waited for a little only.
    while let Ok(chunk) = received.recv_timeout(Duration::from_secs(5)) {
        screen.extend(chunk);
    }
    Output {
        status,
        stdout: screen,
        stderr: stderr.join().unwrap_or_default(),
    }
}

#[test]
fn drop_asks_on_a_terminal() {
    let services = Services::for_db("postgres");
    let db = ScratchDb::new("cliask", "");

    let drop = format!("-p pum_cli db drop {}", db.name);
    let out = pum_on_terminal(&services, &drop, "[y/N]", "n\n");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{screen}");
    assert!(
        screen.contains(&format!("Drop database \"{}\" on ", db.name)),
        "{screen}"
    );
    assert!(screen.contains("not dropped"), "{screen}");
    assert!(exists(&db.name));

    let out = pum_on_terminal(&services, &drop, "[y/N]", "y\n");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}");
    assert!(!exists(&db.name));
}

#[test]
fn install_upgrade_info_and_validate_from_the_command_line() {
    let project = crate::support::project::shop();
    let db = ScratchDb::new("climig", "");
    let services = Services::for_db(&db.name);
    let dir = project.path().to_str().unwrap().to_string();
    let pum = |args: &[&str]| {
        let mut all = vec!["-p", "pum_cli", "-d", dir.as_str()];
        all.extend_from_slice(args);
        services.pum(&all)
    };

    // Nothing installed yet: validate and upgrade say so, and fail.
    for command in ["validate", "upgrade"] {
        let text = one_line_error(&pum(&[command]));
        assert!(
            text.starts_with("pum: error: shop.pum_migrations does not exist: not installed; "),
            "{command}: {text}"
        );
    }

    let out = pum(&["install", "-p", "SRID", "21781", "--max-version", "1.1.0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "applying 1.0.0: changelogs/1.0.0/01_schema.sql\n\
         applying 1.0.0: changelogs/1.0.0/02_label.sql\n\
         applying 1.1.0: changelogs/1.1.0/01_name.sql\n\
         installed 2 version(s) (3 file(s)); now at 1.1.0\n"
    );
    assert_eq!(db.strings("SELECT column_default::text FROM information_schema.columns WHERE table_name = 'item' AND column_name = 'srid'"), ["21781"]);

    let out = pum(&["info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "module shop at version 1.1.0 (shop.pum_migrations)"
    );
    assert!(lines[2].starts_with("1.0.0    applied "), "{text}");
    assert!(lines[2].ends_with("01_schema.sql, 02_label.sql"), "{text}");
    assert_eq!(
        lines[4],
        "1.9.0    pending       -                    01_price.sql"
    );
    assert_eq!(
        lines[5],
        "1.10.0   pending       -                    01_stock.sql"
    );

    let out = pum(&["info", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["current_version"], "1.1.0");
    assert_eq!(json["versions"][3]["status"], "pending");

    let out = pum(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    project.write("changelogs/1.1.0/01_name.sql", "-- rewritten\n");
    let out = pum(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "changelogs/1.1.0/01_name.sql (changed)\n"
    );

    let out = pum(&["-q", "upgrade", "--strict", "-p", "SRID", "21781"]);
    let text = one_line_error(&out);
    assert!(
        text.contains("changelogs/1.1.0/01_name.sql (changed)"),
        "{text}"
    );
    let out = pum(&["-q", "upgrade", "-p", "SRID", "21781"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "pum: warning: applied file(s) changed since they were applied: \
         changelogs/1.1.0/01_name.sql (changed)\n"
    );
    assert_eq!(
        db.strings("SELECT max(version::text) FROM shop.pum_migrations WHERE version LIKE '1.10%'"),
        ["1.10.0"]
    );
}

#[test]
fn a_negative_number_is_a_parameter_value() {
    let project = crate::support::project::shop();
    let db = ScratchDb::new("clineg", "");
    let services = Services::for_db(&db.name);
    let dir = project.path().to_str().unwrap().to_string();
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "-d",
        &dir,
        "install",
        "-p",
        "SRID",
        "-5",
        "--max-version",
        "1.0.0",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        db.strings(
            "SELECT column_default::text FROM information_schema.columns \
             WHERE table_name = 'item' AND column_name = 'srid'"
        ),
        ["'-5'::integer"]
    );
}

#[test]
fn migrate_bad_input_is_one_line() {
    let project = crate::support::project::shop();
    let db = ScratchDb::new("climigbad", "");
    let services = Services::for_db(&db.name);
    let dir = project.path().to_str().unwrap().to_string();
    let pum = |args: &[&str]| {
        let mut all = vec!["-p", "pum_cli", "-d", dir.as_str()];
        all.extend_from_slice(args);
        services.pum(&all)
    };

    project.write(".pum.yaml", "pum:\n  module: shop\n  migration_schema: x\n");
    let text = one_line_error(&pum(&["install"]));
    assert!(
        text.starts_with(&format!(
            "pum: error: {dir}/.pum.yaml:3:3: unknown field `migration_schema`, expected one of"
        )),
        "{text}"
    );
    project.write(
        ".pum.yaml",
        "pum: {module: shop, migration_table_schema: shop}\n",
    );
    assert_eq!(
        one_line_error(&pum(&["install", "-p", "SRID", "1"])),
        "pum: error: parameter SRID: unknown parameter (defined: none)"
    );
    project.write("changelogs/v2/01.sql", "SELECT 1;");
    assert_eq!(
        one_line_error(&pum(&["install"])),
        format!(
            "pum: error: {dir}/changelogs/v2: not a version directory: invalid version \"v2\": \
             only numbers separated by dots are versions (like 1.2 or 1.2.3)"
        )
    );
    let out = pum(&["upgrade", "--max-version", "latest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid version \"latest\""),
        "{}",
        stderr(&out)
    );
    assert!(
        db.strings("SELECT nspname::text FROM pg_namespace WHERE nspname = 'shop'")
            .is_empty(),
        "nothing changed"
    );
}

#[test]
fn check_exit_status_formats_and_output_file() {
    let a = ScratchDb::new("clichk_a", "CREATE TABLE public.t (a int DEFAULT 1)");
    let b = ScratchDb::new("clichk_b", "CREATE TABLE public.t (a int DEFAULT 1)");
    let services = Services::for_db(&a.name);
    let other = format!(
        "{} dbname={}",
        {
            let s = support::spec();
            format!("host='{}' port={} user='{}'", s.host(), s.port(), s.user())
        },
        b.name
    );

    let out = services.pum(&["-p", "pum_cli", "check", &other]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("no difference\n"));

    b.client()
        .batch_execute("ALTER TABLE public.t ALTER COLUMN a SET DEFAULT 2")
        .unwrap();
    let out = services.pum(&["-p", "pum_cli", "check", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("columns (0 only left, 0 only right, 1 different)\n  ~ public.t.a\n      default:\n        left:  1\n        right: 2\n"), "{text}");
    assert!(!text.contains('\x1b'), "no colours when not on a terminal");

    let out = services.pum(&["-p", "pum_cli", "check", &other, "-i", "columns", "tables"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let file = services.path().join("report.json");
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "check",
        &other,
        "-f",
        "json",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["total_differences"], 1);
    assert_eq!(json["passed"], false);

    let out = services.pum(&["-p", "pum_cli", "check", &other, "-i", "colums"]);
    let text = one_line_error(&out);
    assert!(
        text.starts_with(
            "pum: error: unknown kind of object \"colums\" (known: schemas, tables, columns,"
        ),
        "{text}"
    );

    // A comparison that fails leaves the previous report in place.
    let before = std::fs::read_to_string(&file).unwrap();
    let missing = format!(
        "{} dbname=pum_no_such_db",
        other.rsplit_once(' ').unwrap().0
    );
    let out = services.pum(&[
        "-p",
        "pum_cli",
        "check",
        &missing,
        "-o",
        file.to_str().unwrap(),
    ]);
    one_line_error(&out);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

#[test]
fn dump_to_a_device_writes_through_it() {
    let source = ScratchDb::new("clinull", "CREATE TABLE t (x int)");
    let services = Services::for_db(&source.name);
    let out = services.pum(&["-p", "pum_cli", "dump", "/dev/null"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(!meta.is_file(), "/dev/null is still a device");
}

#[test]
fn a_killed_dump_leaves_no_pg_dump_and_the_next_one_cleans_up() {
    use std::time::Duration;
    let source = ScratchDb::new("clikill", "CREATE TABLE t (x int)");
    // pg_dump waits for this lock, so the dump is still running when it is killed.
    let mut locker = source.client();
    locker
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let services = Services::for_db(&source.name);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.dump");
    let mut child = {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("PGSYSCONFDIR", services.path())
            .env("HOME", services.path())
            .args(["-p", "pum_cli", "dump", file.to_str().unwrap()])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let pum_pid = child.id();
    let children = |pid: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let pg_dump = eventually(Duration::from_secs(10), "pg_dump to start", || {
        children(pum_pid).first().copied()
    });
    // Wait until it writes its temporary file, then kill pum outright.
    let temporary = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".pum-"))
            .count()
    };
    eventually(Duration::from_secs(10), "the temporary file", || {
        (temporary() > 0).then_some(())
    });
    child.kill().unwrap();
    crate::support::child::wait(&mut child);
    // Gone, or a zombie nobody reaps (its parent was pum): either way it ended.
    eventually(Duration::from_secs(5), "pg_dump to end with pum", || {
        let state = std::fs::read_to_string(format!("/proc/{pg_dump}/stat")).unwrap_or_default();
        (state.is_empty()
            || state
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z')))
        .then_some(())
    });
    assert_eq!(
        temporary(),
        1,
        "the killed run's temporary file is still there"
    );
    locker.batch_execute("ROLLBACK").unwrap();

    let out = services.pum(&["-p", "pum_cli", "dump", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(temporary(), 0, "the next dump removed it");
    assert!(file.is_file());
}

/// The backends of `pum` sessions on `db` (pg_stat_activity's application_name) other
/// than `except`.
fn pum_backends(db: &ScratchDb, except: i32) -> Vec<String> {
    support::spec()
        .connect()
        .unwrap()
        .query(
            "SELECT coalesce(state, 'starting') || ': ' || coalesce(wait_event_type, '-') \
             FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'pum' AND pid <> $2",
            &[&db.name, &except],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Whether a `pum` session on `db` (other than `except`) waits for `what`: "the table's
/// lock" (a heavyweight lock wait) or "the migration lock" (polling
/// `pg_try_advisory_lock`, as lock.rs does).
fn pum_waits(db: &ScratchDb, except: i32, what: &str) -> bool {
    let condition = match what {
        "the table's lock" => "wait_event_type = 'Lock'",
        _ => "query LIKE '%pg_try_advisory_lock%'",
    };
    support::spec()
        .connect()
        .unwrap()
        .query_one(
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
                 AND application_name = 'pum' AND pid <> $2 AND {condition}"
            ),
            &[&db.name, &except],
        )
        .unwrap()
        .get::<_, i64>(0)
        > 0
}

#[test]
fn ctrl_c_leaves_nothing_waiting_on_the_server() {
    use std::time::Duration;
    let db = ScratchDb::new("clictrlc", "CREATE TABLE busy (x int)");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join(".pum.yaml"), "pum: {module: m}\n").unwrap();
    std::fs::create_dir_all(project.path().join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        project.path().join("changelogs/1.0.0/01.sql"),
        "ALTER TABLE public.busy ADD COLUMN y int;\n",
    )
    .unwrap();
    let services = Services::for_db(&db.name);

    // Another session holds the table; then another run holds pum's migration lock.
    for (hold, waiting) in [
        (
            "BEGIN; LOCK TABLE public.busy IN ACCESS EXCLUSIVE MODE",
            "the table's lock",
        ),
        (
            "SELECT pg_advisory_lock(7370093, hashtext('public.pum_migrations'))",
            "the migration lock",
        ),
    ] {
        let mut holder = db.client();
        let holder_pid: i32 = holder
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        holder.batch_execute(hold).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env("PGSYSCONFDIR", services.path())
            .env("HOME", services.path())
            .args([
                "-q",
                "-p",
                "pum_cli",
                "-d",
                project.path().to_str().unwrap(),
                "install",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Interrupted while it waits: on the table's lock, or polling for pum's own.
        eventually(Duration::from_secs(10), waiting, || {
            pum_waits(&db, holder_pid, waiting).then_some(())
        });
        let interrupted = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .bounded_status();
        assert!(interrupted.success());
        crate::support::child::wait(&mut child);
        let what = format!("pum's sessions to end after {hold}");
        eventually(Duration::from_secs(5), &what, || {
            pum_backends(&db, holder_pid).is_empty().then_some(())
        });
        holder
            .batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()")
            .unwrap();
        drop(holder);
        assert_eq!(
            db.strings("SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'public.busy'::regclass AND attname = 'y'"),
            ["0"],
            "{hold}: the interrupted change never ran"
        );
    }
}
