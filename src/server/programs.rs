//! The server programs (`initdb`, `pg_ctl`, `postgres`) and the account they run as.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::os_user::{self, Account};

/// The programs a server needs, all looked for in one directory.
const PROGRAMS: &[&str] = &["initdb", "pg_ctl", "postgres"];

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `configured` (or
/// `PUM_PG_BINDIR`), else `initdb` on `PATH`, else `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
///
/// # Errors
/// [`Error::ToolNotFound`] saying what to install or set.
pub fn find_bindir(configured: Option<&Path>) -> Result<PathBuf> {
    let has_all = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    let configured = configured
        .map(Path::to_path_buf)
        .or_else(|| crate::settings::path("PUM_PG_BINDIR"));
    if let Some(dir) = configured {
        if has_all(&dir) {
            return Ok(dir);
        }
        return Err(Error::ToolNotFound {
            tool: "initdb".into(),
            hint: format!(
                "{} does not hold initdb, pg_ctl and postgres (PUM_PG_BINDIR)",
                dir.display()
            ),
        });
    }
    if let Some(dir) = which::which("initdb")
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| has_all(d))
    {
        return Ok(dir);
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let packaged =
        crate::dump::newest_packaged("initdb").and_then(|p| p.parent().map(Path::to_path_buf));
    [from_pg_config, packaged]
        .into_iter()
        .flatten()
        .find(|dir| has_all(dir))
        .ok_or_else(|| Error::ToolNotFound {
            tool: "initdb".into(),
            hint: "the PostgreSQL server programs (initdb, pg_ctl, postgres) are needed: \
                   install them (Debian and Ubuntu: apt-get install postgresql) or set \
                   PUM_PG_BINDIR to their directory"
                .into(),
        })
}

/// The major version of the server programs in `bindir` (`15` for 15.4).
pub(crate) fn major_version(bindir: &Path) -> Result<u32> {
    let program = bindir.join("postgres");
    let output = Command::new(&program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(&program, e))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.split(['.', 'b', 'r']).next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::ServerStart {
            message: format!(
                "cannot read the version of {}: it printed \"{}\"",
                program.display(),
                text.trim()
            ),
            code: None,
        })
}

/// The account the server runs as: `None` means this process's own. As root, the
/// `PUM_SERVER_USER` account, else `postgres`, else `nobody`: PostgreSQL refuses root.
pub(crate) fn server_account(wanted: Option<&str>) -> Result<Option<Account>> {
    if os_user::effective_uid() != Some(0) {
        return Ok(None);
    }
    let names: Vec<String> = match wanted {
        Some(name) => vec![name.to_string()],
        None => vec!["postgres".into(), "nobody".into()],
    };
    for name in &names {
        if let Some(account) = os_user::by_name(name) {
            return Ok(Some(account));
        }
    }
    Err(Error::ServerStart {
        message: format!(
            "PostgreSQL refuses to run as root and no account to run it as was found (tried \
             {}); create one or set PUM_SERVER_USER",
            names.join(", ")
        ),
        code: None,
    })
}

/// A command for `program`, run as `account` when there is one.
pub(crate) fn command_as(program: &Path, account: Option<&Account>) -> Command {
    let mut command = Command::new(program);
    if let Some(account) = account {
        use std::os::unix::process::CommandExt;
        command.uid(account.uid).gid(account.gid);
    }
    command.stdin(Stdio::null());
    command
}

/// Whether `account` can reach `path` (search permission on every ancestor). Ignores
/// supplementary groups and ACLs, so it errs on the side of "cannot".
/// The first directory on the way to `path` (from the root) that `account` may not pass
/// through, with its mode; none when every existing one lets it through (those not made
/// yet are made with the right owner).
pub(crate) fn blocking_ancestor(account: &Account, path: &Path) -> Option<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find_map(|dir| {
        let meta = std::fs::metadata(dir).ok()?;
        let mode = meta.mode();
        let passes = if meta.uid() == account.uid {
            mode & 0o100 != 0
        } else if meta.gid() == account.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        (!passes).then(|| (dir.to_path_buf(), mode & 0o7777))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindir_that_lacks_the_programs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_bindir(Some(dir.path())).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "initdb not found: {} does not hold initdb, pg_ctl and postgres (PUM_PG_BINDIR)",
                dir.path().display()
            )
        );
    }

    #[test]
    fn traversal_follows_the_permission_bits() {
        use std::os::unix::fs::PermissionsExt;
        let stranger = Account {
            name: "stranger".into(),
            uid: 4_000_000,
            gid: 4_000_000,
            home: PathBuf::from("/nonexistent"),
        };
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(blocking_ancestor(&stranger, &inner.join("not-yet")), None);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            blocking_ancestor(&stranger, &inner),
            Some((dir.path().to_path_buf(), 0o700))
        );
    }
}
