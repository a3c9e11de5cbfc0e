//! `strata rmi` / `strata image rm`: untag or delete images with docker's rules, then
//! collect the content no image needs any more.

use std::process::ExitCode;

use clap::Args;

use super::images::{lookup_err, open_store, store_err};
use crate::Global;

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Force removal of an image ID that has several tags
    #[arg(short, long)]
    pub force: bool,
    /// Images to remove (name, ID or ID prefix)
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

pub fn run(args: RmiArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    let mut failed = false;
    let mut deleted_any = false;
    for spec in &args.images {
        match store.remove(spec, args.force) {
            Ok(out) => {
                for t in &out.untagged {
                    println!("Untagged: {}", t.familiar());
                }
                for d in &out.deleted {
                    println!("Deleted: {d}");
                    deleted_any = true;
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("Error: {:#}", lookup_err(spec, e));
            }
        }
    }
    if deleted_any {
        store.gc().map_err(store_err)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
