//! What a capture of thousands of flows reports stays readable: every finding is one bounded
//! line, however many distinct values its flows carry (flow and packet lists are for machines,
//! and stay complete in the JSON).

use std::process::Command;

#[path = "../examples/make_bench_capture.rs"]
#[allow(dead_code)]
mod bench_capture;

/// lbcheck's standard output, as text.
fn lbcheck(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .args(args)
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

/// `lbcheck pcap --format json FILE`, parsed.
fn json_report(file: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&lbcheck(&[
        "pcap",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]))
    .unwrap()
}

#[test]
fn findings_of_a_generated_capture_stay_one_bounded_line() {
    let out = std::env::temp_dir().join(format!("lbcheck-scale-{}.pcap", std::process::id()));
    let args = bench_capture::Args {
        size: 6 << 20,
        format: bench_capture::Format::Pcap,
        seed: 3,
        out: out.clone(),
        kind: bench_capture::Kind::Mixed,
        flows: 0,
        live: 200,
        gap_scale: 400,
    };
    let (_, _, flows) = bench_capture::generate(&args).unwrap();
    assert!(flows > 300, "{flows} flows");
    let report = json_report(&out);
    std::fs::remove_file(&out).ok();
    // A backend pool: its TLS clients connect directly (port 443) and are also named in the
    // PROXY headers of the balanced ports. That is no balancer capture of both legs: each
    // direct connection goes to a backend that headers reach.
    let named: std::collections::BTreeSet<&str> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["client_ip"]["by"] != "ip-source")
        .filter_map(|f| f["client_ip"]["ip"].as_str())
        .collect();
    assert!(
        report["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["server"]["port"] == 443
                && named.contains(f["client"]["ip"].as_str().unwrap())),
        "no direct client also named in a header: the capture does not test the side"
    );
    for s in report["services"].as_array().unwrap() {
        assert_eq!(s["side"]["value"], "backend", "{}", s["side"]);
    }
    let findings = report["findings"].as_array().unwrap();
    for f in findings {
        let line = f["summary"].as_str().unwrap();
        assert!(line.len() < 400 && !line.contains('\n'), "{line}");
    }
    // Health checks: HTTP probes that number their requests (`/healthz?id=…`) share one
    // reason, and the counts in the line add up to the finding's flows.
    let health: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["code"] == "health-check.flows")
        .collect();
    assert!(!health.is_empty());
    for f in health {
        let line = f["summary"].as_str().unwrap();
        let (total, list) = line
            .split_once(" health-check flows counted apart from client traffic: ")
            .unwrap();
        let counted: usize = list
            .split("; ")
            .map(|item| {
                let n = item.split(['×', ' ']).next().unwrap();
                n.parse::<usize>()
                    .unwrap_or_else(|_| panic!("{item:?} in {line}"))
            })
            .sum();
        assert_eq!(counted, total.parse::<usize>().unwrap(), "{line}");
        assert_eq!(counted, f["flows"].as_array().unwrap().len(), "{line}");
        assert!(!list.contains('?'), "a query string in {line}");
    }
    let http_reasons: Vec<&str> = report["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["kind_reason"].as_str())
        .filter(|r| r.ends_with("looks like a health-check request"))
        .collect();
    assert!(!http_reasons.is_empty());
    assert!(
        http_reasons
            .iter()
            .all(|r| *r == "GET /healthz looks like a health-check request"
                || *r == "POST /healthz looks like a health-check request"),
        "{http_reasons:?}"
    );
}

/// A capture of `flows` flows of `kind` from the bench generator, in the temporary directory.
fn generated(kind: bench_capture::Kind, name: &str, flows: u64) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!("lbcheck-{name}-{}.pcap", std::process::id()));
    let args = bench_capture::Args {
        size: 0,
        format: bench_capture::Format::Pcap,
        seed: 1,
        out: out.clone(),
        kind,
        flows,
        live: 0,
        gap_scale: 1,
    };
    bench_capture::generate(&args).unwrap();
    out
}

/// A port scan: one SYN to each of `ports` ports, each answered by a RST.
fn port_scan(ports: u64) -> std::path::PathBuf {
    generated(bench_capture::Kind::Scan, "scan", ports)
}

