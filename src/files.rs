//! Files pum reads and writes, read and written so that nothing hostile or half-made gets
//! through: only regular files are read, and only up to a size; a file pum writes replaces
//! the old one only once complete, and never replaces a device or a FIFO.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The largest configuration, service or password file pum reads.
pub(crate) const SMALL_FILE: u64 = 1 << 20;

/// The largest SQL file pum reads (changelogs may carry data).
pub(crate) const SQL_FILE: u64 = 1 << 30;

fn invalid(path: &Path, kind: std::io::ErrorKind, message: String) -> Error {
    Error::io(path, std::io::Error::new(kind, message))
}

/// Reads `path` as UTF-8 text, refusing anything but a regular file (a FIFO would block
/// forever, `/dev/zero` would never end) and files larger than `limit` bytes.
///
/// # Errors
/// [`Error::Io`] naming the file: missing (`NotFound`, for callers that skip missing
/// files), not a regular file, too large, unreadable or not UTF-8.
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<String> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| {
        invalid(
            path,
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text".into(),
        )
    })
}

/// Reads `path`'s bytes, with [`read_text`]'s refusals.
///
/// # Errors
/// As [`read_text`], but for UTF-8.
pub(crate) fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(invalid(
            path,
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO or device); pum reads regular files only".into(),
        ));
    }
    let too_large = || {
        invalid(
            path,
            std::io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes; pum reads files up to that size"),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The environment variable that makes pum run code others may write (a CI container's
/// world-writable checkout): `PUM_TRUST_WRITABLE=1` (Unix: elsewhere no file is refused).
#[cfg(unix)]
pub(crate) const TRUST_WRITABLE: &str = "PUM_TRUST_WRITABLE";

/// Opens `path` for reading in pieces, with [`read_text`]'s refusal of anything but a
/// regular file (and no bound on its size: the caller reads it in bounded pieces).
///
/// # Errors
/// [`Error::Io`] naming the file.
pub(crate) fn open_regular(path: &Path) -> Result<std::fs::File> {
    let not_regular = || {
        invalid(
            path,
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a directory, FIFO or device); pum reads regular files only".into(),
        )
    };
    // Looked at before opening: opening a FIFO would wait for a writer.
    if !std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_file()
    {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if !file.metadata().map_err(|e| Error::io(path, e))?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Refuses code pum would run (a Python delta, an executable) that another user could
/// have written: owned by someone else than this user or root; writable by others, or by
/// a group another user belongs to; or in a directory where another user could put it in
/// its place (owned by someone else, or writable by others without the sticky bit, or by
/// such a group).
///
/// A group-writable file or directory is accepted when its group has no member but its
/// owner (as OpenSSH accepts it): `/etc/group` lists no other member, and no other
/// account of `/etc/passwd` has it as primary group. That is the private group each user
/// gets on Debian and Ubuntu, whose umask 002 makes every checkout group-writable.
/// `PUM_TRUST_WRITABLE=1` waives the write checks (not the owner's).
///
/// # Errors
/// [`Error::Io`] (permission denied) naming the file and saying why and what to do.
#[cfg(unix)]
pub(crate) fn refuse_foreign_writable(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = crate::os_user::effective_uid();
    let foreign = |uid: u32| me.is_some_and(|me| uid != me) && uid != 0;
    let trust = crate::settings::flag(TRUST_WRITABLE, false)?;
    let groups = Accounts::read();
    let way_out = |what: &str| {
        format!(
            "{what}; pum does not run such code: chmod go-w it, or set {TRUST_WRITABLE}=1 to \
             run it anyway (a container where no other user exists)"
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir_meta) = std::fs::metadata(dir)
    {
        let why = if foreign(dir_meta.uid()) {
            Some(format!(
                "its directory {} belongs to another user (uid {}), who could replace the \
                 file; pum does not run such code",
                dir.display(),
                dir_meta.uid()
            ))
        } else {
            let sticky = dir_meta.mode() & 0o1000 != 0;
            match writers(dir_meta.mode(), dir_meta.uid(), dir_meta.gid(), &groups) {
                Writers::Owner => None,
                _ if sticky || trust => None,
                others => Some(way_out(&format!(
                    "its directory {} is writable by {}, who could replace the file",
                    dir.display(),
                    others.describe(dir_meta.gid())
                ))),
            }
        };
        if let Some(why) = why {
            return Err(invalid(path, std::io::ErrorKind::PermissionDenied, why));
        }
    }
    let why = if foreign(meta.uid()) {
        Some(format!(
            "it belongs to another user (uid {}); pum runs only code this user or root owns",
            meta.uid()
        ))
    } else {
        match writers(meta.mode(), meta.uid(), meta.gid(), &groups) {
            Writers::Owner => None,
            _ if trust => None,
            others => Some(way_out(&format!(
                "it is writable by {}",
                others.describe(meta.gid())
            ))),
        }
    };
    match why {
        Some(why) => Err(invalid(path, std::io::ErrorKind::PermissionDenied, why)),
        None => Ok(()),
    }
}

/// Who besides the owner may write a file or directory.
#[cfg(unix)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writers {
    /// Its owner alone (or a group that is the owner's alone).
    Owner,
    /// A group with other members.
    Group,
    /// Everyone.
    World,
}

#[cfg(unix)]
impl Writers {
    fn describe(self, gid: u32) -> String {
        match self {
            Writers::Owner => "its owner".into(),
            Writers::Group => format!("group {gid}, which has members other than its owner"),
            Writers::World => "every user (world-writable)".into(),
        }
    }
}

/// Who may write a file of `mode` owned by `uid` and group `gid` (pure).
#[cfg(unix)]
fn writers(mode: u32, uid: u32, gid: u32, accounts: &Accounts) -> Writers {
    if mode & 0o002 != 0 {
        Writers::World
    } else if mode & 0o020 != 0 && !accounts.group_is_private(gid, uid) {
        Writers::Group
    } else {
        Writers::Owner
    }
}

/// `/etc/group` and `/etc/passwd`, read once per check.
#[cfg(unix)]
struct Accounts {
    group: String,
    passwd: String,
}

#[cfg(unix)]
impl Accounts {
    fn read() -> Accounts {
        let read = |path: &str| read_text(Path::new(path), SMALL_FILE).unwrap_or_default();
        Accounts {
            group: read("/etc/group"),
            passwd: read("/etc/passwd"),
        }
    }

    /// Whether group `gid` has no member but the account(s) of `owner`: listed in
    /// `/etc/group` with no other member, and the primary group of no other account. A
    /// group `/etc/group` does not list (NSS, LDAP) is not known to be private.
    fn group_is_private(&self, gid: u32, owner: u32) -> bool {
        let passwd: Vec<(&str, Option<u32>, Option<u32>)> = self
            .passwd
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let number = |i: usize| f.get(i).and_then(|n| n.parse::<u32>().ok());
                (f[0], number(2), number(3))
            })
            .collect();
        let owner_names: Vec<&str> = passwd
            .iter()
            .filter(|(_, uid, _)| *uid == Some(owner))
            .map(|(name, _, _)| *name)
            .collect();
        let Some(members) = self.group.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && f[2].parse::<u32>().ok() == Some(gid)).then(|| f[3])
        }) else {
            return false;
        };
        let listed_others = members
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .any(|m| !owner_names.contains(&m));
        let primary_others = passwd
            .iter()
            .any(|(_, uid, primary)| *primary == Some(gid) && *uid != Some(owner));
        !listed_others && !primary_others
    }
}

