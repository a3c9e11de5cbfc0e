//! Image analysis from layer tar streams: what each layer adds, how much space is wasted,
//! and how two images differ.
//!
//! - [`scan`]: one layer tar → its entries (path, type, size, mode, owner, link, optional
//!   content digest); contents are streamed through, never kept.
//! - [`efficiency`] over [`dive_tree`]: dive 0.13.1's score, wasted bytes and user-wasted
//!   percent, computed the way dive does (its trees ignore opaque markers, whiteouts of
//!   directories count the stacked subtree), plus the N−1 wasted figure and which layer
//!   introduced, overwrote or deleted each wasted path.
//! - [`filesystem`]: the merged filesystem with OCI semantics and per-layer changes
//!   (added / modified / removed, biggest files and directories).
//! - [`analysis`]: one pass over an image ([`Analyzer`]), dive's `--json` shape and strata's
//!   own report; [`ci`]: dive's `.dive-ci` rules and report; [`diff`]: image diff.
//!
//! The crate is pure: it reads `std::io::Read` streams handed to it and knows nothing of
//! stores, archives or registries. Memory follows the number of paths, not the bytes.

pub mod analysis;
pub mod ci;
pub mod diff;
pub mod dive_tree;
pub mod efficiency;
pub mod error;
pub mod explore;
pub mod filesystem;
pub mod gofmt;
pub mod scan;

pub use analysis::{
    dive_json, report_json, Analysis, AnalyzeOptions, Analyzer, HistoryEntry, LayerReport,
};
pub use diff::{diff, ChangeKind, ImageDiff, PathChange};
pub use efficiency::{Action, Efficiency, WastedPath};
pub use error::{Error, ErrorKind, Result};
pub use filesystem::{FileMeta, Filesystem, LayerChanges};
pub use scan::{scan_layer, FileKind, LayerEntry, LayerScan, ScanOptions};
