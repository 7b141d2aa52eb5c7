//! Entry points for the fuzz targets in `fuzz/` to the parsers that are not public: only
//! built with `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.

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
