//! Test fixtures shared by strata's test suites.
//!
//! - [`busybox`]: a tiny `FROM scratch` style root filesystem built from Debian's
//!   `busybox-static`, as a directory and as a deterministic layer tar.
//! - [`debian`]: a `debootstrap --variant=minbase bookworm` root filesystem, built once
//!   per workspace and cached as a tarball under `target/fixtures/`.
//! - [`peers`]: detection of peer tools (skopeo, umoci, runc, ...) that refuses to skip
//!   silently when `STRATA_CI=1`.
//! - [`hostile_tar`]: hostile archives byte by byte, and the corpus every tar reader
//!   must refuse.
//! - [`dirs`] and [`cli`]: temporary store roots and a runner for the `strata` binary.
//!
//! Everything here returns `anyhow::Result`: this crate only serves tests, and a failing
//! fixture should explain itself in the test output.

pub mod busybox;
pub mod cli;
pub mod debian;
pub mod dirs;
pub mod hostile_tar;
pub mod layer_tar;
pub mod peers;

pub use busybox::{busybox, BusyboxFixture};
pub use cli::Strata;
pub use debian::debian_rootfs_tarball;
pub use dirs::{fixtures_dir, target_dir, TempRoot};
pub use peers::{in_ci, require_root, require_tool, require_venv_tool};
