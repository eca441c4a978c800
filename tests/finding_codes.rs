//! Every finding code lbcheck can emit is produced by a real capture here: the lab's (real
//! HAProxy, nginx, Linux routing) where it can make the situation, the project's generated
//! testdata where it cannot (named `testdata/*.pcap`, see testdata/README.md). A code added to
//! the source without a row here fails `every_code_in_the_source_has_a_row`.

use std::process::Command;

/// (code, files, extra arguments)
#[rustfmt::skip]
const ROWS: &[(&str, &[&str], &[&str])] = &[
    ("capture.bad-checksums", &["testdata/tcp_zero_checksum_offload.pcap"], &[]),
    ("capture.cut-short", &["testdata/corrupt/pcap_last_record_cut_mid_data.pcap"], &[]),
    ("capture.snaplen-too-small", &["testdata/snaplen54_no_payload.pcap"], &[]),
    ("capture.unknown-link-type", &["testdata/link_user0_147_unknown.pcap"], &[]),
    ("client-ip.lost", &["testdata/lab/snat-no-proxy/backend.pcap"], &[]),
    ("client-ip.mixed", &["testdata/mixed_proxy_v2_and_plain_same_port.pcap"], &[]),
    ("health-check.flows", &["testdata/lab/nlb-local-healthcheck/backend.pcap"], &[]),
    ("lb-range.source", &["testdata/lab/snat-proxy-v2/backend.pcap"], &[]),
    ("proxy.crc32c-mismatch", &["testdata/proxy_v2_bad_crc32c_http.pcap"], &[]),
    ("proxy.destination-not-vip", &["testdata/proxy_v1_tcp4_http.pcap"], &["--vip", "198.51.100.99"]),
    ("proxy.expected-but-missing", &["testdata/lab/proxy-expected-missing/backend.pcap"], &[]),
    ("proxy.header-warning", &["testdata/proxy_v2_many_faulty_tlvs_http.pcap"], &[]),
    ("proxy.malformed", &["testdata/proxy_v1_malformed_leading_zero_port.pcap"], &[]),
    ("proxy.sent-to-plain-backend", &["testdata/lab/proxy-to-plain-backend/backend.pcap"], &[]),
    ("proxy.split", &["testdata/proxy_v2_split_across_two_segments_http.pcap"], &[]),
    ("proxy.stacked", &["testdata/proxy_v2_stacked_two_headers_http.pcap"], &[]),
    ("proxy.truncated", &["testdata/lab/capture-variants/snap80.pcap"], &[]),
    ("proxy.udp-first-datagram-only", &["testdata/proxy_v2_udp_first_datagram_only_dns.pcap"], &[]),
    ("proxy.v1-from-v2-only-lb", &["testdata/lab/snat-proxy-v1/backend.pcap"], &[]),
    ("return-path.asymmetric-next-hop", &["testdata/lab/asymmetric-blackhole/backend.pcap"], &[]),
    ("return-path.icmp-error", &["testdata/lab/udp-dsr-no-nat/client.pcap"], &[]),
    ("return-path.no-synack", &["testdata/lab/asymmetric-blackhole/client.pcap"], &[]),
    ("return-path.orphan-synack", &["testdata/lab/asymmetric-leak/client.pcap"], &[]),
    ("return-path.reply-lost-between-captures", &["testdata/lab/asymmetric-leak/client.pcap", "testdata/lab/asymmetric-leak/lb.pcap", "testdata/lab/asymmetric-leak/backend.pcap"], &[]),
    ("return-path.reply-not-from-vip", &["testdata/lab/udp-dsr-no-nat/client.pcap"], &[]),
    ("return-path.synack-lost", &["testdata/lab/asymmetric-blackhole/backend.pcap"], &[]),
    ("return-path.synack-reset", &["testdata/lab/asymmetric-leak/backend.pcap"], &[]),
    ("snat.detected", &["testdata/proxy_v1_tcp4_http.pcap"], &[]),
    ("snat.undecided", &["testdata/lab/snat-private-no-proxy/backend.pcap"], &[]),
    ("tcp.overlap-conflict", &["testdata/tcp_retransmission_conflicting_proxy_v1.pcap"], &[]),
    ("trust.header-from-untrusted-source", &["testdata/proxy_v1_tcp4_http.pcap"], &["--trusted-lb", "10.0.0.0/8"]),
    ("xff.invalid-entry", &["testdata/xff_leading_zero_octets_entry.pcap"], &[]),
    ("xff.multiple-entries", &["testdata/lab/xff-two-hop/backend.pcap"], &[]),
    ("xff.multiple-headers", &["testdata/lab/xff/backend.pcap"], &[]),
];

/// Codes whose situation a capture of normal size cannot make, and where they are tested.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "capture.flows-evicted",
        "tests/bounded_memory.rs (65,536 open flows by default; the test lowers the bound)",
    ),
    (
        "capture.flows-not-kept",
        "tests/bounded_memory.rs (50,000 kept summaries by default)",
    ),
    (
        "return-path.syn-unanswered-once",
        "tests/bad_input.rs: pcap_cut_inside_last_record_still_analyses_what_came_before",
    ),
];

fn report_of(files: &[&str], extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["pcap", "--format", "json"];
    args.extend_from_slice(files);
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{files:?}: {e}"))
}

