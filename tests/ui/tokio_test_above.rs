use pum::testing::TestDb;

#[tokio::test]
#[pum::pum_test]
async fn on_tokio(db: TestDb) {
    let _ = db;
}

fn main() {}
