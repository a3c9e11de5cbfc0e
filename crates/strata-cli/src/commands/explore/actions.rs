//! The explorer's actions that read layer contents: view a file, extract a file or a
//! directory to the host, export the selected layer as a tar. Each reads the layer streams
//! it needs to their end, so every byte shown or written was checked against its diffID;
//! results land under a temporary name and are renamed into place, so a failure leaves
//! nothing half-written.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use strata_analyze::explore::Mark;
use strata_analyze::scan::clean_path;
use strata_analyze::FileKind;
use strata_layer::TarReader;

use super::{App, Popup};

/// How much of a file the viewer shows.
const VIEW_LIMIT: u64 = 256 << 10;

/// The contents of the selected file: text as lines, anything else as a hexdump.
pub fn view(app: &App) -> Result<Option<Popup>> {
    let Some(row) = app.selected() else {
        return Ok(None);
    };
    let Some(item) = row.item.map(|i| &app.view.items[i]) else {
        return Ok(None);
    };
    let title = format!("/{}", item.path);
    match item.kind {
        FileKind::Dir => return Ok(None),
        FileKind::Symlink => {
            return Ok(Some(Popup {
                title,
                lines: vec![format!("symbolic link to {}", item.link)],
                scroll: 0,
            }))
        }
        FileKind::File | FileKind::HardLink => {}
        other => {
            return Ok(Some(Popup {
                title,
                lines: vec![format!("{other:?}: no contents to show")],
                scroll: 0,
            }))
        }
    }
    // A hard link's bytes are stored with the path it links to, in the same layer.
    let wanted = if item.kind == FileKind::HardLink {
        clean_path(&item.link).unwrap_or_default()
    } else {
        item.path.clone()
    };
    let mut stream = app.image.open_layer(item.layer)?;
    let mut data = Vec::new();
    let mut total = 0;
    {
        let mut tar = TarReader::new(&mut stream);
        while let Some(h) = tar.next_header()? {
            if clean_path(&String::from_utf8_lossy(&h.path)).as_deref() == Some(wanted.as_str()) {
                total = h.size;
                tar.data().take(VIEW_LIMIT).read_to_end(&mut data)?;
                break;
            }
        }
    }
    stream.finish()?;
    let mut lines = if is_text(&data) {
        String::from_utf8_lossy(&data)
            .lines()
            .map(|l| l.replace('\t', "    "))
            .collect()
    } else {
        hexdump(&data)
    };
    if total > VIEW_LIMIT {
        lines.push(format!("… {} more bytes not shown", total - VIEW_LIMIT));
    }
    if item.mark == Mark::Removed {
        lines.insert(
            0,
            format!(
                "(removed in this layer; contents from layer {})",
                item.layer
            ),
        );
    }
    Ok(Some(Popup {
        title,
        lines,
        scroll: 0,
    }))
}

fn is_text(data: &[u8]) -> bool {
    !data.contains(&0) && std::str::from_utf8(data).is_ok()
}

/// `xxd`-style lines: offset, 16 bytes in hex, printable ASCII.
pub fn hexdump(data: &[u8]) -> Vec<String> {
    data.chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {:<47}  {}", i * 16, hex.join(" "), ascii)
        })
        .collect()
}

fn sibling_temp(dest: &Path, prefix: &str) -> Result<(PathBuf, tempfile::TempDir)> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    Ok((parent, tmp))
}

