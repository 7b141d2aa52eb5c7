//! pum::embed_changelogs!: a project compiled into the program migrates the application's
//! own session (postgres and tokio-postgres) exactly as the command line would.

use pum::embed::Embedded;
use pum::migrate::NoProgress;
use pum::testing::TestDb;
use pum::{Config, MigrateOptions, Upgrader, Version};

static LIBRARY: Embedded = pum::embed_changelogs!("tests/data/library");

fn on_disk() -> Config {
    Config::from_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/library"))
        .unwrap()
}

/// What the migrations table records, but the times.
fn recorded(client: &mut postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT concat_ws(' | ', module, version, changelog_files::text, parameters::text, \
             beta_testing::text) FROM library_sys.pum_migrations \
             ORDER BY string_to_array(version, '.')::int[]",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn strings(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Whether the session is outside any transaction (a savepoint needs one).
fn idle(client: &mut postgres::Client) -> bool {
    match client.batch_execute("SAVEPOINT pum_probe") {
        Err(e) => e.code().map(|c| c.code()) == Some("25P01"),
        Ok(()) => false,
    }
}

#[test]
fn the_macro_compiles_in_the_changelogs_and_the_files_the_configuration_names() {
    let mut files: Vec<&str> = LIBRARY.files().collect();
    files.sort();
    assert_eq!(
        files,
        [
            ".pum.yaml",
            "app/views.sql",
            "changelogs/1.0.0/01_books.sql",
            "changelogs/1.1.0/01_loans.sql",
            "changelogs/1.1.0/down/01_loans.sql",
            "changelogs/1.2.0/APP_ONLY_RELEASE",
            "demo/sample.sql",
        ]
    );
    let config = LIBRARY.config().unwrap();
    assert_eq!(config.module, "library");
    let versions: Vec<String> = config
        .changelogs()
        .unwrap()
        .iter()
        .map(|c| c.version.to_string())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0"]);
    // Same names and checksums as read from the disk.
    let embedded = config.changelogs().unwrap();
    let disk = on_disk().changelogs().unwrap();
    for (a, b) in embedded.iter().zip(&disk) {
        let names = |c: &pum::changelog::Changelog| -> Vec<(String, String)> {
            c.files
                .iter()
                .chain(&c.down)
                .map(|f| (f.name.clone(), f.sql.checksum.clone()))
                .collect()
        };
        assert_eq!(names(a), names(b));
    }
}

#[pum::pum_test]
fn migrate_installs_then_upgrades_as_the_command_line_does(db: TestDb) {
    let mut client = db.client();
    let info = LIBRARY.info(&mut client).unwrap();
    assert!(!info.installed);
    assert_eq!(info.pending(), ["1.0.0", "1.1.0", "1.2.0"]);

    let options = MigrateOptions {
        parameters: vec![("loan_days".into(), "14".into())],
        max_version: Some(Version::parse("1.0.0").unwrap()),
        ..MigrateOptions::default()
    };
    let report = LIBRARY.migrate(&mut client, &options).unwrap();
    assert_eq!(report.applied, ["1.0.0"]);
    assert!(
        idle(&mut client),
        "the run committed and left no transaction open"
    );

    let options = MigrateOptions {
        parameters: vec![("loan_days".into(), "14".into())],
        ..MigrateOptions::default()
    };
    let report = LIBRARY.migrate(&mut client, &options).unwrap();
    assert_eq!(report.from.as_deref(), Some("1.0.0"));
    assert_eq!(report.applied, ["1.1.0", "1.2.0"]);
    let report = LIBRARY.migrate(&mut client, &options).unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(
        strings(
            &mut client,
            "SELECT column_default FROM information_schema.columns \
             WHERE table_schema = 'library' AND table_name = 'loan' AND column_name = 'days'"
        ),
        ["14"]
    );
    // The application hook's view, from the compiled-in file.
    assert_eq!(
        strings(
            &mut client,
            "SELECT viewname::text FROM pg_views WHERE schemaname = 'library_app'"
        ),
        ["titles"]
    );

    // The command line's upgrader, reading the same project from the disk, finds nothing
    // to do and no changed file; its table rows are the same as an install of its own.
    let config = on_disk();
    let upgrader = Upgrader::new(&config, db.spec()).unwrap();
    let info = upgrader.info().unwrap();
    assert_eq!(info.current_version.as_deref(), Some("1.2.0"));
    assert!(
        info.changed_files().is_empty(),
        "{:?}",
        info.changed_files()
    );
    assert!(
        upgrader
            .upgrade(&options, &mut NoProgress)
            .unwrap()
            .applied
            .is_empty()
    );

    let other = pum::testing::TestSpec::new("embed::disk_twin");
    pum::testing::run(other, |twin: TestDb| {
        Upgrader::new(&config, twin.spec())
            .unwrap()
            .install(&options, &mut NoProgress)
            .unwrap();
        let mut mine = db.client();
        let mut theirs = twin.client();
        // The embedded runs recorded 1.0.0, then 1.1.0 and 1.2.0; the twin all three at
        // once: the same rows, file for file.
        assert_eq!(recorded(&mut mine), recorded(&mut theirs));
        pum::assert_schema_eq!(db, twin);
    });
}

#[pum::pum_test]
fn refusals_are_the_command_line_s_and_leave_the_session_usable(db: TestDb) {
    let mut client = db.client();
    LIBRARY
        .install(
            &mut client,
            &MigrateOptions {
                demo_data: Some("Sample".into()),
                ..MigrateOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        strings(
            &mut client,
            "SELECT title FROM library_app.titles ORDER BY 1"
        ),
        ["Dune", "Solaris"]
    );
    let before = recorded(&mut client);

    let err = LIBRARY
        .install(&mut client, &MigrateOptions::default())
        .unwrap_err();
    assert!(matches!(err, pum::Error::AlreadyInstalled { .. }), "{err}");
    let err = LIBRARY
        .upgrade(
            &mut client,
            &MigrateOptions {
                parameters: vec![("loan_days".into(), "soon".into())],
                ..MigrateOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("loan_days") && err.contains("soon"), "{err}");

    assert_eq!(recorded(&mut client), before, "nothing changed");
    assert!(idle(&mut client));
    assert_eq!(
        strings(&mut client, "SELECT 'still usable'"),
        ["still usable"]
    );
}

#[pum::pum_test]
fn a_failing_statement_rolls_back_the_run_on_the_application_s_session(db: TestDb) {
    let mut client = db.client();
    // Something in the way of version 1.1.0's table.
    client
        .batch_execute("CREATE SCHEMA library; CREATE TABLE library.loan (x int)")
        .unwrap();
    let err = LIBRARY
        .install(&mut client, &MigrateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "changelogs/1.0.0/01_books.sql:1:1: 42P06: schema \"library\" already exists"
        ),
        "{err}"
    );
    assert!(idle(&mut client));
    assert_eq!(
        strings(
            &mut client,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'library_sys'"
        ),
        ["0"],
        "no migrations table: the run rolled back"
    );
}

#[pum::pum_test]
fn instances_starting_at_once_migrate_once(db: TestDb) {
    let spec = db.spec().clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let spec = spec.clone();
            std::thread::spawn(move || {
                let mut client = spec.connect().unwrap();
                LIBRARY
                    .migrate(&mut client, &MigrateOptions::default())
                    .map(|report| report.applied.len())
            })
        })
        .collect();
    let mut applied: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    applied.sort();
    assert_eq!(applied, [0, 0, 0, 3]);
    assert_eq!(recorded(&mut db.client()).len(), 3);
}

#[pum::pum_test]
async fn async_applications_migrate_on_tokio_postgres(db: TestDb) {
    let client = db.async_client().await;
    let info = LIBRARY.info_async(&client).await.unwrap();
    assert!(!info.installed);
    let report = LIBRARY
        .migrate_async(&client, &MigrateOptions::default())
        .await
        .unwrap();
    assert_eq!(report.applied, ["1.0.0", "1.1.0", "1.2.0"]);
    let again = LIBRARY
        .upgrade_async(&client, &MigrateOptions::default())
        .await
        .unwrap();
    assert!(again.applied.is_empty());
    let err = LIBRARY
        .install_async(&client, &MigrateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, pum::Error::AlreadyInstalled { .. }), "{err}");
    // The client is the test's again, outside any transaction.
    let rows = client
        .query("SELECT count(*) FROM library_sys.pum_migrations", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 3);
    let info = LIBRARY.info_async(&client).await.unwrap();
    assert_eq!(info.current_version.as_deref(), Some("1.2.0"));
}
