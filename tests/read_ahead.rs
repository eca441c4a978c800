//! Reading ahead on a second thread changes nothing but speed: the same bytes reach the
//! parser in the same order, so reports, errors and exit codes are identical.

use std::process::Command;

fn run(mode: &str, args: &[&str]) -> (Option<i32>, Vec<u8>, Vec<u8>) {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LBCHECK_READ_AHEAD", mode)
        .args(args)
        .output()
        .unwrap();
    (o.status.code(), o.stdout, o.stderr)
}

#[test]
fn read_ahead_thread_gives_the_same_reports_errors_and_exit_codes() {
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
        let single = run("never", args);
        let threaded = run("always", args);
        assert_eq!(single.0, threaded.0, "{args:?}: exit code");
        assert_eq!(single.1, threaded.1, "{args:?}: stdout");
        assert_eq!(single.2, threaded.2, "{args:?}: stderr");
        assert!(
            !single.1.is_empty() || !single.2.is_empty(),
            "{args:?}: no output at all"
        );
    }
}
