//! The `# check=skip=<rules|all>;error=<bool>` parser directive, typed.

use serde::Serialize;

use crate::error::{ErrorKind, ParseError};
use crate::span::Span;

/// Which build checks to skip and whether a failing check fails the build.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CheckDirective {
    pub skip_all: bool,
    /// Rule names to skip (e.g. `JSONArgsRecommended`).
    pub skip: Vec<String>,
    pub error: bool,
}

impl CheckDirective {
    /// Parses the directive's value; `line` locates errors.
    pub fn parse(value: &str, line: usize) -> Result<CheckDirective, ParseError> {
        let bad = |m: String| {
            ParseError::new(ErrorKind::Directive, m)
                .at(Span::new(line, 1, line, 1))
                .with_hint("write # check=skip=<rules|all>;error=<true|false>")
        };
        let mut out = CheckDirective::default();
        for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(bad(format!("invalid check directive {part:?}")));
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "skip" => {
                    for rule in v.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                        if rule.eq_ignore_ascii_case("all") {
                            out.skip_all = true;
                        } else {
                            out.skip.push(rule.to_string());
                        }
                    }
                }
                "error" => {
                    out.error = crate::instructions::flags::parse_bool(v.trim())
                        .ok_or_else(|| bad(format!("invalid boolean {v:?} in check directive")))?;
                }
                other => return Err(bad(format!("unknown check directive option {other:?}"))),
            }
        }
        Ok(out)
    }
}

impl super::SyntaxTree {
    /// The typed `check` directive, if present.
    pub fn check_directive(&self) -> Result<Option<CheckDirective>, ParseError> {
        self.directives
            .iter()
            .find(|d| d.name == "check")
            .map(|d| CheckDirective::parse(&d.value, d.line))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let c = CheckDirective::parse("skip=JSONArgsRecommended,StageNameCasing;error=true", 1)
            .unwrap();
        assert_eq!(c.skip, ["JSONArgsRecommended", "StageNameCasing"]);
        assert!(c.error && !c.skip_all);
        assert!(CheckDirective::parse("skip=all", 1).unwrap().skip_all);
        assert!(CheckDirective::parse("error=maybe", 1).is_err());
        assert!(CheckDirective::parse("bogus=1", 1).is_err());
    }
}
