//! The content key of a template ([`KeyHasher`]): every input a test database is made
//! of, hashed, and what it was read from ([`Witness`]), so that the next test of the same
//! spec can tell by looking at the files, without reading them, that the key still holds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::spec::HARNESS_FORMAT;
use crate::error::{Error, Result};
use crate::version::Version;

/// How long after its last change a file's [`Stamp`] is trusted to tell whether it changed
/// since: file systems stamp times from a coarse clock (a few milliseconds on Linux, two
/// seconds on FAT), so two writes within one tick can leave the same stamp. A file or
/// directory changed more recently is read again each time, as git treats a "racily
/// clean" file.
const SETTLED: Duration = Duration::from_secs(2);

/// What says a file or directory is unchanged since it was last read: size, modification
/// and change times, inode (a directory's change when an entry is added, removed or
/// renamed; elsewhere than on Unix, size and modification time only). Every test of a run
/// keys its spec, so each file is read once per process and then only looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    changed: (i64, i64),
    #[cfg(unix)]
    inode: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
            #[cfg(unix)]
            inode: meta.ino(),
        }
    }

    /// Whether the stamp is old enough at `now` ([`SETTLED`]) to say, when it is seen
    /// again, that nothing changed (a change within the same tick of the file system's
    /// clock would leave it as it is).
    fn settled(&self, now: SystemTime) -> bool {
        let Some(limit) = now.checked_sub(SETTLED) else {
            return false;
        };
        #[cfg(unix)]
        let changed = limit
            .duration_since(SystemTime::UNIX_EPOCH)
            .is_ok_and(|limit| {
                let (secs, nanos) = self.changed;
                u64::try_from(secs).is_ok_and(|secs| {
                    Duration::new(secs, u32::try_from(nanos).unwrap_or(u32::MAX)) <= limit
                })
            });
        #[cfg(not(unix))]
        let changed = true;
        changed && self.modified.is_some_and(|modified| modified <= limit)
    }
}

/// BLAKE3 of `path`'s contents, read again only when its [`Stamp`] changed or was not
/// settled when it was read, and the stamp. Only a regular file is read (looked at first: a
/// FIFO would block the reader, a device never end), in pieces, so a large dump costs no
/// memory.
fn file_digest(path: &Path, now: SystemTime) -> Result<([u8; 32], Stamp)> {
    type Digests = std::collections::HashMap<PathBuf, (Stamp, [u8; 32])>;
    static DIGESTS: std::sync::LazyLock<std::sync::Mutex<Digests>> =
        std::sync::LazyLock::new(Default::default);
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(not_an_input(path));
    }
    let stamp = Stamp::of(&meta);
    if let Some((seen, digest)) = DIGESTS.lock().unwrap_or_else(|e| e.into_inner()).get(path)
        && *seen == stamp
    {
        return Ok((*digest, stamp));
    }
    let mut file = crate::files::open_regular(path)?;
    let mut hasher = blake3::Hasher::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    let digest = *hasher.finalize().as_bytes();
    if stamp.settled(now) {
        DIGESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_path_buf(), (stamp.clone(), digest));
    }
    Ok((digest, stamp))
}

/// Feeds `h` a labelled value, its length first (so that no two values run together).
fn labelled(h: &mut blake3::Hasher, label: &str, value: &str) {
    h.update(label.as_bytes());
    h.update(&(value.len() as u64).to_le_bytes());
    h.update(value.as_bytes());
}

/// The error for an input that is neither a regular file nor a directory-format dump.
fn not_an_input(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file or a directory-format dump (a FIFO, device or socket, or a \
             directory without toc.dat); the harness reads SQL files and pg_dump's plain, \
             custom, tar and directory formats",
        ),
    )
}

/// What a base or reference file is, looked at without opening it (so a FIFO never
/// blocks): a regular file (SQL, or a plain, custom or tar dump), or a directory-format
/// dump (a directory holding `toc.dat`). Anything else is refused, naming the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    File,
    DumpDirectory,
}

impl Input {
    pub(crate) fn of(path: &Path) -> Result<Input> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_file() {
            Ok(Input::File)
        } else if meta.is_dir()
            && std::fs::metadata(path.join("toc.dat")).is_ok_and(|m| m.is_file())
        {
            Ok(Input::DumpDirectory)
        } else {
            Err(not_an_input(path))
        }
    }
}

