//! `strata image diff A B`: which files differ between two images' final filesystems
//! (added, removed, changed with what changed: type, size, mode, owner, content, link
//! target), a summary by directory, and diff(1)'s exit codes with `--exit-code`.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use strata_analyze::gofmt::human_bytes;
use strata_analyze::scan::{scan_layer, ScanOptions};
use strata_analyze::{ChangeKind, FileMeta, Filesystem, ImageDiff};

use super::analyze::source::{open_image, OpenedImage};
use super::pull::RegistryFlags;
use crate::Global;

/// Show the files that differ between two images
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// Output format
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Exit 1 when the images differ, 0 when they do not, 2 on errors (as diff(1))
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The first image: a local name or ID, docker-archive:FILE[:REF], oci:DIR[:TAG], docker://REF
    #[arg(value_name = "A")]
    pub a: String,
    /// The second image, in any of the same forms
    #[arg(value_name = "B")]
    pub b: String,
}

/// The merged filesystem of an image, with every regular file's content digest.
pub fn merged_filesystem(image: &OpenedImage) -> Result<Filesystem> {
    let mut fs = Filesystem::new();
    for i in 0..image.layer_count() {
        let mut stream = image.open_layer(i)?;
        let name = format!("{}: layer {i} ({})", image.name, image.diff_ids[i]);
        let scan = scan_layer(
            std::io::BufReader::with_capacity(1 << 18, &mut stream),
            &name,
            ScanOptions {
                hash_contents: true,
            },
        )?;
        stream.finish()?;
        fs.apply(i, &scan);
    }
    Ok(fs)
}

pub fn run(args: DiffArgs, global: &Global) -> Result<ExitCode> {
    match compare(&args, global) {
        Ok(diff) => {
            let differ = !diff.is_empty();
            Ok(if args.exit_code && differ {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) if args.exit_code => {
            eprintln!("Error: {e:#}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e),
    }
}

fn compare(args: &DiffArgs, global: &Global) -> Result<ImageDiff> {
    let a = open_image(&args.a, global, &args.registry)?;
    let fa = merged_filesystem(&a).with_context(|| format!("reading {}", args.a))?;
    let b = open_image(&args.b, global, &args.registry)?;
    let fb = merged_filesystem(&b).with_context(|| format!("reading {}", args.b))?;
    let diff = strata_analyze::diff(&fa, &fb);
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&diff)?),
        _ => print!("{}", render(&diff)),
    }
    Ok(diff)
}

fn describe(m: &FileMeta) -> String {
    format!(
        "{}{:04o} {}:{} {}",
        m.kind.letter(),
        m.mode,
        m.uid,
        m.gid,
        human_bytes(m.size)
    )
}

fn render(diff: &ImageDiff) -> String {
    let mut s = String::new();
    if diff.is_empty() {
        let _ = writeln!(s, "No differences.");
        return s;
    }
    for c in &diff.changes {
        let path = format!("/{}", c.path);
        match (c.kind, &c.before, &c.after) {
            (ChangeKind::Changed, Some(b), Some(a)) => {
                let _ = writeln!(
                    s,
                    "M  {path}  {} -> {}  ({})",
                    describe(b),
                    describe(a),
                    c.fields.join(", ")
                );
            }
            (_, _, Some(a)) => {
                let _ = writeln!(s, "A  {path}  {}", describe(a));
            }
            (_, Some(b), _) => {
                let _ = writeln!(s, "D  {path}  {}", describe(b));
            }
            _ => {}
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<40}  {:>6}  {:>7}  {:>7}  {:>12}",
        "DIRECTORY", "ADDED", "REMOVED", "CHANGED", "SIZE CHANGE"
    );
    for d in &diff.directories {
        let delta = if d.size_delta < 0 {
            format!("-{}", human_bytes(d.size_delta.unsigned_abs()))
        } else {
            format!("+{}", human_bytes(d.size_delta as u64))
        };
        let _ = writeln!(
            s,
            "{:<40}  {:>6}  {:>7}  {:>7}  {:>12}",
            d.dir, d.added, d.removed, d.changed, delta
        );
    }
    let count = |k: ChangeKind| diff.changes.iter().filter(|c| c.kind == k).count();
    let _ = writeln!(
        s,
        "\n{} added, {} removed, {} changed",
        count(ChangeKind::Added),
        count(ChangeKind::Removed),
        count(ChangeKind::Changed)
    );
    s
}
