//! Installing, upgrading and inspecting changelog projects on real databases.

use pum::migrate::{FileStatus, NoProgress, VersionStatus};
use pum::{Config, MigrateOptions, TransactionMode, Upgrader, Version};

use pum::testing::TestDb;

use crate::support::project::{Project, YAML, shop};
use crate::support::strings;

fn up_to(version: &str) -> MigrateOptions {
    MigrateOptions {
        max_version: Some(Version::parse(version).unwrap()),
        ..MigrateOptions::default()
    }
}

fn recorded(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT version::text FROM shop.pum_migrations ORDER BY date_installed, id",
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn columns(db: &TestDb, table: &str) -> Vec<String> {
    strings(
        db,
        &format!(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = '{table}'::regclass \
         AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
    )
}

#[pum::pum_test]
fn install_then_stepwise_upgrades_in_numeric_order(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();

    let report = upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    assert_eq!(report.applied, ["1.0.0"]);
    assert_eq!(report.files, 2);
    assert_eq!(
        strings(
            &db,
            "SELECT srid::text FROM shop.item UNION ALL SELECT column_default::text FROM information_schema.columns WHERE table_name = 'item' AND column_name = 'srid'"
        ),
        ["2056"]
    );

    let report = upgrader.upgrade(&up_to("1.9.0"), &mut NoProgress).unwrap();
    assert_eq!(report.from.as_deref(), Some("1.0.0"));
    assert_eq!(report.applied, ["1.1.0", "1.9.0"]);

    // 1.10.0 comes after 1.9.0, not between 1.1.0 and 1.9.0.
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.10.0"]);
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.from.as_deref(), Some("1.10.0"));

    assert_eq!(
        strings(&db, "SELECT file FROM shop.applied ORDER BY 1"),
        ["1.0.0/01", "1.0.0/02", "1.1.0/01", "1.10.0/01", "1.9.0/01"]
    );
    assert_eq!(sorted(recorded(&db)), ["1.0.0", "1.1.0", "1.10.0", "1.9.0"]);
    // Python pum's columns, in its order, then ours.
    assert_eq!(
        columns(&db, "shop.pum_migrations"),
        [
            "id",
            "date_installed",
            "module",
            "version",
            "beta_testing",
            "changelog_files",
            "parameters",
            "migration_table_version",
            "pum_version",
            "file_checksums"
        ]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT obj_description('shop.pum_migrations'::regclass)"
        ),
        ["migration_table_version: 3"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT array_to_string(changelog_files, ',') || ' ' || parameters::text || ' ' || \
             module || ' ' || migration_table_version FROM shop.pum_migrations WHERE version = '1.0.0'"
        ),
        [
            "changelogs/1.0.0/01_schema.sql,changelogs/1.0.0/02_label.sql {\"SRID\": 2056, \"label\": \"plain\"} shop 3"
        ]
    );
}

