//! man/ and completions/ are generated from the clap command; this fails when they are stale.
//! Refresh them with `LBCHECK_BLESS=1 cargo test --test generated_docs` and review the diff.

use std::path::Path;

use clap_complete::Shell;

fn check(path: &Path, expected: &[u8]) {
    if std::env::var_os("LBCHECK_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, expected).unwrap();
        return;
    }
    let actual = std::fs::read(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is stale: run `LBCHECK_BLESS=1 cargo test --test generated_docs` and commit the result",
        path.display()
    );
}

#[test]
fn man_pages_match_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = lbcheck::generate::man_pages();
    assert!(pages.iter().any(|(name, _)| name == "lbcheck-pcap.1"));
    for (name, text) in pages {
        check(&dir.join(name), &text);
    }
}

#[test]
fn completions_match_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let script = lbcheck::generate::completions(shell);
        assert!(
            String::from_utf8_lossy(&script).contains("port"),
            "{shell} completion lacks the --port option"
        );
        check(
            &dir.join(lbcheck::generate::completion_file(shell)),
            &script,
        );
    }
}
