// The changelogs are read when the crate compiles (embed_changelogs! in src/lib.rs,
// upgrade_paths! in tests/upgrades.rs): a version directory added or removed must
// compile them again. Edited files are tracked without this.
fn main() {
    println!("cargo:rerun-if-changed=changelogs");
    println!("cargo:rerun-if-changed=.pum.yaml");
}