#[pum::pum_test]
fn a_failing_file_rolls_back_the_whole_run(db: TestDb) {
    let project = shop();
    project.write(
        "changelogs/1.9.0/01_price.sql",
        "ALTER TABLE shop.item ADD COLUMN price numeric;\n\n  INSERT INTO shop.nowhere VALUES (1);\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();

    let err = upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42P01"));
    assert_eq!(
        err.to_string(),
        "changelogs/1.9.0/01_price.sql:3:15: 42P01: relation \"shop.nowhere\" does not exist \
         (in: INSERT INTO shop.nowhere VALUES (1);)"
    );
    assert!(
        strings(
            &db,
            "SELECT nspname::text FROM pg_namespace WHERE nspname = 'shop'"
        )
        .is_empty(),
        "nothing of the run is left"
    );

    // Per version: the versions before the failing one stay.
    let per_version = MigrateOptions {
        transaction: TransactionMode::PerVersion,
        ..MigrateOptions::default()
    };
    upgrader.install(&per_version, &mut NoProgress).unwrap_err();
    assert_eq!(recorded(&db), ["1.0.0", "1.1.0"]);
    assert!(!columns(&db, "shop.item").contains(&"price".to_string()));

    // Fixed, the upgrade carries on from there.
    project.write(
        "changelogs/1.9.0/01_price.sql",
        "ALTER TABLE shop.item ADD COLUMN price numeric;\nINSERT INTO shop.applied VALUES ('1.9.0/01');\n",
    );
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.9.0", "1.10.0"]);
}

#[pum::pum_test]
fn creating_the_migration_table_schema_says_to_write_if_not_exists(db: TestDb) {
    // The README's first steps: migration_table_schema: shop and CREATE SCHEMA shop.
    let project = Project::new(
        "pum:\n  module: shop\n  migration_table_schema: shop\n",
        &[("changelogs/1.0.0/01_schema.sql", "CREATE SCHEMA shop;\n")],
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    let err = upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01_schema.sql:1:1: 42P06: schema \"shop\" already exists (pum \
         creates the schema of its migrations table, migration_table_schema: shop, before the \
         changelogs, as Python pum does: write CREATE SCHEMA IF NOT EXISTS) (in: CREATE SCHEMA \
         shop;)"
    );
    project.write(
        "changelogs/1.0.0/01_schema.sql",
        "CREATE SCHEMA IF NOT EXISTS shop;\n",
    );
    upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(recorded(&db), ["1.0.0"]);
}

/// A project whose application (a view on shop.item) is dropped and made by hooks, and
/// whose 1.2.0 fails unless fixed.
fn app_project() -> Project {
    Project::new(
        "pum:\n  module: shop\n  migration_table_schema: shop\n\
         application:\n  drop: [{code: \"DROP VIEW IF EXISTS shop.item_view\"}]\n\
         \x20 create: [{code: \"CREATE VIEW shop.item_view AS SELECT * FROM shop.item\"}]\n",
        &[
            (
                "changelogs/1.0.0/01.sql",
                "CREATE SCHEMA IF NOT EXISTS shop;\nCREATE TABLE shop.item (id int);\n",
            ),
            (
                "changelogs/1.1.0/01.sql",
                "ALTER TABLE shop.item ADD COLUMN name text;\n",
            ),
            (
                "changelogs/1.1.0/02.sql",
                "-- pum:no-transaction\nCREATE INDEX CONCURRENTLY item_name ON shop.item (name);\n",
            ),
            (
                "changelogs/1.2.0/01.sql",
                "ALTER TABLE shop.item ADD COLUMN price numeric;\nSELECT 1 / 0;\n",
            ),
        ],
    )
}

/// The columns of the application's view (none when it is dropped).
const VIEW_COLUMNS: &str = "SELECT attname::text FROM pg_attribute \
    WHERE attrelid = to_regclass('shop.item_view') AND attnum > 0 ORDER BY attnum";

fn view_columns(db: &TestDb) -> Vec<String> {
    strings(db, VIEW_COLUMNS)
}

#[pum::pum_test]
fn a_failed_run_never_leaves_the_application_dropped(db: TestDb) {
    let project = app_project();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    assert_eq!(view_columns(&db), ["id"]);

    // Per version: 1.1.0 commits, 1.2.0 fails; the application is there, made on 1.1.0.
    let per_version = MigrateOptions {
        transaction: TransactionMode::PerVersion,
        ..MigrateOptions::default()
    };
    let err = upgrader.upgrade(&per_version, &mut NoProgress).unwrap_err();
    assert_eq!(err.sqlstate(), Some("22012"), "{err}");
    assert_eq!(recorded(&db), ["1.0.0", "1.1.0"]);
    assert_eq!(view_columns(&db), ["id", "name"]);

    // The default run: 1.1.0's no-transaction file commits what came before it; the
    // failure later leaves the application as that commit left it.
    let fresh = crate::support::ScratchDb::new("app_kept", "");
    let fresh_spec = fresh.spec();
    let upgrader = Upgrader::new(&config, &fresh_spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("22012"), "{err}");
    assert_eq!(fresh.strings(VIEW_COLUMNS), ["id", "name"]);

    // Fixed, the upgrade goes on and makes the application on the new schema.
    project.write(
        "changelogs/1.2.0/01.sql",
        "ALTER TABLE shop.item ADD COLUMN price numeric;\n",
    );
    Upgrader::new(&config, &spec)
        .unwrap()
        .upgrade(&per_version, &mut NoProgress)
        .unwrap();
    assert_eq!(view_columns(&db), ["id", "name", "price"]);
}

#[pum::pum_test]
fn concurrent_upgrades_apply_each_file_once(db: TestDb) {
    let project = shop();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let config = project.config();
            let spec = db.spec().clone();
            std::thread::spawn(move || {
                let upgrader = Upgrader::new(&config, &spec).unwrap();
                // The first installs; the others find it installed and upgrade (nothing left).
                match upgrader.install(&MigrateOptions::default(), &mut NoProgress) {
                    Ok(report) => report.applied.len(),
                    Err(pum::Error::AlreadyInstalled { .. }) => upgrader
                        .upgrade(&MigrateOptions::default(), &mut NoProgress)
                        .unwrap()
                        .applied
                        .len(),
                    Err(other) => panic!("{other}"),
                }
            })
        })
        .collect();
    let applied: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(applied, 4, "every version applied by exactly one of them");
    assert_eq!(
        strings(&db, "SELECT count(*)::text FROM shop.applied"),
        ["5"]
    );
    assert_eq!(recorded(&db).len(), 4);
}

