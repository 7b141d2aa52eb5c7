//! `info` printed as pum 0.x lays it out: the delta files, then the upgrades table.

use pum::internal::printable;
use pum::migrate::zero_x::{DeltaState, DeltasInfo};

/// Prints `info` as pum 0.x lays it out: the deltas, then the table's rows.
pub(super) fn print_info(info: &DeltasInfo) {
    for dir in &info.dirs {
        println!("delta files in dir:  {}", printable(dir));
    }
    let mut deltas = vec![vec![
        "Version".to_string(),
        "Name".into(),
        "Type".into(),
        "Status".into(),
    ]];
    for delta in &info.deltas {
        deltas.push(vec![
            delta.version.clone(),
            delta.name.clone(),
            delta.kind.clone(),
            match delta.state {
                DeltaState::Applied => "Applied",
                DeltaState::Pending => "Pending",
                DeltaState::Skipped => "Skipped (below the current version)",
                DeltaState::Edited => "Edited since applied",
            }
            .into(),
        ]);
    }
    print_table(&deltas);
    println!();
    println!("Applied upgrades in database");
    let mut rows = vec![vec![
        "Version".to_string(),
        "Name".into(),
        "Type".into(),
        "Installed by".into(),
        "Installed on".into(),
        "Status".into(),
    ]];
    for row in &info.rows {
        rows.push(vec![
            row.version.clone(),
            row.description.clone(),
            pum::changelog::deltas::type_label(
                row.kind,
                pum::changelog::deltas::DeltaLanguage::Python,
            ),
            row.installed_by.clone(),
            row.installed_on.clone(),
            if row.success { "Success" } else { "Failed" }.into(),
        ]);
    }
    print_table(&rows);
    if !info.installed {
        println!("({} does not exist: record a baseline first)", info.table);
    }
}

fn print_table(rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("| {} |", printable(&padded.join(" | ")));
    };
    line(rows[0].clone());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in &rows[1..] {
        line(row.clone());
    }
}