/// Off Unix, files have no owner pum could check.
#[cfg(not(unix))]
pub(crate) fn refuse_foreign_writable(_: &Path, _: &std::fs::Metadata) -> Result<()> {
    Ok(())
}

/// Writes `path` through `write` (given the path to write to), so that what was there is
/// replaced only by a complete file:
///
/// - no file, or a regular file (also behind a symbolic link): `write` writes a temporary
///   file beside it (`.pum-<pid>-XXXXXX`), which is renamed over it on success and removed
///   on failure;
/// - a device (`/dev/null`), a FIFO or a socket: written through, never replaced;
/// - a directory: an error.
///
/// Temporary files of processes that no longer run (killed mid-write) are removed from the
/// directory first.
///
/// # Errors
/// [`Error::Io`] for a directory or an unwritable place; whatever `write` returns.
pub(crate) fn replace_file(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let target: PathBuf = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(invalid(
                path,
                std::io::ErrorKind::InvalidInput,
                "is a directory".into(),
            ));
        }
        Ok(meta) if !meta.is_file() => return write(path),
        // A regular file, perhaps behind links: replace the file, keep the links.
        Ok(_) => std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?,
        Err(_) => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    remove_abandoned_temporaries(&dir);
    let partial = tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    write(partial.path())?;
    partial
        .persist(&target)
        .map_err(|e| Error::io(&target, e.error))?;
    Ok(())
}

