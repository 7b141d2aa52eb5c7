#[pum::pum_test(max_version = "latest")]
fn has_a_bad_version(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