#[pum::pum_test]
fn parameter_values_stay_literals(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let evil = "x'); DROP TABLE shop.item; --";
    let options = MigrateOptions {
        parameters: vec![("label".into(), evil.into())],
        ..up_to("1.0.0")
    };
    Upgrader::new(&config, &spec)
        .unwrap()
        .install(&options, &mut NoProgress)
        .unwrap();
    assert_eq!(strings(&db, "SELECT v FROM shop.label"), [evil]);
    assert_eq!(
        strings(&db, "SELECT to_regclass('shop.item')::text"),
        ["shop.item"]
    );

    let bad = MigrateOptions {
        parameters: vec![("SRID".into(), "2056; DROP TABLE shop.item".into())],
        ..MigrateOptions::default()
    };
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .upgrade(&bad, &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter SRID: \"2056; DROP TABLE shop.item\" is not an integer"
    );
}

#[pum::pum_test]
fn changed_parameters_module_and_beta_testing_block_upgrades(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    let beta = MigrateOptions {
        beta_testing: true,
        ..up_to("1.0.0")
    };
    upgrader.install(&beta, &mut NoProgress).unwrap();

    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "version 1.0.0 was installed in beta-testing mode: upgrading needs force"
    );
    let forced = MigrateOptions {
        force: true,
        parameters: vec![("SRID".into(), "21781".into())],
        ..up_to("1.1.0")
    };
    let err = upgrader.upgrade(&forced, &mut NoProgress).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter SRID: was 2056 when version 1.0.0 was installed and is 21781 now; only \
         app_only parameters may change between upgrades"
    );
    let forced = MigrateOptions {
        force: true,
        ..up_to("1.1.0")
    };
    upgrader.upgrade(&forced, &mut NoProgress).unwrap();
    assert_eq!(
        strings(
            &db,
            "SELECT beta_testing::text FROM shop.pum_migrations WHERE version = '1.1.0'"
        ),
        ["true"],
        "a beta installation stays beta"
    );

    let other_config = Config::parse(
        &YAML.replace("module: shop", "module: other"),
        &project.path().join(".pum.yaml"),
        project.path(),
    )
    .unwrap();
    let err = Upgrader::new(&other_config, &spec)
        .unwrap()
        .upgrade(&forced, &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop.pum_migrations belongs to module \"shop\", not \"other\""
    );

    let err = upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop.pum_migrations already exists: the module is installed; use upgrade"
    );
}

