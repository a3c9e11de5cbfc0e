//! Image references (`ubuntu`, `localhost:5000/a/b:tag`, `name@sha256:...`) with the
//! grammar and normalisation rules of distribution's `reference` package:
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] path            (at most 255 characters once normalised)
//! domain     := host [":" port]              host: dns-like components or "[ipv6]"
//! path       := component ("/" component)*   component: [a-z0-9]+ (sep [a-z0-9]+)*
//! sep        := "." | "_" | "__" | "-"+
//! tag        := [\w][\w.-]{0,127}
//! ```
//!
//! The first path segment is a domain when it contains `.` or `:`, is `localhost`, or has an
//! uppercase letter; otherwise the domain is `docker.io`, and a single-segment docker.io path
//! gains `library/`. `index.docker.io` is spelled `docker.io`. A reference with neither tag
//! nor digest gets the tag `latest`.
//!
//! One deliberate difference: distribution's regular expressions quietly fall back to "no
//! domain" when a first segment that looks like a host is not a valid one (`foo_bar.com/x`),
//! producing a reference with an empty domain. strata rejects such input as an invalid
//! domain instead of guessing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A normalised image reference: domain, path, and a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn bad(input: &str, why: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidReference,
        format!("invalid reference {input:?}: {why}"),
    )
}

impl Reference {
    /// Parse and normalise `s` (see the module docs for the rules).
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.is_empty() {
            return Err(bad(s, "repository name must have at least one component"));
        }
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(
                s,
                "cannot use a 64-character hexadecimal string as a repository name",
            ));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(parse_digest(s, d)?)),
            None => (s, None),
        };
        // A ':' after the last '/' starts the tag; earlier ones belong to a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|why| bad(s, why))?;
        }
        if name.is_empty() {
            return Err(bad(s, "repository name must have at least one component"));
        }
        let (domain, path) = split_domain(name);
        validate_domain(domain).map_err(|why| bad(s, why))?;
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(
                s,
                format!("repository name ({path}) must be lowercase"),
            ));
        }
        let mut domain = domain.to_owned();
        let mut path = path.to_owned();
        if domain == LEGACY_DEFAULT_DOMAIN {
            domain = DEFAULT_DOMAIN.to_owned();
        }
        if domain == DEFAULT_DOMAIN && !path.contains('/') {
            path.insert_str(0, OFFICIAL_PREFIX);
        }
        validate_path(&path).map_err(|why| bad(s, why))?;
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(bad(
                s,
                format!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"),
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The registry domain, with port if any: `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry: `library/ubuntu`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`: `docker.io/library/ubuntu`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The host to contact for the registry API: Docker Hub's API lives on
    /// `registry-1.docker.io`, every other domain serves itself.
    pub fn registry_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            "registry-1.docker.io"
        } else {
            &self.domain
        }
    }

    /// The same repository with tag `tag` (any digest is kept).
    pub fn with_tag(&self, tag: &str) -> Result<Self, Error> {
        validate_tag(tag).map_err(|why| bad(tag, why))?;
        Ok(Reference {
            tag: Some(tag.to_owned()),
            ..self.clone()
        })
    }

    /// The same repository pinned to `digest` (any tag is kept).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository with the digest only (what a pull by digest resolves).
    pub fn without_tag(&self) -> Self {
        Reference {
            tag: if self.digest.is_some() {
                None
            } else {
                self.tag.clone()
            },
            ..self.clone()
        }
    }

    /// What the registry API calls the manifest: the digest if pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// Docker's short form: `ubuntu:latest`, `user/app:1`, `localhost:5000/a:b`.
    pub fn familiar(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_PREFIX) {
                Some(short) if !short.contains('/') => short.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.repository()
        };
        self.push_suffix(&mut name);
        name
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(&d.to_string());
        }
    }
}

/// The domain is the first segment when it looks like a host; see the module docs.
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
}

fn parse_digest(input: &str, d: &str) -> Result<Digest, Error> {
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| bad(input, "invalid digest format"))?;
    let alg_ok = alg.split(['+', '.', '-', '_']).all(|c| {
        c.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && c.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(input, "invalid digest format"));
    }
    Digest::parse(d).map_err(|e| {
        Error::new(
            e.kind,
            format!("invalid reference {input:?}: {}", e.message),
        )
    })
}

/// Check a tag against `[\w][\w.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    if b.is_empty()
        || b.len() > 128
        || !word(b[0])
        || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
    {
        return Err(format!(
            "invalid tag format {tag:?}: must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
        ));
    }
    Ok(())
}

/// Check a repository path (`library/ubuntu`) against the path-component grammar; also what
/// the distribution spec requires of repository names in registry URLs.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("repository name must have at least one component".to_owned());
    }
    for component in path.split('/') {
        if !path_component_ok(component.as_bytes()) {
            return Err(format!(
                "path component {component:?} must be [a-z0-9]+ joined by '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

fn path_component_ok(c: &[u8]) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        // One run of alphanumerics...
        let start = i;
        while i < c.len() && alnum(c[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == c.len() {
            return true;
        }
        // ...then exactly one separator before the next run.
        let sep_start = i;
        while i < c.len() && !alnum(c[i]) {
            i += 1;
        }
        match &c[sep_start..i] {
            b"." | b"_" | b"__" => {}
            s if s.iter().all(|&b| b == b'-') => {}
            _ => return false,
        }
    }
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let err = || format!("invalid domain {domain:?}");
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(err)?;
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(err());
        }
        match after {
            "" => return Ok(()),
            p => (None, Some(p.strip_prefix(':').ok_or_else(err)?)),
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let component_ok = |c: &str| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        };
        if !host.split('.').all(component_ok) {
            return Err(err());
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid port in domain {domain:?}"));
        }
    }
    Ok(())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.repository();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Reference::parse(s)
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Reference::parse(&s).map_err(serde::de::Error::custom)
    }
}
