//! npm: `node_modules/**/package.json` (name, version, license, author).

use serde_json::Value;

use crate::fsview::{is_npm_manifest, ImageFs};
use crate::licenses;
use crate::model::{LayerRef, Package, PackageKind};
use crate::purl::purl;

pub fn catalog(fs: &ImageFs) -> (Vec<Package>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (path, layer, _) in fs.captured() {
        if !is_npm_manifest(path) {
            continue;
        }
        let Some(bytes) = fs.text(path) else { continue };
        let json: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("/{path}: not valid JSON ({e}); skipped"));
                continue;
            }
        };
        let (Some(full_name), Some(version)) = (
            json.get("name").and_then(Value::as_str),
            json.get("version").and_then(Value::as_str),
        ) else {
            continue;
        };
        let (namespace, name) = match full_name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
            _ => (None, full_name),
        };
        let Some(purl) = purl("npm", namespace, name, version, &[]) else {
            continue;
        };
        let mut lics = Vec::new();
        match json.get("license") {
            Some(Value::String(s)) => lics.extend(licenses::split_expression(s)),
            Some(Value::Object(o)) => {
                if let Some(t) = o.get("type").and_then(Value::as_str) {
                    lics.extend(licenses::split_expression(t));
                }
            }
            _ => {}
        }
        if let Some(Value::Array(list)) = json.get("licenses") {
            for l in list {
                if let Some(t) = l.get("type").and_then(Value::as_str).or(l.as_str()) {
                    lics.extend(licenses::split_expression(t));
                }
            }
        }
        let supplier = match json.get("author") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        out.push(Package {
            name: full_name.to_owned(),
            version: version.to_owned(),
            kind: PackageKind::Npm,
            purl,
            licenses: lics,
            source_name: None,
            source_version: None,
            arch: None,
            supplier,
            location: format!("/{path}"),
            files: Vec::new(),
            layer: Some(LayerRef {
                index: layer,
                diff_id: fs.layers()[layer].clone(),
            }),
        });
    }
    (out, notes)
}