/// Backscatter: SYN-ACKs from one server that answer no SYN make one finding that counts them,
/// not one line each; a single one still names its client.
#[test]
fn orphan_syn_acks_of_one_server_make_one_finding() {
    let findings = |flows: u64| {
        let path = generated(bench_capture::Kind::Backscatter, "backscatter", flows);
        let report = json_report(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(report["services"][0]["verdicts"]["return_path"], "broken");
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "return-path.orphan-synack")
            .cloned()
            .collect::<Vec<_>>()
    };
    let many = findings(2_000);
    assert_eq!(many.len(), 1);
    assert_eq!(
        many[0]["summary"],
        "2000 SYN-ACKs from 198.51.100.10:80 answer no SYN in this capture"
    );
    assert_eq!(many[0]["flows"].as_array().unwrap().len(), 2_000);
    assert_eq!(many[0]["packets"].as_array().unwrap().len(), 2_000);
    let one = findings(1);
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]["summary"],
        "a SYN-ACK from 198.51.100.10:80 to 198.18.0.0:1024 answers no SYN in this capture"
    );
}

/// A port scan makes a service of every port: each is judged on its own flow, and the text
/// report lists the first few on one line each and counts the rest (all with `--flows`).
#[test]
fn a_port_scan_makes_a_service_per_port_and_the_text_counts_the_rest() {
    let path = port_scan(300);
    let file = path.to_str().unwrap();
    let report = json_report(&path);
    let services = report["services"].as_array().unwrap();
    assert_eq!(services.len(), 300);
    for (i, s) in services.iter().enumerate() {
        // One flow each, ordered by port (equal flow counts), each with its own flow.
        assert_eq!(s["port"], i + 1);
        assert_eq!(s["flows"], serde_json::json!([i + 1]));
        assert_eq!(s["server_ips"], serde_json::json!(["198.51.100.10"]));
    }
    let text = lbcheck(&["pcap", "--color", "never", file]);
    let listed = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("  tcp/") && l.ends_with(" (1 flows)"))
            .count()
    };
    assert_eq!(listed(&text), 20, "{text}");
    assert!(
        text.contains("  … 277 more services (277 flows; --flows lists them)\n"),
        "{text}"
    );
    let all = lbcheck(&["pcap", "--color", "never", "--flows", file]);
    assert_eq!(listed(&all), 297);
    assert!(!all.contains("more services"));
    // With the scanner taken for a balancer, every service has an lb-range.source finding:
    // five are printed, the rest counted.
    let ranged = |all: bool| {
        let mut args = vec![
            "pcap",
            "--color",
            "never",
            "--lb-range",
            "scanner=192.0.2.66/32",
        ];
        if all {
            args.push("--flows");
        }
        args.push(file);
        let text = lbcheck(&args);
        let n = text
            .lines()
            .filter(|l| l.contains("] lb-range.source "))
            .count();
        (n, text)
    };
    let (printed, text) = ranged(false);
    assert_eq!(printed, 5, "{text}");
    assert!(text.contains("  … 295 more lb-range.source findings (--flows lists them)\n"));
    let (printed, text) = ranged(true);
    assert_eq!(printed, 300);
    assert!(!text.contains("more lb-range.source"));
    std::fs::remove_file(&path).ok();
}

/// A balancer capture holds a path per proxied connection: the text report shows the first
/// ten and counts the rest (all with `--flows`); the JSON keeps every one.
#[test]
fn paths_of_a_balancer_capture_are_capped_in_the_text() {
    let path = generated(bench_capture::Kind::Legs, "legs", 40);
    let file = path.to_str().unwrap();
    let report = json_report(&path);
    let paths = report["paths"].as_array().unwrap().len();
    assert!(paths > 20, "{paths} paths");
    let shown = |text: &str| text.lines().filter(|l| l.starts_with("  path ")).count();
    let text = lbcheck(&["pcap", "--color", "never", file]);
    assert!(text.contains(&format!("\nPaths ({paths})\n")), "{text}");
    assert_eq!(shown(&text), 10);
    assert!(
        text.contains(&format!(
            "  … {} more paths (--flows lists them)\n",
            paths - 10
        )),
        "{text}"
    );
    let all = lbcheck(&["pcap", "--color", "never", "--flows", file]);
    assert_eq!(shown(&all), paths);
    assert!(!all.contains("more paths"));
    std::fs::remove_file(&path).ok();
}
