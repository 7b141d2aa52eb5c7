//! The statement splitter: never panics, and its pieces are the text, whole and in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pum::internal::split::{forbidden, split, split_ranges};

fuzz_target!(|text: &str| {
    if let Ok(ranges) = split_ranges(text) {
        let mut at = 0;
        for range in &ranges {
            assert_eq!(range.start, at, "pieces cover the text in order");
            at = range.end;
        }
        assert_eq!(at, text.len());
    }
    if let Ok(statements) = split(text) {
        for statement in statements {
            let _ = forbidden(&statement.sql);
        }
    }
});
