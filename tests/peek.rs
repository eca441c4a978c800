//! The read loop's look ahead (`CaptureFile::peek`) may answer `None` at any time, but when it
//! answers it must name the very packet that will be read `n` places later: a wrong answer
//! would only cost speed (it is a prefetch hint), so nothing else would notice it.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use lbcheck::source::{LinkType, open_capture, open_capture_shared};

#[path = "../examples/make_bench_capture.rs"]
mod bench_capture;

const AHEAD: usize = 3;

/// Walks the file, peeking 0..AHEAD places ahead before every read; returns (packets read,
/// peeks answered).
fn check(path: &Path, readers: usize) -> (u64, u64) {
    let mut file = match open_capture_shared(path, readers) {
        Ok(mut files) => files.remove(0),
        Err(_) => return (0, 0), // not a capture: nothing to peek
    };
    // Expected (packet number, link type, bytes), from earlier peeks.
    let mut expected: VecDeque<(u64, LinkType, Vec<u8>)> = VecDeque::new();
    let (mut read, mut answered, mut next) = (0u64, 0u64, 1u64);
    loop {
        for n in 0..AHEAD {
            if let Some((link, data)) = file.peek(n) {
                expected.push_back((next + n as u64, link, data.to_vec()));
                answered += 1;
            }
        }
        let Ok(Some(p)) = file.next_packet() else {
            break;
        };
        assert_eq!(p.index, next, "{}", path.display());
        for (index, link, data) in expected.iter().filter(|e| e.0 == p.index) {
            assert_eq!(
                (*link, data.as_slice()),
                (p.link_type, p.data),
                "{}: packet {index} was peeked wrong",
                path.display()
            );
        }
        expected.retain(|e| e.0 > p.index);
        next += 1;
        read += 1;
    }
    // A cut or corrupt file stops the read: peeks past that point named packets never read.
    expected.retain(|e| e.0 < next);
    assert!(expected.is_empty(), "{}", path.display());
    (read, answered)
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

#[test]
fn peeks_name_the_packets_then_read_in_every_testdata_capture() {
    let mut files = Vec::new();
    captures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut files,
    );
    assert!(files.len() > 100);
    let (mut read, mut answered) = (0, 0);
    for f in &files {
        let (r, a) = check(f, 1);
        read += r;
        answered += a;
    }
    // Most packets are peeked (all but those at the end of a chunk or file).
    assert!(answered > read * 2, "{answered} peeks for {read} packets");
}

#[test]
fn peeks_across_chunk_ends_in_pcap_and_pcapng_read_and_mapped() {
    let dir = std::env::temp_dir().join(format!("lbcheck-peek-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for format in [bench_capture::Format::Pcap, bench_capture::Format::Pcapng] {
        let out = dir.join(format!("mixed.{format:?}"));
        let args = bench_capture::Args {
            size: 20 << 20,
            format,
            seed: 3,
            out: out.clone(),
            kind: bench_capture::Kind::Mixed,
            flows: 0,
            live: 200,
            gap_scale: 1,
        };
        let (_, packets, _) = bench_capture::generate(&args).unwrap();
        // Over 16 MiB: one reader maps the file, two share a map; chunks are 1 MiB either way.
        for readers in [1, 2] {
            let (read, answered) = check(&out, readers);
            assert_eq!(read, packets);
            assert!(
                answered > read * 2,
                "{format:?}: {answered} peeks for {read}"
            );
        }
        let _ = open_capture(&out).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
