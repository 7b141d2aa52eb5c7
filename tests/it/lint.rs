//! `pum::lint` on a real server: each rule reported on its hazard and not on its safe
//! form, on tables that hold rows; allowances; bad input.

use pum::lint::{LintOptions, LintReport, Rule, lint};
use pum::migrate::NoProgress;
use pum::{MigrateOptions, Upgrader, Version};

use crate::support::ScratchDb;
use crate::support::project::Project;
use crate::support::spec;

const YAML: &str = "pum: {module: lintshop, migration_table_schema: lint_sys}\n";

/// Version 1.0.0: tables with rows, an index, a view.
const BASE: &str = "CREATE SCHEMA app;\n\
    CREATE TABLE app.item (id integer PRIMARY KEY, name varchar(50), price integer, note text);\n\
    CREATE INDEX item_name ON app.item (name);\n\
    INSERT INTO app.item SELECT g, 'item ' || g, g, 'n' FROM generate_series(1, 2000) g;\n\
    CREATE TABLE app.owner (id integer PRIMARY KEY, item_id integer);\n\
    INSERT INTO app.owner SELECT g, g FROM generate_series(1, 200) g;\n\
    CREATE TABLE app.tag (id integer, label text);\n\
    CREATE VIEW app.cheap AS SELECT label FROM app.tag;\n\
    CREATE SCHEMA archive;\n\
    CREATE TABLE archive.old (id integer);\n\
    INSERT INTO archive.old VALUES (1), (2);\n";

/// A project of version 1.0.0 ([`BASE`]) and 1.1.0 made of `files` (name, text).
fn project(files: &[(&str, &str)]) -> Project {
    project_with(YAML, files)
}

fn project_with(yaml: &str, files: &[(&str, &str)]) -> Project {
    let project = Project::new(yaml, &[("changelogs/1.0.0/01_base.sql", BASE)]);
    for (name, text) in files {
        project.write(&format!("changelogs/1.1.0/{name}"), text);
    }
    project
}

/// Lints version 1.1.0 of `files`.
fn lint_of(files: &[(&str, &str)]) -> LintReport {
    let project = project(files);
    lint(&project.config(), &spec(), &from_1_0()).unwrap()
}

fn from_1_0() -> LintOptions {
    LintOptions {
        from: Some(Version::parse("1.0.0").unwrap()),
        ..LintOptions::default()
    }
}

/// `(rule, table, lock)` of each finding.
fn found(report: &LintReport) -> Vec<(Rule, String, String)> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule,
                f.table.clone().unwrap_or_default(),
                f.lock.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn one(file: &str) -> Vec<(Rule, String, String)> {
    found(&lint_of(&[("01.sql", file)]))
}

fn rule(rule: Rule, table: &str, lock: &str) -> (Rule, String, String) {
    (rule, table.to_string(), lock.to_string())
}

#[test]
fn lint_rewrite_is_reported_for_type_changes_volatile_defaults_and_using() {
    assert_eq!(
        one("ALTER TABLE app.item ALTER COLUMN id TYPE bigint;"),
        [rule(Rule::Rewrite, "app.item", "ACCESS EXCLUSIVE")]
    );
    assert_eq!(
        one("ALTER TABLE app.item ADD COLUMN seen timestamptz DEFAULT clock_timestamp();"),
        [rule(Rule::Rewrite, "app.item", "ACCESS EXCLUSIVE")]
    );
    assert_eq!(
        one("ALTER TABLE app.item ALTER COLUMN price TYPE numeric USING price::numeric;"),
        [rule(Rule::Rewrite, "app.item", "ACCESS EXCLUSIVE")]
    );
}

