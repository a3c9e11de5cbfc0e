//! A registry repository as content, over strata-distribution's client.
//!
//! The interface is synchronous: each handle owns a small tokio runtime and blocks on it.
//! Blob downloads are bridged into a `Read` through a bounded channel (memory stays at a
//! few chunks), and uploads the other way: the caller's thread feeds chunks while the
//! runtime streams them into one PATCH. Manifests fetched while resolving are kept, so
//! opening an image asks for each document once.
//!
//! Referrers: listed with the referrers API, else the `<alg>-<hex>` tag schema. Writing a
//! manifest with a `subject` to a registry without the API updates that tag's index, as
//! OCI distribution 1.1 asks of clients.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Mutex;

use bytes::Bytes;
use futures::StreamExt;
use strata_distribution::registry::referrers_tag;
use strata_distribution::{Client, ClientOptions, Repository};
use strata_oci::{Descriptor, Digest, ImageIndex, RawManifest, Reference};
use strata_store::VerifyingReader;

use crate::content::{referrer_descriptor, subject_of, ContentRead, ContentWrite};
use crate::error::{Error, ErrorKind, Result};

/// Chunks in flight between the network and a reader (or a writer and the network).
const CHANNEL_CHUNKS: usize = 8;
const UPLOAD_CHUNK: usize = 256 * 1024;

/// One repository on one registry.
pub struct RegistryContent {
    client: Client,
    reference: Reference,
    rt: tokio::runtime::Runtime,
    manifests: Mutex<HashMap<Digest, RawManifest>>,
}

impl RegistryContent {
    /// Content of the repository `reference` names (its tag or digest is the default
    /// reference for [`ContentRead::resolve`]).
    pub fn new(reference: Reference, opts: &ClientOptions) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the registry client runtime", e))?;
        let client = Client::new(opts.clone())?;
        Ok(RegistryContent {
            client,
            reference,
            rt,
            manifests: Mutex::new(HashMap::new()),
        })
    }

    fn repo(&self) -> Repository<'_> {
        Repository::of(&self.client, &self.reference)
    }

    fn err(&self, e: impl Into<Error>) -> Error {
        e.into().context(self.location())
    }

    fn fetch_manifest(&self, reference: &str) -> Result<RawManifest> {
        let raw = self
            .rt
            .block_on(self.repo().get_manifest(reference))
            .map_err(|e| self.err(e))?;
        self.manifests
            .lock()
            .expect("manifest cache")
            .insert(raw.digest.clone(), raw.clone());
        Ok(raw)
    }

    fn cached(&self, digest: &Digest) -> Option<RawManifest> {
        self.manifests
            .lock()
            .expect("manifest cache")
            .get(digest)
            .cloned()
    }
}

impl ContentRead for RegistryContent {
    fn location(&self) -> String {
        format!("docker://{}", self.reference.repository())
    }

    fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let r = match reference {
            Some(r) => r.to_owned(),
            None => self.reference.manifest_ref(),
        };
        Ok(self.fetch_manifest(&r)?.descriptor())
    }

    fn get_manifest(&self, desc: &Descriptor) -> Result<RawManifest> {
        let raw = match self.cached(&desc.digest) {
            Some(raw) => raw,
            None => self.fetch_manifest(&desc.digest.to_string())?,
        };
        if raw.bytes.len() as u64 != desc.size {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!(
                    "{}: manifest {} has {} bytes, its descriptor says {}",
                    self.location(),
                    desc.digest,
                    raw.bytes.len(),
                    desc.size
                ),
            ));
        }
        Ok(raw)
    }

    fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        // Manifests live behind the manifests endpoint, not every registry serves them as blobs.
        if desc.media_type.is_manifest() || desc.media_type.is_index() {
            let raw = self.get_manifest(desc)?;
            return Ok(Box::new(io::Cursor::new(raw.bytes)));
        }
        let resp = self
            .rt
            .block_on(self.repo().blob_response(&desc.digest, 0))
            .map_err(|e| self.err(e))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
        self.rt.spawn(async move {
            let mut body = resp.bytes_stream();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(io::Error::other);
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        let stream = ChannelReader {
            rx,
            current: Bytes::new(),
        };
        Ok(Box::new(VerifyingReader::new(
            stream,
            desc.digest.clone(),
            desc.size,
        )))
    }

    fn has_blob(&self, desc: &Descriptor) -> Result<bool> {
        if desc.media_type.is_manifest() || desc.media_type.is_index() {
            return match self.get_manifest(desc) {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e),
            };
        }
        let scope = format!("repository:{}:pull", self.reference.path());
        let size = self
            .rt
            .block_on(self.repo().blob_size(&desc.digest, &scope))
            .map_err(|e| self.err(e))?;
        Ok(size == Some(desc.size))
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let index = self
            .rt
            .block_on(self.repo().referrers(subject))
            .map_err(|e| self.err(e))?;
        Ok(index.manifests)
    }
}

