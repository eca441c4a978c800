//! Bad input gets one clear line on stderr and exit 2 (exit 1 means findings, not bad input) (or, for a capture cut inside its last
//! record, a warning and the analysis of what came before). Never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lbcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .args(args)
        .output()
        .expect("run lbcheck")
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lbcheck-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2 with exactly one line on stderr containing every `needles` piece.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("lbcheck: error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A classic pcap global header (little-endian, microseconds, Ethernet).
fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

fn pcap_record(data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(data);
    r
}

#[test]
fn missing_file() {
    let o = lbcheck(&["pcap", "/nonexistent/capture.pcap"]);
    assert_one_line_error(&o, &["/nonexistent/capture.pcap", "No such file"]);
}

#[test]
fn directory_instead_of_file() {
    let dir = std::env::temp_dir();
    let o = lbcheck(&["pcap", dir.to_str().unwrap()]);
    assert_one_line_error(&o, &["is a directory"]);
}

#[test]
fn empty_file() {
    let p = scratch("empty.pcap", b"");
    assert_one_line_error(
        &lbcheck(&["pcap", p.to_str().unwrap()]),
        &["empty.pcap", "empty file (0 bytes)"],
    );
}

#[test]
fn text_file_named_pcap() {
    let p = scratch(
        "notes.pcap",
        b"tcpdump: listening on eth0\n12:00:00 IP 192.0.2.1 > 198.51.100.1\n",
    );
    assert_one_line_error(
        &lbcheck(&["pcap", p.to_str().unwrap()]),
        &["notes.pcap", "starts with text"],
    );
}

#[test]
fn pcap_with_corrupt_global_header() {
    let mut h = pcap_header(65535);
    h[4] = 9; // version 9.4
    let p = scratch("bad-version.pcap", &h);
    assert_one_line_error(
        &lbcheck(&["pcap", p.to_str().unwrap()]),
        &["bad-version.pcap", "unsupported pcap version 9.4", "byte 0"],
    );
}

#[test]
fn pcap_record_with_absurd_length() {
    let mut f = pcap_header(65535);
    f.extend(pcap_record(&[0u8; 60]));
    let mut bad = pcap_record(&[]);
    bad[8..12].copy_from_slice(&0xffff_ff00u32.to_le_bytes());
    f.extend(bad);
    let p = scratch("absurd.pcap", &f);
    assert_one_line_error(
        &lbcheck(&["pcap", p.to_str().unwrap()]),
        &["absurd.pcap", "byte 100", "packet 2", "4294967040"],
    );
}

#[test]
fn pcapng_with_bad_block_length() {
    // SHB with total length 27: not a multiple of 4.
    let mut f = Vec::new();
    f.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
    f.extend_from_slice(&27u32.to_le_bytes());
    f.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    f.extend_from_slice(&[1, 0, 0, 0]);
    f.extend_from_slice(&[0xff; 8]);
    f.extend_from_slice(&27u32.to_le_bytes());
    let p = scratch("bad-block.pcapng", &f);
    assert_one_line_error(
        &lbcheck(&["pcap", p.to_str().unwrap()]),
        &["bad-block.pcapng", "impossible length 27", "byte 0"],
    );
}

#[test]
fn pcap_cut_inside_last_record_still_analyses_what_came_before() {
    let syn = tcp_syn();
    let mut f = pcap_header(65535);
    f.extend(pcap_record(&syn));
    let mut last = pcap_record(&syn);
    last.truncate(16 + 20); // header plus 20 of 54 data bytes: tcpdump was killed
    f.extend(last);
    let p = scratch("cut.pcap", &f);
    let o = lbcheck(&["pcap", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("byte 94") && err.contains("1 packet"),
        "{err}"
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["input"][0]["packets"], 1);
    assert_eq!(json["flows"][0]["tcp"]["syn"], 1);
    assert_eq!(json["findings"][0]["code"], "capture.cut-short");
}

#[test]
fn unknown_link_type_is_counted_not_fatal() {
    let mut f = pcap_header(65535);
    f[20..24].copy_from_slice(&147u32.to_le_bytes());
    f.extend(pcap_record(&[1, 2, 3, 4]));
    let p = scratch("user0.pcap", &f);
    let o = lbcheck(&["pcap", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["stats"]["by_link_type"]["LINKTYPE_147"], 1);
    assert_eq!(json["findings"][0]["code"], "capture.unknown-link-type");
}

#[test]
fn port_zero_is_a_usage_error() {
    let p = scratch("any.pcap", &pcap_header(65535));
    assert_one_line_error(
        &lbcheck(&["pcap", "--port", "0", p.to_str().unwrap()]),
        &["--port 0"],
    );
}

/// Ethernet + IPv4 + TCP SYN 192.0.2.10:40000 → 203.0.113.5:80 (54 bytes).
fn tcp_syn() -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    p.extend_from_slice(&[
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 10, 203, 0, 113, 5,
    ]);
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&80u16.to_be_bytes());
    p.extend_from_slice(&1000u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    p
}

#[test]
fn every_shared_capture_exits_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("../shared/captures not present: sweep skipped");
        return;
    };
    let mut swept = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        if !path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            continue;
        }
        for format in ["text", "json"] {
            let o = lbcheck(&["pcap", "--format", format, path.to_str().unwrap()]);
            let err = stderr(&o);
            assert!(
                matches!(o.status.code(), Some(0..=2)),
                "{}: exit {:?}: {err}",
                path.display(),
                o.status.code()
            );
            assert!(!err.contains("panicked"), "{}: {err}", path.display());
            assert!(err.lines().count() <= 3, "{}: {err}", path.display());
            if o.status.code() != Some(2) && format == "json" {
                let json: serde_json::Value = serde_json::from_slice(&o.stdout)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(json["schema"], "lbcheck/1");
            }
        }
        swept += 1;
    }
    assert!(swept > 0, "no captures found in {}", dir.display());
}
