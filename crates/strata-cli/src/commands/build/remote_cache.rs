//! `strata build --cache-from SPEC` and `--cache-to SPEC`: open the cache locations
//! before the build (so a malformed spec fails fast), let the builder ask the imported
//! caches for keys it misses, and export the build's step results afterwards. Import
//! problems are warnings; export problems fail the command unless `ignore-error=true`.

use anyhow::{Context, Result};
use strata_build::remote_cache::{
    CacheFrom, CacheLocation, CacheSource, CacheTo, ImportedCache, RemoteCache,
};
use strata_build::BuildOutcome;
use strata_store::Store;

use crate::commands::pull::{client, RegistryFlags};

/// The caches one build imports from and exports to.
pub struct Caches {
    imports: Vec<ImportedCache>,
    exports: Vec<(CacheTo, RemoteCache)>,
    warnings: Vec<String>,
}

/// A registry client with docker's credentials and the default TLS rules (plain http
/// for loopback registries).
fn open(location: &CacheLocation) -> Result<RemoteCache> {
    let c = match location {
        CacheLocation::Registry(r) => {
            let flags = RegistryFlags {
                tls_verify: true,
                insecure_registries: Vec::new(),
                cert_dir: None,
                max_concurrent: 4,
            };
            Some(client(&flags, &[r.registry_host()])?)
        }
        CacheLocation::Local { .. } => None,
    };
    RemoteCache::open(location, c).with_context(|| format!("opening cache {location}"))
}

impl Caches {
    /// Parse and open every spec, and read the key tables of the `--cache-from` ones.
    pub fn open(from: &[String], to: &[String]) -> Result<Caches> {
        let mut exports = Vec::new();
        for spec in to {
            let t = CacheTo::parse(spec)?;
            let cache = open(&t.location)?;
            exports.push((t, cache));
        }
        let mut imports = Vec::new();
        for spec in from {
            let f = CacheFrom::parse(spec)?;
            imports.push(ImportedCache::load(open(&f.location)?));
        }
        Ok(Caches {
            imports,
            exports,
            warnings: Vec::new(),
        })
    }

    /// What the builder asks for keys the local cache misses.
    pub fn source(&self) -> Option<&dyn CacheSource> {
        (!self.imports.is_empty()).then_some(&self.imports as &dyn CacheSource)
    }

    /// Export to every `--cache-to`; returns the lines for the export step.
    pub fn export(&mut self, store: &Store, outcome: &BuildOutcome) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        for (t, cache) in &self.exports {
            match cache.export(store, &outcome.steps, t.mode) {
                Ok(r) => lines.push(format!(
                    "exporting cache to {} ({} steps, {} layers: {} sent, {} present) {}",
                    t.location, r.records, r.layers, r.uploaded, r.existed, r.manifest
                )),
                // The error names the location.
                Err(e) if t.ignore_error => self.warnings.push(e.to_string()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(lines)
    }

    /// Print the warnings of imports and ignored export errors on stderr.
    pub fn print_warnings(&self) {
        for w in self
            .imports
            .iter()
            .flat_map(|i| i.warnings())
            .chain(self.warnings.iter().cloned())
        {
            eprintln!("WARNING: {w}");
        }
    }
}
