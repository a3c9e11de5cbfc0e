//! `--cache-to` and `--cache-from` values, with BuildKit's syntax: `type=registry,ref=REF`
//! (or a bare `REF`), `type=local,dest=DIR` / `type=local,src=DIR`, `mode=min|max`.
//! Options strata does not implement are errors naming them.

use std::path::PathBuf;

use strata_oci::Reference;

use crate::error::{BuildError, BuildErrorKind, Result};

/// Which step results `--cache-to` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Only the stages the final image is made from (BuildKit's default).
    #[default]
    Min,
    /// Every stage that ran.
    Max,
}

/// Where a cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLocation {
    /// A manifest in a registry, under the reference's tag.
    Registry(Reference),
    /// An OCI image layout directory; the manifest is named by `tag`.
    Local { dir: PathBuf, tag: String },
}

impl std::fmt::Display for CacheLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheLocation::Registry(r) => write!(f, "{r}"),
            CacheLocation::Local { dir, tag } => write!(f, "{}:{tag}", dir.display()),
        }
    }
}

/// A parsed `--cache-to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheTo {
    pub location: CacheLocation,
    pub mode: CacheMode,
    /// `ignore-error=true`: a failed export is a warning, not a failed build.
    pub ignore_error: bool,
}

/// A parsed `--cache-from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFrom {
    pub location: CacheLocation,
}

fn bad(flag: &str, spec: &str, why: impl std::fmt::Display) -> BuildError {
    BuildError::new(
        BuildErrorKind::Unsupported,
        format!("invalid {flag} {spec:?}: {why}"),
    )
}

struct Fields {
    kind: String,
    reference: Option<String>,
    dir: Option<String>,
    tag: Option<String>,
    mode: Option<String>,
    ignore_error: Option<bool>,
}

fn fields(flag: &str, spec: &str, dir_key: &str) -> Result<Fields> {
    let mut f = Fields {
        kind: String::new(),
        reference: None,
        dir: None,
        tag: None,
        mode: None,
        ignore_error: None,
    };
    if !spec.contains('=') {
        // `--cache-from user/app:cache` is short for type=registry,ref=user/app:cache.
        f.kind = "registry".into();
        f.reference = Some(spec.trim().to_owned());
        return Ok(f);
    }
    let boolean = |k: &str, v: &str| -> Result<bool> {
        match v {
            "true" | "" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(flag, spec, format!("{k}={v}: expected true or false"))),
        }
    };
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "type" => f.kind = v.to_owned(),
            "ref" => f.reference = Some(v.to_owned()),
            "tag" => f.tag = Some(v.to_owned()),
            "mode" if flag == "--cache-to" => f.mode = Some(v.to_owned()),
            "ignore-error" if flag == "--cache-to" => f.ignore_error = Some(boolean(&k, v)?),
            k2 if k2 == dir_key => f.dir = Some(v.to_owned()),
            // The format is always an OCI image manifest with gzip layers: asking for
            // exactly that is fine, asking for anything else is not implemented.
            "oci-mediatypes" | "image-manifest" if flag == "--cache-to" => {
                if !boolean(&k, v)? {
                    return Err(bad(flag, spec, format!("{k}=false is not supported")));
                }
            }
            "compression" if flag == "--cache-to" => {
                if v != "gzip" {
                    return Err(bad(
                        flag,
                        spec,
                        format!("compression={v} is not supported (only gzip)"),
                    ));
                }
            }
            other => {
                return Err(bad(
                    flag,
                    spec,
                    format!("option {other:?} is not supported"),
                ))
            }
        }
    }
    Ok(f)
}

