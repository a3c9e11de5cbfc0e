//! Where a build's Dockerfile and context come from: a directory, a tar on stdin
//! (`strata build - < ctx.tar`), or a Dockerfile alone on stdin (`strata build - < Dockerfile`,
//! no context). Also finds the `.dockerignore` that applies.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use strata_dockerfile::dockerignore::{load_ignore_file, IgnoreLocation};

/// The resolved inputs of a build.
pub struct Source {
    pub dockerfile: String,
    /// The name errors show (`Dockerfile`, `sub/Dockerfile.dev`, `-`).
    pub dockerfile_name: String,
    /// Stable identity of the Dockerfile across builds (for cache-miss explanations).
    pub dockerfile_id: String,
    pub context_dir: Option<PathBuf>,
    pub ignore_patterns: Vec<String>,
    /// Keeps an extracted stdin context alive for the build.
    pub _tmp: Option<tempfile::TempDir>,
}

fn is_remote(path: &str) -> bool {
    path.contains("://") || path.starts_with("git@") || path.starts_with("github.com/")
}

/// True when `bytes` look like a tar (ustar magic) or a compressed stream.
fn looks_like_archive(bytes: &[u8]) -> bool {
    let ustar = bytes.len() >= 262 && &bytes[257..262] == b"ustar";
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let zstd = bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    ustar || gzip || zstd
}

fn read_stdin(what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .with_context(|| format!("reading {what} from stdin"))?;
    Ok(buf)
}

/// Resolve `PATH` and `-f` into a [`Source`]. `scratch` is where a stdin context is extracted.
pub fn resolve(path: &str, file: Option<&str>, scratch: &Path) -> Result<Source> {
    if is_remote(path) {
        bail!("remote build contexts are not supported: {path}\nhint: clone or download it and pass the directory");
    }
    if path == "-" {
        if file == Some("-") {
            bail!("cannot read both the context and the Dockerfile from stdin (-f - with PATH -)");
        }
        // Sniff the first bytes; a tar is then streamed, never held in memory whole.
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut head = Vec::with_capacity(1024);
        (&mut input)
            .take(1024)
            .read_to_end(&mut head)
            .context("reading the build context from stdin")?;
        if looks_like_archive(&head) {
            return from_stdin_tar(std::io::Cursor::new(head).chain(input), file, scratch);
        }
        if file.is_some() {
            bail!("-f cannot be used when the Dockerfile itself comes from stdin");
        }
        input
            .read_to_end(&mut head)
            .context("reading the Dockerfile from stdin")?;
        let text = String::from_utf8(head).context("the Dockerfile on stdin is not UTF-8")?;
        return Ok(Source {
            dockerfile: text,
            dockerfile_name: "Dockerfile".into(),
            dockerfile_id: "stdin".into(),
            context_dir: None,
            ignore_patterns: Vec::new(),
            _tmp: None,
        });
    }
    let dir = PathBuf::from(path);
    let meta = std::fs::metadata(&dir)
        .with_context(|| format!("unable to prepare context: path {path:?} not found"))?;
    if !meta.is_dir() {
        bail!("unable to prepare context: {path} is not a directory");
    }
    // One absolute path for the whole build, whatever the working directory of the steps.
    let dir = std::fs::canonicalize(&dir)
        .with_context(|| format!("unable to prepare context: resolving {path:?}"))?;
    from_dir(dir, file, None)
}

fn from_stdin_tar(input: impl Read, file: Option<&str>, scratch: &Path) -> Result<Source> {
    let tmp = tempfile::Builder::new()
        .prefix(".strata-context-")
        .tempdir_in(scratch)
        .with_context(|| format!("creating a temporary directory in {}", scratch.display()))?;
    // strata-layer's hardened reader and applier: entries that would leave the directory
    // are refused by name, extension headers are capped, `.wh.*` files are plain files.
    let opts = strata_layer::ApplyOptions {
        whiteouts: strata_layer::WhiteoutMode::Literal,
        symlinks: strata_layer::SymlinkPolicy::FollowInRoot,
        ownership: strata_layer::Ownership::Ignore,
        devices: strata_layer::DevicePolicy::Refuse,
        xattrs: false,
        ..Default::default()
    };
    strata_layer::apply_layer(input, tmp.path(), &opts)
        .context("extracting the build context from stdin")?;
    let dir = tmp.path().to_path_buf();
    // In a tar context, -f names a file inside the archive.
    let inner = file.map(|f| dir.join(f.trim_start_matches('/')));
    let inner_name = inner.as_ref().map(|p| p.to_string_lossy().into_owned());
    let mut src = from_dir(dir, inner_name.as_deref(), file)?;
    src.dockerfile_id = format!("stdin:{}", file.unwrap_or("Dockerfile"));
    src._tmp = Some(tmp);
    Ok(src)
}

/// A directory context. `display` overrides the Dockerfile name errors show.
fn from_dir(dir: PathBuf, file: Option<&str>, display: Option<&str>) -> Result<Source> {
    let (dockerfile, name, df_path) = match file {
        Some("-") => (
            String::from_utf8(read_stdin("the Dockerfile")?)
                .context("the Dockerfile on stdin is not UTF-8")?,
            "Dockerfile".to_string(),
            None,
        ),
        Some(f) => {
            let p = PathBuf::from(f);
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("failed to read dockerfile: open {f}"))?;
            (text, display.unwrap_or(f).to_string(), Some(p))
        }
        None => {
            let p = dir.join("Dockerfile");
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("failed to read dockerfile: open {}", p.display()))?;
            (text, "Dockerfile".to_string(), Some(p))
        }
    };
    let df_dir = df_path
        .as_ref()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| dir.clone());
    let df_base = df_path
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "-".into());
    let ignore = load_ignore_file(&df_base, |c| {
        let p = match c.location {
            IgnoreLocation::BesideDockerfile => df_dir.join(&c.name),
            IgnoreLocation::ContextRoot => dir.join(&c.name),
        };
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    let ignore_patterns = ignore
        .map(|(_, f)| f.patterns().to_vec())
        .unwrap_or_default();
    let id = df_path
        .as_ref()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("stdin:{}", dir.display()));
    Ok(Source {
        dockerfile,
        dockerfile_name: name,
        dockerfile_id: id,
        context_dir: Some(dir),
        ignore_patterns,
        _tmp: None,
    })
}
