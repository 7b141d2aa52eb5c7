//! A tiny to-do list on PostgreSQL: the code a downstream crate tests with `#[pum_test]`,
//! and its datamodel (changelogs/), compiled in so that the application brings its
//! database up to date at start-up.

use postgres::GenericClient;

/// The datamodel: .pum.yaml and changelogs/, compiled into the program.
pub static DATAMODEL: pum::embed::Embedded = pum::embed_changelogs!(".");

/// What the application runs at start-up: installs the datamodel on an empty database,
/// upgrades an older one, does nothing to a current one.
pub fn migrate(client: &mut postgres::Client) -> pum::Result<pum::migrate::MigrationReport> {
    DATAMODEL.migrate(client, &pum::MigrateOptions::default())
}

/// Adds a task; returns its id.
pub fn add_task(client: &mut impl GenericClient, title: &str) -> Result<i32, postgres::Error> {
    let row = client.query_one(
        "INSERT INTO todo.task (title) VALUES ($1) RETURNING id",
        &[&title],
    )?;
    Ok(row.get(0))
}

/// Marks a task done.
pub fn finish(client: &mut impl GenericClient, id: i32) -> Result<(), postgres::Error> {
    client.execute("UPDATE todo.task SET done = true WHERE id = $1", &[&id])?;
    Ok(())
}

/// The titles of the tasks not done yet, oldest first.
pub fn open_tasks(client: &mut impl GenericClient) -> Result<Vec<String>, postgres::Error> {
    let rows = client.query(
        "SELECT title FROM todo.task WHERE NOT done ORDER BY id",
        &[],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
