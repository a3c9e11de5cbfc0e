//! Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and single-file
//! `*.egg-info` (RFC 822 style headers, the core metadata specification).

use crate::fsview::{is_python_metadata, ImageFs};
use crate::licenses;
use crate::model::{LayerRef, Package, PackageKind};
use crate::purl::purl;

pub fn catalog(fs: &ImageFs) -> Vec<Package> {
    let mut out = Vec::new();
    for (path, layer, _) in fs.captured() {
        if !is_python_metadata(path) {
            continue;
        }
        let Some(bytes) = fs.text(path) else { continue };
        let text = String::from_utf8_lossy(bytes);
        let headers = headers(&text);
        let get = |k: &str| {
            headers
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(name), Some(version)) = (get("Name"), get("Version")) else {
            continue;
        };
        let mut lics = Vec::new();
        if let Some(expr) = get("License-Expression") {
            lics.extend(licenses::split_expression(expr));
        } else {
            for (h, v) in &headers {
                if h.eq_ignore_ascii_case("Classifier") {
                    if let Some(l) = classifier_license(v) {
                        lics.push(l);
                    }
                }
            }
            if lics.is_empty() {
                if let Some(l) = get("License").filter(|l| short_license_field(l)) {
                    lics.extend(licenses::split_expression(l));
                }
            }
        }
        let Some(purl) = purl("pypi", None, &normalize_name(name), version, &[]) else {
            continue;
        };
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            kind: PackageKind::Python,
            purl,
            licenses: lics,
            source_name: None,
            source_version: None,
            arch: None,
            supplier: get("Author").filter(|a| !a.is_empty()).map(str::to_owned),
            location: format!("/{path}"),
            files: Vec::new(),
            layer: Some(LayerRef {
                index: layer,
                diff_id: fs.layers()[layer].clone(),
            }),
        });
    }
    out
}

/// PEP 503 name normalisation, as PyPI PURLs use it.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

/// The header block (up to the first blank line), continuation lines joined.
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// `License :: OSI Approved :: MIT License` → `MIT`.
fn classifier_license(classifier: &str) -> Option<String> {
    let rest = classifier.strip_prefix("License ::")?;
    let last = rest.rsplit("::").next()?.trim();
    let id = match last {
        "MIT License" => "MIT",
        "BSD License" => return Some(licenses::license_ref("BSD")),
        "Apache Software License" => "Apache-2.0",
        "ISC License (ISCL)" => "ISC",
        "Python Software Foundation License" => "PSF-2.0",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "GNU General Public License v2 (GPLv2)" => "GPL-2.0-only",
        "GNU General Public License v2 or later (GPLv2+)" => "GPL-2.0-or-later",
        "GNU General Public License v3 (GPLv3)" => "GPL-3.0-only",
        "GNU General Public License v3 or later (GPLv3+)" => "GPL-3.0-or-later",
        "GNU Lesser General Public License v2 or later (LGPLv2+)" => "LGPL-2.0-or-later",
        "GNU Lesser General Public License v3 (LGPLv3)" => "LGPL-3.0-only",
        "The Unlicense (Unlicense)" => "Unlicense",
        other => return Some(licenses::license_ref(other)),
    };
    Some(id.to_owned())
}

/// Some packages put the whole licence text in `License:`; only a short name is usable.
fn short_license_field(value: &str) -> bool {
    !value.is_empty() && value.len() <= 64 && !value.eq_ignore_ascii_case("UNKNOWN")
}
