//! Python pum 1.x datamodels as they are: roles, application hooks (SQL, Python, Rust,
//! executables), demo data, app create/drop/recreate and uninstall, on examples/trees.

use std::path::Path;

use pum::checker::{CheckOptions, Kind};
use pum::migrate::HookPhase;
use pum::migrate::NoProgress;
use pum::roles::{RoleManager, RoleSelection};
use pum::testing::TestDb;
use pum::{AppAction, AppOptions, Config, ConnectionSpec, MigrateOptions, Upgrader, Version};

use crate::support::project::{RolesCleanup, trees_in};
use crate::support::{self, ScratchDb, unique_name};

/// examples/trees in a temporary directory with roles of its own (see
/// [`crate::support::project::trees_in`]), dropped when the value goes.
pub(crate) struct Trees {
    dir: tempfile::TempDir,
    pub(crate) prefix: String,
    _roles: RolesCleanup,
}

impl Trees {
    pub(crate) fn new(dbs: &[&ConnectionSpec]) -> Trees {
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique_name("r");
        trees_in(dir.path(), &prefix);
        Trees {
            dir,
            _roles: RolesCleanup {
                prefix: prefix.clone(),
                dbs: dbs.iter().map(|s| (*s).clone()).collect(),
            },
            prefix,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.path().join(path), text).unwrap();
    }

    pub(crate) fn config(&self) -> Config {
        Config::from_dir(self.dir.path()).unwrap()
    }

    fn role(&self, what: &str) -> String {
        format!("{}_{what}", self.prefix)
    }
}

pub(crate) fn upgrader<'a>(config: &'a Config, spec: &'a ConnectionSpec) -> Upgrader<'a> {
    Upgrader::new(config, spec)
        .unwrap()
        .python(support::python())
}

