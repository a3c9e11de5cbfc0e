//! `strata pull`, plus what every registry command shares: TLS and registry flags, the
//! client built from them, the async runtime, and per-blob progress (one bar per blob
//! with bytes and rate on a terminal, plain lines otherwise).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use strata_distribution::{Client, ClientOptions, DockerConfig, Outcome, Progress, PullOptions};
use strata_oci::{Digest, Platform, Reference};

use super::archive_common::open_store;
use crate::Global;

/// Flags shared by commands that talk to registries.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (false also allows plain http)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Treat this registry (host[:port]) as insecure: unverified TLS, http fallback
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Directory of extra CA certificates (*.crt) to trust, like docker's certs.d/<host>
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Blobs transferred at once
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_concurrent: usize,
}

/// The runtime registry commands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn read_crts(dir: &Path, out: &mut Vec<Vec<u8>>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let p = e
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if p.extension().is_some_and(|x| x == "crt") {
            out.push(std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?);
        }
    }
    Ok(())
}

/// A client for `hosts`: docker's credentials, CAs from `--cert-dir` and from
/// `certs.d/<host>/` under `$STRATA_CERTS_D`, `/etc/docker/certs.d`, `/etc/containers/certs.d`.
pub fn client(flags: &RegistryFlags, hosts: &[&str]) -> Result<Client> {
    Ok(Client::new(client_options(flags, hosts)?)?)
}

/// The client settings `flags` give for `hosts` (see [`client`]).
pub fn client_options(flags: &RegistryFlags, hosts: &[&str]) -> Result<ClientOptions> {
    Ok(ClientOptions {
        tls_verify: flags.tls_verify,
        insecure_registries: flags.insecure_registries.clone(),
        ca_certs: ca_certs(flags, hosts)?,
        docker_config: Some(DockerConfig::load_default()?),
        ..ClientOptions::default()
    })
}

/// PEM CA certificates trusted for `hosts`.
pub fn ca_certs(flags: &RegistryFlags, hosts: &[&str]) -> Result<Vec<Vec<u8>>> {
    let mut ca = Vec::new();
    if let Some(d) = &flags.cert_dir {
        if !d.is_dir() {
            bail!("--cert-dir {}: not a directory", d.display());
        }
        read_crts(d, &mut ca)?;
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("STRATA_CERTS_D") {
        roots.push(d.into());
    }
    roots.push("/etc/docker/certs.d".into());
    roots.push("/etc/containers/certs.d".into());
    for root in &roots {
        for h in hosts {
            read_crts(&root.join(h), &mut ca)?;
        }
    }
    Ok(ca)
}

/// Progress on stderr: bars on a terminal, a line per finished blob otherwise.
pub struct CliProgress {
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
    quiet: bool,
    push: bool,
}

impl CliProgress {
    pub fn new(quiet: bool, push: bool) -> Arc<Self> {
        let multi = (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new);
        Arc::new(CliProgress {
            multi,
            bars: Mutex::new(HashMap::new()),
            quiet,
            push,
        })
    }

    fn line(&self, digest: &Digest, text: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(format!("{}: {text}", digest.short()));
            }
            None => eprintln!("{}: {text}", digest.short()),
        }
    }
}

