//! Two copies of the same TCP stream bytes that differ, inside the first bytes the report
//! reads (PROXY header, HTTP head, TLS ClientHello). The report decodes one version (what
//! arrived in order, else the first to wait after a hole); the receiver may have kept the
//! other, so what lbcheck shows need not be what the server parsed. The packet named is
//! that of the version not decoded. Wireshark marks such a copy as a plain retransmission
//! when the first fits in one segment (tshark 4.0 on
//! `testdata/tcp_retransmission_conflicting_proxy_v1.pcap`); its
//! `tcp.segment.overlap.conflict` is about segments it reassembles.

use super::{Finding, Severity};
use crate::summary::FlowReport;

/// One finding for the service's flows with a conflicting copy, or none.
pub fn overlap_findings(flows: &[&FlowReport]) -> Option<Finding> {
    let hits: Vec<(&FlowReport, u64)> = flows
        .iter()
        .filter_map(|f| {
            let t = f.tcp.as_ref()?;
            (t.overlap_conflicts > 0).then(|| (*f, t.first_overlap_conflict.map_or(0, u64::from)))
        })
        .collect();
    let &(first, packet) = hits.iter().min_by_key(|&&(_, p)| p)?;
    let n = hits.len();
    let end = |e: &crate::summary::Endpoint| std::net::SocketAddr::new(e.ip, e.port);
    let mut f = Finding::new(
        "tcp.overlap-conflict",
        Severity::Warning,
        format!(
            "{n} connection{s} carried two versions of the same bytes (first: packet {packet}, {} → {}): the report decodes one, the receiver may have kept the other",
            end(&first.client),
            end(&first.server),
            s = if n == 1 { "" } else { "s" },
        ),
    );
    f.detail = Some(
        "a segment is resent when its first copy was lost, so a receiver past the loss only ever saw the second copy; \
         the same sequence numbers with other bytes come from a device that rewrites segments (a NAT or proxy fixing up a header, a broken offload) or from a sender trying to slip past inspection"
            .into(),
    );
    f.fix = vec![
        "capture on the receiver itself to see which copy it got, and on both sides of each device in the path to find the one that rewrites".into(),
    ];
    f.flows = hits.iter().map(|(f, _)| f.id).collect();
    f.packets = hits.iter().map(|&(_, p)| p).collect();
    f.confirm.tshark = Some(format!(
        "tshark -r CAPTURE -x -Y 'tcp.port == {} and tcp.port == {} and tcp.len > 0'",
        first.client.port, first.server.port
    ));
    Some(f)
}
