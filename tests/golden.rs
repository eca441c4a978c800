//! Golden tests: the text and JSON reports of every capture in testdata/ (but the corrupt
//! corpus) must match tests/golden/. Refresh with `LBCHECK_BLESS=1 cargo test --test golden`,
//! then read the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Capture files under testdata/, relative to the repo root, sorted.
fn captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "corrupt") {
                    walk(&p, out);
                }
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                out.push(p.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("testdata"), &mut out);
    out.sort();
    out
}

fn golden_name(capture: &Path, ext: &str) -> PathBuf {
    let flat = capture
        .strip_prefix("testdata")
        .unwrap()
        .to_string_lossy()
        .replace('/', "__");
    root().join("tests/golden").join(format!("{flat}.{ext}"))
}

fn run(args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let o = Command::new(env!("CARGO_BIN_EXE_lbcheck"))
        .current_dir(root())
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .unwrap();
    (o.status.code(), o.stdout)
}

#[test]
fn reports_match_golden_files() {
    let bless = std::env::var_os("LBCHECK_BLESS").is_some();
    let caps = captures();
    assert!(!caps.is_empty(), "no captures under testdata/");
    let mut stale = Vec::new();
    for cap in &caps {
        let c = cap.to_str().unwrap();
        for (ext, args) in [
            ("json", vec!["pcap", "--format", "json", c]),
            ("txt", vec!["pcap", "--color", "never", "--flows", c]),
        ] {
            let (code, mut out) = run(&args);
            if ext == "json" {
                // lbcheck writes compact JSON into a pipe; golden files keep it pretty so that
                // their diffs can be read.
                let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
                out = serde_json::to_vec_pretty(&v).unwrap();
                out.push(b'\n');
            }
            assert!(matches!(code, Some(0 | 1)), "{c}: exit {code:?}");
            let path = golden_name(cap, ext);
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &out).unwrap();
            } else if std::fs::read(&path).ok().as_deref() != Some(&out[..]) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (LBCHECK_BLESS=1 cargo test --test golden, then review the diff):\n{}",
        stale.join("\n")
    );
}

/// Several capture points of one scenario analysed together (connections followed across
/// them): golden text and JSON too.
const MULTI: &[(&str, &[&str])] = &[
    (
        "multi__snat-proxy-v2",
        &[
            "testdata/lab/snat-proxy-v2/client.pcap",
            "testdata/lab/snat-proxy-v2/lb.pcap",
            "testdata/lab/snat-proxy-v2/backend.pcap",
        ],
    ),
    (
        "multi__asymmetric-leak",
        &[
            "testdata/lab/asymmetric-leak/client.pcap",
            "testdata/lab/asymmetric-leak/lb.pcap",
            "testdata/lab/asymmetric-leak/backend.pcap",
        ],
    ),
    (
        "multi__dnat-passthrough",
        &[
            "testdata/lab/dnat-passthrough/client.pcap",
            "testdata/lab/dnat-passthrough/backend.pcap",
        ],
    ),
];

#[test]
fn multi_file_reports_match_golden_files() {
    let bless = std::env::var_os("LBCHECK_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, files) in MULTI {
        for (ext, mut args) in [
            ("json", vec!["pcap", "--format", "json"]),
            ("txt", vec!["pcap", "--color", "never", "--flows"]),
        ] {
            args.extend_from_slice(files);
            let (code, mut out) = run(&args);
            assert!(matches!(code, Some(0 | 1)), "{name}: exit {code:?}");
            if ext == "json" {
                let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
                out = serde_json::to_vec_pretty(&v).unwrap();
                out.push(b'\n');
            }
            let path = root().join("tests/golden").join(format!("{name}.{ext}"));
            if bless {
                std::fs::write(&path, &out).unwrap();
            } else if std::fs::read(&path).ok().as_deref() != Some(&out[..]) {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "golden files differ (LBCHECK_BLESS=1 cargo test --test golden):\n{}",
        stale.join("\n")
    );
}

#[test]
fn json_is_deterministic_across_runs() {
    for cap in captures().iter().take(5) {
        let c = cap.to_str().unwrap();
        assert_eq!(
            run(&["pcap", "--format", "json", c]).1,
            run(&["pcap", "--format", "json", c]).1,
            "{c}"
        );
    }
}

/// Every golden JSON report conforms to the published schema (schema/lbcheck-1.schema.json).
#[test]
fn golden_json_matches_the_schema() {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let schema_path = root().join("schema/lbcheck-1.schema.json");
    let schema = compiler
        .compile(schema_path.to_str().unwrap(), &mut schemas)
        .expect("schema compiles");
    let mut checked = 0;
    for cap in captures() {
        let path = golden_name(&cap, "json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Err(e) = schemas.validate(&doc, schema) {
            panic!("{} does not match the schema: {e}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} golden JSON files checked");
    // The schema is not vacuous: a report with a misspelt verdict fails it.
    let mut bad: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(golden_name(&captures()[0], "json")).unwrap(),
    )
    .unwrap();
    bad["verdicts"]["client_ip"] = "proxy-v3".into();
    assert!(schemas.validate(&bad, schema).is_err());
}
