//! Python pum 1.9's command line for datamodels with roles, application hooks, demo data
//! and uninstall hooks (examples/trees), as users type it.

use crate::support::Bounded;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::support::output::{error, ok, stderr, stdout};
use crate::support::project::{RolesCleanup, trees_in};
use crate::support::{self, ScratchDb, unique_name};

/// examples/trees in a temporary directory with roles of its own (`<prefix>_viewer`…),
/// and a database; the roles are dropped at the end.
struct Trees {
    dir: tempfile::TempDir,
    prefix: String,
    db: ScratchDb,
    _roles: RolesCleanup,
}

impl Trees {
    fn new() -> Trees {
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique_name("c");
        trees_in(dir.path(), &prefix);
        let db = ScratchDb::new("cli_trees", "");
        Trees {
            dir,
            _roles: RolesCleanup {
                prefix: prefix.clone(),
                dbs: vec![db.spec()],
            },
            prefix,
            db,
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn url(&self) -> String {
        self.db.spec().url()
    }

    /// `pum -p URL -d DIR ARGS` with nothing on standard input.
    fn pum(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).bounded_output()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
        command
            .env("PUM_PYTHON", support::python())
            .args(["-p", &self.url(), "-d"])
            .arg(self.path())
            .args(args);
        command
    }

    fn role(&self, what: &str) -> String {
        format!("{}_{what}", self.prefix)
    }

    fn one(&self, sql: &str) -> String {
        self.db.strings(sql).into_iter().next().unwrap_or_default()
    }
}

#[test]
fn install_with_demo_data_app_recreate_and_uninstall() {
    let trees = Trees::new();
    // install's own -d is the demo data set, the global -d (before it) the directory.
    let out = trees.pum(&["install", "-d", "lausanne"]);
    ok(&out);
    assert!(
        stderr(&out).ends_with("installed 4 version(s) (6 file(s)); now at 2.0.0\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        trees.one("SELECT count(*)::text FROM trees_app.vw_tree"),
        "3"
    );

    ok(&trees.pum(&["app", "recreate", "-p", "lang", "de"]));
    assert_eq!(
        trees.one("SELECT species FROM trees_app.vw_tree ORDER BY id"),
        "Winterlinde"
    );
    assert_eq!(
        error(&trees.pum(&["app", "recreate", "-p", "SRID", "21781"])),
        "parameter SRID: was 2056 when version 2.0.0 was installed and is 21781 now; only \
         app_only parameters may change between upgrades"
    );
    assert_eq!(
        error(&trees.pum(&["app", "create", "-p", "colour", "red"])),
        "parameter colour: unknown parameter (defined: SRID, lang)"
    );

    // No terminal to ask on: refused, nothing changed.
    assert_eq!(
        error(&trees.pum(&["uninstall"])),
        "refusing to uninstall module trees without --force: standard input is not a \
         terminal to confirm on"
    );
    assert_eq!(trees.one("SELECT count(*)::text FROM trees_od.tree"), "3");
    let out = trees.pum(&["uninstall", "--force"]);
    ok(&out);
    assert_eq!(
        stderr(&out),
        "module trees uninstalled; trees_sys.pum_migrations dropped\n"
    );
    assert_eq!(
        trees.one("SELECT count(*)::text FROM pg_namespace WHERE nspname LIKE 'trees%'"),
        "0"
    );
    // A second time: the module is not there.
    assert_eq!(
        error(&trees.pum(&["uninstall", "--force"])),
        "trees_sys.pum_migrations does not exist: not installed; nothing to uninstall (is this \
         the right database?)"
    );
}

#[test]
fn role_commands_as_python_pum_has_them() {
    let trees = Trees::new();
    ok(&trees.pum(&["install", "--skip-roles", "--skip-grant"]));
    assert_eq!(
        trees.one(&format!(
            "SELECT count(*)::text FROM pg_roles WHERE rolname LIKE '{}\\_%'",
            trees.prefix
        )),
        "0"
    );
    // Options before or after the action, as in Python pum.
    ok(&trees.pum(&["role", "--suffix", "zurich", "create"]));
    let viewer = trees.role("viewer_zurich");
    assert_eq!(
        trees.one(&format!(
            "SELECT has_table_privilege('{viewer}', 'trees_od.tree', 'SELECT')::text"
        )),
        "true"
    );
    let out = trees.pum(&["role", "list"]);
    ok(&out);
    let list = stdout(&out);
    assert!(
        list.contains(&format!(
            "  ✓ {viewer}  [suffixed]\n      ✓ trees_od  (read)\n"
        )),
        "{list}"
    );

    // A login, its password from the environment, never the command line.
    let bob = trees.role("bob");
    let out = trees
        .command(&[
            "role",
            "create-login",
            "--name",
            &bob,
            "--password-env",
            "BOB_PASSWORD",
        ])
        .env("BOB_PASSWORD", "it's a secret")
        .stdin(Stdio::null())
        .bounded_output();
    ok(&out);
    assert!(!stderr(&out).contains("secret"));
    assert!(
        trees
            .one(&format!(
                "SELECT rolpassword FROM pg_authid WHERE rolname = '{bob}'"
            ))
            .starts_with("SCRAM-SHA-256$")
    );
    ok(&trees.pum(&[
        "role",
        "grant",
        "--to",
        &bob,
        "--roles",
        &trees.role("viewer"),
        "--suffix",
        "zurich",
    ]));
    let out = trees.pum(&["role", "members", "--roles", &viewer]);
    ok(&out);
    assert_eq!(stdout(&out), format!("  {bob}\n"));
    let out = trees.pum(&["role", "login-roles"]);
    assert!(
        stdout(&out).contains(&format!("  {bob}\n")),
        "{}",
        stdout(&out)
    );

    assert_eq!(
        error(&trees.pum(&["role", "members"])),
        "refusing to pum role members: --roles with exactly one role name is required"
    );
    assert_eq!(
        error(&trees.pum(&["role", "create-login"])),
        "refusing to pum role create-login: --name NAME is required"
    );
    assert_eq!(
        error(&trees.pum(&[
            "role",
            "create-login",
            "--name",
            "x",
            "--password-env",
            "PUM_NO_SUCH_VAR"
        ])),
        "PUM_NO_SUCH_VAR: not set (--password-env names the variable holding the password)"
    );
    let empty = trees
        .command(&[
            "role",
            "create-login",
            "--name",
            "x",
            "--password-env",
            "PUM_EMPTY_VAR",
        ])
        .env("PUM_EMPTY_VAR", "")
        .stdin(Stdio::null())
        .bounded_output();
    assert_eq!(
        error(&empty),
        "PUM_EMPTY_VAR: empty: a login needs a password (--password-env names the variable \
         holding it)"
    );
    let err = error(&trees.pum(&["role", "drop", "--roles", "viewr"]));
    assert!(
        err.starts_with("unknown role(s): viewr (configured roles: "),
        "{err}"
    );
    let err = error(&trees.pum(&[
        "role",
        "grant",
        "--to",
        "pum_nobody_at_all",
        "--suffix",
        "zurich",
    ]));
    assert!(
        err.contains("role \"pum_nobody_at_all\" does not exist"),
        "{err}"
    );

    ok(&trees.pum(&[
        "role",
        "revoke",
        "--from",
        &bob,
        "--roles",
        &trees.role("viewer"),
        "--suffix",
        "zurich",
    ]));
    ok(&trees.pum(&["role", "drop-login", "--name", &bob]));
    ok(&trees.pum(&["role", "drop", "--suffix", "zurich", "--force"]));
    assert_eq!(
        trees.one(&format!(
            "SELECT count(*)::text FROM pg_roles WHERE rolname LIKE '%zurich' AND rolname LIKE '{}%'",
            trees.prefix
        )),
        "0"
    );
}

#[test]
fn changelog_paths_are_recorded_as_python_pum_records_them_from_the_project() {
    let trees = Trees::new();
    // An absolute -d: Python pum would record absolute paths; this pum records them as
    // Python pum does run from the project's directory.
    assert!(trees.path().is_absolute());
    ok(&trees.pum(&["install", "--max-version", "1.1.0", "--skip-create-app"]));
    assert_eq!(
        trees.db.strings(
            "SELECT array_to_string(changelog_files, ' ') FROM trees_sys.pum_migrations \
             ORDER BY version"
        ),
        [
            "changelogs/1.0.0/01_schemas.sql changelogs/1.0.0/02_species.sql \
             changelogs/1.0.0/03_tree.sql",
            "changelogs/1.1.0/01_inspection.sql"
        ]
    );
}

#[test]
fn bad_projects_and_python_hooks_are_one_line_and_change_nothing() {
    let trees = Trees::new();
    // An empty changelogs directory (Python pum 1.9.2 crashes with a traceback).
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join(".pum.yaml"), "pum: {module: m}\n").unwrap();
    std::fs::create_dir(empty.path().join("changelogs")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .args(["-p", &trees.url(), "-d"])
        .arg(empty.path())
        .arg("install")
        .stdin(Stdio::null())
        .bounded_output();
    let err = error(&out);
    assert!(err.contains("changelogs"), "{err}");

    // A raising Python hook: the file, the line and the exception.
    std::fs::write(
        trees.path().join("app/views.py"),
        "from pum import HookBase\n\nclass Hook(HookBase):\n    def run_hook(self, connection):\n        raise ValueError('the view cannot be made')\n",
    )
    .unwrap();
    assert_eq!(
        error(&trees.pum(&["install", "-d", "full"])),
        "app/views.py:5: ValueError: the view cannot be made"
    );
    assert_eq!(
        trees.one("SELECT count(*)::text FROM pg_namespace WHERE nspname LIKE 'trees%'"),
        "0"
    );
    assert_eq!(
        error(&trees.pum(&["install", "-d", "nowhere"])),
        "demo data \"nowhere\" is not in the configuration (declared: lausanne, full)"
    );
    assert_eq!(
        error(&trees.pum(&["cache", "list"])),
        "pum cache: this pum installs no Python dependencies, so it keeps no cache; install \
         what the project's Python hooks need (dependencies: in .pum.yaml) in the Python it \
         runs them with (PUM_PYTHON, default python3)"
    );
}

#[test]
fn check_writes_an_html_report_and_a_url_is_no_directory() {
    let trees = Trees::new();
    let other = ScratchDb::new("cli_trees_other", "CREATE TABLE public.\"<b>\" (x int)");
    let page = trees.dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .args([
            "-p",
            &trees.url(),
            "check",
            &other.spec().url(),
            "-f",
            "html",
            "-o",
        ])
        .arg(&page)
        .stdin(Stdio::null())
        .bounded_output();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let page = std::fs::read_to_string(page).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(
        page.contains("<tr class=\"right\"><td>public.&lt;b&gt;</td><td>only right</td>"),
        "{page}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_pum"))
        .args([
            "-p",
            &trees.url(),
            "-d",
            "https://example.org/trees.zip",
            "install",
        ])
        .stdin(Stdio::null())
        .bounded_output();
    assert_eq!(
        error(&out),
        "-d https://example.org/trees.zip: this pum reads a module from a directory, not a \
         URL; download or clone the module and give its directory"
    );
}
