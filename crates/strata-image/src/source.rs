//! Where an image lives, spelled as skopeo spells it.
//!
//! | spelling | source |
//! |---|---|
//! | `docker-archive:PATH[:REF]` | a `docker save` tar (classic or Docker ≥ 25) |
//! | `oci:DIR[:REF]` | an OCI image layout directory |
//! | `oci-archive:PATH[:REF]` | an OCI image layout as a tar |
//! | `docker://NAME[:TAG\|@DIGEST]` | a registry repository |
//! | `strata:NAME` or a bare name, ID or ID prefix | the local store |
//!
//! As in containers/image, the path ends at the first `:` after the transport prefix; what
//! follows is the reference (`docker-archive:a.tar:busybox:latest` names `busybox:latest`).
//! Transports strata does not implement (`containers-storage:`, `docker-daemon:`, `dir:`,
//! ...) are refused by name rather than read as local image names.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use strata_oci::Reference;

use crate::error::{Error, ErrorKind};

/// Where to open an image from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// The local store: a name, `name:tag`, `name@digest`, image ID or unique ID prefix.
    Store(String),
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    OciLayout {
        dir: PathBuf,
        reference: Option<String>,
    },
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    Registry(Reference),
}

/// skopeo transports strata knows of but does not read; named in the error.
const UNSUPPORTED_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "docker-daemon",
    "dir",
    "ostree",
    "sif",
    "tarball",
];

fn split_path(rest: &str) -> (PathBuf, Option<String>) {
    match rest.split_once(':') {
        Some((path, r)) if !r.is_empty() => (PathBuf::from(path), Some(r.to_owned())),
        Some((path, _)) => (PathBuf::from(path), None),
        None => (PathBuf::from(rest), None),
    }
}

impl FromStr for ImageSource {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("invalid image source {s:?}: {why}"),
            )
        };
        if let Some(rest) = s.strip_prefix("docker://") {
            let r = Reference::parse(rest).map_err(|e| invalid(&e.message))?;
            return Ok(ImageSource::Registry(r));
        }
        let Some((transport, rest)) = s.split_once(':') else {
            if s.is_empty() {
                return Err(invalid("an image name is required"));
            }
            return Ok(ImageSource::Store(s.to_owned()));
        };
        let path_required = || invalid("a path is required after the transport");
        match transport {
            "docker-archive" | "oci" | "oci-archive" => {
                let (path, reference) = split_path(rest);
                if path.as_os_str().is_empty() {
                    return Err(path_required());
                }
                Ok(match transport {
                    "docker-archive" => ImageSource::DockerArchive { path, reference },
                    "oci" => ImageSource::OciLayout {
                        dir: path,
                        reference,
                    },
                    _ => ImageSource::OciArchive { path, reference },
                })
            }
            "strata" => {
                if rest.is_empty() {
                    return Err(invalid("an image name is required after strata:"));
                }
                Ok(ImageSource::Store(rest.to_owned()))
            }
            "docker" => Err(invalid("registry sources are spelled docker://NAME")),
            t if rest.starts_with("//") => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "image source {s:?}: unknown transport {t}:// (use docker-archive:, oci:, oci-archive:, docker:// or a local image name)"
                ),
            )),
            t if UNSUPPORTED_TRANSPORTS.contains(&t) => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "image source {s:?}: transport {t}: is not supported (use docker-archive:, oci:, oci-archive:, docker:// or a local image name)"
                ),
            )),
            // `name:tag`, `host:port/name`: a store name.
            _ => Ok(ImageSource::Store(s.to_owned())),
        }
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_ref = |f: &mut fmt::Formatter<'_>, t: &str, p: &PathBuf, r: &Option<String>| {
            write!(f, "{t}:{}", p.display())?;
            if let Some(r) = r {
                write!(f, ":{r}")?;
            }
            Ok(())
        };
        match self {
            ImageSource::Store(name) => f.write_str(name),
            ImageSource::DockerArchive { path, reference } => {
                with_ref(f, "docker-archive", path, reference)
            }
            ImageSource::OciLayout { dir, reference } => with_ref(f, "oci", dir, reference),
            ImageSource::OciArchive { path, reference } => {
                with_ref(f, "oci-archive", path, reference)
            }
            ImageSource::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageSource {
        s.parse().unwrap()
    }

    #[test]
    fn skopeo_spellings() {
        assert_eq!(
            parse("docker-archive:/tmp/x.tar:busybox:latest"),
            ImageSource::DockerArchive {
                path: "/tmp/x.tar".into(),
                reference: Some("busybox:latest".into())
            }
        );
        assert_eq!(
            parse("docker-archive:x.tar"),
            ImageSource::DockerArchive {
                path: "x.tar".into(),
                reference: None
            }
        );
        assert_eq!(
            parse("oci:layout:v1"),
            ImageSource::OciLayout {
                dir: "layout".into(),
                reference: Some("v1".into())
            }
        );
        assert_eq!(
            parse("oci-archive:a.tar"),
            ImageSource::OciArchive {
                path: "a.tar".into(),
                reference: None
            }
        );
        let ImageSource::Registry(r) = parse("docker://localhost:5000/app:1") else {
            panic!("registry");
        };
        assert_eq!(r.to_string(), "localhost:5000/app:1");
        assert_eq!(
            parse("busybox:latest"),
            ImageSource::Store("busybox:latest".into())
        );
        assert_eq!(
            parse("localhost:5000/app"),
            ImageSource::Store("localhost:5000/app".into())
        );
        assert_eq!(parse("strata:app"), ImageSource::Store("app".into()));
        assert_eq!(parse("3f2a"), ImageSource::Store("3f2a".into()));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "docker-archive:/tmp/x.tar:busybox:latest",
            "oci:dir:v1",
            "oci-archive:a.tar",
            "docker://docker.io/library/busybox:latest",
            "busybox",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }

    #[test]
    fn refuses_unknown_and_empty() {
        let e = "containers-storage:busybox"
            .parse::<ImageSource>()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("containers-storage"), "{e}");
        let e = "ftp://host/x".parse::<ImageSource>().unwrap_err();
        assert!(e.message.contains("unknown transport ftp://"), "{e}");
        for bad in [
            "",
            "oci:",
            "docker-archive:",
            "strata:",
            "docker:busybox",
            "docker://UPPER",
        ] {
            let e = bad.parse::<ImageSource>().unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput, "{bad}: {e}");
        }
    }
}
