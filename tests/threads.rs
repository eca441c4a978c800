//! Splitting a file's flows across threads changes nothing but speed: every thread reads every
//! packet and keeps the flows that hash to it, and the parts are merged back into the same
//! report (flow ids, counters, the peak of open flows, findings, verdicts, exit code).
//! `LBCHECK_THREADS` forces the split on files of any size.

use std::path::{Path, PathBuf};
use std::process::Command;

#[allow(dead_code, clippy::all, clippy::pedantic)]
#[path = "../examples/make_bench_capture.rs"]
mod bench_capture;

fn run(threads: usize, args: &[&str]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    run_with(threads, "auto", args)
}

/// `mode`: `auto` (the default way: one thread walks the file and hands packets to the
/// others); `share` (every thread walks the file, which is memory-mapped when large); `map`
/// (`share`, each thread through a memory map even of a small file).
fn run_with(threads: usize, mode: &str, args: &[&str]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let (split, map) = match mode {
        "auto" => ("walk", "auto"),
        "share" => ("share", "auto"),
        "map" => ("share", "always"),
        _ => panic!("mode {mode}"),
    };
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LBCHECK_THREADS", threads.to_string())
        .env("LBCHECK_SPLIT", split)
        .env("LBCHECK_MMAP", map)
        .args(args)
        .output()
        .unwrap();
    (o.status.code(), o.stdout, o.stderr)
}

fn assert_same(args: &[&str], threads: &[usize]) {
    assert_same_with(args, threads, "auto");
}

fn assert_same_with(args: &[&str], threads: &[usize], mode: &str) {
    let single = run(1, args);
    assert!(
        !single.1.is_empty() || !single.2.is_empty(),
        "{args:?}: no output at all"
    );
    for &n in threads {
        let split = run_with(n, mode, args);
        assert_eq!(single.0, split.0, "{args:?}: exit code with {n} threads");
        if single.1 != split.1 {
            let (a, b) = (
                String::from_utf8_lossy(&single.1),
                String::from_utf8_lossy(&split.1),
            );
            let at = a
                .bytes()
                .zip(b.bytes())
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            let from = at.saturating_sub(200);
            panic!(
                "{args:?}: stdout differs with {n} threads at byte {at}:\n  one: {}\n  {n}:   {}",
                &a[from..(at + 200).min(a.len())],
                &b[from..(at + 200).min(b.len())]
            );
        }
        assert_eq!(single.2, split.2, "{args:?}: stderr with {n} threads");
    }
}

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures_under(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(p);
        }
    }
}

#[test]
fn every_bundled_and_shared_capture_gives_the_same_report_on_two_and_three_threads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    captures_under(&root.join("testdata"), &mut files);
    let bundled = files.len();
    assert!(bundled > 100, "testdata/ holds {bundled} captures");
    // Captures from other projects, when the workplace has them (not in the repository).
    captures_under(&root.join("../shared/captures"), &mut files);
    files.sort();
    for f in &files {
        let f = f.to_str().unwrap();
        assert_same(&["pcap", "--format", "json", f], &[2, 3]);
        assert_same_with(&["pcap", "--format", "json", f], &[2], "share");
    }
}

#[test]
fn several_files_and_the_text_report_are_the_same_on_two_threads() {
    for scenario in ["snat-proxy-v2", "transparent", "asymmetric-leak"] {
        let files: Vec<String> = ["client", "lb", "backend"]
            .iter()
            .map(|side| format!("testdata/lab/{scenario}/{side}.pcap"))
            .filter(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join(p).exists())
            .collect();
        assert!(files.len() >= 2, "{scenario}: {files:?}");
        let mut args = vec!["pcap", "--color", "never", "-v"];
        args.extend(files.iter().map(String::as_str));
        assert_same(&args, &[2]);
    }
}

