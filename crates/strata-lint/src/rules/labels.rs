//! Label rules: key syntax (DL3048) and the configured `label-schema` (DL3049–DL3058).

use std::collections::BTreeMap;

use regex::Regex;

use super::Ctx;
use crate::config::LabelType;
use crate::model::unquote;

pub(super) fn check(ctx: &mut Ctx<'_>) {
    let mut hits: Vec<(&'static str, usize, Option<String>)> = Vec::new();
    let schema = &ctx.config.label_schema;
    for it in ctx.items().iter().filter(|it| it.is("LABEL")) {
        for kv in it.env_pairs() {
            let key = unquote(&kv.key);
            let value = unquote(&kv.value);
            if !valid_key(&key) {
                hits.push(("DL3048", it.line, None));
            }
            if !schema.is_empty() && ctx.config.strict_labels && !schema.contains_key(&key) {
                hits.push((
                    "DL3050",
                    it.line,
                    Some(format!(
                        "Label `{key}` is not in the label schema (strict labels)."
                    )),
                ));
            }
            let Some(ty) = schema.get(&key) else { continue };
            if value.is_empty() {
                hits.push(("DL3051", it.line, Some(format!("Label `{key}` is empty."))));
                continue;
            }
            if value.contains('$') {
                continue;
            }
            let (code, ok, what) = match ty {
                LabelType::Text => continue,
                LabelType::Url => ("DL3052", is_url(&value), "a valid URL"),
                LabelType::Rfc3339 => (
                    "DL3053",
                    chrono::DateTime::parse_from_rfc3339(&value).is_ok(),
                    "an RFC 3339 time",
                ),
                LabelType::Spdx => (
                    "DL3054",
                    is_spdx_expression(&value),
                    "a valid SPDX license expression",
                ),
                LabelType::Hash => ("DL3055", is_git_hash(&value), "a git hash"),
                LabelType::Semver => ("DL3056", is_semver(&value), "a semantic version"),
                LabelType::Email => ("DL3058", is_email(&value), "an RFC 5322 email address"),
            };
            if !ok {
                hits.push((code, it.line, Some(format!("Label `{key}` is not {what}."))));
            }
        }
    }
    missing_labels(ctx, &mut hits);
    for (c, l, m) in hits {
        ctx.hit_msg(c, l, m);
    }
}

/// DL3049: a stage without a schema label (its own or inherited through FROM), unless a
/// stage that uses it (FROM or `COPY --from`) has the label.
fn missing_labels(ctx: &Ctx<'_>, hits: &mut Vec<(&'static str, usize, Option<String>)>) {
    let model = ctx.model;
    let schema = &ctx.config.label_schema;
    if schema.is_empty() {
        return;
    }
    let own: Vec<Vec<String>> = (0..model.stages.len())
        .map(|s| {
            model
                .stage_items(s)
                .iter()
                .filter(|it| it.is("LABEL") && !it.onbuild)
                .flat_map(|it| it.env_pairs().iter().map(|kv| unquote(&kv.key)))
                .collect()
        })
        .collect();
    let has = |s: usize, key: &str| {
        model
            .lineage(s)
            .into_iter()
            .any(|st| own[st].iter().any(|k| k == key))
    };
    // users[s]: stages that build on or copy from s.
    let mut users: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, st) in model.stages.iter().enumerate() {
        if let Some(b) = st.base_stage {
            users.entry(b).or_default().push(i);
        }
        for it in model.stage_items(i) {
            for r in crate::model::item_from_refs(it) {
                if let Some(t) = model.stage_ref(&r, i) {
                    users.entry(t).or_default().push(i);
                }
            }
        }
    }
    for key in schema.keys() {
        for s in 0..model.stages.len() {
            if has(s, key) {
                continue;
            }
            let covered = users
                .get(&s)
                .is_some_and(|u| u.iter().any(|&o| has(o, key)));
            if !covered {
                hits.push((
                    "DL3049",
                    model.stages[s].line,
                    Some(format!("Label `{key}` is missing.")),
                ));
            }
        }
    }
}

/// Docker's label key conventions: lowercase letters, digits, `.` and `-`, starting
/// with a letter, ending with a letter or digit, no `..` or `--`, and not in the
/// namespaces Docker reserves.
fn valid_key(key: &str) -> bool {
    const RESERVED: [&str; 3] = ["com.docker.", "io.docker.", "org.dockerproject."];
    if RESERVED.iter().any(|r| key.starts_with(r)) {
        return false;
    }
    let Some(first) = key.chars().next() else {
        return false;
    };
    let last = key.chars().last().unwrap_or(first);
    first.is_ascii_alphabetic()
        && last.is_ascii_alphanumeric()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && !key.contains("..")
        && !key.contains("--")
}