#[pum::pum_test]
fn baseline_then_upgrade_and_the_baseline_check(db: TestDb) {
    let project = shop();
    let config = project.config();
    db.client()
        .batch_execute(
            "CREATE SCHEMA shop; CREATE TABLE shop.applied (file text PRIMARY KEY);
         CREATE TABLE shop.item (id int PRIMARY KEY, srid int, name text);
         CREATE TABLE shop.label (v text);",
        )
        .unwrap();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();

    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert!(matches!(err, pum::Error::NotInstalled { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "shop.pum_migrations does not exist: not installed; install the module, or record \
         what is there with baseline"
    );
    let v110 = Version::parse("1.1.0").unwrap();
    let err = upgrader.baseline(&v110, &Default::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop.pum_migrations does not exist: not installed; create it with the baseline \
         (--create-table)"
    );
    upgrader
        .baseline(
            &v110,
            &pum::BaselineOptions {
                create_table: true,
                ..Default::default()
            },
        )
        .unwrap();
    let err = upgrader
        .baseline(&Version::parse("1.0.0").unwrap(), &Default::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot record baseline 1.0.0: shop.pum_migrations already records 1.1.0"
    );

    // 1.1.0 is recorded, 1.0.0 (below it) is not: refused unless asked.
    upgrader
        .baseline(&Version::parse("1.1.0.1").unwrap(), &Default::default())
        .unwrap();
    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "version(s) 1.0.0 are at or below the current version 1.1.0.1 but not recorded \
         in shop.pum_migrations; if the database holds them already (a baseline records \
         only the version it names), skip this check (--skip-baseline-check, \
         MigrateOptions::skip_baseline_check)"
    );
    let skip = MigrateOptions {
        skip_baseline_check: true,
        ..MigrateOptions::default()
    };
    let report = upgrader.upgrade(&skip, &mut NoProgress).unwrap();
    assert_eq!(report.applied, ["1.9.0", "1.10.0"]);

    let info = upgrader.info().unwrap();
    let statuses: Vec<(String, VersionStatus)> = info
        .versions
        .iter()
        .map(|v| (v.version.clone(), v.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("1.0.0".to_string(), VersionStatus::Skipped),
            ("1.1.0".to_string(), VersionStatus::Baseline),
            ("1.1.0.1".to_string(), VersionStatus::Baseline),
            ("1.9.0".to_string(), VersionStatus::Applied),
            ("1.10.0".to_string(), VersionStatus::Applied),
        ]
    );
}

#[pum::pum_test]
fn changed_files_are_found_by_info_validate_and_upgrade(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.1.0"), &mut NoProgress).unwrap();
    assert!(upgrader.validate().unwrap().is_empty());

    // Line endings alone do not count as a change.
    let path = project.path().join("changelogs/1.1.0/01_name.sql");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
    assert!(upgrader.validate().unwrap().is_empty());

    project.write("changelogs/1.1.0/01_name.sql", "-- edited after the fact\n");
    std::fs::remove_file(project.path().join("changelogs/1.0.0/02_label.sql")).unwrap();
    assert_eq!(
        upgrader.validate().unwrap(),
        [
            "changelogs/1.0.0/02_label.sql (missing)",
            "changelogs/1.1.0/01_name.sql (changed)"
        ]
    );
    let info = upgrader.info().unwrap();
    let v110 = info.versions.iter().find(|v| v.version == "1.1.0").unwrap();
    assert_eq!(v110.files[0].status, FileStatus::Changed);
    let pending = info.versions.iter().find(|v| v.version == "1.9.0").unwrap();
    assert_eq!(pending.status, VersionStatus::Pending);
    assert_eq!(pending.files[0].status, FileStatus::Pending);

    let strict = MigrateOptions {
        strict: true,
        ..MigrateOptions::default()
    };
    let err = upgrader.upgrade(&strict, &mut NoProgress).unwrap_err();
    assert_eq!(
        err.to_string(),
        "applied file(s) changed since they were applied: changelogs/1.0.0/02_label.sql \
         (missing), changelogs/1.1.0/01_name.sql (changed)"
    );
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.applied, ["1.9.0", "1.10.0"]);
}

#[pum::pum_test]
fn no_transaction_files_run_outside_the_transaction(db: TestDb) {
    let project = shop();
    project.write(
        "changelogs/1.10.0/01_stock.sql",
        "-- pum:no-transaction\nCREATE INDEX CONCURRENTLY item_name ON shop.item (name);\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(
        strings(
            &db,
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'shop.item'::regclass ORDER BY 1"
        ),
        ["shop.item_name", "shop.item_pkey"]
    );
    let info = upgrader.info().unwrap();
    let last = info.versions.last().unwrap();
    assert!(last.files[0].no_transaction);
    assert!(!info.versions[0].files[0].no_transaction);
}

