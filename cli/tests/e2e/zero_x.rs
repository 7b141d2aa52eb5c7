//! pum 0.x command lines, run unchanged on the example project (examples/pum0x).

use crate::support::Bounded;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{self, ScratchDb};

/// Databases reachable as services named like the databases, from the example's
/// directory.
struct ZeroX {
    dir: tempfile::TempDir,
    dbs: Vec<ScratchDb>,
}

impl ZeroX {
    /// `count` databases holding the example's 1.0.0 schema.
    fn new(what: &str, count: usize) -> ZeroX {
        let dir = tempfile::tempdir().unwrap();
        let spec = support::spec();
        let schema = std::fs::read_to_string(example().join("schema/1.0.0.sql")).unwrap();
        let mut services = String::new();
        let mut dbs = Vec::new();
        for i in 0..count {
            let db = ScratchDb::new(&format!("{what}{i}"), &schema);
            services.push_str(&format!(
                "[{}]\nhost={}\nport={}\nuser={}\ndbname={}\n",
                db.name,
                spec.host(),
                spec.port(),
                spec.user(),
                db.name
            ));
            dbs.push(db);
        }
        std::fs::write(dir.path().join("pg_service.conf"), services).unwrap();
        ZeroX { dir, dbs }
    }

    fn name(&self, i: usize) -> &str {
        &self.dbs[i].name
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(example())
            .env("PGSERVICEFILE", self.dir.path().join("pg_service.conf"))
            .env("PUM_PYTHON", support::python())
            .args(args);
        command
    }

    /// Runs `pum ARGS` in the example's directory, `input` on standard input.
    fn pum(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        crate::support::child::wait_output(child)
    }

    fn strings(&self, i: usize, sql: &str) -> Vec<String> {
        self.dbs[i].strings(sql)
    }

    fn rows(&self, i: usize) -> Vec<String> {
        self.strings(
            i,
            "SELECT concat_ws('|', version, description, type, script) FROM net_sys.upgrades \
             ORDER BY id",
        )
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pum0x")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const VARS: [&str; 8] = [
    "-v", "int", "srid", "2056", "-v", "string", "label", "unnamed",
];

fn with_vars<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend_from_slice(&VARS);
    all
}

