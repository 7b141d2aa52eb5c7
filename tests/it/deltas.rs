//! pum 0.x projects: delta directories and upgrades tables, on real databases.

use std::path::PathBuf;

use pum::hooks::{HookContext, Variable};
use pum::migrate::zero_x::{DeltaOptions, DeltaState, DeltaUpgrader};
use pum::migrate::{NoProgress, Progress};
use pum::testing::TestDb;
use pum::{Error, TransactionMode};

use crate::support::python;
use crate::support::strings;

/// A delta directory in a temporary directory.
struct Deltas {
    dir: tempfile::TempDir,
}

impl Deltas {
    fn new(files: &[(&str, &str)]) -> Deltas {
        let deltas = Deltas {
            dir: tempfile::tempdir().unwrap(),
        };
        for (name, text) in files {
            deltas.write(name, text);
        }
        deltas
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }
}

fn md5(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rows as `version|description|type|script-file|checksum`.
fn rows(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT concat_ws('|', version, description, type, regexp_replace(script, '.*/', ''), \
         checksum) FROM app_sys.upgrades ORDER BY id",
    )
}

fn tables(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE \
         table_schema IN ('app', 'public') ORDER BY 1",
    )
}

#[derive(Default)]
struct Recorder {
    deltas: Vec<String>,
    messages: Vec<String>,
}

impl Progress for Recorder {
    fn delta(&mut self, what: &str) {
        self.deltas.push(what.to_string());
    }
    fn message(&mut self, text: &str) {
        self.messages.push(text.to_string());
    }
}

const PY_DELTA: &str = r#"
import psycopg2
from pum.core.deltapy import DeltaPy


class Fill(DeltaPy):
    def run(self):
        self.write_message("at {} in {} for {} with {}".format(
            self.current_db_version, self.upgrades_table, self.pg_service,
            sorted(self.variables.items())))
        conn = psycopg2.connect("service={}".format(self.pg_service))
        cur = conn.cursor()
        cur.execute("INSERT INTO app.item (id, label) VALUES (%s, %s)", (10, self.variables["label"]))
        conn.commit()
        conn.close()
"#;

fn project() -> Deltas {
    Deltas::new(&[
        ("delta/README.md", "not a delta"),
        (
            "delta/pre-all.sql",
            "CREATE TABLE IF NOT EXISTS public.log (msg text);\nINSERT INTO public.log VALUES ('pre-all');\n",
        ),
        (
            "delta/post-all.sql",
            "INSERT INTO public.log VALUES ('post-all');\n",
        ),
        (
            "delta/delta_1.0.0_schema.sql",
            "BEGIN;\nCREATE SCHEMA app;\nCREATE TABLE app.item (id int PRIMARY KEY, label text, srid int DEFAULT %(srid)s);\nCOMMIT;\n",
        ),
        (
            "delta/delta_1.1.0_fill.pre.sql",
            "INSERT INTO app.item (id, label) VALUES (1, %(label)s), (2, '50%%');\n",
        ),
        ("delta/delta_1.1.0_fill.py", PY_DELTA),
        (
            "delta/delta_1.1.0_fill.post.sql",
            "ALTER TABLE app.item ADD COLUMN note text;\n",
        ),
        (
            "delta/delta_1.10.0_ten.sql",
            "CREATE VIEW app.items AS SELECT id, label FROM app.item;\n",
        ),
        (
            "delta/delta_1.9.0_nine.sql",
            "INSERT INTO app.item (id, label) VALUES (9, 'nine');\n",
        ),
    ])
}

fn variables() -> Vec<(String, Variable)> {
    vec![
        (
            "srid".into(),
            Variable::parse("int", "srid", "2056").unwrap(),
        ),
        (
            "label".into(),
            Variable::parse("string", "label", "it's; DROP TABLE app.item; --").unwrap(),
        ),
    ]
}

fn options() -> DeltaOptions {
    DeltaOptions {
        variables: variables(),
        ..DeltaOptions::default()
    }
}

fn upgrader<'a>(spec: &'a pum::ConnectionSpec, deltas: &Deltas) -> DeltaUpgrader<'a> {
    DeltaUpgrader::new(spec, "app_sys.upgrades", &[deltas.path("delta")])
        .unwrap()
        .python(python())
}

fn baseline(db: &TestDb, version: &str, upgrader: &DeltaUpgrader<'_>) {
    db.client().batch_execute("CREATE SCHEMA app_sys").unwrap();
    upgrader.baseline(version).unwrap();
}

