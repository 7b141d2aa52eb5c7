use pum::testing::TestDb;

#[pum::pum_test]
#[tokio::test]
async fn on_tokio(db: TestDb) {
    let _ = db;
}

fn main() {}