/// Extract the selected file or directory (as the current view shows it) to `dest`.
pub fn extract(app: &App, dest: &str) -> Result<String> {
    let Some(row) = app.selected() else {
        bail!("nothing selected");
    };
    let dest = PathBuf::from(dest);
    if dest.symlink_metadata().is_ok() {
        bail!("{} already exists", dest.display());
    }
    let prefix = row.path.clone();
    // Path → layer holding its content, for what the view shows under the selection.
    let wanted: BTreeMap<String, usize> = app
        .view
        .items
        .iter()
        .filter(|i| i.mark != Mark::Removed)
        .filter(|i| i.path == prefix || i.path.starts_with(&format!("{prefix}/")))
        .map(|i| (i.path.clone(), i.layer))
        .collect();
    if wanted.is_empty() && !row.is_dir {
        bail!("/{prefix} is removed in this layer: nothing to extract");
    }
    let (_, tmp) = sibling_temp(&dest, ".strata-extract-")?;
    let staged = tmp.path().join("x");
    let target = |path: &str| -> PathBuf {
        let rel = path[prefix.len()..].trim_start_matches('/');
        if rel.is_empty() {
            staged.clone()
        } else {
            staged.join(rel)
        }
    };
    if row.is_dir {
        std::fs::create_dir_all(&staged)?;
    }
    let layers: BTreeSet<usize> = wanted.values().copied().collect();
    let mut links: Vec<(PathBuf, String)> = Vec::new();
    let (mut files, mut skipped) = (0u64, 0u64);
    for layer in layers {
        let mut stream = app.image.open_layer(layer)?;
        {
            let mut tar = TarReader::new(&mut stream);
            while let Some(h) = tar.next_header()? {
                let Some(path) = clean_path(&String::from_utf8_lossy(&h.path)) else {
                    continue;
                };
                if wanted.get(&path) != Some(&layer) {
                    continue;
                }
                let out = target(&path);
                if let Some(parent) = out.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                use strata_layer::TarKind;
                match h.kind {
                    TarKind::Dir => std::fs::create_dir_all(&out)?,
                    TarKind::File => {
                        let mut f = std::fs::File::create(&out)
                            .with_context(|| format!("creating {}", out.display()))?;
                        io::copy(&mut tar.data(), &mut f)?;
                        f.flush()?;
                        set_mode(&out, h.mode)?;
                        files += 1;
                    }
                    TarKind::Symlink => {
                        let link = String::from_utf8_lossy(&h.link).into_owned();
                        std::os::unix::fs::symlink(&link, &out)?;
                    }
                    TarKind::HardLink => links.push((
                        out,
                        clean_path(&String::from_utf8_lossy(&h.link)).unwrap_or_default(),
                    )),
                    _ => skipped += 1,
                }
            }
        }
        stream.finish()?;
    }
    for (out, source) in links {
        if source == prefix || source.starts_with(&format!("{prefix}/")) {
            let from = target(&source);
            if from.is_file() {
                std::fs::hard_link(&from, &out)?;
                files += 1;
                continue;
            }
        }
        skipped += 1;
    }
    std::fs::rename(&staged, &dest)
        .with_context(|| format!("moving the extracted files to {}", dest.display()))?;
    let mut msg = format!("extracted /{prefix} to {} ({files} files", dest.display());
    if skipped > 0 {
        msg.push_str(&format!(", {skipped} devices or outside links skipped"));
    }
    msg.push(')');
    Ok(msg)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // No setuid/setgid bits on the host: the files are for reading.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o777))?;
    Ok(())
}

/// Write the selected layer's uncompressed tar to `dest`.
pub fn export_layer(app: &App, dest: &str) -> Result<String> {
    let dest = PathBuf::from(dest);
    if dest.symlink_metadata().is_ok() {
        bail!("{} already exists", dest.display());
    }
    let (parent, _) = (dest.parent(), ());
    let dir = match parent {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".strata-layer-")
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut stream = app.image.open_layer(app.layer)?;
    let n = io::copy(&mut stream, &mut tmp)?;
    stream.finish()?;
    tmp.flush()?;
    set_mode(tmp.path(), 0o644)?;
    tmp.persist_noclobber(&dest)
        .with_context(|| format!("writing {}", dest.display()))?;
    Ok(format!(
        "exported layer {} ({n} bytes) to {}",
        app.layer,
        dest.display()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hexdump_lines_show_offset_hex_and_ascii() {
        let lines = super::hexdump(b"\x00\x01ABC");
        assert_eq!(
            lines,
            vec![format!("00000000  {:<47}  ..ABC", "00 01 41 42 43")]
        );
    }
}
