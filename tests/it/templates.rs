//! What a template's key counts (hook dependencies, changelogs only, contents relative to
//! the project), how many templates a project keeps, and which base and reference files
//! the harness accepts (issue 21, items 5, 12 and 13).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pum::testing::{Base, ReferenceSpec, TestDb, TestSpec};

use crate::support::project::Project;
use crate::support::{self, ScratchDb};

const YAML: &str = "pum:\n  module: tpl\n  migration_table_schema: tpl\n";

/// A project whose contents are its own (a unique comment): its templates are new.
fn project(extra_yaml: &str) -> Project {
    let schema = format!(
        "-- {}\nCREATE SCHEMA IF NOT EXISTS tpl;\nCREATE TABLE tpl.item (id int);\n",
        support::unique_name("tpl")
    );
    Project::new(
        &format!("{YAML}{extra_yaml}"),
        &[
            ("changelogs/1.0.0/01_schema.sql", &schema),
            (
                "changelogs/1.1.0/01_name.sql",
                "ALTER TABLE tpl.item ADD COLUMN name text;\n",
            ),
        ],
    )
}

fn spec(config: &Path) -> TestSpec {
    TestSpec::new("templates::x").config(config)
}

fn key(config: &Path) -> String {
    pum::testing::template_name(&spec(config)).unwrap()
}

/// Whether database `name` exists, as pg_database says.
fn exists(name: &str) -> bool {
    support::exists(name)
}

fn registered(name: &str) -> bool {
    support::registry_client()
        .query_opt(
            "SELECT 1 FROM pum_registry.templates WHERE name = $1",
            &[&name],
        )
        .unwrap()
        .is_some()
}

