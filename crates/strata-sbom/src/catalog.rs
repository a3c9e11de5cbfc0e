//! Runs every cataloger over an [`ImageFs`] and assembles the [`Sbom`].

use crate::fsview::{Captured, ImageFs};
use crate::model::{Distro, ImageSubject, LayerRef, Sbom};
use crate::{apk, dpkg, npm, python, rpm};

/// Catalogue the final filesystem `fs` of the image `subject` describes.
pub fn catalog(fs: &ImageFs, subject: ImageSubject) -> Sbom {
    let distro = os_release(fs);
    let mut packages = Vec::new();
    let mut notes: Vec<String> = fs.notes().to_vec();
    packages.extend(dpkg::catalog(fs, distro.as_ref()));
    packages.extend(apk::catalog(fs, distro.as_ref()));
    notes.extend(rpm::notes(fs));
    packages.extend(python::catalog(fs));
    let (npm_pkgs, npm_notes) = npm::catalog(fs);
    packages.extend(npm_pkgs);
    notes.extend(npm_notes);
    for (_, layer, captured) in fs.captured() {
        if let Captured::Found(found) = captured {
            for p in found {
                let mut p = p.clone();
                p.layer = Some(LayerRef {
                    index: layer,
                    diff_id: fs.layers()[layer].clone(),
                });
                packages.push(p);
            }
        }
    }
    let mut sbom = Sbom {
        image: subject,
        distro,
        packages,
        notes,
    };
    sbom.normalize();
    sbom
}

/// `/etc/os-release`, or `/usr/lib/os-release` where the former is a symlink to it.
pub fn os_release(fs: &ImageFs) -> Option<Distro> {
    let bytes = fs
        .text("etc/os-release")
        .or_else(|| fs.text("usr/lib/os-release"))?;
    let text = String::from_utf8_lossy(bytes);
    let mut id = None;
    let mut version_id = None;
    let mut pretty_name = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches(['"', '\'']).to_owned();
        match k.trim() {
            "ID" => id = Some(v),
            "VERSION_ID" => version_id = Some(v),
            "PRETTY_NAME" => pretty_name = Some(v),
            _ => {}
        }
    }
    Some(Distro {
        id: id?,
        version_id,
        pretty_name,
    })
}
