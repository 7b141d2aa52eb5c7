//! Each test gets its own database, migrated with this crate's changelogs (found through
//! the .pum.yaml next to Cargo.toml), cloned from a template built once.

use pum::testing::TestDb;
use pum_downstream_example::{add_task, finish, open_tasks};

#[pum::pum_test]
fn a_new_task_is_open(db: TestDb) {
    let mut client = db.client();
    add_task(&mut client, "water the plants").unwrap();
    assert_eq!(open_tasks(&mut client).unwrap(), ["water the plants"]);
}

#[pum::pum_test]
fn finished_tasks_are_not_open(db: TestDb) -> Result<(), postgres::Error> {
    let mut client = db.client();
    let id = add_task(&mut client, "write the report")?;
    add_task(&mut client, "call mum")?;
    finish(&mut client, id)?;
    assert_eq!(open_tasks(&mut client)?, ["call mum"]);
    Ok(())
}

#[pum::pum_test(max_version = "1.0.0", reference = "install:1.0.0")]
fn the_first_version_is_a_fresh_install(db: TestDb) {
    pum::assert_schema_eq!(db, db.reference());
}

#[pum::pum_test]
fn tests_do_not_see_each_others_rows(db: TestDb) {
    // The other tests add tasks too, each in a database of its own.
    assert!(open_tasks(&mut db.client()).unwrap().is_empty());
}
