//! The distribution API for one repository: manifests, blobs, uploads, tags, referrers.
//!
//! Every document read is size-limited before it is parsed, every blob read is counted
//! against its descriptor, and digests come from the bytes received, never from headers.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use strata_oci::media_type as mt;
use strata_oci::{Digest, ImageIndex, RawManifest, Reference};

use crate::client::{absolute, status_error, Client, Req};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{read_capped, SMALL_BLOB_LIMIT};

/// Manifests and indexes larger than this are refused (distribution's own limit).
pub const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// The manifest media types strata asks for and accepts.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// One repository on one registry, with the client that reaches it.
#[derive(Clone, Copy)]
pub struct Repository<'a> {
    pub client: &'a Client,
    /// `host[:port]` to contact (Docker Hub's API host for `docker.io`).
    pub host: &'a str,
    /// Repository path, `library/busybox`.
    pub name: &'a str,
}

/// What starting an upload gave: the blob is already there (mounted), or where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStart {
    Mounted,
    Location(String),
}

impl<'a> Repository<'a> {
    pub fn of(client: &'a Client, reference: &'a Reference) -> Self {
        Repository {
            client,
            host: reference.registry_host(),
            name: reference.path(),
        }
    }

    pub(crate) fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.name)
    }

    pub(crate) fn push_scope(&self) -> String {
        format!("repository:{}:pull,push", self.name)
    }

    async fn url(&self, tail: &str) -> Result<String> {
        let base = self.client.base_url(self.host).await?;
        Ok(format!("{base}/v2/{}/{tail}", self.name))
    }

    /// Fetch a manifest or index by tag or digest. Refuses documents over
    /// [`MANIFEST_LIMIT`], unknown media types, and (by digest) bytes with another digest.
    pub async fn get_manifest(&self, reference: &str) -> Result<RawManifest> {
        let what = format!("manifest {}:{reference}", self.name);
        self.client
            .within(self.host, &what, self.get_manifest_now(reference, &what))
            .await
    }

    async fn get_manifest_now(&self, reference: &str, what: &str) -> Result<RawManifest> {
        let url = self.url(&format!("manifests/{reference}")).await?;
        let req = Req::new(Method::GET, url).header("accept", ACCEPT_MANIFESTS);
        let resp = self.client.send(self.host, &self.pull_scope(), req).await?;
        if !resp.status().is_success() {
            return Err(status_error(self.host, what, resp).await);
        }
        let declared = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned());
        let bytes = read_document(resp, self.host, what).await?;
        if let Some(d) = &declared {
            let m = strata_oci::MediaType::from(d.as_str());
            let generic = d == "application/json" || d == "text/plain" || d.is_empty();
            if !generic && !m.is_manifest() && !m.is_index() {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "registry {}: {what} has unsupported media type {d}",
                        self.host
                    ),
                ));
            }
        }
        let parsed = match Digest::parse(reference) {
            Ok(want) => RawManifest::parse_verified(bytes.to_vec(), declared.as_deref(), &want)
                .map_err(|e| {
                    let kind = e.kind;
                    Error::from(e)
                        .with_kind_message(kind, format!("registry {}: {what}", self.host))
                })?,
            Err(_) => RawManifest::parse(bytes.to_vec(), declared.as_deref()).map_err(|e| {
                let kind = e.kind;
                Error::from(e).with_kind_message(kind, format!("registry {}: {what}", self.host))
            })?,
        };
        Ok(parsed)
    }

    /// Upload a manifest under `reference` (tag or digest). Returns the digest of the bytes.
    pub async fn put_manifest(&self, reference: &str, raw: &RawManifest) -> Result<Digest> {
        let url = self.url(&format!("manifests/{reference}")).await?;
        let req = Req::new(Method::PUT, url)
            .header("content-type", raw.media_type.as_str())
            .body(Bytes::from(raw.bytes.clone()));
        let resp = self.client.send(self.host, &self.push_scope(), req).await?;
        if !resp.status().is_success() {
            let what = format!("pushing manifest {}:{reference}", self.name);
            return Err(status_error(self.host, &what, resp).await);
        }
        Ok(raw.digest.clone())
    }

    /// Size of the blob if the repository has it.
    pub async fn blob_size(&self, digest: &Digest, scope: &str) -> Result<Option<u64>> {
        let url = self.url(&format!("blobs/{digest}")).await?;
        let resp = self
            .client
            .send(self.host, scope, Req::new(Method::HEAD, url))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(self.host, &format!("blob {digest}"), resp).await),
        }
    }

    /// Start a blob request, from byte `offset` when resuming. The body is not checked:
    /// callers count and hash it against the descriptor.
    pub async fn blob_response(&self, digest: &Digest, offset: u64) -> Result<reqwest::Response> {
        let url = self.url(&format!("blobs/{digest}")).await?;
        let mut req = Req::new(Method::GET, url);
        if offset > 0 {
            req = req.header("range", &format!("bytes={offset}-"));
        }
        let resp = self.client.send(self.host, &self.pull_scope(), req).await?;
        if !resp.status().is_success() {
            return Err(status_error(self.host, &format!("blob {digest}"), resp).await);
        }
        Ok(resp)
    }

    /// Small blobs (configs): fetched whole, size-limited and verified. A descriptor over
    /// [`SMALL_BLOB_LIMIT`] is refused before anything is fetched.
    pub async fn get_blob_bytes(&self, digest: &Digest, size: u64) -> Result<Bytes> {
        let what = format!("blob {digest}");
        if size > SMALL_BLOB_LIMIT {
            return Err(small_blob_too_large(self.host, &what, size));
        }
        self.client
            .within(
                self.host,
                &what,
                self.get_blob_bytes_now(digest, size, &what),
            )
            .await
    }

    async fn get_blob_bytes_now(&self, digest: &Digest, size: u64, what: &str) -> Result<Bytes> {
        let resp = self.blob_response(digest, 0).await?;
        let host = self.host;
        let bytes = read_capped(resp, size, host, what, || {
            Error::new(
                ErrorKind::SizeMismatch,
                format!("registry {host}: {what}: more than the expected {size} bytes"),
            )
        })
        .await?;
        if bytes.len() as u64 != size {
            return Err(Error::new(
                ErrorKind::SizeMismatch,
                format!(
                    "registry {}: {what}: expected {size} bytes, received {}",
                    self.host,
                    bytes.len()
                ),
            ));
        }
        let got = digest.of_same_algorithm(&bytes);
        if &got != digest {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("registry {}: {what}: content has digest {got}", self.host),
            ));
        }
        Ok(bytes)
    }

    /// Start an upload, asking to mount `mount = (digest, from repository)` first. A 202
    /// answer to a mount request is the registry declining it: upload to the location.
    pub async fn start_upload(&self, mount: Option<(&Digest, &str)>) -> Result<UploadStart> {
        let mut tail = "blobs/uploads/".to_owned();
        let mut scope = self.push_scope();
        if let Some((d, from)) = mount {
            tail.push_str(&format!("?mount={d}&from={from}"));
            scope.push_str(&format!(" repository:{from}:pull"));
        }
        let url = self.url(&tail).await?;
        let req = Req::new(Method::POST, url).header("content-length", "0");
        let resp = self.client.send(self.host, &scope, req).await?;
        match resp.status() {
            StatusCode::CREATED if mount.is_some() => Ok(UploadStart::Mounted),
            StatusCode::ACCEPTED | StatusCode::CREATED => {
                let loc = location(&resp).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "registry {}: upload to {} started without a location",
                            self.host, self.name
                        ),
                    )
                })?;
                let base = self.client.base_url(self.host).await?;
                // Remember the token for the plain push scope as well: later PATCH / PUT
                // requests of this upload use it.
                Ok(UploadStart::Location(absolute(&base, &loc)))
            }
            _ => Err(status_error(
                self.host,
                &format!("starting an upload to {}", self.name),
                resp,
            )
            .await),
        }
    }

    /// Send one chunk (or the whole blob as one streamed chunk) to an upload. Returns the
    /// next location.
    pub(crate) async fn patch(
        &self,
        location: &str,
        body: reqwest::Body,
        range: Option<(u64, u64)>,
        scope: &str,
    ) -> Result<String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        if let Some((start, len)) = range {
            let end = start + len.saturating_sub(1);
            headers.insert(
                "content-range",
                HeaderValue::from_str(&format!("{start}-{end}")).expect("ascii"),
            );
            headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
        let resp = self
            .client
            .send_stream(self.host, scope, Method::PATCH, location, headers, body)
            .await?;
        if resp.status() != StatusCode::ACCEPTED && !resp.status().is_success() {
            return Err(
                status_error(self.host, &format!("uploading to {}", self.name), resp).await,
            );
        }
        let base = self.client.base_url(self.host).await?;
        Ok(location_or(&resp, location, &base))
    }

    /// Finish an upload: the registry verifies `digest` against what it received.
    pub(crate) async fn finish_upload(
        &self,
        location: &str,
        digest: &Digest,
        body: Option<Bytes>,
        scope: &str,
    ) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let body = body.unwrap_or_default();
        let req = Req::new(Method::PUT, url)
            .header("content-type", "application/octet-stream")
            .body(body);
        let resp = self.client.send(self.host, scope, req).await?;
        if !resp.status().is_success() {
            return Err(status_error(
                self.host,
                &format!("committing blob {digest} to {}", self.name),
                resp,
            )
            .await);
        }
        Ok(())
    }

    /// Upload a small blob in one POST + PUT (configs, manifests' blobs).
    pub async fn upload_bytes(&self, digest: &Digest, data: Bytes) -> Result<()> {
        let scope = self.push_scope();
        match self.start_upload(None).await? {
            UploadStart::Mounted => Ok(()),
            UploadStart::Location(loc) => {
                self.finish_upload(&loc, digest, Some(data), &scope).await
            }
        }
    }

    /// Every tag of the repository, following `Link` pagination.
    pub async fn tags(&self) -> Result<Vec<String>> {
        let what = format!("tags of {}", self.name);
        self.client.within(self.host, &what, self.tags_now()).await
    }

    async fn tags_now(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let base = self.client.base_url(self.host).await?;
        let mut next = Some(self.url("tags/list").await?);
        while let Some(url) = next.take() {
            let resp = self
                .client
                .send(self.host, &self.pull_scope(), Req::new(Method::GET, url))
                .await?;
            if !resp.status().is_success() {
                return Err(status_error(self.host, &format!("tags of {}", self.name), resp).await);
            }
            next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| {
                    absolute(
                        &base,
                        l.trim().trim_start_matches('<').trim_end_matches('>'),
                    )
                });
            let what = format!("tags of {}", self.name);
            let body = read_document(resp, self.host, &what).await?;
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("registry {}: {what}: invalid json: {e}", self.host),
                )
            })?;
            if let Some(tags) = v.get("tags").and_then(|t| t.as_array()) {
                out.extend(tags.iter().filter_map(|t| t.as_str().map(str::to_owned)));
            }
        }
        Ok(out)
    }

    /// Manifests that refer to `subject`: the referrers API, else the tag schema
    /// (`sha256-<hex>` tag holding an index) as OCI distribution 1.1 specifies.
    pub async fn referrers(&self, subject: &Digest) -> Result<ImageIndex> {
        let what = format!("referrers of {subject}");
        self.client
            .within(self.host, &what, self.referrers_now(subject))
            .await
    }

    async fn referrers_now(&self, subject: &Digest) -> Result<ImageIndex> {
        if let Some(index) = self.referrers_api(subject).await? {
            return Ok(index);
        }
        let tag = referrers_tag(subject);
        match self.get_manifest(&tag).await {
            Ok(raw) => match raw.parsed {
                strata_oci::Manifest::Index(i) => Ok(i),
                strata_oci::Manifest::Image(_) => Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "registry {}: referrers tag {tag} is not an index",
                        self.host
                    ),
                )),
            },
            Err(e) if e.kind == ErrorKind::NotFound => Ok(ImageIndex::oci(Vec::new())),
            Err(e) => Err(e),
        }
    }
}

