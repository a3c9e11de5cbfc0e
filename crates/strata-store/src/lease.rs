//! Leases: named sets of digests that garbage collection treats as roots, so the blobs (and
//! snapshot chain IDs) of an unfinished pull, load or build survive until it records an image.
//!
//! A lease expires at its deadline (if it has one); expired leases protect nothing and are
//! deleted by the next collection. [`Lease`] is a guard that deletes its lease on drop.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::layout::{random_name, Layout};
use crate::meta::{self, LEASES};
use crate::Store;
use redb::ReadableTable;

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub id: String,
    pub created: DateTime<Utc>,
    pub expires: Option<DateTime<Utc>>,
    pub digests: BTreeSet<Digest>,
}

impl LeaseRecord {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

fn decode(id: &str, bytes: &[u8]) -> Result<LeaseRecord> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            format!("lease {id} in the metadata database: {e}"),
        )
    })
}

pub(crate) fn add_to_lease(layout: &Layout, id: &str, digests: &[Digest]) -> Result<()> {
    meta::write(layout, |txn| {
        let mut t = txn
            .open_table(LEASES)
            .map_err(|e| Error::db("open table", e))?;
        let mut rec = match t.get(id).map_err(|e| Error::db("get", e))? {
            Some(v) => decode(id, v.value())?,
            None => return Err(Error::not_found(format!("no such lease: {id}"))),
        };
        rec.digests.extend(digests.iter().cloned());
        let bytes = serde_json::to_vec(&rec).expect("lease serialises");
        t.insert(id, bytes.as_slice())
            .map_err(|e| Error::db("insert", e))?;
        Ok(())
    })
}

pub(crate) fn read_leases(txn: &redb::ReadTransaction) -> Result<Vec<LeaseRecord>> {
    meta::read_all_bytes(txn, LEASES)?
        .iter()
        .map(|(k, v)| decode(k, v))
        .collect()
}

/// A lease that is deleted when dropped (or explicitly with [`Lease::release`]).
pub struct Lease {
    store: Store,
    id: String,
    released: bool,
}

impl Lease {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Protect `digests` (blobs or snapshot chain IDs) under this lease.
    pub fn add(&self, digests: &[Digest]) -> Result<()> {
        add_to_lease(&self.store.layout, &self.id, digests)
    }

    /// Delete the lease now, reporting errors.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.store.delete_lease(&self.id).map(|_| ())
    }

    /// Keep the lease in the store after this guard is dropped (until it expires).
    pub fn keep(mut self) -> String {
        self.released = true;
        std::mem::take(&mut self.id)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.store.delete_lease(&self.id);
        }
    }
}

impl Store {
    /// Create a lease that expires after `ttl` (never, with `None`).
    pub fn create_lease(&self, ttl: Option<Duration>) -> Result<String> {
        let now = Utc::now();
        let rec = LeaseRecord {
            id: random_name(),
            created: now,
            expires: ttl
                .map(|t| now + chrono::Duration::from_std(t).unwrap_or(chrono::Duration::MAX)),
            digests: BTreeSet::new(),
        };
        meta::write(&self.layout, |txn| {
            let mut t = txn
                .open_table(LEASES)
                .map_err(|e| Error::db("open table", e))?;
            let bytes = serde_json::to_vec(&rec).expect("lease serialises");
            t.insert(rec.id.as_str(), bytes.as_slice())
                .map_err(|e| Error::db("insert", e))?;
            Ok(())
        })?;
        Ok(rec.id)
    }

    /// Create a lease guarded by a [`Lease`] that deletes it on drop.
    pub fn lease(&self, ttl: Option<Duration>) -> Result<Lease> {
        Ok(Lease {
            store: self.clone(),
            id: self.create_lease(ttl)?,
            released: false,
        })
    }

    pub fn lease_add(&self, id: &str, digests: &[Digest]) -> Result<()> {
        add_to_lease(&self.layout, id, digests)
    }

    /// Delete a lease; returns whether it existed.
    pub fn delete_lease(&self, id: &str) -> Result<bool> {
        meta::write(&self.layout, |txn| {
            let mut t = txn
                .open_table(LEASES)
                .map_err(|e| Error::db("open table", e))?;
            let existed = t.remove(id).map_err(|e| Error::db("remove", e))?.is_some();
            Ok(existed)
        })
    }

    pub fn list_leases(&self) -> Result<Vec<LeaseRecord>> {
        meta::read(&self.layout, read_leases)
    }
}
