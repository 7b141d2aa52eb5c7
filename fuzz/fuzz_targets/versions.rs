//! Versions and decimal parameters: never panic; what parses prints back as parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pum::Version;
use pum::internal::Decimal;

fuzz_target!(|text: &str| {
    if let Ok(version) = Version::parse(text) {
        assert_eq!(version.to_string(), text);
        assert_eq!(Version::parse(&version.to_string()).unwrap(), version);
    }
    if let Ok(decimal) = Decimal::parse(text) {
        assert_eq!(Decimal::parse(&decimal.to_string()).unwrap(), decimal);
    }
});