impl Progress for CliProgress {
    fn start(&self, digest: &Digest, total: u64) {
        let Some(m) = &self.multi else { return };
        let bar = if total > 0 {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("valid template"),
            )
        } else {
            ProgressBar::no_length().with_style(
                ProgressStyle::with_template("{prefix} {spinner} {bytes} {bytes_per_sec}")
                    .expect("valid template"),
            )
        };
        let bar = m.add(bar.with_prefix(digest.short().to_owned()));
        self.bars
            .lock()
            .expect("bars lock")
            .insert(digest.clone(), bar);
    }

    fn advance(&self, digest: &Digest, bytes: u64) {
        if let Some(b) = self.bars.lock().expect("bars lock").get(digest) {
            b.inc(bytes);
        }
    }

    fn resumed(&self, digest: &Digest, offset: u64) {
        if let Some(b) = self.bars.lock().expect("bars lock").get(digest) {
            b.set_position(offset);
        }
        self.line(digest, &format!("Retrying from byte {offset}"));
    }

    fn finish(&self, digest: &Digest, outcome: Outcome) {
        if let Some(b) = self.bars.lock().expect("bars lock").remove(digest) {
            b.finish_and_clear();
        }
        let text = match (outcome, self.push) {
            (Outcome::Transferred, false) => "Pull complete",
            (Outcome::Transferred, true) => "Pushed",
            (Outcome::Exists, false) => "Already exists",
            (Outcome::Exists, true) => "Layer already exists",
            (Outcome::Mounted, _) => "Mounted from another repository",
        };
        self.line(digest, text);
    }
}

/// Download an image or a repository from a registry
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

pub fn run(a: PullArgs, global: &Global) -> Result<ExitCode> {
    let reference =
        Reference::parse(&a.name).with_context(|| format!("invalid reference {:?}", a.name))?;
    if a.all_tags && typed_tag_or_digest(&a.name) {
        bail!("tag can't be used with --all-tags/-a");
    }
    let platform = a
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .context("invalid --platform")?;
    let store = open_store(global)?;
    let client = client(&a.registry, &[reference.registry_host()])?;
    let opts = PullOptions {
        platform,
        concurrency: a.registry.max_concurrent,
    };
    let progress = CliProgress::new(a.quiet, false);
    let rt = runtime()?;
    let refs: Vec<Reference> = if a.all_tags {
        let repo = strata_distribution::Repository::of(&client, &reference);
        let tags = rt.block_on(repo.tags())?;
        if tags.is_empty() {
            bail!("{}: the repository has no tags", reference.repository());
        }
        tags.iter()
            .map(|t| reference.with_tag(t))
            .collect::<Result<_, _>>()?
    } else {
        vec![reference.clone()]
    };
    for r in &refs {
        if !a.quiet {
            let what = r
                .tag()
                .map(str::to_owned)
                .unwrap_or_else(|| r.manifest_ref());
            eprintln!("{what}: Pulling from {}", r.path());
        }
        let pulled = rt
            .block_on(strata_distribution::pull(
                &client,
                &store,
                r,
                &opts,
                progress.clone(),
            ))
            .with_context(|| format!("pulling {}", r.familiar()))?;
        if let Err(e) = fetch_attachments(&a.registry, &store, r, &pulled.manifest_digest) {
            eprintln!("warning: attachments of {} not pulled: {e:#}", r.familiar());
        }
        if a.quiet {
            println!("{}", r.familiar());
        } else {
            eprintln!("Digest: {}", pulled.digest);
            let status = if pulled.fetched == 0 {
                format!("Image is up to date for {}", r.familiar())
            } else {
                format!("Downloaded newer image for {}", r.familiar())
            };
            eprintln!("Status: {status}");
            println!("{}", r.familiar());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pull the attachments (OCI 1.1 referrers: SBOMs, signatures) of the pulled manifest into
/// the store too, where they stay while the image does.
fn fetch_attachments(
    flags: &RegistryFlags,
    store: &strata_store::Store,
    r: &Reference,
    manifest: &Digest,
) -> Result<usize> {
    let opts = client_options(flags, &[r.registry_host()])?;
    let remote = strata_image::transport::remote::RegistryContent::new(r.clone(), &opts)?;
    let local = strata_image::transport::store::StoreContent::new(store.clone());
    Ok(strata_image::copy::copy_attachments(
        &remote, &local, manifest,
    )?)
}

/// Whether the user typed a tag or digest (parsing adds `latest` on its own).
pub fn typed_tag_or_digest(name: &str) -> bool {
    let last = name.rsplit('/').next().unwrap_or(name);
    name.contains('@') || last.contains(':')
}
