//! Where a server lives and whose it is: the server directory (and its relocation when
//! the server's account cannot reach it), the data directory (in memory or on disk), the
//! socket directory, and the rules that keep it private:
//!
//! - pum only deletes data directories it made (the marker);
//! - a directory pum uses (server directory, socket directory, data home) and the one
//!   above it must be owned by this user, the server's account or root, and not writable
//!   by others (the one above may be a sticky directory such as /tmp); pum makes its own
//!   0700. So nobody else can have prepared them, nor swap what is in them;
//! - only the operating-system user who starts the server (and root, and the server's
//!   account) may connect: the socket directory and the socket are 0700, and
//!   authentication is `peer` with a map to the role `postgres` (pg_hba.conf and
//!   pg_ident.conf are written anew at every start; there is no TCP line).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::ServerOptions;
use super::programs::{blocking_ancestor, command_as, find_bindir, major_version, server_account};
use crate::connect::ConnectionSpec;
use crate::error::{Error, Result};
use crate::os_user::{self, Account};

/// The marker pum leaves in data directories it created, and only deletes those.
pub(super) const MARKER: &str = "pum-server";

/// The port number in the socket's name; there is no TCP port.
const PORT: u16 = 5432;

/// Longest socket path kept inside the server directory (the system limit is 107 bytes).
const MAX_SOCKET_PATH: usize = 100;

/// The file in the server directory naming its data directory in memory. A data
/// directory in memory without it belongs to a server directory that was deleted (`cargo
/// clean`): it is stopped and removed, as it would have been with the data on disk.
pub(super) const DATA_LINK: &str = "data.link";

/// The file in a data home in memory naming the server directory it belongs to, so that
/// the home of a server directory deleted while no server ran (`cargo clean`) is found
/// and deleted by the next attach of any server.
pub(super) const OWNER: &str = "owner";

/// Where data homes in memory live.
pub(super) const MEMORY_ROOT: &str = "/dev/shm";

/// Where a server lives and what runs it.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) requested: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) relocated: Option<String>,
    pub(super) data: PathBuf,
    /// The directory in memory holding `data`, when the data lives in memory.
    pub(super) memory_home: Option<PathBuf>,
    pub(super) socket_dir: PathBuf,
    pub(super) bindir: PathBuf,
    pub(super) major: u32,
    pub(super) account: Option<Account>,
    pub(super) idle: Duration,
    pub(super) max_connections: u32,
}

impl Layout {
    pub(super) fn resolve(options: &ServerOptions) -> Result<Layout> {
        let bindir = find_bindir(options.bindir.as_deref())?;
        let major = cached_major_version(&bindir)?;
        let account = server_account(options.user.as_deref())?;
        let requested = match &options.dir {
            Some(dir) => absolute(dir),
            None => default_parent().join(format!("pg{major}")),
        };
        let named = if options.dir.is_some() {
            " (PUM_SERVER_DIR or --dir)"
        } else {
            ""
        };
        if let Ok(meta) = std::fs::symlink_metadata(&requested)
            && !meta.is_dir()
            && !(meta.file_type().is_symlink() && requested.is_dir())
        {
            return Err(Error::ServerDirectory {
                path: requested,
                reason: format!("is not a directory{named}: remove it, or name a directory"),
            });
        }
        // pum makes the server directory itself the account's (a directory a failed
        // start left behind included): only the directories above it must let it in.
        let blocked = match (&account, requested.parent()) {
            (Some(account), Some(parent)) => blocking_ancestor(account, parent)
                .map(|(dir, mode)| (account.name.clone(), dir, mode)),
            _ => None,
        };
        let (dir, relocated) = match blocked {
            Some((user, dir, mode)) => (
                std::env::temp_dir()
                    .join(format!("pum-{}", short_hash(&requested)))
                    .join(format!("pg{major}")),
                Some(format!(
                    "user {user} cannot reach {} ({} is mode {mode:o})",
                    requested.display(),
                    dir.display()
                )),
            ),
            None => (requested.clone(), None),
        };
        let socket_in_dir = dir.join(format!(".s.PGSQL.{PORT}"));
        let socket_dir = if socket_in_dir.as_os_str().len() <= MAX_SOCKET_PATH {
            dir.clone()
        } else {
            std::env::temp_dir().join(format!("pum-sock-{}", short_hash(&dir)))
        };
        let memory_home = Path::new(MEMORY_ROOT)
            .is_dir()
            .then(|| Path::new(MEMORY_ROOT).join(format!("pum-{}", short_hash(&dir))))
            .filter(|_| options.memory);
        Ok(Layout {
            requested,
            data: memory_home
                .as_ref()
                .map_or_else(|| dir.join("data"), |home| home.join("data")),
            memory_home,
            dir,
            relocated,
            socket_dir,
            bindir,
            major,
            account,
            idle: options.idle,
            max_connections: options.max_connections,
        })
    }

