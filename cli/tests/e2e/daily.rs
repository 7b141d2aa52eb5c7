//! The daily verbs from the command line: new, current, downgrade, check --changelogs,
//! and the database chores, with their refusals.

use crate::support::Bounded;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::output::{error, ok, stderr, stdout};
use crate::support::{ScratchDb, unique_name};

fn pum(dir: &Path, args: &[&str]) -> Output {
    crate::pum_in(dir, args)
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".pum.yaml"),
        "pum: {module: notes, migration_table_schema: notes_sys}\n",
    )
    .unwrap();
    dir
}

#[test]
fn new_current_downgrade_and_check_against_the_changelogs() {
    let dir = project();
    let db = ScratchDb::new("cli_daily", "");
    let url = db.spec().url();
    let path = dir.path();

    // The first file of a project with no version yet.
    let out = pum(path, &["new", "Create the notes table"]);
    ok(&out);
    assert_eq!(
        stdout(&out),
        "./changelogs/1.0.0/01_create_the_notes_table.sql\n"
    );
    let first = path.join("changelogs/1.0.0/01_create_the_notes_table.sql");
    assert!(
        std::fs::read_to_string(&first)
            .unwrap()
            .starts_with("-- Create the notes table\n-- version 1.0.0, written by pum new\n")
    );
    std::fs::write(
        &first,
        "CREATE SCHEMA notes; CREATE TABLE notes.note (id int PRIMARY KEY);\n",
    )
    .unwrap();
    let out = pum(path, &["new", "add a title"]);
    assert_eq!(stdout(&out), "./changelogs/1.0.1/01_add_a_title.sql\n");
    std::fs::write(
        path.join("changelogs/1.0.1/01_add_a_title.sql"),
        "ALTER TABLE notes.note ADD COLUMN title text;\n",
    )
    .unwrap();
    std::fs::create_dir_all(path.join("changelogs/1.0.1/down")).unwrap();
    std::fs::write(
        path.join("changelogs/1.0.1/down/01_add_a_title.sql"),
        "ALTER TABLE notes.note DROP COLUMN title;\n",
    )
    .unwrap();
    let out = pum(path, &["new", "second", "--version", "1.0.1"]);
    assert_eq!(stdout(&out), "./changelogs/1.0.1/02_second.sql\n");
    std::fs::remove_file(path.join("changelogs/1.0.1/02_second.sql")).unwrap();
    assert_eq!(
        error(&pum(path, &["new", "→"])),
        "refusing to name a changelog file after \"→\": the message needs letters or digits \
         (ASCII) to make a file name"
    );
    assert_eq!(
        error(&pum(path, &["new", "x", "--version", "1.x"])),
        "invalid value '1.x' for '--version <VERSION>': invalid version \"1.x\": only numbers \
         separated by dots are versions (like 1.2 or 1.2.3) (see pum --help)"
    );

    assert_eq!(
        error(&pum(path, &["-p", &url, "current"])),
        "notes_sys.pum_migrations does not exist: not installed; nothing is installed"
    );
    ok(&pum(path, &["-p", &url, "install"]));
    let out = pum(path, &["-p", &url, "current"]);
    ok(&out);
    assert_eq!(stdout(&out), "1.0.1\n", "alone on its line");
    assert_eq!(stderr(&out), "");

    let out = pum(path, &["-p", &url, "check", "--changelogs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    db.client()
        .batch_execute("ALTER TABLE notes.note ADD COLUMN hand_made int")
        .unwrap();
    let out = pum(path, &["-p", &url, "check", "--changelogs"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("notes.note.hand_made (only left)"),
        "{}",
        stdout(&out)
    );
    db.client()
        .batch_execute("ALTER TABLE notes.note DROP COLUMN hand_made")
        .unwrap();

    let out = pum(path, &["-p", &url, "downgrade", "--to", "1.0.0"]);
    ok(&out);
    assert_eq!(
        stderr(&out),
        "undoing 1.0.1: changelogs/1.0.1/down/01_add_a_title.sql\nundid 1.0.1 (1 down \
         file(s)); now at 1.0.0\n"
    );
    assert_eq!(stdout(&pum(path, &["-p", &url, "current"])), "1.0.0\n");
    assert_eq!(
        error(&pum(path, &["-p", &url, "downgrade", "--to", "0.9"])),
        "cannot downgrade to 0.9: notes_sys.pum_migrations does not record it (recorded: 1.0.0)"
    );
    ok(&pum(path, &["-p", &url, "upgrade"]));
    assert_eq!(stdout(&pum(path, &["-p", &url, "current"])), "1.0.1\n");
}

#[test]
fn database_chores_ask_or_need_force_and_say_what_they_did() {
    let dir = project();
    let path = dir.path();
    let server = crate::support::spec().url();
    let name = unique_name("chores");
    let _cleanup = ScratchDb::named(name.clone());

    let out = pum(
        path,
        &["-p", &server, "db", "create", &name, "--if-not-exists"],
    );
    ok(&out);
    assert_eq!(stderr(&out), format!("created database \"{name}\"\n"));
    let out = pum(
        path,
        &["-p", &server, "db", "create", &name, "--if-not-exists"],
    );
    ok(&out);
    assert_eq!(
        stderr(&out),
        format!("database \"{name}\" exists already; nothing created\n")
    );
    assert_eq!(
        error(&pum(path, &["-p", &server, "db", "create", &name])),
        format!("database \"{name}\" already exists")
    );

    let url = crate::support::spec().with_dbname(&name).url();
    let db = ScratchDb::named(name.clone());
    db.client()
        .batch_execute(
            "CREATE SCHEMA notes; CREATE TABLE notes.note (id int); INSERT INTO notes.note VALUES (1);\
             CREATE TABLE notes.pum_migrations (v text); INSERT INTO notes.pum_migrations VALUES ('1');",
        )
        .unwrap();
    assert_eq!(
        error(&pum(
            path,
            &["-p", &url, "db", "truncate-all", "--schema", "notes"]
        )),
        "refusing to truncate the tables of schema notes without --force: standard input is not a terminal \
         to confirm on"
    );
    assert_eq!(db.strings("SELECT count(*)::text FROM notes.note"), ["1"]);
    let out = pum(
        path,
        &[
            "-p",
            &url,
            "db",
            "truncate-all",
            "--schema",
            "notes",
            "--force",
        ],
    );
    ok(&out);
    assert_eq!(stderr(&out), "truncated 1 table(s)\n");
    assert_eq!(
        db.strings(
            "SELECT (SELECT count(*) FROM notes.note) || ' ' || (SELECT count(*) FROM notes.pum_migrations)"
        ),
        ["0 1"]
    );
    assert_eq!(
        error(&pum(path, &["-p", &url, "db", "drop-all-schemas"])),
        "refusing to drop every schema without --force: standard input is not a terminal to \
         confirm on"
    );
    let out = pum(path, &["-p", &url, "db", "drop-all-schemas", "--force"]);
    ok(&out);
    assert_eq!(
        stderr(&out),
        "dropped 1 schema(s) (notes); public is empty\n"
    );
    let err = error(&pum(
        path,
        &["-p", &server, "db", "drop-all-schemas", "--force"],
    ));
    assert!(
        err.starts_with("refusing to drop every schema in database \"postgres\""),
        "{err}"
    );

    // Roles: a read-only user, its password from the environment; dropping a role.
    let user = unique_name("cliro");
    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .current_dir(path)
        .args([
            "-p",
            &url,
            "role",
            "create-readonly",
            &user,
            "--password-env",
            "RO_PASSWORD",
        ])
        .env("RO_PASSWORD", "secret words")
        .stdin(Stdio::null())
        .bounded_output();
    ok(&out);
    assert_eq!(
        stderr(&out),
        format!("created read-only user {user} in group {user}_ro (reads public)\n")
    );
    assert_eq!(
        error(&pum(
            path,
            &["-p", &url, "role", "create-readonly", "someone"]
        )),
        "refusing to pum role create-readonly: a read-only user needs a password: \
         --password-env VARIABLE or --password"
    );
    let out = pum(path, &["-p", &url, "role", "drop", &user]);
    ok(&out);
    assert_eq!(
        stderr(&out),
        format!("dropped role {user} and what it owned here\n")
    );
    ok(&pum(
        path,
        &["-p", &url, "role", "drop", &format!("{user}_ro")],
    ));
    let out = pum(path, &["-p", &url, "role", "drop", &user]);
    ok(&out);
    assert_eq!(
        stderr(&out),
        format!("role {user} does not exist; nothing dropped\n")
    );
    assert_eq!(
        error(&pum(path, &["-p", &url, "role", "create", "someone"])),
        "refusing to pum role create: it takes no role name (see pum role --help)"
    );
}

#[test]
fn autogenerate_writes_what_turns_the_changelogs_into_the_database_and_back() {
    let dir = project();
    let path = dir.path();
    std::fs::create_dir_all(path.join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        path.join("changelogs/1.0.0/01_notes.sql"),
        "CREATE SCHEMA notes;\nCREATE TABLE notes.note (id int PRIMARY KEY, body text);\n\
         CREATE VIEW notes.short AS SELECT id, left(body, 10) AS body FROM notes.note;\n",
    )
    .unwrap();
    let dev = ScratchDb::new("cli_autogen_dev", "");
    let url = dev.spec().url();
    ok(&pum(path, &["-p", &url, "install"]));
    // The developer changes the database by hand.
    dev.client()
        .batch_execute(
            "ALTER TABLE notes.note ADD COLUMN author text NOT NULL DEFAULT 'me';\
             DROP VIEW notes.short; ALTER TABLE notes.note ALTER COLUMN body TYPE varchar(200);\
             CREATE VIEW notes.short AS SELECT id, left(body, 10) AS body FROM notes.note;\
             CREATE INDEX note_author ON notes.note (author);\
             CREATE TYPE notes.kind AS ENUM ('idea', 'todo');\
             ALTER TABLE notes.note ADD COLUMN kind notes.kind;\
             COMMENT ON TABLE notes.note IS 'what people wrote';\
             ALTER TABLE notes.note ADD COLUMN meta jsonb NOT NULL DEFAULT '{}';",
        )
        .unwrap();
    let out = pum(
        path,
        &["-p", &url, "new", "authors", "--autogenerate", "--stamp"],
    );
    ok(&out);
    assert_eq!(
        stdout(&out),
        "./changelogs/1.0.1/01_authors.sql\n./changelogs/1.0.1/down/01_authors.sql\n"
    );
    assert_eq!(
        stderr(&out),
        "recorded 1.0.1 in notes_sys.pum_migrations without running it: the database holds \
         it already\n"
    );
    // The developer's database holds the change and records it: nothing to upgrade, no
    // file changed or added.
    let out = pum(path, &["-p", &url, "upgrade"]);
    ok(&out);
    assert_eq!(stderr(&out), "nothing to apply; at 1.0.1\n");
    ok(&pum(path, &["-p", &url, "validate"]));
    let up = std::fs::read_to_string(path.join("changelogs/1.0.1/01_authors.sql")).unwrap();
    assert!(
        up.contains("ALTER TABLE notes.note ADD COLUMN author text DEFAULT 'me'::text NOT NULL;\n"),
        "{up}"
    );
    assert!(
        up.contains("ADD COLUMN meta jsonb DEFAULT '{{}}'::jsonb NOT NULL;\n"),
        "braces are escaped, so that the file gives the server '{{}}': {up}"
    );
    assert!(
        up.contains("DROP VIEW notes.short;\n"),
        "the view reads a column that changes: {up}"
    );
    // The changelogs now make the developer's database: check, on a fresh install…
    let fresh = ScratchDb::new("cli_autogen_fresh", "");
    let fresh_url = fresh.spec().url();
    ok(&pum(path, &["-p", &fresh_url, "install"]));
    let out = pum(path, &["-p", &fresh_url, "check", &url]);
    assert_eq!(out.status.code(), Some(0), "{}\n{up}", stdout(&out));
    // …and on the developer's database, which records the new version.
    let out = pum(path, &["-p", &url, "check", "--changelogs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // The down file takes a fresh install back to 1.0.0.
    ok(&pum(
        path,
        &["-p", &fresh_url, "downgrade", "--to", "1.0.0"],
    ));
    let original = ScratchDb::new("cli_autogen_orig", "");
    let original_url = original.spec().url();
    ok(&pum(
        path,
        &["-p", &original_url, "install", "--max-version", "1.0.0"],
    ));
    let out = pum(path, &["-p", &fresh_url, "check", &original_url]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Nothing left to write: said so, no file.
    let out = pum(path, &["-p", &url, "new", "again", "--autogenerate"]);
    ok(&out);
    assert!(
        stderr(&out).contains("the database is what the changelogs make: nothing to write"),
        "{}{}",
        stderr(&out),
        stdout(&out)
    );
    assert!(!path.join("changelogs/1.0.2").exists());
}

#[test]
fn truncate_all_empties_the_module_tables_and_nothing_of_another_application() {
    let dir = project();
    let path = dir.path();
    std::fs::create_dir_all(path.join("changelogs/1.0.0")).unwrap();
    std::fs::write(
        path.join("changelogs/1.0.0/01_notes.sql"),
        "CREATE SCHEMA notes;\nCREATE TABLE notes.note (id serial PRIMARY KEY, body text);\n\
         CREATE TABLE public.notes_tag (tag text);\n",
    )
    .unwrap();
    let db = ScratchDb::new("cli_truncate", "");
    let url = db.spec().url();
    // Not installed: nothing says what the module's tables are.
    assert_eq!(
        error(&pum(path, &["-p", &url, "db", "truncate-all", "--force"])),
        "notes_sys.pum_migrations does not exist: not installed; nothing is installed"
    );
    ok(&pum(path, &["-p", &url, "install"]));
    db.client()
        .batch_execute(
            "INSERT INTO notes.note (body) VALUES ('a'); INSERT INTO public.notes_tag VALUES ('t');\
             CREATE SCHEMA other; CREATE TABLE other.keep (x int); INSERT INTO other.keep VALUES (1);\
             CREATE TABLE public.other_app (x int); INSERT INTO public.other_app VALUES (1);\
             CREATE TABLE notes.by_hand (x int); INSERT INTO notes.by_hand VALUES (1);",
        )
        .unwrap();
    let counts = "SELECT (SELECT count(*) FROM notes.note) || ' ' || (SELECT count(*) FROM \
                  public.notes_tag) || ' ' || (SELECT count(*) FROM notes.by_hand) || ' ' || \
                  (SELECT count(*) FROM other.keep) || ' ' || (SELECT count(*) FROM \
                  public.other_app) || ' ' || (SELECT count(*) FROM notes_sys.pum_migrations)";
    assert_eq!(
        error(&pum(path, &["-p", &url, "db", "truncate-all"])),
        "refusing to truncate the tables of schema notes, schema notes_sys, table public.notes_tag \
         without --force: standard input is not a terminal to confirm on"
    );
    assert_eq!(db.strings(counts), ["1 1 1 1 1 1"]);
    let out = pum(path, &["-p", &url, "db", "truncate-all", "--force"]);
    ok(&out);
    assert_eq!(stderr(&out), "truncated 3 table(s)\n");
    // The module's schema (a table added there by hand too) and its table in public are
    // empty; another application's schema and table are not.
    assert_eq!(db.strings(counts), ["0 0 0 1 1 1"]);

    // Without a .pum.yaml nothing says what is the module's.
    let bare = tempfile::tempdir().unwrap();
    assert_eq!(
        error(&pum(
            bare.path(),
            &["-p", &url, "db", "truncate-all", "--force"]
        )),
        "refusing to truncate every table: no .pum.yaml says which tables are the module's: \
         name the schemas to empty (--schema)"
    );
    assert_eq!(db.strings(counts), ["0 0 0 1 1 1"]);
}
