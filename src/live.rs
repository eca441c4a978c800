//! `lbcheck live`: capture on an interface until `--duration`, `--count` or Ctrl-C, feeding each
//! packet to the same [`InputAnalyzer`] files use, then report as `pcap` does, plus the kernel's
//! drop counter and the host's routing facts.
//!
//! Order matters for privileges: the socket and the `--write` file are opened first, then
//! CAP_NET_RAW and CAP_NET_ADMIN are dropped, and only then are packets parsed.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufWriter, IsTerminal, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::analyze::{Analysis, InputAnalyzer};
use crate::checks::{Finding, Severity};
use crate::cli::LiveArgs;
use crate::config::Config;
use crate::decode::{self, L4, tcp_flags};
use crate::flow::Proto;
use crate::host::HostFacts;
use crate::source::live::{self, FilterSpec, KernelStats, LiveSource};
use crate::source::writer::{ByteOrder, PcapWriter, TsPrecision};
use crate::source::{FileFormat, RawPacket};
use crate::summary::FlowReport;

/// How often the status line on a terminal is redrawn.
const STATUS_EVERY: Duration = Duration::from_millis(500);
/// PROXY v2 signature and PROXY v1 prefix, to count headers for the status line.
const PROXY_V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
const PROXY_V1_PREFIX: &[u8] = b"PROXY ";
/// After a stop, how long packets already captured may still be read.
const DRAIN_AT_MOST: Duration = Duration::from_secs(1);
/// Client addresses whose request MAC is remembered (for the return-path explanation).
const MAX_REQUEST_MACS: usize = 4096;
/// At most this many client addresses get a return-path explanation.
const RETURN_PATH_CLIENTS: usize = 4;

type Writer = PcapWriter<BufWriter<std::fs::File>>;

pub fn run(args: &LiveArgs) -> anyhow::Result<u8> {
    let config = Config::from_live_args(args)?;
    let filter = FilterSpec {
        ports: config.ports.clone(),
        tcp: config.proto != Some(Proto::Udp),
        udp: config.proto != Some(Proto::Tcp),
    };
    let mut capture = live::open_source(
        &args.interface,
        &filter,
        args.filter.as_deref(),
        args.snaplen,
    )?;
    let mut writer = match &args.write {
        Some(path) => Some(open_writer(path, capture.as_ref())?),
        None => None,
    };
    let dropped_from = live::drop_capabilities();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second Ctrl-C ends at once, without a report (exit 2: not analysed); the first asks
        // for one.
        signal_hook::flag::register_conditional_shutdown(sig, 2, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let mut input = InputAnalyzer::for_run(capture.source_path(), FileFormat::Live, 0, 1, &config);
    let mut status = std::io::stderr()
        .is_terminal()
        .then(|| Status::new(&args.interface));
    let mut seen = Seen::default();
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut drain_until: Option<Instant> = None;
    loop {
        if args.count.is_some_and(|n| input.packets() >= n) {
            break;
        }
        if drain_until.is_none()
            && (stop.load(Ordering::Relaxed)
                || args.duration.is_some_and(|d| started.elapsed() >= d))
        {
            // What the kernel captured before the stop is still analysed: read until the
            // queue is empty (a ring block is handed over within its 20 ms timeout).
            drain_until = Some(Instant::now() + DRAIN_AT_MOST);
        }
        let got = capture.next_packet()?;
        let empty = got.is_none();
        if let Some(p) = got {
            bytes += p.data.len() as u64;
            seen.observe(&p, &config.ports);
            input.feed(&p);
            if let Some(w) = &mut writer {
                write_packet(w, &p, args.write.as_deref())?;
            }
        }
        if drain_until.is_some_and(|t| empty || Instant::now() >= t) {
            break;
        }
        if let Some(s) = &mut status {
            s.maybe_draw(&input, &seen, capture.as_mut());
        }
    }
    if status.is_some() {
        Status::clear();
    }
    if let Some(w) = writer {
        w.into_inner()
            .with_context(|| format!("{}: write failed", show(args.write.as_deref())))?;
    }
    let kernel = capture.kernel_stats();
    let (mut summary, flows) = input.finish(vec![capture.interface_info()], None);
    summary.bytes = bytes;
    let analysis = Analysis::from_inputs(vec![(summary, flows)]);
    let mut report = crate::report::model::build_with_findings(
        analysis,
        &config,
        kernel_findings(kernel, &args.interface),
    );
    report.stats.kernel_received = Some(kernel.received);
    report.stats.kernel_drops = Some(kernel.dropped);
    let addresses: Vec<(String, IpAddr, u8)> = live::interface_addresses()
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.interface, a.ip, a.prefix))
        .collect();
    let mut host = HostFacts::read(&args.interface, &addresses);
    host.capabilities_dropped_from = dropped_from;
    explain_return_paths(&mut host, &mut report.findings, &report.flows, &seen);
    report.host = Some(host);
    crate::run::emit(&report, &config)
}

fn show(p: Option<&Path>) -> String {
    p.map_or_else(String::new, |p| p.display().to_string())
}

fn open_writer(path: &Path, capture: &dyn LiveSource) -> anyhow::Result<Writer> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    PcapWriter::new(
        BufWriter::new(file),
        capture.link_type().0,
        capture.file_snaplen(),
        TsPrecision::Nano,
        ByteOrder::Little,
    )
    .with_context(|| format!("{}: cannot write", path.display()))
}

fn write_packet(w: &mut Writer, p: &RawPacket<'_>, path: Option<&Path>) -> anyhow::Result<()> {
    w.write_packet(u64::try_from(p.ts_nanos).unwrap_or(0), p.data, p.orig_len)
        .with_context(|| format!("{}: write failed", show(path)))
}

