//! [`Image`]: one image manifest, its config and its layers, read through any transport.
//!
//! An `Image` is an immutable view: opening resolves the reference, picks the platform
//! child of an index, reads and checks the config, and keeps the exact bytes of manifest
//! and config (digests are over those bytes). Layers and blobs are streamed on demand and
//! verified as they are read.

use std::io::Read;
use std::path::PathBuf;

use strata_distribution::{ClientOptions, DockerConfig};
use strata_oci::{Descriptor, Digest, ImageConfig, Manifest, Platform, RawManifest};

use crate::content::{ContentRead, DOCUMENT_LIMIT};
use crate::error::{Error, ErrorKind, Result};
use crate::layer::{LayerInfo, UncompressedLayer};
use crate::source::ImageSource;
use crate::transport;

/// How to reach sources.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Root of the local store (for store sources, and scratch space for compressed archives).
    pub store_root: PathBuf,
    /// The platform to pick from a multi-platform index; the host's when `None`. For a
    /// single-platform image, a platform given here must match its config.
    pub platform: Option<Platform>,
    /// Registry settings: TLS, insecure / plain-http hosts, credentials.
    pub registry: ClientOptions,
}

impl OpenOptions {
    /// Options for the store at `store_root`, with registry credentials from docker's
    /// `config.json` (`$DOCKER_CONFIG`, credential helpers) as `pull` uses them.
    pub fn new(store_root: impl Into<PathBuf>) -> Self {
        OpenOptions {
            store_root: store_root.into(),
            platform: None,
            registry: ClientOptions {
                docker_config: DockerConfig::load_default().ok(),
                ..ClientOptions::default()
            },
        }
    }
}

/// An image read from a source. See the module docs.
pub struct Image {
    source: ImageSource,
    content: Box<dyn ContentRead>,
    index: Option<RawManifest>,
    manifest: RawManifest,
    config_raw: Vec<u8>,
    config_descriptor: Descriptor,
    config: ImageConfig,
    layers: Vec<LayerInfo>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("source", &self.source.to_string())
            .field("manifest", &self.manifest.digest)
            .field("config", &self.config_descriptor.digest)
            .finish()
    }
}

/// Open the image `source` names.
pub fn open(source: &ImageSource, opts: &OpenOptions) -> Result<Image> {
    let content = transport::open_read(source, opts)?;
    Image::from_content(
        source.clone(),
        content,
        transport::reference_of(source),
        opts.platform.as_ref(),
    )
}

impl Image {
    /// Open the image `reference` names in `content` (see [`ContentRead::resolve`]).
    pub fn from_content(
        source: ImageSource,
        content: Box<dyn ContentRead>,
        reference: Option<String>,
        platform: Option<&Platform>,
    ) -> Result<Image> {
        let what = source.to_string();
        let top = content.resolve(reference.as_deref())?;
        let top = content.get_manifest(&top)?;
        let (index, manifest) = match &top.parsed {
            Manifest::Image(_) => (None, top),
            Manifest::Index(idx) => {
                let want = platform.cloned().unwrap_or_else(Platform::host);
                let chosen = match platform {
                    Some(p) => idx.manifests_for(p).next(),
                    None => idx.best_for(&want),
                };
                let chosen = chosen.ok_or_else(|| {
                    let have: Vec<String> = idx
                        .manifests
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                        .collect();
                    Error::not_found(format!(
                        "{what}: index {} has no image for platform {want} (it has: {})",
                        top.digest,
                        if have.is_empty() {
                            "none".into()
                        } else {
                            have.join(", ")
                        }
                    ))
                })?;
                let child = content.get_manifest(chosen)?;
                if child.as_index().is_some() {
                    return Err(Error::new(
                        ErrorKind::Unsupported,
                        format!("{what}: nested index {} is not supported", chosen.digest),
                    ));
                }
                (Some(top), child)
            }
        };
        let m = manifest.as_image().expect("resolved to an image manifest");
        if !m.config.media_type.is_config() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{what}: manifest {} is an artifact (config type {}), not a container image",
                    manifest.digest, m.config.media_type
                ),
            ));
        }
        let config_raw = content.read_verified(&m.config, DOCUMENT_LIMIT)?;
        let config: ImageConfig = serde_json::from_slice(&config_raw).map_err(|e| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("{what}: image config {} is not valid: {e}", m.config.digest),
            )
        })?;
        if let (Some(p), None) = (platform, &index) {
            let have = config.platform();
            if !p.matches(&have) {
                return Err(Error::not_found(format!(
                    "{what}: image {} is for platform {have}, not {p}",
                    manifest.digest
                )));
            }
        }
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != m.layers.len() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "{what}: image config {} lists {} diff_ids but manifest {} has {} layers",
                    m.config.digest,
                    diff_ids.len(),
                    manifest.digest,
                    m.layers.len()
                ),
            ));
        }
        let layers = m
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(d, diff_id)| LayerInfo {
                descriptor: d.clone(),
                diff_id: diff_id.clone(),
            })
            .collect();
        Ok(Image {
            config_descriptor: m.config.clone(),
            source,
            content,
            index,
            manifest,
            config_raw,
            config,
            layers,
        })
    }

    /// Where the image was opened from.
    pub fn source(&self) -> &ImageSource {
        &self.source
    }

    /// The image manifest, exact bytes and digest.
    pub fn manifest(&self) -> &RawManifest {
        &self.manifest
    }

    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest.digest
    }

    /// The index the manifest was picked from, when the reference named one.
    pub fn index(&self) -> Option<&RawManifest> {
        self.index.as_ref()
    }

    /// The digest the reference resolved to: the index's when there is one, else the
    /// manifest's (what docker shows as the repo digest).
    pub fn top_digest(&self) -> &Digest {
        self.index
            .as_ref()
            .map(|i| &i.digest)
            .unwrap_or(&self.manifest.digest)
    }

    pub fn config(&self) -> &ImageConfig {
        &self.config
    }

    /// The config's exact bytes (their digest is the image ID).
    pub fn config_raw(&self) -> &[u8] {
        &self.config_raw
    }

    pub fn config_descriptor(&self) -> &Descriptor {
        &self.config_descriptor
    }

    /// The image ID: the config digest.
    pub fn id(&self) -> &Digest {
        &self.config_descriptor.digest
    }

    /// Layers bottom first, each with its diffID.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// The uncompressed tar of layer `i` (bottom first), verified against the layer's blob
    /// digest and its diffID when the stream ends: read it to the end.
    pub fn open_layer(&self, i: usize) -> Result<Box<dyn Read + Send + '_>> {
        let info = self.layers.get(i).ok_or_else(|| {
            Error::not_found(format!(
                "{}: image has {} layers, no layer {i}",
                self.source,
                self.layers.len()
            ))
        })?;
        let blob = self.content.open_blob(&info.descriptor)?;
        let what = format!("{}: layer {}", self.source, info.descriptor.digest);
        let layer = UncompressedLayer::new(blob, info.diff_id.clone(), what.clone())
            .map_err(|e| Error::io(&what, e))?;
        Ok(Box::new(layer))
    }

    /// Any blob of the source (a layer as stored, the config, an attachment's blobs),
    /// verified at end of stream.
    pub fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        self.content.open_blob(desc)
    }

    /// Manifests attached to this image (OCI 1.1 referrers of its manifest digest), of
    /// `artifact_type` when given.
    pub fn referrers(&self, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        self.content
            .referrers_of_type(&self.manifest.digest, artifact_type)
    }

    /// The content the image was read from, for reading attachments and other blobs.
    pub fn content(&self) -> &dyn ContentRead {
        self.content.as_ref()
    }
}
