//! Autogenerate proven on generated schema pairs: for a random schema A and a random set of
//! changes making B, the SQL written for A → B, applied as pum applies the file it is
//! written to (braces escaped, then rendered), turns A into B (`pum check` finds no
//! difference, privileges and comments included, nor does `pg_dump --schema-only`), and
//! the SQL written for B → A turns it back. Each defect once found has its own
//! reproduction below the property test. `PUM_AUTOGENERATE_CASES` sets how many pairs (default 24; CI runs hundreds) and
//! `PUM_AUTOGENERATE_SEED` where they start.

use crate::support::Bounded;
use std::collections::BTreeSet;

use pum::checker::ddl;
use pum::checker::{CheckOptions, Snapshot, compare};
use pum::{ConnectionSpec, CreateOptions, DropOptions};

use crate::support::{self, unique_name};

/// A small random generator (xorshift), so that a case is its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TYPES: [&str; 8] = [
    "integer",
    "bigint",
    "text",
    "character varying(20)",
    "numeric(10,2)",
    "boolean",
    "date",
    "gen.mood",
];

/// Type changes a column may make without a USING, either way.
const SAFE_CHANGES: [(&str, &str); 5] = [
    ("integer", "bigint"),
    ("bigint", "integer"),
    ("integer", "numeric(10,2)"),
    ("character varying(20)", "text"),
    ("text", "character varying(30)"),
];

#[derive(Clone, Debug)]
struct Column {
    name: String,
    kind: String,
    not_null: bool,
    default: Option<String>,
    identity: bool,
    comment: Option<String>,
}

#[derive(Clone, Debug)]
struct Table {
    name: String,
    columns: Vec<Column>,
    pk: bool,
    unique: Option<String>,
    check: Option<String>,
    index: Option<String>,
    fk: Option<String>,
    comment: Option<String>,
    grant: bool,
    trigger: bool,
}

#[derive(Clone, Debug)]
struct View {
    name: String,
    table: String,
    columns: Vec<String>,
    filter: bool,
    materialized: bool,
    on_view: Option<String>,
    comment: Option<String>,
    grant: bool,
}

#[derive(Clone, Debug)]
struct Function {
    name: String,
    procedure: bool,
    bigint: bool,
    body: u8,
    sql: bool,
    comment: Option<String>,
    public: bool,
}

#[derive(Clone, Debug, Default)]
struct Schema {
    mood: Vec<String>,
    tables: Vec<Table>,
    views: Vec<View>,
    functions: Vec<Function>,
    sequence: Option<(i64, i64)>,
    domain: Option<(bool, Option<i64>, i64)>,
    extra_schema: bool,
    schema_comment: Option<String>,
    schema_usage: bool,
    extras: Extras,
}

/// Objects of the kinds autogenerate once got wrong, each on its own so that a change to
/// one never breaks another: braces everywhere, a materialized view's index, a partitioned
/// table's index, inheritance with identities, a range type, a view with a rule, grants and
/// a column default (and the table it reads, with storage options and row level
/// security), a foreign table, and default privileges (the same in A and B).
#[derive(Clone, Debug, Default)]
struct Extras {
    /// `gen."b{1}"`, with braces in its name, a column's, defaults and comment.
    braces: Option<u8>,
    /// `gen.mv` and its index on column 0 or 1 (or none).
    matview: Option<Option<u8>>,
    /// `gen.p`: a second partition, an index.
    partitioned: Option<(bool, bool)>,
    /// `gen.parent` (its id an identity) and `gen.child` (with an identity of its own).
    inheritance: Option<(bool, bool)>,
    /// `gen.span` and a table using it.
    range: bool,
    /// `gen.rv` on `gen.rt`: (filtered, rule, grant, default, comment).
    rule_view: Option<(bool, bool, bool, bool, bool)>,
    /// `gen.rt`'s fillfactor, row level security (enabled, forced).
    storage: (Option<u8>, bool, bool),
    /// `gen.ft`, with a comment.
    foreign: Option<bool>,
    /// `ALTER DEFAULT PRIVILEGES` granting to the role (never changed: that is a warning).
    default_privileges: bool,
}

impl Extras {
    fn random(rng: &mut Rng) -> Extras {
        Extras {
            braces: rng.chance(30).then(|| rng.below(3) as u8),
            matview: rng
                .chance(30)
                .then(|| rng.chance(70).then(|| rng.below(2) as u8)),
            partitioned: rng.chance(30).then(|| (rng.chance(50), rng.chance(50))),
            inheritance: rng.chance(30).then(|| (rng.chance(50), rng.chance(50))),
            range: rng.chance(30),
            rule_view: rng.chance(40).then(|| {
                (
                    rng.chance(50),
                    rng.chance(50),
                    rng.chance(50),
                    rng.chance(50),
                    rng.chance(50),
                )
            }),
            storage: (
                rng.chance(30).then(|| rng.below(3) as u8),
                rng.chance(30),
                rng.chance(20),
            ),
            foreign: rng.chance(25).then(|| rng.chance(50)),
            default_privileges: rng.chance(25),
        }
    }

    fn mutate(&mut self, rng: &mut Rng) {
        fn flip(b: &mut bool) {
            *b = !*b;
        }
        match rng.below(9) {
            0 => {
                self.braces = match self.braces {
                    Some(n) if rng.chance(50) => Some((n + 1) % 3),
                    Some(_) => None,
                    None => Some(0),
                }
            }
            1 => {
                self.matview = match self.matview {
                    None => Some(Some(0)),
                    Some(None) => Some(Some(1)),
                    Some(Some(n)) if rng.chance(50) => Some(Some(1 - n)),
                    Some(Some(_)) if rng.chance(50) => Some(None),
                    Some(Some(_)) => None,
                }
            }
            2 => match &mut self.partitioned {
                None => self.partitioned = Some((true, false)),
                Some((index, second)) => match rng.below(3) {
                    0 => flip(index),
                    1 => flip(second),
                    _ => self.partitioned = None,
                },
            },
            3 => match &mut self.inheritance {
                None => self.inheritance = Some((true, true)),
                Some((parent, child)) => match rng.below(3) {
                    0 => flip(parent),
                    1 => flip(child),
                    _ => self.inheritance = None,
                },
            },
            4 => flip(&mut self.range),
            5 => match &mut self.rule_view {
                None => self.rule_view = Some((false, true, true, true, true)),
                Some((filtered, rule, grant, default, comment)) => match rng.below(6) {
                    0 => flip(filtered),
                    1 => flip(rule),
                    2 => flip(grant),
                    3 => flip(default),
                    4 => flip(comment),
                    _ => self.rule_view = None,
                },
            },
            6 | 7 => {
                let (fill, enabled, forced) = &mut self.storage;
                match rng.below(3) {
                    0 => *fill = fill.map_or(Some(1), |n| (n < 2).then_some(n + 1)),
                    1 => flip(enabled),
                    _ => flip(forced),
                }
            }
            _ => {
                self.foreign = match self.foreign {
                    None => Some(true),
                    Some(c) if rng.chance(50) => Some(!c),
                    Some(_) => None,
                }
            }
        }
    }

