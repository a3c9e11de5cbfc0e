//! Running the `strata` binary against a given store root.
//!
//! Integration tests live in the CLI crate and know the binary's path
//! (`env!("CARGO_BIN_EXE_strata")`); this wrapper adds `--root` and turns exit codes into
//! readable failures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context, Result};

/// A `strata` binary bound to one store root.
#[derive(Debug, Clone)]
pub struct Strata {
    bin: PathBuf,
    root: PathBuf,
}

impl Strata {
    pub fn new(bin: impl Into<PathBuf>, root: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            root: root.into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A command with `--root` set, ready for more arguments.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.root);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Run with `args`; the output whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        self.command()
            .args(args)
            .output()
            .with_context(|| format!("running {} {}", self.bin.display(), args.join(" ")))
    }

    /// Run with `args`, fail unless it exits 0, return stdout as text.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if !out.status.success() {
            bail!(
                "strata {} failed ({}):\nstdout: {}\nstderr: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run with `args`, fail unless it exits non-zero, return stderr as text.
    pub fn run_err(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if out.status.success() {
            bail!(
                "strata {} unexpectedly succeeded:\nstdout: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