#[pum::pum_test]
fn a_multi_version_upgrade_with_variables_and_a_python_delta(db: TestDb) {
    let deltas = project();
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);

    let mut progress = Recorder::default();
    let report = upgrader.upgrade(&options(), &mut progress).unwrap();
    assert_eq!(
        (report.from.as_str(), report.to.as_str()),
        ("1.0.0", "1.10.0")
    );
    // Numeric order, pre < code < SQL < post; pre-all first, post-all last.
    assert_eq!(
        progress.deltas,
        [
            "pre-all.sql",
            "delta 1.0.0 schema",
            "delta 1.1.0 fill",
            "delta 1.1.0 fill",
            "delta 1.1.0 fill",
            "delta 1.9.0 nine",
            "delta 1.10.0 ten",
            "post-all.sql"
        ]
    );
    assert_eq!(
        progress.messages,
        [
            "Message from Fill: at 1.1.0 in app_sys.upgrades for pum with [('label', \"it's; \
          DROP TABLE app.item; --\"), ('srid', 2056)]"
        ]
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("delta_1.0.0_schema.sql:1: BEGIN left out")),
        "{:?}",
        report.warnings
    );
    let schema = "BEGIN;\nCREATE SCHEMA app;\nCREATE TABLE app.item (id int PRIMARY KEY, label text, srid int DEFAULT %(srid)s);\nCOMMIT;\n";
    assert_eq!(
        rows(&db),
        [
            "1.0.0|baseline|0||".to_string(),
            format!("1.0.0|schema|8|delta_1.0.0_schema.sql|{}", md5(schema)),
            format!(
                "1.1.0|fill|9|delta_1.1.0_fill.pre.sql|{}",
                md5("INSERT INTO app.item (id, label) VALUES (1, %(label)s), (2, '50%%');\n")
            ),
            format!("1.1.0|fill|4|delta_1.1.0_fill.py|{}", md5(PY_DELTA)),
            format!(
                "1.1.0|fill|10|delta_1.1.0_fill.post.sql|{}",
                md5("ALTER TABLE app.item ADD COLUMN note text;\n")
            ),
            format!(
                "1.9.0|nine|8|delta_1.9.0_nine.sql|{}",
                md5("INSERT INTO app.item (id, label) VALUES (9, 'nine');\n")
            ),
            format!(
                "1.10.0|ten|8|delta_1.10.0_ten.sql|{}",
                md5("CREATE VIEW app.items AS SELECT id, label FROM app.item;\n")
            ),
        ]
    );
    // Variables are literals (the hostile one stays text), %% is a percent sign.
    assert_eq!(
        strings(
            &db,
            "SELECT id || ':' || label || ':' || srid FROM app.item ORDER BY id"
        ),
        [
            "1:it's; DROP TABLE app.item; --:2056",
            "2:50%:2056",
            "9:nine:2056",
            "10:it's; DROP TABLE app.item; --:2056"
        ]
    );
    assert_eq!(
        strings(&db, "SELECT installed_by FROM app_sys.upgrades GROUP BY 1"),
        [spec.user().to_string()]
    );

    // Again: nothing pending; pre-all and post-all run every time, as in pum 0.x.
    let report = upgrader.upgrade(&options(), &mut NoProgress).unwrap();
    assert_eq!(
        report.files,
        ["pre-all.sql", "post-all.sql"]
            .map(|f| { deltas.path("delta").join(f).display().to_string() })
    );
    assert_eq!(
        strings(&db, "SELECT msg FROM public.log"),
        ["pre-all", "post-all", "pre-all", "post-all"]
    );
    let info = upgrader.info().unwrap();
    assert_eq!(info.current.as_deref(), Some("1.10.0"));
    assert!(info.deltas.iter().all(|d| d.state == DeltaState::Applied));
    assert_eq!(info.deltas[2].kind, "delta py");
}

#[pum::pum_test]
fn a_failing_delta_leaves_the_database_unchanged(db: TestDb) {
    let deltas = project();
    deltas.write(
        "delta/delta_1.9.0_nine.sql",
        "INSERT INTO app.item (id, label) VALUES (9, 'nine');\n\nINSERT INTO app.nope VALUES (1);\n",
    );
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    let before = rows(&db);

    let err = upgrader.upgrade(&options(), &mut NoProgress).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("delta_1.9.0_nine.sql:3:13")
            && text.contains("42P01")
            && text.contains("app.nope"),
        "{text}"
    );
    // Nothing happened: not the schema, not the Python delta's row, not pre-all.
    assert_eq!(rows(&db), before);
    assert_eq!(tables(&db), Vec::<String>::new());

    // One transaction per file, as pum 0.x: what ran before the failure stays.
    let per_file = DeltaOptions {
        transaction: TransactionMode::PerFile,
        ..options()
    };
    assert!(upgrader.upgrade(&per_file, &mut NoProgress).is_err());
    assert_eq!(rows(&db).len(), 5);
    assert_eq!(tables(&db), ["app.item", "public.log"]);
}