#[test]
fn baseline_info_upgrade_check_dump_and_restore_as_pum_0x_wrote_them() {
    let x = ZeroX::new("zx", 3);
    let (a, b) = (x.name(0), x.name(1));
    let out = x.pum(
        &[
            "baseline",
            "-p",
            a,
            "-t",
            "net_sys.upgrades",
            "-d",
            "delta/",
            "-b",
            "1.0.0",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));

    let out = x.pum(
        &["info", "-p", a, "-t", "net_sys.upgrades", "-d", "delta/"],
        "",
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("delta files in dir:  delta/"), "{shown}");
    assert!(
        shown.contains("| 1.1.0   | valve | delta py  | Pending |"),
        "{shown}"
    );

    let out = x.pum(
        &with_vars(&["upgrade", "-p", a, "-t", "net_sys.upgrades", "-d", "delta/"]),
        "",
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Message from Valves: 2 valve(s) on pipes of 100 mm and more\n"
    );
    assert!(
        shown.contains(&format!("upgraded {a} from 1.0.0 to 1.2.0 (5 delta(s))")),
        "{shown}"
    );
    assert_eq!(
        x.rows(0),
        [
            "1.0.0|baseline|0|",
            "1.0.1|srid|8|delta/delta_1.0.1_srid.sql",
            "1.1.0|valve|9|delta/delta_1.1.0_valve.pre.sql",
            "1.1.0|valve|4|delta/delta_1.1.0_valve.py",
            "1.1.0|valve|10|delta/delta_1.1.0_valve.post.sql",
            "1.2.0|label|8|delta/delta_1.2.0_label.sql",
        ]
    );

    // The configuration file's keys stand in for -t and -d.
    let out = x.pum(
        &[
            "-c",
            "db_manager_config.yaml",
            "baseline",
            "-p",
            b,
            "-b",
            "1.0.0",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = x.pum(
        &with_vars(&["-c", "db_manager_config.yaml", "upgrade", "-p", b]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(x.rows(1), x.rows(0));

    // check -p1 -p2: same schema, exit 0; with ignores; different, exit 1.
    let out = x.pum(&["check", "-p1", a, "-p2", b], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let c = x.name(2);
    let out = x.pum(
        &[
            "check",
            "-p1",
            a,
            "-p2",
            c,
            "-i",
            "views",
            "sequences",
            "-N",
            "net_sys",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("valve"), "{}", text(&out));
    let out = x.pum(&["check", "-p1", a, "-p2", c, "-s", "1"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "differences found\n");

    // dump -p FILE, restore -p FILE; several -N each leave their schema out (pum 0.9.14
    // joined them into one argument, which left nothing out).
    x.dbs[0]
        .client()
        .batch_execute("CREATE SCHEMA scratch")
        .unwrap();
    let dump = x.dir.path().join("a.dump");
    let dump = dump.to_str().unwrap();
    let out = x.pum(
        &["dump", "-p", a, "-N", "net_sys", "-N", "scratch", dump],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    x.dbs[2]
        .client()
        .batch_execute("DROP SCHEMA net CASCADE; DROP SCHEMA net_sys CASCADE")
        .unwrap();
    let out = x.pum(&["restore", "-p", c, dump], "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(x.strings(2, "SELECT count(*)::text FROM net.valve"), ["2"]);
    assert_eq!(
        x.strings(
            2,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname IN ('net_sys', 'scratch')"
        ),
        ["0"]
    );
}

#[test]
fn test_and_upgrade_confirmed_by_piped_yes_refused_on_drift_and_declined() {
    let x = ZeroX::new("zt", 4);
    let (prod, test, comp, drift) = (x.name(0), x.name(1), x.name(2), x.name(3));
    let full = std::fs::read_to_string(example().join("schema/1.2.0.sql")).unwrap();
    for (i, extra) in [(2, ""), (3, "ALTER TABLE net.pipe ADD COLUMN drift int;")] {
        x.dbs[i]
            .client()
            .batch_execute(&format!(
                "DROP SCHEMA net CASCADE; DROP SCHEMA net_sys CASCADE; {full} {extra}"
            ))
            .unwrap();
    }
    for (db, version) in [(prod, "1.0.0"), (comp, "1.2.0"), (drift, "1.2.0")] {
        let out = x.pum(
            &[
                "baseline",
                "-p",
                db,
                "-t",
                "net_sys.upgrades",
                "-d",
                "delta/",
                "-b",
                version,
            ],
            "",
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let dump = x.dir.path().join("backup.dump");
    let dump = dump.to_str().unwrap().to_string();
    let tau = |comp: &str, input: &str| {
        x.pum(
            &with_vars(&[
                "test-and-upgrade",
                "-pp",
                prod,
                "-pt",
                test,
                "-pc",
                comp,
                "-t",
                "net_sys.upgrades",
                "-d",
                "delta/",
                "-f",
                &dump,
                "-i",
                "sequences",
            ]),
            input,
        )
    };

    // Drift: refused, the difference listed, prod untouched.
    let out = tau(drift, "y\n");
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("drift") && shown.contains("was not upgraded"),
        "{shown}"
    );
    assert_eq!(x.rows(0), ["1.0.0|baseline|0|"]);
    assert!(!Path::new(&dump).exists(), "the dump is removed");

    // Declined: exit 1, prod untouched.
    let out = tau(comp, "n\n");
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("Apply deltas to {prod}? [n]|y: ")),
        "{shown}"
    );
    assert_eq!(x.rows(0).len(), 1);

    // Confirmed as pum 0.x scripts do (yes | pum …): every step reported, prod upgraded.
    let out = tau(comp, "maybe\ny\n");
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for step in [
        "Dump prod",
        "Restore into test",
        "Upgrade test",
        "Compare test",
        "Upgrade prod",
        "please enter y or n.",
    ] {
        assert!(shown.contains(step), "{step}: {shown}");
    }
    assert_eq!(x.rows(0).len(), 6);
    assert_eq!(x.strings(0, "SELECT count(*)::text FROM net.valve"), ["2"]);
    assert!(!Path::new(&dump).exists());
}

#[test]
fn zero_x_bad_input_is_one_line_and_changes_nothing() {
    let x = ZeroX::new("zb", 1);
    let a = x.name(0);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["upgrade", "-p", a, "-t", "upgrades", "-d", "delta/"],
            "schema.table",
        ),
        (
            vec![
                "upgrade",
                "-p",
                a,
                "-t",
                "net_sys.upgrades",
                "-d",
                "nowhere/",
            ],
            "nowhere",
        ),
        (
            vec!["upgrade", "-p", a, "-t", "net_sys.upgrades", "-d", "delta/"],
            "baseline",
        ),
        (
            vec![
                "baseline",
                "-p",
                a,
                "-t",
                "net_sys.upgrades",
                "-d",
                "delta/",
                "-b",
                "1.0",
            ],
            "three numbers",
        ),
        (
            vec![
                "upgrade",
                "-p",
                a,
                "-t",
                "net_sys.upgrades",
                "-d",
                "delta/",
                "-v",
                "int",
                "srid",
                "x",
            ],
            "variable srid",
        ),
        (vec!["upgrade", "-p", a, "-d", "delta/"], "-t TABLE"),
        (
            vec![
                "upgrade",
                "-p",
                a,
                "-t",
                "net_sys.upgrades",
                "-d",
                "delta/",
                "-v",
                "int",
            ],
            "see pum",
        ),
    ];
    for (args, expected) in cases {
        let out = x.pum(&args, "");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("pum: error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        x.strings(
            0,
            "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'net_sys'"
        ),
        ["0"]
    );
}

#[test]
fn the_1x_test_and_upgrade_compares_with_a_fresh_install() {
    let project = support::project::shop();
    let prod = ScratchDb::new("tau1x", "");
    let test = ScratchDb::new("tau1xt", "");
    let dir = tempfile::tempdir().unwrap();
    support::service_file(dir.path(), "prod", &prod.name);
    let test_url = test.spec().url();
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("PGSERVICEFILE", dir.path().join("pg_service.conf"))
            .args(["-p", "prod", "-d", project.path().to_str().unwrap()])
            .args(args)
            .stdin(Stdio::null())
            .bounded_output()
    };
    let out = run(&["install", "-u", "1.1.0"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["test-and-upgrade", "--test", &test_url, "--yes"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("Install the changelogs on the ephemeral server"),
        "{shown}"
    );
    assert!(shown.contains("upgraded from 1.1.0 to 1.10.0"), "{shown}");
    assert_eq!(
        prod.strings(
            "SELECT max(string_to_array(version, '.')::int[])::text FROM shop.pum_migrations"
        ),
        ["{1,10,0}"]
    );
}

#[test]
fn a_negative_number_is_a_variable_value() {
    let x = ZeroX::new("zxneg", 1);
    let a = x.name(0);
    let out = x.pum(
        &[
            "baseline",
            "-p",
            a,
            "-t",
            "net_sys.upgrades",
            "-d",
            "delta/",
            "-b",
            "1.0.0",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = x.pum(
        &[
            "upgrade",
            "-p",
            a,
            "-t",
            "net_sys.upgrades",
            "-d",
            "delta/",
            "-v",
            "int",
            "srid",
            "-5",
            "-v",
            "string",
            "label",
            "unnamed",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        x.strings(
            0,
            "SELECT column_default::text FROM information_schema.columns \
             WHERE table_schema = 'net' AND table_name = 'pipe' AND column_name = 'srid'"
        ),
        ["'-5'::integer"]
    );
}
