//! Rendering `{name}` placeholders: never panics, and a hostile value never changes the
//! statements a text splits into.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pum::internal::{ParamValue, Parameters};
use pum::internal::split::split;

fuzz_target!(|input: (&str, &str)| {
    let (sql, value) = input;
    let parameters =
        Parameters::from_values([("v".to_string(), ParamValue::Text(value.to_string()))]);
    let Ok(rendered) = parameters.render(sql, true) else {
        return;
    };
    // With a harmless value the text splits into as many statements as with this one.
    let harmless = Parameters::from_values([("v".to_string(), ParamValue::Text("x".into()))]);
    if let (Ok(a), Ok(b)) = (
        split(&rendered),
        split(&harmless.render(sql, true).unwrap()),
    ) {
        assert_eq!(
            a.len(),
            b.len(),
            "{sql:?} with {value:?} became {rendered:?}"
        );
    }
});
