//! The content index a COPY from the context leaves beside its snapshot, so the next build
//! of the same COPY can hard-link every file whose content and metadata did not change
//! instead of copying it again.
//!
//! On disk, `snapshots/<chain-id>/files-v1`: a sequence of records sorted by path, each
//! `u32 path length (little endian) | path bytes | 32 bytes sha256`, where the path is
//! relative to the snapshot root. The index is a hint: nothing is reused from a missing file
//! or past a damaged record, and every reuse is re-checked against the old file's metadata.
//!
//! A COPY writes its index while it places files ([`IndexWriter`]) and reads the previous
//! one as a cursor ([`IndexCursor`]): both follow the context's sorted order, so neither
//! index is held in memory (an out-of-order COPY falls back to sorting in memory).

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// File name of the index inside a snapshot directory.
pub const INDEX_FILE: &str = "files-v1";

/// Write `pairs` (any order) sorted by path, a later duplicate path winning.
fn write_sorted(path: &Path, mut pairs: Vec<(String, [u8; 32])>) -> io::Result<()> {
    pairs.reverse();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.dedup_by(|a, b| a.0 == b.0);
    let mut out = io::BufWriter::new(fs::File::create(path)?);
    for (p, d) in &pairs {
        write_record(&mut out, p, d)?;
    }
    out.into_inner().map(|_| ()).map_err(|e| e.into_error())
}

fn write_record(out: &mut impl Write, path: &str, digest: &[u8; 32]) -> io::Result<()> {
    out.write_all(&(path.len() as u32).to_le_bytes())?;
    out.write_all(path.as_bytes())?;
    out.write_all(digest)
}

/// The next record, `None` at a clean end of file.
fn read_record(input: &mut impl BufRead) -> io::Result<Option<(String, [u8; 32])>> {
    if input.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let mut name = vec![0u8; u32::from_le_bytes(len) as usize];
    input.read_exact(&mut name)?;
    let mut digest = [0u8; 32];
    input.read_exact(&mut digest)?;
    let name =
        String::from_utf8(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((name, digest)))
}

/// Writes an index as entries arrive in path order; entries out of order (or a path given
/// twice, the later winning) switch it to sorting in memory.
pub struct IndexWriter {
    path: PathBuf,
    out: Option<io::BufWriter<fs::File>>,
    last: String,
    buffered: Option<Vec<(String, [u8; 32])>>,
}

impl IndexWriter {
    /// Nothing is created until the first entry.
    pub fn new(path: PathBuf) -> Self {
        IndexWriter {
            path,
            out: None,
            last: String::new(),
            buffered: None,
        }
    }

    pub fn push(&mut self, rel: &str, digest: [u8; 32]) -> io::Result<()> {
        if let Some(all) = &mut self.buffered {
            all.push((rel.to_owned(), digest));
            return Ok(());
        }
        match &mut self.out {
            Some(_) if *rel <= *self.last => {
                self.switch_to_memory()?;
                return self.push(rel, digest);
            }
            Some(out) => write_record(out, rel, &digest)?,
            None => {
                let mut out = io::BufWriter::new(fs::File::create(&self.path)?);
                write_record(&mut out, rel, &digest)?;
                self.out = Some(out);
            }
        }
        self.last.clear();
        self.last.push_str(rel);
        Ok(())
    }

    fn switch_to_memory(&mut self) -> io::Result<()> {
        let mut all = Vec::new();
        if let Some(out) = self.out.take() {
            out.into_inner().map_err(|e| e.into_error())?;
            let mut input = io::BufReader::new(fs::File::open(&self.path)?);
            while let Some(record) = read_record(&mut input)? {
                all.push(record);
            }
        }
        self.buffered = Some(all);
        Ok(())
    }

    /// Complete the file; `None` when no entry was pushed.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match (self.out, self.buffered) {
            (_, Some(all)) => write_sorted(&self.path, all)?,
            (Some(out), None) => {
                out.into_inner().map_err(|e| e.into_error())?;
            }
            (None, None) => return Ok(None),
        }
        Ok(Some(self.path))
    }
}

