//! Changelog files larger than one round trip: pum sends a run's statements in chunks of
//! about a MiB, so a file of a few MiB goes in several, and what happens in a later chunk
//! must read as it would in the first. Files larger than 8 MiB are not even held: the
//! run reads them again, a block at a time, to check them and to send them.

use pum::migrate::NoProgress;
use pum::testing::TestDb;
use pum::{MigrateOptions, Upgrader};

use crate::support::project::Project;
use crate::support::strings;

const YAML: &str = "pum:\n  module: big\n  migration_table_schema: big\n\
                    parameters:\n  - name: label\n    default: plain\n";

/// A filler of 1,000 characters, so that about a thousand statements make a chunk.
fn filler() -> String {
    "x".repeat(1000)
}

/// Rows enough for a file larger than 8 MiB, which a run reads as it goes.
const ROWS: usize = 9000;

/// `rows` INSERTs into `big.item` after its `CREATE TABLE` (line 2), the statement of
/// row `n` on line `n + 2`; `replace` puts another statement in place of some rows'.
fn inserts(rows: usize, replace: &dyn Fn(usize) -> Option<String>) -> String {
    let filler = filler();
    let mut text = String::from(
        "CREATE SCHEMA IF NOT EXISTS big;\n\
                                 CREATE TABLE big.item (id int, label text, filler text);\n",
    );
    for n in 1..=rows {
        match replace(n) {
            Some(statement) => text.push_str(&statement),
            None => text.push_str(&format!(
                "INSERT INTO big.item VALUES ({n}, 'row', '{filler}');"
            )),
        }
        text.push('\n');
    }
    text
}

fn install(db: &TestDb, text: &str) -> pum::Result<pum::migrate::MigrationReport> {
    assert!(text.len() > 8 << 20, "the file is larger than pum holds");
    let project = Project::new(YAML, &[("changelogs/1.0.0/01_data.sql", text)]);
    let config = project.config();
    Upgrader::new(&config, db.spec())
        .unwrap()
        .install(&MigrateOptions::default(), &mut NoProgress)
}

/// Nothing of the run is left: neither the schema of the file nor the migrations table.
fn nothing_applied(db: &TestDb) -> bool {
    strings(
        db,
        "SELECT nspname::text FROM pg_namespace WHERE nspname = 'big'",
    )
    .is_empty()
}

#[pum::pum_test]
fn a_file_of_several_chunks_installs_whole_with_its_parameters_rendered(db: TestDb) {
    // A parameter stands in the last rows (the last chunk), and one statement is larger
    // than a chunk on its own.
    let big = "y".repeat(3 << 20);
    let text = inserts(ROWS, &|n| match n {
        2500 => Some(format!(
            "INSERT INTO big.item VALUES ({n}, 'big', '{big}');"
        )),
        8990.. => Some(format!(
            "INSERT INTO big.item VALUES ({n}, {{label}}, NULL);"
        )),
        _ => None,
    });
    let report = install(&db, &text).unwrap();
    assert_eq!(report.applied, ["1.0.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text || ' ' || \
             sum(length(filler))::text FROM big.item"
        ),
        [format!("{ROWS} {ROWS} {}", (ROWS - 12) * 1000 + (3 << 20))]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT string_agg(DISTINCT label, ',' ORDER BY label) FROM big.item"
        ),
        ["big,plain,row"]
    );
    assert_eq!(
        strings(&db, "SELECT version::text FROM big.pum_migrations"),
        ["1.0.0"]
    );
}

#[pum::pum_test]
fn an_error_in_a_later_chunk_names_its_line_and_leaves_nothing(db: TestDb) {
    // Row 4000 is in the fourth chunk or so: a failure there, while running, rolls back
    // the chunks before it too.
    let text = inserts(ROWS, &|n| {
        (n == 4000).then(|| format!("INSERT INTO big.item VALUES ({n}, 'row', 1 / 0);"))
    });
    let err = install(&db, &text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01_data.sql:4002:1: 22012: division by zero \
         (in: INSERT INTO big.item VALUES (4000, 'row', 1 / 0);)"
    );
    assert!(nothing_applied(&db));
}

#[pum::pum_test]
fn a_syntax_error_in_a_later_chunk_names_its_line_and_leaves_nothing(db: TestDb) {
    // The server refuses a chunk with a syntax error before running any of it: the
    // chunks before it ran, and are rolled back with the rest.
    let text = inserts(ROWS, &|n| {
        (n == 3500).then(|| "INSERT INTO big.item VALUS (1);".into())
    });
    let err = install(&db, &text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01_data.sql:3502:22: 42601: syntax error at or near \"VALUS\" \
         (in: INSERT INTO big.item VALUS (1);)"
    );
    assert!(nothing_applied(&db));
}

#[pum::pum_test]
fn what_is_wrong_at_the_end_of_a_large_file_is_said_before_anything_runs(db: TestDb) {
    // A run reads a large file through before it sends any of it: the statement that
    // would fail on the server (row 10) is never sent.
    for (last, expected) in [
        (
            "SELECT 'open;",
            format!(
                "changelogs/1.0.0/01_data.sql:{}:8: unterminated quoted string",
                ROWS + 3
            ),
        ),
        (
            "COMMIT;",
            format!(
                "changelogs/1.0.0/01_data.sql:{}:1: transaction control (BEGIN, COMMIT, \
                 ROLLBACK…) is not allowed in changelog files: pum runs them in its own \
                 transaction (mark a file that must run outside one with -- pum:no-transaction)",
                ROWS + 3
            ),
        ),
        (
            "SELECT\n  {nope};",
            format!(
                "changelogs/1.0.0/01_data.sql:{}:3: unknown parameter {{nope}}",
                ROWS + 4
            ),
        ),
    ] {
        let mut text = inserts(ROWS, &|n| (n == 10).then(|| "SELECT 1 / 0;".into()));
        text.push_str(last);
        let err = install(&db, &text).unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert!(nothing_applied(&db));
    }
}
