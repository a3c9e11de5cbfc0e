//! Layer sizes as docker shows them (`images`, `history`, `inspect .Size`, `system df`):
//! the content of the unpacked layer, not its tar (see [`strata_layer::content_size`]).
//!
//! Computed once per diffID and remembered in the [`LAYER_CONTENT_SIZES_TABLE`] records:
//! from the layer's snapshot when it is unpacked (a walk of `lstat`s, no file is read),
//! otherwise from the layer blob (decompressed, and verified to its end).

use std::collections::BTreeMap;
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::images::ImageRecord;
use crate::Store;

/// Generic records table: diffID → decimal content size in bytes.
pub const LAYER_CONTENT_SIZES_TABLE: &str = "layer-content-sizes";

fn layer_err(what: String, e: strata_layer::Error) -> Error {
    Error::new(ErrorKind::Corrupt, format!("{what}: {e}"))
}

impl Store {
    /// docker's size of every layer of `images`, by diffID.
    pub fn layer_content_sizes(&self, images: &[&ImageRecord]) -> Result<BTreeMap<Digest, u64>> {
        let mut known: BTreeMap<Digest, u64> = BTreeMap::new();
        for (key, value) in self.list_records(LAYER_CONTENT_SIZES_TABLE)? {
            let (Ok(d), Some(n)) = (
                key.parse::<Digest>(),
                std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.parse().ok()),
            ) else {
                continue;
            };
            known.insert(d, n);
        }
        let mut fresh: Vec<(String, String)> = Vec::new();
        for record in images {
            let chains = record.chain_ids();
            for ((layer, diff_id), chain) in record.layers.iter().zip(&record.diff_ids).zip(&chains)
            {
                if known.contains_key(diff_id) {
                    continue;
                }
                let size = match self.snapshot_path(chain) {
                    Some(fs) => strata_layer::dir_content_size(&fs)
                        .map_err(|e| layer_err(format!("sizing snapshot {chain}"), e))?,
                    None => {
                        self.blob_content_size(&layer.digest, layer.media_type.layer_compression())?
                    }
                };
                known.insert(diff_id.clone(), size);
                fresh.push((diff_id.to_string(), size.to_string()));
            }
        }
        if !fresh.is_empty() {
            let rows: Vec<(&str, &[u8])> = fresh
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_bytes()))
                .collect();
            // Only a cache: a store this process may read but not write (another user's)
            // still gets its sizes, computed again next time.
            let _ = self.put_records(LAYER_CONTENT_SIZES_TABLE, &rows);
        }
        Ok(known)
    }

    /// Remember docker's size of the layer `diff_id`, counted by whoever streamed it (pull).
    pub fn record_layer_content_size(&self, diff_id: &Digest, size: u64) -> Result<()> {
        self.put_record(
            LAYER_CONTENT_SIZES_TABLE,
            &diff_id.to_string(),
            size.to_string().as_bytes(),
        )
    }

    /// docker's size of one image: its layers' content sizes summed.
    pub fn image_content_size(&self, record: &ImageRecord, sizes: &BTreeMap<Digest, u64>) -> u64 {
        record
            .diff_ids
            .iter()
            .map(|d| sizes.get(d).copied().unwrap_or(0))
            .sum()
    }

    fn blob_content_size(
        &self,
        digest: &Digest,
        compression: Option<strata_layer::Compression>,
    ) -> Result<u64> {
        let blob = self.open_blob(digest)?;
        let tar = strata_layer::decompress(blob, compression)
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("layer {digest}: {e}")))?;
        let mut reader = strata_layer::TarReader::new(tar);
        let size = strata_layer::content_size::tar_entries_size(&mut reader)
            .map_err(|e| layer_err(format!("layer {digest}"), e))?;
        // Read to the end so the verifying reader checks the digest: a damaged blob is an
        // error, never a wrong size.
        std::io::copy(&mut reader.into_inner(), &mut std::io::sink())
            .map_err(|e| Error::new(ErrorKind::Corrupt, format!("layer {digest}: {e}")))?;
        Ok(size)
    }
}