impl Repository<'_> {
    /// The referrers API's answer for `subject`; `None` when the registry does not offer
    /// the API (404), so clients use the tag schema ([`referrers_tag`]).
    pub async fn referrers_api(&self, subject: &Digest) -> Result<Option<ImageIndex>> {
        let url = self.url(&format!("referrers/{subject}")).await?;
        let req = Req::new(Method::GET, url).header("accept", mt::OCI_INDEX);
        let resp = self.client.send(self.host, &self.pull_scope(), req).await?;
        let what = format!("referrers of {subject}");
        if resp.status().is_success() {
            let body = read_document(resp, self.host, &what).await?;
            return serde_json::from_slice(&body).map(Some).map_err(|e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("registry {}: {what}: invalid index: {e}", self.host),
                )
            });
        }
        if resp.status() != StatusCode::NOT_FOUND {
            return Err(status_error(self.host, &what, resp).await);
        }
        Ok(None)
    }
}

/// The tag that holds the referrers index of `subject` on registries without the
/// referrers API: `<alg>-<hex>` (OCI distribution 1.1).
pub fn referrers_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm().as_str(), subject.hex())
}

fn location(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn location_or(resp: &reqwest::Response, current: &str, base: &str) -> String {
    location(resp)
        .map(|l| absolute(base, &l))
        .unwrap_or_else(|| current.to_owned())
}

fn too_large(host: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("registry {host}: {what} is larger than the 4 MiB manifest limit"),
    )
}

/// Read a manifest, index, tag list or referrers index: at most [`MANIFEST_LIMIT`] bytes.
async fn read_document(resp: reqwest::Response, host: &str, what: &str) -> Result<Bytes> {
    read_capped(resp, MANIFEST_LIMIT, host, what, || too_large(host, what)).await
}

fn small_blob_too_large(host: &str, what: &str, size: u64) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "registry {host}: {what} is {size} bytes, more than the {} MiB strata reads into memory for a config; nothing was fetched",
            SMALL_BLOB_LIMIT >> 20
        ),
    )
}

impl Error {
    pub(crate) fn with_kind_message(self, kind: strata_oci::ErrorKind, prefix: String) -> Self {
        let k = match kind {
            strata_oci::ErrorKind::DigestMismatch => ErrorKind::DigestMismatch,
            strata_oci::ErrorKind::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Protocol,
        };
        Error::new(k, format!("{prefix}: {}", self.message))
    }
}
