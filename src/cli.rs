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
    /// Print the built-in table of load-balancer and health-check source ranges, with provenance.
    Ranges(RangesArgs),
    /// Write the man pages or shell completions.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct PcapArgs {
    /// Capture files (pcap or pcapng, any byte order, micro- or nanosecond).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

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

    /// List every flow in the text report (default: the first 20).
    #[arg(long)]
    pub flows: bool,

    /// More detail: every flow, and the decoded first bytes of each.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
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
