//! The metadata database (`meta.redb`) and how many processes share it.
//!
//! redb's default mode locks the whole file, so a second process could not open it. strata
//! opens it in redb's `MultiWriter` concurrency mode instead: every process keeps one handle
//! (cached per path for the life of the process, since opening costs milliseconds) and redb
//! serialises write transactions across processes with byte-range locks, while reads see
//! the last commit. Every read-modify-write (rmi, prune selection, lease updates) runs inside
//! one write transaction, so concurrent `strata` processes never lose an update.
//!
//! Values are JSON so records stay readable and evolvable; keys are strings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::sleep;
use std::time::Duration;

use redb::{
    ConcurrencyMode, Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, TableError, WriteTransaction,
};

use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;

pub(crate) const TAGS: TableDefinition<'static, &str, &str> = TableDefinition::new("tags");
pub(crate) const IMAGES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("images");
pub(crate) const LEASES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("leases");
/// diffID -> size in bytes of that uncompressed layer tar, noted whenever a compressed layer
/// is unpacked or hashed (pull, load), so image sizes read the same whatever the layers'
/// compression.
pub(crate) const UNPACKED_SIZES: TableDefinition<'static, &str, u64> =
    TableDefinition::new("unpacked-sizes");

/// Prefix of the redb tables backing [`crate::Store::put_record`].
const RECORD_PREFIX: &str = "record/";

type Handles = Mutex<HashMap<PathBuf, Arc<Database>>>;

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn open_db(layout: &Layout) -> Result<Arc<Database>> {
    let path = layout.meta_db();
    let key = path.canonicalize().unwrap_or_else(|_| path.clone());
    let mut map = handles().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(db) = map.get(&key) {
        return Ok(db.clone());
    }
    let mut builder = Database::builder();
    builder.set_concurrency_mode(ConcurrencyMode::MultiWriter);
    let mut delay = Duration::from_millis(5);
    let mut attempt = 0;
    let db = loop {
        match builder.create(&path) {
            Ok(db) => break Arc::new(db),
            // Another process is creating or repairing the file right now.
            Err(DatabaseError::DatabaseAlreadyOpen) if attempt < 10 => {
                attempt += 1;
                sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(Error::db(&format!("cannot open {}", path.display()), e)),
        }
    };
    map.insert(key, db.clone());
    Ok(db)
}

/// Run `f` in one write transaction, committed if `f` succeeds. Waits for write
/// transactions of other processes.
pub(crate) fn write<T>(
    layout: &Layout,
    f: impl FnOnce(&WriteTransaction) -> Result<T>,
) -> Result<T> {
    let db = open_db(layout)?;
    let txn = db.begin_write().map_err(|e| Error::db("begin write", e))?;
    let out = f(&txn)?;
    txn.commit().map_err(|e| Error::db("commit", e))?;
    Ok(out)
}

/// Run `f` in one read transaction (a snapshot of the last commit).
pub(crate) fn read<T>(layout: &Layout, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
    let db = open_db(layout)?;
    let txn = db.begin_read().map_err(|e| Error::db("begin read", e))?;
    f(&txn)
}

/// All rows of a `&str -> &[u8]` table in a read transaction; a missing table is empty.
pub(crate) fn read_all_bytes(
    txn: &ReadTransaction,
    def: TableDefinition<'_, &str, &[u8]>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(Error::db("open table", e)),
    };
    let mut out = Vec::new();
    for row in table.iter().map_err(|e| Error::db("iterate", e))? {
        let (k, v) = row.map_err(|e| Error::db("iterate", e))?;
        out.push((k.value().to_owned(), v.value().to_vec()));
    }
    Ok(out)
}

/// All rows of the tags table.
pub(crate) fn read_tags(txn: &ReadTransaction) -> Result<Vec<(String, String)>> {
    let table = match txn.open_table(TAGS) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(Error::db("open table", e)),
    };
    let mut out = Vec::new();
    for row in table.iter().map_err(|e| Error::db("iterate", e))? {
        let (k, v) = row.map_err(|e| Error::db("iterate", e))?;
        out.push((k.value().to_owned(), v.value().to_owned()));
    }
    Ok(out)
}

pub(crate) fn get_bytes(
    txn: &ReadTransaction,
    def: TableDefinition<'_, &str, &[u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(Error::db("open table", e)),
    };
    let v = table.get(key).map_err(|e| Error::db("get", e))?;
    Ok(v.map(|v| v.value().to_vec()))
}

pub(crate) fn record_table_name(table: &str) -> Result<String> {
    if table.is_empty()
        || !table
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid record table name {table:?}: use letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(format!("{RECORD_PREFIX}{table}"))
}

impl crate::Store {
    /// Store `value` under `key` in the generic record table `table` (build cache, stat
    /// cache, registry logins, …). Replaces any previous value.
    pub fn put_record(&self, table: &str, key: &str, value: &[u8]) -> Result<()> {
        let name = record_table_name(table)?;
        write(&self.layout, |txn| {
            let mut t = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(&name))
                .map_err(|e| Error::db("open table", e))?;
            t.insert(key, value).map_err(|e| Error::db("insert", e))?;
            Ok(())
        })
    }

    /// Several records in one transaction (much cheaper than one call each).
    pub fn put_records(&self, table: &str, rows: &[(&str, &[u8])]) -> Result<()> {
        let name = record_table_name(table)?;
        write(&self.layout, |txn| {
            let mut t = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(&name))
                .map_err(|e| Error::db("open table", e))?;
            for (k, v) in rows {
                t.insert(*k, *v).map_err(|e| Error::db("insert", e))?;
            }
            Ok(())
        })
    }

    pub fn get_record(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let name = record_table_name(table)?;
        read(&self.layout, |txn| {
            get_bytes(txn, TableDefinition::new(&name), key)
        })
    }

    /// Every `(key, value)` of a record table, sorted by key.
    pub fn list_records(&self, table: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let name = record_table_name(table)?;
        read(&self.layout, |txn| {
            read_all_bytes(txn, TableDefinition::new(&name))
        })
    }

    /// Delete a record; returns whether it existed.
    pub fn delete_record(&self, table: &str, key: &str) -> Result<bool> {
        let name = record_table_name(table)?;
        write(&self.layout, |txn| {
            let mut t = txn
                .open_table(TableDefinition::<&str, &[u8]>::new(&name))
                .map_err(|e| Error::db("open table", e))?;
            let old = t.remove(key).map_err(|e| Error::db("remove", e))?;
            Ok(old.is_some())
        })
    }
}
