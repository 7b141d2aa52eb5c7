//! SQL files a test's database is made of or given (base files, fixtures,
//! `TestDb::execute_file`), run whole; a plain dump restored with psql. Errors name the file
//! as the test's attribute wrote it.

use std::path::{Path, PathBuf};

use crate::connect::ConnectionSpec;
use crate::error::{Error, Result, server_message};

/// Whether `file` is a psql script (a plain dump: pg_dump writes `\restrict` and
/// `\connect` lines) rather than SQL: a line of its first 64 KiB starts with a backslash.
fn is_psql_script(file: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    crate::files::open_regular(file)?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(file, e))?;
    Ok(head.starts_with(b"\\") || head.windows(2).any(|w| w == b"\n\\"))
}

/// Runs whole SQL files (fixtures, base files) as they are; an error names file:line:column,
/// the file as the test's attribute wrote it ([`as_written`]). A plain dump (a psql
/// script) is restored with psql instead.
pub(crate) fn run_files(target: &ConnectionSpec, files: &[impl AsRef<Path>]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let mut client = target.connect()?;
    for file in files {
        let file = file.as_ref();
        run_file(&mut client, Some(target), file).map_err(|e| naming_as_written(e, file))?;
    }
    Ok(())
}

/// Runs whole SQL files in `client`'s session as [`run_files`] does, inside whatever
/// transaction it is in (`isolation = "transaction"`); a psql script, which psql runs in
/// a session of its own, is refused.
pub(crate) fn run_files_in(
    client: &mut postgres::Client,
    files: &[impl AsRef<Path>],
) -> Result<()> {
    for file in files {
        let file = file.as_ref();
        run_file(client, None, file).map_err(|e| naming_as_written(e, file))?;
    }
    Ok(())
}

/// Runs one file of [`run_files`]: a psql script with psql on `target` (refused without
/// one).
fn run_file(
    client: &mut postgres::Client,
    target: Option<&ConnectionSpec>,
    file: &Path,
) -> Result<()> {
    if is_psql_script(file)? {
        // What pg_dump --format=plain (and `pum dump -f plain`) writes: psql runs it,
        // after dump/plain.rs has checked it holds only what pg_dump writes.
        let Some(target) = target else {
            return Err(Error::Unsupported {
                message: format!(
                    "{} is a psql script (a plain dump), which psql runs in a session of its \
                     own: it cannot run inside the test's transaction (isolation = \
                     \"transaction\"); give the test the default isolation, or make it a \
                     fixture of the template",
                    file.display()
                ),
            });
        };
        crate::dump::restore(target, file, &crate::dump::RestoreOptions::default())?;
        return Ok(());
    }
    let text = crate::changelog::SqlText::read(file)?.text;
    if let Err(e) = client.batch_execute(&text) {
        let (line, column) = match e.as_db_error().and_then(|d| d.position()) {
            Some(postgres::error::ErrorPosition::Original(p)) => {
                let offset: usize = text
                    .chars()
                    .take((*p as usize).saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                crate::sql::split::line_column(&text, offset)
            }
            _ => (1, 1),
        };
        return Err(Error::Statement {
            file: file.display().to_string(),
            line,
            column,
            message: server_message(&e),
            code: e.code().map(|c| c.code().to_string()),
            statement: None,
        });
    }
    Ok(())
}

/// `path` as the test's attribute wrote it: relative to `CARGO_MANIFEST_DIR` when it lies
/// there (`#[pum_test]` hands the runtime attribute paths made absolute from it, and
/// cargo sets it for the tests it runs), else as given.
fn as_written(path: &Path) -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|root| path.strip_prefix(root).ok().map(Path::to_path_buf))
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

/// `error`, naming `file` as the attribute wrote it ([`as_written`]) where it names it.
fn naming_as_written(error: Error, file: &Path) -> Error {
    let written = as_written(file);
    if written == file {
        return error;
    }
    let (absolute, relative) = (file.display().to_string(), written.display().to_string());
    match error {
        Error::Statement {
            file: named,
            line,
            column,
            message,
            code,
            statement,
        } => Error::Statement {
            file: named.replace(&absolute, &relative),
            line,
            column,
            message,
            code,
            statement,
        },
        Error::Io { path, error } if path == file => Error::Io {
            path: written,
            error,
        },
        Error::PgRestore {
            tool,
            status,
            stderr,
        } => Error::PgRestore {
            tool,
            status,
            stderr: stderr.replace(&absolute, &relative),
        },
        other => other,
    }
}