    /// Creates the directories, private to the server's account, after checking that
    /// nobody else prepared them.
    pub(super) fn prepare(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let private: Vec<&PathBuf> = [
            Some(&self.dir),
            Some(&self.socket_dir),
            self.memory_home.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        let owners = self.trusted_owners();
        for dir in &private {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            if let Some(parent) = dir.parent() {
                check_trusted(parent, &owners, true)?;
            }
            check_trusted(dir, &owners, false)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(dir, e))?;
        }
        if let Some(account) = &self.account {
            let mut owned = vec![self.dir.clone(), self.socket_dir.clone()];
            owned.extend(self.memory_home.clone());
            if self.relocated.is_some()
                && let Some(parent) = self.dir.parent()
            {
                owned.push(parent.to_path_buf());
            }
            for dir in owned {
                std::os::unix::fs::chown(&dir, Some(account.uid), Some(account.gid))
                    .map_err(|e| Error::io(&dir, e))?;
            }
        }
        if let Some(home) = &self.memory_home {
            let owner = home.join(OWNER);
            let text = format!("{}\n", self.dir.display());
            if std::fs::read_to_string(&owner).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&owner, text).map_err(|e| Error::io(&owner, e))?;
            }
        }
        Ok(())
    }

    /// Checks the directories that exist already, as [`Layout::prepare`] would, without
    /// making any: before stopping or deleting what is in them.
    pub(super) fn check_existing(&self) -> Result<()> {
        let owners = self.trusted_owners();
        for dir in [
            Some(&self.dir),
            Some(&self.socket_dir),
            self.memory_home.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter(|d| d.symlink_metadata().is_ok())
        {
            if let Some(parent) = dir.parent() {
                check_trusted(parent, &owners, true)?;
            }
            check_trusted(dir, &owners, false)?;
        }
        Ok(())
    }

    /// Who may own the directories pum uses: this user, the server's account, root.
    fn trusted_owners(&self) -> Vec<u32> {
        let mut owners = vec![0];
        owners.extend(os_user::effective_uid());
        owners.extend(self.account.as_ref().map(|a| a.uid));
        owners
    }

    /// The operating-system users who may connect (mapped to the role `postgres`): the
    /// one starting the server, root, and the server's account.
    pub(super) fn allowed_users(&self) -> Vec<String> {
        let mut users = vec!["root".to_string()];
        users.extend(os_user::current_name());
        users.extend(self.account.as_ref().map(|a| a.name.clone()));
        users.sort();
        users.dedup();
        users
    }

    pub(super) fn spec(&self) -> ConnectionSpec {
        ConnectionSpec::unix_socket(&self.socket_dir, PORT, "postgres", "postgres")
    }

    pub(super) fn url(&self) -> String {
        self.spec().url()
    }

    pub(super) fn command(&self, program: &str) -> Command {
        command_as(&self.bindir.join(program), self.account.as_ref())
    }

    pub(super) fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `<target dir>/pum`, or a per-user directory under the temp dir outside cargo.
pub(super) fn default_parent() -> PathBuf {
    let is_target = |dir: &Path| dir.join("CACHEDIR.TAG").is_file();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return absolute(Path::new(&dir)).join("pum");
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.ancestors().skip(1).find(|d| is_target(d))
    {
        return dir.join("pum");
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(dir) = cwd
            .ancestors()
            .map(|d| d.join("target"))
            .find(|d| is_target(d))
    {
        return dir.join("pum");
    }
    let user = os_user::current_name().unwrap_or_else(|| "user".into());
    std::env::temp_dir().join(format!("pum-{user}"))
}

fn short_hash(path: &Path) -> String {
    blake3::hash(path.as_os_str().as_encoded_bytes()).to_hex()[..12].to_string()
}

fn cached_major_version(bindir: &Path) -> Result<u32> {
    static CACHE: Mutex<Vec<(PathBuf, u32)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, major)) = cache.iter().find(|(dir, _)| dir == bindir) {
        return Ok(*major);
    }
    let major = major_version(bindir)?;
    cache.push((bindir.to_path_buf(), major));
    Ok(major)
}

