//! Tag references for the store: a user-typed `name[:tag]` normalised the way docker does
//! (through [`strata_oci::Reference`]): `busybox` → `docker.io/library/busybox:latest`,
//! `me/app:1` → `docker.io/me/app:1`. Tags are stored normalised and shown familiar.

use strata_oci::Reference;

use crate::error::{Error, ErrorKind, Result};

/// A normalised `name:tag` reference split into its repository and tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagRef {
    /// Full repository name, e.g. `docker.io/library/busybox`.
    pub repository: String,
    pub tag: String,
    familiar_repository: String,
}

impl TagRef {
    /// Parse and normalise a user-typed `name[:tag]`. A digest (`name@sha256:…`) is rejected
    /// here: tags name images by tag only.
    pub fn parse(input: &str) -> Result<TagRef> {
        let r = Reference::parse(input)?;
        if r.digest().is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("invalid reference {input:?}: a digest reference cannot be used as a tag"),
            ));
        }
        let tag = r
            .tag()
            .unwrap_or(strata_oci::reference::DEFAULT_TAG)
            .to_owned();
        let familiar = r
            .without_tag()
            .with_tag("x")
            .map(|t| t.familiar())
            .unwrap_or_default();
        let familiar_repository = familiar.strip_suffix(":x").unwrap_or(&familiar).to_owned();
        Ok(TagRef {
            repository: r.repository(),
            tag,
            familiar_repository,
        })
    }

    /// The normalised string used as the database key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The repository as docker prints it (`busybox`, `me/app`, `quay.io/x/y`).
    pub fn familiar_repository(&self) -> &str {
        &self.familiar_repository
    }

    /// `familiar_repository:tag`.
    pub fn familiar(&self) -> String {
        format!("{}:{}", self.familiar_repository(), self.tag)
    }

    /// Parse a key as stored in the database.
    pub(crate) fn from_key(key: &str) -> Result<TagRef> {
        TagRef::parse(key)
    }
}

impl std::fmt::Display for TagRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let cases = [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            ("me/app:1.0", "docker.io/me/app:1.0", "me/app:1.0"),
            (
                "localhost:5000/app",
                "localhost:5000/app:latest",
                "localhost:5000/app:latest",
            ),
            ("quay.io/a/b:x", "quay.io/a/b:x", "quay.io/a/b:x"),
            (
                "docker.io/library/alpine:3",
                "docker.io/library/alpine:3",
                "alpine:3",
            ),
            (
                "index.docker.io/alpine",
                "docker.io/library/alpine:latest",
                "alpine:latest",
            ),
        ];
        for (input, key, familiar) in cases {
            let r = TagRef::parse(input).unwrap();
            assert_eq!(r.key(), key, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
    }

    #[test]
    fn rejects_bad_references() {
        for s in [
            "",
            "Busybox",
            "a:",
            "a:-x",
            "a@sha256:00",
            "a//b",
            ":tag",
            "a/-b",
        ] {
            assert!(TagRef::parse(s).is_err(), "{s:?} accepted");
        }
    }
}
