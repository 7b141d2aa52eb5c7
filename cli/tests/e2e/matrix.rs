//! The bad-input matrix: dozens of broken inputs across connections, configuration,
//! changelogs and commands, each run as a user would. Every one must give one clear line
//! on standard error, a non-zero exit status, no panic, no password, and change nothing,
//! within 15 seconds.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Bounded, ScratchDb};

/// The password put in every input that takes one: it must never be printed.
const SECRET: &str = "hunter2";

/// One broken input.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// What the error line must say, when the case says.
    expect: Option<String>,
}

fn case(name: &'static str, args: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        expect: None,
    }
}

impl Case {
    fn env(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.env.push((name, value.into()));
        self
    }

    fn expect(mut self, text: impl Into<String>) -> Case {
        self.expect = Some(text.into());
        self
    }
}

/// The sentinel database's objects: what no case may change.
fn fingerprint(db: &ScratchDb) -> Vec<String> {
    db.strings(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
         ORDER BY 1",
    )
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_bad_input_is_one_clear_line_and_changes_nothing() {
    let db = ScratchDb::new("matrix", "CREATE TABLE sentinel (x int)");
    let server = support::spec();
    let socket = server.host().to_string();
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    write(
        h,
        "pg_service.conf",
        &format!(
            "[good]\nhost={socket}\nport={}\nuser={}\ndbname={}\n\
             [broken]\nhost={socket}\npassword {SECRET}\n",
            server.port(),
            server.user(),
            db.name
        ),
    );
    // Projects: a good one, and one broken thing each.
    let good = h.join("good");
    write(
        &good,
        ".pum.yaml",
        "pum: {module: m}\nparameters: [{name: SRID, type: integer, default: 2056}]\n",
    );
    write(
        &good,
        "changelogs/1.0.0/01.sql",
        "CREATE TABLE item (srid int DEFAULT {SRID});\n",
    );
    let project = |name: &str, files: &[(&str, &str)]| -> String {
        let dir = h.join(name);
        write(&dir, ".pum.yaml", "pum: {module: m}\n");
        for (path, text) in files {
            write(&dir, path, text);
        }
        dir.display().to_string()
    };
    let unknown_key = project(
        "unknown_key",
        &[(".pum.yaml", "pum: {module: m}\nchangelog_dir: x\n")],
    );
    let bad_yaml = project("bad_yaml", &[(".pum.yaml", "pum: [unclosed\n")]);
    let bad_default = project(
        "bad_default",
        &[(
            ".pum.yaml",
            "pum: {module: m}\nparameters: [{name: n, type: integer, default: many}]\n",
        )],
    );
    let bad_version = project("bad_version", &[("changelogs/v2/01.sql", "SELECT 1;")]);
    let syntax = project(
        "syntax",
        &[("changelogs/1.0.0/01.sql", "CREATE tabel t (x int);")],
    );
    let quoted = project(
        "quoted",
        &[
            (
                ".pum.yaml",
                "pum: {module: m}\nparameters: [{name: label, default: x}]\n",
            ),
            ("changelogs/1.0.0/01.sql", "SELECT '{label}';"),
        ],
    );
    let begin = project(
        "begin",
        &[("changelogs/1.0.0/01.sql", "BEGIN;\nCREATE TABLE t ();")],
    );
    let unterminated = project(
        "unterminated",
        &[("changelogs/1.0.0/01.sql", "SELECT 'oops;")],
    );
    let copy = project("copy", &[("changelogs/1.0.0/01.sql", "COPY t FROM stdin;")]);
    let dangling = project("dangling", &[("changelogs/1.0.0/01.sql", "SELECT 1;")]);
    std::os::unix::fs::symlink(
        h.join("gone.sql"),
        Path::new(&dangling).join("changelogs/1.0.0/02.sql"),
    )
    .unwrap();
    // Files that are not SQL text, or not files: each named, never skipped or waited on.
    let nul = project(
        "nul",
        &[(
            "changelogs/1.0.0/01.sql",
            "CREATE TABLE t (x int);\nSELECT '\0';\n",
        )],
    );
    let latin1 = project("latin1", &[("changelogs/1.0.0/01.sql", "SELECT 1;")]);
    std::fs::write(
        Path::new(&latin1).join("changelogs/1.0.0/01.sql"),
        b"-- caf\xe9\nSELECT 1;\n",
    )
    .unwrap();
    let not_files = |name: &str, make: &dyn Fn(&Path)| {
        let dir = project(
            name,
            &[("changelogs/1.0.0/01.sql", "CREATE TABLE t (x int);")],
        );
        make(&Path::new(&dir).join("changelogs/1.0.0/02.sql"));
        dir
    };
    let sql_fifo = not_files("sql_fifo", &|p| {
        assert!(Command::new("mkfifo").arg(p).bounded_status().success())
    });
    let sql_dir = not_files("sql_dir", &|p| std::fs::create_dir(p).unwrap());
    let sql_device = not_files("sql_device", &|p| {
        std::os::unix::fs::symlink("/dev/zero", p).unwrap()
    });
    let sql_name = not_files("sql_name", &|p| {
        use std::os::unix::ffi::OsStrExt;
        let bad = p.with_file_name(std::ffi::OsStr::from_bytes(b"02_caf\xe9.sql"));
        std::fs::write(bad, "CREATE TABLE u ();").unwrap();
    });
    let hook_nul = project(
        "hook_nul",
        &[
            (
                ".pum.yaml",
                "pum: {module: m}\napplication:\n  create:\n    - file: app/views.sql\n",
            ),
            ("changelogs/1.0.0/01.sql", "CREATE TABLE t (x int);"),
            (
                "app/views.sql",
                "CREATE VIEW v AS SELECT 1;\n\n  SELECT '\0';",
            ),
        ],
    );
    let deltas = |name: &str, files: &[(&str, &str)]| {
        let dir = h.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (path, text) in files {
            write(&dir, path, text);
        }
        dir
    };
    let delta_nul = deltas("delta_nul", &[("delta_1.0.0_a.sql", "SELECT '\0';")]);
    let delta_fifo = deltas("delta_fifo", &[("delta_1.0.0_a.sql", "SELECT 1;")]);
    assert!(
        Command::new("mkfifo")
            .arg(delta_fifo.join("delta_1.0.1_b.sql"))
            .bounded_status()
            .success()
    );
    let delta_dir = deltas("delta_dir", &[("delta_1.0.0_a.sql/x", "")]);
    let delta_name = deltas("delta_name", &[]);
    {
        use std::os::unix::ffi::OsStrExt;
        std::fs::write(
            delta_name.join(std::ffi::OsStr::from_bytes(b"delta_1.0.0_caf\xe9.sql")),
            "SELECT 1;",
        )
        .unwrap();
    }
    let upgrade_0x = |dir: &Path| -> Vec<String> {
        ["upgrade", "-p", "good", "-t", "public.upgrades", "-d"]
            .iter()
            .map(|s| s.to_string())
            .chain([dir.display().to_string()])
            .collect()
    };
    let missing = h.join("missing").display().to_string();
    // Files.
    let fifo = h.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).bounded_status().success());
    let hostile = h.join("hostile.sql");
    std::fs::write(&hostile, format!("\\! touch {}/owned\n", h.display())).unwrap();
    let plain = h.join("plain.sql");
    std::fs::write(&plain, "CREATE TABLE restored (x int);\n").unwrap();
    let dbname = db.name.clone();
    let g = good.display().to_string();
    let url = |password: &str| format!("postgresql://u:{password}@/{dbname}?host={socket}");
    let (role, _) = support::password_role();
    let wrong_password = format!("postgresql://{role}:{SECRET}@/{dbname}?host={socket}");

    let cases = vec![
        // Connections.
        case(
            "url with a bad escape in its password",
            &["-p", &url("hunter2%zz"), "info"],
        ),
        case(
            "keyword string with a bad port",
            &[
                "-p",
                &format!("host={socket} port=abc password={SECRET}"),
                "info",
            ],
        ),
        case(
            "unknown service",
            &["-p", &format!("service=nope password={SECRET}"), "info"],
        ),
        case(
            "TLS asked of a build without TLS",
            &[
                "-p",
                &format!("host={socket} sslmode=require password={SECRET}"),
                "info",
            ],
        ),
        case(
            "unknown connection option",
            &[
                "-p",
                &format!("host={socket} colour=blue password={SECRET}"),
                "info",
            ],
        ),
        case("service file line without =", &["-p", "broken", "info"]).env(
            "PGSERVICEFILE",
            h.join("pg_service.conf").display().to_string(),
        ),
        case("service file is a FIFO", &["-p", "good", "info"])
            .env("PGSERVICEFILE", fifo.display().to_string()),
        case("service file is /dev/zero", &["-p", "good", "info"])
            .env("PGSERVICEFILE", "/dev/zero"),
        case("connect timeout not a number", &["-p", "good", "info"])
            .env("PGCONNECT_TIMEOUT", "soon"),
        case(
            "a socket directory with no server",
            &[
                "-p",
                &format!("postgresql://u:{SECRET}@/db?host={}", h.display()),
                "info",
            ],
        ),
        case(
            "an unreachable host",
            &[
                "-p",
                &format!("host=10.255.255.1 connect_timeout=2 password={SECRET}"),
                "info",
            ],
        ),
        case("a wrong password", &["-p", &wrong_password, "info"]),
        case(
            "no such database",
            &[
                "-p",
                &format!("host={socket} dbname=pum_no_such_db password={SECRET}"),
                "info",
            ],
        ),
        case(
            "password in PGPASSWORD, no server",
            &["-p", &format!("host={} dbname=x", h.display()), "info"],
        )
        .env("PGPASSWORD", SECRET),
        // Configuration.
        case("no .pum.yaml", &["-p", "good", "-d", &missing, "install"]),
        case(
            "unknown key in .pum.yaml",
            &["-p", "good", "-d", &unknown_key, "install"],
        ),
        case(
            "YAML that does not parse",
            &["-p", "good", "-d", &bad_yaml, "install"],
        ),
        case(
            "a default of the wrong type",
            &["-p", "good", "-d", &bad_default, "install"],
        ),
        case(
            "-c naming a directory",
            &["-p", "good", "-d", &g, "-c", &g, "install"],
        ),
        case(
            "-c naming a FIFO",
            &[
                "-p",
                "good",
                "-d",
                &g,
                "-c",
                &fifo.display().to_string(),
                "install",
            ],
        ),
        // Changelogs.
        case(
            "a directory that is not a version",
            &["-p", "good", "-d", &bad_version, "install"],
        ),
        case("a syntax error", &["-p", "good", "-d", &syntax, "install"]),
        case(
            "a parameter inside quotes",
            &["-p", "good", "-d", &quoted, "install"],
        ),
        case(
            "BEGIN in a changelog",
            &["-p", "good", "-d", &begin, "install"],
        ),
        case(
            "an unterminated string",
            &["-p", "good", "-d", &unterminated, "install"],
        ),
        case("COPY FROM stdin", &["-p", "good", "-d", &copy, "install"]),
        case(
            "a dangling symbolic link",
            &["-p", "good", "-d", &dangling, "install"],
        ),
        case(
            "a NUL byte in a changelog",
            &["-p", "good", "-d", &nul, "install"],
        )
        .expect("changelogs/1.0.0/01.sql:2:9: a NUL byte"),
        case(
            "a changelog that is not UTF-8",
            &["-p", "good", "-d", &latin1, "install"],
        )
        .expect("changelogs/1.0.0/01.sql:1:7: not UTF-8 text (byte 0xE9)"),
        case(
            "a FIFO named .sql",
            &["-p", "good", "-d", &sql_fifo, "install"],
        )
        .expect("changelogs/1.0.0/02.sql: not a regular file"),
        case(
            "a directory named .sql",
            &["-p", "good", "-d", &sql_dir, "install"],
        )
        .expect("changelogs/1.0.0/02.sql: not a regular file"),
        case(
            "a link to a device named .sql",
            &["-p", "good", "-d", &sql_device, "install"],
        )
        .expect("changelogs/1.0.0/02.sql: not a regular file"),
        case(
            "a file name that is not UTF-8",
            &["-p", "good", "-d", &sql_name, "install"],
        )
        .expect("changelogs/1.0.0/02_caf\\xE9.sql: invalid file name: not UTF-8"),
        case(
            "a NUL byte in a hook's SQL file",
            &["-p", "good", "-d", &hook_nul, "install"],
        )
        .expect("app/views.sql:3:11: a NUL byte"),
        Case {
            name: "a NUL byte in a pum 0.x delta",
            args: upgrade_0x(&delta_nul),
            env: vec![],
            expect: Some("delta_1.0.0_a.sql:1:9: a NUL byte".into()),
        },
        Case {
            name: "a FIFO named like a pum 0.x delta",
            args: upgrade_0x(&delta_fifo),
            env: vec![],
            expect: Some("delta_1.0.1_b.sql: not a regular file".into()),
        },
        Case {
            name: "a directory named like a pum 0.x delta",
            args: upgrade_0x(&delta_dir),
            env: vec![],
            expect: Some("delta_1.0.0_a.sql: not a regular file".into()),
        },
        Case {
            name: "a pum 0.x delta name that is not UTF-8",
            args: upgrade_0x(&delta_name),
            env: vec![],
            expect: Some("delta_1.0.0_caf\\xE9.sql: invalid file name: not UTF-8".into()),
        },
        case(
            "an unknown parameter",
            &["-p", "good", "-d", &g, "install", "-p", "NOPE", "1"],
        ),
        case(
            "a parameter of the wrong type",
            &["-p", "good", "-d", &g, "install", "-p", "SRID", "abc"],
        ),
        case(
            "a maximum version that is not one",
            &["-p", "good", "-d", &g, "install", "--max-version", "latest"],
        ),
        case(
            "upgrade of what is not installed",
            &["-p", "good", "-d", &g, "upgrade"],
        ),
        case(
            "validate of what is not installed",
            &["-p", "good", "-d", &g, "validate"],
        ),
        case(
            "baseline that is not a version",
            &["-p", "good", "-d", &g, "baseline", "-b", "1.x"],
        ),
        // Databases, dumps, checks, the server.
        case(
            "a database name over 63 bytes",
            &["-p", "good", "db", "create", &"x".repeat(64)],
        ),
        case(
            "a database that exists",
            &["-p", "good", "db", "create", &dbname],
        ),
        case(
            "a template that does not exist",
            &[
                "-p",
                "good",
                "db",
                "create",
                "pum_matrix_new",
                "--template",
                "pum_no_such_template",
            ],
        ),
        case(
            "dropping template1",
            &["-p", "good", "db", "drop", "template1", "--force"],
        ),
        case(
            "dropping the connected database",
            &["-p", "good", "db", "drop", &dbname, "--force"],
        ),
        case(
            "dropping without a terminal",
            &["-p", "good", "db", "drop", "pum_no_such_db"],
        ),
        case(
            "restoring a missing file",
            &["-p", "good", "restore", &missing],
        ),
        case(
            "restoring a shell command",
            &["-p", "good", "restore", &hostile.display().to_string()],
        ),
        case(
            "-N with a plain file",
            &[
                "-p",
                "good",
                "restore",
                &plain.display().to_string(),
                "-N",
                "x",
            ],
        ),
        case(
            "dumping into a directory",
            &["-p", "good", "dump", &h.display().to_string()],
        ),
        case(
            "an unknown kind of object",
            &["-p", "good", "check", "good", "-i", "colums"],
        ),
        case(
            "comparing with a missing database",
            &[
                "-p",
                "good",
                "check",
                &format!("host={socket} dbname=pum_no_such_db password={SECRET}"),
            ],
        ),
        case("server idle that is not seconds", &["server", "status"])
            .env("PUM_SERVER_IDLE", "soon"),
        case("too few server connections", &["server", "status"])
            .env("PUM_SERVER_MAX_CONNECTIONS", "5"),
    ];

    let before = fingerprint(&db);
    let mut failures = Vec::new();
    for case in &cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("PG") || name.starts_with("PUM_SERVER") {
                command.env_remove(name.as_ref());
            }
        }
        command
            .env("PGSYSCONFDIR", h)
            .env("HOME", h)
            .envs(case.env.iter().map(|(k, v)| (k, v)))
            .args(&case.args)
            .stdin(Stdio::null());
        let started = Instant::now();
        // A case that blocks (a FIFO read) is killed and reported, not waited on forever.
        let out = command.output_within(Duration::from_secs(60));
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit status {:?}, not 2", out.status.code()));
        }
        if stderr.lines().count() != 1 || !stderr.starts_with("pum: error: ") {
            problems.push("not one line starting with \"pum: error: \"".to_string());
        }
        if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
            problems.push("a panic".to_string());
        }
        if stdout.contains(SECRET) || stderr.contains(SECRET) {
            problems.push("the password was printed".to_string());
        }
        if let Some(expected) = &case.expect
            && !stderr.contains(expected.as_str())
        {
            problems.push(format!("does not say {expected:?}"));
        }
        if took > Duration::from_secs(15) {
            problems.push(format!("took {took:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — stderr: {stderr}",
                case.name,
                problems.join(", ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(fingerprint(&db), before, "a case changed the database");
    assert!(!support::exists("pum_matrix_new"));
    assert!(!h.join("owned").exists(), "the shell command never ran");
}