/// A generated capture large enough for the threads' clocks to matter: hundreds of
/// interleaved flows (PROXY v1/v2, XFF, TLS, health checks, IPv6, UDP), spread over enough
/// capture time that closed flows are handed out while others are still open.
#[test]
fn a_generated_capture_of_hundreds_of_flows_gives_the_same_report_on_two_and_four_threads() {
    for (format, ext) in [
        (bench_capture::Format::Pcap, "pcap"),
        (bench_capture::Format::Pcapng, "pcapng"),
    ] {
        let out =
            std::env::temp_dir().join(format!("lbcheck-threads-{}.{ext}", std::process::id()));
        let args = bench_capture::Args {
            size: 10 << 20,
            format,
            seed: 7,
            out: out.clone(),
            kind: bench_capture::Kind::Mixed,
            flows: 0,
            live: 200,
            gap_scale: 400,
        };
        let (_, packets, flows) = bench_capture::generate(&args).unwrap();
        assert!(
            packets > 10_000 && flows > 500,
            "{packets} packets, {flows} flows"
        );
        let path = out.to_str().unwrap();
        assert_same(&["pcap", "--format", "json", path], &[2, 4]);
        assert_same_with(&["pcap", "--format", "json", path], &[2, 4], "share");
        // Every thread through one memory map, as large files are read that way.
        assert_same_with(&["pcap", "--format", "json", path], &[2], "map");
        assert_same(&["pcap", "--color", "never", "--flows", path], &[2]);
        // The closed flows were handed out on the way (the clocks mattered): far fewer were
        // open at once than the file holds.
        let (_, json, _) = run(2, &["pcap", "--format", "json", path]);
        let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let stats = &report["stats"];
        let (peak, total) = (
            stats["peak_live_flows"].as_u64().unwrap(),
            stats["flows"].as_u64().unwrap(),
        );
        assert!(peak * 2 < total, "peak {peak} of {total} flows");
        std::fs::remove_file(&out).ok();
    }
}

/// A generated SYN flood of `flows` one-packet flows, in the temporary directory.
fn synflood(name: &str, flows: u64) -> PathBuf {
    let out = std::env::temp_dir().join(format!(
        "lbcheck-threads-{name}-{}.pcap",
        std::process::id()
    ));
    let args = bench_capture::Args {
        size: 0,
        format: bench_capture::Format::Pcap,
        seed: 1,
        out: out.clone(),
        kind: bench_capture::Kind::Synflood,
        flows,
        live: 0,
        gap_scale: 1,
    };
    bench_capture::generate(&args).unwrap();
    out
}

/// Just under the kept-summaries limit (50,000): no thread may drop a flow because it got a
/// few more than its share (each kept ceil(50,000 / n) once, and 2 and 4 threads dropped some).
#[test]
fn flows_just_under_the_kept_limit_are_all_kept_on_any_number_of_threads() {
    let out = synflood("kept", 49_800);
    let path = out.to_str().unwrap();
    assert_same(&["pcap", "--format", "json", path], &[2, 3, 4]);
    let (_, json, _) = run(4, &["pcap", "--format", "json", path]);
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["stats"]["flows_not_kept"], 0);
    std::fs::remove_file(&out).ok();
}

/// Past both limits (65,536 open flows, 50,000 kept summaries): the threads evict exactly the
/// flows one table evicts (the limit holds per flow group, and each thread owns whole groups)
/// and keep the same, earliest, flows. Before, a thread evicted from its own share of the
/// limit, and 2 threads counted 235,439 evictions in a 300,000-flow flood where one counted
/// 243,711.
#[test]
fn a_flood_past_both_limits_gives_the_same_report_on_any_number_of_threads() {
    let out = synflood("flood", 150_000);
    let path = out.to_str().unwrap();
    assert_same(&["pcap", "--format", "json", path], &[2, 3, 4]);
    assert_same_with(&["pcap", "--format", "json", path], &[2], "share");
    assert_same(&["pcap", "--color", "never", path], &[2]);
    let (code, json, _) = run(2, &["pcap", "--format", "json", path]);
    assert_eq!(code, Some(0));
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let stats = &report["stats"];
    assert_eq!(stats["flows_not_kept"], 100_000);
    let evicted = stats["flows_evicted"].as_u64().unwrap();
    assert!(evicted > 50_000, "evicted {evicted}");
    let peak = stats["peak_live_flows"].as_u64().unwrap();
    assert!((40_000..=65_536).contains(&peak), "peak {peak}");
    // The kept flows are the earliest: the flood's first 50,000 SYNs, one packet each.
    let flows = report["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 50_000);
    assert!(
        flows
            .iter()
            .enumerate()
            .all(|(i, f)| f["id"] == i + 1 && f["first_packet"] == i + 1)
    );
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"capture.flows-evicted") && codes.contains(&"capture.flows-not-kept"));
    std::fs::remove_file(&out).ok();
}

