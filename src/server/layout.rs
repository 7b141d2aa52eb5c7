//! Where a server lives and whose it is: the server directory (and its relocation when
//! the server's account cannot reach it), the data directory (in memory or on disk), the
//! socket directory, and the rule that pum only deletes data directories it made.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::ServerOptions;
use super::programs::{can_traverse, command_as, find_bindir, major_version, server_account};
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
        let (dir, relocated) = match &account {
            Some(account) if !can_traverse(account, &requested) => (
                std::env::temp_dir()
                    .join(format!("pum-{}", short_hash(&requested)))
                    .join(format!("pg{major}")),
                Some(format!(
                    "user {} cannot reach {}",
                    account.name,
                    requested.display()
                )),
            ),
            _ => (requested.clone(), None),
        };
        let socket_in_dir = dir.join(format!(".s.PGSQL.{PORT}"));
        let socket_dir = if socket_in_dir.as_os_str().len() <= MAX_SOCKET_PATH {
            dir.clone()
        } else {
            std::env::temp_dir().join(format!("pum-sock-{}", short_hash(&dir)))
        };
        let memory_home = Path::new("/dev/shm")
            .is_dir()
            .then(|| Path::new("/dev/shm").join(format!("pum-{}", short_hash(&dir))))
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
        })
    }

    /// Creates the directories, owned by the server's account.
    pub(super) fn prepare(&self) -> Result<()> {
        for dir in [
            Some(&self.dir),
            Some(&self.socket_dir),
            self.memory_home.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if let Some(home) = &self.memory_home {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(home, e))?;
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
        Ok(())
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
fn default_parent() -> PathBuf {
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
