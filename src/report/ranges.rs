//! `lbcheck ranges`: the built-in LB range table, for a person or as JSON.

use std::io::Write;

use comfy_table::{ContentArrangement, Table};

use crate::checks::lb_ranges::built_in_file;
use crate::cli::Format;

pub fn render(format: Format, w: &mut dyn Write) -> std::io::Result<()> {
    let file = built_in_file();
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *w, &file)?;
        return writeln!(w);
    }
    writeln!(
        w,
        "Load-balancer and health-check source ranges (table version {}, updated {})",
        file.version, file.updated
    )?;
    writeln!(w, "{}\n", file.note)?;
    let mut t = Table::new();
    t.load_style(super::text::TABLE_STYLE)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(vec!["name", "vendor", "ranges", "match means", "checked"]);
    for r in &file.ranges {
        let cidrs: Vec<String> = r.cidrs.iter().map(ToString::to_string).collect();
        let role = if r.ambiguous {
            format!("possible: {}", r.role)
        } else {
            r.role.clone()
        };
        t.add_row(vec![
            r.name.clone(),
            r.vendor.clone(),
            cidrs.join("\n"),
            role,
            r.checked.clone(),
        ]);
    }
    writeln!(w, "{t}\n")?;
    for r in &file.ranges {
        writeln!(w, "{}: {}", r.name, r.sources.join(" "))?;
        if let Some(why) = &r.why_ambiguous {
            writeln!(w, "  ambiguous: {why}")?;
        }
        writeln!(w, "  checked {}: {}", r.checked, r.checked_how)?;
    }
    Ok(())
}