fn kernel_findings(k: KernelStats, iface: &str) -> Vec<Finding> {
    if k.dropped == 0 {
        return Vec::new();
    }
    let mut f = Finding::new(
        "capture.kernel-drops",
        Severity::Warning,
        format!(
            "live:{iface}: the kernel dropped {} of {} packets that passed the capture filter: lbcheck did not read them fast enough, so flows may look incomplete",
            k.dropped, k.received
        ),
    );
    f.detail = Some(
        "PACKET_STATISTICS tp_drops: the socket buffer was full. A missing SYN-ACK or PROXY header may be a drop, not the network".into(),
    );
    f.fix = vec![
        "narrow the capture with --port / --proto, or capture with `tcpdump -w` and run `lbcheck pcap` on the file".into(),
    ];
    f.input = Some(0);
    vec![f]
}

/// What the runner notes from packets besides the analysis: the MAC each client's requests
/// came from (the LB, on a backend), and PROXY headers for the status line.
#[derive(Default)]
struct Seen {
    request_macs: HashMap<IpAddr, [u8; 6]>,
    proxy_headers: u64,
}

impl Seen {
    fn observe(&mut self, p: &RawPacket<'_>, ports: &[u16]) {
        let d = decode::decode(p);
        let Some(ip) = d.ip else {
            return;
        };
        // A request: a SYN, or a datagram to a service port.
        let request = match &d.l4 {
            L4::Tcp(t) => {
                if t.payload.starts_with(PROXY_V2_SIGNATURE)
                    || t.payload.starts_with(PROXY_V1_PREFIX)
                {
                    self.proxy_headers += 1;
                }
                t.has(tcp_flags::SYN) && !t.has(tcp_flags::ACK)
            }
            L4::Udp(u) => ports.is_empty() || ports.contains(&u.dst_port),
            _ => false,
        };
        if let (true, Some(mac)) = (request, d.link.src_mac) {
            if self.request_macs.len() < MAX_REQUEST_MACS {
                self.request_macs.entry(ip.src).or_insert(mac);
            }
        }
    }
}

/// For each return-path finding, names the host fact behind it: the route the kernel picks for
/// the client versus the hop (MAC → ARP entry) the requests came from.
fn explain_return_paths(
    host: &mut HostFacts,
    findings: &mut [Finding],
    flows: &[FlowReport],
    seen: &Seen,
) {
    let by_id = |id: u32| flows.iter().find(|f| f.id == id);
    let mut explained = BTreeSet::new();
    for finding in findings
        .iter_mut()
        .filter(|f| f.code.starts_with("return-path."))
    {
        let mut lines = Vec::new();
        for flow in finding.flows.iter().filter_map(|&id| by_id(id)) {
            let client = flow.client.ip;
            if lines.len() >= RETURN_PATH_CLIENTS || lines.iter().any(|(c, _)| *c == client) {
                continue;
            }
            let mac = seen.request_macs.get(&client).copied();
            let fact = host.explain_return_path(client, flow.server.ip, mac);
            lines.push((client, fact.summary.clone()));
            if explained.insert(client) {
                host.return_path.push(fact);
            }
        }
        if lines.is_empty() {
            continue;
        }
        let text: Vec<String> = lines.into_iter().map(|(_, s)| s).collect();
        let host_line = format!("host: {}", text.join("; "));
        finding.detail = Some(match finding.detail.take() {
            Some(d) => format!("{d}. {host_line}"),
            None => host_line,
        });
    }
}

/// The one-line status on a terminal's stderr.
struct Status {
    iface: String,
    started: Instant,
    last: Instant,
}

impl Status {
    fn new(iface: &str) -> Self {
        let now = Instant::now();
        Self {
            iface: iface.to_string(),
            started: now,
            last: now,
        }
    }

    fn maybe_draw(&mut self, input: &InputAnalyzer, seen: &Seen, capture: &mut dyn LiveSource) {
        if self.last.elapsed() < STATUS_EVERY {
            return;
        }
        self.last = Instant::now();
        let k = capture.kernel_stats();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Klbcheck live {}: {}s, {} packets, {} flows, {} PROXY headers, {} dropped (Ctrl-C for the report)",
            self.iface,
            self.started.elapsed().as_secs(),
            input.packets(),
            input.flow_count(),
            seen.proxy_headers,
            k.dropped
        );
        let _ = err.flush();
    }

    fn clear() {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_a_warning_with_both_counts() {
        assert!(kernel_findings(KernelStats::default(), "eth0").is_empty());
        let f = kernel_findings(
            KernelStats {
                received: 1000,
                dropped: 7,
            },
            "eth0",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "capture.kernel-drops");
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(
            f[0].summary.contains("dropped 7 of 1000 packets"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn kernel_drops_count_for_expectations() {
        // `--expect no-findings=warning` must see the drop warning added after the analysis.
        let mut config = Config::for_files(Vec::new());
        config
            .check
            .expectations
            .push(crate::checks::expect::parse("no-findings=warning").unwrap());
        let clean = crate::report::model::build_with_findings(
            Analysis::from_inputs(Vec::new()),
            &config,
            Vec::new(),
        );
        assert_eq!(crate::report::exit_code(&clean), 0);
        let dropped = crate::report::model::build_with_findings(
            Analysis::from_inputs(Vec::new()),
            &config,
            kernel_findings(
                KernelStats {
                    received: 10,
                    dropped: 1,
                },
                "eth0",
            ),
        );
        assert_eq!(crate::report::exit_code(&dropped), 1);
    }
}
