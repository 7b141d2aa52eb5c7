//! Not API: what `pum-cli`, the integration tests and the fuzz targets need of pum's
//! inside. Hidden from the documentation; it may change in any release, without notice.
//! An application uses the documented items of the crate root and its public modules.

use crate::error::Result;
use crate::migrate::{MigrateOptions, Upgrader};

/// Outside text shown escaped on a terminal (the CLI prints every name through it).
pub use crate::text::{path, printable, printable_lines};

/// An output file replaced only when complete (`pum check --output`).
pub use crate::files::write;

/// The statement splitter (the `splitter` fuzz target and `tests/it/splitter.rs`).
pub use crate::sql::split;

/// Where `pum new` writes a new changelog file.
pub mod scaffold {
    pub use crate::changelog::scaffold::{NewFile, next_patch, plan, slug, write};
}

/// Parameters as a run renders them into SQL (the `placeholders` and `versions` fuzz
/// targets, autogenerate's round trip test).
pub use crate::changelog::params::{Decimal, ParamValue, Parameters};

/// The pure migration plan: what a run applies, in order.
pub use crate::migrate::plan::{Plan, Step};

/// Plans an upgrade without changing anything: what [`Upgrader::upgrade`] would do.
///
/// # Errors
/// As [`Upgrader::upgrade`], before anything would be applied.
pub fn plan_upgrade(upgrader: &Upgrader<'_>, options: &MigrateOptions) -> Result<Plan> {
    upgrader.plan_upgrade(options)
}

/// Entry points for the fuzz targets in `fuzz/` to parsers that are not public: only
/// built with `--cfg fuzzing` (which cargo-fuzz sets).
#[cfg(fuzzing)]
pub mod fuzzing {
    use std::path::Path;

    /// A service file's text, read for service `service` (`connect/service.rs`).
    pub fn service_file(text: &str, service: &str) {
        let _ = crate::connect::fuzz_service(text, service, Path::new("fuzz"));
    }

    /// A password file's text (`connect/pgpass.rs`).
    pub fn password_file(text: &str) {
        crate::connect::fuzz_pgpass(text);
    }

    /// A plain SQL dump, checked before psql would see it (`dump/plain/`).
    pub fn plain_dump(text: &str) {
        let _ = crate::dump::fuzz_plain(text);
    }
}
