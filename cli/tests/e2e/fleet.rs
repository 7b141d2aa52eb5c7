//! Fleet commands: one command on every matching database of a server, N at a time.

use std::path::Path;
use std::process::Output;

use crate::support::output::{error, ok, stderr, stdout};
use crate::support::{ScratchDb, spec, unique_name};

fn pum(dir: &Path, args: &[&str]) -> Output {
    crate::pum_in(dir, args)
}

/// Three versions; 1.1.0 creates `fleet.b`, which one database of the test has already.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        ".pum.yaml",
        "pum: {module: fleet, migration_table_schema: fleet}\n",
    );
    write(
        "changelogs/1.0.0/01_a.sql",
        "CREATE TABLE fleet.a (x int);\n",
    );
    write(
        "changelogs/1.1.0/01_b.sql",
        "CREATE TABLE fleet.b (x int);\n",
    );
    write(
        "changelogs/1.2.0/01_c.sql",
        "ALTER TABLE fleet.a ADD COLUMN y int;\n",
    );
    dir
}

/// The version recorded in each database.
fn versions(dbs: &[ScratchDb]) -> Vec<String> {
    dbs.iter()
        .map(|db| {
            let installed = db
                .strings("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'fleet'")
                == ["1"];
            if !installed {
                return "-".into();
            }
            db.strings("SELECT max(version) FROM fleet.pum_migrations")
                .pop()
                .unwrap_or_else(|| "-".into())
        })
        .collect()
}

/// Four databases named `<prefix>0` to `<prefix>3`, and the LIKE pattern of them all.
fn fleet(what: &str) -> (Vec<ScratchDb>, String) {
    let prefix = format!("{}_", unique_name(what));
    let dbs: Vec<ScratchDb> = (0..4)
        .map(|n| {
            let db = ScratchDb::named(format!("{prefix}{n}"));
            pum::create_database(&spec(), &db.name, &Default::default()).unwrap();
            db
        })
        .collect();
    (dbs, format!("{}%", prefix.replace('_', "\\_")))
}

