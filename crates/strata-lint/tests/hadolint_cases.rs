//! Runs every assertion of hadolint's rule specification (peer-cases/hadolint-cases.json,
//! 1104 assertions) against strata's linter and reports how many pass. Cases strata
//! answers differently on purpose are listed with their reason in
//! tests/fixtures/hadolint-cases-differences.tsv; any other failure fails the test.

mod common;

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::Value;
use strata_lint::{lint_all, Config, LabelType};

fn config_from(spec: &str) -> Config {
    let mut c = Config::default();
    let list = |name: &str| -> Vec<String> {
        let re = Regex::new(&format!(r"{name}\s*=\s*\[([^\]]*)\]")).unwrap();
        re.captures(spec)
            .map(|cap| {
                Regex::new(r#""([^"]*)""#)
                    .unwrap()
                    .captures_iter(&cap[1])
                    .map(|m| m[1].to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    c.trusted_registries = list("allowedRegistries");
    c.ignored = list("ignoreRules");
    let schema = Regex::new(r#"\("([^"]+)",\s*(?:Rule\.)?(\w+)\)"#).unwrap();
    for cap in schema.captures_iter(spec) {
        let ty = match &cap[2] {
            "RawText" => LabelType::Text,
            "Url" => LabelType::Url,
            "Rfc3339" => LabelType::Rfc3339,
            "Spdx" => LabelType::Spdx,
            "GitHash" => LabelType::Hash,
            "SemVer" => LabelType::Semver,
            "Email" => LabelType::Email,
            other => panic!("unknown label type {other}"),
        };
        c.label_schema.insert(cap[1].to_string(), ty);
    }
    c.strict_labels = spec.contains("strictLabels = True");
    c
}

/// hadolint's onBuild variant: every top-level RUN becomes ONBUILD RUN.
fn onbuild(text: &str) -> String {
    text.split('\n')
        .map(|l| match l.strip_prefix("RUN ") {
            Some(rest) => format!("ONBUILD RUN {rest}"),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn case_id(c: &Value) -> String {
    format!(
        "{}|{}|{}|{}",
        c["file"].as_str().unwrap(),
        c["rule"].as_str().unwrap().replace('\n', "\\n"),
        c["it"].as_str().unwrap(),
        if c["onbuild"].as_bool().unwrap() {
            "onbuild"
        } else {
            "plain"
        }
    )
}

#[test]
fn hadolint_rule_specification() {
    let Some(dir) = common::peer_cases() else {
        assert!(
            !common::in_ci(),
            "peer-cases/hadolint-cases.json missing under STRATA_CI=1"
        );
        eprintln!("skipping: peer-cases not found");
        return;
    };
    let shellcheck = common::BinaryShellCheck::available();
    assert!(
        shellcheck || !common::in_ci(),
        "shellcheck not installed under STRATA_CI=1"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("hadolint-cases.json")).unwrap())
            .unwrap();
    let known: BTreeMap<String, String> = include_str!("fixtures/hadolint-cases-differences.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (id, reason) = l.rsplit_once('\t').expect("id<TAB>reason");
            (id.to_string(), reason.to_string())
        })
        .collect();
    let checker = common::BinaryShellCheck;
    let mut passed = 0;
    let mut expected_diff = Vec::new();
    let mut failures = Vec::new();
    // Several cases share an id (hadolint repeats descriptions); count each occurrence.
    for case in &cases {
        let rule = case["rule"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let mut text = case["dockerfile"].as_str().unwrap().to_string() + "\n";
        if case["onbuild"].as_bool().unwrap() {
            text = onbuild(&text);
        }
        let config = config_from(case["config"].as_str().unwrap());
        // ShellCheck only matters to the SC assertions and the whole-file ones.
        let wants_sc = rule.starts_with("SC") || rule.starts_with('(');
        let sc = if shellcheck && wants_sc {
            Some(&checker as &dyn strata_lint::shellcheck::ShellChecker)
        } else {
            None
        };
        if rule.starts_with("SC") && sc.is_none() {
            continue;
        }
        let findings = lint_all(&text, "Dockerfile", &config, sc);
        let matching: Vec<_> = findings
            .iter()
            .filter(|f| match rule {
                "SC(any shellcheck)" => f.code.starts_with("SC"),
                "(all rules)" | "(all enabled rules)" => true,
                r => f.code == r,
            })
            .collect();
        let ok = match expect {
            "yes" if case["onbuild"].as_bool().unwrap() => matching.len() == 1,
            "yes" => !matching.is_empty() && matching.iter().all(|f| f.line >= 1),
            "no" => matching.is_empty(),
            e => {
                let n: usize = e.strip_prefix("count=").unwrap().parse().unwrap();
                matching.len() == n
            }
        };
        let id = case_id(case);
        if ok {
            passed += 1;
        } else if let Some(reason) = known.get(&id) {
            expected_diff.push(format!("{id}: {reason}"));
        } else {
            failures.push(format!(
                "{id}\n    expect {expect}, got {:?}\n    {:?}",
                matching
                    .iter()
                    .map(|f| (&f.code, f.line))
                    .collect::<Vec<_>>(),
                text
            ));
        }
    }
    eprintln!(
        "hadolint-cases: {passed}/{} assertions pass; {} documented differences; {} failures",
        cases.len(),
        expected_diff.len(),
        failures.len()
    );
    for d in &expected_diff {
        eprintln!("  documented: {d}");
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
