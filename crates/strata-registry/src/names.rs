//! Validation of repository names, tags and references, as the distribution spec defines them.

use std::sync::LazyLock;

use regex::Regex;
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$",
    )
    .expect("valid name regex")
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("valid tag regex"));

/// Longest repository name accepted (the reference implementation's limit).
pub const MAX_NAME_LEN: usize = 255;

pub fn validate_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN || !NAME.is_match(name) {
        return Err(Error::new(
            ErrorKind::NameInvalid,
            format!("invalid repository name {name:?}"),
        ));
    }
    Ok(())
}

pub fn is_tag(s: &str) -> bool {
    TAG.is_match(s)
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => write!(f, "{d}"),
        }
    }
}

impl Reference {
    pub fn parse(s: &str) -> Result<Self> {
        if s.contains(':') {
            return parse_digest(s).map(Reference::Digest);
        }
        if is_tag(s) {
            return Ok(Reference::Tag(s.to_string()));
        }
        Err(Error::new(
            ErrorKind::ManifestInvalid,
            format!("invalid tag {s:?}"),
        ))
    }
}

pub fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| {
        Error::new(
            ErrorKind::DigestInvalid,
            format!("invalid digest {s:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/busybox", "a.b_c__d--e/f0", "x/y/z"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "a..b",
            "a___b",
            "-a",
            "a:b",
            &"a".repeat(256),
        ] {
            assert_eq!(
                validate_name(bad).unwrap_err().kind(),
                ErrorKind::NameInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn references() {
        assert_eq!(
            Reference::parse("v1.0").unwrap(),
            Reference::Tag("v1.0".into())
        );
        assert!(matches!(
            Reference::parse(&format!("sha256:{}", "a".repeat(64))).unwrap(),
            Reference::Digest(_)
        ));
        assert_eq!(
            Reference::parse("sha256:zz").unwrap_err().kind(),
            ErrorKind::DigestInvalid
        );
        assert!(Reference::parse(".bad").is_err());
        assert!(Reference::parse(&"t".repeat(129)).is_err());
    }
}