/// Names a file whose contents never count in a key: editor swap and backup files,
/// Python's caches, version control and hidden files.
pub(crate) fn is_noise(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swo")
        || name.ends_with(".swx")
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
        || name.ends_with(".orig")
        || name.ends_with(".rej")
        || name == "__pycache__"
        || name == "target"
        || name == "node_modules"
}

/// The entries of `dir` (name, path, is a directory), in name order; a link is followed.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut entries: Vec<(String, PathBuf, bool)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| {
            let e = e.ok()?;
            let is_dir = match e.file_type() {
                Ok(kind) if kind.is_symlink() => e.path().is_dir(),
                Ok(kind) => kind.is_dir(),
                Err(_) => e.path().is_dir(),
            };
            Some((
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                is_dir,
            ))
        })
        .collect();
    entries.sort();
    Ok(entries)
}

/// Feeds the keys of a template.
///
/// The *content* key says what the database holds: the format, the server, the role and
/// every input's contents under a name relative to its project (never an absolute path,
/// so `./.pum.yaml` and `.pum.yaml`, or a second checkout of the same files, give the
/// same key). The *family* key says which spec it is, whatever the contents (an edited
/// file gives the family a new template). Templates are counted per *project* (see
/// `Templates`).
pub(crate) struct KeyHasher {
    content: blake3::Hasher,
    family: blake3::Hasher,
    /// When the hashing began: what changed since [`SETTLED`] before is not trusted.
    now: SystemTime,
    /// Every file and directory read, with its stamp; `None` once one of them was not
    /// settled (the key is then not kept).
    witness: Option<Witness>,
}

/// What a key was made of: every file and directory read for it, with its stamp, each
/// settled when read. While they all show the same stamps, hashing them again would give
/// the same key (a file edited, added, removed or renamed changes its own stamp or its
/// directory's).
#[derive(Debug, Clone, Default)]
pub(crate) struct Witness {
    seen: Vec<(PathBuf, Stamp)>,
}

impl Witness {
    /// Whether every file and directory still shows the stamp it had (one `stat` each,
    /// nothing read).
    pub(crate) fn holds(&self) -> bool {
        self.seen
            .iter()
            .all(|(path, stamp)| std::fs::metadata(path).is_ok_and(|m| Stamp::of(&m) == *stamp))
    }
}

/// The keys computed in this process, by what they depend on besides the files (an id
/// the caller makes), each with its [`Witness`].
pub(crate) struct KeyCache<K>(Mutex<HashMap<String, Arc<(K, Witness)>>>);

impl<K> Default for KeyCache<K> {
    fn default() -> Self {
        KeyCache(Mutex::new(HashMap::new()))
    }
}

impl<K: Clone> KeyCache<K> {
    /// The key kept for `id` while its witness holds; else what `compute` gives (the key,
    /// and its witness when its files had settled), kept for next time when it has one.
    pub(crate) fn get_or_compute(
        &self,
        id: String,
        compute: impl FnOnce() -> Result<(K, Option<Witness>)>,
    ) -> Result<K> {
        let known = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        if let Some(known) = known
            && known.1.holds()
        {
            return Ok(known.0.clone());
        }
        let (key, witness) = compute()?;
        let mut keys = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match witness {
            Some(witness) => keys.insert(id, Arc::new((key.clone(), witness))),
            None => keys.remove(&id),
        };
        Ok(key)
    }
}

impl KeyHasher {
    pub(crate) fn new(server_version: i32) -> KeyHasher {
        KeyHasher::at(server_version, SystemTime::now())
    }

    /// A hasher whose clock says `now` (what changed [`SETTLED`] before it is trusted).
    fn at(server_version: i32, now: SystemTime) -> KeyHasher {
        let mut content = blake3::Hasher::new();
        content.update(HARNESS_FORMAT.as_bytes());
        content.update(&server_version.to_le_bytes());
        KeyHasher {
            content,
            family: blake3::Hasher::new(),
            now,
            witness: Some(Witness::default()),
        }
    }

