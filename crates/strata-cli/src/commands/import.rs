//! `strata import`: a root filesystem (tar, compressed tar or directory) as a new
//! single-layer image.
//!
//! A tar is streamed once: the bytes go to the store as the layer blob while a tar reader
//! follows along, so malformed tars and entries escaping the root are refused without a
//! second pass. The layer is stored uncompressed (its digest is its diffID), like layers
//! loaded from docker-archives. A directory is written as a deterministic tar.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::json;
use strata_oci::media_type::{OCI_CONFIG, OCI_LAYER_TAR};
use strata_oci::{Descriptor, Digest, ImageManifest, MediaType, Platform};
use strata_store::{BlobWriter, Lease, NewImage, Store, TagRef};

use super::archive_common::{lease, open_store};
use super::import_changes::apply_changes;
use crate::Global;

/// Import the contents from a tarball (or a directory) to create a filesystem image
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Root filesystem: a tar file (optionally gzip or zstd compressed), a directory, or -
    /// for STDIN
    #[arg(value_name = "FILE|DIR|-")]
    pub source: String,
    /// Name for the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Set a commit message for the imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set the platform of the image (os/arch[/variant]) [default: this machine's]
    #[arg(long)]
    pub platform: Option<String>,
}

pub fn run(args: ImportArgs, global: &Global) -> Result<ExitCode> {
    if args.source.contains("://") {
        bail!("importing from a URL is not supported: {}", args.source);
    }
    let container_config = apply_changes(&args.changes)?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).with_context(|| format!("invalid --platform {p:?}"))?,
        None => Platform::host(),
    };
    if let Some(r) = &args.reference {
        strata_store::TagRef::parse(r).with_context(|| format!("invalid reference {r:?}"))?;
    }
    let store = open_store(global)?;
    let lease = lease(&store)?;
    let writer = store.writer(None)?.with_lease(lease.id());
    let (diff_id, size) = if args.source == "-" {
        let stdin = std::io::stdin();
        layer_from_tar(stdin.lock(), writer, "stdin")?
    } else {
        let path = PathBuf::from(&args.source);
        let meta =
            std::fs::metadata(&path).with_context(|| format!("opening {}", path.display()))?;
        if meta.is_dir() {
            layer_from_dir(&path, writer)?
        } else {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            layer_from_tar(file, writer, &args.source)?
        }
    };

    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let comment = args
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {}", args.source));
    let config = image_config(&created, &platform, container_config, &diff_id, &comment);
    let config_bytes = serde_json::to_vec(&config)?;
    let config_desc = Descriptor::of_bytes(OCI_CONFIG, &config_bytes);
    put(&store, &lease, &config_desc.digest, &config_bytes)?;
    let layer = Descriptor::new(OCI_LAYER_TAR, diff_id, size);
    let manifest = ImageManifest::oci(config_desc.clone(), vec![layer]);
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let tags: Vec<TagRef> = args
        .reference
        .iter()
        .map(|r| TagRef::parse(r))
        .collect::<Result<_, _>>()?;
    let record = store
        .add_images(&[NewImage {
            manifest: &manifest_bytes,
            media_type: &MediaType::from(strata_oci::media_type::OCI_MANIFEST),
            tags: &tags,
        }])
        .with_context(|| match &args.reference {
            Some(r) => format!("recording the imported image as {r}"),
            None => "recording the imported image".to_owned(),
        })?
        .remove(0);
    lease.release()?;
    println!("{}", record.config_digest);
    Ok(ExitCode::SUCCESS)
}

/// The image config, with keys in the order of the OCI image-spec Go structs. Tools that
/// re-serialise configs through those structs (skopeo converting OCI to docker-archive)
/// then reproduce these exact bytes, and the image ID survives the round trip. For the
/// same reason the message goes into the history entry, not a top-level `comment`
/// field, which the OCI config does not have.
fn image_config(
    created: &str,
    platform: &Platform,
    container: serde_json::Map<String, serde_json::Value>,
    diff_id: &Digest,
    comment: &str,
) -> serde_json::Value {
    const ORDER: &[&str] = &[
        "User",
        "ExposedPorts",
        "Env",
        "Entrypoint",
        "Cmd",
        "Volumes",
        "WorkingDir",
        "Labels",
        "StopSignal",
    ];
    let mut ordered = serde_json::Map::new();
    for key in ORDER {
        if let Some(v) = container.get(*key) {
            ordered.insert((*key).to_owned(), v.clone());
        }
    }
    for (k, v) in container {
        if !ordered.contains_key(&k) {
            ordered.insert(k, v);
        }
    }
    let mut config = serde_json::Map::new();
    config.insert("created".into(), json!(created));
    config.insert("architecture".into(), json!(platform.architecture));
    config.insert("os".into(), json!(platform.os));
    if let Some(v) = &platform.variant {
        config.insert("variant".into(), json!(v));
    }
    if !ordered.is_empty() {
        config.insert("config".into(), serde_json::Value::Object(ordered));
    }
    config.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": [diff_id.to_string()]}),
    );
    config.insert(
        "history".into(),
        json!([{"created": created, "created_by": "strata import", "comment": comment}]),
    );
    serde_json::Value::Object(config)
}

fn put(store: &Store, lease: &Lease, digest: &Digest, bytes: &[u8]) -> Result<()> {
    let mut w = store
        .writer(Some((digest.clone(), bytes.len() as u64)))?
        .with_lease(lease.id());
    w.write_all(bytes)?;
    w.commit()?;
    Ok(())
}

fn layer_from_dir(dir: &Path, mut writer: BlobWriter) -> Result<(Digest, u64)> {
    strata_layer::tree::write_tree(
        dir,
        &mut writer,
        &strata_layer::tree::WriteOptions::default(),
    )
    .with_context(|| format!("writing a layer from {}", dir.display()))?;
    Ok(writer.commit()?)
}

/// Copy a (possibly compressed) tar into `writer` uncompressed, checking it as it passes.
fn layer_from_tar<R: Read>(input: R, mut writer: BlobWriter, name: &str) -> Result<(Digest, u64)> {
    let mut buffered = BufReader::with_capacity(1 << 20, input);
    let head = buffered
        .fill_buf()
        .with_context(|| format!("reading {name}"))?;
    if head.is_empty() {
        bail!("{name} is empty, expected a tar archive");
    }
    if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        bail!("{name}: bzip2 and xz compressed archives are not supported; use gzip, zstd or plain tar");
    }
    let (_, plain) = strata_archive::detect::decompressed(buffered)?;
    let tee = Tee {
        inner: plain,
        out: &mut writer,
    };
    // The one hardened reader (capped extension headers, POSIX-only name prefix), and the
    // applier's own path rules: `import` refuses exactly what every later unpack would.
    let mut archive = strata_layer::TarReader::new(tee);
    let mut checker = strata_layer::EntryChecker::default();
    while let Some(header) = archive
        .next_header()
        .with_context(|| format!("{name}: not a valid tar archive"))?
    {
        checker
            .check(&header)
            .with_context(|| format!("{name}: refused"))?;
    }
    // The end-of-archive blocks and any padding after them belong to the layer too.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).with_context(|| format!("reading {name}"))?;
    Ok(writer.commit()?)
}

/// Passes everything it reads on to `out`.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out.write_all(&buf[..n])?;
        Ok(n)
    }
}
