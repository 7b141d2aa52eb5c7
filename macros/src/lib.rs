//! Procedural macros for [`pum`](https://crates.io/crates/pum).
//!
//! This crate is re-exported by `pum`; depend on `pum` and write `#[pum::pum_test]`.
//! The attribute only reads its arguments and emits a call into `pum::testing`; every
//! piece of logic lives in the `pum` library.

use proc_macro::TokenStream;

/// Marks a test that gets its own freshly migrated database.
///
/// Not available yet: the attribute is reserved and currently rejects every use with a
/// compile error, so no test silently runs without the database it asked for.
#[proc_macro_attribute]
pub fn pum_test(_attr: TokenStream, _item: TokenStream) -> TokenStream {
    "::core::compile_error!(\"#[pum_test] is not available in this version of pum yet\");"
        .parse()
        .expect("a constant token stream parses")
}
