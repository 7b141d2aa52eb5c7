//! Creating, copying, dropping and guarding databases.

use pum::{AccessOptions, CreateOptions, CreateStrategy, DropOptions};

use crate::support::{ScratchDb, exists, spec, unique_name};

#[test]
fn create_from_template_copies_schema_and_data() {
    let source = ScratchDb::new(
        "tpl",
        "CREATE SCHEMA shop; CREATE TABLE shop.item (id int PRIMARY KEY, name text);
         INSERT INTO shop.item VALUES (1, 'teapot'), (2, 'kettle');",
    );
    for strategy in [
        None,
        Some(CreateStrategy::WalLog),
        Some(CreateStrategy::FileCopy),
    ] {
        let copy = ScratchDb::named(unique_name("copy"));
        let options = CreateOptions {
            template: Some(source.name.clone()),
            strategy,
            owner: None,
        };
        pum::create_database(&spec(), &copy.name, &options).unwrap();
        assert_eq!(
            copy.strings("SELECT name FROM shop.item ORDER BY id"),
            ["teapot", "kettle"],
            "strategy {strategy:?}"
        );
    }
}

#[test]
fn create_with_owner_sets_the_owner() {
    let role = unique_name("owner");
    let mut client = spec().connect().unwrap();
    client
        .batch_execute(&format!("CREATE ROLE {role}"))
        .unwrap();
    let db = ScratchDb::named(unique_name("owned"));
    let options = CreateOptions {
        owner: Some(role.clone()),
        ..CreateOptions::default()
    };
    pum::create_database(&spec(), &db.name, &options).unwrap();
    let owner: String = client
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&db.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, role);
    drop(db);
    client.batch_execute(&format!("DROP ROLE {role}")).unwrap();
}

#[test]
fn missing_template_is_a_clear_error_and_creates_nothing() {
    let name = unique_name("notpl");
    let options = CreateOptions {
        template: Some("pum_it_no_such_template".into()),
        ..CreateOptions::default()
    };
    let err = pum::create_database(&spec(), &name, &options).unwrap_err();
    assert_eq!(err.sqlstate(), Some("3D000"));
    assert_eq!(
        err.to_string(),
        format!(
            "create database \"{name}\": 3D000: template database \"pum_it_no_such_template\" \
             does not exist"
        )
    );
    assert!(!exists(&name));
}

