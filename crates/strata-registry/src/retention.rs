//! Retention policies: per repository pattern, keep the newest N tags, delete tags older
//! than a maximum age, and always keep tags matching a pattern. Applying a policy deletes
//! tags, then the manifests no remaining tag reaches (GC reclaims their blobs later).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use regex::Regex;
use serde::{Deserialize, Serialize};
use strata_oci::Digest;

use crate::error::{Error, ErrorKind, Result};
use crate::manifest;
use crate::names::Reference;
use crate::registry::Registry;
use crate::storage::keys;

/// One `[[retention]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// Repository globs (`*` matches anything, including `/`).
    pub repositories: Vec<String>,
    /// Keep at most this many tags (newest by when they were last pushed).
    pub keep_last: Option<usize>,
    /// Delete tags last pushed longer ago than this (e.g. `30d`).
    #[serde(default, with = "opt_duration")]
    pub max_age: Option<Duration>,
    /// Tags matching this regex are always kept.
    pub keep_tags: Option<String>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| {
            humantime::parse_duration(&s)
                .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?}: {e}")))
        })
        .transpose()
    }
}

/// One tag the policy removes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Removal {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub reason: String,
}

/// What a retention run did (or would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub tags_removed: Vec<Removal>,
    pub manifests_removed: Vec<String>,
}

struct Compiled<'a> {
    rule: &'a RetentionRule,
    keep: Option<Regex>,
}

/// Validates rules (regexes compile) before a server starts.
pub fn validate(rules: &[RetentionRule]) -> Result<()> {
    compile(rules).map(|_| ())
}

fn compile(rules: &[RetentionRule]) -> Result<Vec<Compiled<'_>>> {
    rules
        .iter()
        .map(|rule| {
            let keep = rule
                .keep_tags
                .as_deref()
                .map(|p| {
                    Regex::new(p).map_err(|e| {
                        Error::new(ErrorKind::Config, format!("retention keep_tags {p:?}: {e}"))
                    })
                })
                .transpose()?;
            Ok(Compiled { rule, keep })
        })
        .collect()
}

fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((pre, rest)) => {
            s.starts_with(pre)
                && (0..=s.len() - pre.len())
                    .any(|i| s.is_char_boundary(pre.len() + i) && glob(rest, &s[pre.len() + i..]))
        }
    }
}

/// Applies the first matching rule to every repository.
pub async fn apply(
    registry: &Registry,
    rules: &[RetentionRule],
    dry_run: bool,
) -> Result<RetentionReport> {
    let compiled = compile(rules)?;
    let mut report = RetentionReport {
        dry_run,
        ..Default::default()
    };
    let now = SystemTime::now();
    for repo in registry.all_repositories().await? {
        let Some(c) = compiled
            .iter()
            .find(|c| c.rule.repositories.iter().any(|p| glob(p, &repo)))
        else {
            continue;
        };
        let mut tags = registry.tag_details(&repo).await?;
        // Newest first; ties broken by name for a stable report.
        tags.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut kept_count = 0usize;
        let mut removed = Vec::new();
        let mut kept_digests = HashSet::new();
        for (tag, digest, when) in tags {
            let protected = c.keep.as_ref().is_some_and(|re| re.is_match(&tag));
            let age = now.duration_since(when).unwrap_or_default();
            let reason = if protected {
                None
            } else if c.rule.max_age.is_some_and(|m| age > m) {
                Some(format!(
                    "older than {}",
                    humantime::format_duration(c.rule.max_age.unwrap_or_default())
                ))
            } else if c.rule.keep_last.is_some_and(|n| kept_count >= n) {
                Some(format!(
                    "beyond the newest {}",
                    c.rule.keep_last.unwrap_or_default()
                ))
            } else {
                None
            };
            match reason {
                Some(reason) => removed.push(Removal {
                    repository: repo.clone(),
                    tag,
                    digest: digest.to_string(),
                    reason,
                }),
                None => {
                    if !protected {
                        kept_count += 1;
                    }
                    kept_digests.insert(digest);
                }
            }
        }
        // Manifests still reachable from kept tags (index children too) stay.
        let reachable = reachable(registry, kept_digests).await?;
        let mut manifests = HashSet::new();
        for r in &removed {
            if !dry_run {
                registry
                    .manifest_delete(&repo, &Reference::Tag(r.tag.clone()))
                    .await
                    .or_else(ignore_unknown)?;
            }
            if let Ok(d) = Digest::parse(&r.digest) {
                if !reachable.contains(&d) {
                    manifests.insert(d);
                }
            }
        }
        for d in manifests {
            if !dry_run {
                registry
                    .manifest_delete(&repo, &Reference::Digest(d.clone()))
                    .await
                    .or_else(ignore_unknown)?;
            }
            report.manifests_removed.push(format!("{repo}@{d}"));
        }
        report.tags_removed.extend(removed);
    }
    Ok(report)
}

fn ignore_unknown(e: Error) -> Result<()> {
    if e.kind() == ErrorKind::ManifestUnknown {
        Ok(())
    } else {
        Err(e)
    }
}

async fn reachable(registry: &Registry, roots: HashSet<Digest>) -> Result<HashSet<Digest>> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Digest> = roots.into_iter().collect();
    while let Some(d) = stack.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        if let Ok(bytes) = registry.storage().get(&keys::blob(&d)).await {
            if let Ok(info) = manifest::parse(&bytes, None) {
                stack.extend(info.manifests);
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("*", "a/b"));
        assert!(glob("team/*", "team/a/b"));
        assert!(!glob("team/*", "teams"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
    }
}
