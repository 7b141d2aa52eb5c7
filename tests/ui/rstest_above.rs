use pum::testing::TestDb;
use rstest::rstest;

#[rstest]
#[pum::pum_test]
fn fixture_only(db: TestDb) {
    let _ = db;
}

fn main() {}
