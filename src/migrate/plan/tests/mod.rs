//! Every rule of the plan, without a server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::changelog::{ChangelogFile, SqlText};
use crate::migrate::table::Migration;

const TABLE: &str = "shop.pum_migrations";

fn config(yaml: &str) -> Config {
    Config::parse(yaml, Path::new("/p/.pum.yaml"), Path::new("/p")).unwrap()
}

fn plain() -> Config {
    config(
        "pum: {module: shop}\nparameters: [{name: SRID, type: integer, default: 2056}, {name: label, app_only: true, default: x}]\n",
    )
}

/// A changelog with files named `name` holding `text`.
fn changelog(version: &str, files: &[(&str, &str)]) -> Changelog {
    Changelog {
        version: Version::parse(version).unwrap(),
        dir: PathBuf::from(format!("/p/changelogs/{version}")),
        files: files
            .iter()
            .map(|(name, text)| ChangelogFile {
                path: PathBuf::from(format!("/p/changelogs/{version}/{name}")),
                name: format!("changelogs/{version}/{name}"),
                sql: SqlText::new(text.to_string()),
            })
            .collect(),
        down: Vec::new(),
    }
}

/// 1.0.0 (two files), 1.1.0, 1.9.0, 1.10.0.
fn changelogs() -> Vec<Changelog> {
    vec![
        changelog(
            "1.0.0",
            &[
                ("01.sql", "CREATE TABLE a();"),
                ("02.sql", "CREATE TABLE b();"),
            ],
        ),
        changelog("1.1.0", &[("01.sql", "ALTER TABLE a ADD x int;")]),
        changelog("1.9.0", &[("01.sql", "CREATE TABLE c();")]),
        changelog("1.10.0", &[("01.sql", "CREATE TABLE d();")]),
    ]
}

