//! Findings about the capture itself: cut short, link types we cannot decode, snaplen too
//! small to see the first bytes.

use super::{Finding, Severity};
use crate::analyze::InputSummary;
use crate::decode::Stop;

pub fn capture_findings(inputs: &[InputSummary]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let path = input.path.display();
        if let Some(cut) = &input.cut_short {
            let mut f = Finding::new(
                "capture.cut-short",
                Severity::Warning,
                format!(
                    "{path}: {} at byte {}; the {} before it {} analysed",
                    cut.what,
                    cut.offset,
                    plural(cut.packets_before, "packet"),
                    if cut.packets_before == 1 {
                        "was"
                    } else {
                        "were"
                    }
                ),
            );
            f.detail = Some(
                "the capture was cut short, as when tcpdump is killed before it flushes".into(),
            );
            f.input = Some(i);
            out.push(f);
        }
        if let Some(n) = input.undecoded.get(&Stop::UnknownLinkType) {
            let names: Vec<&str> = input
                .by_link_type
                .keys()
                .filter(|name| name.starts_with("LINKTYPE_"))
                .map(String::as_str)
                .collect();
            let mut f = Finding::new(
                "capture.unknown-link-type",
                Severity::Warning,
                format!(
                    "{path}: {n} packets have a link type lbcheck does not decode ({}); they were counted, not analysed",
                    names.join(", ")
                ),
            );
            f.input = Some(i);
            out.push(f);
        }
        if input.table.flows_evicted > 0 {
            let per_group = crate::flow::per_group_cap(input.limits.max_open_flows);
            let mut f = Finding::new(
                "capture.flows-evicted",
                Severity::Warning,
                format!(
                    "{path}: too many flows were open at once (at most {} in all: {} in each of {} groups of flows by address); {} of the longest idle were summarised early (a flow that resumed after that appears twice, the second time mid-stream)",
                    per_group * crate::flow::FLOW_GROUPS,
                    per_group,
                    crate::flow::FLOW_GROUPS,
                    input.table.flows_evicted
                ),
            );
            f.detail =
                Some("a SYN flood or a port scan looks like this; memory stays bounded".into());
            f.fix.push(format!(
                "--max-open-flows {} (if this is a busy balancer, not a flood: about 1 KiB of memory per open flow, more while first bytes are held)",
                (per_group * crate::flow::FLOW_GROUPS).saturating_mul(4)
            ));
            f.input = Some(i);
            out.push(f);
        }
        if input.flows_not_kept > 0 {
            let mut f = Finding::new(
                "capture.flows-not-kept",
                Severity::Warning,
                format!(
                    "{path}: {} flows beyond the first {} (by first packet) were counted but not summarised: verdicts and the flow list cover the first {}",
                    input.flows_not_kept, input.limits.max_flows, input.limits.max_flows
                ),
            );
            let all = u64::try_from(input.limits.max_flows)
                .unwrap_or(u64::MAX)
                .saturating_add(input.flows_not_kept);
            // 1.5 KiB: the peak per summarised flow, measured on the bench mix (1 GiB: 39,585
            // flows, 72 MiB; 4 GiB with all 125,807: 195 MiB), above the summary's ~1.1 KB.
            f.fix.push(format!(
                "--max-flows {all} (to summarise every flow: about 1.5 KiB of memory each, {} MiB)",
                all.saturating_mul(3).div_ceil(2048)
            ));
            f.input = Some(i);
            out.push(f);
        }
        if input.syn_checksums_bad > 0 {
            let mut f = Finding::new(
                "capture.bad-checksums",
                Severity::Info,
                format!(
                    "{path}: {} of {} handshake packets have a bad TCP checksum: normal for packets the capturing host sent itself (checksum offload); lbcheck does not drop or judge them",
                    input.syn_checksums_bad, input.syn_checksums_checked
                ),
            );
            f.input = Some(i);
            out.push(f);
        }
        let small: Vec<String> = input
            .interfaces
            .iter()
            .filter(|iface| iface.snaplen > 0 && iface.snaplen < 256)
            .map(|iface| format!("interface {} snaplen {}", iface.id, iface.snaplen))
            .collect();
        if !small.is_empty() && input.truncated_packets > 0 {
            let mut f = Finding::new(
                "capture.snaplen-too-small",
                Severity::Warning,
                format!(
                    "{path}: {} packets were cut by the capture's snaplen ({}): first bytes such as PROXY headers may be missing",
                    input.truncated_packets,
                    small.join(", ")
                ),
            );
            f.fix = vec!["tcpdump -s 0 -w capture.pcap …   (or -s 1024 at least: PROXY v2 with TLVs and the HTTP head fit)".into()];
            f.input = Some(i);
            out.push(f);
        }
    }
    out
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
