//! An OSV database on disk: a directory of `*.json` records (searched recursively) or a zip
//! of them, as osv.dev publishes per ecosystem (`<ecosystem>/all.zip`).
//!
//! The zip is read in place: its central directory is the index (names and offsets), and
//! records are inflated one at a time into a reused buffer, so memory stays bounded by the
//! largest record plus the index, however large the database.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::osv::Record;

/// Records larger than this are refused (real ones are a few kilobytes).
pub const MAX_RECORD: u64 = 16 << 20;

enum Source {
    Dir(Vec<PathBuf>),
    Zip(Box<zip::ZipArchive<BufReader<File>>>),
}

/// An opened OSV database.
pub struct Database {
    path: PathBuf,
    source: Source,
}

impl Database {
    /// Open a directory or a zip file.
    pub fn open(path: &Path) -> Result<Database> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::db(path, format!("cannot open the database: {e}")))?;
        let source = if meta.is_dir() {
            let mut files = Vec::new();
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::db(path, e.to_string()))?;
                if entry.file_type().is_file()
                    && entry.path().extension().is_some_and(|x| x == "json")
                {
                    files.push(entry.into_path());
                }
            }
            Source::Dir(files)
        } else {
            let file = File::open(path).map_err(|e| Error::db(path, e.to_string()))?;
            let zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
                Error::db(
                    path,
                    format!("not a directory nor a readable zip file: {e}"),
                )
            })?;
            Source::Zip(Box::new(zip))
        };
        Ok(Database {
            path: path.to_owned(),
            source,
        })
    }

    /// Number of record files.
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Dir(files) => files.len(),
            Source::Zip(z) => z.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Call `f` with every record, in the database's order. A record that is not valid OSV
    /// JSON is an error naming the database and the entry.
    pub fn for_each(&mut self, mut f: impl FnMut(Record)) -> Result<usize> {
        let mut buf = Vec::new();
        let mut count = 0;
        match &mut self.source {
            Source::Dir(files) => {
                for file in files.iter() {
                    buf.clear();
                    let handle = File::open(file).map_err(|e| Error::db(file, e.to_string()))?;
                    handle
                        .take(MAX_RECORD + 1)
                        .read_to_end(&mut buf)
                        .map_err(|e| Error::db(file, e.to_string()))?;
                    if buf.len() as u64 > MAX_RECORD {
                        return Err(Error::db(file, "record larger than 16 MiB"));
                    }
                    f(parse(&buf, &file.display().to_string())?);
                    count += 1;
                }
            }
            Source::Zip(zip) => {
                for i in 0..zip.len() {
                    let entry = zip
                        .by_index(i)
                        .map_err(|e| Error::db(&self.path, format!("entry {i}: {e}")))?;
                    let entry_name = entry
                        .name()
                        .map_err(|e| Error::db(&self.path, format!("entry {i}: {e}")))?
                        .into_owned();
                    if !entry.is_file() || !entry_name.ends_with(".json") {
                        continue;
                    }
                    let name = format!("{}!{entry_name}", self.path.display());
                    if entry.size() > MAX_RECORD {
                        return Err(Error::Db(format!("{name}: record larger than 16 MiB")));
                    }
                    buf.clear();
                    entry
                        .take(MAX_RECORD + 1)
                        .read_to_end(&mut buf)
                        .map_err(|e| Error::Db(format!("{name}: {e}")))?;
                    f(parse(&buf, &name)?);
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}

fn parse(bytes: &[u8], name: &str) -> Result<Record> {
    serde_json::from_slice(bytes).map_err(|e| Error::Db(format!("{name}: not an OSV record: {e}")))
}