fn codes_of(files: &[&str], extra: &[&str]) -> Vec<String> {
    report_of(files, extra)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_code_is_produced_by_its_capture() {
    let mut missing = Vec::new();
    for (code, files, extra) in ROWS {
        let got = codes_of(files, extra);
        if !got.iter().any(|c| c == code) {
            missing.push(format!("{code}: {files:?} {extra:?} gave {got:?}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_code_in_the_source_has_a_row() {
    let mut unlisted = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in walk(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/checks"
    ))) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (i, _) in text.match_indices("Finding::new(") {
            let rest = &text[i..];
            let Some(start) = rest.find('"') else {
                continue;
            };
            let Some(len) = rest[start + 1..].find('"') else {
                continue;
            };
            let code = &rest[start + 1..start + 1 + len];
            seen.insert(code.to_string());
            if code.contains('.')
                && !ROWS.iter().any(|r| r.0 == code)
                && !ELSEWHERE.iter().any(|r| r.0 == code)
            {
                unlisted.push(format!("{code} ({})", entry.display()));
            }
        }
        for (i, _) in text.match_indices("grouped(") {
            let rest = &text[i..];
            let Some(start) = rest.find('"') else {
                continue;
            };
            let Some(len) = rest[start + 1..].find('"') else {
                continue;
            };
            let code = &rest[start + 1..start + 1 + len];
            if code.contains('.')
                && !ROWS.iter().any(|r| r.0 == code)
                && !ELSEWHERE.iter().any(|r| r.0 == code)
            {
                unlisted.push(format!("{code} ({})", entry.display()));
            }
        }
    }
    assert!(
        seen.len() >= 15,
        "the scan found only {seen:?}: has the Finding constructor changed?"
    );
    assert!(
        unlisted.is_empty(),
        "finding codes without a test row: {unlisted:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Every finding's "confirm by hand" command, run as printed (CAPTURE replaced by the file)
/// with the real tcpdump and tshark, on each row's capture: it must run and show packets.
/// Multi-file rows are skipped (a command names one capture). CI installs both tools; without
/// them the test says so and checks nothing, unless LBCHECK_REQUIRE_TOOLS is set.
#[test]
fn every_confirm_command_runs_and_shows_packets() {
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("tcpdump") || !have("tshark") {
        // scripts/test.sh sets it where the lab runs (the tools are installed there).
        assert!(
            std::env::var_os("LBCHECK_REQUIRE_TOOLS").is_none(),
            "tcpdump and tshark are required (LBCHECK_REQUIRE_TOOLS)"
        );
        eprintln!("tcpdump or tshark missing: confirm commands not run");
        return;
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    // Beside the rows: an IPv6 range (libpcap's `tcp[tcpflags]` matches nothing on IPv6), and
    // the client conveyed by Cloudflare's SPP (tshark has no dissector for it).
    let beside: &[(&str, &[&str], &[&str])] = &[
        (
            "lb-range.source",
            &["testdata/ipv6_http_two_clients.pcap"],
            &["--lb-range", "lb6=2001:db8::/32"],
        ),
        (
            "snat.detected",
            &["testdata/udp_cloudflare_spp_dns.pcap"],
            &[],
        ),
    ];
    for (_, files, extra) in ROWS.iter().chain(beside).filter(|r| r.1.len() == 1) {
        let json = report_of(files, extra);
        for f in json["findings"].as_array().unwrap() {
            for tool in ["tcpdump", "tshark"] {
                let Some(cmd) = f["confirm"][tool].as_str() else {
                    continue;
                };
                // As a user pastes it: a note for the reader is a shell comment.
                let cmd = cmd.replace("CAPTURE", files[0]);
                let out = Command::new("sh")
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .args(["-c", &cmd])
                    .output()
                    .unwrap();
                ran += 1;
                if !out.status.success() || out.stdout.is_empty() {
                    failures.push(format!(
                        "{}: `{cmd}` exit {:?}, {} bytes out: {}",
                        f["code"],
                        out.status.code(),
                        out.stdout.len(),
                        String::from_utf8_lossy(&out.stderr)
                            .lines()
                            .last()
                            .unwrap_or("")
                    ));
                }
            }
        }
    }
    eprintln!("{ran} confirm commands run");
    assert!(ran >= 20, "only {ran} confirm commands");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The connect-then-close probes' confirm command shows the probes and not the balancer's
/// forwarded connections, which come from the same address (real HAProxy in the lab).
#[test]
fn connect_then_close_confirm_shows_only_the_probes() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(std::env::var_os("LBCHECK_REQUIRE_TOOLS").is_none());
        eprintln!("tshark missing: not run");
        return;
    }
    let file = "testdata/lab/snat-no-proxy/backend.pcap";
    let json = report_of(&[file], &[]);
    let finding = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "health-check.flows")
        .expect("health-check.flows");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("connect-then-close")
    );
    let cmd = finding["confirm"]["tshark"]
        .as_str()
        .unwrap()
        .replace("CAPTURE", file);
    let out = Command::new("sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-c", &cmd])
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd}");
    let mut shown: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap_or("").to_string())
        .collect();
    shown.sort();
    let port = |f: &serde_json::Value| f["client"]["port"].to_string();
    let flows = json["flows"].as_array().unwrap();
    let mut probes: Vec<String> = flows
        .iter()
        .filter(|f| f["kind"] == "health-check")
        .map(port)
        .collect();
    probes.sort();
    assert_eq!(shown, probes, "{cmd}");
    assert!(
        flows.iter().any(|f| f["kind"] == "client"),
        "the capture also holds forwarded connections from the same address"
    );
}
