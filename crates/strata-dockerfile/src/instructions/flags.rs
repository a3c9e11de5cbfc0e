//! Instruction flags (`--name[=value]`): which flags each instruction accepts, their kinds
//! (boolean, single value, repeatable), and typed values (chmod, durations, sizes).
//! An unknown flag, a flag on the wrong instruction, a repeated single flag or a bad value
//! is an error.

use std::collections::BTreeMap;

use crate::ast::Chmod;
use crate::error::{ErrorKind, ParseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    Bool,
    Value,
    List,
}

/// The flags each instruction accepts.
pub(crate) fn allowed_flags(keyword: &str) -> &'static [(&'static str, FlagKind)] {
    use FlagKind::*;
    match keyword {
        "from" => &[("platform", Value)],
        "run" => &[("mount", List), ("network", Value), ("security", Value)],
        "copy" => &[
            ("from", Value),
            ("chown", Value),
            ("chmod", Value),
            ("link", Bool),
            ("parents", Bool),
            ("exclude", List),
        ],
        "add" => &[
            ("chown", Value),
            ("chmod", Value),
            ("link", Bool),
            ("checksum", Value),
            ("keep-git-dir", Bool),
            ("unpack", Bool),
            ("exclude", List),
        ],
        "healthcheck" => &[
            ("interval", Value),
            ("timeout", Value),
            ("start-period", Value),
            ("start-interval", Value),
            ("retries", Value),
        ],
        _ => &[],
    }
}

/// Parsed flags of one instruction.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: BTreeMap<String, String>,
    bools: BTreeMap<String, bool>,
    lists: BTreeMap<String, Vec<String>>,
    /// Flag names in the order given, for error positions and "flags used" reporting.
    pub used: Vec<String>,
}

impl Flags {
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.bools.get(name).copied()
    }
    pub fn list(&self, name: &str) -> &[String] {
        self.lists.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

pub(crate) fn flag_error(message: String, flag: &str) -> ParseError {
    ParseError::new(ErrorKind::InvalidFlag, message)
        .with_hint(format!("check the spelling and value of --{flag}"))
}

/// Parses Go's `strconv.ParseBool` spellings.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses the raw `--name[=value]` words of `keyword` (lowercase).
pub(crate) fn parse_flags(keyword: &str, raw: &[String]) -> Result<Flags, ParseError> {
    let allowed = allowed_flags(keyword);
    let mut flags = Flags::default();
    for arg in raw {
        let Some(body) = arg.strip_prefix("--") else {
            return Err(flag_error(format!("arg {arg:?} must start with --"), arg));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(_, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            let hint = if allowed.is_empty() {
                format!("{} takes no flags", keyword.to_uppercase())
            } else {
                let names: Vec<String> = allowed.iter().map(|(n, _)| format!("--{n}")).collect();
                format!("{} accepts {}", keyword.to_uppercase(), names.join(", "))
            };
            return Err(
                ParseError::new(ErrorKind::InvalidFlag, format!("unknown flag: --{name}"))
                    .with_hint(hint),
            );
        };
        flags.used.push(name.to_string());
        match kind {
            FlagKind::Bool => {
                let b = match value {
                    None | Some("") => true,
                    Some(v) => parse_bool(&v.to_ascii_lowercase()).ok_or_else(|| {
                        flag_error(
                            format!("expecting boolean value for flag {name}, not: {v}"),
                            name,
                        )
                    })?,
                };
                if flags.bools.insert(name.to_string(), b).is_some() {
                    return Err(flag_error(
                        format!("duplicate flag specified: {name}"),
                        name,
                    ));
                }
            }
            FlagKind::Value => {
                let Some(v) = value else {
                    return Err(flag_error(format!("missing a value on flag: {name}"), name));
                };
                if flags
                    .values
                    .insert(name.to_string(), v.to_string())
                    .is_some()
                {
                    return Err(flag_error(
                        format!("duplicate flag specified: {name}"),
                        name,
                    ));
                }
            }
            FlagKind::List => {
                let Some(v) = value else {
                    return Err(flag_error(format!("missing a value on flag: {name}"), name));
                };
                flags
                    .lists
                    .entry(name.to_string())
                    .or_default()
                    .push(v.to_string());
            }
        }
    }
    Ok(flags)
}

/// Parses `--chmod`: octal up to 07777, or symbolic clauses like `u+x,go-w,a=r`.
pub fn parse_chmod(v: &str) -> Result<Chmod, ParseError> {
    if v.contains('$') {
        return Ok(Chmod::Unexpanded(v.to_string()));
    }
    let bad = || {
        ParseError::new(
            ErrorKind::InvalidFlag,
            format!("invalid chmod parameter: {v:?}"),
        )
        .with_hint("use octal (0755) or symbolic (u+x,g-w) permissions")
    };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let bits = u32::from_str_radix(v, 8).map_err(|_| bad())?;
        if bits > 0o7777 {
            return Err(bad());
        }
        return Ok(Chmod::Octal(bits));
    }
    if v.is_empty() {
        return Err(bad());
    }
    for clause in v.split(',') {
        let who_len = clause.len() - clause.trim_start_matches(['u', 'g', 'o', 'a']).len();
        let mut rest = &clause[who_len..];
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let op = rest.as_bytes()[0];
            if !matches!(op, b'+' | b'-' | b'=') {
                return Err(bad());
            }
            rest = &rest[1..];
            let perm_len = rest.len()
                - rest
                    .trim_start_matches(['r', 'w', 'x', 'X', 's', 't', 'u', 'g', 'o'])
                    .len();
            let perms = &rest[..perm_len];
            // A copy from another class (`g=u`) stands alone.
            if perms.len() > 1 && perms.contains(['u', 'g', 'o']) {
                return Err(bad());
            }
            rest = &rest[perm_len..];
        }
    }
    Ok(Chmod::Symbolic(v.to_string()))
}

