//! `testdata/` is exactly what `examples/make_testdata.rs` writes: a capture changes only through
//! a deliberate change to the generator (then run
//! `cargo run --example make_testdata -- testdata/` and commit both).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "../examples/make_testdata.rs"]
mod make_testdata;

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    found
}

/// A fresh directory for one test's output (tests run in parallel in one process).
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lbcheck-testdata-{}-{test}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove stale scratch dir");
    }
    dir
}

#[test]
fn committed_testdata_is_exactly_what_the_generator_writes() {
    let committed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let generated_dir = scratch_dir("committed");
    let written = make_testdata::generate(&generated_dir).expect("generator runs");

    let generated = files_under(&generated_dir);
    assert_eq!(
        generated.len(),
        written.len(),
        "generate() reports every file it writes"
    );
    let committed = files_under(&committed_dir);
    let regenerate = "run `cargo run --example make_testdata -- testdata/` and commit the result";
    assert_eq!(
        committed.difference(&generated).collect::<Vec<_>>(),
        Vec::<&PathBuf>::new(),
        "files in testdata/ that the generator does not write; {regenerate}"
    );
    assert_eq!(
        generated.difference(&committed).collect::<Vec<_>>(),
        Vec::<&PathBuf>::new(),
        "generated files missing from testdata/; {regenerate}"
    );
    let differing: Vec<&PathBuf> = generated
        .iter()
        .filter(|relative| {
            std::fs::read(generated_dir.join(relative)).expect("generated file")
                != std::fs::read(committed_dir.join(relative)).expect("committed file")
        })
        .collect();
    std::fs::remove_dir_all(&generated_dir).expect("remove scratch dir");
    assert!(
        differing.is_empty(),
        "committed files differ from the generator's output: {differing:?}; {regenerate}"
    );
}

#[test]
fn generator_is_deterministic_across_runs() {
    let first = scratch_dir("first");
    let second = scratch_dir("second");
    let a = make_testdata::generate(&first).expect("first run");
    let b = make_testdata::generate(&second).expect("second run");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(x).expect("first file"),
            std::fs::read(y).expect("second file"),
            "{} differs between two runs",
            x.display()
        );
    }
    std::fs::remove_dir_all(&first).expect("cleanup");
    std::fs::remove_dir_all(&second).expect("cleanup");
}

#[test]
fn testdata_stays_small() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let total: u64 = files_under(&dir)
        .iter()
        .map(|relative| {
            std::fs::metadata(dir.join(relative))
                .expect("metadata")
                .len()
        })
        .sum();
    assert!(
        total < 2 * 1024 * 1024,
        "testdata/ is {total} bytes, over 2 MiB"
    );
}

/// What pcap-parser (the reader lbcheck builds on) makes of a file: packets read, and the error
/// that stopped it, if any.
fn read_with_pcap_parser(path: &Path) -> (usize, Option<String>) {
    use pcap_parser::{Block, PcapBlockOwned, PcapError, create_reader};

    let file = std::fs::File::open(path).expect("readable file");
    let mut reader = match create_reader(65536, file) {
        Ok(reader) => reader,
        Err(PcapError::Eof) => return (0, Some("empty".into())),
        Err(error) => return (0, Some(format!("{error:?}"))),
    };
    let mut packets = 0;
    // Bounded, so a reader stuck on a bad length fails the test instead of hanging it.
    for _ in 0..100_000 {
        match reader.next() {
            Ok((offset, block)) => {
                if matches!(
                    block,
                    PcapBlockOwned::Legacy(_)
                        | PcapBlockOwned::NG(Block::EnhancedPacket(_) | Block::SimplePacket(_))
                ) {
                    packets += 1;
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => return (packets, None),
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    return (packets, Some("refill failed".into()));
                }
            }
            Err(error) => return (packets, Some(format!("{error:?}"))),
        }
    }
    (packets, Some("no end after 100000 steps".into()))
}

#[test]
fn every_capture_outside_corrupt_reads_cleanly_with_pcap_parser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let captures: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|relative| {
            !relative.starts_with("corrupt")
                && relative
                    .extension()
                    .is_some_and(|ext| ext == "pcap" || ext == "pcapng")
        })
        .collect();
    assert!(
        captures.len() > 40,
        "only {} captures found",
        captures.len()
    );
    for relative in captures {
        let (packets, error) = read_with_pcap_parser(&dir.join(&relative));
        assert_eq!(error, None, "{}", relative.display());
        assert!(packets > 0, "{} has no packets", relative.display());
    }
}

#[test]
fn every_corrupt_file_ends_the_read_without_hanging() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corrupt");
    for relative in files_under(&dir) {
        let (_, error) = read_with_pcap_parser(&dir.join(&relative));
        assert_ne!(
            error.as_deref(),
            Some("no end after 100000 steps"),
            "{}",
            relative.display()
        );
    }
}
