//! The plain-dump check against what pg_dump writes and what it never writes.

use super::scanner::{NAME_CAP, TAG_CAP};
use super::*;

const DUMP: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\
    SET standard_conforming_strings = on;\n\
    CREATE TABLE public.t (id integer, note text);\n\
    --\n-- Data for Name: t; Type: TABLE DATA\n--\n\n\
    COPY public.t (id, note) FROM stdin;\n1\t\\\\! not a command\n2\t\\N\n\\.\n\n\
    CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$ SELECT '\\! in a body' $$;\n\
    COMMENT ON TABLE public.t IS 'back\\slash';\n\
    --\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc123\n";

#[test]
fn what_pg_dump_writes_passes() {
    assert_eq!(check(DUMP), Ok(()));
    assert_eq!(check("SELECT 1;\n"), Ok(()), "not a dump: no marker needed");
}

#[test]
fn shell_and_other_meta_commands_are_refused_with_their_line() {
    let hostile = DUMP.replace("CREATE TABLE", "\\! touch /tmp/owned\nCREATE TABLE");
    assert_eq!(
        check(&hostile).unwrap_err(),
        "line 7: the psql meta-command \\! is not one pg_dump writes; pum restores plain \
         files only without them"
    );
    assert!(check("SELECT 1; \\! id\n").is_err(), "mid-line too");
    assert!(check("SELECT 1 \\g\n").is_err());
    assert!(check("\\connect other\n").is_err());
    assert!(check("\\i /etc/passwd\n").is_err());
}

#[test]
fn a_truncated_dump_is_refused() {
    let cut = &DUMP[..DUMP.find("CREATE FUNCTION").unwrap()];
    assert!(
        check(cut).unwrap_err().starts_with("an incomplete dump"),
        "{cut}"
    );
    let cut = &DUMP[..DUMP.find("2\t").unwrap()];
    assert!(check(&format!("{cut}\n-- PostgreSQL database dump complete\n")).is_err());
}

/// `text` fed in pieces of the sizes `sizes` gives, cycled.
fn check_in_pieces(text: &[u8], sizes: &[usize]) -> Result<(), String> {
    let mut scanner = Scanner::new();
    let mut rest = text;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        scanner.feed(&rest[..n])?;
        rest = &rest[n..];
    }
    scanner.finish()
}

#[test]
fn pieces_of_any_size_give_the_same_answer() {
    let hostile = DUMP.replace("CREATE TABLE", "\\! touch /tmp/owned\nCREATE TABLE");
    let cut = &DUMP[..DUMP.find("CREATE FUNCTION").unwrap()];
    for text in [DUMP, hostile.as_str(), cut, "SELECT E'\\'' ; \\! id\n"] {
        let whole = check(text);
        for size in 1..=9 {
            assert_eq!(
                check_in_pieces(text.as_bytes(), &[size]),
                whole,
                "{size}: {text}"
            );
        }
    }
}

#[test]
fn lines_longer_than_a_chunk_are_read_through() {
    let long = "x".repeat(3 * CHUNK);
    let text = DUMP.replace("1\t\\\\! not", &format!("1\t{long} \\! not"));
    assert!(text.len() > 3 * CHUNK);
    assert_eq!(check_in_pieces(text.as_bytes(), &[CHUNK]), Ok(()));
    let comment = format!("-- {long}\n\\! id\n");
    assert_eq!(
        check_in_pieces(comment.as_bytes(), &[CHUNK, 7]).unwrap_err(),
        "line 2: the psql meta-command \\! is not one pg_dump writes; pum restores plain \
         files only without them"
    );
    let quoted = format!("SELECT '{long}\n\\! not a command';\n\\! id\n");
    assert!(
        check_in_pieces(quoted.as_bytes(), &[CHUNK - 1])
            .unwrap_err()
            .starts_with("line 3:")
    );
}

#[test]
fn what_the_scanner_keeps_is_bounded() {
    let tag = format!("${}$", "t".repeat(TAG_CAP + 1));
    assert!(check(&format!("SELECT {tag} x {tag};")).is_err());
    let name = "x".repeat(10 * NAME_CAP);
    let err = check(&format!("\\{name}\n")).unwrap_err();
    assert!(err.len() < 200, "{err}");
}

