//! lbcheck on captures made by the lab (lab/run.sh: real HAProxy, nginx, dnsmasq and Linux
//! routing in network namespaces). Each scenario's statement.json says what was constructed
//! and what a correct analysis says; tshark's reading of the PROXY headers (the .tshark.tsv
//! next to each capture) is the second opinion.
//!
//! `committed_lab_captures` runs on testdata/lab (always). `fresh_lab_captures` runs on the
//! captures of a lab run made just before (scripts/test.sh sets LBCHECK_LAB_OUT): new ports,
//! ISNs and timing every time.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn lbcheck(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The finding codes of a report, in its order.
fn codes(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect()
}

struct TsharkRow {
    frame: u64,
    version: String,
    command: String,
    src: String,
    port: String,
}

fn tshark_rows(path: &Path) -> Option<Vec<TsharkRow>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                let col = |i: usize| c.get(i).copied().unwrap_or("").to_string();
                let src = if col(3).is_empty() { col(4) } else { col(3) };
                TsharkRow {
                    frame: col(0).parse().unwrap_or(0),
                    version: col(1),
                    command: col(2),
                    src,
                    port: col(5),
                }
            })
            .collect(),
    )
}

/// Compares lbcheck's PROXY headers with tshark's, frame by frame.
fn compare_with_tshark(capture: &Path, report: &Value, failures: &mut Vec<String>) -> usize {
    let Some(rows) = tshark_rows(&PathBuf::from(format!("{}.tshark.tsv", capture.display())))
    else {
        return 0;
    };
    let flows = report["flows"].as_array().unwrap();
    let mut compared = 0;
    let mut ours = std::collections::BTreeSet::new();
    for f in flows
        .iter()
        .filter(|f| f["proxy_seen"] == "present" && f["proto"] == "tcp")
    {
        let h = &f["proxy"];
        let Some(frame) = f["first_bytes"]["to_server"]["first_data_packet"].as_u64() else {
            continue;
        };
        ours.insert(frame);
        let Some(row) = rows.iter().find(|r| r.frame == frame) else {
            failures.push(format!(
                "{}: lbcheck sees a PROXY v{} header in packet {frame}, tshark does not",
                capture.display(),
                h["version"]
            ));
            continue;
        };
        compared += 1;
        let mut diff = Vec::new();
        if row.version != h["version"].to_string().as_str() {
            diff.push(format!(
                "version {} vs tshark {}",
                h["version"], row.version
            ));
        }
        if h["version"] == 2 {
            let cmd = if h["command"] == "LOCAL" { "0" } else { "1" };
            if row.command != cmd {
                diff.push(format!(
                    "command {} vs tshark {}",
                    h["command"], row.command
                ));
            }
        }
        // tshark reads a LOCAL header's address block from the family byte (wrong for the AWS
        // NLB layout, which lbcheck reads as HAProxy does); compare addresses on PROXY only.
        if h["command"] == "PROXY" && h["status"] == "complete" {
            if row.src != h["src"].as_str().unwrap_or("") {
                diff.push(format!("src {} vs tshark {}", h["src"], row.src));
            }
            if row.port != h["src_port"].to_string().as_str() {
                diff.push(format!("src port {} vs tshark {}", h["src_port"], row.port));
            }
        }
        if !diff.is_empty() {
            failures.push(format!(
                "{} packet {frame}: {}",
                capture.display(),
                diff.join("; ")
            ));
        }
    }
    // Headers tshark sees that lbcheck does not (allowing for retransmitted first segments and
    // UDP datagrams, where tshark lists every header and lbcheck one per flow).
    let retransmits = flows
        .iter()
        .any(|f| f["tcp"]["retransmissions"].as_u64().unwrap_or(0) > 0);
    let udp_headers = flows
        .iter()
        .any(|f| f["proto"] == "udp" && f["proxy_seen"] == "present");
    if !retransmits && !udp_headers {
        for r in rows.iter().filter(|r| !ours.contains(&r.frame)) {
            failures.push(format!(
                "{}: tshark sees a PROXY header in packet {} that lbcheck does not report",
                capture.display(),
                r.frame
            ));
        }
    }
    compared
}

