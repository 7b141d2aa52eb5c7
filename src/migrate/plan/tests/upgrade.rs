//! The plan of upgrades, baselines and records: what is above the current version,
//! what must be recorded below it, and what refuses a run.

use super::*;

#[test]
fn upgrade_applies_what_is_above_the_current_version_numerically() {
    let all = changelogs();
    let plan = upgrade_plan(&applied(&all, 3), &MigrateOptions::default()).unwrap();
    assert_eq!(plan.from, Some(Version::parse("1.9.0").unwrap()));
    assert_eq!(plan.versions, [3], "1.10.0 comes after 1.9.0");
    assert_eq!(
        plan.steps,
        [
            File {
                version: 3,
                file: 0
            },
            Record { version: 3 },
            Commit
        ]
    );
    let plan = upgrade_plan(&applied(&all, 1), &max("1.9.0")).unwrap();
    assert_eq!(plan.versions, [1, 2]);
    let plan = upgrade_plan(&applied(&all, 4), &MigrateOptions::default()).unwrap();
    assert!(plan.versions.is_empty() && plan.steps.is_empty());
}

#[test]
fn upgrade_needs_an_installed_database_that_records_a_version() {
    let err = upgrade_plan(&fresh(), &MigrateOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop.pum_migrations does not exist: not installed; install the module, or record \
         what is there with baseline"
    );
    let empty = Applied {
        exists: true,
        ..fresh()
    };
    assert_eq!(
        conflict(upgrade_plan(&empty, &MigrateOptions::default())),
        Conflict::NoVersionRecorded {
            table: TABLE.into()
        }
    );
    let mut unreadable = applied(&changelogs(), 1);
    unreadable.rows[0].version = "1.0-beta".into();
    assert!(matches!(
        conflict(upgrade_plan(&unreadable, &MigrateOptions::default())),
        Conflict::UnreadableVersion { .. }
    ));
}

#[test]
fn upgrade_refuses_another_module_and_beta_testing_unless_forced() {
    let mut other = applied(&changelogs(), 1);
    other.rows[0].module = Some("zoo".into());
    assert_eq!(
        conflict(upgrade_plan(&other, &MigrateOptions::default())),
        Conflict::OtherModule {
            table: TABLE.into(),
            recorded: "zoo".into(),
            configured: "shop".into()
        }
    );

    let mut beta = applied(&changelogs(), 2);
    beta.rows[1].beta_testing = true;
    assert_eq!(
        conflict(upgrade_plan(&beta, &MigrateOptions::default())),
        Conflict::BetaTesting {
            version: "1.1.0".into()
        }
    );
    let forced = MigrateOptions {
        force: true,
        ..MigrateOptions::default()
    };
    let plan = upgrade_plan(&beta, &forced).unwrap();
    assert!(plan.beta_testing, "versions applied over a beta stay beta");
}

#[test]
fn fixed_parameters_must_keep_their_values_app_only_ones_may_change() {
    let config = plain();
    let all = changelogs();
    let state = applied(&all, 1);
    let err = upgrade(
        &config,
        &all,
        &state,
        &params(&config, &[("SRID", "21781")]),
        &MigrateOptions::default(),
    );
    assert_eq!(
        conflict(err),
        Conflict::ParameterChanged {
            name: "SRID".into(),
            version: "1.0.0".into(),
            before: "2056".into(),
            now: "21781".into()
        }
    );
    let plan = upgrade(
        &config,
        &all,
        &state,
        &params(&config, &[("label", "y")]),
        &MigrateOptions::default(),
    );
    assert!(plan.is_ok(), "{plan:?}");
}

#[test]
fn versions_below_the_current_one_must_be_recorded_unless_the_check_is_skipped() {
    let all = changelogs();
    let mut state = applied(&all, 3);
    state.rows.remove(1); // 1.1.0 never recorded
    assert_eq!(
        conflict(upgrade_plan(&state, &MigrateOptions::default())),
        Conflict::MissingVersions {
            versions: vec!["1.1.0".into()],
            current: "1.9.0".into(),
            table: TABLE.into()
        }
    );
    let skip = MigrateOptions {
        skip_baseline_check: true,
        ..MigrateOptions::default()
    };
    assert_eq!(upgrade_plan(&state, &skip).unwrap().versions, [3]);
}

#[test]
fn a_file_added_to_an_applied_version_is_refused_but_not_in_a_baseline() {
    let mut all = changelogs();
    let state = applied(&all, 2);
    all[0].files.push(
        changelog("1.0.0", &[("03_late.sql", "SELECT 1;")])
            .files
            .remove(0),
    );
    let config = plain();
    let err = upgrade(
        &config,
        &all,
        &state,
        &params(&config, &[]),
        &MigrateOptions::default(),
    );
    assert_eq!(
        conflict(err),
        Conflict::AddedFiles {
            files: vec!["changelogs/1.0.0/03_late.sql".into()]
        }
    );
    // A baseline records a version without files: nothing was added to it.
    let mut baselined = state.clone();
    baselined.rows[0].changelog_files.clear();
    baselined.rows[0].file_checksums.clear();
    let plan = upgrade(
        &config,
        &all,
        &baselined,
        &params(&config, &[]),
        &MigrateOptions::default(),
    );
    assert!(plan.is_ok(), "{plan:?}");
}

