#[pum::pum_test(colour = "blue")]
fn has_an_unknown_argument(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