fn strings(spec: &ConnectionSpec, sql: &str) -> Vec<String> {
    spec.connect()
        .unwrap()
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub(crate) fn one(spec: &ConnectionSpec, sql: &str) -> String {
    strings(spec, sql).into_iter().next().unwrap_or_default()
}

/// The schemas of the module, and whether its migrations table exists.
pub(crate) fn footprint(spec: &ConnectionSpec) -> Vec<String> {
    strings(
        spec,
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'trees%' \
         UNION ALL SELECT 'table' FROM pg_class WHERE relname = 'pum_migrations' ORDER BY 1",
    )
}

pub(crate) fn roles_like(spec: &ConnectionSpec, prefix: &str) -> Vec<String> {
    strings(
        spec,
        &format!(
            "SELECT rolname || coalesce(' \"' || shobj_description(oid, 'pg_authid') || '\"', '') \
             FROM pg_roles WHERE rolname LIKE '{prefix}\\_%' ORDER BY 1"
        ),
    )
}

pub(crate) fn with_demo(name: &str) -> MigrateOptions {
    MigrateOptions {
        demo_data: Some(name.into()),
        ..MigrateOptions::default()
    }
}

#[pum::pum_test]
fn install_creates_roles_runs_the_python_hook_and_loads_demo_data(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let config = trees.config();
    let report = upgrader(&config, &spec)
        .install(&with_demo("full"), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let (viewer, user, manager) = (
        trees.role("viewer"),
        trees.role("user"),
        trees.role("manager"),
    );

    // Roles, with their descriptions and inheritance.
    assert_eq!(
        roles_like(&spec, &trees.prefix),
        [
            format!("{manager} \"Manages the value lists.\""),
            format!("{user} \"Edits the tree inventory.\""),
            format!("{viewer} \"Reads the tree inventory.\""),
        ]
    );
    assert_eq!(
        strings(
            &spec,
            &format!(
                "SELECT m.rolname || ' in ' || r.rolname FROM pg_auth_members a \
                 JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member \
                 WHERE m.rolname LIKE '{}\\_%' ORDER BY 1",
                trees.prefix
            )
        ),
        [
            format!("{manager} in {user}"),
            format!("{user} in {viewer}")
        ]
    );
    // Permissions, on what the changelogs, the SQL hook and the Python hook made.
    let can = |role: &str, what: &str| {
        one(
            &spec,
            &format!("SELECT {what}::text FROM (SELECT '{role}'::text AS r) x"),
        ) == "true"
    };
    assert!(can(
        &viewer,
        "has_table_privilege(r, 'trees_app.vw_tree', 'SELECT')"
    ));
    assert!(!can(
        &viewer,
        "has_table_privilege(r, 'trees_od.tree', 'INSERT')"
    ));
    assert!(can(
        &user,
        "has_table_privilege(r, 'trees_od.tree', 'INSERT')"
    ));
    assert!(!can(
        &user,
        "has_table_privilege(r, 'trees_vl.species', 'UPDATE')"
    ));
    assert!(can(
        &manager,
        "has_table_privilege(r, 'trees_vl.species', 'UPDATE')"
    ));
    assert!(can(
        &viewer,
        "has_function_privilege(r, 'trees_app.species_name(integer)', 'EXECUTE')"
    ));
    assert!(can(
        &viewer,
        "has_sequence_privilege(r, 'trees_od.inventory_number', 'USAGE')"
    ));
    // The types too (Python pum 1.9.2 grants none of those existing at install).
    assert_eq!(
        strings(
            &spec,
            &format!(
                "SELECT t.typname::text FROM pg_type t, aclexplode(t.typacl) a \
                 WHERE t.typnamespace = 'trees_od'::regnamespace \
                 AND a.grantee = '{viewer}'::regrole ORDER BY 1"
            )
        ),
        ["health", "metres", "position"]
    );
    // The Python hook's view, in the default language, over the demo data.
    assert_eq!(
        strings(&spec, "SELECT species FROM trees_app.vw_tree ORDER BY id"),
        ["small-leaved lime", "London plane", "Norway maple"]
    );
    assert_eq!(
        one(
            &spec,
            "SELECT obj_description('trees_app.vw_tree'::regclass)"
        ),
        "Trees, in language en"
    );
    // The trigger of 2.0.0 saw the demo inspection.
    assert_eq!(
        strings(&spec, "SELECT health::text FROM trees_od.tree ORDER BY id"),
        ["good", "fair", "good"]
    );
    // Recorded as Python pum records it run from the project's directory.
    assert_eq!(
        strings(
            &spec,
            "SELECT changelog_files::text FROM trees_sys.pum_migrations ORDER BY version"
        )[0],
        "{changelogs/1.0.0/01_schemas.sql,changelogs/1.0.0/02_species.sql,changelogs/1.0.0/03_tree.sql}"
    );
}

#[pum::pum_test]
fn an_upgraded_database_equals_a_fresh_install_privileges_included(db: TestDb) {
    let spec = db.spec().clone();
    let fresh = ScratchDb::new("trees_fresh", "");
    let trees = Trees::new(&[&spec, &fresh.spec()]);
    let config = trees.config();
    let old = MigrateOptions {
        max_version: Some(Version::parse("1.0.0").unwrap()),
        ..MigrateOptions::default()
    };
    let upgraded = upgrader(&config, &spec);
    upgraded.install(&old, &mut NoProgress).unwrap();
    let report = upgraded
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.1.0", "1.2.0", "2.0.0"]);
    let fresh_spec = fresh.spec();
    upgrader(&config, &fresh_spec)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    let report = pum::check(&spec, &fresh_spec, &CheckOptions::default()).unwrap();
    assert!(report.is_empty(), "{report}");
    // The comparison does look at privileges: one grant less is a difference.
    fresh
        .client()
        .batch_execute(&format!(
            "REVOKE USAGE ON TYPE trees_od.health FROM \"{}\"",
            trees.role("viewer")
        ))
        .unwrap();
    let report = pum::check(&spec, &fresh_spec, &CheckOptions::default()).unwrap();
    let kinds: Vec<Kind> = report
        .kinds
        .iter()
        .filter(|k| k.difference_count() > 0)
        .map(|k| k.kind)
        .collect();
    assert_eq!(kinds, [Kind::Privileges], "{report}");
}

#[pum::pum_test]
fn a_failing_demo_data_file_or_sql_hook_leaves_nothing(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    trees.write(
        "demo_data/inspections.sql",
        "INSERT INTO trees_od.inspection (tree_id, health)\nVALUES (1, 'dead');\n",
    );
    let config = trees.config();
    let err = upgrader(&config, &spec)
        .install(&with_demo("full"), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("demo_data/inspections.sql:2:") && err.contains("22P02"),
        "{err}"
    );
    assert_eq!(footprint(&spec), Vec::<String>::new());
    assert_eq!(roles_like(&spec, &trees.prefix), Vec::<String>::new());

    // An unknown set is refused before anything runs.
    let err = upgrader(&config, &spec)
        .install(&with_demo("zurich"), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "demo data \"zurich\" is not in the configuration (declared: lausanne, full)"
    );
    assert_eq!(footprint(&spec), Vec::<String>::new());
}

#[pum::pum_test]
fn app_recreate_takes_new_app_only_parameters_and_refuses_fixed_ones(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let config = trees.config();
    let upgrader = upgrader(&config, &spec);
    let err = upgrader
        .application(AppAction::Create, &AppOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "trees_sys.pum_migrations does not exist: not installed; install the module first"
    );
    upgrader
        .install(&with_demo("lausanne"), &mut NoProgress)
        .unwrap();
    let french = AppOptions {
        parameters: vec![("lang".into(), "fr".into())],
        ..AppOptions::default()
    };
    upgrader
        .application(AppAction::Recreate, &french, &mut NoProgress)
        .unwrap();
    assert_eq!(
        strings(
            &spec,
            "SELECT species || ' ' || lang FROM trees_app.vw_tree ORDER BY id"
        )[0],
        "tilleul à petites feuilles fr"
    );
    // Recreating re-grants what dropping the schema took away.
    assert_eq!(
        one(
            &spec,
            &format!(
                "SELECT has_table_privilege('{}', 'trees_app.vw_tree', 'SELECT')::text",
                trees.role("viewer")
            )
        ),
        "true"
    );
    let srid = AppOptions {
        parameters: vec![("SRID".into(), "21781".into())],
        ..AppOptions::default()
    };
    let err = upgrader
        .application(AppAction::Recreate, &srid, &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("parameter SRID: was 2056"), "{err}");
    let err = upgrader
        .application(
            AppAction::Create,
            &AppOptions {
                parameters: vec![("lang".into(), "it".into())],
                ..AppOptions::default()
            },
            &mut NoProgress,
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "parameter lang: it is not one of the allowed values (en, fr, de)"
    );
    // Drop alone leaves no application.
    upgrader
        .application(AppAction::Drop, &AppOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(
        footprint(&spec),
        ["table", "trees_od", "trees_sys", "trees_vl"]
    );
}

#[pum::pum_test]
fn uninstall_runs_its_hooks_drops_the_table_and_refuses_the_wrong_database(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let config = trees.config();
    let upgrader = upgrader(&config, &spec);
    let err = upgrader
        .uninstall(&AppOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "trees_sys.pum_migrations does not exist: not installed; nothing to uninstall (is this \
         the right database?)"
    );
    upgrader
        .install(&with_demo("full"), &mut NoProgress)
        .unwrap();
    upgrader
        .uninstall(&AppOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(footprint(&spec), Vec::<String>::new());

    // A module without uninstall hooks is refused: pum would not know what to drop.
    let plain = pum::Config::parse(
        "pum: {module: trees, migration_table_schema: trees_sys}\n",
        &trees.path().join(".pum.yaml"),
        trees.path(),
    )
    .unwrap();
    let err = Upgrader::new(&plain, &spec)
        .unwrap()
        .uninstall(&AppOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("refusing to uninstall: ") && err.contains("declares no uninstall hooks"),
        "{err}"
    );
}

#[pum::pum_test]
fn roles_with_a_suffix_grants_to_users_revokes_and_drops(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let config = trees.config();
    upgrader(&config, &spec)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    let manager = RoleManager::new(&config.roles);
    let lausanne = RoleSelection {
        roles: None,
        suffix: Some("lausanne".into()),
    };
    let warnings = manager.create(&spec, Some("lausanne"), true).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let viewer_l = trees.role("viewer_lausanne");
    let user_l = trees.role("user_lausanne");
    assert_eq!(
        one(
            &spec,
            &format!("SELECT shobj_description('{viewer_l}'::regrole, 'pg_authid')")
        ),
        "Reads the tree inventory. (specific to lausanne)"
    );
    // The specific roles inherit among themselves, and have the permissions.
    assert_eq!(
        one(
            &spec,
            &format!("SELECT pg_has_role('{user_l}', '{viewer_l}', 'MEMBER')::text")
        ),
        "true"
    );
    assert_eq!(
        one(
            &spec,
            &format!("SELECT has_table_privilege('{user_l}', 'trees_od.tree', 'INSERT')::text")
        ),
        "true"
    );
    let inventory = manager.inventory(&spec, false).unwrap();
    let names: Vec<&str> = inventory.configured().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&viewer_l.as_str()), "{names:?}");
    assert!(
        inventory.configured().all(|r| r.satisfied()),
        "{inventory:?}"
    );

    // A login role, its password hashed before it leaves pum.
    let bob = trees.role("bob");
    pum::roles::create_login(&spec, &bob, Some("s3cret")).unwrap();
    assert!(
        one(
            &spec,
            &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{bob}'")
        )
        .starts_with("SCRAM-SHA-256$")
    );
    let err = pum::roles::create_login(&spec, &bob, None).unwrap_err();
    assert!(matches!(err, pum::Error::AlreadyExists { .. }), "{err}");
    let viewers = RoleSelection {
        roles: Some(vec![trees.role("viewer")]),
        suffix: Some("lausanne".into()),
    };
    manager.grant_to(&spec, &bob, &viewers).unwrap();
    assert_eq!(
        pum::roles::members_of(&spec, &viewer_l).unwrap(),
        std::slice::from_ref(&bob)
    );
    assert!(
        manager
            .inventory(&spec, false)
            .unwrap()
            .grantees()
            .any(|r| r.name == bob)
    );
    manager.revoke_from(&spec, &bob, &viewers).unwrap();
    assert!(pum::roles::members_of(&spec, &viewer_l).unwrap().is_empty());
    let err = manager
        .grant(
            &spec,
            &RoleSelection {
                roles: Some(vec!["viewr".into()]),
                suffix: None,
            },
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("unknown role(s): viewr (configured roles: "),
        "{err}"
    );

    // Revoke takes the permissions and the memberships away; drop removes the roles.
    manager.revoke(&spec, &lausanne).unwrap();
    assert_eq!(
        one(
            &spec,
            &format!("SELECT has_table_privilege('{user_l}', 'trees_od.tree', 'SELECT')::text")
        ),
        "false"
    );
    assert_eq!(
        one(
            &spec,
            &format!("SELECT pg_has_role('{user_l}', '{viewer_l}', 'MEMBER')::text")
        ),
        "false"
    );
    spec.connect()
        .unwrap()
        .batch_execute(&format!(
            "CREATE TABLE trees_od.owned (x int); ALTER TABLE trees_od.owned OWNER TO \"{user_l}\""
        ))
        .unwrap();
    let err = manager
        .drop(&spec, &lausanne, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2BP01"),
        "an owner cannot be dropped without force: {err}"
    );
    manager.drop(&spec, &lausanne, true).unwrap();
    let left = roles_like(&spec, &trees.prefix);
    assert!(!left.iter().any(|r| r.contains("lausanne")), "{left:?}");
    assert_eq!(
        one(
            &spec,
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'owned'"
        ),
        "postgres",
        "reassigned to the current user"
    );
    // Dropping again: nothing to drop, said so.
    let warnings = manager.drop(&spec, &lausanne, true).unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].ends_with("_viewer_lausanne does not exist: not dropped"),
        "{warnings:?}"
    );
    assert!(pum::roles::drop_login(&spec, &bob).unwrap());
    assert!(!pum::roles::drop_login(&spec, &bob).unwrap());
}

