//! Target platforms (`linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`), parsed and normalised
//! the way containerd's `platforms` package does, so that `aarch64`, `arm64` and `arm64/v8`
//! all name the same thing and compare equal.
//!
//! Normalisation choices (facts from containerd's platform database):
//! - OS is lowercased; `macos` becomes `darwin`.
//! - `x86_64`/`x86-64` become `amd64`, whose default variant `v1` is dropped.
//! - `aarch64` becomes `arm64`; its default variant is `v8` (as Docker Hub's manifest lists
//!   write it), and `8`/`v8.0` are spelled `v8`.
//! - `armhf` is `arm/v7`, `armel` is `arm/v6`; plain `arm` defaults to `v7`; numeric
//!   variants gain a `v` prefix.
//! - `i386` becomes `386`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// The platform an image or manifest is built for. Field order follows the OCI JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Fields this struct does not model (Docker manifest lists' `features`), kept for
    /// re-serialisation; ignored by [`Platform::matches`].
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];

const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64",
    "ppc64le", "riscv64", "s390x", "wasm",
];

impl Platform {
    /// A normalised platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            ..Platform::default()
        }
        .normalized()
    }

    /// Parse `os/arch[/variant]`, `os(os.version)/arch`, or a single known OS or architecture
    /// (the missing half is taken from the host, as containerd does). The result is normalised.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidPlatform,
                format!("invalid platform {s:?}: {why}"),
            )
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let parts: Vec<&str> = s.split('/').collect();
        let (os_part, os_version) = match parts[0].split_once('(') {
            Some((os, rest)) => {
                let version = rest
                    .strip_suffix(')')
                    .ok_or_else(|| bad("unclosed '(' in os"))?;
                if version.is_empty() || version.contains(['(', ')']) {
                    return Err(bad("malformed os version"));
                }
                (os, Some(version.to_owned()))
            }
            None => (parts[0], None),
        };
        for (i, part) in parts.iter().enumerate() {
            let part = if i == 0 { os_part } else { part };
            if part.is_empty() {
                return Err(bad("empty component"));
            }
            if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
            {
                return Err(bad(&format!(
                    "component {part:?} has characters outside [A-Za-z0-9_.-]"
                )));
            }
        }
        let mut p = match parts.len() {
            1 => {
                let lower = os_part.to_ascii_lowercase();
                let host = Platform::host();
                if KNOWN_OS.contains(&normalize_os(&lower).as_str()) {
                    Platform { os: lower, ..host }
                } else {
                    let (arch, _) = normalize_arch(&lower, "");
                    if !KNOWN_ARCH.contains(&arch.as_str()) {
                        return Err(bad("unknown operating system or architecture"));
                    }
                    Platform::new("linux", &lower, None)
                }
            }
            2 => Platform::new(os_part, parts[1], None),
            3 => Platform::new(os_part, parts[1], Some(parts[2])),
            _ => return Err(bad("expected os/arch[/variant]")),
        };
        p.os_version = os_version;
        Ok(p.normalized())
    }

    /// The platform of the running host.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, None)
    }

    /// This platform with its OS, architecture and variant normalised.
    pub fn normalized(mut self) -> Self {
        self.os = normalize_os(&self.os);
        let (arch, variant) =
            normalize_arch(&self.architecture, self.variant.as_deref().unwrap_or(""));
        self.architecture = arch;
        self.variant = if variant.is_empty() {
            None
        } else {
            Some(variant)
        };
        self
    }

    /// Whether an image for `candidate` satisfies a request for `self`: same OS and architecture
    /// after normalisation, and variants equal unless one side leaves it unspecified. An
    /// `os.version` is compared only when both sides give one.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let a = self.clone().normalized();
        let b = candidate.clone().normalized();
        if a.os != b.os || a.architecture != b.architecture {
            return false;
        }
        let variant_ok = match (&a.variant, &b.variant) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        let version_ok = match (&a.os_version, &b.os_version) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        };
        variant_ok && version_ok
    }
}

impl Platform {
    /// How well an image built for `candidate` runs on this platform (taken as the host):
    /// `Some(0)` is a native match and larger numbers are worse fallbacks, following
    /// containerd's ordering (`amd64/v3` runs `v2`, `v1`, then `386`; `arm64` runs `arm/v8`
    /// down to `arm/v5`; `arm/v7` runs `v6` and `v5`). `None`: it cannot run here.
    pub fn compatibility(&self, candidate: &Platform) -> Option<usize> {
        let host = self.clone().normalized();
        let cand = candidate.clone().normalized();
        if host.os != cand.os {
            return None;
        }
        if let (Some(a), Some(b)) = (&host.os_version, &cand.os_version) {
            if a != b {
                return None;
            }
        }
        let want = (
            cand.architecture.as_str(),
            cand.variant.as_deref().unwrap_or(""),
        );
        runnable(&host)
            .iter()
            .position(|(a, v)| (a.as_str(), v.as_str()) == want)
    }
}