#[pum::pum_test]
fn forbidden_statements_and_bad_sql_name_the_file_and_line(db: TestDb) {
    let spec = db.spec().clone();
    for (text, expected) in [
        (
            "CREATE TABLE a (x int);\nBEGIN;\nCREATE TABLE b (x int);\n",
            "changelogs/1.0.0/01.sql:2:1: transaction control (BEGIN, COMMIT, ROLLBACK…) is not \
             allowed in changelog files: pum runs them in its own transaction (mark a file that \
             must run outside one with -- pum:no-transaction)",
        ),
        (
            "SELECT 1;\n  SELECT pg_catalog.set_config('search_path', '', false);\n",
            "changelogs/1.0.0/01.sql:2:3: changing search_path with set_config is not allowed \
             in changelog files: it would change it for every file that runs after this one",
        ),
        (
            "SELECT 1;\nSELECT {nope};\n",
            "changelogs/1.0.0/01.sql:2:8: unknown parameter {nope}",
        ),
        (
            "SELECT 1;\nSELECT 'unterminated;\n",
            "changelogs/1.0.0/01.sql:2:8: unterminated quoted string",
        ),
        (
            "CREATE TABLE t (\n  x int,\n  y nosuchtype\n);\n",
            "changelogs/1.0.0/01.sql:3:5: 42704: type \"nosuchtype\" does not exist (in: CREATE \
             TABLE t ()",
        ),
    ] {
        let project = Project::new("pum: {module: m}\n", &[("changelogs/1.0.0/01.sql", text)]);
        let config = project.config();
        let err = Upgrader::new(&config, &spec)
            .unwrap()
            .install(&MigrateOptions::default(), &mut NoProgress)
            .unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert!(
            strings(
                &db,
                "SELECT relname::text FROM pg_class WHERE relname = 'pum_migrations'"
            )
            .is_empty(),
            "nothing recorded"
        );
    }
}

#[pum::pum_test]
fn hooks_run_around_the_changelogs(db: TestDb) {
    let project = Project::new(
        "pum: {module: app}\n\
         parameters: [{name: greeting, default: hello, app_only: true}]\n\
         application:\n  drop: [{code: 'DROP VIEW IF EXISTS public.v'}]\n  create: [{file: app/create.sql}]\n",
        &[
            (
                "changelogs/1.0.0/01.sql",
                "CREATE TABLE public.t (x int);\n",
            ),
            (
                "changelogs/1.1.0/01.sql",
                "ALTER TABLE public.t ALTER COLUMN x TYPE bigint;\n",
            ),
            (
                "app/create.sql",
                "CREATE VIEW public.v AS SELECT x, {greeting} AS g FROM public.t;\n",
            ),
        ],
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.0.0"), &mut NoProgress).unwrap();
    assert_eq!(
        strings(&db, "SELECT g FROM public.v UNION ALL SELECT 'row'"),
        ["row"]
    );
    // The view depends on t.x: altering x works only because the drop hook ran first.
    let options = MigrateOptions {
        parameters: vec![("greeting".into(), "hi".into())],
        ..MigrateOptions::default()
    };
    upgrader.upgrade(&options, &mut NoProgress).unwrap();
    db.client()
        .batch_execute("INSERT INTO public.t VALUES (1)")
        .unwrap();
    assert_eq!(strings(&db, "SELECT g FROM public.v"), ["hi"]);
}

#[pum::pum_test]
fn tables_written_by_older_python_pum_are_upgraded_in_place(db: TestDb) {
    let project = shop();
    let config = project.config();
    // Layout 1 (Python pum 1.0-1.2): text migration_table_version, nullable module.
    db.client().batch_execute("CREATE SCHEMA shop;
         CREATE TABLE shop.applied (file text PRIMARY KEY);
         CREATE TABLE shop.item (id int PRIMARY KEY, srid int);
         CREATE TABLE shop.label (v text);
         CREATE TABLE shop.pum_migrations (
           id uuid DEFAULT gen_random_uuid() PRIMARY KEY,
           date_installed timestamp without time zone NOT NULL DEFAULT now(),
           module character varying(50),
           version character varying(50) NOT NULL,
           beta_testing boolean NOT NULL DEFAULT false,
           changelog_files text[],
           parameters jsonb,
           migration_table_version character varying(50) NOT NULL DEFAULT '2025.0');
         COMMENT ON TABLE shop.pum_migrations IS 'version: 1 --  schema_migration table version';
         INSERT INTO shop.pum_migrations (version, changelog_files, parameters)
           VALUES ('1.0.0', ARRAY['changelogs/1.0.0/01_schema.sql', 'changelogs/1.0.0/02_label.sql'],
                   '{\"SRID\": 2056, \"label\": \"plain\"}');",
    ).unwrap();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    let info = upgrader.info().unwrap();
    assert_eq!(info.current_version.as_deref(), Some("1.0.0"));
    assert_eq!(info.versions[0].files[0].status, FileStatus::Unknown);

    let report = upgrader.upgrade(&up_to("1.1.0"), &mut NoProgress).unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT module || ' ' || migration_table_version FROM shop.pum_migrations ORDER BY version"
        ),
        ["shop 1", "shop 3"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'shop.pum_migrations'::regclass AND attname = 'migration_table_version'"
        ),
        ["integer"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT obj_description('shop.pum_migrations'::regclass)"
        ),
        ["migration_table_version: 3"]
    );

    // Python pum 1.8 writes its rows with this statement: it still fits the table.
    db.client()
        .batch_execute(
            "INSERT INTO shop.pum_migrations (module, version, beta_testing, migration_table_version, \
             changelog_files, parameters, pum_version) VALUES ('shop', '1.9.0', false, 3, \
             ARRAY['changelogs/1.9.0/01_price.sql'], '{\"SRID\": 2056, \"label\": \"plain\"}', '1.8.0')",
        )
        .unwrap();
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(
        report.applied,
        ["1.10.0"],
        "what Python pum recorded counts as applied"
    );
}

