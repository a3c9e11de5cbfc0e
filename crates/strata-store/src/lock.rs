//! Inter-process locks on files under `locks/`, using `flock` through `std::fs::File`.
//!
//! `gc.lock` is held shared by everything that adds content or snapshots and exclusively by
//! garbage collection, so a sweep never races a commit. Metadata transactions may run while
//! it is held (redb serialises those itself); nothing takes it inside a transaction.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{Error, Result};

/// A held lock; released on drop (closing the descriptor releases the flock).
#[derive(Debug)]
pub(crate) struct LockGuard {
    _file: File,
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("cannot open lock file", path, e))
}

pub(crate) fn shared(path: &Path) -> Result<LockGuard> {
    let file = open_lock_file(path)?;
    file.lock_shared()
        .map_err(|e| Error::io("cannot lock", path, e))?;
    Ok(LockGuard { _file: file })
}

pub(crate) fn exclusive(path: &Path) -> Result<LockGuard> {
    let file = open_lock_file(path)?;
    file.lock().map_err(|e| Error::io("cannot lock", path, e))?;
    Ok(LockGuard { _file: file })
}