/// The (architecture, variant) pairs `host` can run, best first.
fn runnable(host: &Platform) -> Vec<(String, String)> {
    let variant = host.variant.clone().unwrap_or_default();
    let level = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
    let pair = |a: &str, v: String| (a.to_owned(), v);
    let mut out = vec![pair(&host.architecture, variant.clone())];
    match host.architecture.as_str() {
        "amd64" => {
            // An unspecified amd64 variant is v1, which normalisation writes as "".
            for n in (1..level(&variant).unwrap_or(1)).rev() {
                out.push(pair(
                    "amd64",
                    if n == 1 {
                        String::new()
                    } else {
                        format!("v{n}")
                    },
                ));
            }
            out.push(pair("386", String::new()));
        }
        "arm64" => {
            if variant != "v8" {
                out.push(pair("arm64", "v8".to_owned()));
            }
            out.extend((5..=8).rev().map(|n| pair("arm", format!("v{n}"))));
        }
        "arm" => {
            if let Some(n) = level(&variant) {
                out.extend((5..n).rev().map(|m| pair("arm", format!("v{m}"))));
            }
        }
        _ => {}
    }
    out
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_owned()
    } else {
        os
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let (a, v): (&str, String) = match arch.as_str() {
        "i386" | "386" => ("386", String::new()),
        "x86_64" | "x86-64" | "amd64" => (
            "amd64",
            if variant == "v1" {
                String::new()
            } else {
                variant
            },
        ),
        "aarch64" | "arm64" => {
            let v = match variant.as_str() {
                "" | "8" | "v8" | "v8.0" | "8.0" => "v8".to_owned(),
                "9" | "9.0" | "v9.0" => "v9".to_owned(),
                other if other.starts_with(|c: char| c.is_ascii_digit()) => format!("v{other}"),
                other => other.to_owned(),
            };
            ("arm64", v)
        }
        "armhf" => ("arm", "v7".to_owned()),
        "armel" => ("arm", "v6".to_owned()),
        "arm" => {
            let v = match variant.as_str() {
                "" | "7" => "v7".to_owned(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm", v)
        }
        _ => return (arch, variant),
    };
    (a.to_owned(), v)
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        if let Some(v) = &self.os_version {
            write!(f, "({v})")?;
        }
        write!(f, "/{}", self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Platform::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let cases = [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/arm64", "linux/arm64/v8"),
            ("linux/aarch64", "linux/arm64/v8"),
            ("linux/arm64/v8", "linux/arm64/v8"),
            ("linux/arm64/8", "linux/arm64/v8"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/i386", "linux/386"),
            ("Linux/AMD64", "linux/amd64"),
            ("macos/arm64", "darwin/arm64/v8"),
            ("windows(10.0.17763)/amd64", "windows(10.0.17763)/amd64"),
            ("arm64", "linux/arm64/v8"),
        ];
        for (input, want) in cases {
            let p = Platform::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.to_string(), want, "input {input}");
        }
        let p = Platform::parse("linux").unwrap();
        assert_eq!(
            (p.os.as_str(), &p.architecture),
            ("linux", &Platform::host().architecture)
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "linux/",
            "/amd64",
            "linux/amd64/v8/x",
            "linux/am d64",
            "nonsense",
            "linux(/amd64",
        ] {
            let e = Platform::parse(s).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidPlatform, "{s}");
            assert!(e.message.contains(&format!("{s:?}")), "{}", e.message);
        }
    }

    #[test]
    fn matching() {
        let p = |s| Platform::parse(s).unwrap();
        assert!(p("linux/arm64").matches(&p("linux/aarch64/v8")));
        let unspecified = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            ..Default::default()
        };
        assert!(unspecified.matches(&p("linux/amd64/v2")));
        assert!(!p("linux/arm/v7").matches(&p("linux/arm/v6")));
        assert!(!p("linux/amd64").matches(&p("linux/arm64")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
        assert!(Platform::host().matches(&Platform::host()));
    }

    #[test]
    fn keeps_unknown_fields_but_ignores_them_when_matching() {
        let json = r#"{"architecture":"arm64","os":"linux","variant":"v8","features":["sse4"]}"#;
        let p: Platform = serde_json::from_str(json).unwrap();
        assert_eq!(p.extra["features"][0], "sse4");
        assert_eq!(serde_json::to_string(&p).unwrap(), json);
        assert!(Platform::parse("linux/arm64").unwrap().matches(&p));
    }

    #[test]
    fn compatibility_orders_fallbacks() {
        let p = |s| Platform::parse(s).unwrap();
        let host = p("linux/amd64/v3");
        assert_eq!(host.compatibility(&p("linux/amd64/v3")), Some(0));
        assert_eq!(host.compatibility(&p("linux/amd64/v2")), Some(1));
        assert_eq!(host.compatibility(&p("linux/amd64")), Some(2));
        assert_eq!(host.compatibility(&p("linux/386")), Some(3));
        assert_eq!(host.compatibility(&p("linux/amd64/v4")), None);
        assert_eq!(host.compatibility(&p("windows/amd64")), None);
        assert_eq!(p("linux/amd64").compatibility(&p("linux/amd64/v2")), None);
        let arm64 = p("linux/aarch64");
        assert_eq!(arm64.compatibility(&p("linux/arm64/v8")), Some(0));
        assert!(arm64.compatibility(&p("linux/arm/v7")) < arm64.compatibility(&p("linux/arm/v6")));
        assert_eq!(arm64.compatibility(&p("linux/amd64")), None);
        let armv7 = p("linux/armhf");
        assert_eq!(armv7.compatibility(&p("linux/arm/v6")), Some(1));
        assert_eq!(armv7.compatibility(&p("linux/arm64")), None);
        assert_eq!(armv7.compatibility(&p("linux/arm/v8")), None);
    }

    #[test]
    fn serde_uses_oci_names() {
        let p: Platform = serde_json::from_str(
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.1","os.features":["win32k"]}"#,
        )
        .unwrap();
        assert_eq!(p.os_version.as_deref(), Some("10.0.1"));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"architecture":"amd64","os":"windows","os.version":"10.0.1","os.features":["win32k"]}"#
        );
    }
}