#[pum::pum_test]
fn skip_roles_grants_to_the_roles_that_exist_and_skip_grant_grants_nothing(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let config = trees.config();
    let options = MigrateOptions {
        skip_roles: true,
        ..MigrateOptions::default()
    };
    let report = upgrader(&config, &spec)
        .install(&options, &mut NoProgress)
        .unwrap();
    assert_eq!(roles_like(&spec, &trees.prefix), Vec::<String>::new());
    assert_eq!(report.warnings.len(), 3, "{:?}", report.warnings);
    assert!(
        report.warnings[0].ends_with("_viewer does not exist: not granted"),
        "{:?}",
        report.warnings
    );
    upgrader(&config, &spec)
        .uninstall(&AppOptions::default(), &mut NoProgress)
        .unwrap();

    let options = MigrateOptions {
        skip_grant: true,
        ..MigrateOptions::default()
    };
    upgrader(&config, &spec)
        .install(&options, &mut NoProgress)
        .unwrap();
    assert_eq!(roles_like(&spec, &trees.prefix).len(), 3);
    assert_eq!(
        one(
            &spec,
            &format!(
                "SELECT has_table_privilege('{}', 'trees_od.tree', 'SELECT')::text",
                trees.role("viewer")
            )
        ),
        "false"
    );
}

