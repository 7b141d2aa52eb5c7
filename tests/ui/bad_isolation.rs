#[pum::pum_test(isolation = "savepoint")]
fn has_an_unknown_isolation(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
