//! Upgrade paths: for every version but the newest, a database at that version upgraded
//! with today's changelogs must equal a fresh install (upgrade_from_1_0_0 here). The
//! application's own start-up migration must agree with them.

use pum::testing::TestDb;

pum::upgrade_paths!();

#[pum::pum_test(max_version = "1.0.0", reference = "install")]
fn the_start_up_migration_upgrades_an_old_database(db: TestDb) {
    let report = pum_downstream_example::migrate(&mut db.client()).unwrap();
    assert_eq!(report.applied, ["1.1.0"]);
    pum::assert_schema_eq!(db, db.reference());
}

#[pum::pum_test]
fn the_start_up_migration_leaves_a_current_database_alone(db: TestDb) {
    let report = pum_downstream_example::migrate(&mut db.client()).unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
}
