//! SQL files as editors save them: a UTF-8 byte order mark at the start is dropped, as
//! psql drops it, and is no part of the checksum.

use std::process::{Command, Output};

use crate::support::output::ok;
use crate::support::{Bounded, ScratchDb};

const BOM: &str = "\u{feff}";

fn pum(db: &ScratchDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pum"))
        .args(["-p", &db.spec().url()])
        .args(args)
        .bounded_output()
}

fn md5_hex(text: &str) -> String {
    let out = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            Ok(crate::support::child::wait_output(child))
        })
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_byte_order_mark_is_not_sql_nor_part_of_the_checksum() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let d = dir.display().to_string();
    let text = "CREATE TABLE t (x int);\n";
    std::fs::write(dir.join(".pum.yaml"), "pum: {module: m}\n").unwrap();
    std::fs::create_dir_all(dir.join("changelogs/1.0.0")).unwrap();
    let file = dir.join("changelogs/1.0.0/01.sql");
    std::fs::write(&file, format!("{BOM}{text}")).unwrap();
    let db = ScratchDb::new("bom", "");
    ok(&pum(&db, &["-d", &d, "install"]));
    assert_eq!(db.strings("SELECT count(*)::text FROM t"), ["0"]);
    // Recorded as the text without the mark: the same file saved either way is unchanged.
    assert_eq!(
        db.strings("SELECT value #>> '{}' FROM public.pum_migrations, jsonb_each(file_checksums)"),
        [pum::changelog::checksum(text)]
    );
    std::fs::write(&file, text).unwrap();
    ok(&pum(&db, &["-d", &d, "validate"]));
    std::fs::write(&file, format!("{BOM}{text}")).unwrap();
    ok(&pum(&db, &["-d", &d, "validate"]));
    std::fs::write(&file, format!("{BOM}CREATE TABLE t (x bigint);\n")).unwrap();
    assert_eq!(pum(&db, &["-d", &d, "validate"]).status.code(), Some(1));

    // A pum 0.x SQL delta too: its MD5 is of the text without the mark.
    let deltas = tempfile::tempdir().unwrap();
    let delta = deltas.path().join("delta_1.0.0_a.sql");
    std::fs::write(&delta, format!("{BOM}CREATE TABLE d (x int);\n")).unwrap();
    let db = ScratchDb::new("bom0x", "");
    // pum 0.x's form: the verb first.
    let zero_x = |verb: &str, more: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pum"))
            .args([verb, "-p", &db.spec().url(), "-t", "public.upgrades", "-d"])
            .arg(deltas.path())
            .args(more)
            .bounded_output()
    };
    ok(&zero_x("baseline", &["-b", "0.9.0"]));
    ok(&zero_x("upgrade", &[]));
    assert_eq!(
        db.strings("SELECT checksum FROM public.upgrades WHERE version = '1.0.0'"),
        [md5_hex("CREATE TABLE d (x int);\n")]
    );
    assert_eq!(db.strings("SELECT count(*)::text FROM d"), ["0"]);
}
