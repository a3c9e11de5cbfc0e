//! Tar layers for strata.
//!
//! - Writing: [`write_tree`] (a directory), [`write_overlay_diff`] (an overlayfs upper
//!   directory, whiteouts and opaque directories translated to OCI form) and
//!   [`write_entries`] (an explicit list) produce byte-identical tars for identical input:
//!   depth-first order with siblings sorted by name bytes, PAX records for long names and
//!   `SCHILY.xattr.*`, numeric ids only, optional `SOURCE_DATE_EPOCH` clamp.
//! - Compression and digests: wrap the output in a [`LayerWriter`] to get the compressed
//!   blob (none, gzip on several threads, zstd) plus its digest, size and the diffID in one
//!   pass. Gzip output does not depend on the thread count, so digests are reproducible
//!   across machines; incompressible stretches are stored rather than deflated, so layers
//!   full of archives or random data compress at close to copy speed. [`LayerReader`] decompresses (the magic bytes decide) and computes the
//!   diffID while reading.
//! - Applying: [`apply_layer`] unpacks a (compressed) layer onto a root directory, handling
//!   OCI whiteouts, opaque directories, hard links, devices, xattrs, ownership, modes and
//!   mtimes, and refusing every entry that would land outside the root or pass through a
//!   symlink ([`SymlinkPolicy::FollowInRoot`] resolves such symlinks inside the root instead,
//!   as docker's chrooted unpack does). With [`WhiteoutMode::Overlay`] whiteouts become
//!   overlayfs whiteouts instead, so a layer unpacked alone can serve as an overlay lower
//!   directory.
//! - Low level: [`TarWriter`] / [`TarReader`] encode and decode single members (PAX, GNU long
//!   names, binary-safe xattr values); the reader caps extension headers so hostile input
//!   cannot make it allocate without bound.
//!
//! Errors are one [`Error`] enum; [`Error::kind`] gives an [`ErrorKind`] to branch on
//! (`PathEscape`, `InvalidTar`, `NotPermitted`, `Unsupported`, `DigestMismatch`, `Io`), and
//! messages name the tar entry or filesystem path.
//!
//! ```no_run
//! use strata_layer::{write_tree, CompressOptions, Compression, LayerWriter, WriteOptions};
//! # fn main() -> Result<(), strata_layer::Error> {
//! let blob = std::fs::File::create("/tmp/layer.tar.gz").unwrap();
//! let mut out = LayerWriter::new(blob, &CompressOptions::new(Compression::Gzip))?;
//! write_tree("/tmp/rootfs".as_ref(), &mut out, &WriteOptions::default())?;
//! let (_file, digests) = out.finish()?;
//! println!("{} {}", digests.digest, digests.diff_id);
//! # Ok(()) }
//! ```

pub mod apply;
pub mod compress;
pub mod content_size;
pub mod digest_io;
pub mod entry;
pub mod error;
pub mod input_file;
mod pgzip;
pub mod tar_read;
pub mod tar_write;
pub mod tree;

pub use apply::{
    apply_layer, check_entry, ApplyOptions, ApplyStats, DevicePolicy, EntryChecker, Ownership,
    SymlinkPolicy, WhiteoutMode,
};
pub use compress::{decompress, detect, CompressOptions, Compression, Encoder};
pub use content_size::{dir_content_size, tar_content_size, ContentSizeCounter};
pub use digest_io::{DigestReader, LayerDigests, LayerReader, LayerWriter};
pub use entry::{Entry, EntryKind, FileData};
pub use error::{Error, ErrorKind, Result};
pub use input_file::open_regular;
pub use tar_read::{TarHeader, TarKind, TarReader};
pub use tar_write::TarWriter;
pub use tree::{write_entries, write_overlay_diff, write_tree, WriteOptions, WriteStats};
