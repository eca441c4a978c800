//! Compact JSON, byte for byte what `serde_json::to_writer(report)` writes, but faster: the
//! flows (nearly all of the bytes) are written in blocks into memory (`flow_json`), on several
//! threads when there are many, and written in order. Writing through `&mut dyn Write` token by token costs
//! more than the serializing itself.

use std::io::{self, Write};
use std::sync::mpsc;

use super::model::{FlowReport, Report};

/// Below this many flows one thread serializes them all.
const PARALLEL_MIN_FLOWS: usize = 2_000;
/// Flows per block: enough to make a write worth it (about 300 KB), few enough that the blocks
/// in flight stay a small part of the report. With 512 (about 1.2 MB, buffers of 2 MB) the
/// blocks in flight set the peak of a 1 GiB capture (82-83 MiB against 77 with 128; 100 MiB:
/// 34.8 against 31.4), in no less time (output phase 40-51 ms against 39-43).
const BLOCK_FLOWS: usize = 128;

/// Writes `report` as `serde_json::to_writer` would (no trailing newline).
pub fn write_compact(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = if report.flows.len() >= PARALLEL_MIN_FLOWS {
        threads
    } else {
        1
    };
    write_compact_with(report, w, threads, BLOCK_FLOWS)
}

fn write_compact_with(
    report: &Report,
    w: &mut dyn Write,
    threads: usize,
    block: usize,
) -> io::Result<()> {
    // Destructured without `..`: a field added to `Report` does not compile until it is
    // written here too, in the struct's order (the order serde writes).
    let Report {
        schema,
        tool,
        input,
        service,
        verdicts,
        verdict_sources,
        services,
        findings,
        expectations,
        paths,
        flows,
        stats,
        host,
    } = report;
    // Through a buffer of its own, not into one `Vec`: the head holds every finding's flow and
    // packet lists (1.2 MB at 1 GiB in the mix, 16 MB for a 60,000-port scan), and a `Vec` of
    // it was held while the flows were written. (serde writes token by token: into a
    // `BufWriter` that is a copy, where each write to `&mut dyn Write` was a call.)
    let mut head = io::BufWriter::with_capacity(1 << 16, &mut *w);
    head.write_all(b"{\"schema\":")?;
    serde_json::to_writer(&mut head, schema)?;
    field(&mut head, "tool", tool)?;
    field(&mut head, "input", input)?;
    field(&mut head, "service", service)?;
    field(&mut head, "verdicts", verdicts)?;
    field(&mut head, "verdict_sources", verdict_sources)?;
    field(&mut head, "services", services)?;
    field(&mut head, "findings", findings)?;
    field(&mut head, "expectations", expectations)?;
    field(&mut head, "paths", paths)?;
    head.write_all(b",\"flows\":[")?;
    head.flush()?;
    drop(head);
    write_flows(flows, w, threads, block)?;
    let mut tail = Vec::with_capacity(1 << 12);
    tail.push(b']');
    field(&mut tail, "stats", stats)?;
    // `skip_serializing_if = "Option::is_none"` on the struct.
    if let Some(host) = host {
        field(&mut tail, "host", host)?;
    }
    tail.push(b'}');
    w.write_all(&tail)
}

/// `,"key":value`, as serde writes a field after the first.
fn field<T: serde::Serialize + ?Sized>(
    mut out: impl Write,
    key: &str,
    value: &T,
) -> io::Result<()> {
    out.write_all(b",")?;
    serde_json::to_writer(&mut out, key)?;
    out.write_all(b":")?;
    serde_json::to_writer(&mut out, value)?;
    Ok(())
}

/// The elements of the flows array, comma-separated, without the brackets.
fn write_flows(
    flows: &[FlowReport],
    w: &mut dyn Write,
    threads: usize,
    block: usize,
) -> io::Result<()> {
    let blocks: Vec<&[FlowReport]> = flows.chunks(block.max(1)).collect();
    if threads < 2 || blocks.len() < 2 {
        let mut buf = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            buf.clear();
            serialize_block(b, i == 0, &mut buf)?;
            w.write_all(&buf)?;
        }
        return Ok(());
    }
    let threads = threads.min(blocks.len());
    // Worker `k` serializes blocks k, k + threads, k + 2 × threads, … and hands each over on its
    // own channel, so taking them from the workers in turn gives them in order. A channel holds
    // one finished block: each worker runs at most one block ahead of the writer, and buffers
    // come back to be reused.
    std::thread::scope(|s| {
        let mut done = Vec::with_capacity(threads);
        let mut recycle = Vec::with_capacity(threads);
        for k in 0..threads {
            let (done_tx, done_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(1);
            let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<u8>>();
            let blocks = &blocks;
            s.spawn(move || {
                for i in (k..blocks.len()).step_by(threads) {
                    let mut buf = recycle_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    let r = serialize_block(blocks[i], i == 0, &mut buf).map(|()| buf);
                    // The writer has gone (a write failed): stop.
                    if done_tx.send(r).is_err() {
                        return;
                    }
                }
            });
            done.push(done_rx);
            recycle.push(recycle_tx);
        }
        for i in 0..blocks.len() {
            let k = i % threads;
            // A worker that panicked dropped its sender; the scope re-raises the panic.
            let buf = done[k]
                .recv()
                .map_err(|_| io::Error::other("JSON serializer thread failed"))??;
            w.write_all(&buf)?;
            // The worker may have finished: then the buffer is dropped here.
            let _ = recycle[k].send(buf);
        }
        Ok(())
    })
}

fn serialize_block(flows: &[FlowReport], first: bool, buf: &mut Vec<u8>) -> io::Result<()> {
    for (j, f) in flows.iter().enumerate() {
        if j > 0 || !first {
            buf.push(b',');
        }
        super::flow_json::write_flow(buf, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "corrupt") {
                    captures(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p);
            }
        }
    }

    use crate::report::test_report as report;

    fn assert_same_bytes(report: &Report, what: &str) {
        let want = serde_json::to_vec(report).unwrap();
        // The real split, then forced threads with blocks of one and of a few flows (odd
        // counts leave a short last block), so that small captures take the threaded path too.
        for (threads, block) in [(0, 0), (1, 1), (2, 1), (2, 3), (3, 2)] {
            let mut got = Vec::new();
            if threads == 0 {
                write_compact(report, &mut got).unwrap();
            } else {
                write_compact_with(report, &mut got, threads, block).unwrap();
            }
            assert!(
                got == want,
                "{what}: threads {threads}, block {block}: bytes differ from serde_json"
            );
        }
    }

    #[test]
    fn compact_json_is_byte_identical_to_serde_json() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut files = Vec::new();
        captures(&root, &mut files);
        files.sort();
        assert!(files.len() > 50, "testdata/ not found");
        for f in &files {
            assert_same_bytes(&report(&[f]), &f.display().to_string());
        }
        // Several files: verdict sources, paths across capture points.
        let lab = root.join("lab/snat-proxy-v2");
        let several = report(&[
            &lab.join("client.pcap"),
            &lab.join("lb.pcap"),
            &lab.join("backend.pcap"),
        ]);
        assert!(!several.verdict_sources.is_empty());
        assert_same_bytes(&several, "snat-proxy-v2, three files");
        // `lbcheck live` adds the host's facts at the end.
        let mut live = report(&[&lab.join("backend.pcap")]);
        live.host = Some(crate::host::HostFacts::read("lo", &[]));
        assert_same_bytes(&live, "with host facts");
    }
}
