//! pum in one minute, with nothing to set up: start (or attach to) pum's ephemeral
//! PostgreSQL server, create a database, fill it, copy it from a template, dump it, restore
//! the dump into a new database, check the data arrived, and drop everything. The server
//! stops by itself a minute after the last process using it ends.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Set `PUM_TEST_DATABASE_URL` (a URL, a keyword string or `service=NAME`) to use an
//! existing server instead.

use std::time::Instant;

use pum::server::Server;
use pum::{ConnectionSpec, CreateOptions, DropOptions, DumpFormat, DumpOptions, RestoreOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(target) => ConnectionSpec::resolve(&target)?,
        Err(_) => {
            let ephemeral = Server::shared()?;
            println!("ephemeral server: psql \"{}\"", ephemeral.url());
            ephemeral.spec().clone()
        }
    };
    println!("server ready in {:?}: {server}", started.elapsed());

    let shop = "pum_quickstart_shop";
    let copy = "pum_quickstart_copy";
    let restored = "pum_quickstart_restored";
    let no_error_if_missing = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    for name in [shop, copy, restored] {
        pum::drop_database(&server, name, &no_error_if_missing)?;
    }

    let step = Instant::now();
    pum::create_database(&server, shop, &CreateOptions::default())?;
    server.with_dbname(shop).connect()?.batch_execute(
        "CREATE SCHEMA shop;
         CREATE TABLE shop.product (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO shop.product VALUES (1, 'teapot'), (2, 'kettle');",
    )?;
    println!("created and filled \"{shop}\" in {:?}", step.elapsed());

    let step = Instant::now();
    let from_template = CreateOptions {
        template: Some(shop.to_string()),
        ..CreateOptions::default()
    };
    pum::create_database(&server, copy, &from_template)?;
    println!(
        "copied it to \"{copy}\" from the template in {:?}",
        step.elapsed()
    );

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("shop.dump");
    let step = Instant::now();
    pum::dump(
        &server.with_dbname(shop),
        &file,
        &DumpOptions {
            format: DumpFormat::Custom,
            ..DumpOptions::default()
        },
    )?;
    pum::create_database(&server, restored, &CreateOptions::default())?;
    pum::restore(
        &server.with_dbname(restored),
        &file,
        &RestoreOptions::default(),
    )?;
    println!(
        "dumped and restored it into \"{restored}\" in {:?}",
        step.elapsed()
    );

    let mut client = server.with_dbname(restored).connect()?;
    let names: Vec<String> = client
        .query("SELECT name FROM shop.product ORDER BY id", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    println!("products in \"{restored}\": {}", names.join(", "));
    drop(client);

    for name in [shop, copy, restored] {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    println!("dropped the databases; total {:?}", started.elapsed());
    Ok(())
}
