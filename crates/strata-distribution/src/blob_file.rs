//! Whole blobs streamed between a registry and local files with bounded memory: the build
//! cache's layers, which travel outside the store's pull and push paths.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;
use strata_oci::{Digest, DigestWriter};
use tokio_util::io::ReaderStream;

use crate::error::{Error, ErrorKind, Result};
use crate::limits::rate_guarded;
use crate::registry::{Repository, UploadStart};

impl Repository<'_> {
    /// Stream blob `digest` of `size` bytes into `out`, counting bytes against `size` as
    /// they arrive and checking the digest at the end. On error, `out` holds partial bytes
    /// the caller must discard.
    pub async fn download_blob_to(
        &self,
        digest: &Digest,
        size: u64,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        let resp = self.blob_response(digest, 0).await?;
        let host = self.host;
        let mut sink = DigestWriter::new(out, digest.algorithm());
        let mut stream = rate_guarded(
            resp.bytes_stream(),
            self.client.rate_floor(),
            format!("registry {host}: reading blob {digest}"),
        );
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if sink.written() + chunk.len() as u64 > size {
                return Err(Error::new(
                    ErrorKind::SizeMismatch,
                    format!("registry {host}: blob {digest} is larger than the {size} bytes its descriptor says"),
                ));
            }
            sink.write_all(&chunk)
                .map_err(|e| Error::io(format!("writing blob {digest}"), e))?;
        }
        let (_, got, written) = sink.finish();
        if written != size {
            return Err(Error::new(
                ErrorKind::SizeMismatch,
                format!(
                    "registry {host}: blob {digest}: expected {size} bytes, received {written}"
                ),
            ));
        }
        if &got != digest {
            return Err(Error::new(
                ErrorKind::DigestMismatch,
                format!("registry {host}: blob {digest}: content has digest {got}"),
            ));
        }
        Ok(())
    }

    /// Upload the file at `path` as blob `digest` in one streamed PATCH; the registry
    /// checks the digest when the upload is committed.
    pub async fn upload_blob_file(&self, digest: &Digest, path: &Path) -> Result<()> {
        let scope = self.push_scope();
        let location = match self.start_upload(None).await? {
            UploadStart::Mounted => return Ok(()),
            UploadStart::Location(l) => l,
        };
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let body = reqwest::Body::wrap_stream(ReaderStream::with_capacity(file, 256 * 1024));
        let location = self.patch(&location, body, None, &scope).await?;
        self.finish_upload(&location, digest, None, &scope).await
    }

    /// Upload `body` (a stream of the blob's bytes) as blob `digest` in one streamed PATCH;
    /// the registry checks the digest when the upload is committed.
    pub async fn upload_blob_stream(&self, digest: &Digest, body: reqwest::Body) -> Result<()> {
        let scope = self.push_scope();
        let location = match self.start_upload(None).await? {
            UploadStart::Mounted => return Ok(()),
            UploadStart::Location(l) => l,
        };
        let location = self.patch(&location, body, None, &scope).await?;
        self.finish_upload(&location, digest, None, &scope).await
    }
}
