//! 400 trivial tests (see build.rs and common.rs).
mod common;
include!(concat!(env!("OUT_DIR"), "/bare_tests.rs"));
