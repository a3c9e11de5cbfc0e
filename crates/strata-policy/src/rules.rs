//! Evaluation: each rule the policy sets gives one [`RuleResult`] with its evidence.

use serde::Serialize;
use strata_oci::Reference;

use crate::facts::ImageFacts;
use crate::policy::Policy;
use crate::size::human;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    /// The rule's key in the policy file.
    pub rule: &'static str,
    pub status: Status,
    /// What was seen: paths and layers, labels, sizes.
    pub evidence: Vec<String>,
}

/// All results, in the policy file's rule order.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub image: String,
    pub digest: String,
    pub results: Vec<RuleResult>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.status == Status::Pass)
    }
}

fn result(rule: &'static str, failures: Vec<String>, passes: Vec<String>) -> RuleResult {
    if failures.is_empty() {
        RuleResult {
            rule,
            status: Status::Pass,
            evidence: passes,
        }
    } else {
        RuleResult {
            rule,
            status: Status::Fail,
            evidence: failures,
        }
    }
}

/// Check every rule `policy` sets against `facts`.
pub fn evaluate(policy: &Policy, facts: &ImageFacts) -> Outcome {
    let r = &policy.rules;
    let mut results = Vec::new();
    if !r.required_labels.is_empty() {
        let labels = facts.labels();
        let (mut bad, mut good) = (Vec::new(), Vec::new());
        for req in &r.required_labels {
            match (labels.get(&req.name), &req.pattern) {
                (None, _) => bad.push(format!("label {} is missing", req.name)),
                (Some(v), Some(p)) if !regex::Regex::new(p).is_ok_and(|re| re.is_match(v)) => {
                    bad.push(format!("label {}={v:?} does not match {p:?}", req.name))
                }
                (Some(v), _) => good.push(format!("label {}={v:?}", req.name)),
            }
        }
        results.push(result("requiredLabels", bad, good));
    }
    if !r.allowed_base_images.is_empty() {
        results.push(base_image(&r.allowed_base_images, facts));
    }
    if let Some(limit) = r.max_image_size {
        let text = format!(
            "size {} ({} bytes), limit {}",
            human(facts.size),
            facts.size,
            human(limit.0)
        );
        let over = facts.size > limit.0;
        results.push(result(
            "maxImageSize",
            if over { vec![text.clone()] } else { vec![] },
            vec![text],
        ));
    }
    if let Some(max) = r.max_layers {
        let text = format!("{} layers, limit {max}", facts.layer_count);
        let over = facts.layer_count > max;
        results.push(result(
            "maxLayers",
            if over { vec![text.clone()] } else { vec![] },
            vec![text],
        ));
    }
    if r.non_root_user {
        results.push(non_root(facts));
    }
    if r.no_remote_add_without_checksum {
        results.push(remote_add(facts));
    }
    if r.no_secrets.is_some() {
        let (bad, good) = match &facts.secrets {
            None => (
                vec!["the image was not scanned for secrets".to_string()],
                vec![],
            ),
            Some(found) => (
                found
                    .iter()
                    .map(|f| format!("{}: {} ({})", f.location, f.kind, f.redacted))
                    .collect(),
                vec!["no secrets found in layers, history or config".to_string()],
            ),
        };
        results.push(result("noSecrets", bad, good));
    }
    if r.required_signature.is_some() {
        let (bad, good) = match &facts.signature {
            None => (vec!["signatures were not checked".to_string()], vec![]),
            Some(s) if s.verified => (vec![], vec![s.detail.clone()]),
            Some(s) => (vec![s.detail.clone()], vec![]),
        };
        results.push(result("requiredSignature", bad, good));
    }
    if let Some(rule) = &r.max_severity {
        let (bad, good) = match &facts.vulnerabilities {
            None => (
                vec!["the image was not scanned for vulnerabilities".to_string()],
                vec![],
            ),
            Some(v) => {
                let over: Vec<String> = v
                    .iter()
                    .filter(|v| v.severity >= rule.severity)
                    .map(|v| {
                        format!(
                            "{} ({}) in {} {}",
                            v.id,
                            v.severity.as_str(),
                            v.package,
                            v.version
                        )
                    })
                    .collect();
                let ok = vec![format!(
                    "{} vulnerabilities, none {} or above",
                    v.len(),
                    rule.severity.as_str()
                )];
                (over, ok)
            }
        };
        results.push(result("maxSeverity", bad, good));
    }
    if r.require_sbom {
        let sboms: Vec<String> = facts
            .attachment_types
            .iter()
            .filter(|t| t.contains("spdx") || t.contains("cyclonedx"))
            .cloned()
            .collect();
        let bad = if sboms.is_empty() {
            vec!["no SBOM is attached (strata sbom --attach, or build --sbom)".to_string()]
        } else {
            vec![]
        };
        results.push(result(
            "requireSbom",
            bad,
            sboms.into_iter().map(|t| format!("attached {t}")).collect(),
        ));
    }
    Outcome {
        image: facts.name.clone(),
        digest: facts.manifest_digest.to_string(),
        results,
    }
}

