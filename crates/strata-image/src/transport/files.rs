//! Files of an image layout or archive, wherever they sit: a directory, or a tar read in
//! place.
//!
//! A tar is indexed once (member path → offset and size, links resolved) with strata's
//! hardened tar reader; members are then read by seeking into the file, so opening an
//! archive copies nothing. A compressed archive (`docker save | gzip`) cannot be seeked:
//! it is decompressed once into a scratch file under the store root, removed on drop.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use strata_layer::{TarKind, TarReader};

use crate::error::{Error, ErrorKind, Result};

/// Bound on symlink hops when resolving a member path.
const MAX_LINK_HOPS: usize = 16;

/// A file's size and a reader over its bytes.
pub type Opened<'a> = (u64, Box<dyn Read + Send + 'a>);

/// Read access to the files of a layout or archive by relative path (`index.json`,
/// `blobs/sha256/<hex>`).
pub trait FileAccess: Send + Sync {
    /// The file's size and a reader over its bytes; `Ok(None)` when absent.
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>>;
    /// The file's size, `None` when absent.
    fn size(&self, path: &str) -> Result<Option<u64>>;
}

/// Normalise a relative path: no `.`, empty or escaping components (strata-archive's
/// rule, shared).
pub fn normalize(path: &str) -> Result<String> {
    strata_archive::files::normalize(path).map_err(Error::from)
}

/// A layout directory. Paths may not lead out of it, and only regular files are read (a
/// FIFO or device planted in a layout would hang or mislead a reader).
pub struct DirFiles {
    root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> Result<Self> {
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("opening {}", root.display()), e))?;
        if !root.is_dir() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(DirFiles { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn locate(&self, path: &str) -> Result<Option<PathBuf>> {
        let joined = self.root.join(normalize(path)?);
        match joined.canonicalize() {
            Ok(real) if real.starts_with(&self.root) => {
                let meta = std::fs::metadata(&real)
                    .map_err(|e| Error::io(format!("reading {}", real.display()), e))?;
                if !meta.is_file() {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("{} is not a regular file", real.display()),
                    ));
                }
                Ok(Some(real))
            }
            Ok(_) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{} leads outside {}", joined.display(), self.root.display()),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("resolving {}", joined.display()), e)),
        }
    }
}

impl FileAccess for DirFiles {
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>> {
        let Some(p) = self.locate(path)? else {
            return Ok(None);
        };
        // A FIFO or device named as a blob is refused, never read (it could block forever).
        let f = strata_layer::open_regular(&p)
            .map_err(|e| Error::io(format!("opening {}", p.display()), e))?;
        let len = f
            .metadata()
            .map_err(|e| Error::io(format!("reading {}", p.display()), e))?
            .len();
        Ok(Some((len, Box::new(f))))
    }

    fn size(&self, path: &str) -> Result<Option<u64>> {
        match self.locate(path)? {
            Some(p) => std::fs::metadata(&p)
                .map(|m| Some(m.len()))
                .map_err(|e| Error::io(format!("reading {}", p.display()), e)),
            None => Ok(None),
        }
    }
}

/// A tar archive read in place.
pub struct TarFiles {
    path: PathBuf,
    /// Member path → (data offset, size).
    members: HashMap<String, (u64, u64)>,
    links: HashMap<String, String>,
    /// The decompressed copy of a compressed archive, removed on drop.
    _scratch: Option<tempfile::NamedTempFile>,
}

