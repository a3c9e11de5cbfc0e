//! dpkg: `/var/lib/dpkg/status` (installed packages only) and `/var/lib/dpkg/status.d/*`
//! (one paragraph per file, as distroless images write them), owned files from
//! `/var/lib/dpkg/info/<name>[:<arch>].list`, licences from `/usr/share/doc/<name>/copyright`.

use std::collections::BTreeMap;

use crate::fsview::ImageFs;
use crate::licenses;
use crate::model::{Distro, LayerRef, Package, PackageKind};
use crate::purl::purl;

pub const STATUS: &str = "var/lib/dpkg/status";

/// One deb822 paragraph: field name → value (continuation lines joined with `\n`).
pub type Paragraph = BTreeMap<String, String>;

/// Parse deb822 paragraphs (blank-line separated `Field: value` lines, continuation lines
/// start with a space or tab).
pub fn parse_paragraphs(text: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current = Paragraph::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            last = None;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(field) = &last {
                if let Some(v) = current.get_mut(field) {
                    v.push('\n');
                    v.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_owned();
            current.insert(k.clone(), v.trim().to_owned());
            last = Some(k);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// All dpkg packages of the image.
pub fn catalog(fs: &ImageFs, distro: Option<&Distro>) -> Vec<Package> {
    let mut out = Vec::new();
    if let Some(text) = fs.text(STATUS) {
        let text = String::from_utf8_lossy(text);
        for para in parse_paragraphs(&text) {
            let installed = para
                .get("Status")
                .is_none_or(|s| s.split_whitespace().last() == Some("installed"));
            if !installed {
                continue;
            }
            if let Some(p) = package(fs, distro, &para, STATUS) {
                out.push(p);
            }
        }
    }
    let status_d: Vec<(String, usize)> = fs
        .captured()
        .filter(|(p, _, _)| p.starts_with("var/lib/dpkg/status.d/"))
        .map(|(p, l, _)| (p.to_owned(), l))
        .collect();
    for (path, layer) in status_d {
        let Some(text) = fs.text(&path) else { continue };
        let text = String::from_utf8_lossy(text);
        for para in parse_paragraphs(&text) {
            if let Some(mut p) = package(fs, distro, &para, &path) {
                p.layer = Some(LayerRef {
                    index: layer,
                    diff_id: fs.layers()[layer].clone(),
                });
                out.push(p);
            }
        }
    }
    out
}

fn package(fs: &ImageFs, distro: Option<&Distro>, para: &Paragraph, db: &str) -> Option<Package> {
    let name = para.get("Package")?.clone();
    let version = para.get("Version")?.clone();
    let arch = para.get("Architecture").cloned();
    // `Source: name` or `Source: name (version)` when the source version differs.
    let (source_name, source_version) = match para.get("Source") {
        Some(s) => match s.split_once(' ') {
            Some((n, v)) => (
                n.to_owned(),
                v.trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .to_owned(),
            ),
            None => (s.clone(), version.clone()),
        },
        None => (name.clone(), version.clone()),
    };
    let distro_q = distro.map(|d| match &d.version_id {
        Some(v) => format!("{}-{}", d.id, v),
        None => d.id.clone(),
    });
    let namespace = distro.map_or("debian", |d| d.id.as_str());
    let purl = purl(
        "deb",
        Some(namespace),
        &name,
        &version,
        &[
            ("arch", arch.as_deref().unwrap_or("")),
            ("distro", distro_q.as_deref().unwrap_or("")),
        ],
    )?;
    let files = owned_files(fs, &name, arch.as_deref());
    let licenses = fs
        .text(&format!("usr/share/doc/{name}/copyright"))
        .map(|b| licenses::from_debian_copyright(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let layer = fs
        .introduced_in(db, &name, &version)
        .or_else(|| fs.layer_of(db))
        .map(|index| LayerRef {
            index,
            diff_id: fs.layers()[index].clone(),
        });
    Some(Package {
        name,
        version,
        kind: PackageKind::Deb,
        purl,
        licenses,
        source_name: Some(source_name),
        source_version: Some(source_version),
        arch,
        supplier: para.get("Maintainer").cloned(),
        location: format!("/{db}"),
        files,
        layer,
    })
}

/// The files `info/<name>.list` (or `<name>:<arch>.list` for multi-arch packages) names that
/// still exist in the final filesystem; directories are left out.
fn owned_files(fs: &ImageFs, name: &str, arch: Option<&str>) -> Vec<String> {
    let mut lists = vec![format!("var/lib/dpkg/info/{name}.list")];
    if let Some(a) = arch {
        lists.push(format!("var/lib/dpkg/info/{name}:{a}.list"));
    }
    let mut files = Vec::new();
    for list in lists {
        let Some(text) = fs.text(&list) else { continue };
        let text = String::from_utf8_lossy(text);
        let entries: Vec<&str> = text.lines().filter(|l| l.starts_with('/')).collect();
        for (i, line) in entries.iter().enumerate() {
            // A listed path that the next one extends is a directory.
            let is_dir = entries
                .get(i + 1)
                .is_some_and(|next| next.starts_with(line) && next[line.len()..].starts_with('/'));
            if line == &"/." || is_dir || !fs.exists(line) {
                continue;
            }
            files.push((*line).to_owned());
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_continuations_and_source_versions() {
        let text = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\
                    Description: GNU C Library\n shared libraries\n\nPackage: x\nVersion: 1\n";
        let paras = parse_paragraphs(text);
        assert_eq!(paras.len(), 2);
        assert_eq!(paras[0]["Description"], "GNU C Library\nshared libraries");
        assert_eq!(paras[1]["Version"], "1");
    }
}
