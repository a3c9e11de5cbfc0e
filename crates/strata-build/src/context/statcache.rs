//! The stat cache file, format `statcache-v2`: one context directory's file digests keyed by
//! relative path and stat data, in path order so it can be streamed and merge-joined against
//! the sorted scan instead of being loaded into a map.
//!
//! ```text
//! magic    "strata-statcache-v2\n"
//! record*  u32 path length (> 0), path bytes,
//!          u64 size, i64 mtime s, u32 mtime ns, i64 ctime s, u32 ctime ns, u64 ino, u64 dev,
//!          32 bytes sha256 of the content
//! end      u32 0, u64 record count, 32 bytes sha256 of every byte before them
//! ```
//!
//! Integers are little-endian; paths are strictly increasing by bytes. The file is only a
//! hint: a missing, older-format, truncated or otherwise corrupt file is ignored as a whole
//! (nothing read from it is used unless the trailing checksum matches).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use strata_oci::{Algorithm, DigestWriter, Digester};

use super::{raw_of, EntryKind, Sha256, StatKey, Table};

const MAGIC: &[u8] = b"strata-statcache-v2\n";
/// No real relative path comes near this; a larger length means a corrupt file.
const MAX_PATH: usize = 1 << 16;

/// Remembered content digests of one context directory's files.
///
/// Loading reads nothing: the file is streamed once, when the first [`super::Context`] asks
/// for digests, straight into that context's entries, which the cache then shares. Saving
/// writes those entries' digests, plus the old file's records for paths outside the scan
/// (excluded by `.dockerignore` this time) that still match the disk.
#[derive(Debug, Default)]
pub struct StatCache {
    /// The file records are read from, if any.
    file: Option<PathBuf>,
    /// The context joined with this cache; its entries carry the digests to save.
    joined: Option<Arc<Table>>,
    dirty: bool,
}

impl StatCache {
    /// A cache backed by the file for `path` (its `.v2` sibling); nothing is read yet.
    pub fn load(path: &Path) -> Self {
        StatCache {
            file: Some(file_for(path)),
            ..Self::default()
        }
    }

    /// Write the cache atomically if a digest was computed since it was loaded.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let (true, Some(table)) = (self.dirty, &self.joined) else {
            return Ok(());
        };
        let target = file_for(path);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let written = write_merged(&tmp, table, open_verified(&target));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &target)?;
        if target != path {
            // The JSON cache older versions kept for this context is stale from now on.
            let _ = fs::remove_file(path);
        }
        Ok(())
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub(super) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Fill `table`'s file digests from the cache file, where the stat data still matches,
    /// and keep `table` for [`StatCache::save`]. Done once per context.
    pub(super) fn join(&mut self, table: &mut Arc<Table>) {
        if self.joined.as_ref().is_some_and(|t| Arc::ptr_eq(t, table)) {
            return;
        }
        // Unshared unless another cache joined this context: then it gets its own copy.
        let entries = &mut Arc::make_mut(table).entries;
        if let Some(file) = &self.file {
            if apply(file, entries).is_err() {
                // Records seen before the checksum failed are not to be trusted.
                for e in entries.iter_mut() {
                    e.digest = OnceLock::new();
                }
            }
        }
        self.joined = Some(table.clone());
    }
}

/// Where the cache for the path the solver names lives: the version goes in the extension,
/// so an older format's file is never even opened.
fn file_for(path: &Path) -> PathBuf {
    path.with_extension("v2")
}

/// Merge-join the file's records into `entries` (both sorted by path). A missing file is
/// not an error; a corrupt one is, after part of it may have been applied.
fn apply(file: &Path, entries: &mut [super::ContextEntry]) -> io::Result<()> {
    let f = match File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut records = Records::new(BufReader::new(f))?;
    let mut have = records.advance()?;
    for e in entries.iter_mut() {
        while have && records.rec.path.as_slice() < e.path.as_bytes() {
            have = records.advance()?;
        }
        if have && records.rec.path == e.path.as_bytes() {
            if e.kind == EntryKind::File && records.rec.stat == e.stat {
                e.digest = OnceLock::from(records.rec.digest);
            }
            have = records.advance()?;
        }
    }
    // Read to the end: the checksum vouches for what was applied.
    while have {
        have = records.advance()?;
    }
    Ok(())
}

/// The records of `file` if it is a complete, valid cache file: checked in a first pass,
/// then read again from the same open file.
fn open_verified(file: &Path) -> Option<Records<BufReader<File>>> {
    let mut f = File::open(file).ok()?;
    let mut check = Records::new(BufReader::new(&mut f)).ok()?;
    while check.advance().ok()? {}
    f.rewind().ok()?;
    Records::new(BufReader::new(f)).ok()
}

