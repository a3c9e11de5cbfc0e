//! Lint configuration with hadolint's keys (`.hadolint.yaml`):
//!
//! ```yaml
//! ignored: [DL3008]
//! override: { error: [DL3001], warning: [], info: [], style: [] }
//! trustedRegistries: [docker.io, "*.example.com"]
//! label-schema: { maintainer: email, org.opencontainers.image.source: url }
//! strict-labels: true
//! failure-threshold: warning
//! no-fail: false
//! disable-ignore-pragma: false
//! format: json
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Level;

/// What a label's value must look like (`label-schema`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelType {
    Text,
    Url,
    Semver,
    Hash,
    Rfc3339,
    Spdx,
    Email,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    #[serde(default)]
    pub error: Vec<String>,
    #[serde(default)]
    pub warning: Vec<String>,
    #[serde(default)]
    pub info: Vec<String>,
    #[serde(default)]
    pub style: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub ignored: Vec<String>,
    #[serde(default, rename = "override")]
    pub overrides: Overrides,
    #[serde(default, alias = "trustedRegistries")]
    pub trusted_registries: Vec<String>,
    #[serde(default)]
    pub label_schema: BTreeMap<String, LabelType>,
    #[serde(default)]
    pub strict_labels: bool,
    #[serde(default = "default_threshold", deserialize_with = "de_level")]
    pub failure_threshold: Level,
    #[serde(default)]
    pub no_fail: bool,
    #[serde(default)]
    pub disable_ignore_pragma: bool,
    #[serde(default)]
    pub no_color: bool,
    #[serde(default)]
    pub format: Option<String>,
}

fn default_threshold() -> Level {
    Level::Info
}

fn de_level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    let s = String::deserialize(d)?;
    Level::parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "invalid failure-threshold {s:?}: use error, warning, info, style or none"
        ))
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ignored: Vec::new(),
            overrides: Overrides::default(),
            trusted_registries: Vec::new(),
            label_schema: BTreeMap::new(),
            strict_labels: false,
            failure_threshold: Level::Info,
            no_fail: false,
            disable_ignore_pragma: false,
            no_color: false,
            format: None,
        }
    }
}

impl Config {
    /// The level `override` assigns to `code`, if any.
    pub fn level_override(&self, code: &str) -> Option<Level> {
        let o = &self.overrides;
        let has = |v: &Vec<String>| v.iter().any(|c| c == code);
        if has(&o.error) {
            Some(Level::Error)
        } else if has(&o.warning) {
            Some(Level::Warning)
        } else if has(&o.info) {
            Some(Level::Info)
        } else if has(&o.style) {
            Some(Level::Style)
        } else {
            None
        }
    }

    /// Parses `.hadolint.yaml` text.
    pub fn from_yaml(text: &str) -> Result<Config, String> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    /// Layers `other` (a later, more specific source) over `self`: lists are added,
    /// flags and values set in `other` win.
    pub fn merge(mut self, other: Config) -> Config {
        self.ignored.extend(other.ignored);
        self.overrides.error.extend(other.overrides.error);
        self.overrides.warning.extend(other.overrides.warning);
        self.overrides.info.extend(other.overrides.info);
        self.overrides.style.extend(other.overrides.style);
        self.trusted_registries.extend(other.trusted_registries);
        self.label_schema.extend(other.label_schema);
        self.strict_labels |= other.strict_labels;
        if other.failure_threshold != Level::Info {
            self.failure_threshold = other.failure_threshold;
        }
        self.no_fail |= other.no_fail;
        self.disable_ignore_pragma |= other.disable_ignore_pragma;
        self.no_color |= other.no_color;
        if other.format.is_some() {
            self.format = other.format;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hadolint_keys() {
        let c = Config::from_yaml(
            "ignored: [DL3008]\noverride:\n  error: [DL3001]\ntrustedRegistries:\n  - docker.io\nlabel-schema:\n  maintainer: email\nstrict-labels: true\nfailure-threshold: warning\nno-fail: true\n",
        )
        .unwrap();
        assert_eq!(c.ignored, ["DL3008"]);
        assert_eq!(c.level_override("DL3001"), Some(Level::Error));
        assert_eq!(c.trusted_registries, ["docker.io"]);
        assert_eq!(c.label_schema["maintainer"], LabelType::Email);
        assert!(c.strict_labels && c.no_fail);
        assert_eq!(c.failure_threshold, Level::Warning);
        let err = Config::from_yaml("ignord: [DL3008]\n").unwrap_err();
        assert!(err.contains("ignord"), "{err}");
    }
}
