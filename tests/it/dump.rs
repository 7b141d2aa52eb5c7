//! Dump and restore round trips, exclusions and error handling.

use pum::{DumpFormat, DumpOptions, RestoreOptions};

use crate::support::{ScratchDb, spec, unique_name};

const SOURCE: &str = "
    CREATE SCHEMA shop;
    CREATE TABLE shop.item (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO shop.item VALUES (1, 'teapot'), (2, 'kettle');
    CREATE SCHEMA scratch;
    CREATE TABLE scratch.junk (x int);
    INSERT INTO scratch.junk VALUES (42);
";

fn empty_db(what: &str) -> ScratchDb {
    ScratchDb::new(what, "")
}

fn schemas(db: &ScratchDb) -> Vec<String> {
    db.strings(
        "SELECT nspname::text FROM pg_namespace \
         WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public') \
         ORDER BY 1",
    )
}

#[test]
fn round_trip_in_both_formats_with_a_schema_left_out() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    for format in [DumpFormat::Custom, DumpFormat::Plain] {
        let file = dir.path().join(format!("{format:?}.dump"));
        let options = DumpOptions {
            format,
            exclude_schemas: vec!["scratch".into()],
            pg_dump: None,
        };
        pum::dump(&source.spec(), &file, &options).unwrap();
        let head = std::fs::read(&file).unwrap();
        assert_eq!(head.starts_with(b"PGDMP"), format == DumpFormat::Custom);

        let target = empty_db("dst");
        let summary = pum::restore(&target.spec(), &file, &RestoreOptions::default()).unwrap();
        assert_eq!(
            summary.ignored_errors, 0,
            "{format:?}: {}",
            summary.messages
        );
        assert_eq!(schemas(&target), ["shop"], "{format:?}");
        assert_eq!(
            target.strings("SELECT name FROM shop.item ORDER BY id"),
            ["teapot", "kettle"],
            "{format:?}"
        );
    }
}

#[test]
fn restore_can_leave_a_schema_out_of_a_custom_dump() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.dump");
    pum::dump(&source.spec(), &file, &DumpOptions::default()).unwrap();
    let target = empty_db("dst");
    let options = RestoreOptions {
        exclude_schemas: vec!["scratch".into()],
        ..RestoreOptions::default()
    };
    pum::restore(&target.spec(), &file, &options).unwrap();
    assert_eq!(schemas(&target), ["shop"]);
}

#[test]
fn leaving_a_schema_out_of_a_plain_dump_is_refused() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.sql");
    let options = DumpOptions {
        format: DumpFormat::Plain,
        ..DumpOptions::default()
    };
    pum::dump(&source.spec(), &file, &options).unwrap();
    let target = empty_db("dst");
    let options = RestoreOptions {
        exclude_schemas: vec!["scratch".into()],
        ..RestoreOptions::default()
    };
    let err = pum::restore(&target.spec(), &file, &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is a plain SQL dump: leaving schemas out (-N) needs a custom-format dump",
            file.display()
        )
    );
    assert!(schemas(&target).is_empty());
}

#[test]
fn restore_errors_roll_back_unless_ignored() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    for format in [DumpFormat::Custom, DumpFormat::Plain] {
        let file = dir.path().join(format!("{format:?}.dump"));
        let options = DumpOptions {
            format,
            ..DumpOptions::default()
        };
        pum::dump(&source.spec(), &file, &options).unwrap();

        // The target already has shop.item, with different rows: the restore collides.
        let target = ScratchDb::new(
            "clash",
            "CREATE SCHEMA shop; CREATE TABLE shop.item (id int, name text);
             INSERT INTO shop.item VALUES (7, 'mine');",
        );
        let err = pum::restore(&target.spec(), &file, &RestoreOptions::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("already exists"), "{format:?}: {text}");
        assert!(!text.contains('\n'), "{format:?}: {text}");
        assert_eq!(
            schemas(&target),
            ["shop"],
            "{format:?}: nothing else restored"
        );
        assert_eq!(target.strings("SELECT name FROM shop.item"), ["mine"]);

        let ignore = RestoreOptions {
            ignore_errors: true,
            ..RestoreOptions::default()
        };
        let summary = pum::restore(&target.spec(), &file, &ignore).unwrap();
        assert!(summary.ignored_errors >= 1, "{format:?}: {summary:?}");
        assert!(summary.messages.contains("already exists"), "{summary:?}");
        assert_eq!(schemas(&target), ["scratch", "shop"], "{format:?}");
        assert_eq!(target.strings("SELECT x::text FROM scratch.junk"), ["42"]);
    }
}

