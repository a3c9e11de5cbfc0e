//! Normalising image references the way docker does, for tag keys and lookups.
//!
//! `busybox` → `docker.io/library/busybox:latest`, `me/app:1` → `docker.io/me/app:1`,
//! `localhost:5000/app` → `localhost:5000/app:latest`. Tags are stored normalised and shown
//! in their familiar (short) form.

use crate::error::{Error, ErrorKind, Result};

const DEFAULT_DOMAIN: &str = "docker.io";

/// A normalised `name:tag` reference split into its repository and tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TagRef {
    /// Full repository name, e.g. `docker.io/library/busybox`.
    pub repository: String,
    pub tag: String,
}

impl TagRef {
    /// Parse and normalise a user-typed `name[:tag]`. A digest (`name@sha256:…`) is rejected
    /// here: tags name images by tag only.
    pub fn parse(input: &str) -> Result<TagRef> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("invalid reference {input:?}: {why}"),
            )
        };
        if input.contains('@') {
            return Err(bad("a digest reference cannot be used as a tag"));
        }
        let (name, tag) = match input.rfind(':') {
            Some(i) if !input[i + 1..].contains('/') => (&input[..i], &input[i + 1..]),
            _ => (input, "latest"),
        };
        if tag.is_empty()
            || tag.len() > 128
            || tag.starts_with(['.', '-'])
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return Err(bad(
                "tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
            ));
        }
        if name.is_empty() {
            return Err(bad("empty name"));
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let has_domain = parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost");
        let domain = if has_domain {
            parts.remove(0)
        } else {
            DEFAULT_DOMAIN
        };
        let domain = if domain == "index.docker.io" {
            DEFAULT_DOMAIN
        } else {
            domain
        };
        if !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(bad("invalid registry host"));
        }
        for p in &parts {
            let ok = !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && p.as_bytes()[0].is_ascii_alphanumeric()
                && p.as_bytes()[p.len() - 1].is_ascii_alphanumeric();
            if !ok {
                return Err(bad(
                    "repository name components must be lowercase letters, digits and separators",
                ));
            }
        }
        if domain == DEFAULT_DOMAIN && parts.len() == 1 {
            parts.insert(0, "library");
        }
        Ok(TagRef {
            repository: format!("{domain}/{}", parts.join("/")),
            tag: tag.to_owned(),
        })
    }

    /// The normalised string used as the database key.
    pub fn key(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The repository as docker prints it (`busybox`, `me/app`, `quay.io/x/y`).
    pub fn familiar_repository(&self) -> &str {
        self.repository
            .strip_prefix("docker.io/library/")
            .or_else(|| self.repository.strip_prefix("docker.io/"))
            .unwrap_or(&self.repository)
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