/// The row an install of `changelog` records (files and checksums as on disk).
fn row_for(changelog: &Changelog) -> Migration {
    Migration {
        id: String::new(),
        date_installed: String::new(),
        module: Some("shop".into()),
        version: changelog.version.to_string(),
        beta_testing: false,
        changelog_files: changelog.files.iter().map(|f| f.name.clone()).collect(),
        parameters: Some(serde_json::json!({"SRID": 2056, "label": "x"})),
        parameter_texts: [("SRID", "2056"), ("label", "x")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect(),
        pum_version: None,
        file_checksums: changelog
            .files
            .iter()
            .map(|f| (f.name.clone(), f.sql.checksum.clone()))
            .collect(),
    }
}

/// A database where the first `n` changelogs are applied.
fn applied(changelogs: &[Changelog], n: usize) -> Applied {
    Applied {
        table: TABLE.into(),
        exists: true,
        other_tables: Vec::new(),
        rows: changelogs[..n].iter().map(row_for).collect(),
    }
}

fn fresh() -> Applied {
    Applied {
        table: TABLE.into(),
        ..Applied::default()
    }
}

fn params(config: &Config, given: &[(&str, &str)]) -> Parameters {
    let given: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Parameters::resolve(&config.parameters, &given).unwrap()
}

fn upgrade_plan(applied: &Applied, options: &MigrateOptions) -> Result<Plan> {
    let config = plain();
    upgrade(
        &config,
        &changelogs(),
        applied,
        &params(&config, &[]),
        options,
    )
}

fn conflict<T: std::fmt::Debug>(result: Result<T>) -> Conflict {
    match result {
        Err(Error::VersionConflict(conflict)) => conflict,
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

fn created() -> crate::migrate::BaselineOptions {
    crate::migrate::BaselineOptions {
        create_table: true,
        ..Default::default()
    }
}

fn max(version: &str) -> MigrateOptions {
    MigrateOptions {
        max_version: Some(Version::parse(version).unwrap()),
        ..MigrateOptions::default()
    }
}

use Step::{Commit, CreateTable, File, FileAlone, Hooks, Record};

#[test]
fn install_creates_the_table_and_applies_everything_in_one_transaction() {
    let plan = install(
        &plain(),
        &changelogs(),
        &fresh(),
        &MigrateOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.from, None);
    assert_eq!(plan.versions, [0, 1, 2, 3]);
    assert_eq!(
        plan.steps,
        [
            CreateTable,
            File {
                version: 0,
                file: 0
            },
            File {
                version: 0,
                file: 1
            },
            Record { version: 0 },
            File {
                version: 1,
                file: 0
            },
            Record { version: 1 },
            File {
                version: 2,
                file: 0
            },
            Record { version: 2 },
            File {
                version: 3,
                file: 0
            },
            Record { version: 3 },
            Commit,
        ]
    );
}

#[test]
fn install_stops_at_the_maximum_version_compared_numerically() {
    let plan = install(&plain(), &changelogs(), &fresh(), &max("1.9")).unwrap();
    assert_eq!(plan.versions, [0, 1, 2]);
    let err = conflict(install(&plain(), &changelogs(), &fresh(), &max("0.9")));
    assert_eq!(
        err,
        Conflict::NothingToInstall {
            first: "1.0.0".into(),
            max: "0.9".into()
        }
    );
}

#[test]
fn install_refuses_an_installed_database_and_other_modules_unless_allowed() {
    let err = install(
        &plain(),
        &changelogs(),
        &applied(&changelogs(), 1),
        &MigrateOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyInstalled { ref table } if table == TABLE),
        "{err}"
    );

    let beside = Applied {
        other_tables: vec!["other".into()],
        ..fresh()
    };
    let err = conflict(install(
        &plain(),
        &changelogs(),
        &beside,
        &MigrateOptions::default(),
    ));
    assert_eq!(
        err,
        Conflict::OtherModuleTables {
            schemas: vec!["other".into()]
        }
    );
    let allowed = MigrateOptions {
        allow_multiple_modules: true,
        ..MigrateOptions::default()
    };
    assert!(install(&plain(), &changelogs(), &beside, &allowed).is_ok());
}

#[test]
fn per_version_mode_commits_each_version_with_its_row() {
    let options = MigrateOptions {
        transaction: TransactionMode::PerVersion,
        ..max("1.1.0")
    };
    let plan = install(&plain(), &changelogs(), &fresh(), &options).unwrap();
    assert_eq!(
        plan.steps,
        [
            CreateTable,
            File {
                version: 0,
                file: 0
            },
            File {
                version: 0,
                file: 1
            },
            Record { version: 0 },
            Commit,
            File {
                version: 1,
                file: 0
            },
            Record { version: 1 },
            Commit,
        ]
    );
}

#[test]
fn per_version_mode_makes_the_application_again_before_each_commit() {
    let config = config(
        "pum: {module: shop}\napplication: {drop: [{code: DROP VIEW v}], create: [{code: CREATE VIEW v AS SELECT 1}]}\n",
    );
    let options = MigrateOptions {
        transaction: TransactionMode::PerVersion,
        ..max("1.1.0")
    };
    let plan = install(&config, &changelogs(), &fresh(), &options).unwrap();
    assert_eq!(
        plan.steps,
        [
            CreateTable,
            Hooks(HookPhase::Drop),
            File {
                version: 0,
                file: 0
            },
            File {
                version: 0,
                file: 1
            },
            Record { version: 0 },
            Hooks(HookPhase::Create),
            Commit,
            Hooks(HookPhase::Drop),
            File {
                version: 1,
                file: 0
            },
            Record { version: 1 },
            Hooks(HookPhase::Create),
            Commit,
        ]
    );
}

/// Whatever the plan, the application exists at every commit: every transaction that
/// drops it makes it again (and grants) before it commits, and nothing runs between a
/// drop and its create but the transaction's own steps.
#[test]
fn the_application_exists_at_every_commit() {
    let config = config(
        "pum: {module: shop}\napplication: {drop: [{code: DROP VIEW v}], create: [{code: CREATE VIEW v AS SELECT 1}]}\n\
         roles: [{name: r, permissions: [{type: read, schemas: [s]}]}]\n",
    );
    let alone = "-- pum:no-transaction\nCREATE INDEX CONCURRENTLY i ON a (x);";
    let changelogs = vec![
        changelog(
            "1.0.0",
            &[("01.sql", "CREATE TABLE a(x int);"), ("02.sql", alone)],
        ),
        changelog("1.1.0", &[("01.sql", alone), ("02.sql", "SELECT 1;")]),
        changelog("1.2.0", &[]),
        changelog("1.3.0", &[("01.sql", "SELECT 2;"), ("02.sql", alone)]),
    ];
    for transaction in [TransactionMode::Whole, TransactionMode::PerVersion] {
        let options = MigrateOptions {
            transaction,
            ..MigrateOptions::default()
        };
        for plan in [
            install(&config, &changelogs, &fresh(), &options).unwrap(),
            upgrade(
                &config,
                &changelogs,
                &applied(&changelogs, 1),
                &Parameters::default(),
                &options,
            )
            .unwrap(),
        ] {
            let mut dropped = false;
            let mut granted = true;
            for step in &plan.steps {
                match step {
                    Hooks(HookPhase::Drop) => dropped = true,
                    Hooks(HookPhase::Create) => {
                        dropped = false;
                        granted = false;
                    }
                    Step::Grant => granted = true,
                    Commit | FileAlone { .. } => {
                        assert!(!dropped && granted, "{transaction:?}: {:?}", plan.steps);
                    }
                    _ => {}
                }
            }
            assert_eq!(plan.steps.last(), Some(&Commit));
            assert_eq!(
                plan.steps.iter().filter(|s| **s == Step::Grant).count(),
                plan.steps.iter().filter(|s| **s == Commit).count(),
                "one grant per transaction: {:?}",
                plan.steps
            );
        }
    }
}

#[test]
fn a_no_transaction_file_runs_alone_after_a_commit() {
    let changelogs = vec![
        changelog("1.0.0", &[("01.sql", "CREATE TABLE a(x int);")]),
        changelog(
            "1.1.0",
            &[
                (
                    "01.sql",
                    "-- pum:no-transaction\nCREATE INDEX CONCURRENTLY i ON a (x);",
                ),
                ("02.sql", "SELECT 1;"),
            ],
        ),
    ];
    let plan = install(&plain(), &changelogs, &fresh(), &MigrateOptions::default()).unwrap();
    assert_eq!(
        plan.steps,
        [
            CreateTable,
            File {
                version: 0,
                file: 0
            },
            Record { version: 0 },
            Commit,
            FileAlone {
                version: 1,
                file: 0
            },
            File {
                version: 1,
                file: 1
            },
            Record { version: 1 },
            Commit,
        ]
    );
}

#[test]
fn hooks_surround_the_changelogs_unless_skipped() {
    let config = config(
        "pum: {module: shop}\napplication: {drop: [{code: DROP VIEW v}], create: [{file: app/v.sql}]}\n",
    );
    let plan = install(&config, &changelogs(), &fresh(), &max("1.0.0")).unwrap();
    assert_eq!(
        plan.steps,
        [
            CreateTable,
            Hooks(HookPhase::Drop),
            File {
                version: 0,
                file: 0
            },
            File {
                version: 0,
                file: 1
            },
            Record { version: 0 },
            Hooks(HookPhase::Create),
            Commit,
        ]
    );
    let skipped = MigrateOptions {
        skip_drop_app: true,
        skip_create_app: true,
        ..max("1.0.0")
    };
    let plan = install(&config, &changelogs(), &fresh(), &skipped).unwrap();
    assert!(
        !plan.steps.iter().any(|s| matches!(s, Hooks(_))),
        "{plan:?}"
    );
}

#[test]
fn roles_grants_and_demo_data_come_in_python_pums_order() {
    use Step::{DemoData, Grant, Roles, Settle};
    let config = config(
        "pum: {module: shop}\nroles: [{name: viewer}]\n\
         application: {drop: [{code: DROP VIEW v}], create: [{file: app/v.py}]}\n\
         demo_data: [{name: some, file: demo.sql}]\n",
    );
    let files = [
        File {
            version: 0,
            file: 0,
        },
        File {
            version: 0,
            file: 1,
        },
        Record { version: 0 },
    ];
    let with_demo = MigrateOptions {
        demo_data: Some("some".into()),
        ..max("1.0.0")
    };
    let plan = install(&config, &changelogs(), &fresh(), &with_demo).unwrap();
    let mut expected = vec![CreateTable, Roles, Hooks(HookPhase::Drop)];
    expected.extend(files);
    expected.extend([
        Hooks(HookPhase::Create),
        Grant,
        Settle,
        Hooks(HookPhase::Drop),
        Settle,
        DemoData,
        Settle,
        Hooks(HookPhase::Create),
        Grant,
        Commit,
    ]);
    assert_eq!(plan.steps, expected);

    // Without demo data, roles left alone, grants skipped.
    let skipped = MigrateOptions {
        skip_roles: true,
        skip_grant: true,
        ..max("1.0.0")
    };
    let plan = install(&config, &changelogs(), &fresh(), &skipped).unwrap();
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| matches!(s, Roles | Grant | DemoData)),
        "{plan:?}"
    );

    // Upgrade: roles and grants after the create hooks.
    let plan = upgrade(
        &config,
        &changelogs(),
        &applied(&changelogs(), 3),
        &Parameters::default(),
        &MigrateOptions::default(),
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [
            Hooks(HookPhase::Drop),
            File {
                version: 3,
                file: 0
            },
            Record { version: 3 },
            Hooks(HookPhase::Create),
            Roles,
            Grant,
            Commit
        ]
    );

    // Rust hooks make a phase run although the configuration has none there.
    let plain = plain();
    let plan = install_hooked(
        &plain,
        &changelogs(),
        &fresh(),
        &max("1.0.0"),
        &[HookPhase::Create],
    )
    .unwrap();
    assert_eq!(plan.steps[plan.steps.len() - 2], Hooks(HookPhase::Create));

    let unknown = MigrateOptions {
        demo_data: Some("other".into()),
        ..MigrateOptions::default()
    };
    let err = install(&config, &changelogs(), &fresh(), &unknown).unwrap_err();
    assert_eq!(
        err.to_string(),
        "demo data \"other\" is not in the configuration (declared: some)"
    );
}

