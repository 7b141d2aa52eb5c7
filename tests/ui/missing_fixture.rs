#[pum::pum_test(fixtures("fixtures/missing.sql"))]
fn uses_a_missing_fixture(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
