//! The server configuration: one TOML file; command-line flags override a few fields.
//!
//! ```toml
//! addr = "127.0.0.1:5000"
//! [storage]
//! kind = "filesystem"          # or "s3"
//! path = "./registry-data"
//! # [storage.s3] bucket = "b", endpoint = "http://127.0.0.1:9000", ...
//! [tls]
//! cert = "cert.pem"
//! key = "key.pem"
//! [auth]
//! mode = "htpasswd"           # none | htpasswd | token
//! htpasswd = "users.htpasswd"
//! [gc]
//! interval = "1h"
//! grace = "1h"
//! [[retention]]
//! repositories = ["ci/*"]
//! keep_last = 10
//! [[notifications]]
//! url = "http://hooks.example/registry"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::AuthConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::notify::Endpoint;
use crate::retention::RetentionRule;
use crate::storage::s3::S3Config;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_addr")]
    pub addr: String,
    #[serde(default)]
    pub storage: StorageConfig,
    pub tls: Option<TlsConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub gc: GcConfig,
    #[serde(default)]
    pub retention: Vec<RetentionRule>,
    #[serde(default)]
    pub notifications: Vec<Endpoint>,
    /// Serve Prometheus metrics at `/metrics` (default true).
    #[serde(default = "yes")]
    pub metrics: bool,
    /// Grace period for in-flight requests on shutdown.
    #[serde(
        default = "default_shutdown",
        with = "crate::notify::humantime_serde_compat"
    )]
    pub shutdown_timeout: Duration,
}

fn yes() -> bool {
    true
}
fn default_addr() -> String {
    "127.0.0.1:5000".into()
}
fn default_shutdown() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    #[default]
    Filesystem,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default)]
    pub kind: StorageKind,
    #[serde(default = "default_path")]
    pub path: PathBuf,
    pub s3: Option<S3Config>,
}

fn default_path() -> PathBuf {
    PathBuf::from("./registry-data")
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Filesystem,
            path: default_path(),
            s3: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcConfig {
    /// Run retention and GC on this schedule while serving; unset = only on demand.
    #[serde(default, with = "opt_dur")]
    pub interval: Option<Duration>,
    #[serde(
        default = "default_grace",
        with = "crate::notify::humantime_serde_compat"
    )]
    pub grace: Duration,
    #[serde(
        default = "default_upload_grace",
        with = "crate::notify::humantime_serde_compat"
    )]
    pub upload_grace: Duration,
}

fn default_grace() -> Duration {
    Duration::from_secs(3600)
}
fn default_upload_grace() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: None,
            grace: default_grace(),
            upload_grace: default_upload_grace(),
        }
    }
}

mod opt_dur {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                humantime::parse_duration(&s)
                    .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?}: {e}")))
            })
            .transpose()
    }
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("empty config is valid")
    }
}

impl Config {
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        toml::from_str(text)
            .map_err(|e| Error::new(ErrorKind::Config, format!("{}: {e}", origin.display())))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Config, format!("{}: {e}", path.display())))?;
        Self::from_toml(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_keys() {
        let c = Config::default();
        assert_eq!(c.addr, "127.0.0.1:5000");
        assert_eq!(c.storage.path, PathBuf::from("./registry-data"));
        let e = Config::from_toml("bogus = 1", Path::new("r.toml")).unwrap_err();
        assert!(e.message().contains("r.toml"), "{e}");
        let c = Config::from_toml(
            "[gc]\ninterval = \"10m\"\ngrace = \"2h\"\n[[retention]]\nrepositories=[\"a/*\"]\nkeep_last=3\nmax_age=\"30d\"",
            Path::new("r.toml"),
        )
        .unwrap();
        assert_eq!(c.gc.interval, Some(Duration::from_secs(600)));
        assert_eq!(c.retention[0].keep_last, Some(3));
    }
}
