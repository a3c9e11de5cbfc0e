//! docker-archive and OCI image layout import and export.
//!
//! - [`load`]: read `docker save` archives (classic and Docker ≥ 25), OCI layout tars and
//!   OCI layout directories, compressed or not, verifying every blob before it is
//!   committed to a [`BlobSink`].
//! - [`save`]: write one archive that is both a docker-archive and an OCI image layout,
//!   as Docker ≥ 25 does, streaming blobs from a [`BlobSource`]; or a layout directory.
//! - [`store`]: the sink and source implementations over `strata-store`.
//!
//! The archive code never decides what an image record is: loads return a
//! [`LoadReport`] and the caller records images and tags after the whole load succeeded.

pub mod detect;
pub mod docker;
pub mod error;
pub mod files;
pub mod flatten;
pub mod layout;
pub mod load;
pub mod model;
pub mod save;
pub mod sink;
pub mod store;

pub use error::{Error, ErrorKind, Result};
pub use load::{load_dir, load_path, load_reader, Format, LoadReport, LoadedImage};
pub use model::Descriptor;
pub use save::{save_archive, save_layout_dir, SaveImage, SaveName};
pub use sink::{BlobSink, BlobSource, Ingested, MemoryBlobs};
