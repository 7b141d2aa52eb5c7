use pum::checker::{CheckOptions, Snapshot};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap();
    let spec = pum::ConnectionSpec::resolve(&url)?;
    let mut client = spec.connect()?;
    for order in [false, true] {
        let opts = CheckOptions {
            column_order: order,
            owners: true,
            include_extension_objects: order,
            ..Default::default()
        };
        let s = Snapshot::take(&mut client, &opts)?;
        for (kind, objects) in &s.objects {
            for (key, attrs) in objects {
                println!("{order} {kind:?} {key:?} {attrs:?}");
            }
        }
    }
    Ok(())
}
