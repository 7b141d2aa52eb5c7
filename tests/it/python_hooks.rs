//! Python application hooks as Python pum 1.x runs them, through pum's bridge: errors
//! named by file and line, dependencies, what the bridge gives them (`pum.HookBase`,
//! `SqlContent`, `pum.exceptions`), imported while the changelogs run, on examples/trees.

use pum::migrate::NoProgress;
use pum::testing::TestDb;
use pum::{AppAction, AppOptions, MigrateOptions, Upgrader};

use crate::app::{Trees, footprint, one, roles_like, upgrader, with_demo};
use crate::support::ScratchDb;

/// Writes `views` as the project's Python hook (app/views.py) and installs the project on
/// `spec`; the error, as pum says it.
fn install_with_hook(trees: &Trees, spec: &pum::ConnectionSpec, views: &str) -> Result<(), String> {
    trees.write("app/views.py", views);
    let config = trees.config();
    upgrader(&config, spec)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[pum::pum_test]
fn a_raising_python_hook_names_the_file_and_changes_nothing(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    trees.write(
        "app/views.py",
        "from pum import HookBase\n\n\nclass Hook(HookBase):\n    def run_hook(self, connection, lang):\n        \
         self.execute('CREATE TABLE trees_app.made_by_the_hook (x int)')\n        \
         raise RuntimeError('no view for ' + lang)\n",
    );
    let config = trees.config();
    let err = upgrader(&config, &spec)
        .install(&with_demo("full"), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "app/views.py:7: RuntimeError: no view for en");
    // Nothing: no schema, no table, no role.
    assert_eq!(footprint(&spec), Vec::<String>::new());
    assert_eq!(roles_like(&spec, &trees.prefix), Vec::<String>::new());

    // A hook that does not fit the API is named too.
    let err = install_with_hook(
        &trees,
        &spec,
        "from pum import HookBase\n\nclass Hook(HookBase):\n    def run_hook(self, connection, colour):\n        pass\n",
    );
    assert_eq!(
        err.unwrap_err(),
        "app/views.py: run_hook takes colour, which is not a parameter of the project"
    );
    let err = install_with_hook(&trees, &spec, "class Hook:\n    pass\n");
    assert_eq!(
        err.unwrap_err(),
        "app/views.py: its class Hook must inherit from HookBase (from pum import HookBase)"
    );
    assert_eq!(footprint(&spec), Vec::<String>::new());
}

#[pum::pum_test]
fn python_hooks_are_imported_while_the_changelogs_run_and_their_import_errors_wait(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    // The last changelog file takes 2 s; the hook file notes when it was imported, and
    // its run how long after that it started: most of those 2 s, as Python pum imports
    // hook files when it reads the configuration (a file imported at its turn would run
    // at once).
    trees.write("changelogs/2.0.0/02_slow.sql", "SELECT pg_sleep(2);\n");
    install_with_hook(
        &trees,
        &spec,
        "import atexit, os, time\n\nfrom pum import HookBase\n\nIMPORTED = time.time()\n\
         atexit.register(lambda: open(os.path.join(os.path.dirname(__file__), 'exited'), 'w')\
         .write('bye'))\n\n\n\
         class Hook(HookBase):\n    def run_hook(self, connection):\n        \
         self.execute('CREATE TABLE trees_app.waited AS SELECT %r::float8 AS s' \
         % (time.time() - IMPORTED))\n",
    )
    .unwrap();
    let waited: f64 = one(&spec, "SELECT s::text FROM trees_app.waited")
        .parse()
        .unwrap();
    assert!(waited > 0.5, "imported {waited} s before its run");
    // The interpreter ended with the run, its exit handlers run.
    assert_eq!(
        std::fs::read_to_string(trees.path().join("app/exited")).unwrap(),
        "bye"
    );

    // A file that reads the database as it is imported (on a connection of its own) is
    // served when its turn comes, and sees what the changelogs made.
    let scratch = ScratchDb::new("preload_reads", "");
    let reads_spec = scratch.spec();
    let reads = Trees::new(&[&reads_spec]);
    install_with_hook(
        &reads,
        &reads_spec,
        "import psycopg\n\nfrom pum import HookBase\n\nwith psycopg.connect('') as c:\n    \
         TABLES = c.execute(\"SELECT count(*) FROM pg_tables WHERE schemaname = 'trees_od'\")\
         .fetchone()[0]\n\n\nclass Hook(HookBase):\n    def run_hook(self, connection):\n        \
         self.execute('CREATE TABLE trees_app.seen AS SELECT %d AS tables' % TABLES)\n",
    )
    .unwrap();
    assert_eq!(
        one(&reads_spec, "SELECT tables::text FROM trees_app.seen"),
        one(
            &reads_spec,
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'trees_od'"
        )
    );

    // A file that cannot be imported fails at its turn, after the changelogs, naming
    // its line, and nothing is left.
    let scratch = ScratchDb::new("preload", "");
    let other_spec = scratch.spec();
    let other = Trees::new(&[&other_spec]);
    let err = install_with_hook(
        &other,
        &other_spec,
        "from pum import HookBase\nimport pum_no_such_module\n\n\nclass Hook(HookBase):\n    \
         def run_hook(self, connection):\n        pass\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with(
            "app/views.py:2: ModuleNotFoundError: No module named 'pum_no_such_module'"
        ),
        "{err}"
    );
    assert_eq!(footprint(&other_spec), Vec::<String>::new());
}