    fn sql(&self, role: &str) -> String {
        let mut sql = String::new();
        if self.default_privileges {
            sql.push_str(&format!(
                "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role};\n\
                 ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO {role};\n"
            ));
        }
        if let Some(n) = self.braces {
            sql.push_str(&format!(
                "CREATE TABLE gen.\"b{{1}}\" (\"c}}\" int DEFAULT {n}, j jsonb DEFAULT '{{\"a\": {{}}}}',\
                 arr int[] DEFAULT '{{1,{n}}}', \"{{x\" text DEFAULT '}}');\n\
                 COMMENT ON TABLE gen.\"b{{1}}\" IS 'with {{braces}} {n}';\n\
                 COMMENT ON COLUMN gen.\"b{{1}}\".\"c}}\" IS '}}{{';\n"
            ));
        }
        if let Some(index) = self.matview {
            sql.push_str(
                "CREATE MATERIALIZED VIEW gen.mv AS SELECT 1 AS one, 'x{}'::text AS two;\n",
            );
            match index {
                Some(0) => sql.push_str("CREATE INDEX mv_idx ON gen.mv (one);\n"),
                Some(_) => sql.push_str("CREATE UNIQUE INDEX mv_idx ON gen.mv (two);\n"),
                None => {}
            }
        }
        if let Some((index, second)) = self.partitioned {
            sql.push_str(
                "CREATE TABLE gen.p (id int, at date) PARTITION BY RANGE (at);\n\
                 CREATE TABLE gen.p_2024 PARTITION OF gen.p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n",
            );
            if second {
                sql.push_str(
                    "CREATE TABLE gen.p_2025 PARTITION OF gen.p FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n",
                );
            }
            if index {
                sql.push_str("CREATE INDEX p_id ON gen.p (id);\n");
            }
        }
        if let Some((parent, child)) = self.inheritance {
            let identity = if parent {
                " GENERATED ALWAYS AS IDENTITY"
            } else {
                ""
            };
            let own = if child {
                ", c int GENERATED BY DEFAULT AS IDENTITY"
            } else {
                ""
            };
            sql.push_str(&format!(
                "CREATE TABLE gen.parent (id int NOT NULL{identity}, a text);\n\
                 CREATE TABLE gen.child (b int{own}) INHERITS (gen.parent);\n"
            ));
        }
        if self.range {
            sql.push_str(
                "CREATE TYPE gen.span AS RANGE (SUBTYPE = integer);\n\
                 CREATE TABLE gen.spans (id int, during gen.span, many gen.span_multirange);\n",
            );
        }
        if self.rule_view.is_some() || self.storage != (None, false, false) {
            let (fill, enabled, forced) = self.storage;
            let with = fill
                .map(|n| {
                    format!(
                        " WITH (fillfactor = {}, autovacuum_enabled = false)",
                        70 + n
                    )
                })
                .unwrap_or_default();
            sql.push_str(&format!("CREATE TABLE gen.rt (id int, a int){with};\n"));
            if enabled {
                sql.push_str("ALTER TABLE gen.rt ENABLE ROW LEVEL SECURITY;\n");
            }
            if forced {
                sql.push_str("ALTER TABLE gen.rt FORCE ROW LEVEL SECURITY;\n");
            }
        }
        if let Some((filtered, rule, grant, default, comment)) = self.rule_view {
            let filter = if filtered { " WHERE id > 0" } else { "" };
            sql.push_str(&format!(
                "CREATE VIEW gen.rv AS SELECT id, a FROM gen.rt{filter};\n"
            ));
            if rule {
                sql.push_str(
                    "CREATE RULE rv_insert AS ON INSERT TO gen.rv DO INSTEAD \
                     INSERT INTO gen.rt (id, a) VALUES (new.id, new.a);\n",
                );
            }
            if grant {
                sql.push_str(&format!("GRANT SELECT, INSERT ON gen.rv TO {role};\n"));
            } else if self.default_privileges {
                sql.push_str(&format!("REVOKE ALL ON gen.rv FROM {role};\n"));
            }
            if default {
                sql.push_str("ALTER VIEW gen.rv ALTER COLUMN a SET DEFAULT 7;\n");
            }
            if comment {
                sql.push_str("COMMENT ON VIEW gen.rv IS 'rules {here}';\n");
            }
        }
        if let Some(comment) = self.foreign {
            sql.push_str(
                "CREATE FOREIGN TABLE gen.ft (id int NOT NULL, name text) SERVER gen_far \
                 OPTIONS (table_name 'x{}');\n",
            );
            if comment {
                sql.push_str("COMMENT ON FOREIGN TABLE gen.ft IS 'far {away}';\n");
            }
        }
        sql
    }
}

fn literal(kind: &str, rng: &mut Rng) -> String {
    match kind {
        "integer" | "bigint" => format!("{}", rng.below(100)),
        "numeric(10,2)" => format!("{}.5", rng.below(100)),
        "boolean" => "true".into(),
        "date" => "'2024-01-02'".into(),
        "gen.mood" => "'happy'".into(),
        _ => format!("'v{}'", rng.below(10)),
    }
}

fn new_column(name: &str, rng: &mut Rng) -> Column {
    let kind = rng.pick(&TYPES).to_string();
    let identity = matches!(kind.as_str(), "integer" | "bigint") && rng.chance(15);
    Column {
        name: name.into(),
        default: (!identity && rng.chance(30)).then(|| literal(&kind, rng)),
        not_null: identity || rng.chance(30),
        kind,
        identity,
        comment: rng.chance(20).then(|| format!("column {name}'s note")),
    }
}