/// Parses a Go duration (`1h2m3.5s`, `300ms`, `50ns`, `0`) into nanoseconds.
pub fn parse_duration(v: &str) -> Option<u64> {
    if v == "0" {
        return Some(0);
    }
    if v.is_empty() || v.starts_with('-') {
        return None;
    }
    let v = v.strip_prefix('+').unwrap_or(v);
    let mut total: f64 = 0.0;
    let mut rest = v;
    while !rest.is_empty() {
        let num_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                .len();
        if num_len == 0 {
            return None;
        }
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.len() - rest.trim_start_matches(|c: char| c.is_alphabetic()).len();
        let unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * unit;
    }
    if total > u64::MAX as f64 {
        return None;
    }
    Some(total as u64)
}

/// Parses a size like `64m`, `1g`, `512k`, `1024` (bytes; binary units as docker's RAMInBytes).
pub fn parse_size(v: &str) -> Option<u64> {
    let lower = v.trim().to_ascii_lowercase();
    let num_len = lower.len()
        - lower
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
            .len();
    let num: f64 = lower[..num_len].parse().ok()?;
    let mult: u64 = match lower[num_len..].trim_end_matches(['b', 'i']) {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let bytes = num * mult as f64;
    if bytes > u64::MAX as f64 {
        return None;
    }
    Some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_forms() {
        assert_eq!(parse_chmod("755").unwrap(), Chmod::Octal(0o755));
        assert_eq!(parse_chmod("0644").unwrap(), Chmod::Octal(0o644));
        assert!(matches!(
            parse_chmod("u+x,go-w").unwrap(),
            Chmod::Symbolic(_)
        ));
        assert!(matches!(parse_chmod("+x").unwrap(), Chmod::Symbolic(_)));
        assert!(matches!(
            parse_chmod("$MODE").unwrap(),
            Chmod::Unexpanded(_)
        ));
        for bad in ["", "999", "u", "u*x", "77777", "g=ur"] {
            assert!(parse_chmod(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(5_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5ms"), Some(1_500_000));
        assert_eq!(parse_duration("50ns"), Some(50));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn flag_rules() {
        let f = parse_flags(
            "copy",
            &[
                "--from=build".into(),
                "--link".into(),
                "--exclude=a".into(),
                "--exclude=b".into(),
            ],
        )
        .unwrap();
        assert_eq!(f.value("from"), Some("build"));
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.list("exclude"), ["a", "b"]);
        assert_eq!(
            parse_flags("maintainer", &["--boo".into()])
                .unwrap_err()
                .message,
            "unknown flag: --boo"
        );
        assert!(parse_flags("copy", &["--from".into()]).is_err());
        assert!(parse_flags("copy", &["--from=a".into(), "--from=b".into()]).is_err());
        assert!(parse_flags("copy", &["--link=maybe".into()]).is_err());
        assert!(parse_flags("run", &["--from=x".into()]).is_err());
    }
}