/// `--max-flows` and `--max-open-flows` move both limits, on any number of threads, and the
/// findings quote the limits in force and the option that lifts them.
#[test]
fn user_limits_bound_the_flood_and_the_findings_quote_them() {
    let out = synflood("limits", 30_000);
    let path = out.to_str().unwrap();
    let args = [
        "pcap",
        "--format",
        "json",
        "--max-flows",
        "12000",
        "--max-open-flows",
        "4096",
        path,
    ];
    assert_same(&args, &[2, 3]);
    let (code, json, _) = run(2, &args);
    assert_eq!(code, Some(0));
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let stats = &report["stats"];
    assert_eq!(stats["flows_not_kept"], 18_000);
    assert_eq!(report["flows"].as_array().unwrap().len(), 12_000);
    let peak = stats["peak_live_flows"].as_u64().unwrap();
    // 64 flows in each of 64 groups, passed by at most one maintenance interval (1024).
    assert!((2_000..=4_096 + 1_024).contains(&peak), "peak {peak}");
    let finding = |code: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code}"))
            .clone()
    };
    let evicted = finding("capture.flows-evicted");
    let text = evicted["summary"].as_str().unwrap();
    assert!(
        text.contains("at most 4096 in all: 64 in each of 64 groups"),
        "{text}"
    );
    assert!(
        evicted["fix"][0]
            .as_str()
            .unwrap()
            .starts_with("--max-open-flows 16384 ")
    );
    let not_kept = finding("capture.flows-not-kept");
    let text = not_kept["summary"].as_str().unwrap();
    assert!(
        text.contains("18000 flows beyond the first 12000"),
        "{text}"
    );
    assert_eq!(
        not_kept["fix"][0].as_str().unwrap(),
        "--max-flows 30000 (to summarise every flow: about 1.5 KiB of memory each, 44 MiB)"
    );
    // Limits high enough for the whole flood: no flow is dropped or evicted, and neither
    // finding is made.
    let (_, json, _) = run(
        2,
        &[
            "pcap",
            "--format",
            "json",
            "--max-flows",
            "30000",
            "--max-open-flows",
            "65536",
            path,
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["stats"]["flows_not_kept"], 0);
    assert_eq!(report["stats"]["flows_evicted"], 0);
    assert_eq!(report["flows"].as_array().unwrap().len(), 30_000);
    assert!(report["findings"].as_array().unwrap().iter().all(|f| {
        f["code"] != "capture.flows-evicted" && f["code"] != "capture.flows-not-kept"
    }));
    std::fs::remove_file(&out).ok();
}

/// Interfaces whose link types share a name (RAW is 12, 14 or 101 by platform) count together
/// in `by_link_type`, on one thread and on two.
#[test]
fn link_types_with_one_name_add_up() {
    use lbcheck::source::writer::{ByteOrder, PcapngWriter};
    // A raw IPv4 TCP SYN 192.0.2.1:40000 -> 198.51.100.2:80 (checksums not needed).
    let mut syn = vec![
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    syn.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
    ]);
    syn.extend_from_slice(&[0, 0, 0, 0]);
    let mut w = PcapngWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    let raw12 = w.add_interface(12, 0, None, 6).unwrap();
    let raw101 = w.add_interface(101, 0, None, 6).unwrap();
    w.write_epb(raw12, 1_700_000_000_000_000, &syn, 40).unwrap();
    w.write_epb(raw101, 1_700_000_000_000_001, &syn, 40)
        .unwrap();
    w.write_epb(raw101, 1_700_000_000_000_002, &syn, 40)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("lbcheck-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("raw-12-101.pcapng");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    let path = path.to_str().unwrap();
    for threads in [1, 2] {
        let (_, out, err) = run(threads, &["pcap", path, "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&err)));
        assert_eq!(
            report["stats"]["by_link_type"],
            serde_json::json!({"RAW": 3}),
            "{threads} thread(s)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