fn new_table(name: &str, rng: &mut Rng) -> Table {
    let mut columns = vec![Column {
        name: "id".into(),
        kind: "integer".into(),
        not_null: true,
        default: None,
        identity: false,
        comment: None,
    }];
    for i in 0..1 + rng.below(4) {
        columns.push(new_column(&format!("c{i}"), rng));
    }
    let mut table = Table {
        name: name.into(),
        pk: rng.chance(70),
        unique: None,
        check: None,
        index: None,
        fk: None,
        comment: rng.chance(30).then(|| format!("table {{{name}}}")),
        grant: rng.chance(40),
        trigger: false,
        columns,
    };
    shuffle_extras(&mut table, rng);
    table
}

/// Constraints and indexes on what the table has.
fn shuffle_extras(table: &mut Table, rng: &mut Rng) {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    table.unique = rng.chance(30).then(|| rng.pick(&names).clone());
    let numeric: Vec<String> = table
        .columns
        .iter()
        .filter(|c| matches!(c.kind.as_str(), "integer" | "bigint" | "numeric(10,2)"))
        .map(|c| c.name.clone())
        .collect();
    table.check = (!numeric.is_empty() && rng.chance(30)).then(|| rng.pick(&numeric).clone());
    table.index = rng.chance(40).then(|| rng.pick(&names).clone());
}

impl Schema {
    fn random(rng: &mut Rng) -> Schema {
        let mut schema = Schema {
            mood: vec!["happy".into(), "sad".into()],
            ..Schema::default()
        };
        if rng.chance(50) {
            schema.mood.push("calm".into());
        }
        for i in 0..1 + rng.below(3) {
            schema.tables.push(new_table(&format!("t{i}"), rng));
        }
        for i in 0..rng.below(3) {
            schema.functions.push(Function {
                name: format!("f{i}"),
                procedure: rng.chance(20),
                bigint: rng.chance(30),
                body: rng.below(3) as u8,
                sql: rng.chance(50),
                comment: rng.chance(30).then(|| "a function".into()),
                public: rng.chance(80),
            });
        }
        if rng.chance(50) {
            schema.sequence = Some((1 + rng.below(3) as i64, 1 + rng.below(100) as i64));
        }
        if rng.chance(40) {
            schema.domain = Some((
                rng.chance(50),
                rng.chance(50).then_some(5),
                rng.below(3) as i64,
            ));
        }
        schema.extra_schema = rng.chance(30);
        schema.schema_comment = rng.chance(30).then(|| "generated".into());
        schema.schema_usage = rng.chance(50);
        for i in 0..rng.below(3) {
            let view = schema.random_view(&format!("v{i}"), rng);
            schema.views.push(view);
        }
        schema.extras = Extras::random(rng);
        schema.fix();
        schema
    }

    fn random_view(&self, name: &str, rng: &mut Rng) -> View {
        let table = rng.pick(&self.tables).clone();
        let mut columns: Vec<String> = table
            .columns
            .iter()
            .filter(|_| rng.chance(60))
            .map(|c| c.name.clone())
            .collect();
        if columns.is_empty() {
            columns.push("id".into());
        }
        let on_view = self
            .views
            .iter()
            .find(|v| !v.materialized && rng.chance(40))
            .map(|v| v.name.clone());
        View {
            name: name.into(),
            table: table.name.clone(),
            columns,
            filter: rng.chance(40),
            materialized: on_view.is_none() && rng.chance(25),
            on_view,
            comment: rng.chance(30).then(|| format!("view {name}")),
            grant: rng.chance(40),
        }
    }

    /// Keeps the schema valid: what refers to something gone goes too.
    fn fix(&mut self) {
        let tables: Vec<Table> = self.tables.clone();
        for table in &mut self.tables {
            let has = |c: &Option<String>| {
                c.as_ref()
                    .is_none_or(|c| table.columns.iter().any(|col| &col.name == c))
            };
            if !has(&table.unique) {
                table.unique = None;
            }
            if !has(&table.index) {
                table.index = None;
            }
            let numeric = |c: &String| {
                table.columns.iter().any(|col| {
                    &col.name == c
                        && matches!(col.kind.as_str(), "integer" | "bigint" | "numeric(10,2)")
                })
            };
            if table.check.as_ref().is_some_and(|c| !numeric(c)) {
                table.check = None;
            }
            if let Some(target) = &table.fk
                && !tables
                    .iter()
                    .any(|t| &t.name == target && t.pk && t.name != table.name)
            {
                table.fk = None;
            }
            for column in &mut table.columns {
                if column.kind == "gen.mood"
                    && column
                        .default
                        .as_ref()
                        .is_some_and(|d| !self.mood.iter().any(|m| d == &format!("'{m}'")))
                {
                    column.default = None;
                }
            }
        }
        let mut views: Vec<View> = Vec::new();
        for view in &self.views {
            let Some(table) = self.tables.iter().find(|t| t.name == view.table) else {
                continue;
            };
            let mut view = view.clone();
            view.columns
                .retain(|c| table.columns.iter().any(|col| &col.name == c));
            if view.columns.is_empty() {
                view.columns.push("id".into());
            }
            if view
                .on_view
                .as_ref()
                .is_some_and(|v| !views.iter().any(|w| &w.name == v && !w.materialized))
            {
                view.on_view = None;
            }
            views.push(view);
        }
        self.views = views;
    }