/// Deletes the data homes in memory whose server directory is gone (deleted by `cargo
/// clean` while no server ran) and the remains of deletions cut short, leaving alone
/// those of other users, those pum did not make, and those a postmaster still runs in
/// (its watchdog deletes them once it stops). Best effort: what cannot be read or
/// deleted stays for the next attach (or the machine's restart, which empties memory).
pub(super) fn sweep_orphaned_memory(layout: &Layout) {
    let Ok(entries) = std::fs::read_dir(MEMORY_ROOT) else {
        return;
    };
    let owners = layout.trusted_owners();
    for entry in entries.flatten() {
        let home = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| n.starts_with("pum-")) else {
            continue;
        };
        if Some(&home) == layout.memory_home.as_ref()
            || check_trusted(&home, &owners, false).is_err()
        {
            continue;
        }
        let orphaned = if name.contains(".gone.") {
            // Renamed by a watchdog that was stopped before it finished deleting.
            true
        } else if is_empty(&home) {
            // Made but never filled, or emptied by hand; one only just made is spared, as
            // its server may be starting.
            std::fs::symlink_metadata(&home)
                .and_then(|meta| meta.modified())
                .is_ok_and(|time| time.elapsed().is_ok_and(|age| age > EMPTY_HOME_AGE))
        } else {
            let Ok(owner) = std::fs::read_to_string(home.join(OWNER)) else {
                continue;
            };
            let data = home.join("data");
            !Path::new(owner.trim_end()).join(DATA_LINK).is_file()
                && data.join(MARKER).is_file()
                && !postmaster_alive(&data)
        };
        if orphaned {
            let _ = std::fs::remove_dir_all(&home);
        }
    }
}

/// How old an empty data home must be before a sweep deletes it.
const EMPTY_HOME_AGE: Duration = Duration::from_secs(600);

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

fn postmaster_alive(data: &Path) -> bool {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// The bytes the files under `path` take (0 when it does not exist).
pub(super) fn size_of(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}

/// Refuses `path` unless it is a directory (not a link) owned by one of `owners` and
/// not writable by group or others; with `sticky_ok`, a directory writable by everyone
/// but sticky (/tmp, /dev/shm) is fine too, since nobody can move what others put there.
fn check_trusted(path: &Path, owners: &[u32], sticky_ok: bool) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    let refuse = |reason: String| {
        Err(Error::ServerDirectory {
            path: path.to_path_buf(),
            reason: format!(
                "{reason}: pum will not use a directory someone else could have prepared \
                 (remove it, or set PUM_SERVER_DIR to a directory of your own)"
            ),
        })
    };
    if meta.file_type().is_symlink() {
        // A link pum did not make might lead anywhere. Links above it are fine: only
        // the last part is checked as a link.
        if !sticky_ok {
            return refuse("is a symbolic link".into());
        }
        return check_trusted(
            &std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?,
            owners,
            sticky_ok,
        );
    }
    if !meta.is_dir() {
        return refuse("is not a directory".into());
    }
    // A sticky directory writable by all (/tmp) is fine above ours: nobody can move what
    // others put in it.
    let shared_sticky = sticky_ok && meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o022 != 0 && !shared_sticky {
        return refuse(format!(
            "is writable by other users (mode {:o})",
            meta.mode() & 0o7777
        ));
    }
    if !(owners.contains(&meta.uid()) || shared_sticky) {
        return refuse(format!("belongs to another user (uid {})", meta.uid()));
    }
    Ok(())
}

/// Whether `data` holds a cluster of the right version made by pum. A directory that
/// pum did not make is never deleted.
pub(super) fn initialized(layout: &Layout) -> Result<bool> {
    let data = &layout.data;
    if !data.exists() {
        return Ok(false);
    }
    if !data.join(MARKER).is_file() {
        return Err(Error::ServerDirectory {
            path: data.clone(),
            reason: format!(
                "exists but was not made by pum (no {MARKER} file in it); delete it or set \
                 PUM_SERVER_DIR to another directory"
            ),
        });
    }
    let version = std::fs::read_to_string(data.join("PG_VERSION")).unwrap_or_default();
    if version.trim() == layout.major.to_string() {
        return Ok(true);
    }
    std::fs::remove_dir_all(data).map_err(|e| Error::io(data, e))?;
    Ok(false)
}