/// `*` in a pattern matches any run of characters; a pattern that parses as a reference is
/// compared in its normalised form (`debian:*` is `docker.io/library/debian:*`), and a
/// pattern without a tag or digest matches every tag and digest of its repository.
fn reference_matches(pattern: &str, name: &str) -> bool {
    const STAR: &str = "x0x0x";
    let last = pattern.rsplit('/').next().unwrap_or(pattern);
    let any_version = !last.contains(':') && !pattern.contains('@');
    let norm = |s: &str| match Reference::parse(&s.replace('*', STAR)) {
        Ok(r) if any_version => r.repository().replace(STAR, "*"),
        Ok(r) => r.to_string().replace(STAR, "*"),
        Err(_) => s.to_string(),
    };
    let pattern = norm(pattern);
    let name = Reference::parse(name)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| name.to_string());
    let suffix = if any_version { "(?:[:@].*)?" } else { "" };
    let re = format!("^{}{suffix}$", regex::escape(&pattern).replace(r"\*", ".*"));
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(&name))
}

fn base_image(allowed: &[String], facts: &ImageFacts) -> RuleResult {
    let (name, digest) = facts.base_image();
    if name.is_none() && digest.is_none() {
        return result(
            "allowedBaseImages",
            vec!["the image does not name its base (no org.opencontainers.image.base.name or .digest annotation or label)".into()],
            vec![],
        );
    }
    let hit = allowed.iter().find(|p| {
        (p.starts_with("sha256:") && digest.as_deref() == Some(p.as_str()))
            || name.as_deref().is_some_and(|n| reference_matches(p, n))
    });
    let seen = format!(
        "base {}{}",
        name.as_deref().unwrap_or("(unnamed)"),
        digest.map(|d| format!(" @ {d}")).unwrap_or_default()
    );
    match hit {
        Some(p) => result(
            "allowedBaseImages",
            vec![],
            vec![format!("{seen} matches {p}")],
        ),
        None => result(
            "allowedBaseImages",
            vec![format!("{seen} is not allowed")],
            vec![],
        ),
    }
}

fn non_root(facts: &ImageFacts) -> RuleResult {
    let user = facts
        .config
        .config
        .as_ref()
        .and_then(|c| c.user.clone())
        .unwrap_or_default();
    let name = user.split(':').next().unwrap_or_default();
    let root = name.is_empty() || name == "root" || name == "0";
    let text = if user.is_empty() {
        "no USER is set: the image runs as root".to_string()
    } else {
        format!("USER {user}")
    };
    if root {
        result("nonRootUser", vec![text], vec![])
    } else {
        result("nonRootUser", vec![], vec![text])
    }
}

fn remote_add(facts: &ImageFacts) -> RuleResult {
    let mut bad = Vec::new();
    for (i, h) in facts.config.history.iter().enumerate() {
        let Some(cmd) = h.created_by.as_deref() else {
            continue;
        };
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(pos) = words.iter().position(|w| *w == "ADD") else {
            continue;
        };
        let args = &words[pos + 1..];
        let remote = args
            .iter()
            .any(|a| a.starts_with("http://") || a.starts_with("https://"));
        let checksum = args.iter().any(|a| a.starts_with("--checksum="));
        if remote && !checksum {
            bad.push(format!("history[{i}]: {cmd}"));
        }
    }
    result(
        "noRemoteAddWithoutChecksum",
        bad,
        vec!["no ADD of a remote URL without --checksum in history".into()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_normalised() {
        assert!(reference_matches("debian:*", "docker.io/library/debian:12"));
        assert!(reference_matches(
            "docker.io/library/debian:*",
            "debian:bookworm"
        ));
        assert!(!reference_matches("debian:*", "ubuntu:22.04"));
        assert!(reference_matches(
            "registry.example/team/*",
            "registry.example/team/base:1"
        ));
    }
}
