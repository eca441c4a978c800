//! From argv to exit code: parse, configure, analyse, render. Errors become one line on stderr
//! and exit status 2; a closed pipe (`lbcheck … | head`) is not an error.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, GenerateWhat};
use crate::config::Config;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbcheck: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Pcap(args) => {
            let config = Config::from_args(args)?;
            if config.reads_stdin() && stdin_is_a_pipe() {
                // `tcpdump -w - | lbcheck pcap -`: Ctrl-C reaches both. tcpdump stops and
                // closes the pipe, and the report of what it wrote follows; a second Ctrl-C
                // ends lbcheck at once (exit 2: not analysed). Not for `- < file`: there the
                // first Ctrl-C ends it, as for any file.
                let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                let sig = signal_hook::consts::SIGINT;
                signal_hook::flag::register_conditional_shutdown(sig, 2, interrupted.clone())?;
                signal_hook::flag::register(sig, interrupted)?;
            }
            let timing = std::env::var_os("LBCHECK_TIMING").is_some();
            let t0 = std::time::Instant::now();
            let analysis = crate::analyze::analyze(&config)?;
            let t1 = std::time::Instant::now();
            let m1 = if timing {
                memory_figures()
            } else {
                String::new()
            };
            let report = crate::report::build(analysis, &config);
            let t2 = std::time::Instant::now();
            let m2 = if timing {
                memory_figures()
            } else {
                String::new()
            };
            let code = emit(&report, &config)?;
            let t3 = std::time::Instant::now();
            // The process ends here: freeing tens of thousands of flow summaries one by one
            // would only delay the exit (the OS takes the memory back at once).
            std::mem::forget(report);
            if timing {
                eprintln!(
                    "lbcheck: timing: read+decode+flows {:?} ({m1}), checks {:?} ({m2}), output {:?} ({})",
                    t1 - t0,
                    t2 - t1,
                    t3 - t2,
                    memory_figures()
                );
            }
            Ok(code)
        }
        Command::Live(args) => live(args),
        Command::Ranges(args) => {
            let mut out = std::io::stdout().lock();
            crate::report::ranges::render(args.format, &mut out)?;
            Ok(0)
        }
        Command::Generate(g) => {
            match &g.what {
                GenerateWhat::Man { out_dir } => crate::generate::write_man_pages(out_dir)?,
                GenerateWhat::Completions { shell } => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&crate::generate::completions(*shell))?;
                }
            }
            Ok(0)
        }
    }
}

#[cfg(target_os = "linux")]
fn live(args: &crate::cli::LiveArgs) -> anyhow::Result<u8> {
    crate::live::run(args)
}

#[cfg(not(target_os = "linux"))]
fn live(_: &crate::cli::LiveArgs) -> anyhow::Result<u8> {
    anyhow::bail!(
        "live capture is implemented for Linux only (AF_PACKET); capture with tcpdump and use `lbcheck pcap`"
    )
}

/// Renders the report on stdout, says on stderr what the exit code is about, and returns it.
pub(crate) fn emit(report: &crate::report::Report, config: &Config) -> anyhow::Result<u8> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, unbuffered_stdout());
    crate::report::render(report, &config.output, &mut out)?;
    out.flush()?;
    for f in &report.findings {
        if matches!(f.code, "capture.cut-short" | "capture.kernel-drops") {
            eprintln!("lbcheck: warning: {}", f.summary);
        }
    }
    for e in report.expectations.iter().filter(|e| !e.ok) {
        let because = e
            .because
            .as_deref()
            .map_or(String::new(), |b| format!(" ({b})"));
        eprintln!(
            "lbcheck: expectation failed: {}={} but found {}{because}",
            e.check, e.expected, e.found
        );
    }
    Ok(crate::report::exit_code(report))
}

/// Standard output without its line buffering. `Stdout` looks for a newline in every write, to
/// flush by lines: with the JSON written in blocks of a megabyte, that was a `memrchr` over the
/// whole report on the writing thread (93 MB at 1 GiB; 2.2 % of all instructions at 100 MiB).
/// A report is written in large blocks and flushed once, so it goes to a duplicate of the
/// descriptor instead (nothing else is written to stdout in between).
fn unbuffered_stdout() -> Box<dyn Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(std::io::stdout().lock())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Error chains joined on one line, control characters escaped (paths come from users).
fn one_line(e: &anyhow::Error) -> String {
    let text = format!("{e}");
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Peak and current resident memory (Linux `/proc/self/status`), for `LBCHECK_TIMING`.
fn memory_figures() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether standard input is a pipe or a socket (a capture program writing into it).
fn stdin_is_a_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket()
    })
}
