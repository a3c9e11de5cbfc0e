//! `strata save`: images from the store to an archive.
//!
//! The default output is one tar that is both a docker-archive and an OCI image layout, as
//! Docker 25+ writes it (`docker load`, `skopeo` with `docker-archive:` or `oci-archive:`
//! all read it). `--format oci-dir -o DIR` writes an OCI image layout directory instead.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use strata_archive::{SaveImage, SaveName};
use strata_store::{Store, TagRef};

use super::archive_common::open_store;
use crate::Global;

/// Save one or more images to a tar archive (streamed to STDOUT by default)
///
/// Formats: `docker-archive` (default) is a tar that is both a docker-archive and an OCI
/// image layout, like Docker 25+; `oci-dir` writes an OCI image layout directory and
/// needs -o DIR. Load either back with `strata load -i`.
#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file (a directory with --format oci-dir) instead of STDOUT
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = SaveFormat::DockerArchive)]
    pub format: SaveFormat,
    /// Images to save: name[:tag], image ID or ID prefix
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveFormat {
    /// A tar that is a docker-archive and an OCI image layout at once
    DockerArchive,
    /// An OCI image layout directory (requires -o DIR)
    OciDir,
}

/// Resolve the user's image arguments into images with the names to write, as docker
/// does: `name:tag` saves that tag, a bare repository name saves every tag of that
/// repository, an image ID (or prefix) saves the image untagged.
pub fn plan(store: &Store, specs: &[String]) -> Result<Vec<SaveImage>> {
    let mut out: Vec<SaveImage> = Vec::new();
    let all = store.list_images().context("listing images")?;
    for spec in specs {
        let mut matches: Vec<(&strata_store::Image, Option<&TagRef>)> = Vec::new();
        if let Ok(wanted) = TagRef::parse(spec) {
            let last = spec.rsplit('/').next().unwrap_or(spec);
            let explicit_tag = last.contains(':');
            for image in &all {
                for tag in &image.tags {
                    let hit = if explicit_tag {
                        tag == &wanted
                    } else {
                        tag.repository == wanted.repository
                    };
                    if hit {
                        matches.push((image, Some(tag)));
                    }
                }
            }
        }
        if matches.is_empty() {
            let image = store
                .resolve(spec)
                .with_context(|| format!("no such image: {spec}"))?;
            let digest = image.record.manifest_digest.clone();
            let found = all.iter().find(|i| i.record.manifest_digest == digest);
            let image = found.with_context(|| format!("no such image: {spec}"))?;
            matches.push((image, None));
        }
        for (image, tag) in matches {
            add(&mut out, image, tag);
        }
    }
    // Attachments (SBOMs, signatures) travel in the archive's OCI layout.
    for image in &mut out {
        image.attachments = store
            .attachments(&image.manifest.digest)
            .with_context(|| format!("listing attachments of {}", image.manifest.digest))?;
    }
    Ok(out)
}

fn add(out: &mut Vec<SaveImage>, image: &strata_store::Image, tag: Option<&TagRef>) {
    let digest = &image.record.manifest_digest;
    let idx = match out.iter().position(|s| &s.manifest.digest == digest) {
        Some(i) => i,
        None => {
            out.push(SaveImage {
                manifest: strata_oci::Descriptor::new(
                    image.record.media_type.clone(),
                    digest.clone(),
                    image.record.manifest_size,
                ),
                names: Vec::new(),
                attachments: Vec::new(),
            });
            out.len() - 1
        }
    };
    if let Some(t) = tag {
        let name = SaveName {
            full: t.key(),
            familiar_repo: t.familiar_repository().to_owned(),
            tag: t.tag.clone(),
        };
        if !out[idx].names.contains(&name) {
            out[idx].names.push(name);
        }
    }
}

pub fn run(args: SaveArgs, global: &Global) -> Result<ExitCode> {
    let store = open_store(global)?;
    let images = plan(&store, &args.images)?;
    match (args.format, &args.output) {
        (SaveFormat::OciDir, None) => bail!("--format oci-dir needs -o DIR"),
        (SaveFormat::OciDir, Some(dir)) => {
            strata_archive::save_layout_dir(&images, &store, dir)
                .with_context(|| format!("saving to {}", dir.display()))?;
        }
        (SaveFormat::DockerArchive, Some(file)) => save_to_file(&images, &store, file)?,
        (SaveFormat::DockerArchive, None) => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            let mut out =
                strata_archive::save_archive(&images, &store, out).context("saving to stdout")?;
            out.flush().context("writing to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write next to `file` under a temporary name and rename: a failed save never leaves a
/// truncated archive under the requested name.
fn save_to_file(images: &[SaveImage], store: &Store, file: &Path) -> Result<()> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".strata-save-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, tmp);
    let out = strata_archive::save_archive(images, store, out)
        .with_context(|| format!("saving to {}", file.display()))?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", file.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", file.display()))?;
    // Temporary files are private (0600); the result is an ordinary file.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.persist(file)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