    /// Notes that `path`, stamped `stamp`, was read.
    fn saw(&mut self, path: &Path, stamp: Stamp) {
        if !stamp.settled(self.now) {
            self.witness = None;
        }
        if let Some(witness) = &mut self.witness {
            witness.seen.push((path.to_path_buf(), stamp));
        }
    }

    /// The entries of directory `dir`, noted as read.
    fn entries(&mut self, dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
        let listed = entries(dir)?;
        self.saw(dir, Stamp::of(&meta));
        Ok(listed)
    }

    /// A value that identifies the spec (and its content).
    pub(crate) fn shape(&mut self, label: &str, value: &str) {
        labelled(&mut self.content, label, value);
        labelled(&mut self.family, label, value);
    }

    /// A value of the family only (not of what the database holds).
    pub(crate) fn family(&mut self, label: &str, value: &str) {
        labelled(&mut self.family, label, value);
    }

    /// A value of the contents only.
    pub(crate) fn content(&mut self, label: &str, value: &str) {
        labelled(&mut self.content, label, value);
    }

    /// A file's contents, under `name` (its path relative to its project).
    pub(crate) fn file(&mut self, name: &str, path: &Path) -> Result<()> {
        self.content("file", name);
        let (digest, stamp) = file_digest(path, self.now)?;
        self.content.update(&digest);
        self.saw(path, stamp);
        Ok(())
    }

    /// A base, reference or fixture input: a file, or a directory-format dump (its files).
    pub(crate) fn input(&mut self, name: &str, path: &Path) -> Result<()> {
        match Input::of(path)? {
            Input::File => self.file(name, path),
            Input::DumpDirectory => self.tree(name, path, &|_| true),
        }
    }

    /// Every file under `dir` that `wanted` (its path) keeps and that is not
    /// noise ([`is_noise`]), in name order, named `<name>/<relative path>`.
    pub(crate) fn tree(
        &mut self,
        name: &str,
        dir: &Path,
        wanted: &dyn Fn(&Path) -> bool,
    ) -> Result<()> {
        for (entry, path, is_dir) in self.entries(dir)? {
            if is_noise(&entry) || !wanted(&path) {
                continue;
            }
            let inner = format!("{name}/{entry}");
            if is_dir {
                self.tree(&inner, &path, wanted)?;
            } else {
                self.file(&inner, &path)?;
            }
        }
        Ok(())
    }

    /// The changelogs under `dir` as pum reads them: each version directory's `*.sql`
    /// files and `down/*.sql`, and its `APP_ONLY_RELEASE` marker; versions above
    /// `max_version` left out. Other files (a README, editor files) do not count. A
    /// directory that is no version counts by its name (it makes the build fail).
    pub(crate) fn changelogs(&mut self, dir: &Path, max_version: Option<&Version>) -> Result<()> {
        for (entry, path, is_dir) in self.entries(dir)? {
            if !is_dir {
                continue;
            }
            let Ok(version) = Version::parse(&entry) else {
                self.content("not a version", &entry);
                continue;
            };
            if max_version.is_some_and(|max| &version > max) {
                continue;
            }
            self.content("version", &entry);
            for (name, file, is_dir) in self.entries(&path)? {
                if is_dir && name == crate::changelog::DOWN_DIR {
                    for (down, file, is_dir) in self.entries(&file)? {
                        if !is_dir && down.ends_with(".sql") && !is_noise(&down) {
                            self.file(&format!("{entry}/{name}/{down}"), &file)?;
                        }
                    }
                } else if name.ends_with(".sql") && !is_noise(&name) {
                    self.file(&format!("{entry}/{name}"), &file)?;
                } else if name == crate::changelog::APP_ONLY_MARKER {
                    self.content("marker", &format!("{entry}/{name}"));
                }
            }
        }
        Ok(())
    }