#[test]
fn text_must_be_utf8_also_across_pieces() {
    let text = "SELECT 'é';\n".as_bytes();
    assert_eq!(check_in_pieces(text, &[9, 1]), Ok(()));
    let mut bad = text.to_vec();
    bad[9] = 0xff;
    assert_eq!(
        check_in_pieces(&bad, &[3]).unwrap_err(),
        "not UTF-8 text (byte 9)"
    );
    assert_eq!(
        check_in_pieces(&text[..9], &[4]).unwrap_err(),
        "not UTF-8 text (byte 9)",
        "cut inside a character"
    );
}

#[test]
fn copy_data_holds_only_the_escapes_pg_dump_writes() {
    // What COPY writes: accepted.
    let written = "COPY t FROM stdin;\n1\t\\N\ta\\tb\\\\c\\n\\r\\b\\f\\v\\011\n\\.\n";
    assert_eq!(check(written), Ok(()));
    // A line psql would run as a meta-command if the COPY failed (restore -x goes on
    // past that): refused, at the start of a line and within one.
    for data in [
        "\\! touch /tmp/x",
        "1\tx \\! touch /tmp/x",
        "\\o /tmp/x",
        "1\\",
    ] {
        let err = check(&format!("COPY t FROM stdin;\n{data}\n\\.\n")).unwrap_err();
        assert!(err.starts_with("line 2: COPY data holds "), "{data}: {err}");
    }
}

#[test]
fn copy_is_told_by_its_words() {
    let data = "\\\\! data, not a command\n\\.\n";
    assert_eq!(check(&format!("COPY t FROM stdin;\n{data}")), Ok(()));
    assert_eq!(check(&format!("copy t (a) from/**/STDIN;\n{data}")), Ok(()));
    assert_eq!(
        check(&format!(
            "/* x */ COPY \"t\" FROM stdin WITH (FORMAT text);\n{data}"
        )),
        Ok(())
    );
    for not_copy in [
        "COPY t FROM '/tmp/stdin';",
        "COPY t TO stdout;",
        "SELECT 'COPY t FROM stdin';",
        "COPY t /* FROM stdin */ FROM '/x';",
        "SELECT copy FROM stdin;",
    ] {
        assert!(check(&format!("{not_copy}\n{data}")).is_err(), "{not_copy}");
    }
}

#[test]
fn the_sink_never_gets_a_byte_of_a_refused_chunk() {
    let mut text = DUMP.as_bytes().to_vec();
    let filler = format!("-- {}\n", "y".repeat(CHUNK));
    text.splice(0..0, filler.bytes());
    let at = text.len();
    text.extend_from_slice(b"\\! touch /tmp/owned\n");
    let mut received = 0usize;
    let stopped = stream(&mut text.as_slice(), |chunk| {
        received += chunk.len();
        Ok(ControlFlow::Continue(()))
    });
    assert!(matches!(stopped, Err(Stopped::Refused(_))), "{stopped:?}");
    assert!(received < at, "{received} of {at}");
    let whole = stream(&mut DUMP.as_bytes(), |_| Ok(ControlFlow::Continue(())));
    assert_eq!(whole.unwrap().bytes, DUMP.len() as u64);
}

proptest::proptest! {
    #[test]
    fn any_text_in_any_pieces_gives_the_answer_of_the_whole(
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "COPY t FROM stdin;", "copy", "from", "stdin", "\n", "\\.", "\\!", "\\restrict x",
            "'", "\"", "E'", "\\", "$$", "$a$", "$1", "--", "/*", "*/", ";", " ", "x", "é",
            "\r", "-- PostgreSQL database dump\n", "-- PostgreSQL database dump complete\n",
            "a line of COPY data or a comment longer than the first bytes kept of each line",
        ]), 0..60),
        sizes in proptest::collection::vec(1usize..20, 1..8),
    ) {
        let text: String = tokens.concat();
        proptest::prop_assert_eq!(check_in_pieces(text.as_bytes(), &sizes), check(&text));
    }
}