impl ContentWrite for RegistryContent {
    fn put_blob(&self, desc: &Descriptor, data: &mut (dyn Read + Send)) -> Result<()> {
        let scope = format!("repository:{}:pull,push", self.reference.path());
        let present = self
            .rt
            .block_on(self.repo().blob_size(&desc.digest, &scope))
            .map_err(|e| self.err(e))?;
        if present == Some(desc.size) {
            return Ok(());
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let digest = desc.digest.clone();
        let client = &self.client;
        let reference = &self.reference;
        // The upload runs on the runtime while a second thread reads `data` into the channel.
        let upload = async move {
            Repository::of(client, reference)
                .upload_blob_stream(&digest, body)
                .await
        };
        let feed = move || -> io::Result<u64> {
            let mut sent = 0u64;
            loop {
                let mut buf = vec![0u8; UPLOAD_CHUNK];
                let n = match data.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.blocking_send(Err(io::Error::other(msg)));
                        return Err(e);
                    }
                };
                if n == 0 {
                    // Returning drops the sender: the body ends.
                    return Ok(sent);
                }
                buf.truncate(n);
                sent += n as u64;
                if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                    // The upload ended early; its error says why.
                    return Ok(sent);
                }
            }
        };
        let (fed, uploaded) = std::thread::scope(|s| {
            let feeder = s.spawn(feed);
            let uploaded = self.rt.block_on(upload);
            (feeder.join().expect("feeder thread"), uploaded)
        });
        fed.map_err(|e| {
            Error::io(
                format!("{}: reading blob {}", self.location(), desc.digest),
                e,
            )
        })?;
        uploaded.map_err(|e| self.err(e))
    }

    fn put_manifest(&self, raw: &RawManifest, tag: Option<&str>) -> Result<()> {
        let target = tag
            .map(str::to_owned)
            .unwrap_or_else(|| raw.digest.to_string());
        self.rt
            .block_on(self.repo().put_manifest(&target, raw))
            .map_err(|e| self.err(e))?;
        self.manifests
            .lock()
            .expect("manifest cache")
            .insert(raw.digest.clone(), raw.clone());
        let Some(subject) = subject_of(raw) else {
            return Ok(());
        };
        let api = self
            .rt
            .block_on(self.repo().referrers_api(&subject.digest))
            .map_err(|e| self.err(e))?;
        if api.is_some() {
            return Ok(());
        }
        // No referrers API: keep the `<alg>-<hex>` tag's index up to date.
        let tag = referrers_tag(&subject.digest);
        let mut index = match self.rt.block_on(self.repo().get_manifest(&tag)) {
            Ok(existing) => match existing.parsed {
                strata_oci::Manifest::Index(i) => i,
                strata_oci::Manifest::Image(_) => {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!(
                            "{}: referrers tag {tag} holds an image, not an index",
                            self.location()
                        ),
                    ))
                }
            },
            Err(e) if e.kind == strata_distribution::ErrorKind::NotFound => {
                ImageIndex::oci(Vec::new())
            }
            Err(e) => return Err(self.err(e)),
        };
        if index.manifests.iter().any(|d| d.digest == raw.digest) {
            return Ok(());
        }
        index.manifests.push(referrer_descriptor(raw));
        let bytes = RawManifest::from_index(&index)?;
        self.rt
            .block_on(self.repo().put_manifest(&tag, &bytes))
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// The receiving end of a download, as a `Read`.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
