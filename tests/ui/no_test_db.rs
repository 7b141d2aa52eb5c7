#[pum::pum_test]
fn takes_no_database() {}

fn main() {}
