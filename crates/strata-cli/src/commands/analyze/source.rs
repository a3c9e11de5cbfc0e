//! Where `analyze`, `explore` and `image diff` get an image's config and layer streams.
//!
//! Sources, as skopeo names them: a local store name (or `strata:NAME`),
//! `docker-archive:FILE[:REF]`, `oci:DIR[:TAG]` and `docker://REF`. An uncompressed
//! docker-archive is read in place (its members are indexed once, then each layer is read
//! at its offset); an OCI layout and a registry image are staged in a throwaway store
//! beside the local one, removed when the command ends. Every layer stream is checked
//! against the config's diffID once it has been read to the end.
//!
//! This module is the one place that knows where bytes come from: the analysis only sees
//! history entries and layer readers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};
use strata_analyze::HistoryEntry;
use strata_archive::store::StoreSink;
use strata_oci::Digest;
use strata_store::{Store, TagRef};

use super::super::archive_common::open_store;
use super::super::pull::RegistryFlags;
use crate::Global;

/// An image opened for reading.
pub struct OpenedImage {
    /// How the user named it.
    pub name: String,
    pub history: Vec<HistoryEntry>,
    pub diff_ids: Vec<Digest>,
    layers: Vec<LayerLoc>,
    backing: Backing,
}

enum LayerLoc {
    /// A blob in the (local or staging) store, with its media type's compression.
    Blob { digest: Digest, uncompressed: bool },
    /// A member of an uncompressed docker-archive.
    Member { offset: u64, size: u64 },
}

enum Backing {
    Store {
        store: Store,
        _staging: Option<tempfile::TempDir>,
    },
    Archive {
        file: PathBuf,
    },
}

#[derive(serde::Deserialize, Default)]
struct ConfigView {
    #[serde(default)]
    history: Vec<HistoryEntry>,
    #[serde(default)]
    rootfs: RootFs,
}

#[derive(serde::Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

fn parse_config(bytes: &[u8], what: &str) -> Result<ConfigView> {
    serde_json::from_slice(bytes).with_context(|| format!("{what}: invalid image config"))
}

/// Open `spec` (see the module docs for the accepted forms).
pub fn open_image(spec: &str, global: &Global, registry: &RegistryFlags) -> Result<OpenedImage> {
    if let Some(rest) = spec.strip_prefix("docker-archive:") {
        let (file, name) = match rest.split_once(':') {
            Some((f, n)) if !n.is_empty() => (f, Some(n)),
            _ => (rest, None),
        };
        return open_archive(spec, Path::new(file), name, global);
    }
    if let Some(rest) = spec.strip_prefix("oci:") {
        let (dir, tag) = match rest.rsplit_once(':') {
            Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t)),
            _ => (rest, None),
        };
        return stage(spec, global, |store, sink| {
            let report = strata_archive::load_dir(Path::new(dir), sink)
                .with_context(|| format!("reading OCI layout {dir}"))?;
            pick(store, report, tag, spec)
        });
    }
    if let Some(r) = spec.strip_prefix("docker://") {
        let reference = strata_oci::Reference::parse(r)
            .with_context(|| format!("invalid reference in {spec}"))?;
        return stage(spec, global, |store, _sink| {
            let client = super::super::pull::client(registry, &[reference.registry_host()])?;
            let rt = super::super::pull::runtime()?;
            let progress = super::super::pull::CliProgress::new(true, false);
            let pulled = rt.block_on(strata_distribution::pull(
                &client,
                store,
                &reference,
                &strata_distribution::PullOptions {
                    platform: None,
                    concurrency: registry.max_concurrent,
                },
                progress,
            ))?;
            Ok(pulled.manifest_digest)
        });
    }
    let name = spec.strip_prefix("strata:").unwrap_or(spec);
    let store = open_store(global)?;
    let image = store
        .resolve(name)
        .with_context(|| format!("no such image: {name}"))?;
    from_store(spec, store, &image.record.manifest_digest, None)
}

fn from_store(
    spec: &str,
    store: Store,
    manifest: &Digest,
    staging: Option<tempfile::TempDir>,
) -> Result<OpenedImage> {
    let record = store
        .get_image(manifest)
        .with_context(|| format!("{spec}: reading the image record"))?;
    let config = store
        .read_blob_verified(&record.config_digest)
        .with_context(|| format!("{spec}: reading config {}", record.config_digest))?;
    let view = parse_config(&config, spec)?;
    let layers = record
        .layers
        .iter()
        .map(|l| LayerLoc::Blob {
            digest: l.digest.clone(),
            uncompressed: l.media_type.layer_compression()
                == Some(strata_oci::media_type::Compression::None),
        })
        .collect();
    finish(
        spec,
        view,
        layers,
        Backing::Store {
            store,
            _staging: staging,
        },
    )
}