#[test]
fn existing_name_is_a_clear_error() {
    let db = ScratchDb::new("dup", "");
    let err = pum::create_database(&spec(), &db.name, &CreateOptions::default()).unwrap_err();
    assert!(matches!(err, pum::Error::AlreadyExists { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("database \"{}\" already exists", db.name)
    );
}

#[test]
fn concurrent_creations_of_one_name_say_already_exists() {
    for round in 0..5 {
        let db = ScratchDb::named(unique_name(&format!("twin{round}")));
        let results: Vec<pum::Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        pum::create_database(&spec(), &db.name, &CreateOptions::default())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        for err in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(
                err.to_string(),
                format!("database \"{}\" already exists", db.name)
            );
        }
    }
}

#[test]
fn drop_ends_other_sessions() {
    let db = ScratchDb::new("busy", "CREATE TABLE t (id int)");
    let mut other = db.client();
    other
        .batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .unwrap();
    pum::drop_database(&spec(), &db.name, &DropOptions::default()).unwrap();
    assert!(!exists(&db.name));
    assert!(
        other.batch_execute("SELECT 1").is_err(),
        "the session was ended"
    );
}

#[test]
fn drop_without_force_refuses_a_database_in_use() {
    let db = ScratchDb::new("inuse", "");
    let _other = db.client();
    let options = DropOptions {
        force: false,
        if_exists: false,
    };
    let err = pum::drop_database(&spec(), &db.name, &options).unwrap_err();
    assert_eq!(err.sqlstate(), Some("55006"), "{err}");
    assert!(exists(&db.name));
}

#[test]
fn drop_of_a_missing_database() {
    let name = unique_name("gone");
    let err = pum::drop_database(&spec(), &name, &DropOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("drop database \"{name}\": 3D000: database \"{name}\" does not exist")
    );
    let if_exists = DropOptions {
        if_exists: true,
        ..DropOptions::default()
    };
    pum::drop_database(&spec(), &name, &if_exists).unwrap();
}

#[test]
fn names_with_quotes_and_spaces_work_everywhere() {
    let name = format!("my \"odd\" db {}", std::process::id());
    let db = ScratchDb::named(name.clone());
    pum::create_database(&spec(), &name, &CreateOptions::default()).unwrap();
    assert!(pum::database_exists(&spec(), &name).unwrap());
    assert!(exists(&name));
    db.client()
        .batch_execute("CREATE TABLE \"a \"\"table\"\"\" (x int)")
        .unwrap();
    let copy = ScratchDb::named(format!("{name} copy"));
    let options = CreateOptions {
        template: Some(name.clone()),
        ..CreateOptions::default()
    };
    pum::create_database(&spec(), &copy.name, &options).unwrap();
    assert_eq!(
        copy.strings("SELECT relname::text FROM pg_class WHERE relname LIKE 'a %'"),
        ["a \"table\""]
    );
    pum::drop_database(&spec(), &name, &DropOptions::default()).unwrap();
    assert!(!pum::database_exists(&spec(), &name).unwrap());
}

#[test]
fn a_64_byte_name_is_refused_before_anything_happens() {
    let name = format!("pum_it_{}", "x".repeat(57));
    assert_eq!(name.len(), 64);
    let err = pum::create_database(&spec(), &name, &CreateOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("invalid database name \"{name}\": 64 bytes long, PostgreSQL keeps at most 63")
    );
    // PostgreSQL would have created the 63-byte truncation.
    assert!(!exists(&name[..63]));
    assert!(pum::drop_database(&spec(), &name, &DropOptions::default()).is_err());
}

#[test]
fn access_grants_and_revokes_connect() {
    let db = ScratchDb::new("access", "");
    let alice = unique_name("alice");
    let bob = unique_name("bob");
    let mut admin = spec().connect().unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {alice} LOGIN; CREATE ROLE {bob} LOGIN"
        ))
        .unwrap();
    let can_connect = |role: &str| -> bool {
        let mut c = spec().connect().unwrap();
        c.query_one(
            "SELECT has_database_privilege($1, $2, 'CONNECT')",
            &[&role, &db.name],
        )
        .unwrap()
        .get(0)
    };
    assert!(
        can_connect(&alice) && can_connect(&bob),
        "PUBLIC may connect at first"
    );

    let options = AccessOptions {
        grant_connect: vec![alice.clone()],
        ..AccessOptions::default()
    };
    pum::set_access(&spec(), &db.name, &options).unwrap();
    assert!(can_connect(&alice));
    assert!(!can_connect(&bob), "PUBLIC lost CONNECT");

    let options = AccessOptions {
        revoke_connect: vec![alice.clone()],
        grant_connect: vec!["public".into()],
        keep_public: true,
    };
    pum::set_access(&spec(), &db.name, &options).unwrap();
    assert!(can_connect(&bob), "PUBLIC got CONNECT back");

    // An unknown role changes nothing: the whole request is one transaction.
    let options = AccessOptions {
        grant_connect: vec!["pum_it_no_such_role".into()],
        ..AccessOptions::default()
    };
    let err = pum::set_access(&spec(), &db.name, &options).unwrap_err();
    assert_eq!(err.sqlstate(), Some("42704"), "{err}");
    assert!(can_connect(&bob), "the PUBLIC revoke was rolled back");

    drop(db);
    admin
        .batch_execute(&format!("DROP ROLE {alice}; DROP ROLE {bob}"))
        .unwrap();
}

#[test]
fn concurrent_drops_of_one_database_with_if_exists_all_succeed() {
    for round in 0..5 {
        let name = unique_name(&format!("race{round}"));
        pum::create_database(&spec(), &name, &CreateOptions::default()).unwrap();
        let results: Vec<pum::Result<bool>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| pum::drop_database(&spec(), &name, &DropOptions::if_exists()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for result in &results {
            assert!(result.is_ok(), "{result:?}");
        }
        assert!(
            results.iter().any(|r| matches!(r, Ok(true))),
            "one of them dropped it"
        );
        assert!(!exists(&name));
    }
}

#[test]
fn maintenance_databases_and_the_connected_one_are_never_dropped() {
    for name in ["postgres", "template0", "template1"] {
        let err = pum::drop_database(&spec(), name, &DropOptions::default()).unwrap_err();
        assert!(matches!(err, pum::Error::Refused { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "refusing to drop database \"{name}\": it is one of the databases every server \
                 needs (postgres, template0, template1)"
            )
        );
        assert!(exists(name));
    }
    let db = ScratchDb::new("connected", "");
    let err = pum::drop_database(&db.spec(), &db.name, &DropOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("it is the database the connection names"),
        "{err}"
    );
    assert!(exists(&db.name));
    // Through a maintenance session too.
    let mut session = pum::Maintenance::connect(&spec(), "").unwrap();
    assert!(matches!(
        session.drop("template1", &DropOptions::if_exists()),
        Err(pum::Error::Refused { .. })
    ));
}
