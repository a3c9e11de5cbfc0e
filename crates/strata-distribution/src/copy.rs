//! Registry-to-registry copies that keep digests: blobs are skipped when the destination
//! has them, mounted when both repositories share a registry, else streamed from the
//! source straight into the destination upload (verified on the way); manifests are
//! re-uploaded as the exact bytes received.

use std::sync::Arc;

use futures::StreamExt;
use strata_oci::{Descriptor, Digest, Digester, Manifest, RawManifest};

use crate::error::{Error, ErrorKind, Result};
use crate::limits::rate_guarded;
use crate::progress::{Outcome, Progress};
use crate::registry::{Repository, UploadStart};

/// Copy the manifest (image or index, children included) named `reference` from `src` to
/// `dst`, tagging it `dst_tag` if given. Returns the manifest digest, the same on both sides.
pub async fn copy_between(
    src: &Repository<'_>,
    dst: &Repository<'_>,
    reference: &str,
    dst_tag: Option<&str>,
    progress: Arc<dyn Progress>,
) -> Result<Digest> {
    let raw = src.get_manifest(reference).await?;
    if let Manifest::Index(index) = &raw.parsed {
        for child in &index.manifests {
            let c = src.get_manifest(&child.digest.to_string()).await?;
            if matches!(c.parsed, Manifest::Index(_)) {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("nested index {} is not supported", child.digest),
                ));
            }
            copy_manifest(src, dst, &c, None, progress.clone()).await?;
        }
        dst.put_manifest(dst_tag.unwrap_or(&raw.digest.to_string()), &raw)
            .await?;
        return Ok(raw.digest);
    }
    copy_manifest(src, dst, &raw, dst_tag, progress).await?;
    Ok(raw.digest)
}

/// Copy one image manifest's blobs, then the manifest itself (by tag, else by digest).
pub async fn copy_manifest(
    src: &Repository<'_>,
    dst: &Repository<'_>,
    raw: &RawManifest,
    dst_tag: Option<&str>,
    progress: Arc<dyn Progress>,
) -> Result<()> {
    let Manifest::Image(m) = &raw.parsed else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{} is an index, not an image manifest", raw.digest),
        ));
    };
    let blobs: Vec<Descriptor> = std::iter::once(m.config.clone())
        .chain(m.layers.iter().cloned())
        .collect();
    for b in &blobs {
        copy_blob(src, dst, b, progress.as_ref()).await?;
    }
    dst.put_manifest(dst_tag.unwrap_or(&raw.digest.to_string()), raw)
        .await?;
    Ok(())
}

/// One blob from `src` to `dst`.
pub async fn copy_blob(
    src: &Repository<'_>,
    dst: &Repository<'_>,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> Result<Outcome> {
    let digest = &desc.digest;
    if dst.blob_size(digest, &dst.push_scope()).await?.is_some() {
        progress.finish(digest, Outcome::Exists);
        return Ok(Outcome::Exists);
    }
    let same_registry = src.host == dst.host && std::ptr::eq(src.client, dst.client);
    let start = if same_registry && src.name != dst.name {
        dst.start_upload(Some((digest, src.name))).await?
    } else {
        dst.start_upload(None).await?
    };
    let location = match start {
        UploadStart::Mounted => {
            progress.finish(digest, Outcome::Mounted);
            return Ok(Outcome::Mounted);
        }
        UploadStart::Location(l) => l,
    };
    progress.start(digest, desc.size);
    let resp = src.blob_response(digest, 0).await?;
    let size = desc.size;
    let want = digest.clone();
    let host = src.host.to_owned();
    // Digest and count what passes through; a mismatch aborts the body so the
    // destination never commits it (it also checks the digest on the final PUT).
    let mut digester = Some(Digester::new(digest.algorithm()));
    let mut seen = 0u64;
    let body = rate_guarded(
        resp.bytes_stream(),
        src.client.rate_floor(),
        format!("registry {host}: reading blob {want}"),
    );
    let stream = body.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > size {
            return Err(std::io::Error::other(format!(
                "registry {host}: blob {want} is larger than {size} bytes"
            )));
        }
        if let Some(d) = digester.as_mut() {
            d.update(&chunk);
        }
        if seen == size {
            let got = digester.take().expect("digester until the end").finish();
            if got != want {
                return Err(std::io::Error::other(format!(
                    "registry {host}: blob {want} has digest {got}"
                )));
            }
        }
        Ok::<_, std::io::Error>(chunk)
    });
    let scope = dst.push_scope();
    let loc = dst
        .patch(&location, reqwest::Body::wrap_stream(stream), None, &scope)
        .await?;
    dst.finish_upload(&loc, digest, None, &scope).await?;
    progress.finish(digest, Outcome::Transferred);
    Ok(Outcome::Transferred)
}