/// The rows of a one-column text query.
#[pum::pum_test]
fn a_syntax_error_is_reported_where_it_is_in_every_transaction_mode(db: TestDb) {
    let spec = db.spec().clone();
    let files = [
        ("changelogs/1.0.0/01.sql", "CREATE TABLE a (x int);\n"),
        (
            "changelogs/1.1.0/01.sql",
            "CREATE TABLE b (x int);\n-- a typo follows\nCREATE tabel c (x int);\n",
        ),
    ];
    for transaction in [TransactionMode::Whole, TransactionMode::PerVersion] {
        let project = Project::new("pum: {module: m}\n", &files);
        let config = project.config();
        let options = MigrateOptions {
            transaction,
            ..MigrateOptions::default()
        };
        let err = Upgrader::new(&config, &spec)
            .unwrap()
            .install(&options, &mut NoProgress)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "changelogs/1.1.0/01.sql:3:8: 42601: syntax error at or near \"tabel\" \
             (in: CREATE tabel c (x int);)",
            "{transaction:?}"
        );
        assert_eq!(err.sqlstate(), Some("42601"));
        let tables = strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relname IN ('b', 'c')",
        );
        assert!(tables.is_empty(), "{transaction:?}: {tables:?}");
        let kept = strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relname = 'a'",
        );
        match transaction {
            TransactionMode::Whole => assert!(kept.is_empty(), "the whole run is undone"),
            other => assert_eq!(kept, ["a"], "{other:?}: 1.0.0 was committed"),
        }
        db.client()
            .batch_execute("DROP TABLE IF EXISTS a; DROP TABLE IF EXISTS public.pum_migrations")
            .unwrap();
    }
}

#[pum::pum_test]
fn errors_inside_functions_and_do_blocks_name_the_statement(db: TestDb) {
    let spec = db.spec().clone();
    let project = Project::new(
        "pum: {module: m}\n",
        &[(
            "changelogs/1.0.0/01.sql",
            "CREATE TABLE a (x int);\n\nDO $$\nBEGIN\n  PERFORM 1 / 0;\nEND\n$$;\n",
        )],
    );
    let config = project.config();
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01.sql:3:1: 22012: division by zero (in: DO $$)"
    );
    assert!(
        strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relname = 'a'"
        )
        .is_empty()
    );

    // A function whose body fails when it is called.
    let project = Project::new(
        "pum: {module: m}\n",
        &[(
            "changelogs/1.0.0/01.sql",
            "CREATE TABLE a (x int);\n\
             CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$\n\
             BEGIN RETURN (SELECT nosuchcol FROM a); END\n$$;\n\
             SELECT f();\n",
        )],
    );
    let config = project.config();
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01.sql:5:1: 42703: column \"nosuchcol\" does not exist (in: SELECT f();)"
    );
    assert!(strings(&db, "SELECT proname::text FROM pg_proc WHERE proname = 'f'").is_empty());
}

