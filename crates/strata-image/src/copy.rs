//! Copying an image from any source to any destination, as a composition over
//! [`ContentRead`] and [`ContentWrite`]: blobs the destination lacks are streamed across
//! (verified on read, committed only when they match), then the manifest is written and
//! tagged. Digests are kept: bytes are never re-encoded.
//!
//! An index is copied whole (every child, then the index) when the destination keeps
//! indexes and no platform is asked for; otherwise the platform's image is copied. The
//! attachments of every manifest copied travel with it. Archives, which are written in one
//! pass, go through strata-archive's writer ([`save_to_archive`]).

use std::collections::HashMap;
use std::io::{Read, Write};

use strata_archive::{SaveImage, SaveName};
use strata_oci::{Descriptor, Digest, Manifest, Platform, RawManifest};
use strata_store::TagRef;

use crate::content::{ContentRead, ContentWrite};
use crate::error::{Error, ErrorKind, Result};

/// How to copy.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Copy only this platform's image out of an index.
    pub platform: Option<Platform>,
    /// Leave attachments behind.
    pub skip_attachments: bool,
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The digest of the top manifest written (the index's when copied whole).
    pub digest: Digest,
    /// Blobs streamed across, and blobs the destination already had.
    pub blobs_copied: usize,
    pub blobs_present: usize,
    /// Attachments copied.
    pub attachments: usize,
}

struct Copier<'a> {
    src: &'a dyn ContentRead,
    dst: &'a dyn ContentWrite,
    opts: &'a CopyOptions,
    out: Copied,
}

/// Pick the image for `platform` (the host's when `None`) out of an index.
pub fn pick_platform<'i>(
    location: &str,
    raw: &'i RawManifest,
    platform: Option<&'i Platform>,
) -> Result<&'i Descriptor> {
    let idx = raw.as_index().expect("an index");
    let want = platform.cloned().unwrap_or_else(Platform::host);
    let chosen = match platform {
        Some(p) => idx.manifests_for(p).next(),
        None => idx.best_for(&want),
    };
    chosen.ok_or_else(|| {
        Error::not_found(format!(
            "{location}: index {} has no image for platform {want}",
            raw.digest
        ))
    })
}

/// Copy the image `reference` names in `src` to `dst`, pointing `tag` at it.
pub fn copy_image(
    src: &dyn ContentRead,
    reference: Option<&str>,
    dst: &dyn ContentWrite,
    tag: Option<&str>,
    opts: &CopyOptions,
) -> Result<Copied> {
    let top = src.resolve(reference)?;
    let raw = src.get_manifest(&top)?;
    let mut c = Copier {
        src,
        dst,
        opts,
        out: Copied {
            digest: raw.digest.clone(),
            blobs_copied: 0,
            blobs_present: 0,
            attachments: 0,
        },
    };
    let raw = match &raw.parsed {
        Manifest::Index(_) if opts.platform.is_some() || !dst.keeps_indexes() => {
            let child = pick_platform(&src.location(), &raw, opts.platform.as_ref())?;
            src.get_manifest(child)?
        }
        _ => raw,
    };
    c.out.digest = raw.digest.clone();
    c.manifest(&raw, tag, 0)?;
    Ok(c.out)
}

/// Copy the attachments of `subject` (and theirs) from `src` to `dst`, which already
/// holds the subject. Returns how many were copied.
pub fn copy_attachments(
    src: &dyn ContentRead,
    dst: &dyn ContentWrite,
    subject: &Digest,
) -> Result<usize> {
    let opts = CopyOptions::default();
    let mut c = Copier {
        src,
        dst,
        opts: &opts,
        out: Copied {
            digest: subject.clone(),
            blobs_copied: 0,
            blobs_present: 0,
            attachments: 0,
        },
    };
    for r in src.referrers(subject)? {
        let a = src.get_manifest(&r)?;
        c.manifest(&a, None, 1)?;
        c.out.attachments += 1;
    }
    Ok(c.out.attachments)
}