/// Write `table`'s known file digests, plus `old`'s records for paths outside the scan that
/// still match the disk, as a new cache file at `tmp`.
fn write_merged(
    tmp: &Path,
    table: &Table,
    mut old: Option<Records<BufReader<File>>>,
) -> io::Result<()> {
    let mut out = Writer::new(BufWriter::new(File::create(tmp)?))?;
    let mut have = match &mut old {
        Some(r) => r.advance()?,
        None => false,
    };
    for e in &table.entries {
        while let (true, Some(r)) = (have, &mut old) {
            if r.rec.path.as_slice() >= e.path.as_bytes() {
                // Same path: the scan's view supersedes the old record.
                if r.rec.path == e.path.as_bytes() {
                    have = r.advance()?;
                }
                break;
            }
            keep_if_current(&table.root, &r.rec, &mut out)?;
            have = r.advance()?;
        }
        if let (EntryKind::File, Some(digest)) = (&e.kind, e.digest.get()) {
            out.push(e.path.as_bytes(), &e.stat, digest)?;
        }
    }
    while let (true, Some(r)) = (have, &mut old) {
        keep_if_current(&table.root, &r.rec, &mut out)?;
        have = r.advance()?;
    }
    out.finish()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

/// Keep a record the scan did not see (excluded this time, or deleted) if the file is still
/// there unchanged, so deleted files do not accumulate.
fn keep_if_current(root: &Path, rec: &Record, out: &mut Writer<impl Write>) -> io::Result<()> {
    let current = fs::symlink_metadata(root.join(OsStr::from_bytes(&rec.path)))
        .is_ok_and(|m| m.is_file() && StatKey::of(&m) == rec.stat);
    if current {
        out.push(&rec.path, &rec.stat, &rec.digest)?;
    }
    Ok(())
}

/// One record, decoded.
#[derive(Debug, Default)]
struct Record {
    path: Vec<u8>,
    stat: StatKey,
    digest: Sha256,
}

/// Reads records one at a time into one reused [`Record`], checking order, and the count
/// and checksum at the end.
struct Records<R: Read> {
    input: HashingReader<R>,
    rec: Record,
    prev: Vec<u8>,
    count: u64,
}

fn corrupt(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("stat cache: {why}"))
}

impl<R: Read> Records<R> {
    fn new(input: R) -> io::Result<Self> {
        let mut input = HashingReader {
            inner: input,
            hash: Digester::sha256(),
        };
        let mut magic = [0u8; MAGIC.len()];
        input.read_exact(&mut magic)?;
        if magic != MAGIC {
            return Err(corrupt("not a statcache-v2 file"));
        }
        Ok(Records {
            input,
            rec: Record::default(),
            prev: Vec::new(),
            count: 0,
        })
    }

    /// Decode the next record into `self.rec`; `Ok(false)` at a verified end.
    fn advance(&mut self) -> io::Result<bool> {
        let len = self.u32()? as usize;
        if len == 0 {
            self.end()?;
            return Ok(false);
        }
        if len > MAX_PATH {
            return Err(corrupt("path too long"));
        }
        std::mem::swap(&mut self.prev, &mut self.rec.path);
        self.rec.path.resize(len, 0);
        self.input.read_exact(&mut self.rec.path)?;
        if self.count > 0 && self.rec.path <= self.prev {
            return Err(corrupt("records out of order"));
        }
        self.rec.stat = StatKey {
            size: self.u64()?,
            mtime_s: self.u64()? as i64,
            mtime_ns: self.u32()?,
            ctime_s: self.u64()? as i64,
            ctime_ns: self.u32()?,
            ino: self.u64()?,
            dev: self.u64()?,
        };
        self.input.read_exact(&mut self.rec.digest)?;
        self.count += 1;
        Ok(true)
    }

    fn end(&mut self) -> io::Result<()> {
        if self.u64()? != self.count {
            return Err(corrupt("record count mismatch"));
        }
        let expected =
            raw_of(&std::mem::replace(&mut self.input.hash, Digester::sha256()).finish());
        let mut sum = [0u8; 32];
        self.input.inner.read_exact(&mut sum)?;
        let mut extra = [0u8; 1];
        if sum != expected || self.input.inner.read(&mut extra)? != 0 {
            return Err(corrupt("checksum mismatch"));
        }
        Ok(())
    }

    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.input.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.input.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hash: Digester,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Writes a cache file; records must be pushed in path order.
struct Writer<W: Write> {
    out: DigestWriter<W>,
    count: u64,
}

impl<W: Write> Writer<W> {
    fn new(out: W) -> io::Result<Self> {
        let mut out = DigestWriter::new(out, Algorithm::Sha256);
        out.write_all(MAGIC)?;
        Ok(Writer { out, count: 0 })
    }

