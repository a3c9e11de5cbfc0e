//! The JSON examples in the OCI image-spec text (the code blocks upstream validates against
//! its schemas) must validate here too, and parse into the typed model.

use std::path::PathBuf;

use strata_oci::media_type as mt;
use strata_oci::validate::validate;
use strata_oci::{RawConfig, RawManifest};

struct Example {
    file: &'static str,
    line: usize,
    media_type: String,
    body: String,
}

fn examples() -> Vec<Example> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer-cases/oci-image-spec");
    let mut out = Vec::new();
    for file in [
        "config.md",
        "descriptor.md",
        "image-index.md",
        "image-layout.md",
        "manifest.md",
    ] {
        let text = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join(file).display()));
        let mut lines = text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            let trimmed = line.trim_start();
            let Some(info) = trimmed.strip_prefix("```json,") else {
                continue;
            };
            let indent = line.len() - trimmed.len();
            let media_type = info
                .split('&')
                .find_map(|kv| kv.strip_prefix("mediatype="))
                .expect("example declares a media type")
                .replace("%2B", "+");
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l.get(indent..).unwrap_or(l.trim_start()));
                body.push('\n');
            }
            out.push(Example {
                file,
                line: n + 1,
                media_type,
                body,
            });
        }
    }
    out
}

#[test]
fn spec_examples_validate_and_parse() {
    let examples = examples();
    assert_eq!(examples.len(), 13, "upstream has 13 validated examples");
    for ex in &examples {
        let at = format!("{}:{}", ex.file, ex.line);
        validate(&ex.media_type, ex.body.as_bytes()).unwrap_or_else(|e| panic!("{at}: {e}"));
        match ex.media_type.as_str() {
            mt::OCI_MANIFEST | mt::OCI_INDEX => {
                let raw = RawManifest::parse(ex.body.as_bytes().to_vec(), Some(&ex.media_type))
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(raw.media_type.as_str(), ex.media_type, "{at}");
            }
            mt::OCI_CONFIG => {
                let raw = RawConfig::parse(ex.body.as_bytes().to_vec())
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let c = raw
                    .parsed
                    .config
                    .as_ref()
                    .expect("example has a config section");
                assert!(
                    c.exposed_ports
                        .as_ref()
                        .is_some_and(|p| p.contains_key("8080/tcp")),
                    "{at}"
                );
                assert_eq!(raw.parsed.rootfs.diff_ids.len(), 2, "{at}");
            }
            _ => {}
        }
    }
}
