//! `strata tag SOURCE TARGET` / `strata image tag`.

use std::process::ExitCode;

use clap::Args;

use super::images::{open_store, store_err};
use crate::Global;

#[derive(Args, Debug)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG], image ID or ID prefix
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

pub fn run(args: TagArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    store
        .tag_image(&args.source, &args.target)
        .map_err(store_err)?;
    Ok(ExitCode::SUCCESS)
}
