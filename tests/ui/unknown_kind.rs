#[pum::pum_test(ignore(colums))]
fn ignores_a_misspelt_kind(db: pum::testing::TestDb) {
    let _ = db;
}

fn main() {}
