//! The command line, as clap sees it. One `Command` feeds `--help`, the man pages and the shell
//! completions (`lbcheck generate …`), so they never disagree.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "lbcheck",
    version,
    about = "Packet-level diagnosis of load balancers: does the backend see the real client?",
    long_about = "Packet-level diagnosis of load balancers. lbcheck reads a capture, rebuilds every \
TCP/UDP flow, decodes what conveys the client (the IP source, PROXY protocol v1/v2 with TLVs, \
X-Forwarded-For, TOA, SPP) and reports, with packet numbers as evidence, what the backend sees.",
    after_help = "Exit status: 0 analysed (and every expectation met); 1 an expectation failed or an \
error-level finding; 2 could not analyse (usage, unreadable or corrupt input)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files (pcap or pcapng), read in turn.
    Pcap(PcapArgs),
    /// Capture live on an interface (Linux, AF_PACKET), then analyse as `pcap` does.
    Live(LiveArgs),
    /// Print the built-in table of load-balancer and health-check source ranges, with provenance.
    Ranges(RangesArgs),
    /// Write the man pages or shell completions.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct PcapArgs {
    /// Capture files (pcap or pcapng, any byte order, micro- or nanosecond, gzip-compressed
    /// or not); `-` reads standard input (e.g. `ssh host tcpdump -w - | lbcheck pcap -`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// No progress bar on stderr (it is only drawn on a terminal, for files over 64 MiB).
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Stops after --duration, --count packets, or Ctrl-C (SIGINT/SIGTERM), then \
prints the report. Needs CAP_NET_RAW (root, or `setcap cap_net_raw+ep` on the binary); it is \
dropped, with CAP_NET_ADMIN, once the socket is open. Exit status as for `pcap`."
)]
pub struct LiveArgs {
    /// Interface to capture on (`any`: every interface, as LINUX_SLL2).
    #[arg(short, long = "interface", value_name = "IFACE")]
    pub interface: String,

    /// Stop after this long, e.g. 30s, 2m, 1h (a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Stop after this many packets (after the kernel filter).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Also save the analysed packets to a pcap file (nanosecond timestamps).
    #[arg(short, long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// A libpcap filter expression (tcpdump syntax) instead of the one built from --port and
    /// --proto, which still choose the services analysed. Needs lbcheck built with `--features
    /// libpcap`.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Bytes kept per packet (enough for PROXY v2 with TLVs and the HTTP head).
    #[arg(long, value_name = "BYTES", default_value_t = 65535,
          value_parser = clap::value_parser!(u32).range(256..=262_144))]
    pub snaplen: u32,

    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// `30s`, `2m`, `1h`, `500ms`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 30s, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// The analysis flags `pcap` and `live` share.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Service port(s) to analyse; default: every port that receives SYNs (TCP) or requests (UDP).
    #[arg(long, value_name = "N[,N..]", value_delimiter = ',')]
    pub port: Vec<u16>,

    /// Only this transport protocol.
    #[arg(long, value_enum, value_name = "PROTO")]
    pub proto: Option<ProtoArg>,

    /// Where the capture was taken: client, lb, backend (default: inferred, and the report
    /// says from what). With several files, FILE=SIDE for one of them (file name or path).
    #[arg(long, value_name = "[FILE=]SIDE")]
    pub side: Vec<String>,

    /// The load balancer's virtual IP (the address clients connect to).
    #[arg(long, value_name = "IP")]
    pub vip: Vec<std::net::IpAddr>,

    /// Add a load-balancer source range, e.g. my-nlb=10.0.1.0/24 (see `lbcheck ranges`).
    #[arg(long, value_name = "[NAME=]CIDR")]
    pub lb_range: Vec<String>,

    /// Addresses allowed to send PROXY / X-Forwarded-For; headers from others are flagged.
    #[arg(long, value_name = "CIDR")]
    pub trusted_lb: Vec<ipnet::IpNet>,

    /// Assert a verdict for CI, e.g. client-ip=proxy-v2, snat=no, proxy=v2, return-path=ok,
    /// no-findings=warning (nothing at or above warning). Exit 1 when one fails.
    #[arg(long, value_name = "CHECK=VALUE")]
    pub expect: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// List everything in the text report: every flow, one-line service, path and finding
    /// (default: 20 flows, 20 services, 10 paths, 5 findings of one code, then counts).
    #[arg(long)]
    pub flows: bool,

    /// More detail: every flow, and the decoded first bytes of each.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,

    /// Flows summarised per file or live capture, the earliest first (about 1.5 KiB of memory
    /// each); flows beyond are counted, and the report says verdicts cover the first N.
    #[arg(long, value_name = "N", default_value_t = crate::analyze::DEFAULT_MAX_FLOWS_KEPT as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_flows: u32,

    /// Flows open at once (held per group of 1/64 of them, by address); beyond, the longest
    /// idle are summarised early and the report says so. Bounds memory in a SYN flood.
    #[arg(long, value_name = "N", default_value_t = crate::flow::DEFAULT_MAX_LIVE as u32,
          value_parser = clap::value_parser!(u32).range(64..))]
    pub max_open_flows: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtoArg {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct RangesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: GenerateWhat,
}

#[derive(Debug, Subcommand)]
pub enum GenerateWhat {
    /// Man pages (lbcheck.1 and one per subcommand) into a directory.
    Man {
        #[arg(long, value_name = "DIR", default_value = "man")]
        out_dir: PathBuf,
    },
    /// A completion script for SHELL, on standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The clap command, for man pages, completions and tests.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_s_m_h_suffixes() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3d").is_err());
        assert!(parse_duration("s").is_err());
    }
}
