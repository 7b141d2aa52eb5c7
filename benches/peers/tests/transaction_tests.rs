//! 400 trivial tests under isolation = "transaction" (see build.rs and common.rs).
mod common;
include!(concat!(env!("OUT_DIR"), "/transaction_tests.rs"));
