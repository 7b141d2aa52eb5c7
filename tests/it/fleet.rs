//! The library's fleet: a job on many databases, N at a time, outcomes as they finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pum::fleet::{self, DatabaseSelection};

use crate::support::{ScratchDb, spec, unique_name};

#[test]
fn a_job_runs_on_every_selected_database_at_most_n_at_a_time() {
    let prefix = format!("{}_", unique_name("fleet_lib"));
    let dbs: Vec<ScratchDb> = (0..6)
        .map(|n| {
            let db = ScratchDb::named(format!("{prefix}{n}"));
            pum::create_database(&spec(), &db.name, &Default::default()).unwrap();
            db
        })
        .collect();
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    let names = fleet::databases(&spec(), &DatabaseSelection::Like(pattern)).unwrap();
    assert_eq!(
        names,
        dbs.iter().map(|d| d.name.clone()).collect::<Vec<_>>()
    );

    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (r, m) = (Arc::clone(&running), Arc::clone(&most));
    let broken = dbs[4].name.clone();
    let outcomes = fleet::run(&spec(), names, 2, move |target| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        let mut client = target.connect()?;
        let name: String = client
            .query_one("SELECT current_database()::text", &[])
            .map_err(|e| pum::Error::sql("ask for the database's name", &e))?
            .get(0);
        // Hold the job until another one runs beside it (observed once, the others go
        // straight on): without that, "two at a time" would depend on timing.
        let deadline = Instant::now() + Duration::from_secs(30);
        while m.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        r.fetch_sub(1, Ordering::SeqCst);
        if name == broken {
            panic!("broken on purpose");
        }
        Ok(name)
    });
    assert_eq!(outcomes.total(), 6);
    let mut seen: Vec<(String, Result<String, String>)> = outcomes
        .map(|o| (o.database, o.result.map_err(|e| e.to_string())))
        .collect();
    seen.sort();
    assert_eq!(seen.len(), 6);
    for (n, (database, result)) in seen.iter().enumerate() {
        assert_eq!(database, &dbs[n].name);
        if n == 4 {
            assert!(
                result.as_ref().unwrap_err().contains("broken on purpose"),
                "{result:?}"
            );
        } else {
            assert_eq!(
                result.as_ref().unwrap(),
                database,
                "each job ran on its database"
            );
        }
    }
    assert_eq!(most.load(Ordering::SeqCst), 2, "two at a time");

    let missing = fleet::databases(
        &spec(),
        &DatabaseSelection::Names(vec![dbs[0].name.clone(), "pum_it_fleet_nobody".into()]),
    )
    .unwrap_err();
    assert!(
        matches!(missing, pum::Error::DatabaseNotFound { .. }),
        "{missing}"
    );
}
