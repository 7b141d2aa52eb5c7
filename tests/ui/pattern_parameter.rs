#[pum::pum_test]
fn destructures_a_parameter((a, b): (i32, i32), db: pum::testing::TestDb) {
    let _ = (a, b, db);
}

fn main() {}
