//! `strata completion bash|zsh|fish` (shell completion scripts from the clap definition,
//! through clap_complete) and the hidden `strata man --out DIR` (one roff page per command
//! and subcommand, through clap_mangen: `strata.1`, `strata-build.1`, `strata-image-ls.1`…).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use clap_complete::Shell;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell to write a completion script for
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Directory to write the man pages into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Write the completion script for `args.shell` to standard output.
pub fn completion(args: CompletionArgs, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let shell = match args.shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let name = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    // A reader that stops early (`| head`) is not an error.
    match std::io::Write::write_all(&mut std::io::stdout(), &script) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Write a man page for `cmd` and, recursively, each visible subcommand.
pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut written = 0;
    write_pages(&args.out, cmd, &mut written)?;
    eprintln!("wrote {written} man pages to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn write_pages(
    dir: &std::path::Path,
    cmd: clap::Command,
    written: &mut usize,
) -> anyhow::Result<()> {
    let cmd = cmd.disable_help_subcommand(true);
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .with_context(|| format!("rendering the man page of {name}"))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(sub_name.clone())
            .bin_name(sub_name.replace('-', " "));
        write_pages(dir, sub, written)?;
    }
    Ok(())
}
