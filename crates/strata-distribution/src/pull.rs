//! `pull`: resolve a reference (tag or digest), pick a platform from an index, fetch the
//! config and layers in parallel into the store under a lease, then record and tag the
//! image. Blobs already present are not fetched again.
//!
//! Nothing is recorded until every blob is committed; a killed pull leaves only leased
//! blobs, which expire with the lease and are collected.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use strata_oci::{Descriptor, Digest, ImageConfig, Manifest, Platform, RawManifest, Reference};
use strata_store::{ImageRecord, NewImage, Store, TagRef};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::SMALL_BLOB_LIMIT;
use crate::progress::{NoProgress, Outcome, Progress};
use crate::registry::Repository;
use crate::transfer;

/// How long a pull's lease protects its blobs if the process dies.
pub const PULL_LEASE_TTL: Duration = Duration::from_secs(3600);

/// Pull settings.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Platform to select from an index; `None` is the host's.
    pub platform: Option<Platform>,
    /// Blobs transferred at once.
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            concurrency: 4,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The reference as pulled, pinned to the manifest digest it resolved to (the index
    /// digest for multi-platform images, as docker prints it).
    pub digest: Digest,
    /// The digest of the platform manifest recorded in the store.
    pub manifest_digest: Digest,
    pub image: ImageRecord,
    /// Tag recorded in the store, if the reference had one.
    pub tag: Option<String>,
    /// Blobs fetched vs already present.
    pub fetched: usize,
    pub present: usize,
    pub bytes_fetched: u64,
}

/// Choose the manifest for `platform` from an index.
pub fn select_platform<'a>(
    index: &'a strata_oci::ImageIndex,
    platform: &Platform,
) -> Option<&'a Descriptor> {
    index.best_for(platform)
}

/// Pull `reference` into `store`.
pub async fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
    progress: Arc<dyn Progress>,
) -> Result<Pulled> {
    let repo = Repository::of(client, reference);
    let top = repo.get_manifest(&reference.manifest_ref()).await?;
    let top_digest = top.digest.clone();
    let raw = match &top.parsed {
        Manifest::Image(_) => top,
        Manifest::Index(index) => {
            let want = opts.platform.clone().unwrap_or_else(Platform::host);
            let chosen =
                select_platform(index, &want).ok_or_else(|| {
                    let have: Vec<String> = index
                        .manifests
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                        .collect();
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                        "{reference}: no manifest for platform {want} in the index (it has: {})",
                        if have.is_empty() { "none".into() } else { have.join(", ") }
                    ),
                    )
                })?;
            let child = repo.get_manifest(&chosen.digest.to_string()).await?;
            if !matches!(child.parsed, Manifest::Image(_)) {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{reference}: nested index {} is not supported",
                        chosen.digest
                    ),
                ));
            }
            child
        }
    };
    let Manifest::Image(manifest) = &raw.parsed else {
        unreachable!("resolved to an image manifest above");
    };
    check_image(reference, &raw, manifest)?;
    if manifest.config.size > SMALL_BLOB_LIMIT {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{reference}: image config {} is {} bytes, more than the {} MiB strata accepts for a config; nothing was stored",
                manifest.config.digest,
                manifest.config.size,
                SMALL_BLOB_LIMIT >> 20
            ),
        ));
    }

    let lease = store
        .lease(Some(PULL_LEASE_TTL))
        .map_err(|e| Error::store("creating a lease for the pull", e))?;
    let lease_id = lease.id().to_owned();
    // The config first: its diff_ids are what every layer is checked against on arrival.
    // Like docker, progress shows layers only.
    let config_outcome =
        transfer::download(&repo, store, &lease_id, &manifest.config, None, &NoProgress).await?;
    let diff_ids = config_diff_ids(store, reference, manifest)?;
    let layers: Vec<(Descriptor, Digest)> = manifest.layers.iter().cloned().zip(diff_ids).collect();
    let mut outcomes: Vec<(Outcome, u64)> =
        futures::stream::iter(layers.into_iter().map(|(d, diff_id)| {
            let lease_id = lease_id.clone();
            let progress = progress.clone();
            async move {
                let o = transfer::download(
                    &repo,
                    store,
                    &lease_id,
                    &d,
                    Some(&diff_id),
                    progress.as_ref(),
                )
                .await?;
                Ok::<_, Error>((o, d.size))
            }
        }))
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    outcomes.push((config_outcome, manifest.config.size));

    // The record and its tag in one transaction: a killed pull leaves neither.
    let tag = reference.tag().map(|_| reference.without_digest_string());
    let tags: Vec<TagRef> = tag
        .iter()
        .map(|t| TagRef::parse(t))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::store(format!("tag {reference}"), e))?;
    let image = store
        .add_images(&[NewImage {
            manifest: &raw.bytes,
            media_type: &raw.media_type,
            tags: &tags,
        }])
        .map_err(|e| Error::store(format!("recording {reference}"), e))?
        .remove(0);
    // The digest the registry answered with (the index's, for a multi-platform image).
    let repo_digest = reference
        .with_digest(top_digest.clone())
        .without_tag()
        .familiar();
    store
        .add_repo_digest(&image.manifest_digest, &repo_digest)
        .map_err(|e| Error::store(format!("recording {repo_digest}"), e))?;
    lease
        .release()
        .map_err(|e| Error::store("releasing the pull's lease", e))?;
    let fetched = outcomes
        .iter()
        .filter(|(o, _)| *o == Outcome::Transferred)
        .count();
    Ok(Pulled {
        digest: top_digest,
        manifest_digest: raw.digest.clone(),
        tag,
        fetched,
        present: outcomes.len() - fetched,
        bytes_fetched: outcomes
            .iter()
            .filter(|(o, _)| *o == Outcome::Transferred)
            .map(|(_, s)| s)
            .sum(),
        image,
    })
}

/// The config's `rootfs.diff_ids`, one per manifest layer.
fn config_diff_ids(
    store: &Store,
    reference: &Reference,
    manifest: &strata_oci::ImageManifest,
) -> Result<Vec<Digest>> {
    let digest = &manifest.config.digest;
    let bytes = store
        .read_blob_verified(digest)
        .map_err(|e| Error::store(format!("reading config {digest}"), e))?;
    let config: ImageConfig = serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{reference}: image config {digest} is not valid: {e}"),
        )
    })?;
    let diff_ids = config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{reference}: image config {digest} lists {} diff_ids but the manifest has {} layers",
                diff_ids.len(),
                manifest.layers.len()
            ),
        ));
    }
    Ok(diff_ids)
}

/// Refuse what the store cannot hold as an image: artifacts, unknown layer types.
fn check_image(
    reference: &Reference,
    raw: &RawManifest,
    manifest: &strata_oci::ImageManifest,
) -> Result<()> {
    if !manifest.config.media_type.is_config() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{reference}: manifest {} has config media type {}, not a container image",
                raw.digest, manifest.config.media_type
            ),
        ));
    }
    for l in &manifest.layers {
        if !l.media_type.is_layer() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{reference}: layer {} has unsupported media type {}",
                    l.digest, l.media_type
                ),
            ));
        }
    }
    Ok(())
}

trait RefExt {
    fn without_digest_string(&self) -> String;
}

impl RefExt for Reference {
    /// `domain/path:tag`, the form store tags take.
    fn without_digest_string(&self) -> String {
        format!("{}:{}", self.repository(), self.tag().unwrap_or("latest"))
    }
}