/// Run alone it does nothing; the tests below run it as a child process on the
/// `.pum.yaml` named by `PUM_IT_CONFIG`, printing what `PUM_IT_QUERY` returns (one text).
/// With `PUM_IT_TWICE` set it runs two tests (the second has the template's spares made
/// ahead), then waits until the template has a finished spare.
#[test]
fn child_runs_a_spec() {
    let Ok(config) = std::env::var("PUM_IT_CONFIG") else {
        return;
    };
    let query = std::env::var("PUM_IT_QUERY").unwrap_or_else(|_| "SELECT 'ok'".into());
    let twice = std::env::var_os("PUM_IT_TWICE").is_some();
    let spec = TestSpec::new("templates::child_runs_a_spec").config(config);
    for _ in 0..if twice { 2 } else { 1 } {
        pum::testing::run(spec.clone(), |db: TestDb| {
            let value: String = db.client().query_one(&query, &[]).unwrap().get(0);
            println!("pum-it: {value}");
        });
    }
    if twice {
        let template = pum::testing::template_name(&spec).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while spares_of(&template).is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "no spare of {template} was made within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The finished spares of `template` that exist, as the registry and pg_database say.
fn spares_of(template: &str) -> Vec<String> {
    support::registry_client()
        .query(
            "SELECT r.name FROM pum_registry.databases r \
             JOIN pg_database d ON d.datname = r.name \
             WHERE r.spare_of = $1 AND r.ready ORDER BY 1",
            &[&template],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Runs [`child_runs_a_spec`] on `config` in a child process; what it printed.
fn in_child(config: &Path, query: &str, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "templates::child_runs_a_spec",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("PUM_IT_CONFIG", config)
        .env("PUM_IT_QUERY", query)
        .env("PUM_PYTHON", support::python())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = support::child::wait_output(command.spawn().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("pum-it: ").nth(1))
        .unwrap_or_default()
        .to_string()
}

/// Item 5: a Python hook's helper module and the data file it reads count in the key.
#[test]
fn editing_a_python_hooks_helper_module_or_data_file_builds_a_new_template() {
    let p = project("application:\n  create:\n    - file: app/hook.py\n");
    p.write(
        "app/hook.py",
        "from pathlib import Path\n\nfrom pum import HookBase\nfrom view_sql import LABEL\n\n\n\
         class Hook(HookBase):\n    def run_hook(self, connection):\n        \
         more = (Path(__file__).parent / 'more.sql').read_text().strip()\n        \
         self.execute(\"CREATE VIEW tpl.v AS SELECT '%s'::text || '/' || %s AS label\" % (LABEL, more))\n",
    );
    p.write("app/view_sql.py", "LABEL = 'first'\n");
    p.write("app/more.sql", "'data1'\n");
    let config = p.path().join(".pum.yaml");
    let query = "SELECT label FROM tpl.v";
    let first = key(&config);
    assert_eq!(in_child(&config, query, &[]), "first/data1");
    assert!(exists(&first));

    // The imported module edited: a new key, a new template, the new behaviour.
    p.write("app/view_sql.py", "LABEL = 'second'\n");
    let second = key(&config);
    assert_ne!(second, first);
    assert_eq!(in_child(&config, query, &[]), "second/data1");
    assert!(exists(&second));

    // The file it reads edited: the same.
    p.write("app/more.sql", "'data2'\n");
    let third = key(&config);
    assert_ne!(third, second);
    assert_eq!(in_child(&config, query, &[]), "second/data2");

    // Python's cache and an editor's swap file do not count.
    p.write("app/__pycache__/view_sql.cpython-311.pyc", "junk");
    p.write("app/.view_sql.py.swp", "junk");
    p.write("app/view_sql.py~", "junk");
    assert_eq!(key(&config), third);
    pum::testing::drop_template(&spec(&config)).unwrap();
}

/// Item 13: only what pum install reads counts, under names relative to the project.
#[test]
fn keys_count_changelogs_only_by_contents_relative_to_the_project() {
    let p = project("");
    let config = p.path().join(".pum.yaml");
    let base = key(&config);
    // The same file by another spelling of its path.
    assert_eq!(key(&p.path().join("./.pum.yaml")), base);
    assert_eq!(key(&p.path().join("changelogs/../.pum.yaml")), base);
    // Files that are not changelogs.
    p.write("changelogs/README.md", "# notes\n");
    p.write("changelogs/1.1.0/notes.txt", "notes\n");
    p.write("changelogs/1.1.0/.01_name.sql.swp", "swap\n");
    p.write("changelogs/1.1.0/01_name.sql~", "backup\n");
    p.write("changelogs/1.1.0/#01_name.sql#", "emacs\n");
    assert_eq!(key(&config), base);
    // A second checkout of the same files, elsewhere.
    let other = tempfile::tempdir().unwrap();
    crate::support::project::copy_dir(p.path(), other.path());
    assert_eq!(key(&other.path().join(".pum.yaml")), base);
    // A down file does count.
    p.write(
        "changelogs/1.1.0/down/01_name.sql",
        "ALTER TABLE tpl.item DROP COLUMN name;\n",
    );
    let with_down = key(&config);
    assert_ne!(with_down, base);

    // With max_version, a later version does not count; an earlier one does.
    let capped = |c: &Path| {
        pum::testing::template_name(&spec(c).max_version(pum::Version::parse("1.0.0").unwrap()))
            .unwrap()
    };
    let at_1_0 = capped(&config);
    p.write(
        "changelogs/1.1.0/01_name.sql",
        "ALTER TABLE tpl.item ADD COLUMN label text;\n",
    );
    p.write("changelogs/1.2.0/01_more.sql", "SELECT 1;\n");
    assert_eq!(capped(&config), at_1_0);
    assert_ne!(key(&config), with_down);
    p.write(
        "changelogs/1.0.0/01_schema.sql",
        "CREATE SCHEMA IF NOT EXISTS tpl;\nCREATE TABLE tpl.item (id bigint);\n",
    );
    assert_ne!(capped(&config), at_1_0);
}

/// Every test computes its template's key, but once the files have settled (two seconds
/// unchanged) it only looks at them: a file edited in place (same length, same
/// modification time), added, or removed between two tests still gives the second a new
/// key.
#[test]
fn a_settled_projects_key_is_kept_until_a_file_changes() {
    let p = project("");
    let config = p.path().join(".pum.yaml");
    let file = p.path().join("changelogs/1.1.0/01_name.sql");
    // Files written less than two seconds ago are read again at every test; these
    // settle first, so their key is kept.
    std::thread::sleep(Duration::from_millis(2_100));
    let kept = key(&config);
    assert_eq!(key(&config), kept);
    // The same length, the old modification time: only the change time says so.
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, "ALTER TABLE tpl.item ADD COLUMN nick text;\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let edited = key(&config);
    assert_ne!(edited, kept, "an edit in place gives a new key");
    p.write("changelogs/1.1.0/02_more.sql", "SELECT 1;\n");
    let added = key(&config);
    assert_ne!(added, edited, "an added file gives a new key");
    std::fs::remove_file(p.path().join("changelogs/1.1.0/02_more.sql")).unwrap();
    assert_eq!(key(&config), edited, "the file removed: the key before it");
}

fn ready_templates_like(names: &[String]) -> Vec<String> {
    support::registry_client()
        .query(
            "SELECT d.datname::text FROM pg_database d \
             JOIN pum_registry.templates t ON t.name = d.datname \
             WHERE d.datname = ANY($1) ORDER BY 1",
            &[&names],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Item 13: a project keeps `PUM_TEST_TEMPLATES`, least recently used dropped first with
/// their spares (each had some before), whatever changed (an edit, an added file), never
/// one a live runner uses.
#[test]
fn a_project_keeps_a_capped_number_of_templates_and_never_one_in_use() {
    let p = project("");
    let config = p.path().join(".pum.yaml");
    // This process is a live runner using the first template.
    let t1 = key(&config);
    pum::testing::run(spec(&config), |db: TestDb| {
        db.client().batch_execute("SELECT 1").unwrap();
    });
    assert!(exists(&t1));

    let cap = [
        ("PUM_TEST_TEMPLATES", "2"),
        ("PUM_TEST_SPARES", "2"),
        ("PUM_IT_TWICE", "1"),
    ];
    let mut built = vec![t1.clone()];
    // The spares of the templates the cap is to evict, made before it does.
    let mut evicted_spares = Vec::new();
    for step in 0..3 {
        if step == 1 {
            // An added changelog file: the same project, one more template.
            p.write("changelogs/1.1.0/02_added.sql", "SELECT 2;\n");
        } else {
            p.write("changelogs/1.1.0/01_name.sql", &format!("SELECT {step};\n"));
        }
        let name = key(&config);
        // Two tests in one child: the second makes spares of the template ahead, and
        // the child waits until one is finished.
        assert_eq!(in_child(&config, "SELECT 'ok'", &cap), "ok");
        assert!(exists(&name), "{name}");
        let made = spares_of(&name);
        assert!(!made.is_empty(), "{name} has spares before it is evicted");
        if step < 2 {
            evicted_spares.extend(made);
        }
        built.push(name);
    }
    // t1 is in use by this live process; the newest was just built; the two between
    // went, from pg_database and from the registry, with their spares.
    assert_eq!(
        ready_templates_like(&built),
        {
            let mut kept = vec![built[0].clone(), built[3].clone()];
            kept.sort();
            kept
        },
        "{built:?}: {:?}",
        support::registry_client()
            .query(
                "SELECT t.name || ' ' || coalesce(t.project, '-') || ' ' || t.family || ' ' || \
                 t.status || ' ' || coalesce((SELECT string_agg(u.runner || ':' || \
                 coalesce((SELECT (r.lease_until > now())::text FROM pum_registry.runners r \
                 WHERE r.id = u.runner), 'gone'), ',') FROM pum_registry.template_users u \
                 WHERE u.template = t.name), '') FROM pum_registry.templates t \
                 WHERE t.name = ANY($1)",
                &[&built]
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    );
    for gone in &built[1..3] {
        assert!(!exists(gone) && !registered(gone), "{gone}");
        let spares: i64 = support::registry_client()
            .query_one(
                "SELECT count(*) FROM pum_registry.databases WHERE spare_of = $1",
                &[gone],
            )
            .unwrap()
            .get(0);
        assert_eq!(spares, 0);
    }
    for spare in &evicted_spares {
        let registered: bool = support::registry_client()
            .query_one(
                "SELECT EXISTS (SELECT FROM pum_registry.databases WHERE name = $1)",
                &[spare],
            )
            .unwrap()
            .get(0);
        assert!(
            !exists(spare) && !registered,
            "spare {spare} went with its evicted template"
        );
    }
    let bad = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "templates::child_runs_a_spec"])
        .env("PUM_IT_CONFIG", &config)
        .env("PUM_TEST_TEMPLATES", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = support::child::wait_output(bad);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("PUM_TEST_TEMPLATES"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    pum::testing::drop_template(&spec(&config)).unwrap();
}

/// `pg_dump` with `args` of the database of `source` into `file`.
fn pg_dump(source: &ScratchDb, args: &[&str], file: &Path) {
    let spec = source.spec();
    let mut command = Command::new("pg_dump");
    command
        .args(args)
        .arg("--no-owner")
        .arg("--file")
        .arg(file)
        .arg(spec.dbname())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spec.apply_to(&mut command);
    let out = support::child::wait_output(command.spawn().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn message(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Why running `spec` (and building its reference) fails, within a bound: a FIFO must
/// never hang a test.
fn refusal(spec: TestSpec) -> String {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let inner = tx.clone();
        let outer = catch_unwind(AssertUnwindSafe(|| {
            pum::testing::run(spec, move |db: TestDb| {
                if let Err(e) = catch_unwind(AssertUnwindSafe(|| {
                    db.reference();
                })) {
                    let _ = inner.send(message(e));
                }
            })
        }));
        if let Err(e) = outer {
            let _ = tx.send(message(e));
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("neither refused nor done within 60 s")
}

/// Item 12: a plain dump (with `\restrict`), a custom and a directory-format dump are
/// accepted as base and reference; a FIFO, a device and a directory that is no dump are
/// refused at once with one line naming the path.
#[test]
fn base_and_reference_accept_what_pg_dump_writes_and_refuse_the_rest() {
    let source = ScratchDb::new(
        "tpl_dumps",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/shop_reference.sql"
        ))
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.sql");
    pum::dump(
        &source.spec(),
        &plain,
        &pum::DumpOptions {
            format: pum::DumpFormat::Plain,
            ..pum::DumpOptions::default()
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(
        text.contains("\n\\restrict "),
        "pg_dump wrote no \\restrict"
    );
    let custom = dir.path().join("custom.dump");
    pum::dump(&source.spec(), &custom, &pum::DumpOptions::default()).unwrap();
    let directory = dir.path().join("directory.dump");
    pg_dump(&source, &["--format=directory"], &directory);

    // As the macro reads `reference = "plain.sql"`.
    let reference = ReferenceSpec::parse("plain.sql", dir.path()).unwrap();
    assert_eq!(reference, ReferenceSpec::SqlFiles(vec![plain.clone()]));
    for (base, reference) in [
        (Base::Dump(directory.clone()), reference.clone()),
        (
            Base::SqlFiles(vec![plain.clone()]),
            ReferenceSpec::Dump(directory.clone()),
        ),
        (
            Base::Dump(custom.clone()),
            ReferenceSpec::Dump(plain.clone()),
        ),
    ] {
        let spec = TestSpec::new("templates::dumps")
            .base(base)
            .reference(reference);
        pum::testing::run(spec, |db: TestDb| {
            let n: i64 = db
                .client()
                .query_one(
                    "SELECT count(*) FROM pg_class WHERE relnamespace = 'shop'::regnamespace",
                    &[],
                )
                .unwrap()
                .get(0);
            assert!(n > 0);
            pum::assert_schema_eq!(db, db.reference());
            pum::assert_schema_eq!(db, source.spec().clone());
        });
    }

    // Refused, naming the path, at once.
    let fifo = dir.path().join("fifo.sql");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let not_a_dump = dir.path().join("empty_dir");
    std::fs::create_dir(&not_a_dump).unwrap();
    let device = Path::new("/dev/zero").to_path_buf();
    for path in [&fifo, &not_a_dump, &device] {
        for spec in [
            TestSpec::new("t").reference(ReferenceSpec::SqlFiles(vec![path.clone()])),
            TestSpec::new("t").reference(ReferenceSpec::Dump(path.clone())),
            TestSpec::new("t").base(Base::Dump(path.clone())),
            TestSpec::new("t").base(Base::SqlFiles(vec![path.clone()])),
        ] {
            let err = refusal(spec);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(
                err.contains("not a regular file or a directory-format dump"),
                "{err}"
            );
        }
    }
}

/// Spares in pg_database that the registry does not know of (a sweep would never see
/// them), as one sorted list.
fn unregistered_spares() -> Vec<String> {
    support::registry_client()
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'pum\\_t\\_spare\\_%' \
             AND datname NOT IN (SELECT name FROM pum_registry.databases) ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A template dropped (evicted) while spares of it are being made: the registry forgets
/// the spares with it, so the maker must drop what it finishes making; nothing stays in
/// pg_database that the registry does not know of (a CI run found one). The race is
/// provoked, not forced: each round runs a spec twice (spares are then made in the
/// background) and drops its template at once.
#[test]
fn spares_made_while_their_template_is_dropped_are_not_left_behind() {
    let p = project("");
    let config = p.path().join(".pum.yaml");
    // Left by an earlier pum on this server (not this test's to judge).
    let before = unregistered_spares();
    let new = || {
        let mut now = unregistered_spares();
        now.retain(|name| !before.contains(name));
        now
    };
    for round in 0..4 {
        p.write(
            "changelogs/1.1.0/01_name.sql",
            &format!("SELECT {round};\n"),
        );
        for _ in 0..2 {
            pum::testing::run(spec(&config), |db: TestDb| {
                db.client().batch_execute("SELECT 1").unwrap();
            });
        }
        pum::testing::drop_template(&spec(&config)).unwrap();
    }
    // A spare its maker is still dropping may show for a while (DROP DATABASE waits for a
    // checkpoint, and a loaded CI machine runs the whole suite beside it): wait, with a
    // deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut left = new();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = new();
    }
    assert!(left.is_empty(), "spares nobody knows of: {left:?}");
}
