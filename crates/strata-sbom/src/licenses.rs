//! Licence names as packages write them, turned into SPDX identifiers where one fits.
//!
//! Debian's machine-readable copyright files use their own short names (`GPL-2+`, `Expat`,
//! `BSD-3-clause`); the table below gives the SPDX id each stands for. Names with no SPDX
//! equivalent become `LicenseRef-<name>`, which SPDX and CycloneDX both accept.

/// Debian short names whose SPDX id is not a simple respelling.
const DEBIAN_NAMES: &[(&str, &str)] = &[
    ("expat", "MIT"),
    ("artistic", "Artistic-1.0-Perl"),
    ("artistic-1", "Artistic-1.0"),
    ("artistic-2", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("apache-2", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    ("zlib", "Zlib"),
    ("isc", "ISC"),
    ("mit", "MIT"),
    ("mpl-1.1", "MPL-1.1"),
    ("mpl-2.0", "MPL-2.0"),
    ("cc0-1.0", "CC0-1.0"),
    ("psf-2", "PSF-2.0"),
    ("python", "Python-2.0"),
    ("x11", "X11"),
    ("ftl", "FTL"),
    ("curl", "curl"),
    ("openssl", "OpenSSL"),
    ("bzip2-1.0.6", "bzip2-1.0.6"),
];

/// The SPDX id for one licence name, or a `LicenseRef-` for names SPDX does not list.
pub fn to_spdx(name: &str) -> String {
    let name = name.trim().trim_end_matches(',').trim();
    let lower = name.to_ascii_lowercase();
    if let Some((_, id)) = DEBIAN_NAMES.iter().find(|(n, _)| *n == lower) {
        return (*id).to_owned();
    }
    if let Some(id) = gnu_family(&lower) {
        return id;
    }
    if let Some(l) = spdx::license_id(name) {
        if !l.is_deprecated() {
            return l.name.to_owned();
        }
    }
    // A case-insensitive match on the SPDX list (`Apache-2.0` written `apache-2.0`).
    if let Some(l) = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name))
        .and_then(|l| spdx::license_id(l.name))
        .filter(|l| !l.is_deprecated())
    {
        return l.name.to_owned();
    }
    license_ref(name)
}

/// `GPL-2+`, `LGPL-2.1`, `AGPL-3+`, `GFDL-1.3+` and friends.
fn gnu_family(lower: &str) -> Option<String> {
    let (family, rest) = ["agpl-", "lgpl-", "gpl-", "gfdl-"]
        .iter()
        .find_map(|f| lower.strip_prefix(f).map(|r| (*f, r)))?;
    let (version, plus) = match rest.strip_suffix('+') {
        Some(v) => (v, true),
        None => (rest, false),
    };
    let version = match version {
        "1" | "1.0" => "1.0",
        "2" | "2.0" => "2.0",
        "2.1" => "2.1",
        "3" | "3.0" => "3.0",
        "1.1" => "1.1",
        "1.2" => "1.2",
        "1.3" => "1.3",
        _ => return None,
    };
    let family = family.trim_end_matches('-').to_ascii_uppercase();
    let id = format!(
        "{family}-{version}-{}",
        if plus { "or-later" } else { "only" }
    );
    spdx::license_id(&id).map(|l| l.name.to_owned())
}

/// `LicenseRef-` followed by the name with characters SPDX refs do not allow replaced.
pub fn license_ref(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{}", cleaned.trim_matches('-'))
}

/// Split an expression as packages write it (`GPL-2+ or Artistic`, `MIT AND BSD-3-Clause`,
/// `LGPL-2.1+, GPL-3+`) into single licence names, each mapped to SPDX.
pub fn split_expression(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let normalized = expr.replace(['(', ')'], " ").replace(',', " and ");
    let mut current: Vec<&str> = Vec::new();
    let flush = |current: &mut Vec<&str>, out: &mut Vec<String>| {
        if !current.is_empty() {
            let name = current.join(" ");
            if !name.is_empty() {
                out.push(to_spdx(&name));
            }
            current.clear();
        }
    };
    for word in normalized.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "or" | "and" | "with" | "|" | "&" | "/" => flush(&mut current, &mut out),
            _ => current.push(word),
        }
    }
    flush(&mut current, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Licence names from a Debian `copyright` file: the `License:` fields of the machine-readable
/// format, or else (free-form files) references to `/usr/share/common-licenses/…`: in a
/// machine-readable file those only point at the text of a licence already named.
pub fn from_debian_copyright(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() {
                out.extend(split_expression(v));
            }
        }
    }
    if !out.is_empty() {
        out.sort();
        out.dedup();
        return out;
    }
    for line in text.lines() {
        if let Some(i) = line.find("/usr/share/common-licenses/") {
            let rest = &line[i + "/usr/share/common-licenses/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                .collect();
            let name = name.trim_end_matches('.');
            if !name.is_empty() {
                out.push(to_spdx(name));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_debian_names() {
        assert_eq!(to_spdx("GPL-2+"), "GPL-2.0-or-later");
        assert_eq!(to_spdx("LGPL-2.1"), "LGPL-2.1-only");
        assert_eq!(to_spdx("Expat"), "MIT");
        assert_eq!(to_spdx("BSD-3-clause"), "BSD-3-Clause");
        assert_eq!(to_spdx("apache-2.0"), "Apache-2.0");
        assert_eq!(to_spdx("public-domain"), "LicenseRef-public-domain");
        assert_eq!(
            split_expression("GPL-2+ or Artistic"),
            vec!["Artistic-1.0-Perl", "GPL-2.0-or-later"]
        );
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                    Files: *\nLicense: GPL-3+\n\nLicense: GPL-3+\n On Debian systems see \
                    /usr/share/common-licenses/GPL-3.\n";
        assert_eq!(from_debian_copyright(text), vec!["GPL-3.0-or-later"]);
        assert_eq!(
            from_debian_copyright("see /usr/share/common-licenses/GPL-2.\n"),
            vec!["GPL-2.0-only"]
        );
    }
}
