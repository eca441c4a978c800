//! Verdicts and findings on the project's own captures (testdata/, written by
//! examples/make_testdata.rs; the lab's real captures are tested in tests/lab.rs). Each row says
//! what a correct analysis of the scenario is; see testdata/README.md for how each was made.

use std::process::Command;

use serde_json::Value;

fn report(capture: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["pcap", "--format", "json", capture];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(&args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{capture}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), json)
}

fn codes(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// (capture, client_ip, snat, proxy_protocol, return_path, findings that must be present)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

#[rustfmt::skip]
const CASES: &[Case] = &[
    ("proxy_v2_tcp4_tlvs_alpn_authority_crc_uniqueid_ssl_http.pcap", "proxy-v2", "yes", "v2", "ok", &["snat.detected", "lb-range.source"]),
    ("proxy_v1_tcp4_http.pcap", "proxy-v1", "yes", "v1", "ok", &["snat.detected"]),
    ("proxy_v1_tcp6_http.pcap", "proxy-v1", "yes", "v1", "ok", &["snat.detected"]),
    ("proxy_v2_local_aws_nlb_health_check_crc_noop.pcap", "unknown", "yes", "v2", "ok", &["health-check.flows"]),
    ("proxy_v2_split_across_two_segments_http.pcap", "proxy-v2", "yes", "v2", "ok", &["proxy.split"]),
    ("proxy_v2_bad_crc32c_http.pcap", "proxy-v2", "yes", "v2", "ok", &["proxy.crc32c-mismatch"]),
    ("proxy_v1_malformed_leading_zero_port.pcap", "unknown", "yes", "v1", "ok", &["proxy.malformed"]),
    ("proxy_v1_sent_to_plain_backend_http_400.pcap", "proxy-v1", "yes", "v1", "ok", &["proxy.sent-to-plain-backend"]),
    ("proxy_missing_tls_clienthello_sni_server_closes.pcap", "preserved", "no", "none", "ok", &["proxy.expected-but-missing"]),
    ("proxy_v2_udp4_per_datagram_dns.pcap", "proxy-v2", "yes", "v2", "ok", &["snat.detected"]),
    ("xff_two_headers_client_forged_first_from_lb.pcap", "xff", "yes", "none", "ok", &["xff.multiple-headers"]),
    ("link_en10mb_qinq_88a8_200_8100_300_http_xff.pcap", "xff", "yes", "none", "ok", &["snat.detected"]),
    ("tcp_toa_option254_in_handshake_ack.pcap", "toa", "yes", "none", "ok", &["snat.detected"]),
    ("snaplen54_no_payload.pcap", "unknown", "yes", "unknown", "ok", &["capture.snaplen-too-small"]),
    ("snaplen64_http_payload_cut.pcap", "unknown", "yes", "none", "ok", &["capture.snaplen-too-small"]),
    ("snaplen80_proxy_v2_cut_after_length.pcap", "proxy-v2", "yes", "v2", "ok", &["proxy.truncated"]),
    ("tcp_syn_without_synack.pcap", "preserved", "no", "unknown", "broken", &["return-path.no-synack"]),
    ("link_en10mb_plain_http.pcap", "preserved", "no", "none", "ok", &[]),
    ("xff_same_host_balancer_both_legs.pcap", "xff", "yes", "none", "ok", &["snat.detected"]),
    ("tcp_health_checks_only_private_source.pcap", "unknown", "unknown", "unknown", "ok", &["health-check.flows"]),
];

#[test]
fn verdicts_and_findings_on_testdata() {
    let mut failures = Vec::new();
    for (capture, client_ip, snat, proxy, ret, needed) in CASES {
        let path = format!("testdata/{capture}");
        let (_, r) = report(&path, &[]);
        let v = &r["verdicts"];
        let got = (
            v["client_ip"].as_str().unwrap(),
            v["snat"].as_str().unwrap(),
            v["proxy_protocol"].as_str().unwrap(),
            v["return_path"].as_str().unwrap(),
        );
        if got != (*client_ip, *snat, *proxy, *ret) {
            failures.push(format!(
                "{capture}: expected {:?}, got {got:?}",
                (client_ip, snat, proxy, ret)
            ));
        }
        let have = codes(&r);
        for code in *needed {
            if !have.iter().any(|c| c == code) {
                failures.push(format!("{capture}: finding {code} missing (have {have:?})"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn health_checks_are_counted_apart_and_flagged_per_flow() {
    let (_, r) = report(
        "testdata/proxy_v2_local_aws_nlb_health_check_crc_noop.pcap",
        &[],
    );
    assert_eq!(r["flows"][0]["kind"], "health-check");
    assert!(
        r["flows"][0]["kind_reason"]
            .as_str()
            .unwrap()
            .contains("LOCAL")
    );
    assert_eq!(r["services"][0]["health_checks"], 1);
}

#[test]
fn conveyed_client_is_the_last_xff_entry_not_the_forged_first() {
    let (_, r) = report(
        "testdata/xff_two_headers_client_forged_first_from_lb.pcap",
        &[],
    );
    let c = &r["flows"][0]["client_ip"];
    assert_eq!(c["by"], "xff");
    assert_eq!(
        c["ip"], "192.0.2.10",
        "192.0.2.66 was sent by the client itself"
    );
}

#[test]
fn side_is_inferred_and_can_be_given() {
    let (_, r) = report("testdata/proxy_v1_tcp4_http.pcap", &[]);
    assert_eq!(r["service"]["side"]["value"], "backend");
    assert_eq!(r["service"]["side"]["inferred"], true);
    let (_, r) = report(
        "testdata/link_en10mb_plain_http.pcap",
        &["--side", "client"],
    );
    assert_eq!(r["service"]["side"]["value"], "client");
    assert_eq!(r["verdicts"]["client_ip"], "not-applicable");
    assert_eq!(
        r["verdicts"]["snat"], "unknown",
        "a client-side capture cannot claim SNAT"
    );
}

#[test]
fn expect_exit_codes() {
    let cap = "testdata/proxy_v2_tcp4_tlvs_alpn_authority_crc_uniqueid_ssl_http.pcap";
    let (code, r) = report(
        cap,
        &[
            "--expect",
            "client-ip=proxy-v2",
            "--expect",
            "proxy=v2",
            "--expect",
            "snat=yes",
        ],
    );
    assert_eq!(code, Some(0), "{r}");
    assert!(
        r["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["ok"] == true)
    );
    let (code, r) = report(cap, &["--expect", "client-ip=preserved"]);
    assert_eq!(code, Some(1));
    assert_eq!(r["expectations"][0]["found"], "proxy-v2");
    let (code, _) = report(
        "testdata/proxy_v1_sent_to_plain_backend_http_400.pcap",
        &["--expect", "no-findings=error"],
    );
    assert_eq!(code, Some(1));
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["pcap", cap, "--expect", "client-ip=maybe"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("client-ip takes one of preserved"));
}

#[test]
fn failed_expectation_is_explained_on_stderr() {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "pcap",
            "testdata/snaplen64_http_payload_cut.pcap",
            "--expect",
            "proxy=v2",
            "--color",
            "never",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("expectation failed: proxy=v2 but found none"),
        "{err}"
    );
}

#[test]
fn user_lb_range_and_trusted_lb() {
    let cap = "testdata/link_en10mb_plain_http.pcap";
    let (_, r) = report(cap, &["--lb-range", "my-lb=192.0.2.0/24"]);
    assert_eq!(r["flows"][0]["lb_range"], "my-lb");
    assert_eq!(r["verdicts"]["client_ip"], "lost");
    let (_, r) = report(
        "testdata/proxy_v1_tcp4_http.pcap",
        &["--trusted-lb", "10.0.0.0/8"],
    );
    assert!(codes(&r).contains(&"trust.header-from-untrusted-source".to_string()));
    let (_, r) = report(
        "testdata/proxy_v1_tcp4_http.pcap",
        &["--trusted-lb", "100.64.0.0/10"],
    );
    assert!(!codes(&r).contains(&"trust.header-from-untrusted-source".to_string()));
}

#[test]
fn proxy_destination_is_checked_against_the_vip() {
    let cap = "testdata/proxy_v1_tcp4_http.pcap";
    let (_, r) = report(cap, &["--vip", "198.51.100.99"]);
    assert!(codes(&r).contains(&"proxy.destination-not-vip".to_string()));
    let (_, r) = report(cap, &["--vip", "198.51.100.10"]);
    assert!(!codes(&r).contains(&"proxy.destination-not-vip".to_string()));
}

/// A source in RFC 6598 space (a cloud balancer's, but also a carrier NAT's or a VPN's such as
/// Tailscale's) makes the client IP "most likely" lost, with the other reading spelled out;
/// the same address named by the user with --lb-range is the balancer, plainly.
#[test]
fn lost_client_ip_from_shared_address_space_is_most_likely_not_proven() {
    let lost_detail = |extra: &[&str]| -> String {
        let (_, r) = report("testdata/lab/snat-no-proxy/backend.pcap", extra);
        assert_eq!(r["verdicts"]["client_ip"], "lost");
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "client-ip.lost")
            .expect("client-ip.lost");
        f["detail"].as_str().unwrap().to_string()
    };
    let built_in = lost_detail(&[]);
    assert!(built_in.contains("most likely a balancer"), "{built_in}");
    assert!(
        built_in.contains("carrier-grade NAT and overlay VPNs"),
        "{built_in}"
    );
    assert!(built_in.contains("nothing is lost"), "{built_in}");
    let named = lost_detail(&["--lb-range", "my-lb=100.64.0.2/32"]);
    assert_eq!(
        named,
        "the source is in the my-lb range: the balancer translates the client address (SNAT)"
    );
}

/// Probes alone say nothing of the clients: a service of nothing but health checks from a
/// private address gets no snat.undecided (which would list the probes as the flows it judges).
#[test]
fn health_checks_alone_make_no_snat_undecided() {
    let (_, r) = report("testdata/tcp_health_checks_only_private_source.pcap", &[]);
    let have = codes(&r);
    assert!(have.iter().any(|c| c == "health-check.flows"), "{have:?}");
    assert!(!have.iter().any(|c| c == "snat.undecided"), "{have:?}");
}
