//! The checker on real databases: one difference at a time, each found exactly once.

use crate::support::Bounded;
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};

use pum::checker::{CheckOptions, Kind, Snapshot};
use pum::{CheckReport, CreateOptions};

use crate::support::{ScratchDb, spec, unique_name};

const READER: &str = "pum_it_check_reader";
const WRITER: &str = "pum_it_check_writer";

/// Roles are cluster-wide: made once, for every test process.
fn reader_role() {
    static ROLE: Once = Once::new();
    ROLE.call_once(|| {
        spec()
            .connect()
            .unwrap()
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {READER}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
                 DO $$ BEGIN CREATE ROLE {WRITER}; \
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
CREATE TABLE shop.note (body text, tag text);
CREATE TABLE shop.base_note (body text);
CREATE TABLE shop.child_note () INHERITS (shop.base_note);
CREATE TYPE shop.shape AS (x integer);
CREATE TABLE shop.typed OF shop.shape;
CREATE TABLE shop.events (at date, n int) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_n ON ONLY shop.events (n);
CREATE INDEX events_2024_n ON shop.events_2024 (n);
CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
CREATE FUNCTION shop.numbers() RETURNS SETOF integer LANGUAGE sql ROWS 10 AS 'SELECT 1';
CREATE FUNCTION shop.sum_sfunc(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE AGGREGATE shop.total(integer) (SFUNC = shop.sum_sfunc, STYPE = integer, INITCOND = '0');
CREATE TYPE shop.span AS RANGE (subtype = float8);
CREATE COLLATION shop.c2 FROM "C";
CREATE TEXT SEARCH CONFIGURATION shop.simple_cfg (COPY = pg_catalog.simple);
CREATE TEXT SEARCH DICTIONARY shop.dict (TEMPLATE = pg_catalog.simple, STOPWORDS = english);
CREATE FUNCTION shop.int_eq(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
CREATE OPERATOR shop.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = shop.int_eq);
CREATE OPERATOR FAMILY shop.hfam USING hash;
CREATE STATISTICS shop.orders_stats ON customer_id, qty FROM shop.orders;
CREATE FOREIGN DATA WRAPPER pum_it_fdw;
CREATE SERVER pum_it_server FOREIGN DATA WRAPPER pum_it_fdw OPTIONS (host 'a');
CREATE USER MAPPING FOR pum_it_check_reader SERVER pum_it_server OPTIONS (user 'x');
CREATE FOREIGN TABLE shop.remote (id integer OPTIONS (column_name 'rid')) SERVER pum_it_server OPTIONS (table_name 'r');
CREATE PUBLICATION pum_it_pub FOR TABLE shop.customer;
CREATE FUNCTION shop.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER pum_it_ddl ON ddl_command_start EXECUTE FUNCTION shop.on_ddl();
CREATE EXTENSION fuzzystrmatch;
"#;

/// The base database: built when a test first needs it, shared by the tests running at
/// the same time, and dropped by its guard when the last of them is done (also when one
/// fails), so that no test process leaves it behind.
fn base() -> Arc<ScratchDb> {
    static BASE_DB: Mutex<Weak<ScratchDb>> = Mutex::new(Weak::new());
    let mut shared = BASE_DB.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(db) = shared.upgrade() {
        return db;
    }
    reader_role();
    let db = Arc::new(ScratchDb::new("check_base", BASE));
    *shared = Arc::downgrade(&db);
    db
}

/// A copy of the base database (dropped with the value), which keeps the base alive
/// while the test that holds it runs.
struct Variant {
    db: ScratchDb,
    _base: Arc<ScratchDb>,
}

impl std::ops::Deref for Variant {
    type Target = ScratchDb;

    fn deref(&self) -> &ScratchDb {
        &self.db
    }
}

/// A copy of the base database, with `change` applied.
fn variant(change: &str) -> Variant {
    let base = base();
    let db = ScratchDb::named(unique_name("check"));
    let options = CreateOptions {
        template: Some(base.name.clone()),
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
    Variant { db, _base: base }
}

fn compare(left: &ScratchDb, right: &ScratchDb, options: &CheckOptions) -> CheckReport {
    pum::check(&left.spec(), &right.spec(), options).unwrap()
}

/// What a one-difference report says: (kind, side, key, attributes that changed).
fn only_difference(report: &CheckReport) -> (Kind, &'static str, String, Vec<String>) {
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

/// Asserts that the one difference of `report` is `key` of `kind` changed in `attributes`.
#[track_caller]
fn assert_only_change(report: &CheckReport, kind: Kind, key: &str, attributes: &[&str]) {
    let (got_kind, side, got_key, got) = only_difference(report);
    assert_eq!(
        (got_kind, side, got_key.as_str()),
        (kind, "changed", key),
        "{report}"
    );
    assert_eq!(got, attributes, "{report}");
}

#[test]
fn identical_databases_report_nothing() {
    let (a, b) = (variant(""), variant(""));
    let report = compare(&a, &b, &CheckOptions::default());
    assert!(report.is_empty(), "{report}");
    assert!(
        report
            .to_string()
            .ends_with("same schema: 29 kinds of object compared, no difference\n")
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
            "ALTER TABLE shop.note SET UNLOGGED",
            Kind::Tables,
            "changed",
            "shop.note",
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

/// Every difference of a report: (kind, side, key, attributes that changed), in order.
fn differences(report: &CheckReport) -> Vec<(Kind, &'static str, String, Vec<String>)> {
    let mut all = Vec::new();
    for kind in &report.kinds {
        for (key, _) in &kind.only_left {
            all.push((kind.kind, "left", key.clone(), Vec::new()));
        }
        for (key, _) in &kind.only_right {
            all.push((kind.kind, "right", key.clone(), Vec::new()));
        }
        for (key, changes) in &kind.changed {
            let names = changes.iter().map(|c| c.attribute.clone()).collect();
            all.push((kind.kind, "changed", key.clone(), names));
        }
    }
    all
}

type Expected<'a> = (Kind, &'a str, &'a str, &'a [&'a str]);

/// The kinds and attributes pg_dump shows beyond the first ones: each change to the base
/// is found, under its kind, and nothing else is.
#[test]
fn every_kind_and_attribute_pg_dump_shows_is_reported() {
    let left = variant("");
    let me = spec().user().to_string();
    let default_privileges = format!("on tables in schema shop for {me}");
    let cases: Vec<(&str, Vec<Expected>)> = vec![
        (
            "ALTER TABLE shop.note ALTER COLUMN body SET STORAGE EXTERNAL",
            vec![(Kind::Columns, "changed", "shop.note.body", &["storage"])],
        ),
        (
            "ALTER TABLE shop.note ALTER COLUMN body SET COMPRESSION pglz",
            vec![(Kind::Columns, "changed", "shop.note.body", &["compression"])],
        ),
        (
            "ALTER TABLE shop.note ALTER COLUMN body SET STATISTICS 500",
            vec![(Kind::Columns, "changed", "shop.note.body", &["statistics"])],
        ),
        (
            "ALTER TABLE shop.note ALTER COLUMN body SET (n_distinct = 10)",
            vec![(Kind::Columns, "changed", "shop.note.body", &["options"])],
        ),
        (
            "ALTER FOREIGN TABLE shop.remote ALTER COLUMN id OPTIONS (SET column_name 'other')",
            vec![(Kind::Columns, "changed", "shop.remote.id", &["fdw_options"])],
        ),
        (
            "ALTER TABLE shop.child_note NO INHERIT shop.base_note;
             ALTER TABLE shop.child_note INHERIT shop.base_note",
            vec![(Kind::Columns, "changed", "shop.child_note.body", &["local"])],
        ),
        (
            "ALTER TABLE shop.note SET ACCESS METHOD heap2",
            vec![(Kind::Tables, "changed", "shop.note", &["access_method"])],
        ),
        (
            "ALTER TABLE shop.note REPLICA IDENTITY FULL",
            vec![(Kind::Tables, "changed", "shop.note", &["replica_identity"])],
        ),
        (
            "ALTER TABLE shop.customer REPLICA IDENTITY USING INDEX customer_pkey",
            vec![(Kind::Tables, "changed", "shop.customer", &["replica_identity"])],
        ),
        (
            "ALTER TABLE shop.typed NOT OF",
            vec![(Kind::Tables, "changed", "shop.typed", &["of"])],
        ),
        (
            "ALTER TABLE shop.orders CLUSTER ON orders_customer",
            vec![(Kind::Tables, "changed", "shop.orders", &["cluster_on"])],
        ),
        (
            "ALTER TABLE shop.note SET (toast.autovacuum_enabled = false)",
            vec![(Kind::Tables, "changed", "shop.note", &["toast_options"])],
        ),
        (
            "ALTER FOREIGN TABLE shop.remote OPTIONS (SET table_name 'other')",
            vec![(Kind::Tables, "changed", "shop.remote", &["foreign_options"])],
        ),
        (
            "ALTER SEQUENCE shop.counter SET UNLOGGED",
            vec![(Kind::Sequences, "changed", "shop.counter", &["unlogged"])],
        ),
        (
            "ALTER FUNCTION shop.add(integer, integer) COST 7",
            vec![(Kind::Functions, "changed", "shop.add(integer,integer)", &["cost"])],
        ),
        (
            "ALTER FUNCTION shop.numbers() ROWS 20",
            vec![(Kind::Functions, "changed", "shop.numbers()", &["rows"])],
        ),
        (
            "CREATE OR REPLACE AGGREGATE shop.total(integer) (SFUNC = shop.sum_sfunc, STYPE = integer, INITCOND = '1')",
            vec![(Kind::Functions, "changed", "shop.total(integer)", &["aggregate"])],
        ),
        (
            "CREATE OR REPLACE AGGREGATE shop.total(integer) (SFUNC = shop.sum_sfunc, STYPE = integer, INITCOND = '0', FINALFUNC = abs)",
            vec![(Kind::Functions, "changed", "shop.total(integer)", &["aggregate"])],
        ),
        (
            "ALTER INDEX shop.events_n ATTACH PARTITION shop.events_2024_n",
            vec![
                (Kind::Indexes, "changed", "shop.events_2024_n", &["parent"]),
                (Kind::Indexes, "changed", "shop.events_n", &["valid"]),
            ],
        ),
        (
            "ALTER TABLE shop.orders ALTER CONSTRAINT orders_customer_id_fkey DEFERRABLE",
            vec![(
                Kind::Constraints,
                "changed",
                "shop.orders.orders_customer_id_fkey",
                &["deferrable", "definition"],
            )],
        ),
        (
            "ALTER TYPE shop.pair ALTER ATTRIBUTE b TYPE text COLLATE \"C\"",
            vec![(Kind::CompositeTypes, "changed", "shop.pair", &["attributes"])],
        ),
        (
            "DROP TYPE shop.span; CREATE TYPE shop.span AS RANGE (subtype = float8, subtype_diff = float8mi)",
            vec![(Kind::RangeTypes, "changed", "shop.span", &["subtype_diff"])],
        ),
        (
            "DROP TYPE shop.span; CREATE TYPE shop.span AS RANGE (subtype = float8, multirange_type_name = shop.spans)",
            vec![(Kind::RangeTypes, "changed", "shop.span", &["multirange"])],
        ),
        (
            "DROP COLLATION shop.c2; CREATE COLLATION shop.c2 (locale = 'POSIX')",
            vec![(
                Kind::Collations,
                "changed",
                "shop.c2",
                &["collate", "ctype"],
            )],
        ),
        (
            "CREATE CONVERSION shop.latin FOR 'LATIN1' TO 'UTF8' FROM pg_catalog.iso8859_1_to_utf8",
            vec![(Kind::Conversions, "right", "shop.latin", &[])],
        ),
        (
            "ALTER TEXT SEARCH CONFIGURATION shop.simple_cfg DROP MAPPING FOR email",
            vec![(
                Kind::TextSearch,
                "changed",
                "configuration shop.simple_cfg",
                &["mappings"],
            )],
        ),
        (
            "ALTER TEXT SEARCH DICTIONARY shop.dict (StopWords = russian)",
            vec![(Kind::TextSearch, "changed", "dictionary shop.dict", &["options"])],
        ),
        (
            "ALTER OPERATOR shop.=== (integer, integer) SET (RESTRICT = eqsel)",
            vec![(
                Kind::Operators,
                "changed",
                "operator shop.===(integer,integer)",
                &["restrict"],
            )],
        ),
        (
            "CREATE OPERATOR CLASS shop.int_hash FOR TYPE integer USING hash FAMILY shop.hfam AS
               OPERATOR 1 shop.===, FUNCTION 1 hashint4(integer)",
            vec![
                (Kind::Operators, "right", "operator class shop.int_hash using hash", &[]),
                (
                    Kind::Operators,
                    "changed",
                    "operator family shop.hfam using hash",
                    &["functions", "operators"],
                ),
            ],
        ),
        (
            "CREATE CAST (shop.pair AS text) WITH INOUT",
            vec![(Kind::Casts, "right", "shop.pair AS text", &[])],
        ),
        (
            "CREATE ACCESS METHOD heap3 TYPE TABLE HANDLER heap_tableam_handler",
            vec![(Kind::AccessMethods, "right", "heap3", &[])],
        ),
        (
            "DROP STATISTICS shop.orders_stats;
             CREATE STATISTICS shop.orders_stats (dependencies) ON customer_id, qty FROM shop.orders",
            vec![(Kind::Statistics, "changed", "shop.orders_stats", &["definition"])],
        ),
        (
            "ALTER STATISTICS shop.orders_stats SET STATISTICS 50",
            vec![(Kind::Statistics, "changed", "shop.orders_stats", &["statistics"])],
        ),
        (
            "ALTER SERVER pum_it_server OPTIONS (SET host 'b')",
            vec![(Kind::ForeignData, "changed", "server pum_it_server", &["options"])],
        ),
        (
            "ALTER USER MAPPING FOR pum_it_check_reader SERVER pum_it_server OPTIONS (SET user 'y')",
            vec![(
                Kind::ForeignData,
                "changed",
                "user mapping for pum_it_check_reader server pum_it_server",
                &["options"],
            )],
        ),
        (
            "CREATE FOREIGN DATA WRAPPER pum_it_fdw2",
            vec![(Kind::ForeignData, "right", "foreign data wrapper pum_it_fdw2", &[])],
        ),
        (
            "ALTER PUBLICATION pum_it_pub ADD TABLE shop.note",
            vec![(Kind::Publications, "changed", "pum_it_pub", &["tables"])],
        ),
        (
            "ALTER PUBLICATION pum_it_pub SET (publish = 'insert')",
            vec![(Kind::Publications, "changed", "pum_it_pub", &["publish"])],
        ),
        (
            "ALTER EVENT TRIGGER pum_it_ddl DISABLE",
            vec![(Kind::EventTriggers, "changed", "pum_it_ddl", &["enabled"])],
        ),
        (
            "ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO pum_it_check_reader",
            vec![(Kind::DefaultPrivileges, "right", &default_privileges, &[])],
        ),
        (
            "GRANT SELECT (email) ON shop.customer TO pum_it_check_reader",
            vec![(
                Kind::Privileges,
                "changed",
                "column shop.customer.email",
                &["pum_it_check_reader"],
            )],
        ),
        (
            "GRANT USAGE ON FOREIGN SERVER pum_it_server TO pum_it_check_reader",
            vec![(
                Kind::Privileges,
                "changed",
                "server pum_it_server",
                &["pum_it_check_reader"],
            )],
        ),
        (
            "COMMENT ON COLUMN shop.pair.a IS 'first'",
            vec![(Kind::Comments, "changed", "attribute shop.pair.a", &["comment"])],
        ),
        (
            "COMMENT ON EXTENSION fuzzystrmatch IS 'fuzzy'",
            vec![(Kind::Comments, "changed", "extension fuzzystrmatch", &["comment"])],
        ),
        (
            "COMMENT ON PUBLICATION pum_it_pub IS 'out'",
            vec![(Kind::Comments, "changed", "publication pum_it_pub", &["comment"])],
        ),
        (
            "COMMENT ON TEXT SEARCH DICTIONARY shop.dict IS 'words'",
            vec![(
                Kind::Comments,
                "changed",
                "text search dictionary shop.dict",
                &["comment"],
            )],
        ),
        (
            "COMMENT ON EVENT TRIGGER pum_it_ddl IS 'ddl'",
            vec![(Kind::Comments, "changed", "event trigger pum_it_ddl", &["comment"])],
        ),
        (
            "COMMENT ON INDEX shop.events_n IS 'partitioned'",
            vec![(Kind::Comments, "changed", "index shop.events_n", &["comment"])],
        ),
    ];
    for (change, expected) in &cases {
        let right = variant(change);
        let report = compare(&left, &right, &CheckOptions::default());
        let got = differences(&report);
        let want: Vec<(Kind, &str, String, Vec<String>)> = expected
            .iter()
            .map(|(kind, side, key, attributes)| {
                let attributes = attributes.iter().map(|a| a.to_string()).collect();
                (*kind, *side, key.to_string(), attributes)
            })
            .collect();
        assert_eq!(got, want, "after: {change}\n{report}");
    }
}

#[test]
fn a_policy_role_list_is_a_set() {
    reader_role();
    let policy = |roles: &str| {
        format!(
            "CREATE TABLE public.t (a int); ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;
             CREATE POLICY p ON public.t TO {roles} USING (a > 0)"
        )
    };
    let a = ScratchDb::new("policy_a", &policy(&format!("{READER}, {WRITER}")));
    let b = ScratchDb::new("policy_b", &policy(&format!("{WRITER}, {READER}")));
    assert_eq!(
        a.strings("SELECT polroles::regrole[]::text FROM pg_policy"),
        [format!("{{{READER},{WRITER}}}")],
        "the roles are stored in the order given"
    );
    let report = compare(&a, &b, &CheckOptions::default());
    assert!(report.is_empty(), "{report}");
    let c = ScratchDb::new("policy_c", &policy(READER));
    let report = compare(&a, &c, &CheckOptions::default());
    assert_only_change(&report, Kind::Policies, "public.t.p", &["roles"]);
}

#[test]
fn a_dropped_column_does_not_move_the_columns_after_it() {
    let a = ScratchDb::new(
        "dropped_a",
        "CREATE TABLE public.t (a int, gone int, b text); ALTER TABLE public.t DROP COLUMN gone;",
    );
    let b = ScratchDb::new("dropped_b", "CREATE TABLE public.t (a int, b text)");
    let ordered = CheckOptions {
        column_order: true,
        ..CheckOptions::default()
    };
    let report = compare(&a, &b, &ordered);
    assert!(report.is_empty(), "{report}");
    let c = ScratchDb::new("dropped_c", "CREATE TABLE public.t (b text, a int)");
    assert_eq!(compare(&a, &c, &ordered).difference_count(), 2);
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

/// An index's statistics targets (on its expression columns) are compared, read only for
/// the indexes that have one.
#[test]
fn an_index_statistics_target_is_a_difference() {
    let index = "CREATE INDEX orders_price ON shop.orders ((price * 2));";
    let left = variant(index);
    let right = variant(&format!(
        "{index} ALTER INDEX shop.orders_price ALTER COLUMN 1 SET STATISTICS 100"
    ));
    let report = compare(&left, &right, &CheckOptions::default());
    assert_only_change(&report, Kind::Indexes, "shop.orders_price", &["statistics"]);
    let changed = &report.kind(Kind::Indexes).unwrap().changed[0].1[0];
    assert_eq!(
        (changed.left.as_deref(), changed.right.as_deref()),
        (None, Some("1 100"))
    );
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

    // Columns not read: the comments and privileges queries leave the column out too
    // (a column on both sides, its comment and privilege on one).
    let plain = variant("ALTER TABLE shop.customer ADD COLUMN note_tmp text;");
    let commented = variant(
        "ALTER TABLE shop.customer ADD COLUMN note_tmp text;
         COMMENT ON COLUMN shop.customer.note_tmp IS 'scratch';
         GRANT SELECT (note_tmp) ON shop.customer TO pum_it_check_reader;",
    );
    let mut options = CheckOptions {
        ignore: [Kind::Columns].into(),
        ..CheckOptions::default()
    };
    let report = compare(&plain, &commented, &options);
    assert_eq!(report.difference_count(), 2, "{report}");
    options.exclude_column_patterns = vec!["%\\_tmp".into()];
    assert!(compare(&plain, &commented, &options).is_empty());

    let options = CheckOptions {
        ignore: [Kind::Columns, Kind::Schemas, Kind::Tables].into(),
        exclude_schemas: vec!["scratch".into()],
        owners: true,
        ..CheckOptions::default()
    };
    let report = compare(&left, &right, &options);
    assert_only_change(&report, Kind::Owners, "sequence shop.counter", &["owner"]);
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
    // A check pum writes and one it leaves to PostgreSQL, as the big schema has.
    let small = ScratchDb::new(
        "q_small",
        "CREATE TABLE public.t (a int CHECK (a > 0), b text CHECK (length(b) < 5))",
    );
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
    // On PostgreSQL 15, one more for the operators of the checks pum writes and one
    // for those it leaves to PostgreSQL.
    let version: i32 = small.strings("SHOW server_version_num")[0].parse().unwrap();
    let checks = if (150000..160000).contains(&version) {
        2
    } else {
        0
    };
    assert_eq!(a.queries, 1 + options.kinds().len() + checks);
    assert!(b.objects[&Kind::Tables].len() > 50);
}

#[test]
fn json_report_has_python_pum_shape() {
    let left = variant("");
    let right = variant("CREATE TABLE shop.extra (); ALTER SEQUENCE shop.counter INCREMENT 7");
    let report = compare(&left, &right, &CheckOptions::default());
    let json = report.to_json();
    assert_eq!(json["passed"], false);
    assert_eq!(json["total_checks"], 29);
    assert_eq!(json["failed_checks"], 2);
    assert_eq!(json["passed_checks"], 27);
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

/// Changes to the base for the differential test: one of each kind and attribute pum
/// compares (each a difference pg_dump shows), and a few that change nothing pg_dump
/// shows (so pum must find nothing either).
const CHANGES: &[&str] = &[
    // Neither pg_dump nor pum sees these.
    "",
    "CREATE TABLE shop.gone (a int); DROP TABLE shop.gone",
    "ALTER TABLE shop.note ADD COLUMN tmp int; ALTER TABLE shop.note DROP COLUMN tmp",
    "ALTER TABLE shop.note ALTER COLUMN body SET STORAGE EXTENDED",
    "ANALYZE shop.orders",
    "ALTER TYPE shop.pair ADD ATTRIBUTE tmp int; ALTER TYPE shop.pair DROP ATTRIBUTE tmp",
    // Seen by both.
    "CREATE SCHEMA extra",
    "CREATE TABLE shop.extra ()",
    "ALTER TABLE shop.note SET UNLOGGED",
    "ALTER TABLE shop.note SET (fillfactor = 50)",
    "ALTER TABLE shop.note SET (toast.autovacuum_enabled = false)",
    "ALTER TABLE shop.note SET ACCESS METHOD heap2",
    "ALTER TABLE shop.note REPLICA IDENTITY FULL",
    "ALTER TABLE shop.customer REPLICA IDENTITY USING INDEX customer_pkey",
    "ALTER TABLE shop.typed NOT OF",
    "ALTER TABLE shop.orders CLUSTER ON orders_customer",
    "ALTER TABLE shop.note ENABLE ROW LEVEL SECURITY",
    "ALTER FOREIGN TABLE shop.remote OPTIONS (SET table_name 'other')",
    "ALTER TABLE shop.child_note NO INHERIT shop.base_note",
    "ALTER TABLE shop.child_note NO INHERIT shop.base_note; ALTER TABLE shop.child_note INHERIT shop.base_note",
    "ALTER TABLE shop.customer ALTER COLUMN mood SET DEFAULT 'happy'",
    "ALTER TABLE shop.customer ALTER COLUMN name TYPE text COLLATE \"POSIX\"",
    "ALTER TABLE shop.customer ALTER COLUMN email SET NOT NULL",
    "ALTER TABLE shop.customer ALTER COLUMN email TYPE varchar(200)",
    "ALTER TABLE shop.customer ALTER COLUMN id SET GENERATED BY DEFAULT",
    "ALTER TABLE shop.note ALTER COLUMN body SET STORAGE EXTERNAL",
    "ALTER TABLE shop.note ALTER COLUMN body SET COMPRESSION pglz",
    "ALTER TABLE shop.note ALTER COLUMN body SET STATISTICS 500",
    "ALTER TABLE shop.note ALTER COLUMN body SET (n_distinct = 10)",
    "ALTER FOREIGN TABLE shop.remote ALTER COLUMN id OPTIONS (SET column_name 'other')",
    "ALTER TABLE shop.orders DROP CONSTRAINT orders_price_check",
    "ALTER TABLE shop.orders ALTER CONSTRAINT orders_customer_id_fkey DEFERRABLE",
    "ALTER TABLE shop.child_note ADD CONSTRAINT body_check CHECK (body <> '')",
    "CREATE OR REPLACE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 20",
    "ALTER MATERIALIZED VIEW shop.order_count SET (fillfactor = 70)",
    "ALTER SEQUENCE shop.counter INCREMENT 7",
    "ALTER SEQUENCE shop.counter SET UNLOGGED",
    "DROP INDEX shop.orders_customer; CREATE INDEX orders_customer ON shop.orders (customer_id DESC)",
    "ALTER INDEX shop.events_n ATTACH PARTITION shop.events_2024_n",
    "CREATE INDEX orders_price ON shop.orders ((price * 2)); ALTER INDEX shop.orders_price ALTER COLUMN 1 SET STATISTICS 100",
    "ALTER TABLE shop.orders DISABLE TRIGGER orders_touch",
    "DROP TRIGGER big_orders_insert ON shop.big_orders",
    "ALTER FUNCTION shop.add(integer, integer) STABLE",
    "ALTER FUNCTION shop.add(integer, integer) COST 7",
    "ALTER FUNCTION shop.numbers() ROWS 20",
    "ALTER FUNCTION shop.add(integer, integer) SET work_mem = '1MB'",
    "CREATE OR REPLACE AGGREGATE shop.total(integer) (SFUNC = shop.sum_sfunc, STYPE = integer, INITCOND = '1')",
    "CREATE OR REPLACE AGGREGATE shop.total(integer) (SFUNC = shop.sum_sfunc, STYPE = integer, INITCOND = '0', FINALFUNC = abs)",
    "DROP RULE orders_no_delete ON shop.orders",
    "CREATE EXTENSION citext",
    "ALTER TYPE shop.mood ADD VALUE 'meh' BEFORE 'ok'",
    "ALTER DOMAIN shop.positive SET DEFAULT 1",
    "ALTER TYPE shop.pair ADD ATTRIBUTE c date",
    "ALTER TYPE shop.pair ALTER ATTRIBUTE b TYPE text COLLATE \"C\"",
    "DROP TYPE shop.span; CREATE TYPE shop.span AS RANGE (subtype = float8, subtype_diff = float8mi)",
    "DROP TYPE shop.span; CREATE TYPE shop.span AS RANGE (subtype = float8, multirange_type_name = shop.spans)",
    "DROP TYPE shop.span; CREATE TYPE shop.span AS RANGE (subtype = text, collation = \"C\")",
    "DROP COLLATION shop.c2; CREATE COLLATION shop.c2 (locale = 'POSIX')",
    "CREATE CONVERSION shop.latin FOR 'LATIN1' TO 'UTF8' FROM pg_catalog.iso8859_1_to_utf8",
    "ALTER TEXT SEARCH CONFIGURATION shop.simple_cfg DROP MAPPING FOR email",
    "ALTER TEXT SEARCH DICTIONARY shop.dict (StopWords = russian)",
    "CREATE TEXT SEARCH TEMPLATE shop.tmpl (LEXIZE = dsimple_lexize)",
    "CREATE TEXT SEARCH PARSER shop.prs (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype)",
    "ALTER OPERATOR shop.=== (integer, integer) SET (RESTRICT = eqsel)",
    "CREATE OPERATOR CLASS shop.int_hash FOR TYPE integer USING hash FAMILY shop.hfam AS OPERATOR 1 shop.===, FUNCTION 1 hashint4(integer)",
    "ALTER OPERATOR FAMILY shop.hfam USING hash ADD FUNCTION 1 hashint4(integer)",
    "CREATE CAST (shop.pair AS text) WITH INOUT",
    "CREATE ACCESS METHOD heap3 TYPE TABLE HANDLER heap_tableam_handler",
    "DROP STATISTICS shop.orders_stats; CREATE STATISTICS shop.orders_stats (dependencies) ON customer_id, qty FROM shop.orders",
    "ALTER STATISTICS shop.orders_stats SET STATISTICS 50",
    "ALTER SERVER pum_it_server OPTIONS (SET host 'b')",
    "ALTER USER MAPPING FOR pum_it_check_reader SERVER pum_it_server OPTIONS (SET user 'y')",
    "CREATE USER MAPPING FOR public SERVER pum_it_server",
    "CREATE FOREIGN DATA WRAPPER pum_it_fdw2",
    "ALTER FOREIGN DATA WRAPPER pum_it_fdw OPTIONS (debug 'true')",
    "ALTER PUBLICATION pum_it_pub ADD TABLE shop.note",
    "ALTER PUBLICATION pum_it_pub SET (publish = 'insert')",
    "ALTER PUBLICATION pum_it_pub SET TABLE shop.customer (id, name) WHERE (id > 0)",
    "CREATE PUBLICATION pum_it_pub2 FOR TABLES IN SCHEMA shop",
    "ALTER EVENT TRIGGER pum_it_ddl DISABLE",
    "ALTER POLICY own_orders ON shop.orders USING (qty > 1)",
    "ALTER POLICY own_orders ON shop.orders TO pum_it_check_reader, pum_it_check_writer",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO pum_it_check_reader",
    "ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    "GRANT INSERT ON shop.orders TO pum_it_check_reader",
    "GRANT SELECT (email) ON shop.customer TO pum_it_check_reader",
    "REVOKE EXECUTE ON FUNCTION shop.add(integer, integer) FROM PUBLIC",
    "GRANT USAGE ON FOREIGN SERVER pum_it_server TO pum_it_check_reader",
    "GRANT USAGE ON TYPE shop.span TO pum_it_check_reader",
    "COMMENT ON TABLE shop.orders IS 'changed'",
    "COMMENT ON COLUMN shop.customer.email IS NULL",
    "COMMENT ON COLUMN shop.pair.a IS 'first'",
    "COMMENT ON EXTENSION fuzzystrmatch IS 'fuzzy'",
    "COMMENT ON PUBLICATION pum_it_pub IS 'out'",
    "COMMENT ON TEXT SEARCH DICTIONARY shop.dict IS 'words'",
    "COMMENT ON EVENT TRIGGER pum_it_ddl IS 'ddl'",
    "COMMENT ON INDEX shop.events_n IS 'partitioned'",
    "COMMENT ON TYPE shop.span IS 'range'",
    "COMMENT ON COLLATION shop.c2 IS 'c'",
    "COMMENT ON OPERATOR shop.=== (integer, integer) IS 'eq'",
    "COMMENT ON OPERATOR FAMILY shop.hfam USING hash IS 'fam'",
    "COMMENT ON STATISTICS shop.orders_stats IS 'stats'",
    "COMMENT ON SERVER pum_it_server IS 'srv'",
    "COMMENT ON FOREIGN DATA WRAPPER pum_it_fdw IS 'fdw'",
    "COMMENT ON ACCESS METHOD heap2 IS 'am'",
    "COMMENT ON AGGREGATE shop.total(integer) IS 'sum'",
];

/// `pg_dump --schema-only --no-owner` of a database (owners are compared only when
/// asked), or why it cannot be had.
fn schema_dump(pg_dump: &std::path::Path, db: &ScratchDb) -> String {
    let mut command = std::process::Command::new(pg_dump);
    command.args(["--schema-only", "--no-owner"]);
    db.spec().apply_to(&mut command);
    let output = command.bounded_output();
    assert!(
        output.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// What of a dump is the schema: no comment lines (the `-- Dumped` header, the entries'
/// `-- Name:` lines), no `\restrict` lines (a random key each time), no session `SET`
/// lines (but `SET default_table_access_method`, which says what a table is made with).
fn normalised(dump: &str) -> Vec<&str> {
    dump.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("--"))
        .filter(|line| !line.starts_with('\\'))
        .filter(|line| {
            !line.starts_with("SET ") || line.starts_with("SET default_table_access_method")
        })
        .filter(|line| !line.starts_with("SELECT pg_catalog.set_config('search_path'"))
        .collect()
}

/// A fresh database with `dump` (a plain schema dump) restored into it.
fn restored(dump: &str) -> ScratchDb {
    let db = ScratchDb::new("restored", "");
    let sql: String = dump
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .map(|line| format!("{line}\n"))
        .collect();
    db.client().batch_execute(&sql).unwrap();
    db
}

/// pum check is judged by pg_dump: for a base schema and one change from [`CHANGES`]
/// (chosen by a seed), pum says "different" exactly when the normalised `pg_dump
/// --schema-only` outputs differ, and each database equals its own dump restored.
/// `PUM_CHECK_DUMP_CASES` sets how many (default 24; as many as `CHANGES` has covers
/// each once), `PUM_CHECK_DUMP_SEED` the order.
#[test]
fn pum_check_agrees_with_pg_dump() {
    let pg_dump = match pum::dump::find_tool("pg_dump", None) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("skipped: pum_check_agrees_with_pg_dump: {e}");
            return;
        }
    };
    let version = std::process::Command::new(&pg_dump)
        .arg("--version")
        .bounded_output();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    let left = variant("");
    let server: String = left.strings("SELECT current_setting('server_version_num')")[0].clone();
    let server_major = &server[..server.len() - 4];
    if !version.contains(&format!(" {server_major}.")) {
        eprintln!(
            "skipped: pum_check_agrees_with_pg_dump: {version:?} is not the server's major \
             version {server_major}"
        );
        return;
    }
    let cases: usize = std::env::var("PUM_CHECK_DUMP_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("PUM_CHECK_DUMP_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x5eed_c4ec);
    // A seeded shuffle of the changes, taken in turn: enough cases cover them all.
    let mut order: Vec<usize> = (0..CHANGES.len()).collect();
    let mut state = seed.max(1);
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let left_dump = schema_dump(&pg_dump, &left);
    let base_restored = restored(&left_dump);
    let report = compare(&left, &base_restored, &CheckOptions::default());
    assert!(
        report.is_empty(),
        "the base and its dump restored\n{report}"
    );
    let mut failures = Vec::new();
    for i in 0..cases {
        let change = CHANGES[order[i % order.len()]];
        let right = variant(change);
        let right_dump = schema_dump(&pg_dump, &right);
        let dump_differs = normalised(&left_dump) != normalised(&right_dump);
        let report = compare(&left, &right, &CheckOptions::default());
        if report.is_empty() == dump_differs {
            failures.push(format!(
                "case {i}, after {change:?}: pum says {}, pg_dump differs by:{}\n{report}",
                if report.is_empty() {
                    "same"
                } else {
                    "different"
                },
                diff_lines(&normalised(&left_dump), &normalised(&right_dump))
            ));
        }
        let again = restored(&right_dump);
        let report = compare(&right, &again, &CheckOptions::default());
        if !report.is_empty() {
            failures.push(format!(
                "case {i}, after {change:?}: the database and its dump restored differ\n{report}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {cases} cases fail\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The lines only one side has, for a failure message.
fn diff_lines(left: &[&str], right: &[&str]) -> String {
    let only = |a: &[&str], b: &[&str], sign: char| {
        a.iter()
            .filter(|l| !b.contains(l))
            .map(|l| format!("\n{sign} {l}"))
            .collect::<String>()
    };
    format!("{}{}", only(left, right, '-'), only(right, left, '+'))
}
