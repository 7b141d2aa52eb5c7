//! The checker on real databases: one difference at a time, each found exactly once.

use std::sync::Once;

use pum::checker::{CheckOptions, Kind, Snapshot};
use pum::{CreateOptions, Report};

use crate::support::{ScratchDb, spec, unique_name};

const READER: &str = "pum_it_check_reader";

/// Roles are cluster-wide: made once, for every test process.
fn reader_role() {
    static ROLE: Once = Once::new();
    ROLE.call_once(|| {
        spec()
            .connect()
            .unwrap()
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {READER}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .unwrap();
    });
}

/// A schema with one or more of every kind of object.
const BASE: &str = r#"
CREATE SCHEMA shop;
CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN shop.positive AS integer CHECK (VALUE > 0);
CREATE TYPE shop.pair AS (a integer, b text);
CREATE SEQUENCE shop.counter START 10 INCREMENT 5;
CREATE TABLE shop.customer (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL,
  mood shop.mood DEFAULT 'ok',
  email text UNIQUE
);
CREATE TABLE shop.orders (
  id serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES shop.customer (id) ON DELETE CASCADE,
  qty shop.positive DEFAULT 1,
  price numeric(10, 2) CHECK (price >= 0),
  total numeric GENERATED ALWAYS AS (qty * price) STORED,
  during tsrange,
  EXCLUDE USING gist (during WITH &&)
);
CREATE INDEX orders_customer ON shop.orders (customer_id);
CREATE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 10;
CREATE MATERIALIZED VIEW shop.order_count AS SELECT customer_id, count(*) AS n FROM shop.orders GROUP BY 1;
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION shop.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION shop.add(a numeric, b numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION shop.big_orders_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE PROCEDURE shop.noop() LANGUAGE sql AS 'SELECT 1';
CREATE TRIGGER orders_touch BEFORE UPDATE ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE TRIGGER big_orders_insert INSTEAD OF INSERT ON shop.big_orders FOR EACH ROW EXECUTE FUNCTION shop.big_orders_insert();
CREATE RULE orders_no_delete AS ON DELETE TO shop.orders WHERE old.qty > 100 DO INSTEAD NOTHING;
ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_orders ON shop.orders FOR SELECT TO pum_it_check_reader USING (qty > 0);
GRANT USAGE ON SCHEMA shop TO pum_it_check_reader;
GRANT SELECT ON shop.orders TO pum_it_check_reader;
COMMENT ON TABLE shop.orders IS 'what customers ordered';
COMMENT ON COLUMN shop.customer.email IS 'where to write';
"#;

/// The base database, built once per test process; tests clone it.
fn base() -> &'static str {
    static BASE_DB: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BASE_DB.get_or_init(|| {
        reader_role();
        let name = unique_name("check_base");
        pum::create_database(&spec(), &name, &CreateOptions::default()).unwrap();
        let client = &mut spec().with_dbname(&name).connect().unwrap();
        client.batch_execute(BASE).unwrap();
        name
    })
}