    /// (content key, family key), as hex, and what they were made of when every file
    /// and directory read was settled.
    pub(crate) fn finish(self) -> (String, String, Option<Witness>) {
        (
            self.content.finalize().to_hex()[..24].to_string(),
            self.family.finalize().to_hex()[..16].to_string(),
            self.witness,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A changelog of two versions in a new directory.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in [
            ("1.0.0/01_a.sql", "CREATE TABLE a (id int);\n"),
            ("1.0.0/02_b.sql", "CREATE TABLE b (id int);\n"),
            ("1.1.0/01_c.sql", "CREATE TABLE c (id int);\n"),
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    /// The key of the changelogs under `dir` hashed at `now`, and its witness.
    fn key_at(dir: &Path, now: SystemTime) -> (String, Option<Witness>) {
        let mut h = KeyHasher::at(150000, now);
        h.changelogs(dir, None).unwrap();
        let (content, _, witness) = h.finish();
        (content, witness)
    }

    /// Later than every stamp of the test's files by more than [`SETTLED`].
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    #[test]
    fn a_kept_key_is_computed_again_only_when_its_witness_fails_or_it_had_none() {
        let dir = project();
        let cache = KeyCache::default();
        let computed = std::cell::Cell::new(0);
        let key = |now: SystemTime| {
            cache
                .get_or_compute("spec".into(), || {
                    computed.set(computed.get() + 1);
                    Ok(key_at(dir.path(), now))
                })
                .unwrap()
        };
        // Not settled: no witness, computed every time.
        let first = key(SystemTime::now());
        assert_eq!(key(SystemTime::now()), first);
        assert_eq!(computed.get(), 2);
        // Settled: kept, and only looked at.
        assert_eq!(key(later()), first);
        assert_eq!(key(later()), first);
        assert_eq!(computed.get(), 3);
        // A file added: the witness fails, a new key.
        std::fs::write(dir.path().join("1.1.0/02_d.sql"), "SELECT 1;\n").unwrap();
        assert_ne!(key(later()), first);
        assert_eq!(computed.get(), 4);
    }

    #[test]
    fn files_changed_within_the_last_seconds_leave_no_witness() {
        let dir = project();
        let (now, witness) = key_at(dir.path(), SystemTime::now());
        assert!(witness.is_none(), "files just written are not settled");
        let (settled, witness) = key_at(dir.path(), later());
        assert_eq!(settled, now, "the clock does not change the key");
        let witness = witness.expect("settled files leave a witness");
        // Three files and the three directories listed.
        assert_eq!(witness.seen.len(), 6, "{witness:?}");
        assert!(witness.holds());
    }

    #[test]
    fn a_witness_fails_when_a_file_is_edited_added_removed_or_renamed() {
        #[cfg(unix)]
        fn edit(path: &Path, text: &str) {
            // The same length and modification time: only the change time tells.
            let modified = std::fs::metadata(path).unwrap().modified().unwrap();
            std::fs::write(path, text).unwrap();
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
        type Change = Box<dyn Fn(&Path)>;
        #[cfg_attr(not(unix), allow(unused_mut))]
        let mut changes: Vec<(&str, Change)> = vec![
            (
                "a file added",
                Box::new(|dir| std::fs::write(dir.join("1.1.0/02_d.sql"), "SELECT 1;\n").unwrap()),
            ),
            (
                "a file removed",
                Box::new(|dir| std::fs::remove_file(dir.join("1.0.0/02_b.sql")).unwrap()),
            ),
            (
                "a file renamed",
                Box::new(|dir| {
                    std::fs::rename(dir.join("1.1.0/01_c.sql"), dir.join("1.1.0/00_c.sql")).unwrap()
                }),
            ),
            (
                "a version added",
                Box::new(|dir| std::fs::create_dir(dir.join("1.2.0")).unwrap()),
            ),
        ];
        // Only the change time tells this one, which Unix has.
        #[cfg(unix)]
        changes.push((
            "edited in place",
            Box::new(|dir| edit(&dir.join("1.0.0/01_a.sql"), "CREATE TABLE x (id int);\n")),
        ));
        for (what, change) in changes {
            let dir = project();
            let (before, witness) = key_at(dir.path(), later());
            let witness = witness.unwrap();
            assert!(witness.holds(), "{what}: nothing changed yet");
            change(dir.path());
            assert!(!witness.holds(), "{what}: the witness must fail");
            let (after, _) = key_at(dir.path(), later());
            if what != "a version added" {
                assert_ne!(after, before, "{what}: a new key");
            }
        }
    }
}
