//! Non-image outputs of `strata build -o`: the final root filesystem as a directory or a
//! tar, and image archives (docker-archive that is also an OCI layout).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use strata_archive::{SaveImage, SaveName};
use strata_build::BuildOutcome;
use strata_store::{Store, TagRef};

/// The image's final root filesystem, copied into `dest` (created if missing), as
/// BuildKit's local exporter does: files of the image overwrite their namesakes, everything
/// else already in `dest` stays. The layers are first flattened in a scratch directory under
/// `scratch`, so no whiteout or opaque marker ever applies to the user's directory.
pub fn rootfs_to_dir(
    store: &Store,
    outcome: &BuildOutcome,
    dest: &Path,
    scratch: &Path,
) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".strata-rootfs-")
        .tempdir_in(scratch)
        .with_context(|| format!("creating a temporary directory in {}", scratch.display()))?;
    let flat = tmp.path().join("rootfs");
    flatten_layers(store, outcome, &flat)?;
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    // The flattened tree goes through the safe applier (a tar over a pipe, never on disk):
    // entries land in `dest` without following symlinks the user's directory holds.
    let (reader, writer) = std::io::pipe().context("creating a pipe")?;
    let producer = std::thread::spawn(move || {
        let mut out = BufWriter::with_capacity(1 << 20, writer);
        let written =
            strata_layer::write_tree(&flat, &mut out, &strata_layer::WriteOptions::default())
                .map_err(anyhow::Error::from)
                .and_then(|_| out.flush().map_err(anyhow::Error::from));
        written.context("writing the flattened root filesystem")
    });
    let applied = strata_layer::apply_layer(
        std::io::BufReader::with_capacity(1 << 20, reader),
        dest,
        &strata_layer::ApplyOptions::default(),
    )
    .with_context(|| format!("copying the root filesystem into {}", dest.display()));
    let produced = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the root filesystem writer panicked"))?;
    // The applier's error explains a broken pipe on the writer's side: report it first.
    applied?;
    produced
}

/// Apply the image's layers in order onto the fresh directory `root`.
fn flatten_layers(store: &Store, outcome: &BuildOutcome, root: &Path) -> Result<()> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    for layer in &outcome.state.layers {
        let blob = store
            .open_blob(&layer.digest)
            .with_context(|| format!("opening layer {}", layer.digest))?;
        let opts = strata_layer::ApplyOptions {
            expected_diff_id: Some(layer.diff_id.clone()),
            ..Default::default()
        };
        strata_layer::apply_layer(
            std::io::BufReader::with_capacity(1 << 20, blob),
            root,
            &opts,
        )
        .with_context(|| format!("unpacking layer {} into {}", layer.digest, root.display()))?;
    }
    Ok(())
}

/// The final root filesystem as one tar, at `dest` (`-` for stdout). It is unpacked into a
/// scratch directory under `scratch` first so whiteouts are resolved.
pub fn rootfs_to_tar(
    store: &Store,
    outcome: &BuildOutcome,
    dest: &str,
    scratch: &Path,
) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".strata-rootfs-")
        .tempdir_in(scratch)
        .with_context(|| format!("creating a temporary directory in {}", scratch.display()))?;
    let root = tmp.path().join("rootfs");
    flatten_layers(store, outcome, &root)?;
    write_to(dest, |w| {
        strata_layer::write_tree(&root, w, &strata_layer::WriteOptions::default())
            .context("writing the root filesystem tar")?;
        Ok(())
    })
}

/// An archive of the built image, named with `names`.
pub fn archive(store: &Store, outcome: &BuildOutcome, names: &[TagRef], dest: &str) -> Result<()> {
    let image = SaveImage {
        manifest: strata_oci::Descriptor::new(
            strata_oci::MediaType::new(strata_oci::media_type::OCI_MANIFEST),
            outcome.image.manifest_digest.clone(),
            outcome.image.manifest.len() as u64,
        ),
        names: names
            .iter()
            .map(|t| SaveName {
                full: t.key(),
                familiar_repo: t.familiar_repository().to_owned(),
                tag: t.tag.clone(),
            })
            .collect(),
        attachments: Vec::new(),
    };
    write_to(dest, |w| {
        strata_archive::save_archive(std::slice::from_ref(&image), store, w)
            .context("writing the image archive")?;
        Ok(())
    })
}

/// Write through `f` to stdout, or to a temporary file renamed to `dest` when complete.
fn write_to(dest: &str, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    if dest == "-" {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
        f(&mut out)?;
        out.flush().context("writing to stdout")?;
        return Ok(());
    }
    let path = PathBuf::from(dest);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".strata-output-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
        f(&mut out)?;
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    tmp.persist(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