#[pum::pum_test]
fn a_failing_python_delta_names_its_line_and_undoes_its_sql(db: TestDb) {
    let deltas = project();
    deltas.write(
        "delta/delta_1.1.0_fill.py",
        &PY_DELTA.replace(
            "        conn.close()",
            "        raise ValueError('no more')",
        ),
    );
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    let err = upgrader.upgrade(&options(), &mut NoProgress).unwrap_err();
    match &err {
        Error::Code {
            file,
            line,
            message,
        } => {
            assert!(file.ends_with("delta_1.1.0_fill.py"), "{file}");
            assert_eq!(*line, Some(15));
            assert_eq!(message, "ValueError: no more");
        }
        other => panic!("{other}"),
    }
    // Its committed INSERT was in the run's transaction: gone with the rest.
    assert_eq!(tables(&db), Vec::<String>::new());
    assert_eq!(rows(&db), ["1.0.0|baseline|0||"]);
}

/// A Python delta whose `run` is `body` (indented by 8 spaces), with psycopg2 and psycopg
/// imported and `conn` connected through the service pum gives.
fn python_delta(body: &str) -> String {
    let body: String = body.lines().map(|l| format!("        {l}\n")).collect();
    format!(
        "import psycopg2\nimport psycopg\nfrom pum.core.deltapy import DeltaPy\n\n\nclass R(DeltaPy):\n    \
         def run(self):\n        conn = psycopg2.connect('service=' + self.pg_service)\n{body}"
    )
}

#[pum::pum_test]
fn python_transactions_are_savepoints_of_the_run(db: TestDb) {
    let deltas = project();
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    let run = |body: &str| {
        deltas.write("delta/delta_1.1.0_fill.py", &python_delta(body));
        upgrader.upgrade(&options(), &mut NoProgress)
    };
    let ids = || {
        strings(
            &db,
            "SELECT id::text FROM app.item WHERE id BETWEEN 5 AND 8 ORDER BY id",
        )
    };
    let undo = || {
        db.client()
            .batch_execute("DROP SCHEMA app CASCADE; DROP TABLE public.log; DELETE FROM app_sys.upgrades WHERE type <> 0")
            .unwrap()
    };

    // rollback() undoes the delta's own work since its BEGIN, and the run goes on; what
    // it never commits goes away when it closes, as with its own connection in pum 0.x.
    run("cur = conn.cursor()\ncur.execute('INSERT INTO app.item (id) VALUES (5)')\nconn.rollback()\n\
         cur.execute('INSERT INTO app.item (id) VALUES (6)')\nconn.commit()\n\
         cur.execute('INSERT INTO app.item (id) VALUES (7)')\nconn.close()")
    .unwrap();
    assert_eq!(ids(), ["6"]);
    undo();

    // A failed statement, caught and rolled back, leaves the run usable.
    run("cur = conn.cursor()\ntry:\n    cur.execute('SELECT * FROM nowhere')\nexcept psycopg2.Error:\n    conn.rollback()\n\
         cur.execute('INSERT INTO app.item (id) VALUES (8)')\nconn.commit()")
    .unwrap();
    assert_eq!(ids(), ["8"]);
    undo();

    // In autocommit, a failed statement it goes on after fails the delta, and the run.
    let err = run("conn.autocommit = True\ntry:\n    conn.cursor().execute('SELECT * FROM nowhere')\nexcept psycopg2.Error:\n    pass")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("failed and it went on") && err.contains("nowhere"),
        "{err}"
    );
    assert_eq!(tables(&db), Vec::<String>::new());

    // Prepared transactions would take the run away: refused by the server.
    let err = run("conn.cursor().execute(\"PREPARE TRANSACTION 'x'\")")
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("delta_1.1.0_fill.py:9: InvalidTransactionState: prepared transactions would take the run's transaction away from pum"),
        "{err}"
    );
    assert_eq!(tables(&db), Vec::<String>::new());

    // psycopg 3: the extended protocol, a pipeline of 20000 rows (executemany), COPY, and
    // a second connection open at the same time; then a failure undoes all of it.
    let psycopg3 = "with psycopg.connect('service=' + self.pg_service) as c3:\n    \
         with c3.cursor() as cur:\n        \
         cur.executemany('INSERT INTO app.item (id, label) VALUES (%s, %s)', [(i, 'p') for i in range(100, 20100)])\n        \
         with cur.copy('COPY app.item (id, label) FROM STDIN') as copy:\n            \
         for i in range(30000, 30010):\n                copy.write_row((i, 'copied'))\n        \
         conn.cursor().execute('INSERT INTO app.item (id) VALUES (50)')\n        conn.commit()\n        \
         cur.execute('SELECT count(*) FROM app.item')\n        \
         assert cur.fetchone()[0] >= 20011, 'the rows of the run are seen'";
    run(psycopg3).unwrap();
    assert_eq!(
        strings(&db, "SELECT count(*)::text FROM app.item WHERE id >= 50"),
        ["20011"]
    );
    undo();
    let err = run(&format!("{psycopg3}\nraise RuntimeError('after all that')"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("RuntimeError: after all that"), "{err}");
    assert_eq!(tables(&db), Vec::<String>::new());
}

