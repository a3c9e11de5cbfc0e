//! `strata debug …`: developer views of the Dockerfile frontend.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Global;

#[derive(Subcommand)]
pub enum DebugCommand {}

pub fn run(cmd: DebugCommand, _global: &Global) -> anyhow::Result<ExitCode> {
    match cmd {}
}
