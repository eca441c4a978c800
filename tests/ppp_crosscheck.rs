//! A second opinion from the `ppp` crate on real headers (the lab's HAProxy and nginx
//! captures): where ppp is right — PROXY-command headers, v1 lines — both parsers must agree
//! on the addresses. (lbcheck has its own parser because ppp misreads LOCAL headers with a
//! family byte, verifies no CRC32C and gives no byte offsets; see src/inspect/proxy.)

use std::path::Path;

use lbcheck::flow::{Flow, FlowTable, Proto, TO_SERVER};

/// Every flow of a capture with its reassembled first bytes (the pipeline summarises flows and
/// drops their bytes as it goes; this test wants the bytes).
fn flows_of(path: &Path) -> Vec<Flow> {
    let mut file = lbcheck::source::open_capture(path).unwrap();
    let mut table = FlowTable::new(1, &[]);
    let mut kept = Vec::new();
    while let Some(raw) = file.next_packet().unwrap() {
        table.add(&raw, &lbcheck::decode::decode(&raw));
        kept.extend(table.take_finished().into_iter().map(|b| *b));
    }
    kept.extend(table.finish_all().into_iter().map(|b| *b));
    kept
}

fn ppp_addresses(bytes: &[u8]) -> Option<(String, u16)> {
    match ppp::HeaderResult::parse(bytes) {
        ppp::HeaderResult::V1(Ok(h)) => match h.addresses {
            ppp::v1::Addresses::Tcp4(a) => Some((a.source_address.to_string(), a.source_port)),
            ppp::v1::Addresses::Tcp6(a) => Some((a.source_address.to_string(), a.source_port)),
            ppp::v1::Addresses::Unknown => None,
        },
        ppp::HeaderResult::V2(Ok(h)) if h.command == ppp::v2::Command::Proxy => match h.addresses {
            ppp::v2::Addresses::IPv4(a) => Some((a.source_address.to_string(), a.source_port)),
            ppp::v2::Addresses::IPv6(a) => Some((a.source_address.to_string(), a.source_port)),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn lbcheck_and_ppp_agree_on_every_proxy_command_header_in_the_lab_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab");
    let mut files = Vec::new();
    for scenario in std::fs::read_dir(&dir).unwrap().flatten() {
        for f in std::fs::read_dir(scenario.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if f.path()
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                files.push(f.path());
            }
        }
    }
    files.sort();
    let mut compared = 0;
    for file in files {
        for flow in &flows_of(&file) {
            if flow.proto != Proto::Tcp {
                continue;
            }
            let bytes = &*flow.streams[TO_SERVER].bytes();
            let Some(ours) = lbcheck::inspect::proxy::inspect(bytes) else {
                continue;
            };
            if ours.command != Some(lbcheck::inspect::proxy::Command::Proxy)
                || ours.status != lbcheck::inspect::proxy::Status::Complete
            {
                continue;
            }
            let header = &bytes[..ours.header_len];
            let theirs = ppp_addresses(header);
            let mine = ours.src.as_deref().map(str::to_owned).zip(ours.src_port);
            assert_eq!(
                mine,
                theirs,
                "{} flow {}: lbcheck vs ppp",
                file.display(),
                flow.id
            );
            compared += 1;
        }
    }
    assert!(compared >= 50, "only {compared} headers compared");
    eprintln!("{compared} PROXY headers: lbcheck and ppp agree");
}
