//! Man pages and shell completions, generated from the one clap `Command`.

use std::path::Path;

/// Every man page: (file name, roff text). `lbcheck.1` plus one per subcommand.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = crate::cli::command();
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .expect("rendering to memory cannot fail");
    pages.push(("lbcheck.1".to_string(), buf));
    for sub in cmd.get_subcommands() {
        let name = format!("lbcheck-{}", sub.get_name());
        // clap names commands with `&'static str`; one leaked name per subcommand, once.
        let sub = sub.clone().name(&*Box::leak(name.clone().into_boxed_str()));
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub)
            .render(&mut buf)
            .expect("rendering to memory cannot fail");
        pages.push((format!("{name}.1"), buf));
    }
    pages
}

pub fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in man_pages() {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = crate::cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "lbcheck", &mut buf);
    buf
}

/// The file under `completions/` that holds `shell`'s script.
pub fn completion_file(shell: clap_complete::Shell) -> &'static str {
    match shell {
        clap_complete::Shell::Bash => "lbcheck.bash",
        clap_complete::Shell::Zsh => "_lbcheck",
        clap_complete::Shell::Fish => "lbcheck.fish",
        clap_complete::Shell::PowerShell => "_lbcheck.ps1",
        clap_complete::Shell::Elvish => "lbcheck.elv",
        _ => "lbcheck.completion",
    }
}
