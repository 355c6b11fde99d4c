//! Man pages (one per command, from the clap definitions) and shell
//! completions, for the Debian package and for `vigie completions`.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

/// Write `vigie.1` and `vigie-<command>.1` for every visible command.
pub fn manpages(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    let cmd = super::Cli::command();
    let mut written = 0;
    write_page(&cmd, "vigie", out, &mut written)?;
    println!("{written} man pages in {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn write_page(cmd: &clap::Command, name: &str, out: &Path, written: &mut usize) -> anyhow::Result<()> {
    let cmd = cmd.clone().bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).title(name.to_string()).render(&mut buf)?;
    let path = out.join(format!("{name}.1"));
    std::fs::write(&path, buf).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        write_page(sub, &format!("{name}-{}", sub.get_name()), out, written)?;
    }
    Ok(())
}

/// The completion script for a shell, on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "vigie", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