    fn push(&mut self, path: &[u8], stat: &StatKey, digest: &Sha256) -> io::Result<()> {
        let len = u32::try_from(path.len()).map_err(io::Error::other)?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(path)?;
        let mut fixed = [0u8; 48 + 32];
        let mut at = 0;
        let mut put = |b: &[u8]| {
            fixed[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        };
        put(&stat.size.to_le_bytes());
        put(&stat.mtime_s.to_le_bytes());
        put(&stat.mtime_ns.to_le_bytes());
        put(&stat.ctime_s.to_le_bytes());
        put(&stat.ctime_ns.to_le_bytes());
        put(&stat.ino.to_le_bytes());
        put(&stat.dev.to_le_bytes());
        put(digest);
        self.out.write_all(&fixed)?;
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&0u32.to_le_bytes())?;
        self.out.write_all(&self.count.to_le_bytes())?;
        let (mut out, sum, _) = self.out.finish();
        out.write_all(&raw_of(&sum))?;
        out.flush()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;

    fn tree(dir: &Path) {
        fs::create_dir_all(dir.join("src/sub")).unwrap();
        fs::write(dir.join("a.txt"), "alpha").unwrap();
        fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        fs::write(dir.join("src/sub/x"), "x").unwrap();
    }

    /// One build: hash every included file through the cache at `path`, save it. Returns how
    /// many files were hashed and the selection digest.
    fn build(root: &Path, path: &Path, skip: Option<&str>) -> (usize, String) {
        let mut cache = StatCache::load(path);
        let include = |p: &str, _| Some(p) != skip;
        let mut ctx = Context::scan(root, &include).unwrap();
        let paths: Vec<String> = ctx.entries().map(|e| e.path.clone()).collect();
        let n = ctx.hash_files(&paths, &mut cache).unwrap();
        cache.save(path).unwrap();
        (n, ctx.selection_digest("", ctx.entries()).to_string())
    }

    fn record_paths(file: &Path) -> Option<Vec<String>> {
        let mut r = open_verified(file)?;
        let mut out = Vec::new();
        while r.advance().unwrap() {
            out.push(String::from_utf8(r.rec.path.clone()).unwrap());
        }
        Some(out)
    }

    #[test]
    fn corrupt_or_truncated_files_are_ignored() {
        let (ctx, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(ctx.path());
        let path = state.path().join("c.json");
        let (n, good) = build(ctx.path(), &path, None);
        assert_eq!(n, 3);
        let file = state.path().join("c.v2");
        let bytes = fs::read(&file).unwrap();
        assert_eq!(
            record_paths(&file).unwrap(),
            ["a.txt", "src/main.rs", "src/sub/x"]
        );

        // A flipped bit in the first record's digest: the checksum catches it, every file
        // is hashed again and the result is still right.
        let mut bad = bytes.clone();
        let digest_at = MAGIC.len() + 4 + "a.txt".len() + 48;
        bad[digest_at] ^= 1;
        fs::write(&file, &bad).unwrap();
        assert_eq!(build(ctx.path(), &path, None), (3, good.clone()));

        fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(build(ctx.path(), &path, None), (3, good.clone()));
        assert_eq!(build(ctx.path(), &path, None), (0, good));
    }

    #[test]
    fn unsorted_records_are_rejected() {
        let state = tempfile::tempdir().unwrap();
        let file = state.path().join("u.v2");
        let mut w = Writer::new(Vec::new()).unwrap();
        w.push(b"b", &StatKey::default(), &[1; 32]).unwrap();
        w.push(b"a", &StatKey::default(), &[2; 32]).unwrap();
        fs::write(&file, w.finish().unwrap()).unwrap();
        assert!(record_paths(&file).is_none());
    }

    #[test]
    fn legacy_json_is_ignored_and_replaced() {
        let (ctx, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(ctx.path());
        let path = state.path().join("l.json");
        fs::write(&path, r#"{"entries":{}}"#).unwrap();
        assert_eq!(build(ctx.path(), &path, None).0, 3);
        assert!(!path.exists());
        assert_eq!(build(ctx.path(), &path, None).0, 0);
    }

    #[test]
    fn records_outside_the_scan_are_kept_while_current() {
        let (ctx, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        tree(ctx.path());
        let path = state.path().join("k.json");
        let file = state.path().join("k.v2");
        assert_eq!(build(ctx.path(), &path, None).0, 3);

        // `src` excluded this time; a changed file makes the cache worth saving.
        fs::write(ctx.path().join("a.txt"), "alpha, longer").unwrap();
        assert_eq!(build(ctx.path(), &path, Some("src")).0, 1);
        assert_eq!(
            record_paths(&file).unwrap(),
            ["a.txt", "src/main.rs", "src/sub/x"]
        );

        // A file deleted while excluded is dropped at the next save.
        fs::remove_file(ctx.path().join("src/sub/x")).unwrap();
        fs::write(ctx.path().join("a.txt"), "alpha, longer still").unwrap();
        assert_eq!(build(ctx.path(), &path, Some("src")).0, 1);
        assert_eq!(record_paths(&file).unwrap(), ["a.txt", "src/main.rs"]);

        // Included again: nothing to hash.
        assert_eq!(build(ctx.path(), &path, None).0, 0);
    }
}