#[test]
fn lint_rewrite_is_not_reported_for_growing_varchar_text_or_constant_defaults() {
    let report = lint_of(&[(
        "01.sql",
        "ALTER TABLE app.item ALTER COLUMN name TYPE varchar(100);\n\
         ALTER TABLE app.item ALTER COLUMN name TYPE text;\n\
         ALTER TABLE app.item ADD COLUMN flag boolean NOT NULL DEFAULT false;\n",
    )]);
    assert_eq!(found(&report), []);
    assert_eq!(report.statements, 3);
}

#[test]
fn lint_blocking_index_is_reported_for_plain_indexes_and_unique_constraints() {
    let report = lint_of(&[(
        "01.sql",
        "SELECT 1;\nCREATE INDEX item_price ON app.item (price);\n\
         ALTER TABLE app.owner ADD CONSTRAINT owner_item_key UNIQUE (item_id);\n",
    )]);
    assert_eq!(
        found(&report),
        [
            rule(Rule::BlockingIndex, "app.item", "SHARE"),
            rule(Rule::BlockingIndex, "app.owner", "ACCESS EXCLUSIVE"),
        ]
    );
    let first = &report.findings[0];
    assert_eq!(
        (first.file.as_str(), first.line),
        ("changelogs/1.1.0/01.sql", 2)
    );
    assert_eq!(
        first.statement,
        "CREATE INDEX item_price ON app.item (price);"
    );
    assert!(first.fix.contains("CONCURRENTLY"), "{}", first.fix);
}

#[test]
fn lint_blocking_index_is_not_reported_concurrently_outside_the_transaction() {
    let report = lint_of(&[
        (
            "01_index.sql",
            "-- pum:no-transaction\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS item_price ON app.item (price);\n\
             CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS owner_item_key ON app.owner (item_id);\n",
        ),
        (
            "02_key.sql",
            "ALTER TABLE app.owner ADD CONSTRAINT owner_item_key UNIQUE USING INDEX \
             owner_item_key;\n",
        ),
    ]);
    assert_eq!(found(&report), []);
    // A plain CREATE INDEX in such a file still blocks writes.
    assert_eq!(
        one("-- pum:no-transaction\nCREATE INDEX item_price ON app.item (price);"),
        [rule(Rule::BlockingIndex, "app.item", "SHARE")]
    );
}

/// A no-transaction file runs again from its first statement after a failure: a
/// concurrent build or drop that would then fail is a warning (exit status 0), and its
/// `IF [NOT] EXISTS` form is not reported.
#[test]
fn lint_not_rerunnable_warns_of_concurrent_builds_without_if_not_exists() {
    let report = lint_of(&[(
        "01_index.sql",
        "-- pum:no-transaction\n\
             CREATE INDEX CONCURRENTLY item_price ON app.item (price);\n\
             CREATE INDEX CONCURRENTLY IF NOT EXISTS item_note ON app.item (note);\n\
             DROP INDEX CONCURRENTLY app.item_name;\n\
             DROP INDEX CONCURRENTLY IF EXISTS app.item_note;\n",
    )]);
    let lines: Vec<(Rule, usize, Option<String>)> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.line, f.table.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            (Rule::NotRerunnable, 2, Some("app.item".to_string())),
            (Rule::NotRerunnable, 4, None),
        ]
    );
    assert_eq!((report.errors(), report.warnings()), (0, 2));
    // In a plain file the statement fails outright: that rule alone.
    assert_eq!(
        one("CREATE INDEX CONCURRENTLY item_price ON app.item (price);"),
        [rule(Rule::ConcurrentlyInTransaction, "", "")]
    );
}

#[test]
fn lint_concurrently_in_transaction_is_reported_and_later_files_still_run() {
    let report = lint_of(&[
        (
            "01.sql",
            "CREATE INDEX CONCURRENTLY item_price ON app.item (price);\n",
        ),
        ("02.sql", "COMMENT ON INDEX app.item_price IS 'by price';\n"),
    ]);
    assert_eq!(
        found(&report),
        [rule(Rule::ConcurrentlyInTransaction, "", "")]
    );
}