#[pum::pum_test]
fn a_file_added_to_an_applied_version_is_refused_and_listed_by_validate(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.1.0"), &mut NoProgress).unwrap();
    project.write(
        "changelogs/1.0.0/03_late.sql",
        "CREATE TABLE shop.late (x int);\n",
    );

    assert_eq!(
        upgrader.validate().unwrap(),
        ["changelogs/1.0.0/03_late.sql (added)"]
    );
    let info = upgrader.info().unwrap();
    let v100 = info.versions.iter().find(|v| v.version == "1.0.0").unwrap();
    assert_eq!(v100.files[2].status, FileStatus::Added);

    let err = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert!(
        matches!(
            err,
            pum::Error::VersionConflict(pum::Conflict::AddedFiles { .. })
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "file(s) added to version(s) already applied, which would never run: \
         changelogs/1.0.0/03_late.sql; move them to a new version"
    );
    assert_eq!(sorted(recorded(&db)), ["1.0.0", "1.1.0"], "nothing applied");
    assert!(
        strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relname = 'late'"
        )
        .is_empty()
    );

    // Moved to a new version, it runs.
    std::fs::remove_file(project.path().join("changelogs/1.0.0/03_late.sql")).unwrap();
    project.write(
        "changelogs/1.10.1/01_late.sql",
        "CREATE TABLE shop.late (x int);\n",
    );
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.9.0", "1.10.0", "1.10.1"]);
}

#[pum::pum_test]
fn an_upgrade_can_be_planned_without_changing_anything(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader.install(&up_to("1.1.0"), &mut NoProgress).unwrap();
    let plan = pum::internal::plan_upgrade(&upgrader, &MigrateOptions::default()).unwrap();
    assert_eq!(plan.from, Some(Version::parse("1.1.0").unwrap()));
    assert_eq!(plan.versions.len(), 2);
    assert_eq!(plan.steps.last(), Some(&pum::internal::Step::Commit));
    assert_eq!(
        sorted(recorded(&db)),
        ["1.0.0", "1.1.0"],
        "planning applies nothing"
    );
}

#[pum::pum_test]
fn hostile_values_stay_literals_in_function_bodies_and_quotes_are_refused(db: TestDb) {
    let spec = db.spec().clone();
    let yaml = "pum: {module: m}\nparameters: [{name: label, default: plain}]\n";
    let body = "CREATE FUNCTION public.label() RETURNS text LANGUAGE plpgsql AS $$\n\
                BEGIN RETURN {label}; END\n$$;\n";
    for hostile in [
        "x'; DROP TABLE public.canary; --",
        "back\\slash and ''quotes''",
        "$fn$ a different tag",
        "line\nbreak */ /* -- end",
    ] {
        let project = Project::new(yaml, &[("changelogs/1.0.0/01.sql", body)]);
        let config = project.config();
        db.client()
            .batch_execute("CREATE TABLE IF NOT EXISTS public.canary (); DROP FUNCTION IF EXISTS public.label(); DROP TABLE IF EXISTS public.pum_migrations")
            .unwrap();
        let options = MigrateOptions {
            parameters: vec![("label".into(), hostile.into())],
            ..MigrateOptions::default()
        };
        Upgrader::new(&config, &spec)
            .unwrap()
            .install(&options, &mut NoProgress)
            .unwrap();
        assert_eq!(strings(&db, "SELECT public.label()"), [hostile]);
        assert_eq!(
            strings(&db, "SELECT to_regclass('public.canary')::text"),
            ["canary"]
        );
    }

    // A value that would end the body is refused before anything runs.
    db.client()
        .batch_execute("DROP FUNCTION public.label(); DROP TABLE public.pum_migrations")
        .unwrap();
    let project = Project::new(yaml, &[("changelogs/1.0.0/01.sql", body)]);
    let config = project.config();
    let options = MigrateOptions {
        parameters: vec![("label".into(), "x$$; DROP TABLE public.canary; --".into())],
        ..MigrateOptions::default()
    };
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .install(&options, &mut NoProgress)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "changelogs/1.0.0/01.sql:2:14: the value of {label} contains $$, which would end \
             the dollar-quoted body"
        ),
        "{err}"
    );

    // A placeholder inside quotes is refused, naming the right form.
    let project = Project::new(
        yaml,
        &[(
            "changelogs/1.0.0/01.sql",
            "COMMENT ON TABLE public.canary IS 'made by {label}';\n",
        )],
    );
    let config = project.config();
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "changelogs/1.0.0/01.sql:1:44: parameter {label} inside a string literal: write \
         {label} without quotes (it becomes a quoted literal), or join it: 'text ' || {label}"
    );
    assert_eq!(
        strings(&db, "SELECT to_regclass('public.canary')::text"),
        ["canary"]
    );
    assert!(
        strings(
            &db,
            "SELECT relname::text FROM pg_class WHERE relname = 'pum_migrations'"
        )
        .is_empty()
    );
}

