//! Writing a new changelog file (`pum new`, Alembic's `revision -m`): where it goes and
//! what it is called, decided by a pure function; then the file itself.
//!
//! - **Version.** By default the next patch after the highest version directory (`1.2.0`
//!   → `1.2.1`, `1.2` → `1.2.1`, `1.2.3.4` → `1.2.3.5`), so after a merge of two branches
//!   that both added a version, the new file goes to a version nobody has. A version
//!   given explicitly may be new or existing.
//! - **Name.** `<NN>_<slug>.sql`: NN continues the numbering of the version's files
//!   (`01` in a new version; after `03_x.sql`, `04`; after `007_x.sql`, `008`), and the
//!   name must sort after every file there, since files run in name order: a 100th file
//!   after `99_x.sql` (`100_…` sorts before `10_…`) is refused with a way out. The slug
//!   is the message in lower case, letters and digits with `_` between words, at most 60
//!   characters.
//! - A version that is an application-only release (its `APP_ONLY_RELEASE` marker) is
//!   refused: a version holds SQL files or the marker, never both.

use std::path::{Path, PathBuf};

use super::{APP_ONLY_MARKER, Changelog, DOWN_DIR};
use crate::error::{Error, Result};
use crate::version::Version;

/// Where a new changelog file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Its version.
    pub version: Version,
    /// The version's directory.
    pub dir: PathBuf,
    /// `<NN>_<slug>.sql`.
    pub name: String,
}

impl NewFile {
    /// The file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Its down file (`down/<NN>_<slug>.sql`).
    pub fn down_path(&self) -> PathBuf {
        self.dir.join(DOWN_DIR).join(&self.name)
    }
}

/// The version after `highest`: its last number plus one, with at least three numbers.
pub fn next_patch(highest: &Version) -> Version {
    let mut parts: Vec<u64> = highest.parts().to_vec();
    while parts.len() < 3 {
        parts.push(0);
    }
    if let Some(last) = parts.last_mut() {
        *last += 1;
    }
    let text = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    Version::parse(&text).unwrap_or_else(|_| highest.clone())
}

/// `message` as a file name part: lower-case letters and digits, `_` between words.
///
/// # Errors
/// [`Error::Refused`] when it holds no letter or digit.
pub fn slug(message: &str) -> Result<String> {
    let mut slug = String::new();
    for c in message.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('_').to_string();
    if slug.is_empty() {
        return Err(Error::Refused {
            operation: format!("name a changelog file after {message:?}"),
            reason: "the message needs letters or digits (ASCII) to make a file name".into(),
        });
    }
    Ok(slug)
}

/// Decides where the file for `message` goes among `changelogs` (those of `root`), in
/// `version` or the next patch after the highest.
///
/// # Errors
/// As [`slug`]; [`Error::Changelog`] for an application-only version.
pub fn plan(
    root: &Path,
    changelogs: &[Changelog],
    message: &str,
    version: Option<&Version>,
) -> Result<NewFile> {
    let slug = slug(message)?;
    let version = match version {
        Some(v) => v.clone(),
        None => changelogs
            .iter()
            .map(|c| &c.version)
            .max()
            .map_or_else(|| Version::parse("1.0.0").expect("a version"), next_patch),
    };
    let existing = changelogs.iter().find(|c| c.version == version);
    let dir = match existing {
        Some(changelog) => changelog.dir.clone(),
        None => root.join(version.to_string()),
    };
    if existing.is_some_and(Changelog::app_only) {
        return Err(Error::Changelog {
            path: dir.display().to_string(),
            message: format!(
                "an application-only release ({APP_ONLY_MARKER}) holds no SQL file; give \
                 another version"
            ),
        });
    }
    let name = match existing {
        Some(changelog) => next_name(changelog, &slug)?,
        None => format!("01_{slug}.sql"),
    };
    Ok(NewFile { version, dir, name })
}

