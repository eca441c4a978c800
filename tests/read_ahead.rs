//! How the file is read changes nothing but speed: read(2) on the analysing thread, on a
//! reader thread of its own, or through a memory map, the same bytes reach the parser in the
//! same order, so reports, errors and exit codes are identical.

use std::process::Command;

fn run((ahead, map): (&str, &str), args: &[&str]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LBCHECK_READ_AHEAD", ahead)
        .env("LBCHECK_MMAP", map)
        .args(args)
        .output()
        .unwrap();
    (o.status.code(), o.stdout, o.stderr)
}

#[test]
fn reader_thread_and_memory_map_give_the_same_reports_errors_and_exit_codes() {
    let cases: &[&[&str]] = &[
        &[
            "pcap",
            "--format",
            "json",
            "testdata/lab/snat-proxy-v2/backend.pcap",
        ],
        &[
            "pcap",
            "--format",
            "json",
            "testdata/lab/capture-variants/two-ifaces.pcapng",
        ],
        &[
            "pcap",
            "--color",
            "never",
            "--flows",
            "testdata/lab/snat-proxy-v2/client.pcap",
            "testdata/lab/snat-proxy-v2/lb.pcap",
            "testdata/lab/snat-proxy-v2/backend.pcap",
        ],
        &[
            "pcap",
            "--format",
            "json",
            "testdata/corrupt/pcap_last_record_cut_mid_data.pcap",
        ],
        &[
            "pcap",
            "testdata/corrupt/pcapng_block_lengths_differ.pcapng",
        ],
    ];
    for args in cases {
        let single = run(("never", "never"), args);
        for mode in [("always", "never"), ("never", "always")] {
            let other = run(mode, args);
            assert_eq!(single.0, other.0, "{args:?} {mode:?}: exit code");
            assert_eq!(single.1, other.1, "{args:?} {mode:?}: stdout");
            assert_eq!(single.2, other.2, "{args:?} {mode:?}: stderr");
        }
        assert!(
            !single.1.is_empty() || !single.2.is_empty(),
            "{args:?}: no output at all"
        );
    }
}