fn finish(
    spec: &str,
    view: ConfigView,
    layers: Vec<LayerLoc>,
    backing: Backing,
) -> Result<OpenedImage> {
    if view.rootfs.diff_ids.len() != layers.len() {
        bail!(
            "{spec}: the config lists {} diffIDs but the manifest {} layers",
            view.rootfs.diff_ids.len(),
            layers.len()
        );
    }
    Ok(OpenedImage {
        name: spec.to_owned(),
        history: view.history,
        diff_ids: view.rootfs.diff_ids,
        layers,
        backing,
    })
}

/// Bring an image into a throwaway store beside the local one and open it there.
fn stage(
    spec: &str,
    global: &Global,
    fetch: impl FnOnce(&Store, &mut StoreSink<'_>) -> Result<Digest>,
) -> Result<OpenedImage> {
    // Beside the local store rather than in /tmp (often a small tmpfs): images are big.
    let parent = global
        .root
        .clone()
        .unwrap_or_else(strata_store::default_root)
        .join("tmp");
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix("analyze-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary store in {}", parent.display()))?;
    let store = Store::open(tmp.path())?;
    let manifest = {
        let lease = store.lease(Some(std::time::Duration::from_secs(3600)))?;
        let mut sink = StoreSink::new(&store, &lease);
        fetch(&store, &mut sink)?
    };
    from_store(spec, store, &manifest, Some(tmp))
}

/// The one image of a loaded layout (by tag when given), recorded in `store`.
fn pick(
    store: &Store,
    report: strata_archive::LoadReport,
    name: Option<&str>,
    what: &str,
) -> Result<Digest> {
    let images: Vec<_> = report
        .images
        .into_iter()
        .filter(|i| i.manifest.media_type.is_manifest())
        .collect();
    let chosen = match name {
        Some(n) => images
            .iter()
            .find(|i| {
                i.names.iter().any(|x| {
                    x == n
                        || x.rsplit_once(':').map(|(_, t)| t) == Some(n)
                        || TagRef::parse(x).ok().map(|t| t.key())
                            == TagRef::parse(n).ok().map(|t| t.key())
                })
            })
            .with_context(|| format!("{what}: no image named {n}"))?,
        None => match images.as_slice() {
            [one] => one,
            [] => bail!("{what}: no single-platform image found"),
            _ => bail!("{what}: holds several images; name one"),
        },
    };
    let bytes = store.read_blob_verified(&chosen.manifest.digest)?;
    store.add_image(&bytes, &chosen.manifest.media_type)?;
    Ok(chosen.manifest.digest.clone())
}

/// A docker-archive read in place when it is an uncompressed tar; staged otherwise.
fn open_archive(
    spec: &str,
    file: &Path,
    name: Option<&str>,
    global: &Global,
) -> Result<OpenedImage> {
    let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut head = [0u8; 4];
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", file.display()))?;
    if strata_layer::detect(&head[..n]) != strata_layer::Compression::None {
        return stage(spec, global, |store, sink| {
            let report = strata_archive::load_path(file, sink)
                .with_context(|| format!("reading {}", file.display()))?;
            pick(store, report, name, spec)
        });
    }
    f.seek(SeekFrom::Start(0))?;
    let members = index_members(f, file)?;
    let read_member = |path: &str| -> Result<Vec<u8>> {
        let m = members
            .get(path)
            .with_context(|| format!("{}: no member {path}", file.display()))?;
        let mut f = File::open(file)?;
        f.seek(SeekFrom::Start(m.0))?;
        let mut buf = Vec::with_capacity(m.1 as usize);
        f.take(m.1).read_to_end(&mut buf)?;
        Ok(buf)
    };
    let manifest = read_member("manifest.json")
        .with_context(|| format!("{}: not a docker-archive", file.display()))?;
    let entries = strata_archive::docker::parse_manifest_json(&manifest)
        .with_context(|| format!("{}: manifest.json", file.display()))?;
    let entry = match name {
        Some(n) => entries
            .iter()
            .find(|e| {
                e.repo_tags.iter().flatten().any(|t| {
                    t == n
                        || TagRef::parse(t).ok().map(|t| t.key())
                            == TagRef::parse(n).ok().map(|t| t.key())
                })
            })
            .with_context(|| format!("{spec}: no image named {n}"))?,
        None => match entries.as_slice() {
            [one] => one,
            [] => bail!("{spec}: manifest.json lists no image"),
            _ => bail!("{spec}: holds several images; name one (docker-archive:FILE:NAME)"),
        },
    };
    let config_path = normalize(&entry.config);
    let config = read_member(&config_path)?;
    if let Some(hex) = config_path
        .strip_prefix("blobs/sha256/")
        .or_else(|| config_path.strip_suffix(".json"))
    {
        let actual = hex::encode(Sha256::digest(&config));
        if actual != hex {
            bail!("{spec}: config {config_path} has digest sha256:{actual}, expected sha256:{hex}");
        }
    }
    let view = parse_config(&config, spec)?;
    let mut layers = Vec::new();
    for l in entry.layers.iter().flatten() {
        let p = normalize(l);
        let &(offset, size) = members
            .get(&p)
            .with_context(|| format!("{spec}: layer {p} is not in the archive"))?;
        layers.push(LayerLoc::Member { offset, size });
    }
    finish(
        spec,
        view,
        layers,
        Backing::Archive {
            file: file.to_owned(),
        },
    )
}

