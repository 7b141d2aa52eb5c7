//! `pum lint` as users run it: the three formats (exact output for one finding), exit
//! statuses, `-p` (pending versions only, the database only read) and bad input (one
//! line, exit status 2, no scratch database left behind).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::project::Project;
use crate::support::{self, Bounded, ScratchDb};

const YAML: &str = "pum: {module: lintdemo, migration_table_schema: lintdemo_sys}\n";

const BASE: &str = "CREATE SCHEMA shop;\n\
    CREATE TABLE shop.item (id integer PRIMARY KEY, price integer);\n\
    INSERT INTO shop.item SELECT g, g FROM generate_series(1, 1000) g;\n";

/// A project: version 1.0.0 ([`BASE`]) and 1.1.0's file `01.sql`.
fn project(file: &str) -> Project {
    Project::new(
        YAML,
        &[
            ("changelogs/1.0.0/01_item.sql", BASE),
            ("changelogs/1.1.0/01.sql", file),
        ],
    )
}

/// Runs `pum` in `dir`; returns its pid and output.
fn pum(dir: &Path, args: &[&str]) -> (u32, Output) {
    let child = Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child.id(), support::child::wait_output(child))
}

/// The scratch databases process `pid` left on the server.
fn left_by(pid: u32) -> Vec<String> {
    support::spec()
        .connect()
        .unwrap()
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&format!("pum\\_lint\\_{pid}\\_%")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const REWRITE: &str = "-- Bigger ids.\nALTER TABLE shop.item\n  ALTER COLUMN id TYPE bigint;\n";

const MESSAGE: &str =
    "shop.item is rewritten (new storage) while the lock blocks every read and write";
const FIX: &str = "add a new column, fill it in batches, then swap; a varchar can grow, and a \
                   constant default (PostgreSQL 11+) needs no rewrite";

#[test]
fn lint_text_names_file_line_table_lock_and_fix_and_exits_1() {
    let project = project(REWRITE);
    let (pid, out) = pum(project.path(), &["lint"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "changelogs/1.1.0/01.sql:2: error[rewrite]: ALTER TABLE shop.item\n  {MESSAGE}\n  \
             table shop.item, lock ACCESS EXCLUSIVE\n  fix: {FIX}\n"
        )
    );
    assert!(
        stderr(&out).contains("pum lint: 2 versions (1.0.0 to 1.1.0), 4 statements: 1 error(s)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(left_by(pid), Vec::<String>::new());
}

#[test]
fn lint_json_is_an_array_of_findings() {
    let project = project(REWRITE);
    let (_, out) = pum(
        project.path(),
        &["lint", "--format", "json", "--from", "1.0.0"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        found,
        serde_json::json!([{
            "rule": "rewrite",
            "severity": "error",
            "file": "changelogs/1.1.0/01.sql",
            "line": 2,
            "statement": "ALTER TABLE shop.item",
            "table": "shop.item",
            "lock": "ACCESS EXCLUSIVE",
            "message": MESSAGE,
            "fix": FIX,
        }])
    );
}

#[test]
fn lint_github_prints_workflow_annotations() {
    let project = project(REWRITE);
    let (_, out) = pum(project.path(), &["lint", "--format", "github"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "::error file=changelogs/1.1.0/01.sql,line=2,title=pum lint%3A rewrite::shop.item \
             (ACCESS EXCLUSIVE lock): {MESSAGE}. Fix: {FIX}\n"
        )
    );
}

#[test]
fn lint_exits_0_with_warnings_only_or_allowed_findings() {
    let project = project(
        "ALTER TABLE shop.item RENAME COLUMN price TO cost;\n\
         -- pum:allow rewrite\nALTER TABLE shop.item ALTER COLUMN id TYPE bigint;\n",
    );
    let (_, out) = pum(project.path(), &["lint", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found[0]["rule"], "breaking-rename");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    assert!(stderr(&out).contains("1 allowed"), "{}", stderr(&out));

    let clean = self::project("ALTER TABLE shop.item ADD COLUMN flag boolean DEFAULT false;\n");
    let (_, out) = pum(clean.path(), &["lint"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn lint_with_p_checks_only_pending_versions_and_leaves_the_database_alone() {
    let project = project(REWRITE);
    project.write(
        "changelogs/1.2.0/01.sql",
        "CREATE INDEX item_price ON shop.item (price);\n",
    );
    let db = ScratchDb::new("lint_p", "");
    let url = db.spec().url();
    let (_, out) = pum(
        project.path(),
        &["-p", &url, "install", "--max-version", "1.1.0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (_, out) = pum(project.path(), &["-p", &url, "lint", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["rule"], "blocking-index");
    assert_eq!(found[0]["lock"], "SHARE");
    assert!(
        stderr(&out).contains("pum lint: version 1.2.0"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        db.strings(
            "SELECT max(version) || ' ' || (SELECT count(*) FROM pg_indexes \
             WHERE schemaname = 'shop') FROM lintdemo_sys.pum_migrations"
        ),
        ["1.1.0 1"]
    );
}

/// One line on standard error, exit status 2, and no scratch database left.
fn bad_input(project: &Project, args: &[&str], says: &str) {
    let (pid, out) = pum(project.path(), args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("pum: error: "), "{err}");
    assert!(err.contains(says), "{says} in {err}");
    assert_eq!(stdout(&out), "");
    assert_eq!(left_by(pid), Vec::<String>::new());
}

#[test]
fn lint_bad_input_is_one_line_exit_2_and_leaves_nothing() {
    let project = project("SELECT 1;\n-- pum:allow rewrites\nSELECT 2;\n");
    bad_input(
        &project,
        &["lint"],
        "changelogs/1.1.0/01.sql:2:1: -- pum:allow rewrites: unknown rule",
    );
    let project = self::project("-- pum:no-transactions\nSELECT 1;\n");
    bad_input(
        &project,
        &["lint"],
        "changelogs/1.1.0/01.sql:1:1: unknown directive -- pum:no-transactions",
    );
    bad_input(
        &project,
        &["lint", "--from", "0.9.0"],
        "--from 0.9.0: no such version",
    );
    bad_input(&project, &["lint", "--from", "abc"], "abc");
    bad_input(
        &project,
        &["lint", "--format", "xml"],
        "invalid value 'xml'",
    );
    let project = self::project("SELECT 1;\nSELECT $$never ends;\n");
    bad_input(&project, &["lint"], "changelogs/1.1.0/01.sql:2:");
    // Refused by the server while the scratch database exists: it is dropped all the same.
    let project = self::project("SELECT 1;\nALTER TABLE shop.nope ADD x int;\n");
    bad_input(&project, &["lint"], "changelogs/1.1.0/01.sql:2:1: 42P01");
    let project = Project::new(
        &format!("{YAML}lint:\n  allow:\n    changelogs/1.1.0/01.sql: [rewrite, dataloss]\n"),
        &[
            ("changelogs/1.0.0/01_item.sql", BASE),
            ("changelogs/1.1.0/01.sql", "SELECT 1;\n"),
        ],
    );
    bad_input(&project, &["lint"], ".pum.yaml:4:");
}

#[test]
fn lint_help_lists_the_formats() {
    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .args(["lint", "--help"])
        .bounded_output();
    let help = stdout(&out);
    assert!(help.contains("github"), "{help}");
    assert!(help.contains("--from"), "{help}");
}