/// The name of the next file of `changelog`: its numbering continued (`04` after `03_x`,
/// `005` after `004_x`), sorting after every file it holds, since files run in name
/// order. When no number of that width sorts last (a 100th file after `99_x.sql`, or
/// after an unnumbered `zz.sql`) the version is refused rather than written out of order.
fn next_name(changelog: &Changelog, slug: &str) -> Result<String> {
    let names: Vec<String> = changelog
        .files
        .iter()
        .filter_map(|f| {
            Some(
                Path::new(&f.name)
                    .file_name()?
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .collect();
    let prefixes = names.iter().map(|name| {
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        (digits.parse::<u64>().ok(), digits.len())
    });
    let (highest, width) = prefixes.fold((0, 2), |(n, w), (number, len)| match number {
        Some(number) => (n.max(number), w.max(len)),
        None => (n, w),
    });
    let name = format!("{:0width$}_{slug}.sql", highest + 1);
    match names.iter().max() {
        Some(last) if name.as_str() <= last.as_str() => Err(Error::Changelog {
            path: changelog.dir.join(last).display().to_string(),
            message: format!(
                "a new file {name} would run before this one (files run in name order); \
                 rename the version's files with one more digit (001_…) or give another \
                 --version"
            ),
        }),
        _ => Ok(name),
    }
}

/// Writes `file` with a header naming `message`, `body` after it; with `down`, its down
/// file too. Never replaces a file.
///
/// # Errors
/// [`Error::AlreadyExists`] when a file is there; [`Error::Io`].
pub fn write(file: &NewFile, message: &str, body: &str, down: Option<&str>) -> Result<()> {
    let header = format!(
        "-- {}\n-- version {}, written by pum new\n\n",
        message.lines().next().unwrap_or_default().trim(),
        file.version
    );
    let mut targets = vec![(file.path(), format!("{header}{body}"))];
    if let Some(down) = down {
        targets.push((
            file.down_path(),
            format!(
                "-- undoes {} (pum downgrade runs this)\n\n{down}",
                file.name
            ),
        ));
    }
    for (path, _) in &targets {
        if path.exists() {
            return Err(Error::AlreadyExists {
                kind: "file",
                name: path.display().to_string(),
            });
        }
    }
    for (path, text) in targets {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::{ChangelogFile, SqlText};

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn changelog(version: &str, files: &[&str]) -> Changelog {
        Changelog {
            version: v(version),
            dir: PathBuf::from(format!("/p/changelogs/{version}")),
            files: files
                .iter()
                .map(|name| ChangelogFile {
                    path: PathBuf::from(format!("/p/changelogs/{version}/{name}")),
                    name: format!("changelogs/{version}/{name}"),
                    sql: SqlText::new(String::new()),
                })
                .collect(),
            down: Vec::new(),
        }
    }

    #[test]
    fn next_patch_after_the_highest() {
        assert_eq!(next_patch(&v("1.2.0")), v("1.2.1"));
        assert_eq!(next_patch(&v("1.2")), v("1.2.1"));
        assert_eq!(next_patch(&v("2025.0.9")), v("2025.0.10"));
        assert_eq!(next_patch(&v("1.2.3.4")), v("1.2.3.5"));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Add the Orders table!").unwrap(),
            "add_the_orders_table"
        );
        assert_eq!(slug("  état: 2 → 3 ").unwrap(), "tat_2_3");
        assert_eq!(slug(&"x".repeat(100)).unwrap().len(), 60);
        assert!(slug("→ ✓").is_err());
    }

    #[test]
    fn where_a_new_file_goes() {
        let root = Path::new("/p/changelogs");
        let all = vec![
            changelog("1.0.0", &["01_a.sql", "02_b.sql"]),
            changelog("1.10.0", &["01_x.sql", "07_y.sql"]),
            changelog("1.9.0", &["01_c.sql"]),
        ];
        let file = plan(root, &all, "add notes", None).unwrap();
        assert_eq!(
            file.version,
            v("1.10.1"),
            "numerically highest, not the text's"
        );
        assert_eq!(
            file.path(),
            Path::new("/p/changelogs/1.10.1/01_add_notes.sql")
        );
        let file = plan(root, &all, "add notes", Some(&v("1.10.0"))).unwrap();
        assert_eq!(
            file.path(),
            Path::new("/p/changelogs/1.10.0/08_add_notes.sql")
        );
        assert_eq!(
            file.down_path(),
            Path::new("/p/changelogs/1.10.0/down/08_add_notes.sql")
        );
        let file = plan(root, &[], "first", None).unwrap();
        assert_eq!(file.path(), Path::new("/p/changelogs/1.0.0/01_first.sql"));
        let three = vec![changelog("1.0.0", &["001_a.sql", "002_b.sql"])];
        let file = plan(root, &three, "c", Some(&v("1.0.0"))).unwrap();
        assert_eq!(
            file.name, "003_c.sql",
            "the width of the existing numbering"
        );
        let app = vec![changelog("2.0.0", &[])];
        let err = plan(root, &app, "x", Some(&v("2.0.0"))).unwrap_err();
        assert!(
            err.to_string().contains("application-only release"),
            "{err}"
        );
    }

    #[test]
    fn a_new_file_always_runs_last() {
        let root = Path::new("/p/changelogs");
        let many: Vec<String> = (1..=99).map(|n| format!("{n:02}_f.sql")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let full = vec![changelog("1.0.0", &many)];
        let err = plan(root, &full, "one more", Some(&v("1.0.0"))).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("99_f.sql") && text.contains("100_one_more.sql"),
            "{text}"
        );
        assert!(text.contains("001_"), "{text}");
        let unnumbered = vec![changelog("1.0.0", &["01_a.sql", "zz_last.sql"])];
        let err = plan(root, &unnumbered, "x", Some(&v("1.0.0"))).unwrap_err();
        assert!(err.to_string().contains("zz_last.sql"), "{err}");
        let ninety = vec![changelog("1.0.0", &many[..98])];
        let file = plan(root, &ninety, "x", Some(&v("1.0.0"))).unwrap();
        assert_eq!(file.name, "99_x.sql");
    }
}