#[test]
fn lint_validating_constraint_is_reported_for_foreign_keys_and_checks() {
    assert_eq!(
        one(
            "ALTER TABLE app.owner ADD CONSTRAINT owner_item_fk FOREIGN KEY (item_id) \
             REFERENCES app.item (id);\n\
             ALTER TABLE app.item ADD CONSTRAINT price_positive CHECK (price > 0);\n"
        ),
        [
            rule(
                Rule::ValidatingConstraint,
                "app.owner",
                "SHARE ROW EXCLUSIVE"
            ),
            rule(Rule::ValidatingConstraint, "app.item", "ACCESS EXCLUSIVE"),
        ]
    );
    // Validated in the same file: the ADD's lock is held during the scan.
    assert_eq!(
        one(
            "ALTER TABLE app.item ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID;\n\
             ALTER TABLE app.item VALIDATE CONSTRAINT price_positive;\n"
        ),
        [rule(
            Rule::ValidatingConstraint,
            "app.item",
            "ACCESS EXCLUSIVE"
        )]
    );
}

#[test]
fn lint_validating_constraint_is_not_reported_not_valid_then_validated_in_a_later_file() {
    let report = lint_of(&[
        (
            "01.sql",
            "ALTER TABLE app.owner ADD CONSTRAINT owner_item_fk FOREIGN KEY (item_id) \
             REFERENCES app.item (id) NOT VALID;\n\
             ALTER TABLE app.item ADD CONSTRAINT price_positive CHECK (price > 0) NOT VALID;\n",
        ),
        (
            "02.sql",
            "ALTER TABLE app.owner VALIDATE CONSTRAINT owner_item_fk;\n\
             ALTER TABLE app.item VALIDATE CONSTRAINT price_positive;\n",
        ),
    ]);
    assert_eq!(found(&report), []);
}

#[test]
fn lint_not_null_scan_is_reported_without_a_validated_check() {
    assert_eq!(
        one("ALTER TABLE app.item ALTER COLUMN price SET NOT NULL;"),
        [rule(Rule::NotNullScan, "app.item", "ACCESS EXCLUSIVE")]
    );
}

#[test]
fn lint_not_null_scan_is_not_reported_with_a_validated_check() {
    let report = lint_of(&[
        (
            "01.sql",
            "ALTER TABLE app.item ADD CONSTRAINT price_nn CHECK (price IS NOT NULL) NOT VALID;\n",
        ),
        (
            "02.sql",
            "ALTER TABLE app.item VALIDATE CONSTRAINT price_nn;\n\
             ALTER TABLE app.item ALTER COLUMN price SET NOT NULL;\n",
        ),
    ]);
    assert_eq!(found(&report), []);
}

#[test]
fn lint_data_loss_is_reported_for_drops_and_truncation() {
    assert_eq!(
        one(
            "DROP TABLE app.owner;\nALTER TABLE app.item DROP COLUMN note;\n\
             TRUNCATE app.item CASCADE;\nDROP SCHEMA archive CASCADE;\n"
        ),
        [
            rule(Rule::DataLoss, "app.owner", "ACCESS EXCLUSIVE"),
            rule(Rule::DataLoss, "app.item", "ACCESS EXCLUSIVE"),
            rule(Rule::DataLoss, "app.item", "ACCESS EXCLUSIVE"),
            rule(Rule::DataLoss, "archive", ""),
        ]
    );
}

#[test]
fn lint_breaking_rename_is_a_warning_for_tables_views_columns_and_schemas() {
    let report = lint_of(&[(
        "01.sql",
        "ALTER TABLE app.item RENAME COLUMN note TO remark;\n\
         ALTER VIEW app.cheap RENAME TO bargain;\n\
         ALTER TABLE app.owner RENAME TO holder;\n\
         ALTER SCHEMA archive RENAME TO attic;\n",
    )]);
    assert_eq!(
        found(&report),
        [
            rule(Rule::BreakingRename, "app.item", "ACCESS EXCLUSIVE"),
            rule(Rule::BreakingRename, "app.cheap", "ACCESS EXCLUSIVE"),
            rule(Rule::BreakingRename, "app.owner", "ACCESS EXCLUSIVE"),
            rule(Rule::BreakingRename, "archive", ""),
        ]
    );
    assert_eq!(report.errors(), 0);
    assert_eq!(report.warnings(), 4);
}