    /// A few random changes.
    fn mutate(&self, rng: &mut Rng) -> Schema {
        let mut b = self.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(20) {
                0 => {
                    let name = format!("t{}", 10 + rng.below(20));
                    if !b.tables.iter().any(|t| t.name == name) {
                        b.tables.push(new_table(&name, rng));
                    }
                }
                1 if b.tables.len() > 1 => {
                    let i = rng.below(b.tables.len());
                    b.tables.remove(i);
                }
                2 => {
                    let t = rng.below(b.tables.len());
                    let name = format!("c{}", 10 + rng.below(20));
                    if !b.tables[t].columns.iter().any(|c| c.name == name) {
                        let column = new_column(&name, rng);
                        b.tables[t].columns.push(column);
                    }
                }
                3 => {
                    let t = rng.below(b.tables.len());
                    if b.tables[t].columns.len() > 2 {
                        let c = 1 + rng.below(b.tables[t].columns.len() - 1);
                        b.tables[t].columns.remove(c);
                    }
                }
                4 => {
                    let t = rng.below(b.tables.len());
                    let c = rng.below(b.tables[t].columns.len());
                    let column = &mut b.tables[t].columns[c];
                    if let Some((_, to)) = SAFE_CHANGES.iter().find(|(f, _)| *f == column.kind)
                        && column.name != "id"
                        && !column.identity
                    {
                        column.kind = to.to_string();
                        column.default = None;
                    }
                }
                5 => {
                    let t = rng.below(b.tables.len());
                    let c = rng.below(b.tables[t].columns.len());
                    let column = &mut b.tables[t].columns[c];
                    if !column.identity && column.name != "id" {
                        column.not_null = !column.not_null;
                    }
                }
                6 => {
                    let t = rng.below(b.tables.len());
                    let c = rng.below(b.tables[t].columns.len());
                    let column = &mut b.tables[t].columns[c];
                    if !column.identity {
                        column.default = match column.default {
                            Some(_) => None,
                            None => Some(literal(&column.kind.clone(), rng)),
                        };
                    }
                }
                7 => {
                    let t = rng.below(b.tables.len());
                    let c = rng.below(b.tables[t].columns.len());
                    let column = &mut b.tables[t].columns[c];
                    if matches!(column.kind.as_str(), "integer" | "bigint") && column.name != "id" {
                        column.identity = !column.identity;
                        if column.identity {
                            column.not_null = true;
                            column.default = None;
                        }
                    }
                }
                8 => {
                    let t = rng.below(b.tables.len());
                    let table = &mut b.tables[t];
                    match rng.below(4) {
                        0 => table.pk = !table.pk,
                        1 => {
                            let target = b
                                .tables
                                .iter()
                                .filter(|o| o.pk)
                                .map(|o| o.name.clone())
                                .collect::<Vec<_>>();
                            let table = &mut b.tables[t];
                            table.fk = if table.fk.is_some() || target.is_empty() {
                                None
                            } else {
                                Some(rng.pick(&target).clone())
                            };
                        }
                        _ => shuffle_extras(table, rng),
                    }
                }
                9 => {
                    let name = format!("v{}", 10 + rng.below(10));
                    if !b.views.iter().any(|v| v.name == name) {
                        let view = b.random_view(&name, rng);
                        b.views.push(view);
                    }
                }
                10 if !b.views.is_empty() => {
                    let i = rng.below(b.views.len());
                    if rng.chance(50) {
                        b.views.remove(i);
                    } else {
                        b.views[i].filter = !b.views[i].filter;
                    }
                }
                11 => {
                    let label = format!("m{{{}}}", rng.below(5));
                    if !b.mood.contains(&label) {
                        let at = rng.below(b.mood.len() + 1);
                        b.mood.insert(at, label);
                    }
                }
                12 => {
                    if b.functions.is_empty() || rng.chance(30) {
                        let name = format!("f{}", 5 + rng.below(5));
                        if !b.functions.iter().any(|f| f.name == name) {
                            b.functions.push(Function {
                                name,
                                procedure: false,
                                bigint: rng.chance(30),
                                body: 0,
                                sql: rng.chance(50),
                                comment: None,
                                public: true,
                            });
                        }
                    } else {
                        let i = rng.below(b.functions.len());
                        match rng.below(6) {
                            0 => {
                                b.functions.remove(i);
                            }
                            5 => b.functions[i].procedure = !b.functions[i].procedure,
                            1 => b.functions[i].bigint = !b.functions[i].bigint,
                            2 => b.functions[i].body = (b.functions[i].body + 1) % 3,
                            3 => b.functions[i].public = !b.functions[i].public,
                            _ => {
                                b.functions[i].comment = match b.functions[i].comment {
                                    Some(_) => None,
                                    None => Some("changed".into()),
                                }
                            }
                        }
                    }
                }
                13 => {
                    b.sequence = match b.sequence {
                        None => Some((2, 10)),
                        Some((i, s)) if rng.chance(50) => Some((i + 1, s)),
                        Some(_) => None,
                    };
                }
                14 => {
                    b.domain = match b.domain {
                        None => Some((true, None, 1)),
                        Some((n, d, c)) => match rng.below(4) {
                            0 => None,
                            1 => Some((!n, d, c)),
                            2 => Some((n, if d.is_some() { None } else { Some(7) }, c)),
                            _ => Some((n, d, (c + 1) % 3)),
                        },
                    };
                }
                15 => {
                    let t = rng.below(b.tables.len());
                    let table = &mut b.tables[t];
                    match rng.below(4) {
                        0 => table.grant = !table.grant,
                        1 => table.trigger = !table.trigger,
                        2 => {
                            table.comment = match table.comment {
                                Some(_) => None,
                                None => Some("new comment".into()),
                            }
                        }
                        _ => {
                            let c = rng.below(table.columns.len());
                            table.columns[c].comment = match table.columns[c].comment {
                                Some(_) => None,
                                None => Some("it's a column".into()),
                            };
                        }
                    }
                }
                17..=19 => b.extras.mutate(rng),
                _ => {
                    match rng.below(3) {
                        0 => b.extra_schema = !b.extra_schema,
                        1 => b.schema_usage = !b.schema_usage,
                        _ => {
                            b.schema_comment = match b.schema_comment {
                                Some(_) => None,
                                None => Some("now with a comment".into()),
                            }
                        }
                    }
                    if let Some(view) = b.views.first_mut() {
                        view.grant = !view.grant;
                        view.comment = view.comment.is_none().then(|| "view note".into());
                    }
                }
            }
        }
        b.fix();
        b
    }

    fn sql(&self, role: &str) -> String {
        let mut sql = String::from(
            "CREATE SCHEMA gen;\nCREATE FOREIGN DATA WRAPPER gen_fdw;\n\
             CREATE SERVER gen_far FOREIGN DATA WRAPPER gen_fdw;\n",
        );
        sql.push_str(&self.extras.sql(role));
        if self.extra_schema {
            sql.push_str("CREATE SCHEMA gen_extra; CREATE TABLE gen_extra.x (a int);\n");
        }
        if let Some(comment) = &self.schema_comment {
            sql.push_str(&format!("COMMENT ON SCHEMA gen IS '{comment}';\n"));
        }
        if self.schema_usage {
            sql.push_str(&format!("GRANT USAGE ON SCHEMA gen TO {role};\n"));
        }
        let labels: Vec<String> = self.mood.iter().map(|m| format!("'{m}'")).collect();
        sql.push_str(&format!(
            "CREATE TYPE gen.mood AS ENUM ({});\n",
            labels.join(", ")
        ));
        if let Some((not_null, default, check)) = &self.domain {
            sql.push_str(&format!(
                "CREATE DOMAIN gen.positive AS integer{}{} CHECK (VALUE > {check});\n",
                default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default(),
                if *not_null { " NOT NULL" } else { "" }
            ));
        }
        if let Some((increment, start)) = &self.sequence {
            sql.push_str(&format!(
                "CREATE SEQUENCE gen.counter INCREMENT BY {increment} START WITH {start};\n"
            ));
        }
        sql.push_str(
            "CREATE FUNCTION gen.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n",
        );
        for f in &self.functions {
            let ty = if f.bigint { "bigint" } else { "integer" };
            let body = match (f.sql, f.body) {
                (true, 0) => "SELECT x + 1".to_string(),
                (true, 1) => "SELECT x * 2".to_string(),
                (true, _) => "SELECT x".to_string(),
                (false, b) => format!("BEGIN PERFORM '{{}}'::text; RETURN x + {b}; END"),
            };
            let lang = if f.sql { "sql" } else { "plpgsql" };
            let what = if f.procedure { "PROCEDURE" } else { "FUNCTION" };
            if f.procedure {
                let body = if f.sql {
                    "SELECT x".to_string()
                } else {
                    format!("BEGIN PERFORM x + {}; END", f.body)
                };
                sql.push_str(&format!(
                    "CREATE PROCEDURE gen.{}(x {ty}) LANGUAGE {lang} AS $$ {body} $$;\n",
                    f.name
                ));
            } else {
                sql.push_str(&format!(
                    "CREATE FUNCTION gen.{}(x {ty}) RETURNS {ty} LANGUAGE {lang} AS $$ {body} $$;\n",
                    f.name
                ));
            }
            if let Some(comment) = &f.comment {
                sql.push_str(&format!(
                    "COMMENT ON {what} gen.{}({ty}) IS '{comment}';\n",
                    f.name
                ));
            }
            if !f.public {
                sql.push_str(&format!(
                    "REVOKE EXECUTE ON {what} gen.{}({ty}) FROM PUBLIC; GRANT EXECUTE ON {what} gen.{}({ty}) TO {role};\n",
                    f.name, f.name
                ));
            }
        }
        for t in &self.tables {
            let columns: Vec<String> = t
                .columns
                .iter()
                .map(|c| {
                    let mut text = format!("{} {}", c.name, c.kind);
                    if c.identity {
                        text.push_str(" GENERATED BY DEFAULT AS IDENTITY");
                    }
                    if let Some(d) = &c.default {
                        text.push_str(&format!(" DEFAULT {d}"));
                    }
                    if c.not_null {
                        text.push_str(" NOT NULL");
                    }
                    text
                })
                .collect();
            sql.push_str(&format!(
                "CREATE TABLE gen.{} ({});\n",
                t.name,
                columns.join(", ")
            ));
            if t.pk {
                sql.push_str(&format!(
                    "ALTER TABLE gen.{} ADD PRIMARY KEY (id);\n",
                    t.name
                ));
            }
            if let Some(c) = &t.unique {
                sql.push_str(&format!(
                    "ALTER TABLE gen.{0} ADD CONSTRAINT {0}_{c}_unique UNIQUE ({c});\n",
                    t.name
                ));
            }
            if let Some(c) = &t.check {
                sql.push_str(&format!(
                    "ALTER TABLE gen.{0} ADD CONSTRAINT {0}_{c}_check CHECK ({c} > 0);\n",
                    t.name
                ));
            }
            if let Some(c) = &t.index {
                sql.push_str(&format!(
                    "CREATE INDEX {0}_{c}_idx ON gen.{0} ({c});\n",
                    t.name
                ));
            }
            for c in &t.columns {
                if let Some(comment) = &c.comment {
                    sql.push_str(&format!(
                        "COMMENT ON COLUMN gen.{}.{} IS '{}';\n",
                        t.name,
                        c.name,
                        comment.replace('\'', "''")
                    ));
                }
            }
            if let Some(comment) = &t.comment {
                sql.push_str(&format!(
                    "COMMENT ON TABLE gen.{} IS '{comment}';\n",
                    t.name
                ));
            }
            if t.grant {
                sql.push_str(&format!(
                    "GRANT SELECT, INSERT ON gen.{} TO {role};\n",
                    t.name
                ));
            }
            if t.trigger {
                sql.push_str(&format!(
                    "CREATE TRIGGER {0}_touch BEFORE UPDATE ON gen.{0} FOR EACH ROW EXECUTE FUNCTION gen.touch();\n",
                    t.name
                ));
            }
        }
        for t in &self.tables {
            if let Some(target) = &t.fk {
                sql.push_str(&format!(
                    "ALTER TABLE gen.{0} ADD CONSTRAINT {0}_fk FOREIGN KEY (id) REFERENCES gen.{target} (id);\n",
                    t.name
                ));
            }
        }
        for v in &self.views {
            let kind = if v.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            let from = match &v.on_view {
                Some(other) => format!("gen.{other} o JOIN gen.{} s ON true", v.table),
                None => format!("gen.{} s", v.table),
            };
            let columns: Vec<String> = v.columns.iter().map(|c| format!("s.{c}")).collect();
            let filter = if v.filter { " WHERE s.id > 10" } else { "" };
            sql.push_str(&format!(
                "CREATE {kind} gen.{} AS SELECT {} FROM {from}{filter};\n",
                v.name,
                columns.join(", ")
            ));
            if let Some(comment) = &v.comment {
                sql.push_str(&format!(
                    "COMMENT ON {kind} gen.{} IS '{comment}';\n",
                    v.name
                ));
            }
            if v.grant {
                sql.push_str(&format!("GRANT SELECT ON gen.{} TO {role};\n", v.name));
            }
        }
        sql
    }
}

