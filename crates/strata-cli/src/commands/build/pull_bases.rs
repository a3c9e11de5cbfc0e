//! `strata build --pull`: before building, ask each base image's registry for a newer
//! version, as docker does. A base that only exists locally (no registry has it, or none is
//! reachable) is reported and used as it is.

use std::sync::Arc;

use anyhow::{Context, Result};
use strata_distribution::{Client, ClientOptions, DockerConfig, NoProgress, PullOptions};
use strata_oci::{Platform, Reference};
use strata_store::Store;

/// Pull every reference in `bases` into `store`; `platform` is the build's `--platform`.
/// Progress lines go to stderr unless `quiet`.
pub fn pull_bases(
    store: &Store,
    bases: &[String],
    platform: Option<&str>,
    quiet: bool,
) -> Result<()> {
    if bases.is_empty() {
        return Ok(());
    }
    let platform = platform
        .map(Platform::parse)
        .transpose()
        .context("invalid --platform")?;
    let client = Client::new(ClientOptions {
        docker_config: Some(DockerConfig::load_default()?),
        ..ClientOptions::default()
    })?;
    let rt = super::super::pull::runtime()?;
    for base in bases {
        let reference = Reference::parse(base)
            .with_context(|| format!("invalid base image reference {base:?}"))?;
        let opts = PullOptions {
            platform: platform.clone(),
            concurrency: 4,
        };
        let pulled = rt.block_on(strata_distribution::pull(
            &client,
            store,
            &reference,
            &opts,
            Arc::new(NoProgress),
        ));
        match pulled {
            Ok(p) if !quiet => {
                let status = if p.fetched == 0 {
                    "up to date"
                } else {
                    "pulled a newer image"
                };
                eprintln!("--pull: {}: {status} ({})", reference.familiar(), p.digest);
            }
            Ok(_) => {}
            Err(e) if store.resolve(base).is_ok() => {
                if !quiet {
                    eprintln!(
                        "--pull: {}: no image from its registry ({e}); using the local image",
                        reference.familiar()
                    );
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("--pull: pulling base image {base}"));
            }
        }
    }
    Ok(())
}