#[pum::pum_test]
fn the_current_version_is_numeric_and_unapplied_lower_deltas_are_reported(db: TestDb) {
    let deltas = Deltas::new(&[
        ("delta/delta_0.9.0_nine.sql", "CREATE TABLE public.nine ();"),
        ("delta/delta_0.10.0_ten.sql", "CREATE TABLE public.ten ();"),
    ]);
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "0.8.0", &upgrader);
    upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap();
    // pum 0.9.14 takes 0.9.0 as current (text order) and would apply this one.
    deltas.write("delta/delta_0.9.1_late.sql", "CREATE TABLE public.late ();");
    let upgrader = self::upgrader(&spec, &deltas);
    let plan = upgrader.plan(&DeltaOptions::default()).unwrap();
    assert_eq!(plan.current.to_string(), "0.10.0");
    let report = upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap();
    assert!(report.files.is_empty());
    assert!(
        report.warnings[0].contains("delta_0.9.1_late.sql was never applied"),
        "{:?}",
        report.warnings
    );
    assert_eq!(tables(&db), ["public.nine", "public.ten"]);
    let info = upgrader.info().unwrap();
    assert_eq!(info.deltas[1].state, DeltaState::Skipped);
}

#[pum::pum_test]
fn an_edited_applied_delta_is_refused(db: TestDb) {
    let deltas = Deltas::new(&[("delta/delta_1.0.0_a.sql", "CREATE TABLE public.a ();")]);
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap();
    deltas.write("delta/delta_1.0.0_a.sql", "CREATE TABLE public.a (x int);");
    let upgrader = self::upgrader(&spec, &deltas);
    let err = upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("changed since they were applied") && err.contains("delta_1.0.0_a.sql"),
        "{err}"
    );
    assert_eq!(upgrader.info().unwrap().deltas[0].state, DeltaState::Edited);
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'public.a'::regclass AND attnum > 0"
        ),
        ["0"]
    );
}

