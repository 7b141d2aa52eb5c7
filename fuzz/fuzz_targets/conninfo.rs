//! Connection strings and URLs: never panic, and a password never shows in an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pum::connect::{ConnectionSpec, Environment};

fuzz_target!(|text: &str| {
    let env = Environment::empty().set("PGSYSCONFDIR", "/nonexistent");
    match ConnectionSpec::resolve_with(text, &env) {
        Ok(spec) => {
            let _ = spec.to_string();
            let _ = spec.url();
            let _ = spec.config();
        }
        Err(e) => {
            // A password written where a password goes (once: a copy of it elsewhere, in
            // a field pum may quote, is another matter) is never printed.
            let secret = "hunter2xyz";
            let as_password = text.contains(&format!("password={secret}"))
                || text.contains(&format!(":{secret}@"));
            if as_password && text.matches(secret).count() == 1 {
                assert!(!e.to_string().contains(secret), "{e}");
            }
        }
    }
});
