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
