//! `strata version` and `strata info`: what this binary is, which runtime it drives and
//! what its store holds. Both take docker's `--format` Go templates
//! (`strata version --format '{{.Client.Version}}'`, `strata info --format '{{.Store.Root}}'`).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Args;
use serde_json::{json, Value};

use super::images::{open_store, store_err};
use crate::output::template::Template;
use crate::output::{human_size_prec, GoValue};
use crate::Global;

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Format output using a Go template, or 'json'
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Format output using a Go template, or 'json'
    #[arg(short, long)]
    pub format: Option<String>,
}

/// The first `runc` on `PATH`, as the executor finds it.
fn runc_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("runc"))
        .find(|p| p.is_file())
}

/// First line of `PROGRAM --version` (`runc version 1.1.5`), if it runs.
fn tool_version(program: &Path) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    Some(line.rsplit(' ').next().unwrap_or(line).to_owned())
}

fn client() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "Os": std::env::consts::OS,
        "Arch": match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        },
    })
}

fn runtime() -> Value {
    match runc_path() {
        Some(p) => json!({
            "Name": "runc",
            "Path": p.display().to_string(),
            "Version": tool_version(&p).unwrap_or_else(|| "unknown".into()),
        }),
        None => json!({"Name": "runc", "Path": "", "Version": "not found"}),
    }
}

/// Print `data` with `--format`, or hand it back for the default layout.
fn formatted(format: Option<&str>, data: &Value) -> anyhow::Result<Option<ExitCode>> {
    let Some(f) = format.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let f = if f == "json" { "{{json .}}" } else { f };
    let t = Template::parse(f)?;
    println!("{}", t.render(&GoValue::from_raw_json(data))?);
    Ok(Some(ExitCode::SUCCESS))
}

pub fn version(args: VersionArgs, _global: &Global) -> anyhow::Result<ExitCode> {
    let data = json!({"Client": client(), "Runtime": runtime()});
    if let Some(code) = formatted(args.format.as_deref(), &data)? {
        return Ok(code);
    }
    let (c, r) = (&data["Client"], &data["Runtime"]);
    println!("Client: strata");
    println!(
        " Version:           {}",
        c["Version"].as_str().unwrap_or("")
    );
    println!(
        " OS/Arch:           {}/{}",
        c["Os"].as_str().unwrap_or(""),
        c["Arch"].as_str().unwrap_or("")
    );
    println!(" Daemon:            none (strata runs no daemon)");
    println!();
    println!("Runtime:");
    println!(
        " runc:              {} ({})",
        r["Version"].as_str().unwrap_or(""),
        r["Path"].as_str().unwrap_or("")
    );
    Ok(ExitCode::SUCCESS)
}

/// Apparent size of the files under `dir`, hard links once.
fn tree_size(dir: &Path) -> u64 {
    if !dir.exists() {
        return 0;
    }
    strata_layer::dir_content_size(dir).unwrap_or(0)
}

pub fn info(args: InfoArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    let images = store.list_images().map_err(store_err)?;
    let blobs = store.list_blobs().map_err(store_err)?;
    let blob_bytes: u64 = blobs.iter().filter_map(|d| store.blob_size(d).ok()).sum();
    let snapshots = store.list_snapshots().map_err(store_err)?;
    let snapshot_bytes: u64 = snapshots.iter().map(|s| s.size).sum();
    let build_dir = store.root().join("build-v1");
    let build_bytes = tree_size(&build_dir);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let data = json!({
        "Client": client(),
        "Runtime": runtime(),
        "Store": {
            "Root": store.root().display().to_string(),
            "Layout": store.layout_dir().display().to_string(),
            "Images": images.len(),
            "Tagged": images.iter().filter(|i| !i.tags.is_empty()).count(),
            "Blobs": blobs.len(),
            "BlobsSize": blob_bytes,
            "Snapshots": snapshots.len(),
            "SnapshotsSize": snapshot_bytes,
            "BuildStateSize": build_bytes,
            "TotalSize": blob_bytes + snapshot_bytes + build_bytes,
        },
        "KernelVersion": kernel,
    });
    if let Some(code) = formatted(args.format.as_deref(), &data)? {
        return Ok(code);
    }
    let s = &data["Store"];
    let size = |k: &str| human_size_prec(s[k].as_u64().unwrap_or(0), 4);
    let c = &data["Client"];
    let r = &data["Runtime"];
    println!("Client: strata {}", c["Version"].as_str().unwrap_or(""));
    println!();
    println!("Store:");
    println!(" Root: {}", s["Root"].as_str().unwrap_or(""));
    println!(" Images: {} ({} tagged)", s["Images"], s["Tagged"]);
    println!(" Blobs: {} ({})", s["Blobs"], size("BlobsSize"));
    println!(" Snapshots: {} ({})", s["Snapshots"], size("SnapshotsSize"));
    println!(" Build state: {}", size("BuildStateSize"));
    println!(" Total size: {}", size("TotalSize"));
    println!();
    println!("Runtime:");
    println!(
        " runc: {} ({})",
        r["Version"].as_str().unwrap_or(""),
        r["Path"].as_str().unwrap_or("")
    );
    println!();
    println!(
        "OS/Arch: {}/{}",
        c["Os"].as_str().unwrap_or(""),
        c["Arch"].as_str().unwrap_or("")
    );
    println!(
        "Kernel Version: {}",
        data["KernelVersion"].as_str().unwrap_or("")
    );
    Ok(ExitCode::SUCCESS)
}
