//! Raw command-line arguments turned into a validated analysis configuration.

use std::path::PathBuf;

use crate::checks::CheckConfig;
use crate::checks::expect::{self, ExpectError};
use crate::checks::lb_ranges::RangeArgError;
use crate::cli::{AnalysisArgs, ColorChoice, Format, LiveArgs, PcapArgs, ProtoArg};
use crate::flow::Proto;

#[derive(Debug, Clone)]
pub struct Config {
    pub files: Vec<PathBuf>,
    pub ports: Vec<u16>,
    pub proto: Option<Proto>,
    pub check: CheckConfig,
    pub output: OutputConfig,
    pub limits: Limits,
}

/// The memory bounds of an analysis (`--max-flows`, `--max-open-flows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Flow summaries kept per input; flows beyond are counted, not summarised.
    pub max_flows: usize,
    /// Flows open at once; beyond, the longest idle are summarised early (evicted).
    pub max_open_flows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_flows: crate::analyze::DEFAULT_MAX_FLOWS_KEPT,
            max_open_flows: crate::flow::DEFAULT_MAX_LIVE,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct OutputConfig {
    pub format: Format,
    pub color: ColorChoice,
    pub all_flows: bool,
    pub verbose: u8,
    /// A progress bar on stderr for long files (only ever drawn on a terminal).
    pub progress: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--port 0 is not a port")]
    PortZero,
    #[error("standard input (-) can be read only once")]
    StdinTwice,
    #[error(transparent)]
    Expect(#[from] ExpectError),
    #[error(transparent)]
    Range(#[from] RangeArgError),
    #[error(transparent)]
    Side(#[from] crate::checks::SideArgError),
}

impl Config {
    pub fn from_args(args: &PcapArgs) -> Result<Self, ConfigError> {
        if args
            .files
            .iter()
            .filter(|f| crate::source::is_stdin(f))
            .count()
            > 1
        {
            return Err(ConfigError::StdinTwice);
        }
        let mut config = Self::from_analysis_args(args.files.clone(), &args.analysis)?;
        config.output.progress = !args.no_progress;
        Ok(config)
    }

    /// The analysis part of `lbcheck live` (no files: packets come from the interface).
    pub fn from_live_args(args: &LiveArgs) -> Result<Self, ConfigError> {
        Self::from_analysis_args(Vec::new(), &args.analysis)
    }

    fn from_analysis_args(files: Vec<PathBuf>, args: &AnalysisArgs) -> Result<Self, ConfigError> {
        if args.port.contains(&0) {
            return Err(ConfigError::PortZero);
        }
        let mut ports = args.port.clone();
        ports.sort_unstable();
        ports.dedup();
        let mut check = CheckConfig {
            side: None,
            vips: args.vip.clone(),
            trusted_lb: args.trusted_lb.clone(),
            ..CheckConfig::default()
        };
        for arg in &args.side {
            match crate::checks::parse_side(arg)? {
                (None, side) => check.side = Some(side),
                (Some(file), side) => check.side_by_file.push((file, side)),
            }
        }
        for r in &args.lb_range {
            check.lb_ranges.add_user(r)?;
        }
        for e in &args.expect {
            check.expectations.push(expect::parse(e)?);
        }
        Ok(Self {
            check,
            files,
            ports,
            proto: args.proto.map(|p| match p {
                ProtoArg::Tcp => Proto::Tcp,
                ProtoArg::Udp => Proto::Udp,
            }),
            output: OutputConfig {
                format: args.format,
                color: args.color,
                all_flows: args.flows || args.verbose > 0,
                verbose: args.verbose,
                progress: false,
            },
            limits: Limits {
                max_flows: args.max_flows as usize,
                max_open_flows: args.max_open_flows as usize,
            },
        })
    }

    /// Whether one of the files is standard input (`-`).
    pub fn reads_stdin(&self) -> bool {
        self.files.iter().any(|f| crate::source::is_stdin(f))
    }

    /// A config for analysing files with defaults (tests and library users).
    pub fn for_files(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            ports: Vec::new(),
            proto: None,
            check: CheckConfig::default(),
            output: OutputConfig {
                format: Format::Json,
                color: ColorChoice::Never,
                all_flows: true,
                verbose: 0,
                progress: false,
            },
            limits: Limits::default(),
        }
    }
}