impl Copier<'_> {
    fn blob(&mut self, desc: &Descriptor) -> Result<()> {
        if self.dst.has_blob(desc)? {
            self.out.blobs_present += 1;
            return Ok(());
        }
        let mut r = self.src.open_blob(desc)?;
        self.dst.put_blob(desc, &mut r)?;
        self.out.blobs_copied += 1;
        Ok(())
    }

    fn manifest(&mut self, raw: &RawManifest, tag: Option<&str>, depth: usize) -> Result<()> {
        if depth > 4 {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: indexes nest too deeply at {}",
                    self.src.location(),
                    raw.digest
                ),
            ));
        }
        match &raw.parsed {
            Manifest::Image(m) => {
                self.blob(&m.config)?;
                for l in &m.layers {
                    self.blob(l)?;
                }
            }
            Manifest::Index(i) => {
                for child in &i.manifests {
                    let c = self.src.get_manifest(child)?;
                    self.manifest(&c, None, depth + 1)?;
                }
            }
        }
        self.dst.put_manifest(raw, tag)?;
        if !self.opts.skip_attachments {
            for r in self.src.referrers(&raw.digest)? {
                let a = self.src.get_manifest(&r)?;
                self.manifest(&a, None, depth + 1)?;
                self.out.attachments += 1;
            }
        }
        Ok(())
    }
}

/// Serves an image's blobs to strata-archive's writer by digest.
struct BlobsOf<'a> {
    src: &'a dyn ContentRead,
    by_digest: HashMap<Digest, Descriptor>,
}

impl strata_archive::BlobSource for BlobsOf<'_> {
    fn open_blob(&self, digest: &Digest) -> strata_archive::Result<Box<dyn Read + '_>> {
        let desc = self.by_digest.get(digest).ok_or_else(|| {
            strata_archive::Error::new(
                strata_archive::ErrorKind::NotFound,
                format!("blob {digest} is not part of the image"),
            )
        })?;
        self.src
            .open_blob(desc)
            .map(|r| Box::new(r) as Box<dyn Read + '_>)
            .map_err(|e| strata_archive::Error::new(strata_archive::ErrorKind::Io, e.message))
    }
}

/// Write the image `reference` names in `src` (one platform's) as a tar that is both a
/// docker-archive and an OCI layout, named `name` (a full reference such as `app:1`, or an
/// OCI tag for `oci-archive:`). Its attachments go into the layout too.
pub fn save_to_archive<W: Write>(
    src: &dyn ContentRead,
    reference: Option<&str>,
    name: Option<&str>,
    opts: &CopyOptions,
    out: W,
) -> Result<(Digest, W)> {
    let top = src.resolve(reference)?;
    let mut raw = src.get_manifest(&top)?;
    if raw.as_index().is_some() {
        let child = pick_platform(&src.location(), &raw, opts.platform.as_ref())?.clone();
        raw = src.get_manifest(&child)?;
    }
    let mut by_digest = HashMap::new();
    let add_tree = |raw: &RawManifest, by: &mut HashMap<Digest, Descriptor>| {
        by.insert(raw.digest.clone(), raw.descriptor());
        if let Some(m) = raw.as_image() {
            for d in std::iter::once(&m.config).chain(m.layers.iter()) {
                by.insert(d.digest.clone(), d.clone());
            }
        }
    };
    add_tree(&raw, &mut by_digest);
    let mut attachments = Vec::new();
    if !opts.skip_attachments {
        for r in src.referrers(&raw.digest)? {
            let a = src.get_manifest(&r)?;
            add_tree(&a, &mut by_digest);
            attachments.push(r);
        }
    }
    let names = match name {
        Some(n) => match TagRef::parse(n) {
            Ok(t) => vec![SaveName {
                full: t.key(),
                familiar_repo: t.familiar_repository().to_owned(),
                tag: t.tag.clone(),
            }],
            Err(_) => vec![SaveName {
                full: n.to_owned(),
                familiar_repo: n.to_owned(),
                tag: n.to_owned(),
            }],
        },
        None => Vec::new(),
    };
    let image = SaveImage {
        manifest: raw.descriptor(),
        names,
        attachments,
    };
    let blobs = BlobsOf { src, by_digest };
    let out = strata_archive::save_archive(std::slice::from_ref(&image), &blobs, out)?;
    Ok((raw.digest, out))
}
