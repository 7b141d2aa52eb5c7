use pum::checker::{CheckOptions, Kind, Snapshot};
use std::time::Instant;
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap();
    let spec = pum::ConnectionSpec::resolve(&url)?;
    let t = Instant::now();
    let mut client = spec.connect()?;
    println!("connect {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut opts = CheckOptions::default();
    let t = Instant::now();
    Snapshot::take(&mut client, &opts)?;
    println!("all {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    for kind in CheckOptions::default().kinds() {
        opts.ignore = Kind::ALL.into_iter().filter(|k| *k != kind).collect();
        let t = Instant::now();
        let s = Snapshot::take(&mut client, &opts)?;
        let n = s.objects.get(&kind).map_or(0, |o| o.len());
        println!(
            "{:20} {:7.1} ms {n}",
            kind.name(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    opts.ignore = Kind::ALL.into_iter().collect();
    let t = Instant::now();
    Snapshot::take(&mut client, &opts)?;
    println!("{:20} {:7.1} ms", "none", t.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