/// Reads an index in path order, answering lookups that come in increasing path order.
pub struct IndexCursor {
    input: io::BufReader<fs::File>,
    current: Option<(String, [u8; 32])>,
    last_query: String,
    broken: bool,
}

impl IndexCursor {
    pub fn open(path: &Path) -> Option<Self> {
        let mut input = io::BufReader::new(fs::File::open(path).ok()?);
        let current = read_record(&mut input).ok()?;
        Some(IndexCursor {
            input,
            current,
            last_query: String::new(),
            broken: false,
        })
    }

    /// The digest recorded for `rel`. A query that does not come after the previous one,
    /// or a damaged file, answers `None`: the file is then copied rather than linked.
    pub fn lookup(&mut self, rel: &str) -> Option<[u8; 32]> {
        if self.broken || (!self.last_query.is_empty() && *rel <= *self.last_query) {
            return None;
        }
        self.last_query.clear();
        self.last_query.push_str(rel);
        loop {
            let (path, digest) = self.current.as_ref()?;
            match path.as_str().cmp(rel) {
                std::cmp::Ordering::Less => match read_record(&mut self.input) {
                    Ok(next) => self.current = next,
                    Err(_) => {
                        self.broken = true;
                        return None;
                    }
                },
                std::cmp::Ordering::Equal => return Some(*digest),
                std::cmp::Ordering::Greater => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of an index, or `None` if it is damaged or out of order.
    fn records(path: &Path) -> Option<Vec<(String, [u8; 32])>> {
        let mut input = io::BufReader::new(fs::File::open(path).ok()?);
        let mut all: Vec<(String, [u8; 32])> = Vec::new();
        while let Some(r) = read_record(&mut input).ok()? {
            if all.last().is_some_and(|(p, _)| *p >= r.0) {
                return None;
            }
            all.push(r);
        }
        Some(all)
    }

    #[test]
    fn streamed_index_matches_the_sorted_one_and_cursor_answers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let in_order = dir.path().join("a");
        let mut w = IndexWriter::new(in_order.clone());
        for (p, d) in [("app/a", 1u8), ("app/b", 2), ("app/c/d", 3)] {
            w.push(p, [d; 32]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), Some(in_order.clone()));
        let want = records(&in_order).unwrap();
        assert_eq!(want.len(), 3);

        // Out of order and a duplicate: sorted in memory, the later entry wins.
        let shuffled = dir.path().join("b");
        let mut w = IndexWriter::new(shuffled.clone());
        for (p, d) in [("app/b", 9u8), ("app/c/d", 3), ("app/a", 1), ("app/b", 2)] {
            w.push(p, [d; 32]).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(records(&shuffled), Some(want));
        assert_eq!(
            IndexWriter::new(dir.path().join("c")).finish().unwrap(),
            None
        );

        let mut c = IndexCursor::open(&in_order).unwrap();
        assert_eq!(c.lookup("app/0"), None);
        assert_eq!(c.lookup("app/b"), Some([2; 32]));
        assert_eq!(
            c.lookup("app/a"),
            None,
            "an out-of-order query answers nothing"
        );
        assert_eq!(c.lookup("app/c/d"), Some([3; 32]));
        assert_eq!(c.lookup("zzz"), None);
    }

    #[test]
    fn a_truncated_index_answers_nothing_past_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let mut w = IndexWriter::new(path.clone());
        w.push("a", [1; 32]).unwrap();
        w.push("b", [2; 32]).unwrap();
        w.finish().unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.pop();
        fs::write(&path, &bytes).unwrap();
        assert_eq!(records(&path), None);
        let mut c = IndexCursor::open(&path).unwrap();
        assert_eq!(c.lookup("a"), Some([1; 32]));
        assert_eq!(c.lookup("b"), None, "the damaged record is not trusted");
    }
}