#[test]
fn the_application_of_an_installed_module_only_keeps_fixed_parameters() {
    let config = config(
        "pum: {module: shop}\nparameters: [{name: SRID, type: integer, default: 2056}, \
         {name: lang, default: en, app_only: true}]\n",
    );
    let err = application(&config, &fresh(), &Parameters::default(), false).unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
    let err = application(&config, &fresh(), &Parameters::default(), true).unwrap_err();
    assert!(err.to_string().contains("nothing to uninstall"), "{err}");
    let mut installed = applied(&changelogs(), 2);
    installed.rows[1].parameter_texts = [("SRID".to_string(), Some("2056".to_string()))]
        .into_iter()
        .collect();
    let lang = Parameters::resolve(&config.parameters, &[("lang".into(), "fr".into())]).unwrap();
    assert_eq!(
        application(&config, &installed, &lang, false).unwrap(),
        Version::parse("1.1.0").unwrap()
    );
    let srid = Parameters::resolve(&config.parameters, &[("SRID".into(), "21781".into())]).unwrap();
    let err = application(&config, &installed, &srid, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionConflict(Conflict::ParameterChanged { .. })
        ),
        "{err}"
    );
    // Uninstalling does not care.
    assert!(application(&config, &installed, &srid, true).is_ok());
}

mod upgrade;