#[cfg(unix)]
#[pum::pum_test]
fn rust_hooks_and_executables_run_as_application_hooks(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    trees.write(
        "app/count.sh",
        "#!/bin/sh\nset -e\necho \"counting for $PUM_PARAM_LANG\"\n\
         psql -XAtq -v ON_ERROR_STOP=1 -c \"CREATE TABLE trees_app.counted AS SELECT count(*) AS n, '$PUM_PARAM_LANG'::text AS lang FROM trees_od.tree\"\n",
    );
    std::fs::set_permissions(
        trees.path().join("app/count.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let yaml = std::fs::read_to_string(trees.path().join(".pum.yaml"))
        .unwrap()
        .replace(
            "    - file: app/views.py\n",
            "    - file: app/views.py\n    - file: app/count.sh\n",
        );
    trees.write(".pum.yaml", &yaml);
    let config = trees.config();
    let upgrader = upgrader(&config, &spec).hook(
        HookPhase::Create,
        "rust_summary",
        |cx: &mut pum::hooks::HookContext<'_>| {
            let n = cx.query("SELECT n FROM trees_app.counted")?;
            cx.message(&format!("{} trees", n[0][0].as_deref().unwrap_or("?")));
            cx.execute("COMMENT ON TABLE trees_app.counted IS 'checked by Rust'")
        },
    );
    struct Messages(Vec<String>);
    impl pum::migrate::Progress for Messages {
        fn message(&mut self, text: &str) {
            self.0.push(text.to_string());
        }
    }
    let mut messages = Messages(Vec::new());
    upgrader
        .install(&with_demo("lausanne"), &mut messages)
        .unwrap();
    // The create hooks ran twice (install, then around the demo data): the second saw 3.
    assert_eq!(
        one(&spec, "SELECT n || ' ' || lang FROM trees_app.counted"),
        "3 en"
    );
    assert_eq!(
        one(
            &spec,
            "SELECT obj_description('trees_app.counted'::regclass)"
        ),
        "checked by Rust"
    );
    assert_eq!(
        messages.0,
        ["counting for en", "0 trees", "counting for en", "3 trees"]
    );

    // A failing Rust hook undoes everything, in a recreate too.
    let failing = Upgrader::new(&config, &spec)
        .unwrap()
        .python(support::python())
        .hook(
            HookPhase::Create,
            "refuses",
            |_: &mut pum::hooks::HookContext<'_>| {
                Err(pum::Error::Refused {
                    operation: "recreate".into(),
                    reason: "not today".into(),
                })
            },
        );
    let err = failing
        .application(AppAction::Recreate, &AppOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert_eq!(err.to_string(), "refusing to recreate: not today");
    assert_eq!(
        one(&spec, "SELECT count(*)::text FROM trees_app.vw_tree"),
        "3"
    );
}