fn check_lab_dir(dir: &Path) -> (usize, usize, Vec<String>) {
    let mut failures = Vec::new();
    let (mut captures, mut compared) = (0, 0);
    let mut statements: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("statement.json"))
        .filter(|p| p.exists())
        .collect();
    statements.sort();
    assert!(
        !statements.is_empty(),
        "no statement.json under {}",
        dir.display()
    );
    for st in statements {
        let s: Value = serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
        let sdir = st.parent().unwrap();
        for (name, c) in s["captures"].as_object().unwrap() {
            let path = sdir.join(name);
            let p = path.to_str().unwrap();
            let port = c["service_port"].as_u64().map(|n| n.to_string());
            let mut args = vec!["pcap", "--format", "json", p];
            if let Some(port) = &port {
                args.extend(["--port", port.as_str()]);
            }
            let r = lbcheck(&args);
            captures += 1;
            for (k, want) in c["expect"].as_object().unwrap() {
                if &r["verdicts"][k] != want {
                    failures.push(format!(
                        "{p}: {k} expected {want}, got {}",
                        r["verdicts"][k]
                    ));
                }
            }
            let codes = codes(&r);
            for code in c["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !codes.contains(&code) {
                    failures.push(format!("{p}: finding {code} missing (have {codes:?})"));
                }
            }
            // Told where the capture was taken, a client-side capture cannot judge the client IP.
            if c["side"] == "client" {
                args.extend(["--side", "client"]);
                let r = lbcheck(&args);
                if r["verdicts"]["client_ip"] != "not-applicable"
                    || r["verdicts"]["snat"] != "unknown"
                {
                    failures.push(format!("{p} --side client: client_ip/snat should be not-applicable/unknown, got {}", r["verdicts"]));
                }
            }
            compared += compare_with_tshark(&path, &r, &mut failures);
        }
        // All capture points of the scenario together: the connections are followed across
        // them (TCP scenarios with a client and a backend capture).
        let names: Vec<&String> = s["captures"].as_object().unwrap().keys().collect();
        let tcp = s["captures"]
            .as_object()
            .unwrap()
            .values()
            .all(|c| c["proto"] == "tcp");
        if tcp
            && names.iter().any(|n| *n == "client.pcap")
            && names.iter().any(|n| *n == "backend.pcap")
        {
            let files: Vec<String> = ["client.pcap", "lb.pcap", "backend.pcap"]
                .iter()
                .map(|n| sdir.join(n))
                .filter(|p| p.exists())
                .map(|p| p.display().to_string())
                .collect();
            let mut args = vec!["pcap", "--format", "json"];
            args.extend(files.iter().map(String::as_str));
            let r = lbcheck(&args);
            let spanning = r["paths"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    p["hops"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|h| h["input"].as_u64())
                        .collect::<std::collections::BTreeSet<u64>>()
                        .len()
                        > 1
                })
                .count();
            if spanning == 0 {
                failures.push(format!(
                    "{}: no connection followed across {} files",
                    sdir.display(),
                    files.len()
                ));
            }
        }
    }
    (captures, compared, failures)
}

#[test]
fn committed_lab_captures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/lab");
    let (captures, compared, failures) = check_lab_dir(&dir);
    eprintln!("testdata/lab: {captures} captures, {compared} PROXY headers compared with tshark");
    assert!(captures >= 40, "only {captures} lab captures");
    assert!(
        compared >= 20,
        "only {compared} headers compared with tshark"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fresh_lab_captures() {
    let Some(out) = std::env::var_os("LBCHECK_LAB_OUT") else {
        eprintln!(
            "LBCHECK_LAB_OUT not set: no fresh lab run to check (scripts/test.sh sets it when the lab runs)"
        );
        return;
    };
    let (captures, compared, failures) = check_lab_dir(Path::new(&out));
    eprintln!("fresh lab run: {captures} captures, {compared} PROXY headers compared with tshark");
    assert!(captures >= 40, "only {captures} lab captures");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A self-hosted HAProxy forwarding from a private address (in no LB range) with no header:
/// nothing in the packets proves SNAT, so the verdicts stay unknown, but the report names the
/// address (it also sends the health checks) and the `--lb-range` that decides; given that
/// option, the verdict follows.
#[test]
fn private_balancer_source_is_named_and_the_lb_range_it_suggests_decides() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/lab/snat-private-no-proxy/backend.pcap");
    let p = capture.to_str().unwrap();
    let r = lbcheck(&["pcap", "--format", "json", "--port", "8080", p]);
    assert_eq!(r["verdicts"]["snat"], "unknown");
    assert_eq!(r["verdicts"]["client_ip"], "unknown");
    let undecided: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "snat.undecided")
        .collect();
    assert_eq!(undecided.len(), 1, "{}", r["findings"]);
    let f = undecided[0];
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("2 flows from 10.99.0.1 carry no header"),
        "{summary}"
    );
    assert!(
        summary.contains("also sends this service's 2 health checks"),
        "{summary}"
    );
    // The client flows are listed, not the health checks.
    let clients: Vec<u64> = r["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "client")
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    let listed: Vec<u64> = f["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(listed, clients);
    // The option the fix names, taken from its text, decides the verdict.
    let fix = f["fix"][0].as_str().unwrap();
    let option = fix.split('`').nth(1).expect("the option in backquotes");
    assert_eq!(option, "--lb-range lb=10.99.0.1/32");
    let mut args = vec!["pcap", "--format", "json", "--port", "8080", p];
    args.extend(option.split(' '));
    let r = lbcheck(&args);
    assert_eq!(r["verdicts"]["snat"], "yes");
    assert_eq!(r["verdicts"]["client_ip"], "lost");
    let codes = codes(&r);
    assert!(
        codes.contains(&"client-ip.lost") && !codes.contains(&"snat.undecided"),
        "{codes:?}"
    );
}
