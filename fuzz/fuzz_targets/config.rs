//! .pum.yaml: never panics, whatever the YAML.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = pum::Config::parse(text, Path::new("/fuzz/.pum.yaml"), Path::new("/fuzz"));
});
