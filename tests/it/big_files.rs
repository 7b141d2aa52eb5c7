//! Changelog files larger than one round trip: pum sends a run's statements in chunks of
//! about a MiB, so a file of a few MiB goes in several, and what happens in a later chunk
//! must read as it would in the first.

use pum::migrate::NoProgress;
use pum::testing::TestDb;
use pum::{MigrateOptions, Upgrader};

use crate::support::project::Project;

const YAML: &str = "pum:\n  module: big\n  migration_table_schema: big\n\
                    parameters:\n  - name: label\n    default: plain\n";

/// A filler of 1,000 characters, so that about a thousand statements make a chunk.
fn filler() -> String {
    "x".repeat(1000)
}

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
    let project = Project::new(YAML, &[("changelogs/1.0.0/01_data.sql", text)]);
    let config = project.config();
    Upgrader::new(&config, db.spec())
        .unwrap()
        .install(&MigrateOptions::default(), &mut NoProgress)
}

fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    db.client()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
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
    let text = inserts(5000, &|n| match n {
        2500 => Some(format!(
            "INSERT INTO big.item VALUES ({n}, 'big', '{big}');"
        )),
        4990.. => Some(format!(
            "INSERT INTO big.item VALUES ({n}, {{label}}, NULL);"
        )),
        _ => None,
    });
    assert!(text.len() > 5 << 20, "the file spans several chunks");
    let report = install(&db, &text).unwrap();
    assert_eq!(report.applied, ["1.0.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text || ' ' || count(DISTINCT id)::text || ' ' || \
             sum(length(filler))::text FROM big.item"
        ),
        [format!("5000 5000 {}", 4988 * 1000 + (3 << 20))]
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
    let text = inserts(5000, &|n| {
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
    let text = inserts(5000, &|n| {
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
