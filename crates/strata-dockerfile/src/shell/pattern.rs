//! Shell patterns inside `${NAME#...}`, `${NAME%...}` and `${NAME/.../...}`.
//!
//! A pattern knows `*` (any run of characters), `?` (one character) and `\`
//! escapes of `*`, `?` and `\`; everything else is literal. Bracket
//! expressions are not supported, as in BuildKit. Patterns become regular
//! expressions whose leftmost-first semantics give the shortest (`#`, `%`,
//! lazy `*`) or longest (`##`, `%%`, `/`, greedy `*`) match. Suffix removal
//! reverses both pattern and value so it can reuse the prefix search.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

use super::scan::Fail;
use super::ShellErrorKind;

/// Compiled patterns are bounded so hostile input cannot make the regex
/// engine allocate without limit.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn invalid(pattern: &str, why: impl std::fmt::Display) -> Fail {
    Fail::new(
        ShellErrorKind::InvalidPattern,
        format!("invalid pattern ({pattern}) in substitution: {why}"),
    )
}

/// Compiled patterns kept per thread: a Dockerfile repeats the same few
/// patterns across instructions and stages, and compiling dominates the
/// cost of an expansion.
const CACHE_ENTRIES: usize = 256;

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool, bool), Regex>> = RefCell::new(HashMap::new());
}

/// [`to_regex`] through the per-thread cache.
fn cached_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, Fail> {
    let key = (pattern.to_string(), greedy, anchored);
    if let Some(re) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(re);
    }
    let re = to_regex(pattern, greedy, anchored)?;
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_ENTRIES {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// Translates a shell pattern to a regular expression.
fn to_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, Fail> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    let mut it = pattern.chars().peekable();
    while let Some(tok) = it.next() {
        match tok {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                // `\}` and `\/` protect the delimiters of `${...}`; the
                // backslash is not part of the pattern.
                if matches!(it.peek(), Some('}' | '/')) {
                    continue;
                }
                match it.next() {
                    Some(c @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    Some(c) => return Err(invalid(pattern, format!("invalid escape '\\{c}'"))),
                    None => return Err(invalid(pattern, "invalid escape at end of pattern")),
                }
            }
            '[' | ']' | '{' | '}' | '.' | '+' | '(' | ')' | '|' | '^' | '$' => {
                out.push('\\');
                out.push(tok);
            }
            c => out.push(c),
        }
    }
    regex::RegexBuilder::new(&out)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| invalid(pattern, e))
}

/// `${NAME#pattern}` / `${NAME##pattern}`.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, Fail> {
    let re = cached_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// `${NAME%pattern}` / `${NAME%%pattern}`: the rightmost match is the
/// leftmost one in the reversed value.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, Fail> {
    let reversed_value: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern while keeping each escape pair in order (`a\*c` →
/// `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            out.push('\\');
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.reverse();
    out.into_iter().collect()
}

/// `${NAME/pattern/replacement}` (first match) and
/// `${NAME//pattern/replacement}` (every non-overlapping match).
pub(super) fn replace(
    pattern: &str,
    replacement: &str,
    value: &str,
    all: bool,
) -> Result<String, Fail> {
    let re = cached_regex(pattern, true, false)?;
    if !all {
        return Ok(match re.find(value) {
            Some(m) => {
                let mut out = String::with_capacity(value.len() + replacement.len());
                out.push_str(&value[..m.start()]);
                expand_template(&mut out, replacement, m.as_str());
                out.push_str(&value[m.end()..]);
                out
            }
            None => value.to_string(),
        });
    }
    // Every match, but an empty match right after the previous match is not
    // replaced and the search always advances by at least one character.
    let mut out = String::with_capacity(value.len());
    let mut last_end = 0;
    let mut search = 0;
    while search <= value.len() {
        let Some(m) = re.find_at(value, search) else {
            break;
        };
        out.push_str(&value[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            expand_template(&mut out, replacement, m.as_str());
        }
        last_end = m.end();
        let width = value[search..].chars().next().map_or(1, char::len_utf8);
        search = if search + width > m.end() {
            search + width
        } else {
            m.end()
        };
    }
    if last_end <= value.len() {
        out.push_str(&value[last_end..]);
    }
    Ok(out)
}

/// Appends `template` with regex references expanded, as BuildKit's
/// replacement does: `$0`/`${0}` is the whole match, `$$` a dollar sign,
/// other references (the pattern has no groups) are empty, and a `$` that
/// starts no valid reference stays literal.
fn expand_template(out: &mut String, template: &str, whole: &str) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        match parse_reference(rest) {
            Some((name, after)) => {
                if name == "0" {
                    out.push_str(whole);
                }
                rest = after;
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
}

/// Parses `name` or `{name}` after a `$`; a name is a non-empty run of
/// letters, digits and `_`.
fn parse_reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let after = &body[len..];
    if braced {
        let after = after.strip_prefix('}')?;
        Some((name, after))
    } else {
        Some((name, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_keeps_escape_pairs() {
        assert_eq!(reverse_pattern(r"a\*c"), r"c\*a");
        assert_eq!(reverse_pattern(r"ab\"), r"\ba");
    }

    #[test]
    fn pattern_translation() {
        assert_eq!(to_regex("*", true, true).unwrap().as_str(), "^.*");
        assert_eq!(to_regex("?", true, true).unwrap().as_str(), "^.");
        assert_eq!(to_regex(r"\*", true, true).unwrap().as_str(), r"^\*");
        for bad in [r"\", r"\x", r"\\\"] {
            assert!(to_regex(bad, true, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn template_references() {
        let mut s = String::new();
        expand_template(&mut s, "<$0|${0}|$$|$1x|$|${}|${a>", "M");
        assert_eq!(s, "<M|M|$||$|${}|${a>");
    }

    #[test]
    fn replace_all_empty_matches() {
        // An empty pattern matches at every position, each replaced once.
        assert_eq!(replace("", "-", "ab", true).unwrap(), "-a-b-");
        assert_eq!(replace("b*", "-", "abcb", true).unwrap(), "a-");
        assert_eq!(replace("b", "[$0]", "abcb", false).unwrap(), "a[b]cb");
    }
}