#[test]
fn lint_objects_made_earlier_in_the_same_version_are_never_hazards() {
    let report = lint_of(&[
        (
            "01.sql",
            "CREATE TABLE app.fresh (id integer, v integer);\n\
             INSERT INTO app.fresh SELECT g, g FROM generate_series(1, 100) g;\n",
        ),
        (
            "02.sql",
            "ALTER TABLE app.fresh ALTER COLUMN id TYPE bigint;\n\
             CREATE INDEX fresh_v ON app.fresh (v);\n\
             ALTER TABLE app.fresh ALTER COLUMN v SET NOT NULL;\n\
             ALTER TABLE app.fresh ADD CONSTRAINT fresh_item FOREIGN KEY (id) REFERENCES \
             app.item (id);\n\
             ALTER TABLE app.fresh RENAME COLUMN v TO w;\n\
             ALTER TABLE app.fresh DROP COLUMN w;\nDROP TABLE app.fresh;\n",
        ),
    ]);
    assert_eq!(found(&report), []);
}

#[test]
fn lint_every_version_by_default_and_above_from() {
    let project = project(&[(
        "01.sql",
        "ALTER TABLE app.item ALTER COLUMN id TYPE bigint;",
    )]);
    project.write(
        "changelogs/1.2.0/01.sql",
        "ALTER TABLE app.owner ALTER COLUMN id TYPE bigint;",
    );
    let all = lint(&project.config(), &spec(), &LintOptions::default()).unwrap();
    assert_eq!(all.versions.len(), 3);
    assert_eq!(
        found(&all),
        [
            rule(Rule::Rewrite, "app.item", "ACCESS EXCLUSIVE"),
            rule(Rule::Rewrite, "app.owner", "ACCESS EXCLUSIVE"),
        ]
    );
    let options = LintOptions {
        from: Some(Version::parse("1.1.0").unwrap()),
        ..LintOptions::default()
    };
    let above = lint(&project.config(), &spec(), &options).unwrap();
    assert_eq!(
        found(&above),
        [rule(Rule::Rewrite, "app.owner", "ACCESS EXCLUSIVE")]
    );
}

#[test]
fn lint_allow_directives_on_the_line_above_or_in_the_config() {
    let report = lint_of(&[(
        "01.sql",
        "-- pum:allow rewrite\nALTER TABLE app.item ALTER COLUMN id TYPE bigint;\n\
         DROP TABLE app.owner; -- pum:allow data-loss\n\
         ALTER TABLE app.item ALTER COLUMN price SET NOT NULL;\n",
    )]);
    assert_eq!(
        found(&report),
        [rule(Rule::NotNullScan, "app.item", "ACCESS EXCLUSIVE")]
    );
    assert_eq!(report.allowed, 2);

    let yaml = format!("{YAML}lint:\n  allow:\n    changelogs/1.1.0/01.sql: [not-null-scan]\n");
    let project = project_with(
        &yaml,
        &[(
            "01.sql",
            "ALTER TABLE app.item ALTER COLUMN price SET NOT NULL;\n",
        )],
    );
    let report = lint(&project.config(), &spec(), &from_1_0()).unwrap();
    assert_eq!(found(&report), []);
    assert_eq!(report.allowed, 1);
}