/// Counts the bytes read through it, so the index knows where each member's data starts.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl TarFiles {
    /// Index the tar at `path`. `scratch_dir` receives the decompressed copy of a
    /// compressed archive.
    pub fn open(path: &Path, scratch_dir: &Path) -> Result<Self> {
        let what = path.display().to_string();
        let mut f = File::open(path).map_err(|e| Error::io(format!("opening {what}"), e))?;
        if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("{what} is a directory, not an archive"),
            ));
        }
        let mut head = [0u8; 4];
        let n = f
            .read(&mut head)
            .map_err(|e| Error::io(format!("reading {what}"), e))?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(format!("reading {what}"), e))?;
        let mut scratch = None;
        let tar_path = match strata_layer::detect(&head[..n]) {
            strata_layer::Compression::None => path.to_path_buf(),
            _ => {
                std::fs::create_dir_all(scratch_dir)
                    .map_err(|e| Error::io(format!("creating {}", scratch_dir.display()), e))?;
                let mut tmp = tempfile::Builder::new()
                    .prefix("archive-")
                    .tempfile_in(scratch_dir)
                    .map_err(|e| {
                        Error::io(format!("creating a file in {}", scratch_dir.display()), e)
                    })?;
                let mut plain = strata_layer::decompress(io::BufReader::new(f), None)
                    .map_err(|e| Error::io(format!("decompressing {what}"), e))?;
                io::copy(&mut plain, tmp.as_file_mut())
                    .map_err(|e| Error::io(format!("decompressing {what}"), e))?;
                let p = tmp.path().to_path_buf();
                scratch = Some(tmp);
                p
            }
        };
        let (members, links) = index_tar(&tar_path).map_err(|e| e.context(&what))?;
        Ok(TarFiles {
            path: tar_path,
            members,
            links,
            _scratch: scratch,
        })
    }

    fn resolve(&self, path: &str) -> Result<Option<(u64, u64)>> {
        let mut current = normalize(path)?;
        for _ in 0..MAX_LINK_HOPS {
            if let Some(m) = self.members.get(&current) {
                return Ok(Some(*m));
            }
            match self.links.get(&current) {
                Some(next) => current = next.clone(),
                None => return Ok(None),
            }
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{}: archive path {path:?}: link cycle", self.path.display()),
        ))
    }
}

type Index = (HashMap<String, (u64, u64)>, HashMap<String, String>);

fn index_tar(path: &Path) -> Result<Index> {
    let f = strata_layer::open_regular(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let count = Arc::new(AtomicU64::new(0));
    let mut reader = TarReader::new(Counting {
        inner: io::BufReader::with_capacity(64 * 1024, f),
        count: count.clone(),
    });
    let mut members = HashMap::new();
    let mut links = HashMap::new();
    let bad = |e: strata_layer::Error| {
        Error::new(ErrorKind::InvalidInput, format!("not a valid tar: {e}"))
    };
    while let Some(h) = reader.next_header().map_err(bad)? {
        let raw = String::from_utf8_lossy(&h.path).into_owned();
        let name = normalize(&raw)?;
        if name.is_empty() {
            continue;
        }
        match h.kind {
            TarKind::File => {
                // The reader has consumed exactly the header blocks: data starts here.
                let offset = count.load(Ordering::Relaxed);
                links.remove(&name);
                members.insert(name, (offset, h.size));
            }
            TarKind::Symlink | TarKind::HardLink => {
                let target = String::from_utf8_lossy(&h.link).into_owned();
                if target.starts_with('/') {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        format!("archive link {raw:?} points to absolute path {target:?}"),
                    ));
                }
                let resolved = if h.kind == TarKind::HardLink {
                    normalize(&target)?
                } else {
                    let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    normalize(&format!("{parent}/{target}"))?
                };
                members.remove(&name);
                links.insert(name, resolved);
            }
            TarKind::Dir => {}
            other => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("archive member {raw:?} has unsupported type {other:?}"),
                ))
            }
        }
    }
    Ok((members, links))
}

impl FileAccess for TarFiles {
    fn open(&self, path: &str) -> Result<Option<Opened<'_>>> {
        let Some((offset, size)) = self.resolve(path)? else {
            return Ok(None);
        };
        let what = || format!("reading {path} in {}", self.path.display());
        let mut f = File::open(&self.path).map_err(|e| Error::io(what(), e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(what(), e))?;
        Ok(Some((
            size,
            Box::new(io::BufReader::with_capacity(256 * 1024, f).take(size)),
        )))
    }

    fn size(&self, path: &str) -> Result<Option<u64>> {
        Ok(self.resolve(path)?.map(|(_, size)| size))
    }
}
