//! rpm databases. strata reads none of the three formats yet (sqlite `rpmdb.sqlite`,
//! Berkeley DB `Packages`, NDB `Packages.db`): the SBOM says so instead of silently listing
//! nothing, so a user of an rpm-based image is not told the image is empty.

use crate::fsview::ImageFs;

const DATABASES: &[(&str, &str)] = &[
    ("var/lib/rpm/rpmdb.sqlite", "sqlite"),
    ("usr/lib/sysimage/rpm/rpmdb.sqlite", "sqlite"),
    ("var/lib/rpm/Packages", "Berkeley DB"),
    ("usr/lib/sysimage/rpm/Packages", "Berkeley DB"),
    ("var/lib/rpm/Packages.db", "NDB"),
    ("usr/lib/sysimage/rpm/Packages.db", "NDB"),
];

pub fn notes(fs: &ImageFs) -> Vec<String> {
    DATABASES
        .iter()
        .filter(|(path, _)| fs.text(path).is_some())
        .map(|(path, format)| {
            format!("/{path}: rpm {format} databases are not supported; rpm packages not listed")
        })
        .collect()
}
