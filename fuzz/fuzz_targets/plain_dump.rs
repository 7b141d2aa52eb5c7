//! The check of plain SQL dumps before psql: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    pum::internal::fuzzing::plain_dump(text);
});
