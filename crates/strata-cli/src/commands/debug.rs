//! `strata debug …`: developer views of the Dockerfile frontend.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum DebugCommand {}

pub fn run(cmd: DebugCommand) -> anyhow::Result<ExitCode> {
    match cmd {}
}
