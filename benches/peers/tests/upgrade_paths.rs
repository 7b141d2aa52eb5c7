//! pum::upgrade_paths! on the 50-version changelog: 49 upgrade tests.
include!(concat!(env!("OUT_DIR"), "/upgrade_paths.rs"));
