//! Inline pragmas in comments, as hadolint reads them, plus strata's own spelling:
//!
//! - `# hadolint ignore=DL3008,SC2086` (or `# strata ignore=…`) on the line directly
//!   above an instruction ignores those codes for that instruction;
//! - `# hadolint global ignore=…` anywhere ignores them in the whole file;
//! - `# hadolint stage ignore=…` directly above a FROM ignores them in that stage;
//! - `# hadolint shell=powershell` sets the shell the RUN rules assume.
//!
//! Spaces around `=` and `,` are allowed, and a trailing `# reason` is ignored.

use crate::model::Model;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pragma {
    Ignore(Vec<String>),
    Global(Vec<String>),
    Stage(Vec<String>),
    Shell(String),
}

/// Parses a comment's text (after `#`).
pub fn parse(comment: &str) -> Option<Pragma> {
    let text = comment.trim();
    let rest = text
        .strip_prefix("hadolint")
        .or_else(|| text.strip_prefix("strata"))?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    // A trailing `# reason` is a comment on the pragma.
    let rest = rest.split('#').next().unwrap_or("").trim();
    let (scope, rest) = if let Some(r) = rest.strip_prefix("global") {
        ("global", r.trim_start())
    } else if let Some(r) = rest.strip_prefix("stage") {
        ("stage", r.trim_start())
    } else {
        ("", rest)
    };
    let (key, value) = rest.split_once('=')?;
    let value = value.trim();
    match (scope, key.trim()) {
        ("", "shell") if !value.is_empty() => Some(Pragma::Shell(value.to_string())),
        (scope, "ignore") => {
            let codes: Vec<String> = value
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            // hadolint drops a pragma naming anything but DLxxxx/SCxxxx codes.
            let valid = |c: &String| {
                (c.starts_with("DL") || c.starts_with("SC"))
                    && c.len() > 2
                    && c[2..].chars().all(|d| d.is_ascii_digit())
            };
            if codes.is_empty() || !codes.iter().all(valid) {
                return None;
            }
            Some(match scope {
                "global" => Pragma::Global(codes),
                "stage" => Pragma::Stage(codes),
                _ => Pragma::Ignore(codes),
            })
        }
        _ => None,
    }
}

pub fn shell_pragma(comment: &str) -> Option<String> {
    match parse(comment) {
        Some(Pragma::Shell(s)) => Some(s),
        _ => None,
    }
}

/// The ignore pragmas of one file.
#[derive(Debug, Default)]
pub struct Pragmas {
    /// `(line of the instruction below, codes)`.
    line: Vec<(usize, Vec<String>)>,
    global: Vec<String>,
    /// `(stage index, codes)`.
    stage: Vec<(usize, Vec<String>)>,
}

impl Pragmas {
    pub fn read(model: &Model) -> Pragmas {
        let mut out = Pragmas::default();
        for c in &model.comments {
            match parse(&c.text) {
                Some(Pragma::Ignore(codes)) if model.items.iter().any(|i| i.line == c.line + 1) => {
                    out.line.push((c.line + 1, codes));
                }
                Some(Pragma::Global(codes)) => out.global.extend(codes),
                Some(Pragma::Stage(codes)) => {
                    if let Some(s) = model.stages.iter().find(|s| s.line == c.line + 1) {
                        out.stage.push((s.index, codes));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// True when a pragma ignores `code` for the finding at `line`.
    pub fn ignores(&self, model: &Model, line: usize, code: &str) -> bool {
        let has = |codes: &[String]| codes.iter().any(|c| c == code);
        if has(&self.global) {
            return true;
        }
        // A finding on any line of a multi-line instruction belongs to that instruction.
        let item = model
            .items
            .iter()
            .find(|i| i.line <= line && line <= i.end_line);
        let start = item.map_or(line, |i| i.line);
        if self.line.iter().any(|(l, codes)| *l == start && has(codes)) {
            return true;
        }
        let stage = item.and_then(|i| i.stage);
        stage.is_some_and(|s| self.stage.iter().any(|(st, codes)| *st == s && has(codes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse("hadolint ignore=DL3008, SC2086 # apt pins upstream"),
            Some(Pragma::Ignore(vec!["DL3008".into(), "SC2086".into()]))
        );
        assert_eq!(
            parse("hadolint global ignore = DL3023 , DL3021"),
            Some(Pragma::Global(vec!["DL3023".into(), "DL3021".into()]))
        );
        assert_eq!(
            parse("hadolint shell = powershell.exe"),
            Some(Pragma::Shell("powershell.exe".into()))
        );
        assert_eq!(
            parse("strata ignore=DL3006"),
            Some(Pragma::Ignore(vec!["DL3006".into()]))
        );
        assert_eq!(parse("hadolintignore=DL3006"), None);
        assert_eq!(parse("some comment"), None);
    }
}
