//! The statement splitter against PostgreSQL's own parser: texts of generated statements
//! full of the characters that fool naive splitters (`;` in strings, identifiers, comments
//! and dollar quotes; quotes in comments; nested comments; E-string escapes) split into
//! exactly the statements they were made of, and the server reads each piece as one
//! statement (the extended protocol refuses a piece holding two) giving back the values
//! written into it.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use pum::internal::split::split;
use pum::testing::TestDb;

/// Text made of the characters that matter to a lexer.
fn tricky() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(";"),
            Just("'"),
            Just("\""),
            Just("$"),
            Just("$$"),
            Just("--"),
            Just("/*"),
            Just("*/"),
            Just("\\"),
            Just("\n"),
            Just("{"),
            Just("é"),
            Just("a"),
            Just(" "),
        ],
        0..12,
    )
    .prop_map(|pieces| pieces.concat())
}

/// One value written as one of PostgreSQL's literal forms, and the value it stands for.
fn literal() -> impl Strategy<Value = (String, String)> {
    (tricky(), 0..3u8).prop_map(|(value, form)| {
        let written = match form {
            0 => format!("'{}'", value.replace('\'', "''")),
            1 => format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
            // A dollar quote, unless the value has a $ of its own.
            _ if value.contains('$') => format!("'{}'", value.replace('\'', "''")),
            _ => format!("$q${value}$q$"),
        };
        (written, value)
    })
}

/// A comment holding tricky text, of either kind.
fn comment() -> impl Strategy<Value = String> {
    (tricky(), any::<bool>()).prop_map(|(text, line)| {
        if line {
            format!("-- {}\n", text.replace('\n', " "))
        } else {
            // Nested comments are fine; an unbalanced */ or /* would end or open one.
            let safe = text.replace("*/", "* /").replace("/*", "/ *");
            format!("/* outer /* {safe} */ */")
        }
    })
}

/// A statement: `SELECT <literal> AS "<identifier>"`, with comments around it.
fn statement() -> impl Strategy<Value = (String, String)> {
    (literal(), tricky(), comment(), comment()).prop_map(
        |((written, value), ident, before, inside)| {
            let ident = ident.replace('"', "\"\"");
            (
                format!("{before}SELECT {inside} {written}::text AS \"x{ident}\";\n"),
                value,
            )
        },
    )
}

#[pum::pum_test]
fn pieces_are_what_the_server_reads_as_one_statement(db: TestDb) {
    let client = std::cell::RefCell::new(db.client());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    });
    let strategy = proptest::collection::vec(statement(), 1..6);
    runner
        .run(&strategy, |statements| {
            let text: String = statements.iter().map(|(s, _)| s.as_str()).collect();
            let pieces = split(&text).unwrap();
            prop_assert_eq!(pieces.len(), statements.len(), "{}", text);
            let mut client = client.borrow_mut();
            for (piece, (_, value)) in pieces.iter().zip(&statements) {
                // Prepared: the server refuses two statements in one piece.
                let prepared = client.prepare(&piece.sql);
                prop_assert!(prepared.is_ok(), "{:?}: {:?}", piece.sql, prepared.err());
                let row = client.query_one(&prepared.unwrap(), &[]).unwrap();
                prop_assert_eq!(&row.get::<_, String>(0), value, "{}", piece.sql);
            }
            Ok(())
        })
        .unwrap();
}
