pum::upgrade_paths!(lint = "strict");

fn main() {}
