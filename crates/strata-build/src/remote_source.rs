//! ADD's remote sources: files fetched over HTTP(S), checked against `--checksum`.
//!
//! The download happens while the step's cache key is computed (the key holds the content
//! digest, as BuildKit's does), into a temporary directory that lives for the build step.

use std::io::Write;
use std::path::{Path, PathBuf};

use strata_oci::{Digest, Digester};

use crate::error::{BuildError, BuildErrorKind, Result};

/// A fetched remote file.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: String,
    pub path: PathBuf,
    pub digest: Digest,
    /// File name for `dest/` destinations: the last path segment of the URL.
    pub name: String,
    /// `Last-Modified`, as seconds since the epoch, when the server sent one.
    pub mtime: Option<i64>,
}

/// An HTTP(S) file source (a Git repository URL is not one: see [`is_git`]).
pub fn is_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && !is_git(s)
}

/// A Git repository source as BuildKit recognises one: `git://`, `ssh://`, `git@host:`,
/// `github.com/…`, or an HTTP(S) URL whose path ends in `.git` (optionally `#ref[:dir]`).
pub fn is_git(s: &str) -> bool {
    let path = s.split('#').next().unwrap_or(s);
    ["git://", "ssh://", "git@", "github.com/"]
        .iter()
        .any(|p| s.starts_with(p))
        || ((s.starts_with("http://") || s.starts_with("https://"))
            && path.trim_end_matches('/').ends_with(".git"))
}

/// Download `url` into `dir`, verifying `checksum` (`sha256:<hex>`) when given.
pub fn fetch(url: &str, dir: &Path, index: usize, checksum: Option<&str>) -> Result<Fetched> {
    let expected = checksum
        .map(|c| {
            Digest::parse(c).map_err(|e| {
                BuildError::new(
                    BuildErrorKind::Dockerfile,
                    format!("invalid --checksum {c:?}: {e}"),
                )
            })
        })
        .transpose()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BuildError::internal)?;
    let path = dir.join(format!("download-{index}"));
    let (digest, mtime) = rt.block_on(async {
        let fail = |e: &dyn std::fmt::Display| BuildError::not_found(format!("ADD {url}: {e}"));
        let resp = reqwest::get(url).await.map_err(|e| fail(&e))?;
        if !resp.status().is_success() {
            return Err(fail(&format!("server answered {}", resp.status())));
        }
        let mtime = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.timestamp());
        let mut file = std::fs::File::create(&path)?;
        let mut hasher = match &expected {
            Some(d) => Digester::new(d.algorithm()),
            None => Digester::sha256(),
        };
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(&e))? {
            hasher.update(&chunk);
            file.write_all(&chunk)?;
        }
        Ok::<_, BuildError>((hasher.finish(), mtime))
    })?;
    if let Some(want) = &expected {
        if &digest != want {
            let _ = std::fs::remove_file(&path);
            return Err(BuildError::new(
                BuildErrorKind::Dockerfile,
                format!("ADD {url}: digest mismatch: expected {want}, got {digest}"),
            ));
        }
    }
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or("index.html")
        .to_owned();
    Ok(Fetched {
        url: url.to_owned(),
        path,
        digest,
        name,
        mtime,
    })
}
