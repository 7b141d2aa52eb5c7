//! The file locks that make one server per directory: `clients.lock` (shared by every
//! attached process, released by the kernel when a process ends) and `start.lock` (who
//! starts or stops the server).

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long to wait for another process that is starting or stopping the server.
const LOCK_TIMEOUT: Duration = Duration::from_secs(120);

pub(super) fn open_lock(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Takes a shared or exclusive lock on `file`, waiting at most [`LOCK_TIMEOUT`].
pub(super) fn lock(file: &File, path: &Path, shared: bool) -> Result<()> {
    let started = Instant::now();
    loop {
        let attempt = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::LockTimeout {
                    lock: path.display().to_string(),
                    holder: "another process starting or stopping the server".into(),
                    waited: LOCK_TIMEOUT,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
    }
}

/// The number of processes holding a lock on `path`, from `/proc/locks`.
pub(super) fn lock_holders(path: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    let inode = format!(":{}", meta.ino());
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return 0;
    };
    // "1: FLOCK  ADVISORY  READ  1234 08:01:5678 0 EOF"
    let mut pids: Vec<&str> = locks
        .lines()
        .filter(|l| l.contains("FLOCK") && !l.contains("->"))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let device_inode = fields.get(5)?;
            device_inode.ends_with(&inode).then(|| fields[4])
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids.len()
}
