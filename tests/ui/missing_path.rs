#[pum::pum_test(config = "no/such/.pum.yaml")]
fn uses_a_missing_config(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
