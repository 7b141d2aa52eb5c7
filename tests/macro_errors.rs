//! Every misuse of #[pum_test] is a compile error pointing at what is wrong.

#[test]
fn misuses_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
