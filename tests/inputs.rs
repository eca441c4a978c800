//! Captures that are not plain files: standard input (`-`, as `tcpdump -r -` reads it, for
//! `ssh host tcpdump -w - | lbcheck pcap -`) and gzip-compressed files (as Wireshark reads
//! `capture.pcap.gz`). Each gives the report of the plain file; damage gets a clear line.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A capture with flows, headers and findings (the balancer of the X-Forwarded-For lab).
const CAPTURE: &str = "testdata/lab/xff/lb.pcap";

fn lbcheck(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A reader that stops early closes the pipe: a failed write is its business.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

/// The JSON report of `path` with its name replaced by `CAPTURE`, as if the file were read.
fn report_as_if_plain(args: &[&str], path: &str, stdin: &[u8]) -> serde_json::Value {
    let o = lbcheck(args, stdin);
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout)
        .unwrap()
        .replace(&format!("\"{path}\""), &format!("\"{CAPTURE}\""));
    let text = text.replace(&format!("{path}: "), &format!("{CAPTURE}: "));
    serde_json::from_str(&text).unwrap()
}

fn plain() -> serde_json::Value {
    report_as_if_plain(&["pcap", "--format", "json", CAPTURE], CAPTURE, b"")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

fn scratch(name: &str, bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("lbcheck-inputs-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A named pipe, or `/dev/stdin`, is read as it comes: nothing is taken from it to look at.
#[test]
fn a_named_pipe_gives_the_report_of_the_file() {
    let bytes = std::fs::read(format!("{}/{CAPTURE}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let piped = report_as_if_plain(
        &["pcap", "--format", "json", "/dev/stdin"],
        "/dev/stdin",
        &bytes,
    );
    assert_eq!(piped, plain());
}

#[test]
fn standard_input_gives_the_report_of_the_file() {
    let bytes = std::fs::read(format!("{}/{CAPTURE}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let piped = report_as_if_plain(&["pcap", "--format", "json", "-"], "-", &bytes);
    assert_eq!(piped["input"][0]["path"], CAPTURE);
    assert_eq!(piped, plain());
    assert!(piped["flows"].as_array().unwrap().len() > 4);
}

#[test]
fn a_gzip_file_gives_the_report_of_the_plain_file() {
    let bytes = std::fs::read(format!("{}/{CAPTURE}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let gz = scratch("whole.pcap.gz", &gzip(&bytes));
    assert_eq!(
        report_as_if_plain(&["pcap", "--format", "json", &gz], &gz, b""),
        plain()
    );
    // Several members (`cat a.gz b.gz`), split inside a record, read as one stream.
    let (a, b) = bytes.split_at(4000);
    let two = scratch("two.pcap.gz", &[gzip(a), gzip(b)].concat());
    assert_eq!(
        report_as_if_plain(&["pcap", "--format", "json", &two], &two, b""),
        plain()
    );
    // Zero padding after the last member is not damage (gzip -d ignores it too).
    let padded = scratch("padded.pcap.gz", &[gzip(&bytes), vec![0; 1000]].concat());
    assert_eq!(
        report_as_if_plain(&["pcap", "--format", "json", &padded], &padded, b""),
        plain()
    );
    for f in [two, padded] {
        std::fs::remove_file(f).ok();
    }
    // Compressed on standard input too.
    assert_eq!(
        report_as_if_plain(&["pcap", "--format", "json", "-"], "-", &gzip(&bytes)),
        plain()
    );
    std::fs::remove_file(&gz).ok();
}

/// A gzip file cut short (a partial copy) is analysed up to where it ends, and says so.
#[test]
fn a_cut_gzip_file_is_analysed_up_to_the_cut() {
    let bytes = std::fs::read(format!("{}/{CAPTURE}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let gz = gzip(&bytes);
    let cut = scratch("cut.pcap.gz", &gz[..gz.len() * 2 / 3]);
    let o = lbcheck(&["pcap", "--format", "json", &cut], b"");
    // A warning, not an error: exit 0.
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cut_short = &report["input"][0]["cut_short"];
    let what = cut_short["what"].as_str().unwrap();
    assert!(
        what.starts_with("the gzip stream ends early or is damaged ("),
        "{what}"
    );
    let packets = report["input"][0]["packets"].as_u64().unwrap();
    assert!(packets > 10 && packets < 74, "{packets} packets");
    assert_eq!(cut_short["packets_before"], packets);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("the gzip stream ends early"), "{stderr}");
    std::fs::remove_file(&cut).ok();
}

/// One line and exit 2: damaged from the start, empty, not a capture inside, compressed in a
/// way lbcheck does not read (it says how to pipe it in), stdin twice.
#[test]
fn bad_compressed_or_piped_input_is_one_clear_line() {
    let cases: Vec<(Vec<String>, Vec<u8>, &str)> = vec![
        (
            vec![scratch("bad.gz", b"\x1f\x8b\x08\x00garbage-not-deflate")],
            Vec::new(),
            "gzip-compressed, and the compressed data is damaged",
        ),
        (
            vec![scratch("empty.gz", &gzip(b""))],
            Vec::new(),
            "gzip-compressed, and empty once decompressed",
        ),
        (
            vec![scratch("text.gz", &gzip(b"# not a capture\n"))],
            Vec::new(),
            "not a pcap or pcapng file",
        ),
        (
            vec![scratch("c.zst", b"\x28\xb5\x2f\xfd\x24\x00junk")],
            Vec::new(),
            "zstd-compressed: lbcheck reads pcap and pcapng, plain or gzip; decompress it on the way: `zstdcat FILE | lbcheck pcap -`",
        ),
        (
            vec![scratch("c.xz", b"\xfd7zXZ\x00junk")],
            Vec::new(),
            "xz-compressed",
        ),
        (
            vec![scratch("c.bz2", b"BZh91AY&SYjunk")],
            Vec::new(),
            "bzip2-compressed",
        ),
        (
            vec![scratch("c.lz4", b"\x04\x22\x4d\x18junk")],
            Vec::new(),
            "lz4-compressed",
        ),
        (vec!["-".into()], Vec::new(), "-: empty file (0 bytes)"),
        (
            vec!["-".into(), "-".into()],
            Vec::new(),
            "standard input (-) can be read only once",
        ),
    ];
    for (files, stdin, needle) in cases {
        let mut args = vec!["pcap"];
        args.extend(files.iter().map(String::as_str));
        let o = lbcheck(&args, &stdin);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{files:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{files:?}: {err}");
        assert!(
            err.starts_with("lbcheck: error: ") && err.contains(needle),
            "{files:?}: {err}"
        );
        for f in files.iter().filter(|f| *f != "-") {
            std::fs::remove_file(f).ok();
        }
    }
}

/// `tcpdump -w - | lbcheck pcap -` stopped with Ctrl-C: the signal reaches the whole pipeline;
/// the writer stops and closes the pipe, and lbcheck reports what it was given.
#[test]
fn ctrl_c_on_a_pipeline_gives_the_report_of_what_was_written() {
    use std::os::unix::process::CommandExt;
    let capture = format!("{}/{CAPTURE}", env!("CARGO_MANIFEST_DIR"));
    // Writes the capture, then waits as a capture does until Ctrl-C ends it.
    let mut writer = Command::new("sh")
        .args(["-c", &format!("cat '{capture}'; exec sleep 60")])
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = i32::try_from(writer.id()).unwrap();
    let reader = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .args(["pcap", "--format", "json", "-"])
        .stdin(writer.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(group)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", "--", &format!("-{group}")])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = reader.wait_with_output().unwrap();
    writer.wait().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.code().is_some_and(|c| c < 2),
        "{:?}: {err}",
        o.status
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["input"][0]["packets"],
        plain()["input"][0]["packets"]
    );
    assert_eq!(report["flows"], plain()["flows"]);
}