/// A file's statements go to the server at once: each finding is still the statement's
/// whose doing it was, whatever rows the statements between return, and a file whose
/// statements return rows shaped like pum's own is run one statement at a time.
#[test]
fn lint_findings_of_a_file_run_at_once_belong_to_their_statements() {
    let text = "ALTER TABLE app.item ALTER COLUMN price TYPE bigint;\n\
                SELECT g AS n, 'rewrite' AS kind FROM generate_series(1, 3) g;\n\
                INSERT INTO app.tag VALUES (1, 'a');\n\
                CREATE INDEX item_note ON app.item (note);\n\
                SELECT 1;\n\
                ALTER TABLE app.owner ALTER COLUMN item_id SET NOT NULL;\n";
    let lines = |report: &LintReport| -> Vec<(Rule, usize)> {
        report.findings.iter().map(|f| (f.rule, f.line)).collect()
    };
    let expected = vec![
        (Rule::Rewrite, 1),
        (Rule::BlockingIndex, 4),
        (Rule::NotNullScan, 6),
    ];
    assert_eq!(lines(&lint_of(&[("01.sql", text)])), expected);
    let lookalike = text.replace(
        "SELECT 1;",
        "SELECT 'x' AS pum_lint_mark;\nSELECT 'rewrite' AS pum_lint_kind, '1' AS pum_lint_key, \
         'app.tag' AS pum_lint_table, '' AS pum_lint_a, '' AS pum_lint_b;",
    );
    let report = lint_of(&[("01.sql", &lookalike)]);
    assert_eq!(
        lines(&report),
        vec![
            (Rule::Rewrite, 1),
            (Rule::BlockingIndex, 4),
            (Rule::NotNullScan, 7)
        ]
    );
    assert_eq!(report.statements, 7);
}