struct Databases {
    names: Vec<String>,
}

impl Drop for Databases {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = pum::drop_database(&support::spec(), name, &DropOptions::if_exists());
        }
    }
}

fn snapshot(spec: &ConnectionSpec) -> Snapshot {
    Snapshot::take(&mut spec.connect().unwrap(), &CheckOptions::default()).unwrap()
}

fn apply(spec: &ConnectionSpec, sql: &str, what: &str, context: &str) {
    let mut client = spec.connect().unwrap();
    if let Err(e) = client.batch_execute(&format!("BEGIN;\n{sql}\nCOMMIT;")) {
        panic!("{what} failed: {e:?}\n{context}\n--- {what} ---\n{sql}");
    }
}

/// Two new databases (dropped at the end), A made by `sql_a` and B by `sql_b`.
fn pair(sql_a: &str, sql_b: &str, context: &str) -> (Databases, ConnectionSpec, ConnectionSpec) {
    let server = support::spec();
    let names = vec![unique_name("gen_a"), unique_name("gen_b")];
    let dbs = Databases {
        names: names.clone(),
    };
    for name in &names {
        pum::create_database(&server, name, &CreateOptions::default()).unwrap();
    }
    let (db_a, db_b) = (server.with_dbname(&names[0]), server.with_dbname(&names[1]));
    apply(&db_a, sql_a, "schema A", context);
    apply(&db_b, sql_b, "schema B", context);
    (dbs, db_a, db_b)
}

