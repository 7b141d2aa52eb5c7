//! What the checker reads from the catalog by itself, to spare PostgreSQL a function call
//! per object, is what those functions write: index definitions (`pg_get_indexdef`) and
//! column defaults (`pg_get_expr`).

use std::collections::BTreeMap;

use pum::checker::{CheckOptions, Kind, Snapshot};

use crate::support::ScratchDb;

/// Indexes of every shape: those the checker writes itself and those it leaves to
/// `pg_get_indexdef`.
const INDEXES: &str = r#"
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema".ix (a int NOT NULL, b text, c text COLLATE "C", "D d" int NOT NULL,
  e tsvector, f int4range, g varchar(10), h bigint);
CREATE INDEX plain ON "Odd Schema".ix (a);
CREATE INDEX "Mixed Case" ON "Odd Schema".ix ("D d", b);
CREATE UNIQUE INDEX uniq ON "Odd Schema".ix (a, c);
CREATE INDEX partial ON "Odd Schema".ix (a) WHERE a > 5;
CREATE INDEX expr ON "Odd Schema".ix (lower(b), (a + 1));
CREATE INDEX ordered ON "Odd Schema".ix (a DESC NULLS LAST, b NULLS FIRST);
CREATE INDEX included ON "Odd Schema".ix (a) INCLUDE (b, "D d");
CREATE INDEX opclass ON "Odd Schema".ix (b text_pattern_ops);
CREATE INDEX collated ON "Odd Schema".ix (b COLLATE "C");
CREATE INDEX default_collated ON "Odd Schema".ix (c COLLATE "default");
CREATE INDEX same_collation ON "Odd Schema".ix (c COLLATE "C");
CREATE INDEX varchar_col ON "Odd Schema".ix (g);
CREATE INDEX with_options ON "Odd Schema".ix (h) WITH (fillfactor = 70);
CREATE INDEX gin ON "Odd Schema".ix USING gin (e);
CREATE INDEX gist ON "Odd Schema".ix USING gist (f);
CREATE INDEX hashed ON "Odd Schema".ix USING hash ("D d");
CREATE INDEX brin ON "Odd Schema".ix USING brin (a);
CREATE INDEX "select" ON "Odd Schema".ix (a, h) INCLUDE (c);
ALTER TABLE "Odd Schema".ix ADD CONSTRAINT ix_pk PRIMARY KEY (a, "D d");
ALTER TABLE "Odd Schema".ix ADD CONSTRAINT ix_uq UNIQUE (b, c) INCLUDE (h) DEFERRABLE;
ALTER TABLE "Odd Schema".ix ADD CONSTRAINT ix_excl EXCLUDE USING gist (f WITH &&);
CREATE TABLE "Odd Schema".parted (id int, k text) PARTITION BY LIST (k);
CREATE TABLE "Odd Schema".parted_a PARTITION OF "Odd Schema".parted FOR VALUES IN ('a');
CREATE UNIQUE INDEX parted_idx ON "Odd Schema".parted (id, k);
CREATE INDEX parted_only ON ONLY "Odd Schema".parted (id);
CREATE MATERIALIZED VIEW "Odd Schema".mv AS SELECT 1 AS x;
CREATE INDEX mv_x ON "Odd Schema".mv (x);
"#;

