//! Changelog projects in temporary directories.

use std::path::Path;

use pum::Config;

/// A project in a temporary directory: `.pum.yaml` and files.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    pub fn new(yaml: &str, files: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".pum.yaml"), yaml).unwrap();
        let project = Project { dir };
        for (path, text) in files {
            project.write(path, text);
        }
        project
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> Config {
        Config::from_dir(self.path()).unwrap()
    }
}

pub const YAML: &str = "pum:\n  module: shop\n  migration_table_schema: shop\n\
                    parameters:\n  - name: SRID\n    type: integer\n    default: 2056\n\
                    \x20 - name: label\n    default: plain\n";

/// Four versions; every file also records itself in shop.applied.
pub fn shop() -> Project {
    Project::new(
        YAML,
        &[
            (
                "changelogs/1.0.0/01_schema.sql",
                "CREATE SCHEMA IF NOT EXISTS shop;\n\
                 CREATE TABLE shop.applied (file text PRIMARY KEY);\n\
                 CREATE TABLE shop.item (id int PRIMARY KEY, srid int DEFAULT {SRID});\n\
                 INSERT INTO shop.applied VALUES ('1.0.0/01');\n",
            ),
            (
                "changelogs/1.0.0/02_label.sql",
                "CREATE TABLE shop.label (v text);\nINSERT INTO shop.label VALUES ({label});\n\
                 INSERT INTO shop.applied VALUES ('1.0.0/02');\n",
            ),
            (
                "changelogs/1.1.0/01_name.sql",
                "ALTER TABLE shop.item ADD COLUMN name text;\n\
                 INSERT INTO shop.applied VALUES ('1.1.0/01');\n",
            ),
            (
                "changelogs/1.9.0/01_price.sql",
                "ALTER TABLE shop.item ADD COLUMN price numeric;\n\
                 INSERT INTO shop.applied VALUES ('1.9.0/01');\n",
            ),
            (
                "changelogs/1.10.0/01_stock.sql",
                "ALTER TABLE shop.item ADD COLUMN stock int;\n\
                 INSERT INTO shop.applied VALUES ('1.10.0/01');\n",
            ),
        ],
    )
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// examples/trees copied into `dir`, its roles renamed `<prefix>_viewer`, `<prefix>_user`
/// and `<prefix>_manager`, so that tests running at once (roles belong to the server) do
/// not meet.
pub fn trees_in(dir: &Path, prefix: &str) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        if Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/trees")
            .is_dir()
        {
            "examples/trees"
        } else {
            "../examples/trees"
        },
    );
    copy_dir(&example, dir);
    let yaml = std::fs::read_to_string(dir.join(".pum.yaml"))
        .unwrap()
        .replace("name: trees_", &format!("name: {prefix}_"))
        .replace("inherit: trees_", &format!("inherit: {prefix}_"));
    std::fs::write(dir.join(".pum.yaml"), yaml).unwrap();
}

/// Drops the roles named `<prefix>_…` when it goes, what they hold in `dbs` first.
pub struct RolesCleanup {
    pub prefix: String,
    pub dbs: Vec<pum::ConnectionSpec>,
}

impl Drop for RolesCleanup {
    fn drop(&mut self) {
        let like = format!("{}\\_%", self.prefix);
        let roles = |client: &mut postgres::Client| -> Vec<String> {
            client
                .query(
                    "SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1",
                    &[&like],
                )
                .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                .unwrap_or_default()
        };
        for db in &self.dbs {
            if let Ok(mut client) = db.connect() {
                for role in roles(&mut client) {
                    let _ = client.batch_execute(&format!("DROP OWNED BY \"{role}\""));
                }
            }
        }
        if let Ok(mut client) = super::spec().connect() {
            for role in roles(&mut client) {
                let _ = client.batch_execute(&format!("DROP ROLE \"{role}\""));
            }
        }
    }
}
