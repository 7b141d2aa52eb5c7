use pum::testing::TestDb;

#[pum::pum_test]
fn generic<T: Default>(db: TestDb) {
    let _ = (T::default(), db);
}

fn main() {}