/// A copy of the base database, with `change` applied.
fn variant(change: &str) -> ScratchDb {
    let db = ScratchDb::named(unique_name("check"));
    let options = CreateOptions {
        template: Some(base().to_string()),
        ..CreateOptions::default()
    };
    // The template must have no session; other tests clone it at the same time.
    let mut tries = 0;
    loop {
        match pum::create_database(&spec(), &db.name, &options) {
            Ok(()) => break,
            Err(e) if e.sqlstate() == Some("55006") && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    }
    if !change.is_empty() {
        db.client().batch_execute(change).unwrap();
    }
    db
}

fn compare(left: &ScratchDb, right: &ScratchDb, options: &CheckOptions) -> Report {
    pum::check(&left.spec(), &right.spec(), options).unwrap()
}

/// What a one-difference report says: (kind, side, key, attributes that changed).
fn only_difference(report: &Report) -> (Kind, &'static str, String, Vec<String>) {
    assert_eq!(report.difference_count(), 1, "{report}");
    let kind = report
        .kinds
        .iter()
        .find(|k| k.difference_count() == 1)
        .unwrap();
    if let Some((key, _)) = kind.only_left.first() {
        return (kind.kind, "left", key.clone(), Vec::new());
    }
    if let Some((key, _)) = kind.only_right.first() {
        return (kind.kind, "right", key.clone(), Vec::new());
    }
    let (key, changes) = &kind.changed[0];
    (
        kind.kind,
        "changed",
        key.clone(),
        changes.iter().map(|c| c.attribute.clone()).collect(),
    )
}

#[test]
fn identical_databases_report_nothing() {
    let (a, b) = (variant(""), variant(""));
    let report = compare(&a, &b, &CheckOptions::default());
    assert!(report.is_empty(), "{report}");
    assert!(
        report
            .to_string()
            .ends_with("same schema: 17 kinds of object compared, no difference\n")
    );
}

#[test]
fn every_single_difference_is_reported_once_with_its_kind() {
    let left = variant("");
    let cases: &[(&str, Kind, &str, &str, &[&str])] = &[
        ("CREATE SCHEMA extra", Kind::Schemas, "right", "extra", &[]),
        (
            "CREATE TABLE shop.extra ()",
            Kind::Tables,
            "right",
            "shop.extra",
            &[],
        ),
        (
            "ALTER TABLE shop.orders SET UNLOGGED",
            Kind::Tables,
            "changed",
            "shop.orders",
            &["unlogged"],
        ),
        (
            "ALTER TABLE shop.customer ALTER COLUMN mood SET DEFAULT 'happy'",
            Kind::Columns,
            "changed",
            "shop.customer.mood",
            &["default"],
        ),
        (
            "ALTER TABLE shop.customer ALTER COLUMN name TYPE text COLLATE \"POSIX\"",
            Kind::Columns,
            "changed",
            "shop.customer.name",
            &["collation"],
        ),
        (
            "ALTER TABLE shop.customer ALTER COLUMN email SET NOT NULL",
            Kind::Columns,
            "changed",
            "shop.customer.email",
            &["not_null"],
        ),
        (
            "ALTER TABLE shop.customer ALTER COLUMN email TYPE varchar(200)",
            Kind::Columns,
            "changed",
            "shop.customer.email",
            &["type"],
        ),
        (
            "ALTER TABLE shop.customer ALTER COLUMN id SET GENERATED BY DEFAULT",
            Kind::Columns,
            "changed",
            "shop.customer.id",
            &["identity"],
        ),
        (
            "ALTER TABLE shop.orders DROP COLUMN total, ADD COLUMN total numeric GENERATED ALWAYS AS (qty * price * 2) STORED",
            Kind::Columns,
            "changed",
            "shop.orders.total",
            &["generated"],
        ),
        (
            "ALTER TABLE shop.orders DROP CONSTRAINT orders_customer_id_fkey, ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES shop.customer (id) ON DELETE RESTRICT",
            Kind::Constraints,
            "changed",
            "shop.orders.orders_customer_id_fkey",
            &["definition"],
        ),
        (
            "ALTER TABLE shop.orders DROP CONSTRAINT orders_price_check",
            Kind::Constraints,
            "left",
            "shop.orders.orders_price_check",
            &[],
        ),
        (
            "CREATE OR REPLACE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 20",
            Kind::Views,
            "changed",
            "shop.big_orders",
            &["definition"],
        ),
        (
            "ALTER SEQUENCE shop.counter INCREMENT 7",
            Kind::Sequences,
            "changed",
            "shop.counter",
            &["increment"],
        ),
        (
            "ALTER SEQUENCE shop.counter CYCLE",
            Kind::Sequences,
            "changed",
            "shop.counter",
            &["cycle"],
        ),
        (
            "DROP INDEX shop.orders_customer; CREATE INDEX orders_customer ON shop.orders (customer_id DESC)",
            Kind::Indexes,
            "changed",
            "shop.orders_customer",
            &["definition"],
        ),
        (
            "DROP TRIGGER big_orders_insert ON shop.big_orders",
            Kind::Triggers,
            "left",
            "shop.big_orders.big_orders_insert",
            &[],
        ),
        (
            "ALTER TABLE shop.orders DISABLE TRIGGER orders_touch",
            Kind::Triggers,
            "changed",
            "shop.orders.orders_touch",
            &["enabled"],
        ),
        (
            "DROP FUNCTION shop.add(numeric, numeric)",
            Kind::Functions,
            "left",
            "shop.add(numeric,numeric)",
            &[],
        ),
        (
            "CREATE OR REPLACE FUNCTION shop.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT b + a'",
            Kind::Functions,
            "changed",
            "shop.add(integer,integer)",
            &["body"],
        ),
        (
            "ALTER FUNCTION shop.add(integer, integer) STABLE",
            Kind::Functions,
            "changed",
            "shop.add(integer,integer)",
            &["volatility"],
        ),
        (
            "DROP RULE orders_no_delete ON shop.orders",
            Kind::Rules,
            "left",
            "shop.orders.orders_no_delete",
            &[],
        ),
        (
            "CREATE EXTENSION citext",
            Kind::Extensions,
            "right",
            "citext",
            &[],
        ),
        (
            "ALTER TYPE shop.mood ADD VALUE 'meh' BEFORE 'ok'",
            Kind::Enums,
            "changed",
            "shop.mood",
            &["labels"],
        ),
        (
            "ALTER DOMAIN shop.positive SET DEFAULT 1",
            Kind::Domains,
            "changed",
            "shop.positive",
            &["default"],
        ),
        (
            "ALTER TYPE shop.pair ADD ATTRIBUTE c date",
            Kind::CompositeTypes,
            "changed",
            "shop.pair",
            &["attributes"],
        ),
        (
            "ALTER POLICY own_orders ON shop.orders USING (qty > 1)",
            Kind::Policies,
            "changed",
            "shop.orders.own_orders",
            &["using"],
        ),
        (
            "GRANT INSERT ON shop.orders TO pum_it_check_reader",
            Kind::Privileges,
            "changed",
            "table shop.orders",
            &["pum_it_check_reader"],
        ),
        (
            "GRANT EXECUTE ON FUNCTION shop.add(integer, integer) TO pum_it_check_reader",
            Kind::Privileges,
            "changed",
            "function shop.add(integer,integer)",
            &["pum_it_check_reader"],
        ),
        (
            "REVOKE EXECUTE ON FUNCTION shop.add(integer, integer) FROM PUBLIC",
            Kind::Privileges,
            "changed",
            "function shop.add(integer,integer)",
            &["public"],
        ),
        (
            "COMMENT ON TABLE shop.orders IS 'changed'",
            Kind::Comments,
            "changed",
            "table shop.orders",
            &["comment"],
        ),
        (
            "COMMENT ON COLUMN shop.customer.email IS NULL",
            Kind::Comments,
            "changed",
            "column shop.customer.email",
            &["comment"],
        ),
    ];
    for (change, kind, side, key, attributes) in cases {
        let right = variant(change);
        let report = compare(&left, &right, &CheckOptions::default());
        let (got_kind, got_side, got_key, got_attributes) = only_difference(&report);
        assert_eq!(
            (got_kind, got_side, got_key.as_str()),
            (*kind, *side, *key),
            "after: {change}\n{report}"
        );
        assert_eq!(got_attributes, *attributes, "after: {change}\n{report}");
    }
}

#[test]
fn statement_and_column_order_do_not_matter_unless_asked() {
    let a = ScratchDb::new(
        "order_a",
        "CREATE TABLE public.t (a int, b text); CREATE TABLE public.u (x int);
         CREATE INDEX t_a ON public.t (a);",
    );
    let b = ScratchDb::new(
        "order_b",
        "CREATE TABLE public.u (x int); CREATE TABLE public.t (b text, a int);
         CREATE INDEX t_a ON public.t (a);",
    );
    assert!(compare(&a, &b, &CheckOptions::default()).is_empty());
    let ordered = CheckOptions {
        column_order: true,
        ..CheckOptions::default()
    };
    let report = compare(&a, &b, &ordered);
    let columns = report.kind(Kind::Columns).unwrap();
    assert_eq!(columns.changed.len(), 2, "{report}");
    assert_eq!(columns.changed[0].1[0].attribute, "position");
    assert_eq!(report.difference_count(), 2);
}

#[test]
fn ignore_and_exclude_options() {
    let left = variant("");
    let right = variant(
        "ALTER TABLE shop.customer ADD COLUMN note_tmp text;
         CREATE SCHEMA scratch; CREATE TABLE scratch.x (y int);
         ALTER SEQUENCE shop.counter OWNER TO pum_it_check_reader;",
    );
    let report = compare(&left, &right, &CheckOptions::default());
    assert_eq!(report.difference_count(), 4, "{report}");
    assert_eq!(
        report.kind(Kind::Owners).map(|k| k.difference_count()),
        None,
        "owners are off by default"
    );

    let options = CheckOptions {
        exclude_schemas: vec!["scratch".into()],
        exclude_column_patterns: vec!["%\\_tmp".into()],
        ..CheckOptions::default()
    };
    assert!(compare(&left, &right, &options).is_empty());

    let options = CheckOptions {
        ignore: [Kind::Columns, Kind::Schemas, Kind::Tables].into(),
        exclude_schemas: vec!["scratch".into()],
        owners: true,
        ..CheckOptions::default()
    };
    let report = compare(&left, &right, &options);
    let (kind, side, key, attributes) = only_difference(&report);
    assert_eq!(
        (kind, side, key.as_str()),
        (Kind::Owners, "changed", "sequence shop.counter")
    );
    assert_eq!(attributes, ["owner"]);
    assert!(report.kind(Kind::Columns).is_none());
}

#[test]
fn extension_objects_are_left_out_unless_asked() {
    let left = variant("");
    let right = variant("CREATE EXTENSION citext SCHEMA shop");
    let report = compare(&left, &right, &CheckOptions::default());
    let (kind, _, key, _) = only_difference(&report);
    assert_eq!((kind, key.as_str()), (Kind::Extensions, "citext"));
    let everything = CheckOptions {
        include_extension_objects: true,
        ..CheckOptions::default()
    };
    let report = compare(&left, &right, &everything);
    assert!(
        report.kind(Kind::Functions).unwrap().only_right.len() > 10,
        "{report}"
    );
    assert_eq!(report.kind(Kind::Functions).unwrap().only_left.len(), 0);
}

#[test]
fn the_number_of_queries_does_not_grow_with_the_schema() {
    let small = ScratchDb::new("q_small", "CREATE TABLE public.t (a int)");
    let big = variant(
        "DO $$ BEGIN FOR i IN 1..50 LOOP
           EXECUTE format('CREATE TABLE public.t%s (a int PRIMARY KEY, b text)', i);
           EXECUTE format('CREATE VIEW public.v%s AS SELECT a FROM public.t%s', i, i);
         END LOOP; END $$",
    );
    let options = CheckOptions::default();
    let a = Snapshot::take(&mut small.client(), &options).unwrap();
    let b = Snapshot::take(&mut big.client(), &options).unwrap();
    assert_eq!(a.queries, b.queries);
    assert_eq!(a.queries, 1 + options.kinds().len());
    assert!(b.objects[&Kind::Tables].len() > 50);
}

#[test]
fn json_report_has_python_pum_shape() {
    let left = variant("");
    let right = variant("CREATE TABLE shop.extra (); ALTER SEQUENCE shop.counter INCREMENT 7");
    let report = compare(&left, &right, &CheckOptions::default());
    let json = report.to_json();
    assert_eq!(json["passed"], false);
    assert_eq!(json["total_checks"], 17);
    assert_eq!(json["failed_checks"], 2);
    assert_eq!(json["passed_checks"], 15);
    assert_eq!(json["total_differences"], 2);
    let tables = json["check_results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "tables")
        .unwrap();
    assert_eq!(tables["name"], "Tables");
    assert_eq!(tables["passed"], false);
    assert_eq!(tables["difference_count"], 1);
    assert_eq!(tables["differences"][0]["type"], "added");
    assert_eq!(tables["differences"][0]["content"], "shop.extra");
    let sequences = json["check_results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "sequences")
        .unwrap();
    assert_eq!(sequences["differences"][0]["type"], "changed");
    assert_eq!(
        sequences["differences"][0]["changes"][0]["name"],
        "increment"
    );
    assert_eq!(sequences["differences"][0]["changes"][0]["left"], "5");
    assert_eq!(sequences["differences"][0]["changes"][0]["right"], "7");
    assert!(
        json["pg_connection1"]
            .as_str()
            .unwrap()
            .contains(&left.name)
    );
}

#[test]
fn control_characters_in_names_are_shown_escaped() {
    let left = ScratchDb::new(
        "ctlleft",
        "CREATE TABLE \"evil\u{1b}[2J\nforged line\" (id int);\n\
         CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'a\u{1b}b'::text $$;",
    );
    let right = ScratchDb::new(
        "ctlright",
        "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'x'::text $$;",
    );
    let report = compare(&left, &right, &CheckOptions::default());
    let text = report.to_string();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        text.contains("- public.evil\\u{1b}[2J\\nforged line (only left)"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("forged line")),
        "{text}"
    );
}
