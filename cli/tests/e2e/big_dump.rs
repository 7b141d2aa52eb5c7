//! `pum restore` of plain dumps larger than the memory it may use: the file is checked
//! and handed to psql in pieces, never held whole.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{self, ScratchDb};

/// Writes a plain dump of table `public.big` like pg_dump's: `rows` rows of 200 bytes,
/// then one row `long` bytes long (one line longer than any piece pum reads), a function
/// whose body holds a backslash, and a string with one; returns the file's size.
fn write_dump(path: &Path, rows: u64, long: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(
        b"--\n-- PostgreSQL database dump\n--\n\n\
          SET standard_conforming_strings = on;\n\
          CREATE TABLE public.big (id bigint, payload text);\n\
          CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$ SELECT '\\! in a body' $$;\n\
          COMMENT ON TABLE public.big IS 'back\\slash';\n\n\
          COPY public.big (id, payload) FROM stdin;\n",
    )
    .unwrap();
    let payload = "x".repeat(200);
    for i in 0..rows {
        writeln!(f, "{i}\t{payload}").unwrap();
    }
    writeln!(f, "{rows}\t{}", "y".repeat(long)).unwrap();
    f.write_all(b"\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n")
        .unwrap();
    f.flush().unwrap();
    drop(f);
    std::fs::metadata(path).unwrap().len()
}

/// `pum -p URL restore FILE`, its data segment limited to `limit` bytes (RLIMIT_DATA:
/// heap and private mappings, inherited by psql), so that a pum holding the file in
/// memory dies with an allocation failure.
fn restore_with_memory_limit(url: &str, file: &Path, limit: u64) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pum"));
    command.args(["-p", url, "restore"]).arg(file);
    limit_data(&mut command, limit);
    support::output_within(&mut command, Duration::from_secs(1800))
}

#[cfg(target_os = "linux")]
fn limit_data(command: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    #[repr(C)]
    struct Rlimit {
        current: u64,
        max: u64,
    }
    unsafe extern "C" {
        fn setrlimit(resource: i32, limit: *const Rlimit) -> i32;
    }
    const RLIMIT_DATA: i32 = 2;
    // SAFETY: setrlimit is async-signal-safe and the closure allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let rlimit = Rlimit {
                current: limit,
                max: limit,
            };
            if setrlimit(RLIMIT_DATA, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn limit_data(_: &mut Command, _: u64) {}

fn restore_and_verify(rows: u64, long: usize, limit: u64) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.sql");
    let size = write_dump(&file, rows, long);
    assert!(
        size > limit,
        "the dump ({size} bytes) is larger than the memory pum may use ({limit})"
    );
    let target = ScratchDb::new("bigplain", "");
    let started = std::time::Instant::now();
    let out = restore_with_memory_limit(&target.spec().url(), &file, limit);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        target.strings(
            "SELECT count(*)::text || ' ' || sum(length(payload))::text || ' ' || max(id)::text \
             FROM public.big"
        ),
        [format!("{} {} {rows}", rows + 1, rows * 200 + long as u64)]
    );
    assert_eq!(
        target.strings("SELECT public.f() || ' ' || obj_description('public.big'::regclass)"),
        ["\\! in a body back\\slash"]
    );
    eprintln!(
        "restored a plain dump of {size} bytes in {took:?} with at most {limit} bytes of data"
    );
}

#[test]
fn a_plain_dump_larger_than_the_memory_pum_may_use_is_restored() {
    // 48 MiB of COPY data and a 3 MiB line, under a 24 MiB data limit.
    restore_and_verify(240_000, 3 << 20, 24 << 20);
}

/// The case of issue 20: a plain dump over 1 GiB (the old limit of what pum read),
/// restored with 64 MiB of data. Minutes and 1.1 GiB of disk: only with
/// `PUM_TEST_HUGE_DUMP=1`.
#[test]
fn a_plain_dump_over_one_gib_is_restored() {
    if std::env::var_os("PUM_TEST_HUGE_DUMP").is_none() {
        eprintln!("skipped: set PUM_TEST_HUGE_DUMP=1 to restore a 1.1 GiB plain dump");
        return;
    }
    restore_and_verify(5_500_000, 16 << 20, 64 << 20);
}
