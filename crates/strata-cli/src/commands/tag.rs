//! `strata tag SOURCE TARGET` / `strata image tag`.

use std::process::ExitCode;

use clap::Args;

use strata_store::{ErrorKind, TagRef};

use super::images::{lookup_err, open_store, store_err};
use crate::Global;

#[derive(Args, Debug)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG], image ID or ID prefix
    #[arg(value_name = "SOURCE_IMAGE")]
    pub source: String,
    /// TARGET_IMAGE[:TAG]
    #[arg(value_name = "TARGET_IMAGE")]
    pub target: String,
}

/// docker's check of a new tag's name: a first segment that is not a registry host (no `.`
/// or `:`, not `localhost`) is part of the repository name, which must be lowercase. (The
/// reference grammar alone would read `UPPER/x` as host `UPPER`; docker refuses it.)
fn docker_name_problem(target: &str) -> Option<&'static str> {
    let name = target.split('@').next().unwrap_or(target);
    let path = match name.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => name,
    };
    let repo = path.rsplit_once(':').map_or(path, |(repo, _tag)| repo);
    repo.bytes()
        .any(|b| b.is_ascii_uppercase())
        .then_some("repository name must be lowercase")
}

pub fn run(args: TagArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let bad_target = |detail: &str| {
        eprintln!(
            "Error parsing reference: {:?} is not a valid repository/tag: invalid reference format{detail}",
            args.target
        );
        Ok(ExitCode::from(1))
    };
    if let Some(problem) = docker_name_problem(&args.target) {
        return bad_target(&format!(": {problem}"));
    }
    if let Err(e) = TagRef::parse(&args.target) {
        if e.kind() == ErrorKind::InvalidInput {
            return bad_target(&format!("\nhint: {}", e.message));
        }
    }
    let store = open_store(global)?;
    store
        .tag_image(&args.source, &args.target)
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => lookup_err(&args.source, e),
            _ => store_err(e),
        })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uppercase_repository_names_are_refused_as_docker_does() {
        for bad in ["UPPER/x", "up/X:tag", "localhost:5000/X", "Busybox"] {
            assert!(super::docker_name_problem(bad).is_some(), "{bad}");
        }
        for good in [
            "Example.com/x",
            "ok/x:TAG",
            "localhost:5000/x:V1",
            "busybox",
        ] {
            assert!(super::docker_name_problem(good).is_none(), "{good}");
        }
    }
}