#[pum::pum_test]
fn per_version_a_failing_create_hook_leaves_a_version_for_the_next_run(db: TestDb) {
    let spec = db.spec().clone();
    let yaml = |create: &str| {
        format!(
            "pum: {{module: m}}\napplication:\n  drop: [{{code: \"DROP VIEW IF EXISTS public.app\"}}]\n  create: [{{code: \"{create}\"}}]\n"
        )
    };
    let files = [
        (
            "changelogs/1.0.0/01.sql",
            "CREATE TABLE public.item (x int);\n",
        ),
        (
            "changelogs/1.1.0/01.sql",
            "ALTER TABLE public.item ADD y int;\n",
        ),
    ];
    let per_version = MigrateOptions {
        transaction: TransactionMode::PerVersion,
        ..MigrateOptions::default()
    };
    let good = Project::new(
        &yaml("CREATE VIEW public.app AS SELECT x FROM public.item"),
        &files[..1],
    );
    Upgrader::new(&good.config(), &spec)
        .unwrap()
        .install(&per_version, &mut NoProgress)
        .unwrap();
    assert_eq!(
        strings(&db, "SELECT to_regclass('public.app')::text"),
        ["app"]
    );

    // 1.1.0 arrives with a create hook that fails.
    let broken = Project::new(
        &yaml("CREATE VIEW public.app AS SELECT nope FROM public.item"),
        &files,
    );
    let err = Upgrader::new(&broken.config(), &spec)
        .unwrap()
        .upgrade(&per_version, &mut NoProgress)
        .unwrap_err();
    assert!(
        err.to_string().contains("column \"nope\" does not exist"),
        "{err}"
    );
    let versions = strings(
        &db,
        "SELECT version::text FROM public.pum_migrations ORDER BY 1",
    );
    assert_eq!(versions, ["1.0.0"], "1.1.0 stays to be applied");
    assert_eq!(
        strings(&db, "SELECT to_regclass('public.app')::text"),
        ["app"],
        "the single pending version rolled back with its hooks: the application is as it was"
    );

    // Fixed, the next run applies 1.1.0 and creates the application again.
    let fixed = Project::new(
        &yaml("CREATE VIEW public.app AS SELECT x, y FROM public.item"),
        &files,
    );
    let report = Upgrader::new(&fixed.config(), &spec)
        .unwrap()
        .upgrade(&per_version, &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
    assert_eq!(
        strings(
            &db,
            "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.app'::regclass AND attnum > 0"
        ),
        ["x,y"]
    );
}

#[pum::pum_test]
fn decimal_parameters_stay_exact_in_sql_and_in_the_table(db: TestDb) {
    let spec = db.spec().clone();
    let project = Project::new(
        "pum: {module: m}\nparameters: [{name: scale, type: decimal, default: '1.5'}]\n",
        &[
            (
                "changelogs/1.0.0/01.sql",
                "CREATE TABLE public.setting (v numeric DEFAULT {scale});\n",
            ),
            ("changelogs/1.1.0/01.sql", "SELECT 1;\n"),
        ],
    );
    let config = project.config();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    let exact = "2600000.123456789012345678901";
    let with = |value: &str, max: Option<&str>| MigrateOptions {
        parameters: vec![("scale".into(), value.into())],
        max_version: max.map(|m| Version::parse(m).unwrap()),
        ..MigrateOptions::default()
    };
    upgrader
        .install(&with(exact, Some("1.0.0")), &mut NoProgress)
        .unwrap();
    assert_eq!(
        strings(
            &db,
            "SELECT column_default FROM information_schema.columns WHERE table_name = 'setting'"
        ),
        [exact],
        "no digit lost in SQL"
    );
    assert_eq!(
        strings(
            &db,
            "SELECT parameters->>'scale' FROM public.pum_migrations"
        ),
        [exact],
        "no digit lost in the table"
    );
    // The same number written otherwise is the same parameter; another number is not.
    let err = upgrader
        .upgrade(
            &with("2600000.123456789012345678902", None),
            &mut NoProgress,
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            pum::Error::VersionConflict(pum::Conflict::ParameterChanged { .. })
        ),
        "{err}"
    );
    let report = upgrader
        .upgrade(
            &with("2600000.1234567890123456789010", None),
            &mut NoProgress,
        )
        .unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
}