/// The rows of a two-column text query, as a map.
fn pairs(db: &ScratchDb, sql: &str) -> BTreeMap<String, String> {
    let mut client = db.client();
    client.batch_execute("SET search_path = ''").unwrap();
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[test]
fn index_definitions_are_written_as_pg_get_indexdef_writes_them() {
    let nulls_not_distinct = "CREATE UNIQUE INDEX nnd ON \"Odd Schema\".ix (h) NULLS NOT DISTINCT";
    let db = ScratchDb::new("check_indexes", INDEXES);
    if db.strings("SHOW server_version_num")[0]
        .parse::<i32>()
        .unwrap()
        >= 150000
    {
        db.client().batch_execute(nulls_not_distinct).unwrap();
    }
    let snapshot = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let expected = pairs(
        &db,
        "SELECT n.nspname || '.' || c.relname, pg_get_indexdef(c.oid)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('i', 'I') AND n.nspname = 'Odd Schema'",
    );
    let read: BTreeMap<String, String> = snapshot.objects[&Kind::Indexes]
        .iter()
        .map(|(key, attributes)| {
            (
                key.clone(),
                attributes.get("definition").flatten().unwrap().to_string(),
            )
        })
        .collect();
    assert!(expected.len() >= 25, "{expected:#?}");
    assert_eq!(read, expected);
    assert_eq!(
        read["Odd Schema.Mixed Case"],
        "CREATE INDEX \"Mixed Case\" ON \"Odd Schema\".ix USING btree (\"D d\", b)"
    );
    assert_eq!(
        read["Odd Schema.select"],
        "CREATE INDEX \"select\" ON \"Odd Schema\".ix USING btree (a, h) INCLUDE (c)"
    );
    let plain = &snapshot.objects[&Kind::Indexes]["Odd Schema.plain"];
    assert_eq!(plain.get("valid").flatten(), Some("true"));
    assert_eq!(plain.get("table").flatten(), Some("\"Odd Schema\".ix"));
}

#[test]
fn column_defaults_are_written_as_pg_get_expr_writes_them() {
    let db = ScratchDb::new(
        "check_defaults",
        "CREATE TYPE public.mood AS ENUM ('sad', 'ok');
         CREATE SEQUENCE public.counter;
         CREATE TABLE public.d (
           a int DEFAULT 0, b text DEFAULT 'x''y', c timestamptz DEFAULT now(),
           d public.mood DEFAULT 'ok', e bigint DEFAULT nextval('public.counter'),
           f numeric DEFAULT (1.5 * 2), g int[] DEFAULT '{1,2}', h boolean DEFAULT (NOT false),
           i int GENERATED ALWAYS AS (a * 2) STORED, j serial)",
    );
    let snapshot = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let expected = pairs(
        &db,
        "SELECT 'public.d.' || a.attname, pg_get_expr(ad.adbin, ad.adrelid)
         FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
         WHERE ad.adrelid = 'public.d'::regclass",
    );
    let columns = &snapshot.objects[&Kind::Columns];
    let read: BTreeMap<String, String> = expected
        .keys()
        .map(|key| {
            let attributes = &columns[key];
            let value = (attributes.get("default").flatten())
                .or_else(|| attributes.get("generated").flatten());
            (key.clone(), value.unwrap().to_string())
        })
        .collect();
    assert_eq!(expected.len(), 10);
    assert_eq!(read, expected);
    assert_eq!(
        columns["public.d.a"].get("not_null").flatten(),
        Some("false")
    );
    assert_eq!(columns["public.d.i"].get("default"), Some(None));
}

#[test]
fn constraint_definitions_are_written_as_pg_get_constraintdef_writes_them() {
    let db = ScratchDb::new(
        "check_constraints",
        r#"CREATE SCHEMA "Odd Schema";
         CREATE TABLE "Odd Schema"."Parent" ("Id" int, b text, c int, PRIMARY KEY ("Id"),
           UNIQUE (b, c), UNIQUE ("Id", c), UNIQUE (c) INCLUDE (b), UNIQUE (b) DEFERRABLE INITIALLY DEFERRED,
           CHECK (c > 0));
         CREATE TABLE "Odd Schema".child (id int PRIMARY KEY, p int, q text, r int,
           FOREIGN KEY (p) REFERENCES "Odd Schema"."Parent" ("Id"),
           CONSTRAINT cascade FOREIGN KEY (p) REFERENCES "Odd Schema"."Parent" ON DELETE CASCADE ON UPDATE SET NULL,
           CONSTRAINT pair FOREIGN KEY (q, r) REFERENCES "Odd Schema"."Parent" (b, c) MATCH FULL,
           CONSTRAINT restrict FOREIGN KEY (r) REFERENCES "Odd Schema"."Parent" (c) ON UPDATE RESTRICT ON DELETE SET DEFAULT,
           CONSTRAINT later FOREIGN KEY (p) REFERENCES "Odd Schema"."Parent" DEFERRABLE,
           EXCLUDE USING btree (id WITH =));
         ALTER TABLE "Odd Schema".child ADD CONSTRAINT unchecked FOREIGN KEY (r)
           REFERENCES "Odd Schema"."Parent" (c) NOT VALID;
         CREATE TABLE public.other (x int UNIQUE WITH (fillfactor = 50),
           y int REFERENCES "Odd Schema".child);"#,
    );
    if db.strings("SHOW server_version_num")[0]
        .parse::<i32>()
        .unwrap()
        >= 150000
    {
        db.client()
            .batch_execute(
                "ALTER TABLE public.other ADD CONSTRAINT nnd UNIQUE NULLS NOT DISTINCT (y);
                 ALTER TABLE public.other ADD CONSTRAINT set_null FOREIGN KEY (x, y)
                   REFERENCES \"Odd Schema\".\"Parent\" (\"Id\", c) ON DELETE SET NULL (y)",
            )
            .unwrap();
    }
    let snapshot = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let expected = pairs(
        &db,
        "SELECT n.nspname || '.' || c.relname || '.' || co.conname, pg_get_constraintdef(co.oid, true)
         FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('Odd Schema', 'public')",
    );
    let read: BTreeMap<String, String> = snapshot.objects[&Kind::Constraints]
        .iter()
        .map(|(key, attributes)| {
            (
                key.clone(),
                attributes.get("definition").flatten().unwrap().to_string(),
            )
        })
        .collect();
    assert!(expected.len() >= 15, "{expected:#?}");
    assert_eq!(read, expected);
    assert_eq!(
        read["Odd Schema.child.cascade"],
        "FOREIGN KEY (p) REFERENCES \"Odd Schema\".\"Parent\"(\"Id\") ON UPDATE SET NULL ON DELETE CASCADE"
    );
}

/// Check constraints of the forms pum writes itself on PostgreSQL 15: every constant type
/// it knows, operators on like and unlike types, `IS [NOT] NULL`, `= ANY (ARRAY[…])`,
/// and AND/OR/NOT nested every way (for their parentheses).
const WRITTEN: &[&str] = &[
    "a >= 0",
    "a > -5",
    "a <> 2147483647",
    "a > -2147483648",
    "b < 10000000000",
    "b > -9223372036854775808",
    "b > 5",
    "c <> 3",
    "c > -2",
    "c = a",
    "a = b",
    "d <> ''",
    "d <> 'it''s'",
    "d ~ '^a[0-9]+$'",
    "d LIKE 'a%'",
    "d NOT LIKE 'a%'",
    "d >= 'a' AND d < 'b'",
    "e",
    "NOT e",
    "e = true",
    "e <> false",
    "NOT NOT e",
    "NOT (e AND a > 0)",
    "NOT (e OR a > 0)",
    "NOT a > 0",
    "NOT a IS NULL",
    "a > 0 AND b > 0 AND c > 0",
    "a > 0 OR b > 0 AND c > 0",
    "(a > 0 OR b > 0) AND c > 0",
    "a > 0 OR (b > 0 OR c > 0)",
    "(a > 0 AND b > 0) OR (c > 0 AND e)",
    "a IS NULL OR a < 5",
    "d IS NOT NULL",
    "a IN (1, 2, 3)",
    "a NOT IN (1, 2)",
    "a = ALL (ARRAY[1, 2])",
    "d IN ('a', 'b', 'it''s')",
    "d IN ('x', 'y') OR d IS NULL",
    "a > 0 AND a IN (1, 2)",
    "NOT (a IN (1, 2))",
    "d IN ('x') OR d IS NULL",
    "c IN (1, 2)",
    "\"Weird Col\" = 1",
    "\"select\" = 2 AND \"Weird Col\" > 0",
    "g <> 'x'",
    "g::text = 'x'",
    "a BETWEEN 1 AND 3",
    "c = '3'",
    "c <> '-3'",
    "b = '5'",
    "b IN ('1', '-2')",
    "e = 'f'",
    "d = 'x' OR d IS NULL",
    "1 > 0",
    "true",
];

/// Forms pum leaves to `pg_get_constraintdef`.
const LEFT: &[&str] = &[
    "c < 3::smallint",
    "b IN (1, 2)",
    "g IN ('a', 'b')",
    "a + 1 > 2",
    "length(d) < 5",
    "f > 1.5",
    "d <> 'a\\b'",
    "d <> 'é'",
    "d = 'x' COLLATE \"C\"",
    "d IS DISTINCT FROM 'x'",
    "h > now() - interval '1 day'",
    "a > NULL::int",
    "e IS TRUE",
    "tableoid IS NOT NULL AND a > 0",
];

/// A table `public.t` with the checks `checks`.
fn checked_table(name: &str, checks: &[&str]) -> ScratchDb {
    let mut sql = String::from(
        "CREATE TABLE public.t (a int, b bigint, c smallint, d text, e boolean, f numeric,
           g varchar(10), \"Weird Col\" int, \"select\" int, h timestamptz);
         ALTER TABLE public.t DROP COLUMN f, ADD COLUMN f numeric;",
    );
    for (i, check) in checks.iter().enumerate() {
        sql.push_str(&format!(
            "ALTER TABLE public.t ADD CONSTRAINT c{i:02} CHECK ({check});\n"
        ));
    }
    ScratchDb::new(name, &sql)
}

#[test]
fn check_definitions_are_written_as_pg_get_constraintdef_writes_them() {
    let db = checked_table("check_expressions", &[WRITTEN, LEFT].concat());
    db.client()
        .batch_execute(
            "ALTER TABLE public.t ADD CONSTRAINT unvalidated CHECK (a >= 0) NOT VALID;
             ALTER TABLE public.t ADD CONSTRAINT no_inherit CHECK (a >= 0) NO INHERIT;
             CREATE TABLE public.child () INHERITS (public.t);",
        )
        .unwrap();
    let snapshot = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let expected = pairs(
        &db,
        "SELECT c.relname || '.' || co.conname, pg_get_constraintdef(co.oid, true)
         FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
         WHERE c.relnamespace = 'public'::regnamespace",
    );
    let read: BTreeMap<String, String> = snapshot.objects[&Kind::Constraints]
        .iter()
        .map(|(key, attributes)| {
            assert!(!attributes.iter().any(|(name, _)| name.starts_with('_')));
            let key = key.trim_start_matches("public.").to_string();
            (
                key,
                attributes.get("definition").flatten().unwrap().to_string(),
            )
        })
        .collect();
    // Each check on the table and its child, the unvalidated one on the table only.
    assert_eq!(expected.len(), 2 * (WRITTEN.len() + LEFT.len() + 1) + 1);
    assert_eq!(read, expected);
}

#[test]
fn checks_pum_writes_take_no_query_of_their_own() {
    let db = checked_table("check_written", WRITTEN);
    let written = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    for check in LEFT {
        db.client()
            .batch_execute(&format!("ALTER TABLE public.t ADD CHECK ({check})"))
            .unwrap();
    }
    let asked = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let version: i32 = db.strings("SHOW server_version_num")[0].parse().unwrap();
    if (150000..160000).contains(&version) {
        // One query asks PostgreSQL for all the definitions pum does not write.
        assert_eq!(asked.queries, written.queries + 1);
    } else {
        println!("skipped: pum writes check constraints itself on PostgreSQL 15 only");
    }
}

/// Column comments and privileges come with the columns query when columns are read
/// too, and from the comments and privileges queries when they are not: the same objects
/// either way.
#[test]
fn column_comments_and_privileges_are_the_same_whichever_query_reads_them() {
    let db = ScratchDb::new(
        "check_column_extras",
        r#"CREATE SCHEMA "Odd Schema";
         DO $$ BEGIN CREATE ROLE pum_it_column_reader;
               EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         CREATE TABLE "Odd Schema"."T t" (id int, "select" text, plain text, secret text);
         COMMENT ON COLUMN "Odd Schema"."T t"."select" IS 'a keyword';
         COMMENT ON COLUMN "Odd Schema"."T t".plain IS '';
         GRANT SELECT ("select", plain), UPDATE (plain) ON "Odd Schema"."T t" TO pum_it_column_reader;
         GRANT INSERT (id) ON "Odd Schema"."T t" TO pum_it_column_reader WITH GRANT OPTION;
         GRANT SELECT (id) ON "Odd Schema"."T t" TO PUBLIC;
         CREATE VIEW "Odd Schema".v AS SELECT id, plain FROM "Odd Schema"."T t";
         COMMENT ON COLUMN "Odd Schema".v.plain IS 'through the view';
         CREATE TYPE "Odd Schema".pair AS (x int, y int);
         COMMENT ON COLUMN "Odd Schema".pair.y IS 'an attribute';"#,
    );
    let both = Snapshot::take(&mut db.client(), &CheckOptions::default()).unwrap();
    let alone = CheckOptions {
        ignore: [Kind::Columns].into(),
        ..CheckOptions::default()
    };
    let alone = Snapshot::take(&mut db.client(), &alone).unwrap();
    db.client()
        .batch_execute("DROP OWNED BY pum_it_column_reader; DROP ROLE pum_it_column_reader")
        .unwrap();
    for kind in [Kind::Comments, Kind::Privileges] {
        assert_eq!(both.objects[&kind], alone.objects[&kind], "{kind:?}");
    }
    let comments = &both.objects[&Kind::Comments];
    assert_eq!(
        comments["column Odd Schema.T t.select"]
            .get("comment")
            .flatten(),
        Some("a keyword")
    );
    assert_eq!(
        comments["column Odd Schema.T t.id"].get("comment"),
        Some(None)
    );
    assert_eq!(
        comments["attribute Odd Schema.pair.y"]
            .get("comment")
            .flatten(),
        Some("an attribute")
    );
    let grants = &both.objects[&Kind::Privileges]["column \"Odd Schema\".\"T t\".plain"];
    assert_eq!(
        grants.get("pum_it_column_reader").flatten(),
        Some("SELECT, UPDATE")
    );
    let id = &both.objects[&Kind::Privileges]["column \"Odd Schema\".\"T t\".id"];
    assert_eq!(id.get("public").flatten(), Some("SELECT"));
    assert_eq!(
        id.get("pum_it_column_reader").flatten(),
        Some("INSERT (grantable)")
    );
    assert!(both.objects[&Kind::Privileges]["column \"Odd Schema\".\"T t\".secret"].is_empty());
}
