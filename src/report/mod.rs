//! Rendering the report (text for a person, JSON for machines) and the exit-code policy.
//! Only this module knows about terminals and colour.

mod compact;
pub(crate) mod flow_json;
mod json;
pub mod model;
pub mod ranges;
mod text;

use std::io::{IsTerminal, Write};

pub use model::{Report, build};

use crate::checks::Severity;
use crate::cli::{ColorChoice, Format};
use crate::config::OutputConfig;

/// Writes the report in the chosen format.
pub fn render(report: &Report, out: &OutputConfig, w: &mut dyn Write) -> std::io::Result<()> {
    match out.format {
        Format::Json => {
            // Pretty for a person at a terminal; compact (a third of the size) into a pipe or
            // file, where `jq .` pretty-prints it on demand.
            if std::io::stdout().is_terminal() {
                serde_json::to_writer_pretty(&mut *w, report)?;
            } else {
                json::write_compact(report, w)?;
            }
            writeln!(w)
        }
        Format::Text => {
            let color = use_color(out.color);
            text::render(report, *out, color, w)
        }
    }
}

/// Colour only on a terminal (or when forced), and never when `NO_COLOR` is set.
fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// 0: analysed, no error-level finding (or, with `--expect`, every expectation met); 1: an
/// error-level finding (or a failed expectation). Exit 2 (could not analyse) is decided before a
/// report exists.
pub fn exit_code(report: &Report) -> u8 {
    let failed = report.expectations.iter().any(|e| !e.ok);
    u8::from(
        failed
            || report
                .findings
                .iter()
                .any(|f| f.severity == Severity::Error),
    )
}

/// The report of `lbcheck pcap FILES` (default options), for tests of the renderings.
#[cfg(test)]
fn test_report(files: &[&std::path::Path]) -> Report {
    use clap::Parser;
    let mut argv = vec!["lbcheck".as_ref(), "pcap".as_ref()];
    argv.extend(files.iter().map(|f| f.as_os_str()));
    let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
    let crate::cli::Command::Pcap(pcap) = &cli.command else {
        unreachable!()
    };
    let config = crate::config::Config::from_args(pcap).unwrap();
    build(crate::analyze::analyze(&config).unwrap(), &config)
}
