//! Alpine's apk: `/lib/apk/db/installed` (records of `K:value` lines, blank-line separated).

use crate::fsview::ImageFs;
use crate::licenses;
use crate::model::{Distro, LayerRef, Package, PackageKind};
use crate::purl::purl;

pub const INSTALLED: &str = "lib/apk/db/installed";

/// One record: its lines in order (`F:` and `R:` repeat, so a map would lose them).
#[derive(Debug, Default)]
pub struct Record {
    pub lines: Vec<(char, String)>,
}

impl Record {
    /// The first value of field `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let k = key.chars().next()?;
        self.lines
            .iter()
            .find(|(c, _)| *c == k)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_records(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut current = Record::default();
    for line in text.lines() {
        if line.is_empty() {
            if !current.lines.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let mut chars = line.chars();
        if let (Some(k), Some(':')) = (chars.next(), chars.next()) {
            current.lines.push((k, chars.as_str().to_owned()));
        }
    }
    if !current.lines.is_empty() {
        out.push(current);
    }
    out
}

pub fn catalog(fs: &ImageFs, distro: Option<&Distro>) -> Vec<Package> {
    let Some(text) = fs.text(INSTALLED) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(text);
    let distro_q = distro.map(|d| match &d.version_id {
        Some(v) => format!("{}-{}", d.id, v),
        None => d.id.clone(),
    });
    let mut out = Vec::new();
    for rec in parse_records(&text) {
        let (Some(name), Some(version)) = (rec.get("P"), rec.get("V")) else {
            continue;
        };
        let arch = rec.get("A").map(str::to_owned);
        let Some(purl) = purl(
            "apk",
            Some(distro.map_or("alpine", |d| d.id.as_str())),
            name,
            version,
            &[
                ("arch", arch.as_deref().unwrap_or("")),
                ("distro", distro_q.as_deref().unwrap_or("")),
            ],
        ) else {
            continue;
        };
        let mut files = Vec::new();
        let mut folder = String::new();
        for (k, v) in &rec.lines {
            match k {
                'F' => folder = v.clone(),
                'R' => {
                    let path = if folder.is_empty() {
                        format!("/{v}")
                    } else {
                        format!("/{folder}/{v}")
                    };
                    if fs.exists(&path) {
                        files.push(path);
                    }
                }
                _ => {}
            }
        }
        let layer = fs
            .introduced_in(INSTALLED, name, version)
            .or_else(|| fs.layer_of(INSTALLED))
            .map(|index| LayerRef {
                index,
                diff_id: fs.layers()[index].clone(),
            });
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            kind: PackageKind::Apk,
            purl,
            licenses: rec
                .get("L")
                .map(licenses::split_expression)
                .unwrap_or_default(),
            source_name: Some(rec.get("o").unwrap_or(name).to_owned()),
            source_version: Some(version.to_owned()),
            arch,
            supplier: rec.get("m").map(str::to_owned),
            location: format!("/{INSTALLED}"),
            files,
            layer,
        });
    }
    out
}
