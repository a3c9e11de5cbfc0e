//! `strata policy check IMAGE --policy FILE`: audit an image against a team's policy.
//!
//! The CLI gathers what the policy's rules need (config and history, sizes, secrets in
//! layers, signatures, a vulnerability scan, attachments) from any image source and
//! strata-policy decides; each rule prints pass or fail with its evidence.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use strata_image::ImageSource;
use strata_policy::facts::{SignatureFact, Vulnerability};
use strata_policy::policy::Severity;
use strata_policy::{secrets, ImageFacts, Outcome, Policy, Status};
use strata_sign::keys::PublicKey;
use strata_sign::verify::{verify_all, Requirements};

use super::image_source::open_options;
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check an image against a policy file; exit 1 when a rule fails
    Check(CheckArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The policy file (YAML)
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: PolicyFormat,
    /// Report failures but exit 0
    #[arg(long)]
    pub warn_only: bool,
    /// The image: a local name, docker-archive:, oci:, oci-archive:, docker://
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

pub fn run(cmd: PolicyCommand, global: &Global) -> Result<ExitCode> {
    match cmd {
        PolicyCommand::Check(a) => check(a, global),
    }
}

fn check(a: CheckArgs, global: &Global) -> Result<ExitCode> {
    let policy = Policy::load(&a.policy)?;
    let facts = gather(&policy, &a.image, global)?;
    let outcome = strata_policy::evaluate(&policy, &facts);
    let text = match a.format {
        PolicyFormat::Table => table(&outcome),
        PolicyFormat::Json => format!("{}\n", serde_json::to_string_pretty(&outcome)?),
        PolicyFormat::Sarif => format!(
            "{}\n",
            serde_json::to_string_pretty(&sarif(&outcome, &a.policy))?
        ),
    };
    print!("{text}");
    Ok(if outcome.passed() || a.warn_only {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the policy's rules need to know of `spec`, and nothing more.
fn gather(policy: &Policy, spec: &str, global: &Global) -> Result<ImageFacts> {
    let rules = &policy.rules;
    let source: ImageSource = spec.parse()?;
    let opts = open_options(global);
    let image =
        strata_image::open(&source, &opts).with_context(|| format!("cannot open {source}"))?;
    // The opened image reads through its own content: the source is opened (and an archive
    // indexed) once.
    let content = image.content();
    let annotations = image
        .manifest()
        .as_image()
        .map(|m| m.annotations.clone())
        .unwrap_or_default();
    let mut facts = ImageFacts {
        name: spec.to_owned(),
        manifest_digest: image.manifest_digest().clone(),
        config: image.config().clone(),
        annotations,
        size: image.layers().iter().map(|l| l.descriptor.size).sum(),
        layer_count: image.layers().len(),
        secrets: None,
        signature: None,
        vulnerabilities: None,
        attachment_types: Vec::new(),
    };
    if let Some(rule) = &rules.no_secrets {
        let ignore = secrets::ignore_patterns(&rule.ignore_paths);
        let mut found = Vec::new();
        for i in 0..image.layers().len() {
            let tar = image.open_layer(i)?;
            found.extend(secrets::scan_layer(i + 1, tar, rule.entropy, &ignore)?);
        }
        for (i, h) in image.config().history.iter().enumerate() {
            if let Some(cmd) = &h.created_by {
                found.extend(secrets::scan_text(
                    cmd,
                    &format!("history[{i}]"),
                    rule.entropy,
                ));
            }
        }
        if let Some(env) = image.config().config.as_ref().and_then(|c| c.env.as_ref()) {
            found.extend(secrets::scan_text(
                &env.join("\n"),
                "config Env",
                rule.entropy,
            ));
        }
        facts.secrets = Some(found);
    }
    if let Some(rule) = &rules.required_signature {
        let text = std::fs::read_to_string(&rule.key)
            .with_context(|| format!("cannot read {}", rule.key.display()))?;
        let key = PublicKey::from_pem(&text, &rule.key.display().to_string())?;
        let digest = image.top_digest().clone();
        let sigs = super::sign::find_signatures(content, &source, &digest)?;
        let (ok, rejected) = verify_all(&sigs, &key, &digest, &Requirements::default());
        facts.signature = Some(if ok.is_empty() {
            let why = rejected
                .first()
                .map(|r| r.reason.clone())
                .unwrap_or_else(|| "the image has no signatures".into());
            SignatureFact {
                verified: false,
                detail: format!(
                    "no signature of {digest} verifies with {}: {why}",
                    rule.key.display()
                ),
            }
        } else {
            SignatureFact {
                verified: true,
                detail: format!(
                    "{} signature(s) of {digest} verify with {}",
                    ok.len(),
                    rule.key.display()
                ),
            }
        });
    }
    if let Some(rule) = &rules.max_severity {
        let mut db = strata_scan::Database::open(&rule.db)?;
        let sbom = super::sbom::sbom_of(global, spec)?;
        let options = strata_scan::ScanOptions {
            ignore_unfixed: false,
            ignore: strata_scan::IgnoreList::default(),
            today: chrono::Utc::now().date_naive(),
        };
        let report = strata_scan::scan(&sbom, &mut db, &options)?;
        facts.vulnerabilities = Some(
            report
                .findings
                .iter()
                .map(|f| Vulnerability {
                    id: f.id.clone(),
                    severity: Severity::parse(f.severity.as_str()).unwrap_or(Severity::Unknown),
                    package: f.package.clone(),
                    version: f.installed_version.clone(),
                })
                .collect(),
        );
    }
    if rules.require_sbom {
        facts.attachment_types = image
            .referrers(None)?
            .iter()
            .filter_map(|d| d.artifact_type.as_ref().map(|t| t.as_str().to_owned()))
            .collect();
    }
    Ok(facts)
}

fn table(outcome: &Outcome) -> String {
    let mut out = format!("Policy check of {} ({})\n", outcome.image, outcome.digest);
    for r in &outcome.results {
        let status = match r.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!("{status}  {}\n", r.rule));
        for e in &r.evidence {
            out.push_str(&format!("      {e}\n"));
        }
    }
    let failed = outcome
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .count();
    out.push_str(&format!(
        "Result: {} ({} rules, {} passed, {failed} failed)\n",
        if failed == 0 { "PASS" } else { "FAIL" },
        outcome.results.len(),
        outcome.results.len() - failed
    ));
    out
}

/// SARIF 2.1.0: one rule per policy rule, one result per failed rule's evidence line.
fn sarif(outcome: &Outcome, policy: &std::path::Path) -> serde_json::Value {
    let rules: Vec<_> = outcome
        .results
        .iter()
        .map(|r| json!({"id": r.rule, "shortDescription": {"text": format!("policy rule {}", r.rule)}}))
        .collect();
    let results: Vec<_> = outcome
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .flat_map(|r| {
            r.evidence.iter().map(move |e| {
                json!({
                    "ruleId": r.rule,
                    "level": "error",
                    "message": {"text": e},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": policy.display().to_string()}}}]
                })
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "strata", "informationUri": "https://github.com/strata-build/strata", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results
        }]
    })
}
