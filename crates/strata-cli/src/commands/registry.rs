//! `strata registry serve|gc|retention`: run an OCI distribution registry and maintain it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use strata_registry::auth::AuthMode;
use strata_registry::config::{Config, StorageKind, TlsConfig};
use strata_registry::gc::{self, GcOptions};
use strata_registry::storage::s3::S3Config;
use strata_registry::{retention, server, Registry};

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Serve the OCI distribution API (default 127.0.0.1:5000, storage ./registry-data)
    Serve(ServeArgs),
    /// Remove unreferenced blobs and abandoned uploads now
    Gc(GcArgs),
    /// Apply the configured retention policies now
    Retention(RetentionArgs),
}

/// Where the configuration and storage come from (shared by all subcommands).
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// TOML configuration file
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Filesystem storage directory (overrides the config)
    #[arg(long, value_name = "DIR")]
    pub storage_path: Option<PathBuf>,
    /// Use S3-compatible storage in this bucket (overrides the config)
    #[arg(long, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// S3 endpoint URL, e.g. http://127.0.0.1:9000
    #[arg(long, value_name = "URL", requires = "s3_bucket")]
    pub s3_endpoint: Option<String>,
    /// S3 region
    #[arg(long, value_name = "REGION", requires = "s3_bucket")]
    pub s3_region: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Listen address
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// TLS certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// htpasswd file (bcrypt); enables basic auth unless the config selects token auth
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// Allow pulls without credentials
    #[arg(long)]
    pub anonymous_pull: bool,
    /// Log format
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    pub log_format: String,
}

#[derive(Args, Debug)]
pub struct GcArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Report what would be removed without removing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Keep unreferenced blobs younger than this (default from config, 1h)
    #[arg(long, value_name = "DURATION", value_parser = humantime_parse)]
    pub grace: Option<Duration>,
    /// Remove uploads idle for longer than this (default from config, 24h)
    #[arg(long, value_name = "DURATION", value_parser = humantime_parse)]
    pub upload_grace: Option<Duration>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RetentionArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Report what would be removed without removing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

fn humantime_parse(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 30m, 2h, 7d)"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration unit in {s:?} (s, m, h, d)")),
    };
    Ok(Duration::from_secs(n * secs))
}

fn load_config(a: &StorageArgs) -> anyhow::Result<Config> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(p) = &a.storage_path {
        cfg.storage.kind = StorageKind::Filesystem;
        cfg.storage.path = p.clone();
    }
    if let Some(b) = &a.s3_bucket {
        cfg.storage.kind = StorageKind::S3;
        let mut s3 = cfg.storage.s3.take().unwrap_or_default();
        s3.bucket = b.clone();
        if a.s3_endpoint.is_some() {
            s3.endpoint = a.s3_endpoint.clone();
        }
        if a.s3_region.is_some() {
            s3.region = a.s3_region.clone();
        }
        cfg.storage.s3 = Some(S3Config { ..s3 });
    }
    Ok(cfg)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(cmd: RegistryCommand, _global: &crate::Global) -> anyhow::Result<ExitCode> {
    match cmd {
        RegistryCommand::Serve(a) => serve(a),
        RegistryCommand::Gc(a) => run_gc(a),
        RegistryCommand::Retention(a) => run_retention(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load_config(&a.storage)?;
    if let Some(addr) = a.addr {
        cfg.addr = addr;
    }
    match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => cfg.tls = Some(TlsConfig { cert, key }),
        (None, None) => {}
        _ => bail!("--tls-cert and --tls-key go together"),
    }
    if let Some(h) = a.htpasswd {
        cfg.auth.htpasswd = Some(h);
        if cfg.auth.mode == AuthMode::None {
            cfg.auth.mode = AuthMode::Htpasswd;
        }
    }
    if a.anonymous_pull {
        cfg.auth.anonymous_pull = true;
    }
    server::init_logging(a.log_format == "json");
    runtime()?.block_on(server::run(cfg))?;
    Ok(ExitCode::SUCCESS)
}

fn run_gc(a: GcArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(&a.storage)?;
    let opts = GcOptions {
        grace: a.grace.unwrap_or(cfg.gc.grace),
        upload_grace: a.upload_grace.unwrap_or(cfg.gc.upload_grace),
        dry_run: a.dry_run,
    };
    let report = runtime()?.block_on(async {
        let registry = Registry::new(server::open_storage(&cfg)?);
        gc::collect(&registry, opts).await
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if report.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for b in &report.blobs_deleted {
            println!("{verb} blob {b}");
        }
        for u in &report.uploads_deleted {
            println!("{verb} upload {u}");
        }
        println!(
            "{} blobs, {} referenced, {} in grace period; {verb} {} blobs ({} bytes), {} uploads",
            report.blobs_total,
            report.blobs_referenced,
            report.blobs_in_grace,
            report.blobs_deleted.len(),
            report.bytes_freed,
            report.uploads_deleted.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_retention(a: RetentionArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(&a.storage)?;
    if cfg.retention.is_empty() {
        bail!("no [[retention]] rules configured (pass --config FILE)");
    }
    let report = runtime()?.block_on(async {
        let registry = Registry::new(server::open_storage(&cfg)?);
        retention::apply(&registry, &cfg.retention, a.dry_run).await
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if report.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for r in &report.tags_removed {
            println!(
                "{verb} {}:{} ({}) — {}",
                r.repository, r.tag, r.digest, r.reason
            );
        }
        for m in &report.manifests_removed {
            println!("{verb} manifest {m}");
        }
        println!(
            "{verb} {} tags, {} manifests",
            report.tags_removed.len(),
            report.manifests_removed.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86400);
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