fn normalize(p: &str) -> String {
    p.trim_start_matches("./").to_owned()
}

/// Member path → (data offset, size), following symlinked members (older `docker save`
/// links a repeated layer to its first copy). Member data is seeked over, not read.
fn index_members(file_handle: File, file: &Path) -> Result<HashMap<String, (u64, u64)>> {
    let mut archive = tar::Archive::new(file_handle);
    let mut out = HashMap::new();
    let mut links: Vec<(String, String)> = Vec::new();
    for entry in archive
        .entries_with_seek()
        .with_context(|| format!("reading {}", file.display()))?
    {
        let entry = entry.with_context(|| format!("reading {}", file.display()))?;
        let path = normalize(&entry.path()?.to_string_lossy());
        match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(target) = entry.link_name()? {
                    let target = target.to_string_lossy().into_owned();
                    let resolved = if entry.header().entry_type() == tar::EntryType::Symlink {
                        match path.rsplit_once('/') {
                            Some((dir, _)) => format!("{dir}/{target}"),
                            None => target,
                        }
                    } else {
                        target
                    };
                    links.push((path, resolved));
                }
            }
            _ => {
                out.insert(path, (entry.raw_file_position(), entry.size()));
            }
        }
    }
    for (path, target) in links {
        let target = strata_analyze::scan::clean_path(&target).unwrap_or_default();
        if let Some(&m) = out.get(&target) {
            out.insert(path, m);
        }
    }
    Ok(out)
}

impl OpenedImage {
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// The uncompressed tar stream of layer `i`. Read it to the end, then call
    /// [`LayerStream::finish`] to check it against the layer's diffID.
    pub fn open_layer(&self, i: usize) -> Result<LayerStream<'_>> {
        let diff_id = &self.diff_ids[i];
        let (raw, verified_elsewhere): (Box<dyn Read + '_>, bool) =
            match (&self.layers[i], &self.backing) {
                (
                    LayerLoc::Blob {
                        digest,
                        uncompressed,
                    },
                    Backing::Store { store, .. },
                ) => {
                    let r = store
                        .open_blob(digest)
                        .with_context(|| format!("{}: opening layer {digest}", self.name))?;
                    // The store checks the blob's digest at its end; for an uncompressed blob
                    // that is the diffID, so hashing it twice buys nothing.
                    (Box::new(r), *uncompressed && digest == diff_id)
                }
                (LayerLoc::Member { offset, size }, Backing::Archive { file }) => {
                    let mut f =
                        File::open(file).with_context(|| format!("opening {}", file.display()))?;
                    f.seek(SeekFrom::Start(*offset))?;
                    (Box::new(f.take(*size)), false)
                }
                _ => unreachable!("layer locations match their backing"),
            };
        let inner = strata_layer::decompress(BufReader::with_capacity(1 << 20, raw), None)
            .with_context(|| format!("{}: layer {i} ({diff_id})", self.name))?;
        Ok(LayerStream {
            inner,
            hasher: (!verified_elsewhere).then(Sha256::new),
            expected: diff_id.clone(),
            what: format!("{}: layer {i}", self.name),
        })
    }
}

/// A layer's uncompressed bytes, hashed on the way through.
pub struct LayerStream<'a> {
    inner: Box<dyn Read + 'a>,
    hasher: Option<Sha256>,
    expected: Digest,
    what: String,
}

impl Read for LayerStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl LayerStream<'_> {
    /// Read whatever the consumer left (tar padding) and check the diffID.
    pub fn finish(mut self) -> Result<()> {
        io::copy(&mut self, &mut io::sink()).with_context(|| self.what.clone())?;
        if let Some(h) = self.hasher.take() {
            let actual = format!("sha256:{}", hex::encode(h.finalize()));
            if actual != self.expected.to_string() {
                bail!(
                    "{}: content has diffID {actual}, the config says {}",
                    self.what,
                    self.expected
                );
            }
        }
        Ok(())
    }
}