#[test]
fn a_fleet_upgrade_upgrades_every_matching_database_and_reports_each() {
    let dir = project();
    let path = dir.path();
    let (dbs, pattern) = fleet("fleet_up");
    let url = spec().url();
    let base = ["-p", url.as_str(), "--databases", pattern.as_str()];
    let with = |args: &[&str]| -> Vec<String> {
        base.iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let run = |args: &[&str]| {
        let args = with(args);
        pum(path, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Installed at 1.0.0 on all four, two at a time.
    let out = run(&["--jobs", "2", "install", "-u", "1.0.0"]);
    ok(&out);
    assert_eq!(versions(&dbs), ["1.0.0"; 4]);
    assert!(
        stderr(&out).contains("4 database(s): 4 ok, 0 failed"),
        "{}",
        stderr(&out)
    );

    // One of them has fleet.b already: its upgrade fails, whole, and the others go on.
    dbs[2]
        .client()
        .batch_execute("CREATE TABLE fleet.b (x int)")
        .unwrap();
    let out = run(&["--jobs", "3", "upgrade"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(versions(&dbs), ["1.2.0", "1.2.0", "1.0.0", "1.2.0"]);
    assert_eq!(
        dbs[2].strings(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 'fleet.a'::regclass \
             AND attnum > 0 ORDER BY attnum"
        ),
        ["x"],
        "nothing of the failed run stays"
    );
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[0].starts_with("database"), "{table}");
    for (n, line) in lines[1..].iter().enumerate() {
        assert!(line.starts_with(&dbs[n].name), "{table}");
        if n == 2 {
            assert!(line.contains("failed: "), "{table}");
            assert!(line.contains("01_b.sql"), "{table}");
            assert!(line.contains("already exists"), "{table}");
        } else {
            assert!(line.contains("1.0.0 → 1.2.0"), "{table}");
            assert!(line.ends_with("  ok"), "{table}");
        }
    }
    assert!(
        stderr(&out).contains("4 database(s): 3 ok, 1 failed"),
        "{}",
        stderr(&out)
    );

    // Fixed, a rerun upgrades what was not done and leaves the others as they are.
    dbs[2].client().batch_execute("DROP TABLE fleet.b").unwrap();
    let out = run(&["upgrade", "--format", "json"]);
    ok(&out);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let detail: Vec<&str> = rows.iter().map(|r| r["detail"].as_str().unwrap()).collect();
    assert_eq!(
        detail,
        [
            "1.2.0 → 1.2.0",
            "1.2.0 → 1.2.0",
            "1.0.0 → 1.2.0",
            "1.2.0 → 1.2.0"
        ]
    );
    assert!(rows.iter().all(|r| r["ok"] == true && r["error"].is_null()));
    assert_eq!(
        rows[2]["result"]["applied"],
        serde_json::json!(["1.1.0", "1.2.0"])
    );
    assert_eq!(versions(&dbs), ["1.2.0"; 4]);

    // An install rerun is not a failure; the read-only verbs answer per database.
    let out = run(&["install"]);
    ok(&out);
    assert_eq!(stdout(&out).matches("1.2.0 (installed already)").count(), 4);
    let out = run(&["current"]);
    ok(&out);
    assert_eq!(
        stdout(&out).matches(" 1.2.0 ").count(),
        4,
        "{}",
        stdout(&out)
    );
    let out = run(&["info"]);
    ok(&out);
    assert_eq!(stdout(&out).matches("1.2.0, 0 pending").count(), 4);
    let out = run(&["--jobs", "4", "check", "--changelogs"]);
    ok(&out);
    assert_eq!(stdout(&out).matches("same as its changelogs").count(), 4);
    // An applied file edited since: validate and check say so for every database.
    std::fs::write(
        path.join("changelogs/1.2.0/01_c.sql"),
        "ALTER TABLE fleet.a ADD COLUMN z int;\n",
    )
    .unwrap();
    let out = run(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out).matches("1 applied file(s) changed").count(),
        4,
        "{}",
        stdout(&out)
    );

    // --databases-from: the databases a file lists, in its order.
    let list = path.join("tenants.txt");
    std::fs::write(
        &list,
        format!("# two of them\n{}\n\n  {}  \n", dbs[3].name, dbs[1].name),
    )
    .unwrap();
    let out = pum(
        path,
        &[
            "-p",
            &url,
            "--databases-from",
            list.to_str().unwrap(),
            "current",
            "--format",
            "json",
        ],
    );
    ok(&out);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["database"].as_str().unwrap())
        .collect();
    assert_eq!(names, [dbs[1].name.as_str(), dbs[3].name.as_str()]);
}

#[test]
fn fleet_mistakes_are_one_line_errors_that_change_nothing() {
    let dir = project();
    let path = dir.path();
    let (dbs, pattern) = fleet("fleet_bad");
    let url = spec().url();
    let untouched = || assert_eq!(versions(&dbs), ["-"; 4]);
    // The one-line error of `pum -p SERVER ARGS…`.
    let fails = |args: &[&str]| {
        let mut all = vec!["-p", url.as_str()];
        all.extend_from_slice(args);
        error(&pum(path, &all))
    };

    let message = fails(&["--databases", "pum\\_no\\_such\\_%", "upgrade"]);
    assert!(
        message.starts_with(
            "--databases: no database on the server matches LIKE 'pum\\_no\\_such\\_%' (it has "
        ),
        "{message}"
    );
    let message = fails(&["--databases", &pattern, "dump", "x.dump"]);
    assert!(
        message.ends_with("check --changelogs, not dump"),
        "{message}"
    );
    let message = fails(&[
        "--databases",
        &pattern,
        "check",
        "--changelogs",
        "--format",
        "html",
    ]);
    assert!(message.contains("use text or json"), "{message}");
    let message = fails(&["--databases", &pattern, "--jobs", "0", "upgrade"]);
    assert!(message.contains("--jobs"), "{message}");
    let message = error(&pum(
        path,
        &["-p", &dbs[0].spec().url(), "upgrade", "--format", "json"],
    ));
    assert!(
        message.contains("--format json is the format of the table --databases prints"),
        "{message}"
    );

    let from = |file: &Path| fails(&["--databases-from", file.to_str().unwrap(), "install"]);
    let message = from(&path.join("none.txt"));
    assert!(message.contains("none.txt"), "{message}");
    let list = path.join("list.txt");
    std::fs::write(&list, format!("{}\n{}\n", dbs[0].name, "x".repeat(64))).unwrap();
    let message = from(&list);
    assert!(message.contains("list.txt:2: "), "{message}");
    assert!(message.contains("is not a database name"), "{message}");
    std::fs::write(&list, format!("{}\npum_it_fleet_nobody\n", dbs[0].name)).unwrap();
    let message = from(&list);
    assert!(
        message.starts_with("database \"pum_it_fleet_nobody\" does not exist"),
        "{message}"
    );
    std::fs::write(&list, "# nothing\n\n").unwrap();
    let message = from(&list);
    assert!(message.contains("lists no database"), "{message}");
    untouched();
}
