//! Memory is bounded by the flows open at once, not by the file: a SYN flood of one-packet
//! flows is evicted and counted, and counts stay exact.

use std::path::PathBuf;

use lbcheck::analyze::InputAnalyzer;
use lbcheck::source::writer::{ByteOrder, PcapWriter, TsPrecision};
use lbcheck::source::{FileFormat, open_capture};

/// Ethernet + IPv4 + TCP SYN from 100.64.x.y:port to 198.51.100.10:80.
fn syn(n: u32) -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let src = [100, 64 + ((n >> 16) & 0x3f) as u8, (n >> 8) as u8, n as u8];
    p.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&[198, 51, 100, 10]);
    p.extend_from_slice(&(1024 + (n % 60000) as u16).to_be_bytes());
    p.extend_from_slice(&80u16.to_be_bytes());
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    p
}

#[test]
fn syn_flood_is_evicted_and_counted_with_exact_totals() {
    let path: PathBuf =
        std::env::temp_dir().join(format!("lbcheck-synflood-{}.pcap", std::process::id()));
    let flows = 20_000u32;
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapWriter::new(
            std::io::BufWriter::new(file),
            1,
            65535,
            TsPrecision::Micro,
            ByteOrder::Little,
        )
        .unwrap();
        for n in 0..flows {
            let data = syn(n);
            w.write_packet(
                1_700_000_000_000_000_000 + u64::from(n) * 1_000_000,
                &data,
                data.len() as u32,
            )
            .unwrap();
        }
        w.into_inner().unwrap();
    }
    let mut file = open_capture(&path).unwrap();
    let (max_live, max_kept) = (1_000, 5_000);
    let mut input = InputAnalyzer::new(path.clone(), FileFormat::Pcap, 0, 1, &[]).with_limits(
        lbcheck::config::Limits {
            max_flows: max_kept,
            max_open_flows: max_live,
        },
    );
    while let Some(raw) = file.next_packet().unwrap() {
        input.feed(&raw);
    }
    assert_eq!(input.flow_count(), flows as usize);
    let (summary, reports) = input.finish(file.interfaces().to_vec(), None);
    std::fs::remove_file(&path).ok();
    assert_eq!(summary.packets, u64::from(flows));
    assert_eq!(reports.len(), max_kept);
    assert_eq!(summary.flows_not_kept, u64::from(flows) - max_kept as u64);
    assert!(summary.table.flows_evicted > 0);
    // The bound holds per flow group (64 of them, rounded up), and eviction runs every 1024
    // packets, so the table may pass it by that much.
    let bound = max_live.div_ceil(lbcheck::flow::FLOW_GROUPS) * lbcheck::flow::FLOW_GROUPS;
    assert!(
        summary.table.peak_live_flows <= (bound + 1024) as u64,
        "peak {}",
        summary.table.peak_live_flows
    );
    // Kept summaries are the first flows, in id order, each a SYN without an answer.
    assert!(reports.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(reports[0].id, 1);
    assert!(reports.iter().all(|r| {
        r.tcp
            .as_ref()
            .is_some_and(|t| t.syn.is_some() && t.synack.is_none())
    }));
}