fn is_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once("://") else {
        return false;
    };
    !rest.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

fn is_git_hash(v: &str) -> bool {
    (7..=40).contains(&v.len()) && v.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_semver(v: &str) -> bool {
    let re = Regex::new(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    )
    .expect("valid regex");
    re.is_match(v)
}

fn is_email(v: &str) -> bool {
    let re = Regex::new(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
        .expect("valid regex");
    re.is_match(v)
}

/// Commonly used SPDX license identifiers (the SPDX list's OSI/FSF-approved core).
const SPDX_IDS: &[&str] = &[
    "0BSD",
    "AFL-3.0",
    "AGPL-1.0",
    "AGPL-3.0",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "APSL-2.0",
    "Artistic-1.0",
    "Artistic-2.0",
    "BlueOak-1.0.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-2-Clause-Patent",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSD-4-Clause",
    "BSL-1.0",
    "BUSL-1.1",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "CECILL-2.1",
    "CPL-1.0",
    "ECL-2.0",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "GPL-1.0",
    "GPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.0",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "LPPL-1.3c",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "MS-PL",
    "MS-RL",
    "MulanPSL-2.0",
    "NCSA",
    "ODbL-1.0",
    "OFL-1.1",
    "OpenSSL",
    "OSL-3.0",
    "PHP-3.01",
    "PostgreSQL",
    "Python-2.0",
    "Ruby",
    "SSPL-1.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "UPL-1.0",
    "Vim",
    "W3C",
    "WTFPL",
    "X11",
    "Zlib",
    "ZPL-2.1",
];

const SPDX_EXCEPTIONS: &[&str] = &[
    "Classpath-exception-2.0",
    "LLVM-exception",
    "GCC-exception-3.1",
    "OpenJDK-assembly-exception-1.0",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
    "Font-exception-2.0",
];

/// An SPDX license expression: identifiers (with `+`), `LicenseRef-…`, `AND`, `OR`,
/// `WITH <exception>`, and parentheses.
fn is_spdx_expression(v: &str) -> bool {
    let spaced = v.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = spdx_or(&tokens, &mut pos);
    ok && pos == tokens.len()
}

fn spdx_or(t: &[&str], pos: &mut usize) -> bool {
    if !spdx_and(t, pos) {
        return false;
    }
    while t.get(*pos).is_some_and(|s| s.eq_ignore_ascii_case("or")) {
        *pos += 1;
        if !spdx_and(t, pos) {
            return false;
        }
    }
    true
}

fn spdx_and(t: &[&str], pos: &mut usize) -> bool {
    if !spdx_term(t, pos) {
        return false;
    }
    while t.get(*pos).is_some_and(|s| s.eq_ignore_ascii_case("and")) {
        *pos += 1;
        if !spdx_term(t, pos) {
            return false;
        }
    }
    true
}

fn spdx_term(t: &[&str], pos: &mut usize) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            if !spdx_or(t, pos) || t.get(*pos) != Some(&")") {
                return false;
            }
            *pos += 1;
            true
        }
        Some(id) => {
            let base = id.strip_suffix('+').unwrap_or(id);
            let known = SPDX_IDS.iter().any(|k| k.eq_ignore_ascii_case(base))
                || base.starts_with("LicenseRef-")
                || base.starts_with("DocumentRef-");
            if !known {
                return false;
            }
            *pos += 1;
            if t.get(*pos).is_some_and(|s| s.eq_ignore_ascii_case("with")) {
                *pos += 1;
                let ok = t
                    .get(*pos)
                    .is_some_and(|e| SPDX_EXCEPTIONS.iter().any(|k| k.eq_ignore_ascii_case(e)));
                *pos += 1;
                return ok;
            }
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_checks() {
        assert!(is_spdx_expression("BSD-3-Clause"));
        assert!(is_spdx_expression(
            "(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0"
        ));
        assert!(!is_spdx_expression("not-spdx"));
        assert!(is_git_hash("2dbfae9") && !is_git_hash("not-git-hash"));
        assert!(is_semver("1.0.0") && !is_semver("not-sem-ver"));
        assert!(is_email("abcd@google.com") && !is_email("not-email"));
        assert!(is_url("http://example.com") && !is_url("not-url"));
        assert!(valid_key("org.valid-key.label3"));
        for bad in [
            "com.docker.label",
            "invalid$character",
            ".invalid",
            "-invalid",
            "1invalid",
            "invalid..character",
            "invalid--character",
        ] {
            assert!(!valid_key(bad), "{bad}");
        }
    }
}