#[test]
fn changed_and_missing_applied_files_warn_or_with_strict_refuse() {
    let all = changelogs();
    let mut state = applied(&all, 2);
    state.rows[0]
        .file_checksums
        .insert("changelogs/1.0.0/01.sql".into(), "blake3:old".into());
    state.rows[1]
        .changelog_files
        .push("changelogs/1.1.0/gone.sql".into());
    state.rows[1]
        .file_checksums
        .insert("changelogs/1.1.0/gone.sql".into(), "blake3:x".into());
    let plan = upgrade_plan(&state, &MigrateOptions::default()).unwrap();
    assert_eq!(
        plan.warnings,
        [
            "applied file(s) changed since they were applied: changelogs/1.0.0/01.sql (changed), \
          changelogs/1.1.0/gone.sql (missing)"
        ]
    );
    let strict = MigrateOptions {
        strict: true,
        ..MigrateOptions::default()
    };
    assert!(matches!(
        conflict(upgrade_plan(&state, &strict)),
        Conflict::ChangedFiles { ref files } if files.len() == 2
    ));
}

#[test]
fn files_recorded_by_python_pum_match_by_their_tail_and_have_no_checksum() {
    let all = changelogs();
    let mut state = applied(&all, 2);
    for row in &mut state.rows {
        row.changelog_files = row
            .changelog_files
            .iter()
            .map(|f| format!("/srv/project/{f}"))
            .collect();
        row.file_checksums = BTreeMap::new();
    }
    let plan = upgrade_plan(&state, &MigrateOptions::default()).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    assert_eq!(plan.versions, [2, 3]);
}

#[test]
fn baseline_rules() {
    let v = |text: &str| Version::parse(text).unwrap();
    assert!(
        baseline(&v("1.0.0"), &fresh(), &created()).unwrap(),
        "creates the table"
    );
    let err = baseline(&v("1.0.0"), &fresh(), &Default::default()).unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }), "{err}");
    let mut beside = fresh();
    beside.other_tables = vec!["other".into()];
    assert!(matches!(
        conflict(baseline(&v("1.0.0"), &beside, &created())),
        Conflict::OtherModuleTables { .. }
    ));
    let allowed = crate::migrate::BaselineOptions {
        allow_multiple_modules: true,
        ..created()
    };
    assert!(baseline(&v("1.0.0"), &beside, &allowed).unwrap());
    let state = applied(&changelogs(), 2);
    assert!(!baseline(&v("1.2"), &state, &Default::default()).unwrap());
    assert_eq!(
        conflict(baseline(&v("1.1.0"), &state, &Default::default())),
        Conflict::BaselineNotAbove {
            version: "1.1.0".into(),
            current: "1.1.0".into(),
            table: TABLE.into()
        }
    );
}

proptest! {
    /// Whatever the versions, the current one and the maximum: the plan applies exactly the
    /// versions above the current and at or below the maximum, in numeric order, each
    /// version's files before its row, and ends committed.
    #[test]
    fn upgrades_apply_exactly_the_versions_between_current_and_max(
        mut numbers in proptest::collection::btree_set((0u64..4, 0u64..12, 0u64..3), 1..12),
        current in 0usize..12,
        max in proptest::option::of((0u64..4, 0u64..12, 0u64..3)),
        per_version in any::<bool>(),
    ) {
        let versions: Vec<Version> = std::mem::take(&mut numbers)
            .into_iter()
            .map(|(a, b, c)| Version::parse(&format!("{a}.{b}.{c}")).unwrap())
            .collect();
        let changelogs: Vec<Changelog> = versions
            .iter()
            .map(|v| changelog(&v.to_string(), &[("01.sql", "SELECT 1;"), ("02.sql", "SELECT 2;")]))
            .collect();
        let current = current % changelogs.len();
        let state = applied(&changelogs, current + 1);
        let max = max.map(|(a, b, c)| Version::parse(&format!("{a}.{b}.{c}")).unwrap());
        let options = MigrateOptions {
            max_version: max.clone(),
            transaction: if per_version { TransactionMode::PerVersion } else { TransactionMode::Whole },
            ..MigrateOptions::default()
        };
        let config = plain();
        let plan = upgrade(&config, &changelogs, &state, &params(&config, &[]), &options).unwrap();
        let expected: Vec<usize> = (0..changelogs.len())
            .filter(|&i| i > current && max.as_ref().is_none_or(|m| changelogs[i].version <= *m))
            .collect();
        prop_assert_eq!(&plan.versions, &expected);
        let recorded: Vec<usize> = plan.steps.iter().filter_map(|s| match s {
            Record { version } => Some(*version),
            _ => None,
        }).collect();
        prop_assert_eq!(&recorded, &expected);
        for (i, step) in plan.steps.iter().enumerate() {
            if let Record { version } = step {
                let files: Vec<usize> = plan.steps[..i].iter().filter_map(|s| match s {
                    File { version: v, file } if v == version => Some(*file),
                    _ => None,
                }).collect();
                prop_assert_eq!(files, vec![0, 1]);
            }
        }
        if expected.is_empty() {
            prop_assert!(plan.steps.is_empty());
        } else {
            prop_assert_eq!(plan.steps.last(), Some(&Commit));
            let commits = plan.steps.iter().filter(|s| **s == Commit).count();
            prop_assert_eq!(commits, if per_version { expected.len() } else { 1 });
        }
    }
}

#[test]
fn record_only_records_the_pending_versions_and_runs_nothing() {
    let config = config(
        "pum: {module: shop}\napplication: {drop: [{code: DROP VIEW v}], create: [{code: CREATE VIEW v AS SELECT 1}]}\n",
    );
    let options = MigrateOptions {
        record_only: true,
        ..max("1.9.0")
    };
    let plan = upgrade(
        &config,
        &changelogs(),
        &applied(&changelogs(), 1),
        &Parameters::default(),
        &options,
    )
    .unwrap();
    assert_eq!(
        plan.steps,
        [Record { version: 1 }, Record { version: 2 }, Commit]
    );
    let err = install(&config, &changelogs(), &fresh(), &options).unwrap_err();
    assert!(err.to_string().contains("use baseline"), "{err}");
}
