//! The daily verbs Alembic users know, against the server: current, downgrade with down
//! files, check against the changelogs, and the database chores.

use pum::migrate::NoProgress;
use pum::testing::TestDb;
use pum::{DowngradeOptions, MigrateOptions, Upgrader, Version};

use crate::support::project::shop;
use crate::support::strings;
use crate::support::{self, ScratchDb, spec};

fn v(text: &str) -> Version {
    Version::parse(text).unwrap()
}

/// The shop project with down files for 1.9.0 and 1.10.0.
fn shop_with_down_files() -> crate::support::project::Project {
    let project = shop();
    project.write(
        "changelogs/1.9.0/down/01_price.sql",
        "DELETE FROM shop.applied WHERE file = '1.9.0/01';\n",
    );
    // Two down files: they run in reverse name order (02 drops what 01's check needs).
    project.write(
        "changelogs/1.9.0/down/02_price.sql",
        "ALTER TABLE shop.item DROP COLUMN price;\n",
    );
    project.write(
        "changelogs/1.10.0/down/01_stock.sql",
        "ALTER TABLE shop.item DROP COLUMN stock;\nDELETE FROM shop.applied WHERE file = '1.10.0/01';\n",
    );
    project
}

fn columns(db: &TestDb) -> Vec<String> {
    strings(
        db,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'shop.item'::regclass \
         AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
}

#[pum::pum_test]
fn downgrade_undoes_versions_newest_first_and_the_table_says_so(db: TestDb) {
    let project = shop_with_down_files();
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    let err = upgrader.current().unwrap_err().to_string();
    assert_eq!(
        err,
        "shop.pum_migrations does not exist: not installed; nothing is installed"
    );
    upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(upgrader.current().unwrap(), v("1.10.0"));

    // 1.0.0 has no down files: going below 1.1.0 is refused, before anything changes.
    let err = upgrader
        .downgrade(&v("1.0.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cannot downgrade: version(s) 1.1.0 have no down files \
         (changelogs/<version>/down/*.sql); nothing was changed"
    );
    let err = upgrader
        .downgrade(&v("1.5.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cannot downgrade to 1.5.0: shop.pum_migrations does not record it (recorded: 1.0.0, \
         1.1.0, 1.9.0, 1.10.0)"
    );
    assert_eq!(columns(&db), ["id", "srid", "name", "price", "stock"]);

    let report = upgrader
        .downgrade(&v("1.1.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.10.0", "1.9.0"], "newest first");
    assert_eq!(report.files, 3);
    assert_eq!(columns(&db), ["id", "srid", "name"]);
    assert_eq!(upgrader.current().unwrap(), v("1.1.0"));
    assert_eq!(
        strings(&db, "SELECT file FROM shop.applied ORDER BY 1"),
        ["1.0.0/01", "1.0.0/02", "1.1.0/01"]
    );
    // Nothing above: nothing to do.
    let report = upgrader
        .downgrade(&v("1.1.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap();
    assert!(report.applied.is_empty());
    // And up again: the undone versions apply as new.
    let report = upgrader
        .upgrade(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.9.0", "1.10.0"]);
}

#[pum::pum_test]
fn a_downgrade_passes_through_an_application_only_release(db: TestDb) {
    let project = shop_with_down_files();
    project.write("changelogs/1.11.0/APP_ONLY_RELEASE", "");
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(upgrader.current().unwrap(), v("1.11.0"));
    let report = upgrader
        .downgrade(&v("1.9.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap();
    assert_eq!(report.applied, ["1.11.0", "1.10.0"]);
    assert_eq!(upgrader.current().unwrap(), v("1.9.0"));
    assert_eq!(columns(&db), ["id", "srid", "name", "price"]);
    assert_eq!(
        strings(
            &db,
            "SELECT version FROM shop.pum_migrations WHERE version LIKE '1.1_.0'"
        ),
        Vec::<String>::new()
    );
}

#[pum::pum_test]
fn a_failing_down_file_or_beta_testing_changes_nothing(db: TestDb) {
    let project = shop_with_down_files();
    project.write(
        "changelogs/1.9.0/down/01_price.sql",
        "DELETE FROM shop.applied WHERE file = '1.9.0/01';\nDROP TABLE shop.nowhere;\n",
    );
    let config = project.config();
    let spec = db.spec().clone();
    let upgrader = Upgrader::new(&config, &spec).unwrap();
    upgrader
        .install(&MigrateOptions::default(), &mut NoProgress)
        .unwrap();
    let err = upgrader
        .downgrade(&v("1.1.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("changelogs/1.9.0/down/01_price.sql:2:") && err.contains("42P01"),
        "{err}"
    );
    assert_eq!(columns(&db), ["id", "srid", "name", "price", "stock"]);
    assert_eq!(upgrader.current().unwrap(), v("1.10.0"));

    // Beta-testing versions need force.
    db.client()
        .batch_execute(
            "UPDATE shop.pum_migrations SET beta_testing = true WHERE version = '1.10.0'",
        )
        .unwrap();
    let err = upgrader
        .downgrade(&v("1.9.0"), &DowngradeOptions::default(), &mut NoProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "version 1.10.0 was installed in beta-testing mode: downgrading needs force"
    );
    let forced = DowngradeOptions {
        force: true,
        ..DowngradeOptions::default()
    };
    upgrader
        .downgrade(&v("1.9.0"), &forced, &mut NoProgress)
        .unwrap();
    assert_eq!(upgrader.current().unwrap(), v("1.9.0"));
}

#[pum::pum_test]
fn check_against_the_changelogs_finds_what_they_did_not_make(db: TestDb) {
    let project = shop();
    let config = project.config();
    let spec = db.spec().clone();
    let options = MigrateOptions {
        max_version: Some(v("1.9.0")),
        parameters: vec![("SRID".into(), "21781".into())],
        ..MigrateOptions::default()
    };
    Upgrader::new(&config, &spec)
        .unwrap()
        .install(&options, &mut NoProgress)
        .unwrap();
    let options = pum::CheckOptions::default();
    let report = pum::workflow::check_changelogs(&config, &spec, &options).unwrap();
    assert!(report.is_empty(), "{report}");
    assert!(
        report
            .right
            .starts_with("a fresh install of shop 1.9.0 from the changelogs"),
        "{}",
        report.right
    );
    // A hand change shows; so would a forgotten parameter (the default is 2056).
    db.client()
        .batch_execute("CREATE INDEX item_name ON shop.item (name)")
        .unwrap();
    let report = pum::workflow::check_changelogs(&config, &spec, &options).unwrap();
    assert_eq!(report.difference_count(), 1, "{report}");
    assert!(
        report.to_string().contains("shop.item_name (only left)"),
        "{report}"
    );
    // The scratch databases are gone.
    let scratch: i64 = crate::support::spec()
        .connect()
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'pum\\_check\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(scratch, 0);
}

#[pum::pum_test]
fn truncate_all_empties_tables_despite_foreign_keys_but_keeps_the_migrations(db: TestDb) {
    db.client()
        .batch_execute(
            "CREATE SCHEMA a; CREATE SCHEMA b;\
             CREATE TABLE a.parent (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);\
             CREATE TABLE b.child (id serial PRIMARY KEY, parent int REFERENCES a.parent);\
             CREATE TABLE a.pum_migrations (v text); INSERT INTO a.pum_migrations VALUES ('1.0');\
             INSERT INTO a.parent DEFAULT VALUES; INSERT INTO b.child (parent) VALUES (1);",
        )
        .unwrap();
    let spec = db.spec().clone();
    // Nothing named: refused, never every schema.
    let err = pum::database::truncate_all(&spec, &[], &[], &[], false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "refusing to truncate every table: no schema or table named: name the schemas to \
         empty (--schema)"
    );
    let emptied =
        pum::database::truncate_all(&spec, &["a".into(), "b".into()], &[], &[], false).unwrap();
    assert_eq!(emptied, ["a.parent", "b.child"]);
    assert_eq!(
        strings(
            &db,
            "SELECT (SELECT count(*) FROM a.parent)::text || ' ' || (SELECT count(*) FROM b.child) \
             || ' ' || (SELECT count(*) FROM a.pum_migrations)"
        ),
        ["0 0 1"]
    );
    // Identities restart.
    db.client()
        .batch_execute("INSERT INTO a.parent DEFAULT VALUES")
        .unwrap();
    assert_eq!(strings(&db, "SELECT id::text FROM a.parent"), ["1"]);
    // One schema alone, when another references it, is refused by the server: nothing
    // is emptied.
    let err = pum::database::truncate_all(&spec, &["a".into()], &[], &[], false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0A000") && err.contains("child"), "{err}");
    assert_eq!(strings(&db, "SELECT count(*)::text FROM a.parent"), ["1"]);
    let err = pum::database::truncate_all(&spec, &["nope".into()], &[], &[], false)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "refusing to truncate the tables of schema nope: there is no such schema"
    );
    // Never in a database every server needs.
    let err = pum::database::truncate_all(&crate::support::spec(), &["a".into()], &[], &[], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("refusing to truncate every table in database \"postgres\""),
        "{err}"
    );
}

#[pum::pum_test]
fn drop_all_schemas_leaves_an_empty_public(db: TestDb) {
    db.client()
        .batch_execute(
            "CREATE SCHEMA a; CREATE TABLE a.t (x int); CREATE TABLE public.p (x int);\
             CREATE VIEW public.v AS SELECT 1 AS one; CREATE SCHEMA \"Odd \"\"one\"\"\";",
        )
        .unwrap();
    let spec = db.spec().clone();
    let dropped = pum::database::drop_all_schemas(&spec).unwrap();
    assert_eq!(dropped, ["Odd \"one\"", "a"]);
    assert_eq!(
        strings(
            &db,
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
             AND nspname <> 'information_schema'"
        ),
        ["public"]
    );
    assert_eq!(
        strings(
            &db,
            "SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ),
        ["0"]
    );
    // As a new database has it: anyone may use it, its owner is the database's owner.
    assert_eq!(
        strings(
            &db,
            "SELECT has_schema_privilege('public', 'public', 'USAGE')::text || ' ' || \
             pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
        ),
        ["true pg_database_owner"]
    );
    let err = pum::database::drop_all_schemas(&crate::support::spec())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("refusing to drop every schema in database \"postgres\""),
        "{err}"
    );
}

#[pum::pum_test]
fn read_only_users_read_now_and_later_and_roles_drop_with_what_they_own(db: TestDb) {
    let spec = db.spec().clone();
    let user = crate::support::unique_name("ro");
    let _cleanup = Cleanup(vec![user.clone(), format!("{user}_ro")], spec.clone());
    db.client()
        .batch_execute("CREATE SCHEMA s; CREATE TABLE s.t (x int); CREATE SEQUENCE s.q")
        .unwrap();
    let made = pum::roles::create_readonly(&spec, &user, "pw 1", &["s".into()], None).unwrap();
    assert_eq!(made.group, format!("{user}_ro"));
    assert!(!made.updated);
    db.client()
        .batch_execute("CREATE TABLE s.later (y int)")
        .unwrap();
    let can = |what: &str| strings(&db, &format!("SELECT {what}::text"))[0] == "true";
    assert!(can(&format!(
        "has_table_privilege('{user}', 's.t', 'SELECT')"
    )));
    assert!(can(&format!(
        "has_table_privilege('{user}', 's.later', 'SELECT')"
    )));
    assert!(can(&format!(
        "has_sequence_privilege('{user}', 's.q', 'SELECT')"
    )));
    assert!(!can(&format!(
        "has_table_privilege('{user}', 's.t', 'INSERT')"
    )));
    assert!(can(&format!(
        "has_database_privilege('{user}', current_database(), 'CONNECT')"
    )));
    assert!(
        strings(
            &db,
            &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'")
        )[0]
        .starts_with("SCRAM-SHA-256$")
    );
    // Again: the password is set anew.
    let before = strings(
        &db,
        &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"),
    );
    let again = pum::roles::create_readonly(&spec, &user, "pw 2", &["s".into()], None).unwrap();
    assert!(again.updated);
    assert_ne!(
        strings(
            &db,
            &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'")
        ),
        before
    );
    let err = pum::roles::create_readonly(&spec, &user, "x", &["nope".into()], None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("refusing to let {user} read schema nope: there is no such schema")
    );

    // Dropping a role that owns a table: reassigned, or dropped with it.
    db.client()
        .batch_execute(&format!(
            "CREATE TABLE s.owned (z int); ALTER TABLE s.owned OWNER TO \"{user}\""
        ))
        .unwrap();
    assert!(pum::roles::drop_role(&spec, &user, Some("postgres")).unwrap());
    assert_eq!(
        strings(
            &db,
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'owned'"
        ),
        ["postgres"]
    );
    assert!(
        !pum::roles::drop_role(&spec, &user, None).unwrap(),
        "gone already"
    );
    let group = format!("{user}_ro");
    assert!(pum::roles::drop_role(&spec, &group, None).unwrap());
    let err = pum::roles::drop_role(&spec, "postgres", None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "refusing to drop role postgres: it is the role this connection uses"
    );
}

/// Drops roles a test made, whatever happened.
struct Cleanup(Vec<String>, pum::ConnectionSpec);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for role in &self.0 {
            if let Ok(mut client) = self.1.connect() {
                let _ = client.batch_execute(&format!("DROP OWNED BY \"{role}\""));
            }
            if let Ok(mut client) = crate::support::spec().connect() {
                let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\""));
            }
        }
    }
}

/// The class behind `check --changelogs` and `new --autogenerate` leaving nothing: a
/// scratch database is an orphan exactly when no session holds its lock, whichever
/// database (or machine) that session is on; orphans go at the next sweep, others stay.
#[test]
fn scratch_databases_are_swept_when_no_session_holds_their_lock() {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let orphan = format!("pum_check_0_{}{stamp}", std::process::id());
    let live = format!("pum_autogenerate_0_{}{stamp}", std::process::id());
    let other = ScratchDb::new("lock_holder", "");
    // The owner of `live`, as a process on another machine would hold it: a session on
    // some database of the server holding the scratch database's lock ('pums').
    let mut owner = other.client();
    owner
        .execute(
            "SELECT pg_advisory_lock(x'70756d73'::int, hashtext($1))",
            &[&live],
        )
        .unwrap();
    for name in [&orphan, &live] {
        pum::create_database(&spec(), name, &pum::CreateOptions::default()).unwrap();
    }
    let _cleanup = [
        ScratchDb::named(orphan.clone()),
        ScratchDb::named(live.clone()),
    ];

    let swept = pum::workflow::sweep_scratch_databases(&spec()).unwrap();
    assert!(!support::exists(&orphan), "{orphan} swept");
    assert!(support::exists(&live), "{live} kept while its owner lives");
    assert!(!swept.contains(&live), "{swept:?}");

    drop(owner);
    // The server ends the session a moment after the client goes.
    let started = std::time::Instant::now();
    while support::exists(&live) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{live} never swept"
        );
        pum::workflow::sweep_scratch_databases(&spec()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
