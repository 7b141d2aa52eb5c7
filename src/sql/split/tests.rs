//! The splitter's tests: cases, and properties against the whole-text split.

use super::*;
use proptest::prelude::*;

fn sqls(text: &str) -> Vec<String> {
    split(text).unwrap().into_iter().map(|s| s.sql).collect()
}

#[test]
fn copy_from_the_client_and_prepared_transactions_are_refused() {
    for statement in [
        "COPY t FROM stdin;",
        "copy t (a, b) from STDIN with (format csv);",
        "COPY (SELECT 1) TO STDOUT;",
        "PREPARE TRANSACTION 'x';",
        "COMMIT PREPARED 'x';",
    ] {
        assert!(forbidden(statement).is_some(), "{statement}");
    }
    for statement in [
        "COPY t FROM '/srv/data.csv';",
        "PREPARE q AS SELECT 1;",
        "SELECT 'copy from stdin';",
    ] {
        assert_eq!(forbidden(statement), None, "{statement}");
    }
}

#[test]
fn splits_on_semicolons_and_locates_statements() {
    let text = "-- header\nCREATE TABLE a (x int);\n\n  INSERT INTO a VALUES (1);\nSELECT 2";
    let statements = split(text).unwrap();
    assert_eq!(
        statements
            .iter()
            .map(|s| (s.sql.as_str(), s.line, s.column))
            .collect::<Vec<_>>(),
        vec![
            ("CREATE TABLE a (x int);", 2, 1),
            ("INSERT INTO a VALUES (1);", 4, 3),
            ("SELECT 2", 5, 1),
        ]
    );
}

#[test]
fn statements_come_one_at_a_time_up_to_an_unterminated_quote() {
    let text = "SELECT 1;\n  SELECT 2;\nSELECT 'open;\nSELECT 3;";
    let mut statements = statements(text);
    let first = statements.next().unwrap().unwrap();
    assert_eq!((first.sql, first.line, first.column), ("SELECT 1;", 1, 1));
    let second = statements.next().unwrap().unwrap();
    assert_eq!(
        (second.sql, second.line, second.column),
        ("SELECT 2;", 2, 3)
    );
    let err = statements.next().unwrap().unwrap_err();
    assert_eq!((err.line, err.column), (3, 8));
    assert!(statements.next().is_none());
    assert_eq!(split(text).unwrap_err(), err);
}

#[test]
fn semicolons_inside_quotes_and_comments_do_not_split() {
    let text = r#"SELECT 'a;b', E'c\';d', "e;f" FROM t; -- g;h
/* i; /* nested; */ j; */ SELECT $$k;l$$, $fn$ m; $$ ; $fn$;
SELECT $1;"#;
    assert_eq!(
        sqls(text),
        vec![
            r#"SELECT 'a;b', E'c\';d', "e;f" FROM t;"#.to_string(),
            // Comments before a statement are not part of it.
            "SELECT $$k;l$$, $fn$ m; $$ ; $fn$;".to_string(),
            "SELECT $1;".to_string(),
        ]
    );
}

#[test]
fn standard_strings_do_not_treat_backslash_as_escape() {
    assert_eq!(
        sqls(r"SELECT 'a\'; SELECT 2;"),
        vec![r"SELECT 'a\';", "SELECT 2;"]
    );
    // "name'…" is an identifier followed by a string, not an E-string.
    assert_eq!(
        sqls(r"SELECT some'x\'; SELECT 2;"),
        vec![r"SELECT some'x\';", "SELECT 2;"]
    );
}

#[test]
fn begin_atomic_bodies_stay_whole() {
    let text = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql\n\
                BEGIN ATOMIC\n  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT 2;\nEND;\n\
                SELECT f(1);";
    let got = sqls(text);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].ends_with("END;"), "{got:?}");
    assert_eq!(got[1], "SELECT f(1);");
    // A DO block with BEGIN … END in dollar quotes, and a plain BEGIN.
    assert_eq!(sqls("DO $$ BEGIN NULL; END $$; BEGIN; COMMIT;").len(), 3);
}

