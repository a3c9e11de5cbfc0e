//! `strata load`: images from a docker-archive, an OCI layout tar or an OCI layout
//! directory into the store.
//!
//! A load is atomic: blobs are committed (verified) under a lease as they stream in, and
//! image records and tags are written only after the whole archive checked out. A load
//! that fails or is killed leaves the store's images as they were; its blobs are leased
//! and later garbage collected.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_oci::Platform;

use super::archive_common::{lease, open_store, record, sink};
use crate::Global;

/// Load images from a tar archive or STDIN
///
/// Accepts what `docker save` writes (classic and Docker 25+ archives), OCI image layout
/// tars, and OCI image layout directories (-i DIR); gzip- and zstd-compressed archives are
/// detected automatically.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from a tar archive file (or an OCI layout directory) instead of STDIN
    #[arg(short, long, value_name = "FILE|DIR")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
    /// Platform to load from a multi-platform archive (os[/arch[/variant]]; default: this machine's)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

pub fn run(args: LoadArgs, global: &Global) -> Result<ExitCode> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("invalid --platform {p:?}"))?,
        None => Platform::host(),
    };
    let store = open_store(global)?;
    let lease = lease(&store)?;
    let mut sink = sink(&store, &lease);
    let report = match &args.input {
        Some(path) => strata_archive::load_path(path, &mut sink)
            .with_context(|| format!("loading {}", path.display()))?,
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!(
                    "requested load from stdin, but stdin is a terminal; use -i FILE or redirect"
                );
            }
            strata_archive::load_reader(stdin.lock(), &mut sink).context("loading from stdin")?
        }
    };
    let mut stderr = std::io::stderr();
    let mut notices: Box<dyn Write> = if args.quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stdout())
    };
    let recorded = record(&store, &report, &platform, &mut stderr, &mut notices)?;
    drop(notices);
    lease.release().context("releasing the load's lease")?;
    if recorded.is_empty() {
        bail!("the archive contains no images");
    }
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        for image in &recorded {
            if image.tags.is_empty() {
                writeln!(out, "Loaded image ID: {}", image.id)?;
            }
            for tag in &image.tags {
                writeln!(out, "Loaded image: {}", tag.familiar())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
