//! The metadata database (`meta.redb`) and how many processes share it.
//!
//! redb's default open mode locks the whole file, so a second process opening it gets
//! `DatabaseAlreadyOpen`. Rather than keep the database open for a process's lifetime,
//! every operation takes an exclusive `flock` on `locks/meta.lock`, opens the database, runs
//! one transaction and closes it. The flock queues processes (and separate `Store` values in
//! one process, since flock is per open file description) instead of failing them; a short
//! retry with backoff covers a database file still being closed by a previous holder.
//!
//! Values are JSON so records stay readable and evolvable; keys are strings.

use std::thread::sleep;
use std::time::Duration;

use redb::{
    Database, DatabaseError, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, WriteTransaction,
};

use crate::error::{Error, ErrorKind, Result};
use crate::layout::Layout;
use crate::lock;

pub(crate) const TAGS: TableDefinition<'static, &str, &str> = TableDefinition::new("tags");
pub(crate) const IMAGES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("images");
pub(crate) const LEASES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("leases");

/// Prefix of the redb tables backing [`crate::Store::put_record`].
const RECORD_PREFIX: &str = "record/";

fn open_db(layout: &Layout) -> Result<Database> {
    let path = layout.meta_db();
    let mut delay = Duration::from_millis(2);
    for _ in 0..12 {
        match Database::create(&path) {
            Ok(db) => return Ok(db),
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(Error::db(&format!("cannot open {}", path.display()), e)),
        }
    }
    Err(Error::new(
        ErrorKind::Database,
        format!(
            "metadata database {} stayed locked by another process",
            path.display()
        ),
    ))
}

/// Run `f` in one write transaction, committed if `f` succeeds.
pub(crate) fn write<T>(
    layout: &Layout,
    f: impl FnOnce(&WriteTransaction) -> Result<T>,
) -> Result<T> {
    let _guard = lock::exclusive(&layout.meta_lock())?;
    let db = open_db(layout)?;
    let txn = db.begin_write().map_err(|e| Error::db("begin write", e))?;
    let out = f(&txn)?;
    txn.commit().map_err(|e| Error::db("commit", e))?;
    Ok(out)
}

/// Run `f` in one read transaction.
pub(crate) fn read<T>(layout: &Layout, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
    let _guard = lock::exclusive(&layout.meta_lock())?;
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

fn record_table_name(table: &str) -> Result<String> {
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
