//! Validation of OCI documents: the structure the OCI JSON schemas require, plus the checks
//! the spec's reference validator adds (registered digest algorithms have exact encodings,
//! `Env` entries are `KEY=value`, `data` is padded base64, `created` is RFC 3339).
//!
//! These checks work on the JSON value, not on the typed structs, so that descriptors naming
//! digest algorithms strata cannot compute (`sha256+b64:...`) are still judged by the schema's
//! rules. Typed parsing ([`crate::RawManifest::parse`]) runs these checks first.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::config::ImageConfig;
use crate::error::{Error, ErrorKind};
use crate::media_type::{self as mt, MediaType};

/// Media type of a standalone descriptor document.
pub const OCI_DESCRIPTOR: &str = "application/vnd.oci.descriptor.v1+json";

/// Which document a JSON value is meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Descriptor,
    Manifest,
    Index,
    Config,
    LayoutHeader,
}

impl DocumentKind {
    /// The kind validated for `media_type`, covering OCI and Docker types.
    pub fn for_media_type(media_type: &str) -> Option<Self> {
        Some(match media_type {
            OCI_DESCRIPTOR => DocumentKind::Descriptor,
            mt::OCI_MANIFEST | mt::DOCKER_MANIFEST => DocumentKind::Manifest,
            mt::OCI_INDEX | mt::DOCKER_MANIFEST_LIST => DocumentKind::Index,
            mt::OCI_CONFIG | mt::DOCKER_CONFIG => DocumentKind::Config,
            mt::OCI_LAYOUT_HEADER => DocumentKind::LayoutHeader,
            _ => return None,
        })
    }
}

/// How strictly to apply rules that real-world producers break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The schema requires at least one layer, but BuildKit and Docker write `"layers": []`
    /// for images with no filesystem changes (`FROM scratch` + metadata only).
    pub allow_empty_layers: bool,
}

impl Rules {
    /// Exactly what the OCI schemas require.
    pub const SCHEMA: Rules = Rules {
        allow_empty_layers: false,
    };
    /// What strata accepts when reading documents from registries, archives and stores.
    pub const READ: Rules = Rules {
        allow_empty_layers: true,
    };
}

/// Validate `bytes` as a document of `media_type` under the schema rules.
pub fn validate(media_type: &str, bytes: &[u8]) -> Result<(), Error> {
    let kind = DocumentKind::for_media_type(media_type).ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            format!("no validator for media type {media_type:?}"),
        )
    })?;
    let value = parse_json(bytes, media_type)?;
    validate_value(kind, &value, Rules::SCHEMA)
}

pub(crate) fn parse_json(bytes: &[u8], what: &str) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidDocument,
            format!("{what}: invalid json: {e}"),
        )
    })
}

/// Validate an already parsed JSON value as a document of `kind`.
pub fn validate_value(kind: DocumentKind, value: &Value, rules: Rules) -> Result<(), Error> {
    let mut c = Checker { rules };
    match kind {
        DocumentKind::Descriptor => c.descriptor(value, "descriptor"),
        DocumentKind::Manifest => c.manifest(value),
        DocumentKind::Index => c.index(value),
        DocumentKind::Config => c.config(value),
        DocumentKind::LayoutHeader => c.layout_header(value),
    }
}

fn invalid(path: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidDocument, format!("{path}: {why}"))
}

struct Checker {
    rules: Rules,
}