#[test]
fn failed_dump_leaves_the_existing_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keep.dump");
    std::fs::write(&file, "precious").unwrap();
    let missing = spec().with_dbname(&unique_name("nodb"));
    let err = pum::dump(&missing, &file, &DumpOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("pg_dump failed (exit status: 1): "),
        "{err}"
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no partial file left"
    );
}

#[test]
fn restore_of_a_missing_file_names_it() {
    let target = empty_db("dst");
    let file = std::path::Path::new("/nonexistent/pum.dump");
    let err = pum::restore(&target.spec(), file, &RestoreOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/pum.dump: No such file or directory (os error 2)"
    );
}

#[test]
fn restore_into_an_unreachable_database_is_never_ignored() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.dump");
    pum::dump(&source.spec(), &file, &DumpOptions::default()).unwrap();
    let missing = spec().with_dbname(&unique_name("nodb"));
    let ignore = RestoreOptions {
        ignore_errors: true,
        ..RestoreOptions::default()
    };
    let err = pum::restore(&missing, &file, &ignore).unwrap_err();
    assert!(err.to_string().starts_with("pg_restore failed"), "{err}");
}

/// Restores a plain file whose text runs `touch WITNESS` through psql if psql is given
/// it, with errors ignored and not: refused each time with `reason`, the witness never
/// made, and none of the file's tables.
fn refused_before_psql(what: &str, text: impl Fn(&std::path::Path) -> String, reason: &str) {
    let target = empty_db(what);
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("owned");
    let file = dir.path().join("hostile.sql");
    std::fs::write(&file, text(&witness)).unwrap();
    for ignore_errors in [false, true] {
        let options = RestoreOptions {
            ignore_errors,
            ..RestoreOptions::default()
        };
        let err = pum::restore(&target.spec(), &file, &options).unwrap_err();
        assert!(matches!(err, pum::Error::Refused { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("refusing to restore {}: {reason}", file.display())
        );
    }
    assert!(!witness.exists(), "the shell command never ran");
    assert!(
        target
            .strings("SELECT relname::text FROM pg_class WHERE relname LIKE 'before%'")
            .is_empty(),
        "nothing ran"
    );
}

#[test]
fn a_plain_file_with_a_shell_command_is_refused_before_psql_sees_it() {
    refused_before_psql(
        "hostile",
        |witness| {
            format!(
                "CREATE TABLE before_shell (x int);\nSELECT 1; \\! touch {}\nCREATE TABLE after_shell (x int);\n",
                witness.display()
            )
        },
        "line 2: the psql meta-command \\! is not one pg_dump writes; pum restores plain \
         files only without them",
    );
}

#[test]
fn a_command_hidden_in_copy_data_is_refused_even_with_errors_ignored() {
    // If the COPY fails (no such table), psql -x goes on and reads its data lines as
    // commands: a meta-command there would run.
    refused_before_psql(
        "hostile_copy",
        |witness| {
            format!(
                "CREATE TABLE before_copy (x int);\nCOPY nowhere (a) FROM stdin;\n1\t\\! touch {}\n\\.\n",
                witness.display()
            )
        },
        "line 3: COPY data holds \\!, which pg_dump never writes there (psql would read it \
         as a meta-command if the COPY failed); pum restores plain files only without it",
    );
}

#[test]
fn a_truncated_plain_dump_is_refused() {
    let source = ScratchDb::new("src", SOURCE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("whole.sql");
    let options = DumpOptions {
        format: DumpFormat::Plain,
        ..DumpOptions::default()
    };
    pum::dump(&source.spec(), &file, &options).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let cut = dir.path().join("cut.sql");
    // Cut after the first table's creation, as a full disk or a killed pg_dump would.
    let at = text.find("CREATE TABLE").unwrap() + 40;
    std::fs::write(&cut, &text[..at]).unwrap();
    let target = empty_db("cut");
    let err = pum::restore(&target.spec(), &cut, &RestoreOptions::default()).unwrap_err();
    assert!(err.to_string().contains("an incomplete dump"), "{err}");
    assert!(schemas(&target).is_empty(), "nothing restored");
    // The whole file restores.
    pum::restore(&target.spec(), &file, &RestoreOptions::default()).unwrap();
    assert_eq!(schemas(&target), ["scratch", "shop"]);
}