#[test]
fn unterminated_constructs_are_located() {
    let err = split("SELECT 1;\nSELECT 'oops;\n").unwrap_err();
    assert_eq!(
        (err.line, err.column, err.message.as_str()),
        (2, 8, "unterminated quoted string")
    );
    let err = split("SELECT $body$ x").unwrap_err();
    assert_eq!(err.message, "unterminated dollar-quoted string $body$");
    let err = split("/* /* */").unwrap_err();
    assert_eq!(err.message, "unterminated /* comment");
    let err = split("SELECT \"x").unwrap_err();
    assert_eq!(err.message, "unterminated quoted identifier");
}

#[test]
fn comment_only_pieces_are_not_statements() {
    assert!(sqls("-- nothing\n/* here */\n;\n").is_empty());
}

#[test]
fn transaction_control_and_search_path_are_forbidden() {
    for sql in [
        "BEGIN;",
        "begin transaction;",
        "START TRANSACTION",
        "COMMIT",
        "end;",
        "ROLLBACK;",
        "-- c\n  Commit;",
    ] {
        assert!(
            forbidden(sql).unwrap().starts_with("transaction control"),
            "{sql}"
        );
    }
    let pg_dump = "SELECT pg_catalog.set_config( 'search_path', '', false);";
    assert!(forbidden(pg_dump).unwrap().contains("search_path"));
    for sql in [
        "CREATE TABLE begin_x (x int)",
        "DO $$ BEGIN NULL; END $$;",
        "SELECT set_config('work_mem', '1MB', true)",
    ] {
        assert_eq!(forbidden(sql), None, "{sql}");
    }
}

/// Text made of SQL-ish fragments, including every kind of quote.
pub(in crate::sql) fn sqlish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("SELECT 1".to_string()),
        Just(";".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("é".to_string()),
        Just("-- c;\n".to_string()),
        Just("/* a; /* b; */ */".to_string()),
        "'[a-z; ]{0,5}'".prop_map(|s| s),
        "\"[a-z; ]{0,5}\"".prop_map(|s| s),
        "\\$q\\$[a-z; ]{0,5}\\$q\\$".prop_map(|s| s),
        "E'[a-z; ]{0,3}\\\\'[a-z; ]{0,3}'".prop_map(|s| s),
        Just("CREATE FUNCTION f() BEGIN ATOMIC SELECT 1; END".to_string()),
    ];
    // Joined by spaces, as tokens are: 1E'x' would lex differently.
    prop::collection::vec(fragment, 0..20).prop_map(|v| v.join(" "))
}

proptest! {
    #[test]
    fn statements_are_located_as_line_column_locates_them(text in sqlish()) {
        if let Ok(statements) = split(&text) {
            for s in statements {
                prop_assert_eq!((s.line, s.column), line_column(&text, s.offset));
            }
        }
    }

    #[test]
    fn statements_one_at_a_time_are_those_split_gives(text in sqlish()) {
        let one_by_one: Vec<Statement> =
            statements(&text).map(|s| s.unwrap().to_statement()).collect();
        prop_assert_eq!(one_by_one, split(&text).unwrap());
    }

    #[test]
    fn pieces_join_back_to_the_text(text in sqlish()) {
        let ranges = split_ranges(&text).unwrap();
        let joined: String = ranges.iter().map(|r| &text[r.clone()]).collect();
        prop_assert_eq!(joined, text.clone());
        for r in &ranges[..ranges.len().saturating_sub(1)] {
            prop_assert!(text[r.clone()].ends_with(';'));
        }
    }

    #[test]
    fn no_split_inside_quotes(inner in "[a-z; ]{0,12}", before in "[a-z ]{0,5}") {
        for quoted in [format!("'{inner}'"), format!("\"{inner}\""), format!("$t${inner}$t$")] {
            // A space before: "a$t$" would be one identifier, as in PostgreSQL.
            let text = format!("SELECT {before} {quoted}; SELECT 2;");
            let got = sqls(&text);
            prop_assert_eq!(got.len(), 2);
            prop_assert_eq!(&got[0], &format!("SELECT {before} {quoted};"));
        }
    }

    #[test]
    fn never_panics(text in "\\PC{0,40}") {
        let _ = split(&text);
    }
}
