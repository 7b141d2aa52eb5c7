static DB: pum::embed::Embedded = pum::embed_changelogs!("no/such/dir");

fn main() {
    let _ = DB.files().count();
}
