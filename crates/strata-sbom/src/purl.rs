//! Package URLs (`pkg:type/namespace/name@version?qualifiers`), through the `packageurl`
//! crate so percent-encoding follows the PURL specification.

use packageurl::PackageUrl;

/// Build a PURL; `None` only when the name is empty (the crate refuses it).
pub fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> Option<String> {
    let mut p = PackageUrl::new(ty, name).ok()?;
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        p.with_namespace(ns).ok()?;
    }
    if !version.is_empty() {
        p.with_version(version).ok()?;
    }
    for (k, v) in qualifiers {
        if !v.is_empty() {
            p.add_qualifier(*k, *v).ok()?;
        }
    }
    Some(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_spec_says() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u10",
                &[("arch", "amd64"), ("distro", "debian-12")]
            )
            .unwrap(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl("npm", Some("@types"), "node", "20.1.0", &[]).unwrap(),
            "pkg:npm/%40types/node@20.1.0"
        );
    }
}