impl Checker {
    fn object<'a>(&self, v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Error> {
        v.as_object()
            .ok_or_else(|| invalid(path, "must be a json object"))
    }

    fn string<'a>(&self, v: &'a Value, path: &str) -> Result<&'a str, Error> {
        v.as_str().ok_or_else(|| invalid(path, "must be a string"))
    }

    fn opt_string<'a>(
        &self,
        o: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a str>, Error> {
        o.get(key)
            .map(|v| self.string(v, &format!("{path}.{key}")))
            .transpose()
    }

    fn media_type(&self, v: &Value, path: &str) -> Result<(), Error> {
        let s = self.string(v, path)?;
        if MediaType::from(s).is_well_formed() {
            Ok(())
        } else {
            Err(invalid(path, format!("{s:?} is not a valid media type")))
        }
    }

    fn annotations(&self, o: &Map<String, Value>, path: &str) -> Result<(), Error> {
        let Some(v) = o.get("annotations") else {
            return Ok(());
        };
        let path = format!("{path}.annotations");
        for (k, v) in self.object(v, &path)? {
            self.string(v, &format!("{path}[{k:?}]"))?;
        }
        Ok(())
    }

    fn schema_version(&self, o: &Map<String, Value>, path: &str) -> Result<(), Error> {
        match o.get("schemaVersion") {
            None => Err(invalid(path, "schemaVersion is required")),
            Some(v) if v.as_u64() == Some(2) => Ok(()),
            Some(v) => Err(invalid(path, format!("schemaVersion must be 2, found {v}"))),
        }
    }

    fn descriptor(&mut self, v: &Value, path: &str) -> Result<(), Error> {
        let o = self.object(v, path)?;
        let media_type = o
            .get("mediaType")
            .ok_or_else(|| invalid(path, "mediaType is required"))?;
        self.media_type(media_type, &format!("{path}.mediaType"))?;
        match o.get("size") {
            None => return Err(invalid(path, "size is required")),
            Some(s) if s.as_u64().is_some() || s.as_i64().is_some_and(|n| n >= 0) => {}
            Some(s) => {
                return Err(invalid(
                    &format!("{path}.size"),
                    format!("must be a non-negative integer, found {s}"),
                ))
            }
        }
        let digest = o
            .get("digest")
            .ok_or_else(|| invalid(path, "digest is required"))?;
        check_digest_syntax(self.string(digest, &format!("{path}.digest"))?)
            .map_err(|why| invalid(&format!("{path}.digest"), why))?;
        if let Some(urls) = o.get("urls") {
            let urls = urls
                .as_array()
                .ok_or_else(|| invalid(&format!("{path}.urls"), "must be an array"))?;
            for (i, u) in urls.iter().enumerate() {
                let p = format!("{path}.urls[{i}]");
                let s = self.string(u, &p)?;
                if !is_absolute_uri(s) {
                    return Err(invalid(&p, format!("{s:?} is not an absolute uri")));
                }
            }
        }
        if let Some(data) = o.get("data") {
            let p = format!("{path}.data");
            let s = self.string(data, &p)?;
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| invalid(&p, format!("invalid base64: {e}")))?;
        }
        if let Some(t) = o.get("artifactType") {
            self.media_type(t, &format!("{path}.artifactType"))?;
        }
        if let Some(p) = o.get("platform") {
            self.platform(p, &format!("{path}.platform"))?;
        }
        self.annotations(o, path)
    }

    fn platform(&self, v: &Value, path: &str) -> Result<(), Error> {
        let o = self.object(v, path)?;
        for key in ["architecture", "os"] {
            let s = o
                .get(key)
                .ok_or_else(|| invalid(path, format!("{key} is required")))?;
            self.string(s, &format!("{path}.{key}"))?;
        }
        self.opt_string(o, "os.version", path)?;
        self.opt_string(o, "variant", path)?;
        if let Some(f) = o.get("os.features") {
            self.string_array(f, &format!("{path}.os.features"))?;
        }
        Ok(())
    }

    fn string_array<'a>(&self, v: &'a Value, path: &str) -> Result<Vec<&'a str>, Error> {
        let a = v
            .as_array()
            .ok_or_else(|| invalid(path, "must be an array of strings"))?;
        a.iter()
            .enumerate()
            .map(|(i, s)| self.string(s, &format!("{path}[{i}]")))
            .collect()
    }

    fn manifest(&mut self, v: &Value) -> Result<(), Error> {
        let path = "manifest";
        let o = self.object(v, path)?;
        self.schema_version(o, path)?;
        if let Some(m) = o.get("mediaType") {
            self.media_type(m, "manifest.mediaType")?;
            let m = m.as_str().unwrap_or_default();
            if !MediaType::from(m).is_manifest() {
                return Err(invalid(
                    "manifest.mediaType",
                    format!("{m:?} is not an image manifest media type"),
                ));
            }
        }
        if let Some(t) = o.get("artifactType") {
            self.media_type(t, "manifest.artifactType")?;
        }
        let config = o
            .get("config")
            .ok_or_else(|| invalid(path, "config is required"))?;
        self.descriptor(config, "manifest.config")?;
        let layers = o
            .get("layers")
            .ok_or_else(|| invalid(path, "layers is required"))?;
        let layers = layers
            .as_array()
            .ok_or_else(|| invalid("manifest.layers", "must be an array"))?;
        if layers.is_empty() && !self.rules.allow_empty_layers {
            return Err(invalid("manifest.layers", "must have at least one entry"));
        }
        for (i, l) in layers.iter().enumerate() {
            self.descriptor(l, &format!("manifest.layers[{i}]"))?;
        }
        if let Some(s) = o.get("subject") {
            self.descriptor(s, "manifest.subject")?;
        }
        // An artifact using the empty config must say what it is.
        if config.get("mediaType").and_then(Value::as_str) == Some(mt::OCI_EMPTY)
            && !o.contains_key("artifactType")
        {
            return Err(invalid(
                path,
                "artifactType is required when config.mediaType is the empty config type",
            ));
        }
        self.annotations(o, path)
    }

    fn index(&mut self, v: &Value) -> Result<(), Error> {
        let path = "index";
        let o = self.object(v, path)?;
        self.schema_version(o, path)?;
        if let Some(m) = o.get("mediaType") {
            self.media_type(m, "index.mediaType")?;
            let m = m.as_str().unwrap_or_default();
            if !MediaType::from(m).is_index() {
                return Err(invalid(
                    "index.mediaType",
                    format!("{m:?} is not an image index media type"),
                ));
            }
        }
        if let Some(t) = o.get("artifactType") {
            self.media_type(t, "index.artifactType")?;
        }
        let manifests = o
            .get("manifests")
            .ok_or_else(|| invalid(path, "manifests is required"))?;
        let manifests = manifests
            .as_array()
            .ok_or_else(|| invalid("index.manifests", "must be an array"))?;
        for (i, m) in manifests.iter().enumerate() {
            self.descriptor(m, &format!("index.manifests[{i}]"))?;
        }
        if let Some(s) = o.get("subject") {
            self.descriptor(s, "index.subject")?;
        }
        self.annotations(o, path)
    }

    fn config(&mut self, v: &Value) -> Result<(), Error> {
        let path = "config";
        let o = self.object(v, path)?;
        for key in ["architecture", "os"] {
            let s = o
                .get(key)
                .ok_or_else(|| invalid(path, format!("{key} is required")))?;
            self.string(s, &format!("config.{key}"))?;
        }
        let rootfs = o
            .get("rootfs")
            .ok_or_else(|| invalid(path, "rootfs is required"))?;
        let r = self.object(rootfs, "config.rootfs")?;
        match r.get("type") {
            Some(Value::String(t)) if t == "layers" => {}
            Some(t) => {
                return Err(invalid(
                    "config.rootfs.type",
                    format!("must be \"layers\", found {t}"),
                ))
            }
            None => return Err(invalid("config.rootfs", "type is required")),
        }
        let diff_ids = r
            .get("diff_ids")
            .ok_or_else(|| invalid("config.rootfs", "diff_ids is required"))?;
        self.string_array(diff_ids, "config.rootfs.diff_ids")?;
        // Field types everywhere else are checked by the typed parse.
        let parsed: ImageConfig =
            serde_json::from_value(v.clone()).map_err(|e| invalid(path, e))?;
        if let Some(created) = &parsed.created {
            check_rfc3339(created).map_err(|why| invalid("config.created", why))?;
        }
        for (i, h) in parsed.history.iter().enumerate() {
            if let Some(created) = &h.created {
                check_rfc3339(created)
                    .map_err(|why| invalid(&format!("config.history[{i}].created"), why))?;
            }
        }
        if let Some(env) = parsed.config.as_ref().and_then(|c| c.env.as_ref()) {
            for (i, e) in env.iter().enumerate() {
                if e.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                    return Err(invalid(
                        &format!("config.config.Env[{i}]"),
                        format!("{e:?} is not KEY=value"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn layout_header(&self, v: &Value) -> Result<(), Error> {
        let o = self.object(v, "oci-layout")?;
        match o.get("imageLayoutVersion") {
            Some(Value::String(s)) if s == "1.0.0" => Ok(()),
            Some(other) => Err(invalid(
                "oci-layout.imageLayoutVersion",
                format!("must be \"1.0.0\", found {other}"),
            )),
            None => Err(invalid("oci-layout", "imageLayoutVersion is required")),
        }
    }
}

/// Check `algorithm:encoded` against the OCI digest grammar; for registered algorithms
/// (sha256, sha384, sha512) the encoded part must also be lowercase hex of the right length.
/// Other well-formed algorithms pass: the spec lets them through, verification cannot.
pub fn check_digest_syntax(s: &str) -> Result<(), String> {
    let (alg, enc) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} has no ':'"))?;
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !alg_ok {
        return Err(format!(
            "{s:?}: algorithm {alg:?} does not match [a-z0-9]+([+._-][a-z0-9]+)*"
        ));
    }
    if enc.is_empty()
        || !enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
    {
        return Err(format!(
            "{s:?}: encoded part does not match [a-zA-Z0-9=_-]+"
        ));
    }
    let hex_len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Ok(()),
    };
    if enc.len() != hex_len
        || !enc
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "{s:?}: {alg} needs {hex_len} lowercase hex characters"
        ));
    }
    Ok(())
}

