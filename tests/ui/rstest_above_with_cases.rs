use pum::testing::TestDb;
use rstest::rstest;

#[rstest]
#[case(1)]
#[case(2)]
#[pum::pum_test]
fn with_cases(#[case] n: i32, db: TestDb) {
    let _ = (n, db);
}

fn main() {}
