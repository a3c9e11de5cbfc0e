//! COPY lineage: which snapshot the last build of a COPY from the context produced, so a
//! rebuild after a few files changed hard-links the unchanged ones from it (see
//! [`crate::copy_step::Reuse`]) instead of copying the whole context again.
//!
//! The `copy-lineage` records table maps a key naming the COPY (context directory,
//! instruction text, WORKDIR) to the chain ID of its last snapshot. The record is only a
//! hint: the snapshot may have been collected since, and each file is re-checked before
//! it is linked, so any snapshot at all would be a correct (if useless) answer.

use strata_dockerfile::ast::CopySpec as Copy;
use strata_dockerfile::scope::Step;
use strata_oci::{Digest, Digester};

use super::StageRun;
use crate::copy_step::Reuse;
use crate::file_index::INDEX_FILE;

/// Records table: lineage key -> chain ID of the COPY's last snapshot.
pub const LINEAGE_TABLE: &str = "copy-lineage";

/// A COPY from the context: its lineage key and what its last build left to reuse.
pub(super) struct Lineage {
    pub key: String,
    pub reuse: Option<Reuse>,
}

impl StageRun<'_, '_> {
    /// The lineage of `c` when it copies from the context (other sources have no index).
    pub(super) fn copy_lineage(&self, step: &Step, c: &Copy) -> Option<Lineage> {
        if c.from.as_deref().is_some_and(|f| f != "context") {
            return None;
        }
        let ctx = self.sh.opts.context_dir.as_ref()?;
        let mut d = Digester::sha256();
        for part in [
            ctx.to_string_lossy().as_ref(),
            step.instruction.original.as_str(),
            self.state.workdir().as_str(),
        ] {
            d.update(part.as_bytes());
            d.update(b"\0");
        }
        let key = d.finish().hex().to_owned();
        let reuse = self.previous_snapshot(&key);
        Some(Lineage { key, reuse })
    }

    fn previous_snapshot(&self, key: &str) -> Option<Reuse> {
        let store = self.sh.store;
        let chain = store.get_record(LINEAGE_TABLE, key).ok()??;
        let chain = Digest::parse(std::str::from_utf8(&chain).ok()?).ok()?;
        let dir = store.snapshot_path(&chain)?;
        let index = dir.with_file_name(INDEX_FILE);
        index.is_file().then_some(Reuse { dir, index })
    }

    /// Remember the snapshot a COPY from the context produced, moving its content index
    /// (written beside the staged directory) next to it. Failures are ignored: the next
    /// build merely copies everything again.
    pub(super) fn record_lineage(&self, key: &str, chain_id: &Digest, index: &std::path::Path) {
        let store = self.sh.store;
        let Some(dir) = store.snapshot_path(chain_id) else {
            return;
        };
        if std::fs::rename(index, dir.with_file_name(INDEX_FILE)).is_ok() {
            let _ = store.put_record(LINEAGE_TABLE, key, chain_id.to_string().as_bytes());
        }
    }
}