/// Rows changed by a run of INSERTs are observed once, after the run: a trigger that runs
/// DDL inside the run is still found, at the statement that fired it.
#[test]
fn lint_a_trigger_running_ddl_inside_a_run_of_inserts_is_found_at_its_insert() {
    let text = "CREATE FUNCTION app.widen() RETURNS trigger LANGUAGE plpgsql AS $$\n\
                BEGIN\n\
                  IF NEW.id = 2 THEN ALTER TABLE app.item ALTER COLUMN price TYPE bigint; END IF;\n\
                  RETURN NEW;\n\
                END $$;\n\
                CREATE TRIGGER tag_widen AFTER INSERT ON app.tag FOR EACH ROW \
                EXECUTE FUNCTION app.widen();\n\
                INSERT INTO app.tag VALUES (1, 'a');\n\
                INSERT INTO app.tag VALUES (2, 'b');\n\
                UPDATE app.tag SET label = 'c' WHERE id = 1;\n\
                DELETE FROM app.tag WHERE id = 1;\n";
    let report = lint_of(&[("01.sql", text)]);
    let lines: Vec<(Rule, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(lines, [(Rule::Rewrite, 8)]);
    assert_eq!(report.statements, 6);
}

/// The first version runs where nothing but schemas existed: each file is observed once,
/// at its end, and run again statement by statement when a schema was dropped or renamed,
/// to name the statement.
#[test]
fn lint_first_version_finds_a_renamed_schema_at_its_statement() {
    let project = Project::new(
        YAML,
        &[(
            "changelogs/1.0.0/01.sql",
            "CREATE SCHEMA app;\nCREATE TABLE app.t (id integer);\n\
             ALTER SCHEMA public RENAME TO old_public;\nCREATE TABLE app.u (id integer);\n",
        )],
    );
    let report = lint(&project.config(), &spec(), &LintOptions::default()).unwrap();
    let lines: Vec<(Rule, usize, Option<String>)> = report
        .findings
        .iter()
        .map(|f| (f.rule, f.line, f.table.clone()))
        .collect();
    assert_eq!(
        lines,
        [(Rule::BreakingRename, 3, Some("public".to_string()))]
    );
    assert_eq!(report.statements, 4);
}

#[test]
fn lint_bad_input_names_file_and_line() {
    let unknown_rule = project(&[("01.sql", "SELECT 1;\n-- pum:allow rewrites\nSELECT 2;\n")]);
    let err = lint(&unknown_rule.config(), &spec(), &from_1_0()).unwrap_err();
    assert!(
        err.to_string().starts_with("changelogs/1.1.0/01.sql:2:"),
        "{err}"
    );
    assert!(err.to_string().contains("unknown rule"), "{err}");

    let unknown_directive = project(&[("01.sql", "-- pum:no-transactions\nSELECT 1;\n")]);
    let err = lint(&unknown_directive.config(), &spec(), &from_1_0()).unwrap_err();
    assert!(
        err.to_string().starts_with("changelogs/1.1.0/01.sql:1:"),
        "{err}"
    );

    let yaml = format!("{YAML}lint:\n  allow:\n    changelogs/1.1.0/01.sql: [rewrite, dataloss]\n");
    let bad_config = project_with(&yaml, &[("01.sql", "SELECT 1;\n")]);
    let err = lint(&bad_config.config(), &spec(), &from_1_0()).unwrap_err();
    assert!(matches!(err, pum::Error::Config { .. }), "{err}");
    assert!(err.to_string().contains(".pum.yaml:4:"), "{err}");
    assert!(err.to_string().contains("dataloss"), "{err}");

    let options = LintOptions {
        from: Some(Version::parse("0.9.0").unwrap()),
        ..LintOptions::default()
    };
    let err = lint(&unknown_rule.config(), &spec(), &options).unwrap_err();
    assert!(err.to_string().contains("--from 0.9.0"), "{err}");

    let unterminated = project(&[("01.sql", "SELECT 1;\nSELECT 'oops;\n")]);
    let err = lint(&unterminated.config(), &spec(), &from_1_0()).unwrap_err();
    assert!(
        err.to_string().starts_with("changelogs/1.1.0/01.sql:2:"),
        "{err}"
    );

    let refused = project(&[("01.sql", "SELECT 1;\nALTER TABLE app.nope ADD x int;\n")]);
    let err = lint(&refused.config(), &spec(), &from_1_0()).unwrap_err();
    assert_eq!(err.sqlstate(), Some("42P01"), "{err}");
    assert!(
        err.to_string().starts_with("changelogs/1.1.0/01.sql:2:"),
        "{err}"
    );
}

#[test]
fn lint_pending_reads_the_database_and_changes_nothing() {
    let project = project(&[
        ("01.sql", "DROP TABLE archive.old;\n"),
        (
            "02.sql",
            "ALTER TABLE app.item ALTER COLUMN id TYPE bigint;\n",
        ),
    ]);
    let config = project.config();
    let db = ScratchDb::new("lint_pending", "");
    let install = MigrateOptions {
        max_version: Some(Version::parse("1.0.0").unwrap()),
        ..MigrateOptions::default()
    };
    Upgrader::new(&config, &db.spec())
        .unwrap()
        .install(&install, &mut NoProgress)
        .unwrap();
    // archive.old is empty on this database, as its statistics say.
    let mut client = db.client();
    client.batch_execute("DELETE FROM archive.old").unwrap();
    client.batch_execute("VACUUM ANALYZE archive.old").unwrap();
    let options = LintOptions {
        pending_on: Some(db.spec()),
        ..LintOptions::default()
    };
    let report = lint(&config, &spec(), &options).unwrap();
    assert_eq!(report.versions, [Version::parse("1.1.0").unwrap()]);
    assert_eq!(
        found(&report),
        [rule(Rule::Rewrite, "app.item", "ACCESS EXCLUSIVE")]
    );
    assert_eq!(
        db.strings(
            "SELECT version || ' ' || (SELECT count(*) FROM archive.old) FROM lint_sys.pum_migrations"
        ),
        ["1.0.0 0"]
    );
    assert_eq!(
        db.strings("SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = 'app.item'::regclass AND attname = 'id'"),
        ["integer"]
    );
}
