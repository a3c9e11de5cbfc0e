//! `strata`: one daemonless binary for the whole life of a container image.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;

#[derive(Parser)]
#[command(name = "strata", version, about = "Build, store, move, serve and analyse container images")]
struct Cli {
    /// Root directory of the local store (default: $STRATA_ROOT, /var/lib/strata as root).
    #[arg(long, global = true, env = "STRATA_ROOT")]
    root: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Developer tools: parse a Dockerfile, show its stage graph.
    #[command(subcommand)]
    Debug(commands::debug::DebugCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Debug(cmd) => commands::debug::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::from(1)
        }
    }
}
