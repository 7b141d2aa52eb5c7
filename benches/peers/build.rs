//! Writes the benchmark's changelog (50 versions × 4 files) as a pum project and as sqlx
//! migrations (the same SQL), and the tests of each kind (400 each, t_000 … t_399).

use std::fmt::Write as _;
use std::path::Path;

const VERSIONS: usize = 50;
const FILES: usize = 4;
const TESTS: usize = 400;

fn sql(v: usize, f: usize) -> String {
    let t = format!("t_{v}_{f}");
    format!(
        "CREATE TABLE public.{t} (id int PRIMARY KEY, name text NOT NULL, qty int DEFAULT 0);\n\
         CREATE INDEX {t}_name ON public.{t} (name);\n\
         CREATE VIEW public.{t}_v AS SELECT id, upper(name) AS name FROM public.{t};\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let project = out.join("project");
    let migrations = out.join("migrations");
    let _ = std::fs::remove_dir_all(&project);
    let _ = std::fs::remove_dir_all(&migrations);
    write(&project.join(".pum.yaml"), "pum: {module: peers}\n");
    for v in 1..=VERSIONS {
        for f in 1..=FILES {
            write(
                &project.join(format!("changelogs/1.{v}.0/{f:02}_t.sql")),
                &sql(v, f),
            );
            write(
                &migrations.join(format!("{:03}{f}_t_{v}_{f}.sql", v)),
                &sql(v, f),
            );
        }
    }
    let config = project.join(".pum.yaml").display().to_string();
    // sqlx::migrate! takes paths relative to the manifest directory only.
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let migrations = migrations
        .strip_prefix(&manifest)
        .expect("the target directory must be inside benches/peers (unset CARGO_TARGET_DIR)")
        .display()
        .to_string();
    let (mut pum, mut sqlx, mut bare, mut rollback, mut transaction) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    for i in 0..TESTS {
        let name = format!("t_{i:03}");
        writeln!(
            pum,
            "#[test] fn {name}() {{ common::pum_test(\"{name}\", {config:?}) }}"
        )
        .unwrap();
        writeln!(
            sqlx,
            "#[sqlx::test(migrations = {migrations:?})] async fn {name}(pool: sqlx::PgPool) {{ \
             sqlx::query(\"SELECT 1\").execute(&pool).await.unwrap(); }}"
        )
        .unwrap();
        writeln!(
            bare,
            "#[test] fn {name}() {{ common::bare_test(\"{name}\") }}"
        )
        .unwrap();
        writeln!(
            transaction,
            "#[test] fn {name}() {{ common::pum_transaction_test(\"{name}\", {config:?}) }}"
        )
        .unwrap();
        writeln!(
            rollback,
            "#[test] fn {name}() {{ common::rollback_test() }}"
        )
        .unwrap();
    }
    write(&out.join("pum_tests.rs"), &pum);
    write(&out.join("sqlx_tests.rs"), &sqlx);
    write(&out.join("bare_tests.rs"), &bare);
    write(&out.join("rollback_tests.rs"), &rollback);
    write(&out.join("transaction_tests.rs"), &transaction);
    write(
        &out.join("upgrade_paths.rs"),
        &format!("pum::upgrade_paths!(config = {config:?});\n"),
    );
    write(&out.join("config_path"), &config);
    println!("cargo:rerun-if-changed=build.rs");
}
