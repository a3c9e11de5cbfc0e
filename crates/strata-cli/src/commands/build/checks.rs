//! BuildKit's build checks around `strata build`: run before the build, printed after
//! it (or instead of it with `--check`), fatal with `# check=error=true`.

use anyhow::Result;
use strata_build::BuildOptions;
use strata_dockerfile::dockerignore::Matcher;
use strata_lint::buildcheck::{self, CheckOptions, Report};

/// Runs the checks on the build's Dockerfile with its build args and `.dockerignore`.
pub fn run(opts: &BuildOptions) -> Result<Report> {
    let matcher = Matcher::new(&opts.ignore_patterns).ok();
    let check_opts = CheckOptions {
        build_args: opts.build_args.clone().into_iter().collect(),
        ignore: matcher.as_ref(),
        base_platforms: Vec::new(),
    };
    buildcheck::check(&opts.dockerfile, &check_opts)
        .map_err(|e| anyhow::anyhow!("{}", e.with_source(&opts.dockerfile_name, &opts.dockerfile)))
}

/// BuildKit's warning summary with source snippets, for stderr.
pub fn summary(report: &Report, opts: &BuildOptions) -> String {
    buildcheck::render(report, &opts.dockerfile_name, &opts.dockerfile)
}

/// `build --check`: the summary, then BuildKit's closing line.
pub fn check_only(report: &Report, opts: &BuildOptions) -> String {
    let n = report.warnings.len();
    let mut out = summary(report, opts);
    if n == 0 {
        out.push_str("Check complete, no warnings found.\n");
    } else {
        out.push_str(&format!(
            "Check complete, {n} warning{} ha{} been found!\n",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "ve" }
        ));
    }
    out
}
