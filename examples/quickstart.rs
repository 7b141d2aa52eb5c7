//! pum in one minute, with nothing to set up. On pum's ephemeral PostgreSQL server (or the
//! one `PUM_TEST_DATABASE_URL` names):
//!
//! 1. install version 1.0.0 of a small datamodel (`examples/quickstart/`) and fill it,
//! 2. copy that database and upgrade the copy to the latest version,
//! 3. install the latest version from scratch,
//! 4. check that the upgraded copy and the fresh install have the same schema,
//! 5. drop everything, printing what each step took.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::path::Path;
use std::time::Instant;

use pum::migrate::NoProgress;
use pum::{
    CheckOptions, Config, ConnectionSpec, CreateOptions, DropOptions, MigrateOptions, Upgrader,
    Version,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = match std::env::var("PUM_TEST_DATABASE_URL") {
        Ok(target) => ConnectionSpec::resolve(&target)?,
        Err(_) => {
            let ephemeral = pum::server::Server::shared()?;
            println!("ephemeral server: psql \"{}\"", ephemeral.url());
            ephemeral.spec().clone()
        }
    };
    println!("server ready in {:?}", started.elapsed());

    let config =
        Config::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"))?;
    let (old, upgraded, fresh) = (
        "pum_quickstart_old",
        "pum_quickstart_upgraded",
        "pum_quickstart_fresh",
    );
    let gone = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    for name in [old, upgraded, fresh] {
        pum::drop_database(&server, name, &gone)?;
    }

    let step = Instant::now();
    pum::create_database(&server, old, &CreateOptions::default())?;
    let v1 = MigrateOptions {
        max_version: Some(Version::parse("1.0.0")?),
        ..MigrateOptions::default()
    };
    Upgrader::new(&config, &server.with_dbname(old))?.install(&v1, &mut NoProgress)?;
    server.with_dbname(old).connect()?.batch_execute(
        "INSERT INTO shop.customer (name) VALUES ('Ada'), ('Grace');
         INSERT INTO shop.product (name, price) VALUES ('teapot', 35.00), ('kettle', 49.90);
         INSERT INTO shop.orders (customer_id, product_id, qty) VALUES (1, 1, 2), (2, 2, 1);",
    )?;
    println!(
        "installed 1.0.0 and filled \"{old}\" in {:?}",
        step.elapsed()
    );

    let step = Instant::now();
    let copy = CreateOptions {
        template: Some(old.to_string()),
        ..CreateOptions::default()
    };
    pum::create_database(&server, upgraded, &copy)?;
    let report = Upgrader::new(&config, &server.with_dbname(upgraded))?
        .upgrade(&MigrateOptions::default(), &mut NoProgress)?;
    println!(
        "copied it to \"{upgraded}\" and upgraded {} -> {} in {:?}",
        report.from.as_deref().unwrap_or("-"),
        report.applied.last().map_or("-", String::as_str),
        step.elapsed()
    );

    let step = Instant::now();
    pum::create_database(&server, fresh, &CreateOptions::default())?;
    Upgrader::new(&config, &server.with_dbname(fresh))?
        .install(&MigrateOptions::default(), &mut NoProgress)?;
    println!(
        "installed the latest version into \"{fresh}\" in {:?}",
        step.elapsed()
    );

    let step = Instant::now();
    let check = pum::check(
        &server.with_dbname(upgraded),
        &server.with_dbname(fresh),
        &CheckOptions::default(),
    )?;
    println!(
        "checked the upgraded copy against the fresh install in {:?}:",
        step.elapsed()
    );
    print!("{check}");

    let totals: Vec<String> = server
        .with_dbname(upgraded)
        .connect()?
        .query("SELECT customer || ': ' || total || ' ' || status FROM shop.order_totals JOIN shop.orders USING (id) ORDER BY id", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect();
    println!("orders after the upgrade: {}", totals.join("; "));

    for name in [old, upgraded, fresh] {
        pum::drop_database(&server, name, &DropOptions::default())?;
    }
    println!("dropped the databases; total {:?}", started.elapsed());
    if !check.is_empty() {
        return Err("the upgraded database differs from a fresh install".into());
    }
    Ok(())
}