#[pum::pum_test]
fn bad_names_tables_variables_and_baselines_are_refused(db: TestDb) {
    let spec = db.spec().clone();
    for bad in [
        "delta_1.0_x.sql",
        "delta_1.0.0_a-b.sql",
        "delta_1.0.0_x.SQL",
        "pre-all.sql.orig",
    ] {
        let deltas = Deltas::new(&[(&format!("delta/{bad}"), "SELECT 1;")]);
        let err = DeltaUpgrader::new(&spec, "app_sys.upgrades", &[deltas.path("delta")])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(bad) && err.contains("looks like a delta"),
            "{err}"
        );
    }
    let deltas = Deltas::new(&[("delta/delta_1.0.0_a.sql", "SELECT '%(v)s';")]);
    let err = DeltaUpgrader::new(&spec, "upgrades", &[deltas.path("delta")])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("schema.table"), "{err}");
    let err = DeltaUpgrader::new(&spec, "app_sys.upgrades", &[deltas.path("nowhere")])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("nowhere") && err.contains("does not exist"),
        "{err}"
    );

    let upgrader = upgrader(&spec, &deltas);
    let err = upgrader
        .upgrade(&options(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("app_sys.upgrades does not exist") || err.contains("baseline"),
        "{err}"
    );
    baseline(&db, "0.9.0", &upgrader);
    assert!(
        upgrader
            .baseline("1.0")
            .unwrap_err()
            .to_string()
            .contains("three numbers")
    );
    let err = upgrader.baseline("0.9.0").unwrap_err().to_string();
    assert!(err.contains("already records 0.9.0"), "{err}");
    let err = upgrader
        .upgrade(&options(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("delta_1.0.0_a.sql:1:9") && err.contains("inside a string literal"),
        "{err}"
    );
    let err = Variable::parse("int", "srid", "x").unwrap_err().to_string();
    assert_eq!(err, "variable srid: \"x\" is not an integer");
    // Nothing recorded beyond the baseline.
    assert_eq!(rows(&db), ["0.9.0|baseline|0||"]);
}

#[pum::pum_test]
fn rust_hooks_and_executables_run_as_deltas(db: TestDb) {
    let deltas = Deltas::new(&[
        ("delta/delta_1.0.0_a.sql", "CREATE TABLE public.t (v text);"),
        (
            "delta/delta_1.1.0_load.sh",
            "#!/bin/sh\nset -e\necho \"loading at $PUM_CURRENT_VERSION into $PUM_MIGRATIONS_TABLE\"\necho \"socket dir $(stat -c %a \"$PGHOST\"), password ${PGPASSWORD:-none}\"\npsql -X -q -v ON_ERROR_STOP=1 -c \"INSERT INTO public.t VALUES ('sh $PUM_PARAM_WHO')\"\n",
        ),
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = deltas.path("delta/delta_1.1.0_load.sh");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas)
        .hook(
            Some("1.2.0"),
            pum::changelog::deltas::DeltaKind::Main,
            "rust",
            |cx: &mut HookContext<'_>| {
                let who = cx
                    .variable("who")
                    .map(|v| v.sql_literal())
                    .unwrap_or_default();
                cx.message(&format!("rust at {}", cx.current_version().unwrap()));
                cx.execute(&format!("INSERT INTO public.t VALUES ('rust ' || {who})"))
            },
        )
        .unwrap();
    baseline(&db, "1.0.0", &upgrader);
    let options = DeltaOptions {
        variables: vec![("who".into(), Variable::Text("me".into()))],
        ..DeltaOptions::default()
    };
    let mut progress = Recorder::default();
    upgrader.upgrade(&options, &mut progress).unwrap();
    assert_eq!(
        progress.messages,
        [
            "loading at 1.0.0 into app_sys.upgrades",
            "socket dir 700, password none",
            "rust at 1.1.0"
        ]
    );
    assert_eq!(
        strings(&db, "SELECT v FROM public.t ORDER BY 1"),
        ["rust me", "sh me"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT description || ':' || type FROM app_sys.upgrades ORDER BY id"
        ),
        ["baseline:0", "a:8", "load:4", "rust:4"]
    );
}

#[cfg(unix)]
#[pum::pum_test]
fn code_deltas_others_could_write_are_refused(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let deltas = Deltas::new(&[("delta/delta_1.0.0_x.py", "raise SystemExit(3)\n")]);
    let path = deltas.path("delta/delta_1.0.0_x.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let spec = db.spec().clone();
    let err = DeltaUpgrader::new(&spec, "app_sys.upgrades", &[deltas.path("delta")])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("delta_1.0.0_x.py") && err.contains("it is writable by every user"),
        "{err}"
    );
    // A failing executable's exit status and last words make its error.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    let err = upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::Code { .. }), "{err}");
    assert!(err.to_string().contains("SystemExit: 3"), "{err}");
    assert_eq!(rows(&db), ["1.0.0|baseline|0||"]);
}

#[pum::pum_test]
fn a_missing_interpreter_or_module_says_what_to_install(db: TestDb) {
    let deltas = Deltas::new(&[(
        "delta/delta_1.0.0_x.py",
        "import pum_no_such_module\nfrom pum.core.deltapy import DeltaPy\n",
    )]);
    let spec = db.spec().clone();
    let upgrader = upgrader(&spec, &deltas);
    baseline(&db, "1.0.0", &upgrader);
    let err = upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("delta_1.0.0_x.py:1: ModuleNotFoundError: No module named 'pum_no_such_module' (install it for"),
        "{err}"
    );
    let upgrader = DeltaUpgrader::new(&spec, "app_sys.upgrades", &[deltas.path("delta")])
        .unwrap()
        .python("/nonexistent/python3");
    let err = upgrader
        .upgrade(&DeltaOptions::default(), &mut NoProgress)
        .unwrap_err();
    assert!(matches!(err, Error::ToolNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("pip install psycopg2-binary"),
        "{err}"
    );
    assert_eq!(rows(&db), ["1.0.0|baseline|0||"]);
}