#[pum::pum_test]
fn an_interpreter_that_cannot_run_the_bridge_is_named_and_nothing_is_left(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    // Started at the run's start to import the hooks, it fails there; the hook's turn
    // reports it.
    let python = trees.path().join("not-python");
    trees.write(
        "not-python",
        "#!/bin/sh\necho 'this is not Python' >&2\nexit 3\n",
    );
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o700)).unwrap();
    let config = trees.config();
    let err = Upgrader::new(&config, &spec)
        .unwrap()
        .python(&python)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "app/views.py: {} could not run pum's Python bridge: this is not Python",
            python.display()
        )
    );
    assert_eq!(footprint(&spec), Vec::<String>::new());
}

#[pum::pum_test]
fn a_missing_python_dependency_is_named_before_the_hook_runs(db: TestDb) {
    let spec = db.spec().clone();
    let trees = Trees::new(&[&spec]);
    let yaml = std::fs::read_to_string(trees.path().join(".pum.yaml"))
        .unwrap()
        .replace(
            "  - name: psycopg\n    minimum_version: 3.1.0\n",
            "  - name: psycopg\n    minimum_version: 3.1.0\n  - name: pum-no-such-package\n",
        );
    trees.write(".pum.yaml", &yaml);
    let config = trees.config();
    let err = upgrader(&config, &spec)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "app/views.py: the project needs the Python package pum-no-such-package, which "
        ) && err.ends_with("does not have: pip install pum-no-such-package"),
        "{err}"
    );
    let too_new = yaml.replace("minimum_version: 3.1.0", "minimum_version: 99.0.0");
    trees.write(".pum.yaml", &too_new);
    let config = trees.config();
    let err = upgrader(&config, &spec)
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("needs the Python package psycopg >= 99.0.0, and "),
        "{err}"
    );
    assert_eq!(footprint(&spec), Vec::<String>::new());
}

#[pum::pum_test]
fn hooks_use_what_python_pum_gives_them_and_demo_data_settles_deferred_constraints(db: TestDb) {
    let spec = db.spec().clone();
    // Real datamodels (TEKSI wastewater) import SqlContent and pum.exceptions besides
    // HookBase, and alter tables the demo data just filled, whose deferred constraints
    // Python pum has checked by committing in between.
    let project = crate::support::project::Project::new(
        "pum: {module: net, migration_table_schema: net_sys}\n\
         application:\n  create:\n    - file: app/hook.py\n\
         demo_data: [{name: demo, file: demo.sql}]\n",
        &[
            (
                "changelogs/1.0.0/01.sql",
                "CREATE SCHEMA net;\n\
                 CREATE TABLE net.node (id int PRIMARY KEY);\n\
                 CREATE TABLE net.pipe (id int PRIMARY KEY, node int REFERENCES net.node \
                 DEFERRABLE INITIALLY DEFERRED, label text);\n",
            ),
            (
                "demo.sql",
                "INSERT INTO net.pipe VALUES (1, 7, 'a');\nINSERT INTO net.node VALUES (7);\n",
            ),
            (
                "app/hook.py",
                "from pum import HookBase, SqlContent\nfrom pum.exceptions import PumHookError\n\n\n\
                 class Hook(HookBase):\n    def run_hook(self, connection):\n        \
                 rows = SqlContent('SELECT count(*) FROM net.pipe').execute(connection).fetchall()\n        \
                 if rows[0][0] > 1:\n            raise PumHookError('too many pipes')\n        \
                 SqlContent(\"ALTER TABLE net.pipe ALTER COLUMN label SET DEFAULT 'x'\").execute(connection)\n",
            ),
        ],
    );
    let config = project.config();
    upgrader(&config, &spec)
        .install(&with_demo("demo"), &mut NoProgress)
        .unwrap();
    assert_eq!(
        one(
            &spec,
            "SELECT column_default::text FROM information_schema.columns \
             WHERE table_name = 'pipe' AND column_name = 'label'"
        ),
        "'x'::text"
    );
    // The constraint is deferred again after the check: rows in any order still load.
    spec.connect()
        .unwrap()
        .batch_execute(
            "BEGIN; INSERT INTO net.pipe VALUES (2, 8, 'b'); INSERT INTO net.node VALUES (8); COMMIT",
        )
        .unwrap();
    // The exceptions are Python pum's: raising one fails the run with its message.
    let err = upgrader(&config, &spec)
        .application(AppAction::Create, &AppOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "app/hook.py:9: PumHookError: too many pipes");
}
