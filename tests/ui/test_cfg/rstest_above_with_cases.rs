// #[rstest] above #[pum_test], with cases: rstest's cases exist only under cfg(test), which
// trybuild never sets, so tests/macro_errors.rs checks this file with `cargo check --tests`.
use pum::testing::TestDb;
use rstest::rstest;

#[rstest]
#[case(1)]
#[case(2)]
#[pum::pum_test]
fn with_cases(#[case] n: i32, db: TestDb) {
    let _ = (n, db);
}