/// How pum's temporary files start: `.pum-<pid>-`.
const TEMP_PREFIX: &str = ".pum-";

/// Removes `.pum-<pid>-*` files of this user in `dir` whose process is gone. Best effort,
/// and only where `/proc` tells which processes run.
fn remove_abandoned_temporaries(dir: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() || !owned_by_me(&entry.path()) {
            continue;
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

#[cfg(unix)]
fn owned_by_me(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let me = crate::os_user::effective_uid();
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && Some(m.uid()) == me)
}

#[cfg(not(unix))]
fn owned_by_me(_: &Path) -> bool {
    false
}

/// Writes `contents` to `path`, replacing what was there only once the new file is
/// complete (see the module docs: devices are written through, directories refused).
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write(path: &Path, contents: &[u8]) -> Result<()> {
    replace_file(path, |p| {
        std::fs::write(p, contents).map_err(|e| Error::io(p, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "hello").unwrap();
        assert_eq!(read_text(&file, 5).unwrap(), "hello");
        let err = read_text(&file, 4).unwrap_err().to_string();
        assert!(
            err.ends_with("larger than 4 bytes; pum reads files up to that size"),
            "{err}"
        );
        let err = read_text(dir.path(), 10).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let err = read_text(Path::new("/dev/zero"), SMALL_FILE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = read_text(&fifo, SMALL_FILE).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn a_file_is_replaced_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.txt");
        std::fs::write(&file, "old").unwrap();
        let failed = replace_file(&file, |p| {
            std::fs::write(p, "half").unwrap();
            Err(Error::io(p, std::io::Error::other("interrupted")))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old");
        replace_file(&file, |p| {
            std::fs::write(p, "new").map_err(|e| Error::io(p, e))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out.txt"], "no temporary file left");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_through_and_links_keep_pointing() {
        replace_file(Path::new("/dev/null"), |p| {
            std::fs::write(p, "gone").map_err(|e| Error::io(p, e))
        })
        .unwrap();
        assert!(
            !std::fs::metadata("/dev/null").unwrap().is_file(),
            "still a device"
        );

        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        let link = dir.path().join("link.txt");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        replace_file(&link, |p| {
            std::fs::write(p, "new").map_err(|e| Error::io(p, e))
        })
        .unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let err = replace_file(dir.path(), |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("is a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_group_is_private_when_no_one_but_the_owner_is_in_it() {
        let accounts = Accounts {
            group: "root:x:0:\nalice:x:1000:\nbob:x:1001:bob\nstaff:x:50:alice,bob\n\
                    solo:x:60:alice\nshared:x:70:\n"
                .into(),
            passwd: "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n\
                     bob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:70::/home/carol:/bin/sh\n"
                .into(),
        };
        // Each user's own group (empty member list, or only the owner).
        assert!(accounts.group_is_private(1000, 1000));
        assert!(accounts.group_is_private(1001, 1001));
        assert!(accounts.group_is_private(60, 1000));
        assert!(accounts.group_is_private(0, 0));
        // Someone else's group, a group with other members, a group that is another
        // account's primary group, a group /etc/group does not list.
        assert!(!accounts.group_is_private(1001, 1000));
        assert!(!accounts.group_is_private(50, 1000));
        assert!(!accounts.group_is_private(70, 1000));
        assert!(!accounts.group_is_private(99, 1000));
        assert_eq!(writers(0o664, 1000, 1000, &accounts), Writers::Owner);
        assert_eq!(writers(0o775, 1000, 1000, &accounts), Writers::Owner);
        assert_eq!(writers(0o664, 1000, 50, &accounts), Writers::Group);
        assert_eq!(writers(0o644, 1000, 50, &accounts), Writers::Owner);
        assert_eq!(writers(0o666, 1000, 1000, &accounts), Writers::World);
        assert_eq!(writers(0o1777, 0, 0, &accounts), Writers::World);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn temporaries_of_dead_processes_are_removed_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid 1 always runs; a pid above the kernel's maximum never does.
        let alive = dir.path().join(".pum-1-abcdef");
        let dead = dir.path().join(".pum-99999999-abcdef");
        let other = dir.path().join("keep.txt");
        for f in [&alive, &dead, &other] {
            std::fs::write(f, "x").unwrap();
        }
        remove_abandoned_temporaries(dir.path());
        assert!(alive.exists() && other.exists());
        assert!(!dead.exists());
    }
}
