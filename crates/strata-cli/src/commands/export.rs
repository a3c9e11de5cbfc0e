//! `strata image export`: an image's layers flattened into one root filesystem tar.
//!
//! docker's `export` takes a container; strata has no containers, so the image-level
//! form lives under `strata image export`. The output is what `strata import` takes back
//! (and what `docker import` takes).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use super::archive_common::open_store;
use crate::Global;

/// Export an image's filesystem (all layers merged) as a tar archive
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The image: name[:tag], image ID or ID prefix
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

pub fn run(args: ExportArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let image = store
        .resolve(&args.image)
        .with_context(|| format!("no such image: {}", args.image))?;
    let layers: Vec<strata_oci::Descriptor> = image
        .record
        .layers
        .iter()
        .map(|l| strata_oci::Descriptor::new(l.media_type.clone(), l.digest.clone(), l.size))
        .collect();
    let scratch = store.root().to_path_buf();
    match &args.output {
        Some(file) => {
            let dir = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let tmp = tempfile::Builder::new()
                .prefix(".strata-export-")
                .tempfile_in(&dir)
                .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
            let out = std::io::BufWriter::with_capacity(1 << 20, tmp);
            let out = strata_archive::flatten::flatten(&layers, &store, &scratch, out)
                .with_context(|| format!("exporting {}", args.image))?;
            let tmp = out.into_inner().map_err(|e| e.into_error())?;
            tmp.as_file().sync_all()?;
            // Temporary files are private (0600); the result is an ordinary file.
            std::fs::set_permissions(
                tmp.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )?;
            tmp.persist(file)
                .with_context(|| format!("writing {}", file.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to export to a terminal. Use the -o flag or redirect");
            }
            let out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let mut out = strata_archive::flatten::flatten(&layers, &store, &scratch, out)
                .with_context(|| format!("exporting {}", args.image))?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