/// `scheme:rest` with an RFC 3986 scheme and no whitespace or control characters.
fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn check_rfc3339(s: &str) -> Result<(), String> {
    let bad = || format!("{s:?} is not an RFC 3339 date-time");
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return Err(bad());
    }
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return Err(bad());
    }
    let mut i = 19;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) =>
        {
            Ok(())
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_grammar() {
        let hex = "c86f7763873b6c0aae22d963bab59b4f5debbed6685761b5951584f6efb0633b";
        for ok in [
            format!("sha256:{hex}"),
            format!("sha256+b64:{hex}"),
            "multihash+base58:QmRZ".into(),
            "sha256.foo-bar:abc".into(),
        ] {
            assert!(check_digest_syntax(&ok).is_ok(), "{ok}");
        }
        for bad in [
            format!("sha256+foo+-b:{hex}"),
            format!("SHA256:{hex}"),
            "sha256".into(),
            format!(":{hex}"),
            "sha256:abc".into(),
            format!("sha256:{}", hex.to_uppercase()),
            "a:b c".into(),
        ] {
            assert!(check_digest_syntax(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339() {
        for ok in [
            "2015-10-31T22:22:56.015925234Z",
            "2015-10-31T22:22:56Z",
            "2024-01-01T00:00:00+01:00",
        ] {
            check_rfc3339(ok).unwrap();
        }
        for bad in [
            "2015-10-31",
            "2015-10-31 22:22:56Z",
            "2015-13-31T22:22:56Z",
            "2015-10-31T22:22:56",
            "2015-10-31T22:22:56.Z",
            "x",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uris() {
        assert!(is_absolute_uri("https://example.com/foo"));
        assert!(!is_absolute_uri("value"));
        assert!(!is_absolute_uri("1http://x"));
        assert!(!is_absolute_uri("http://a b"));
    }

    #[test]
    fn empty_layers_depend_on_rules() {
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": mt::OCI_CONFIG, "size": 2, "digest": crate::Digest::sha256_of(b"{}").to_string()},
            "layers": []
        });
        assert!(validate_value(DocumentKind::Manifest, &doc, Rules::SCHEMA).is_err());
        validate_value(DocumentKind::Manifest, &doc, Rules::READ).unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let e = validate(mt::OCI_CONFIG, br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["X"]}}"#).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidDocument);
        assert!(e.message.contains("config.config.Env[0]"), "{}", e.message);
        let e = validate("application/x-unknown", b"{}").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
    }
}
