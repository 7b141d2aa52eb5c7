//! .pgpass: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    pum::internal::fuzzing::password_file(text);
});