fn location(flag: &str, spec: &str, dir_key: &str, f: &Fields) -> Result<CacheLocation> {
    match f.kind.as_str() {
        "registry" => {
            if f.dir.is_some() || f.tag.is_some() {
                return Err(bad(
                    flag,
                    spec,
                    format!("{dir_key}= and tag= are for type=local"),
                ));
            }
            let r = f
                .reference
                .as_deref()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| bad(flag, spec, "type=registry needs ref="))?;
            let reference = Reference::parse(r).map_err(|e| bad(flag, spec, e))?;
            if reference.digest().is_some() && flag == "--cache-to" {
                return Err(bad(
                    flag,
                    spec,
                    "a cache is written under a tag, not a digest",
                ));
            }
            Ok(CacheLocation::Registry(reference))
        }
        "local" => {
            if f.reference.is_some() {
                return Err(bad(flag, spec, "ref= is for type=registry"));
            }
            let dir = f
                .dir
                .as_deref()
                .filter(|d| !d.is_empty())
                .ok_or_else(|| bad(flag, spec, format!("type=local needs {dir_key}=")))?;
            let tag = f.tag.clone().unwrap_or_else(|| "latest".to_owned());
            strata_oci::reference::validate_tag(&tag)
                .map_err(|why| bad(flag, spec, format!("tag={tag}: {why}")))?;
            Ok(CacheLocation::Local {
                dir: PathBuf::from(dir),
                tag,
            })
        }
        "" => Err(bad(flag, spec, "type= is required (registry or local)")),
        other => Err(bad(
            flag,
            spec,
            format!("cache type {other:?} is not supported (registry or local)"),
        )),
    }
}

impl CacheTo {
    /// Parse a `--cache-to` value.
    pub fn parse(spec: &str) -> Result<CacheTo> {
        let flag = "--cache-to";
        let f = fields(flag, spec, "dest")?;
        let mode = match f.mode.as_deref() {
            None | Some("min") => CacheMode::Min,
            Some("max") => CacheMode::Max,
            Some(other) => return Err(bad(flag, spec, format!("mode={other}: use min or max"))),
        };
        Ok(CacheTo {
            location: location(flag, spec, "dest", &f)?,
            mode,
            ignore_error: f.ignore_error.unwrap_or(false),
        })
    }
}

impl CacheFrom {
    /// Parse a `--cache-from` value.
    pub fn parse(spec: &str) -> Result<CacheFrom> {
        let flag = "--cache-from";
        let f = fields(flag, spec, "src")?;
        Ok(CacheFrom {
            location: location(flag, spec, "src", &f)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_forms() {
        let t = CacheTo::parse("type=registry,ref=localhost:5000/app:cache,mode=max").unwrap();
        assert_eq!(t.mode, CacheMode::Max);
        let CacheLocation::Registry(r) = &t.location else {
            panic!("{t:?}")
        };
        assert_eq!(r.registry_host(), "localhost:5000");
        assert_eq!(r.tag(), Some("cache"));
        let bare = CacheFrom::parse("localhost:5000/app:cache").unwrap();
        assert_eq!(bare.location, t.location);
        assert_eq!(
            CacheTo::parse("type=registry,ref=r.example/a")
                .unwrap()
                .mode,
            CacheMode::Min
        );
    }

    #[test]
    fn local_forms() {
        let t = CacheTo::parse("type=local,dest=/tmp/c").unwrap();
        assert_eq!(
            t.location,
            CacheLocation::Local {
                dir: "/tmp/c".into(),
                tag: "latest".into()
            }
        );
        let f = CacheFrom::parse("type=local,src=/tmp/c,tag=v2").unwrap();
        assert_eq!(
            f.location,
            CacheLocation::Local {
                dir: "/tmp/c".into(),
                tag: "v2".into()
            }
        );
    }

    #[test]
    fn unsupported_and_malformed_are_errors_naming_the_option() {
        for (spec, needle) in [
            ("type=gha", "\"gha\""),
            ("type=inline", "\"inline\""),
            ("type=registry", "ref="),
            ("type=local,src=/x", "\"src\""),
            ("type=local", "dest="),
            ("type=registry,ref=a/b,mode=all", "mode=all"),
            ("type=registry,ref=a/b,compression=zstd", "compression=zstd"),
            (
                "type=registry,ref=a/b,oci-mediatypes=false",
                "oci-mediatypes=false",
            ),
            ("type=registry,ref=a/b,region=x", "\"region\""),
            ("ref=a/b", "type="),
        ] {
            let e = CacheTo::parse(spec).unwrap_err();
            assert_eq!(e.kind, BuildErrorKind::Unsupported, "{spec}");
            assert!(e.message.contains(needle), "{spec}: {}", e.message);
        }
        let e = CacheFrom::parse("type=registry,ref=a/b,mode=max").unwrap_err();
        assert!(e.message.contains("\"mode\""), "{}", e.message);
    }
}
