//! A deterministic layer tar of a directory tree, for fixtures.
//!
//! Entries are sorted by path, owned by 0:0 and stamped with mtime 0, so the same tree
//! always yields the same bytes (and the same diffID). Only regular files, directories
//! and symlinks are expected in fixtures; anything else is an error.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Write the tree under `root` as a tar to `out` (entries named `bin/`, `bin/sh`, ...).
pub fn write_layer_tar(root: &Path, out: &Path) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    append_tree(&mut builder, root)?;
    let mut w = builder
        .into_inner()
        .with_context(|| format!("finishing {}", out.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Append every entry under `root` (sorted, deterministic headers) to `builder`.
pub fn append_tree<W: Write>(builder: &mut tar::Builder<W>, root: &Path) -> Result<()> {
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .follow_links(false);
    for entry in walker {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let meta = entry
            .path()
            .symlink_metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_mode(meta.permissions().mode() & 0o7777);
        let ft = meta.file_type();
        if ft.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            let name = format!("{}/", rel.display());
            builder.append_data(&mut header, name, std::io::empty())?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, rel, target)?;
        } else if ft.is_file() {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = File::open(entry.path())
                .with_context(|| format!("opening {}", entry.path().display()))?;
            builder.append_data(&mut header, rel, file)?;
        } else {
            bail!(
                "unsupported file type in fixture tree: {}",
                entry.path().display()
            );
        }
    }
    Ok(())
}