/// The SQL a changelog file written by autogenerate gives pum: the file (braces escaped)
/// rendered as pum renders a changelog, which must be the script exactly.
fn as_pum_runs_it(script: &ddl::Script) -> String {
    let file = pum::changelog::escape_braces(&script.text());
    let rendered = pum::internal::Parameters::default()
        .render(&file, true)
        .unwrap_or_else(|(at, message)| {
            panic!("pum refuses its own file at {at}: {message}\n{file}")
        });
    assert_eq!(
        rendered,
        script.text(),
        "the file renders to other SQL:\n{file}"
    );
    rendered
}

/// `pg_dump --schema-only` of `spec`, without what differs between two equal schemas:
/// comments, `SET` lines, `\restrict` lines and blank lines.
fn schema_dump(spec: &ConnectionSpec) -> String {
    let mut command = std::process::Command::new("pg_dump");
    command.args(["--schema-only", "--no-owner"]);
    spec.apply_to(&mut command);
    let out = command.bounded_output();
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("--")
                && !l.starts_with("SET ")
                && !l.starts_with("SELECT pg_catalog.set_config")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line-by-line difference of two dumps (for a failure's message).
fn dump_difference(left: &str, right: &str) -> String {
    let (l, r): (BTreeSet<&str>, BTreeSet<&str>) =
        (left.lines().collect(), right.lines().collect());
    let mut out = String::new();
    for line in l.difference(&r) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in r.difference(&l) {
        out.push_str(&format!("+ {line}\n"));
    }
    if out.is_empty() {
        out.push_str("(the same lines, in another order)");
    }
    out
}

/// Writes A → B and B → A, applies them as pum would, and proves that A + up is B (`pum
/// check` and `pg_dump --schema-only`) and that A + up + down is A again (`pum check`).
/// Returns the two scripts.
fn roundtrip(
    db_a: &ConnectionSpec,
    db_b: &ConnectionSpec,
    context: &str,
) -> (ddl::Script, ddl::Script) {
    let before_a = snapshot(db_a);
    let before_b = snapshot(db_b);
    let dump_b = schema_dump(db_b);
    let (model_a, model_b) = ddl::read_both(db_a, db_b, &[]).unwrap();
    let up_context = ddl::context(&mut db_a.connect().unwrap(), &model_a, &model_b).unwrap();
    let down_context = ddl::context(&mut db_b.connect().unwrap(), &model_b, &model_a).unwrap();
    let up = ddl::generate(&model_a, &model_b, &up_context);
    let down = ddl::generate(&model_b, &model_a, &down_context);
    apply(db_a, &as_pum_runs_it(&up), "up", context);
    let report = compare(&snapshot(db_a), &before_b);
    assert!(
        report.is_empty(),
        "A + up differs from B:\n{report}\n{context}\n--- up ---\n{}",
        up.text()
    );
    let dump = schema_dump(db_a);
    assert!(
        dump == dump_b,
        "pg_dump of A + up differs from B's:\n{}\n{context}\n--- up ---\n{}",
        dump_difference(&dump, &dump_b),
        up.text()
    );
    apply(db_a, &as_pum_runs_it(&down), "down", context);
    let report = compare(&snapshot(db_a), &before_a);
    assert!(
        report.is_empty(),
        "A + up + down differs from A:\n{report}\n{context}\n--- down ---\n{}",
        down.text()
    );
    (up, down)
}

/// One pair: A from `seed`, B from A's changes; both scripts proven on the server.
fn prove(seed: u64, role: &str) {
    let mut rng = Rng(seed | 1);
    let a = Schema::random(&mut rng);
    let b = a.mutate(&mut rng);
    let (sql_a, sql_b) = (a.sql(role), b.sql(role));
    let context = format!("seed {seed}\n--- A ---\n{sql_a}\n--- B ---\n{sql_b}");
    let (_dbs, db_a, db_b) = pair(&sql_a, &sql_b, &context);
    let (up, down) = roundtrip(&db_a, &db_b, &context);
    assert!(
        up.warnings.is_empty() && down.warnings.is_empty(),
        "safe changes gave warnings: {:?} {:?}\n{context}",
        up.warnings,
        down.warnings
    );
}

/// A role the generated schemas grant to (roles belong to the server: made once).
fn role() -> String {
    let name = "pum_it_autogenerate_reader".to_string();
    let mut client = support::spec().connect().unwrap();
    let _ = client.batch_execute(&format!(
        "DO $$ BEGIN CREATE ROLE {name} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ));
    name
}

#[test]
fn generated_sql_turns_each_schema_into_the_other_and_back() {
    let cases: u64 = std::env::var("PUM_AUTOGENERATE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let role = role();
    let start: u64 = std::env::var("PUM_AUTOGENERATE_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x5eed_0000);
    let seen: BTreeSet<u64> = (0..cases).map(|i| start + i * 7919).collect();
    for seed in seen {
        prove(seed, &role);
    }
}

#[test]
fn unsafe_changes_are_written_as_commented_warnings() {
    let server = support::spec();
    let names = vec![unique_name("gen_u_a"), unique_name("gen_u_b")];
    let _dbs = Databases {
        names: names.clone(),
    };
    for name in &names {
        pum::create_database(&server, name, &CreateOptions::default()).unwrap();
    }
    let (db_a, db_b) = (server.with_dbname(&names[0]), server.with_dbname(&names[1]));
    apply(
        &db_a,
        "CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('a', 'b');\
         CREATE TABLE s.t (id int, code text, kept int, gone text);\
         INSERT INTO s.t VALUES (1, '7', 1, 'data');\
         CREATE TABLE s.full (x int); INSERT INTO s.full VALUES (1);",
        "A",
        "",
    );
    apply(
        &db_b,
        "CREATE SCHEMA s; CREATE TYPE s.e AS ENUM ('b', 'a');\
         CREATE TABLE s.t (id int, code integer, kept int);",
        "B",
        "",
    );
    let up = ddl::between(&db_a, &db_b, &[]).unwrap();
    let text = up.text();
    assert_eq!(up.warnings.len(), 3, "{text}");
    assert!(
        text.contains(
            "-- pum: WARNING: s.t.code changes from text to integer, which needs a USING \
             expression: check the conversion below\n-- ALTER TABLE s.t ALTER COLUMN code TYPE \
             integer USING code::integer;"
        ),
        "{text}"
    );
    assert!(
        text.contains("-- pum: WARNING: column s.t.gone holds data: dropping it loses it\n-- ALTER TABLE s.t DROP COLUMN gone;"),
        "{text}"
    );
    assert!(
        text.contains("-- pum: WARNING: table s.\"full\" holds rows: dropping it loses them"),
        "{text}"
    );
    assert!(
        text.contains("ALTER TYPE s.e RENAME TO e__pum_old;\n"),
        "{text}"
    );
    assert!(
        text.contains("CREATE TYPE s.e AS ENUM ('b', 'a');\n"),
        "{text}"
    );
    assert!(text.ends_with("DROP TYPE s.e__pum_old;\n"), "{text}");
    // Without the data, the drops are written.
    apply(
        &db_a,
        "DELETE FROM s.t; DELETE FROM s.\"full\";",
        "empty",
        "",
    );
    let up = ddl::between(&db_a, &db_b, &[]).unwrap();
    assert!(
        up.text().contains("ALTER TABLE s.t DROP COLUMN gone;\n"),
        "{}",
        up.text()
    );
    assert!(
        up.text().contains("DROP TABLE s.\"full\";\n"),
        "{}",
        up.text()
    );
}

/// A reproduction: B made from A by `change`, proven both ways with no warning.
fn reproduce(a: &str, change: &str) -> (ddl::Script, ddl::Script) {
    let b = format!("{a}\n{change}");
    let context = format!("--- A ---\n{a}\n--- B ---\n{b}");
    let (_dbs, db_a, db_b) = pair(a, &b, &context);
    let (up, down) = roundtrip(&db_a, &db_b, &context);
    assert!(
        up.warnings.is_empty() && down.warnings.is_empty(),
        "warnings: {:?} {:?}\n{context}\n--- up ---\n{}\n--- down ---\n{}",
        up.warnings,
        down.warnings,
        up.text(),
        down.text()
    );
    (up, down)
}

#[test]
fn braces_anywhere_are_escaped_in_the_file() {
    let (up, _) = reproduce(
        "CREATE SCHEMA s; CREATE TABLE s.t (id int);",
        "ALTER TABLE s.t ADD COLUMN j jsonb DEFAULT '{\"a\": {}}', ADD COLUMN a int[] DEFAULT '{1,2}';\
         COMMENT ON TABLE s.t IS 'with {braces}';\
         CREATE TYPE s.\"e{1}\" AS ENUM ('{x}', 'y}');\
         CREATE TABLE s.\"we{ird}\" (\"c}\" int);\
         CREATE FUNCTION s.f() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN '{}'; -- a } here\n END $$;",
    );
    let file = pum::changelog::escape_braces(&up.text());
    assert!(file.contains("DEFAULT '{{\"a\": {{}}}}'::jsonb"), "{file}");
}

#[test]
fn a_materialized_view_comes_before_its_index_once() {
    let (up, _) = reproduce(
        "CREATE SCHEMA s; CREATE TABLE s.t (id int);",
        "CREATE MATERIALIZED VIEW s.m AS SELECT id FROM s.t; CREATE INDEX m_id ON s.m (id);",
    );
    let text = up.text();
    assert_eq!(text.matches("CREATE INDEX m_id").count(), 1, "{text}");
    assert!(
        text.find("CREATE MATERIALIZED VIEW") < text.find("CREATE INDEX m_id"),
        "{text}"
    );
}

#[test]
fn an_index_on_a_partitioned_table_reaches_its_partitions() {
    let (up, _) = reproduce(
        "CREATE SCHEMA s; CREATE TABLE s.p (id int, at date) PARTITION BY RANGE (at);\
         CREATE TABLE s.p1 PARTITION OF s.p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
        "CREATE INDEX p_id ON s.p (id);\
         CREATE TABLE s.p2 PARTITION OF s.p FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');",
    );
    assert!(!up.text().contains("ON ONLY"), "{}", up.text());
}

#[test]
fn inheritance_with_an_identity_column() {
    reproduce(
        "CREATE SCHEMA s;",
        "CREATE TABLE s.parent (id int GENERATED ALWAYS AS IDENTITY, a text);\
         CREATE TABLE s.child (b int) INHERITS (s.parent);\
         CREATE TABLE s.grandchild (c int GENERATED BY DEFAULT AS IDENTITY) INHERITS (s.child);",
    );
    // An identity column added to a table with children (which do not inherit identities).
    reproduce(
        "CREATE SCHEMA s; CREATE TABLE s.parent (a text); CREATE TABLE s.child (b int) INHERITS (s.parent);",
        "ALTER TABLE s.parent ADD COLUMN n int NOT NULL; ALTER TABLE s.parent ALTER COLUMN n ADD GENERATED ALWAYS AS IDENTITY;",
    );
}

#[test]
fn range_types_are_written_as_types() {
    let (up, down) = reproduce(
        "CREATE SCHEMA s;",
        "CREATE TYPE s.span AS RANGE (SUBTYPE = integer);\
         CREATE TYPE s.fspan AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi, \
           MULTIRANGE_TYPE_NAME = s.fspans);\
         COMMENT ON TYPE s.span IS 'a span';\
         CREATE TABLE s.t (id int, during s.span, many s.fspans);",
    );
    let text = up.text();
    assert!(
        text.contains("CREATE TYPE s.span AS RANGE (SUBTYPE = integer"),
        "{text}"
    );
    assert!(
        !text.contains("FUNCTION"),
        "constructors belong to the type: {text}"
    );
    assert!(down.text().contains("DROP TYPE"), "{}", down.text());
}

#[test]
fn a_partition_detached_is_warned_and_nothing_else_about_it_is_written() {
    let a = "CREATE SCHEMA s; CREATE TABLE s.p (id int, at date, note text) PARTITION BY RANGE (at);\
             CREATE TABLE s.p1 PARTITION OF s.p FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\
             ALTER TABLE s.p ADD CONSTRAINT p_id CHECK (id > 0);\
             CREATE INDEX p_at ON s.p (at); CREATE TABLE s.other (x int);";
    let b =
        format!("{a} ALTER TABLE s.p DETACH PARTITION s.p1; ALTER TABLE s.other ADD COLUMN y int;");
    let (_dbs, db_a, db_b) = pair(a, &b, "");
    let up = ddl::between(&db_a, &db_b, &[]).unwrap();
    let text = up.text();
    assert_eq!(up.warnings.len(), 1, "{text}");
    assert!(
        text.contains("-- pum: WARNING: the partitioning or inheritance of s.p1"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| !l.starts_with("--") && l.contains("p1")),
        "{text}"
    );
    // What follows the warning runs.
    apply(&db_a, &as_pum_runs_it(&up), "up", &text);
    let columns: i64 = db_a
        .connect()
        .unwrap()
        .query_one("SELECT count(*) FROM pg_attribute WHERE attrelid = 's.other'::regclass AND attname = 'y'", &[])
        .unwrap()
        .get(0);
    assert_eq!(columns, 1);
}

#[test]
fn rebuilt_views_and_enums_keep_their_acl_rules_triggers_and_comments() {
    let role = role();
    let a = format!(
        "CREATE SCHEMA s; ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {role};\
         ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO {role};\
         CREATE TYPE s.e AS ENUM ('a', 'b'); REVOKE USAGE ON TYPE s.e FROM PUBLIC;\
         GRANT USAGE ON TYPE s.e TO {role} WITH GRANT OPTION; COMMENT ON TYPE s.e IS 'kinds';\
         CREATE TABLE s.t (id int, a int, k s.e); REVOKE ALL ON s.t FROM {role};\
         CREATE VIEW s.v AS SELECT id, a FROM s.t; REVOKE ALL ON s.v FROM {role};\
         GRANT UPDATE ON s.v TO PUBLIC; COMMENT ON VIEW s.v IS 'the view';\
         ALTER VIEW s.v ALTER COLUMN a SET DEFAULT 5;\
         CREATE RULE r AS ON INSERT TO s.v DO INSTEAD INSERT INTO s.t (id, a) VALUES (new.id, new.a);\
         CREATE FUNCTION s.trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\
         CREATE TRIGGER tr INSTEAD OF UPDATE ON s.v FOR EACH ROW EXECUTE FUNCTION s.trg();"
    );
    let (up, down) = reproduce(
        &a,
        "DROP VIEW s.v; ALTER TABLE s.t ALTER COLUMN a TYPE bigint;\
         ALTER TYPE s.e RENAME TO e_old; CREATE TYPE s.e AS ENUM ('b', 'a');\
         ALTER TABLE s.t ALTER COLUMN k TYPE s.e USING k::text::s.e; DROP TYPE s.e_old;\
         REVOKE USAGE ON TYPE s.e FROM PUBLIC;\
         GRANT USAGE ON TYPE s.e TO pum_it_autogenerate_reader WITH GRANT OPTION; COMMENT ON TYPE s.e IS 'kinds';\
         CREATE VIEW s.v AS SELECT id, a FROM s.t; REVOKE ALL ON s.v FROM pum_it_autogenerate_reader;\
         GRANT UPDATE ON s.v TO PUBLIC; COMMENT ON VIEW s.v IS 'the view';\
         ALTER VIEW s.v ALTER COLUMN a SET DEFAULT 5;\
         CREATE RULE r AS ON INSERT TO s.v DO INSTEAD INSERT INTO s.t (id, a) VALUES (new.id, new.a);\
         CREATE TRIGGER tr INSTEAD OF UPDATE ON s.v FOR EACH ROW EXECUTE FUNCTION s.trg();",
    );
    assert!(up.text().contains("DROP VIEW s.v"), "{}", up.text());
    assert!(down.text().contains("CREATE RULE r"), "{}", down.text());
}

#[test]
fn table_options_force_rls_view_defaults_and_extension_schemas_are_written() {
    reproduce(
        "CREATE SCHEMA s; CREATE SCHEMA s2; CREATE EXTENSION citext WITH SCHEMA s;\
         CREATE TABLE s.t (id int, a int); CREATE VIEW s.v AS SELECT id, a FROM s.t;",
        "ALTER TABLE s.t SET (fillfactor = 70, autovacuum_enabled = false);\
         ALTER TABLE s.t ENABLE ROW LEVEL SECURITY; ALTER TABLE s.t FORCE ROW LEVEL SECURITY;\
         ALTER VIEW s.v ALTER COLUMN a SET DEFAULT 1;\
         ALTER EXTENSION citext SET SCHEMA s2;\
         CREATE TABLE s.n (id int) WITH (fillfactor = 50);",
    );
}

#[test]
fn foreign_tables_are_written() {
    let a = "CREATE SCHEMA s; CREATE FOREIGN DATA WRAPPER pum_it_fdw; \
             CREATE SERVER pum_it_far FOREIGN DATA WRAPPER pum_it_fdw;";
    let (up, down) = reproduce(
        a,
        "CREATE FOREIGN TABLE s.f (id int NOT NULL, name text) SERVER pum_it_far OPTIONS (table_name 'x');\
         COMMENT ON FOREIGN TABLE s.f IS 'far away';",
    );
    assert!(
        up.text().contains("CREATE FOREIGN TABLE s.f"),
        "{}",
        up.text()
    );
    assert!(
        down.text().contains("DROP FOREIGN TABLE s.f"),
        "{}",
        down.text()
    );
}

#[test]
fn the_down_file_leaves_views_alone_that_read_nothing_changed() {
    let (up, down) = reproduce(
        "CREATE SCHEMA s; CREATE TABLE s.t (id int, a int); CREATE VIEW s.v AS SELECT id FROM s.t;",
        "ALTER TABLE s.t ADD COLUMN b int; ALTER TABLE s.t ALTER COLUMN a TYPE bigint;",
    );
    assert!(!up.text().contains("VIEW"), "{}", up.text());
    assert!(!down.text().contains("VIEW"), "{}", down.text());
}
