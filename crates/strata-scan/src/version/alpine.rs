//! Alpine (apk-tools) version ordering.
//!
//! A version is a token sequence: numbers separated by `.`, an optional lower-case letter,
//! `_suffix[N]` parts and a final `-rN` revision. Pre-release suffixes sort before the bare
//! version and post-release ones after it:
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`. A number after `.`
//! with leading zeros compares as a fraction-like value (`1.01 < 1.1`). When one version runs
//! out of tokens first, it is the smaller one unless the other continues with a pre-release
//! suffix; a token of a later kind (letter, suffix, revision, end) sorts before a token of
//! an earlier kind at the same position (`1.0-r1 < 1.0.1`).

use std::cmp::Ordering;

/// Token kinds, in the order that decides comparisons between different kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: &[&str] = &["alpha", "beta", "pre", "rc"];
const POST: &[&str] = &["cvs", "svn", "git", "hg", "p"];

/// A parsed apk version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    tokens: Vec<(Kind, i64)>,
}

impl Version {
    /// Parse; `None` for versions apk-tools calls invalid.
    pub fn parse(s: &str) -> Option<Version> {
        let b = s.as_bytes();
        if b.is_empty() {
            return None;
        }
        let mut tokens = Vec::new();
        let mut kind = Kind::Digit;
        let mut i = 0;
        loop {
            // Read the value of the current token.
            let mut forced_next = None;
            let value: i64 = match kind {
                Kind::End => {
                    tokens.push((Kind::End, 0));
                    break;
                }
                Kind::DigitOrZero if b.get(i) == Some(&b'0') => {
                    let start = i;
                    while b.get(i) == Some(&b'0') {
                        i += 1;
                    }
                    // The digits after the zeros are read as a token of their own.
                    forced_next = Some(Kind::Digit);
                    -((i - start) as i64)
                }
                Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                    let mut v: i64 = 0;
                    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
                        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
                        i += 1;
                    }
                    v
                }
                Kind::Letter => {
                    let v = i64::from(b[i]);
                    i += 1;
                    v
                }
                Kind::Suffix => {
                    let rest = &s[i..];
                    if let Some(n) = PRE.iter().position(|p| rest.starts_with(p)) {
                        i += PRE[n].len();
                        n as i64 - PRE.len() as i64
                    } else if let Some(n) = POST.iter().position(|p| rest.starts_with(p)) {
                        i += POST[n].len();
                        n as i64
                    } else {
                        return None;
                    }
                }
            };
            tokens.push((kind, value));
            if let Some(k) = forced_next {
                kind = k;
                continue;
            }
            kind = next_kind(kind, b, &mut i)?;
        }
        Some(Version { tokens })
    }
}

/// The kind of the token at `b[*i..]`, consuming its separator.
fn next_kind(prev: Kind, b: &[u8], i: &mut usize) -> Option<Kind> {
    let Some(&c) = b.get(*i) else {
        return Some(Kind::End);
    };
    let next = if matches!(prev, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() {
        Kind::Letter
    } else if prev == Kind::Letter && c.is_ascii_digit() {
        Kind::Digit
    } else if prev == Kind::Suffix && c.is_ascii_digit() {
        Kind::SuffixNo
    } else {
        let k = match c {
            b'.' => Kind::DigitOrZero,
            b'_' => Kind::Suffix,
            b'-' if b.get(*i + 1) == Some(&b'r') => {
                *i += 1;
                Kind::RevisionNo
            }
            _ => return None,
        };
        *i += 1;
        k
    };
    // Going back to an earlier kind is allowed only for a new number component, a new
    // suffix after a suffix number, or a number after a letter.
    if next < prev
        && !matches!(
            (next, prev),
            (Kind::DigitOrZero, Kind::Digit)
                | (Kind::Suffix, Kind::SuffixNo)
                | (Kind::Digit, Kind::Letter)
        )
    {
        return None;
    }
    Some(next)
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (&self.tokens, &other.tokens);
        let mut i = 0;
        loop {
            let (ka, va) = a[i];
            let (kb, vb) = b[i];
            if ka != kb {
                if ka == Kind::Suffix && va < 0 {
                    return Ordering::Less;
                }
                if kb == Kind::Suffix && vb < 0 {
                    return Ordering::Greater;
                }
                // The version whose next token is of a later kind is the smaller one.
                return kb.cmp(&ka);
            }
            if va != vb {
                return va.cmp(&vb);
            }
            if ka == Kind::End {
                return Ordering::Equal;
            }
            i += 1;
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Version::parse(a)
            .unwrap_or_else(|| panic!("{a} invalid"))
            .cmp(&Version::parse(b).unwrap_or_else(|| panic!("{b} invalid")))
    }

    #[test]
    fn suffix_order_is_apk_tools_order() {
        let ordered = [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p1",
            "1.0_p2",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
        ];
        for w in ordered.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(cmp(w[1], w[0]), Ordering::Greater, "{} > {}", w[1], w[0]);
        }
    }

    #[test]
    fn revisions_numbers_and_zeros() {
        assert_eq!(cmp("1.2.3-r0", "1.2.3-r10"), Ordering::Less);
        assert_eq!(cmp("1.2.3-r9", "1.2.3-r10"), Ordering::Less);
        assert_eq!(cmp("1.10", "1.9"), Ordering::Greater);
        assert_eq!(cmp("1.01", "1.1"), Ordering::Less);
        assert_eq!(cmp("3.0.8-r0", "3.0.8-r0"), Ordering::Equal);
        assert_eq!(cmp("1.0-r1", "1.0.1"), Ordering::Less);
        assert_eq!(cmp("2.4.9_p20231010-r1", "2.4.9-r5"), Ordering::Greater);
        assert_eq!(cmp("1.36.1-r2", "1.36.1-r15"), Ordering::Less);
    }

    #[test]
    fn refuses_what_apk_refuses() {
        assert!(Version::parse("").is_none());
        assert!(Version::parse("1.0_foo").is_none());
        assert!(Version::parse("1.0a.1").is_none());
        assert!(Version::parse("1.0-x").is_none());
    }
}
