use pum::testing::TestDb;

#[pum::pum_test]
fn takes_more(n: i64, db: TestDb) {
    let _ = (n, db);
}

fn main() {}
