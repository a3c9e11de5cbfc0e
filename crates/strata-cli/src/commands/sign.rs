//! `strata key generate`, `strata sign`, `strata verify`: cosign's key, payload and storage
//! formats, for images in a registry, the local store or an OCI layout.
//!
//! Where signatures go: in a registry, the `sha256-<hex>.sig` tag as cosign writes it by
//! default, or an OCI 1.1 referrer with `--registry-referrers-mode oci-1-1`; in the store and
//! in layouts, always a referrer (an attachment of the image, kept with it through save, load,
//! push and pull). `verify` looks in both places.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use strata_image::{ContentRead, ContentWrite, ErrorKind, ImageSource};
use strata_oci::{Descriptor, Digest, RawManifest};
use strata_sign::keys::{PrivateKey, PublicKey};
use strata_sign::payload::SimpleSigning;
use strata_sign::storage::{self, StoredSignature, COSIGN_SIGNATURE_ARTIFACT_TYPE};
use strata_sign::verify::{verify_all, Requirements};

use super::image_source::open_options;
use crate::Global;

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a cosign key pair (PREFIX.key encrypted with $COSIGN_PASSWORD or a prompt, PREFIX.pub)
    Generate(GenerateArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Write PREFIX.key and PREFIX.pub
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_key_prefix: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReferrersMode {
    /// The `sha256-<hex>.sig` tag (cosign's default)
    Legacy,
    /// An OCI 1.1 artifact whose subject is the image, found through the referrers API
    #[value(name = "oci-1-1")]
    Oci11,
}

#[derive(Args, Debug)]
pub struct SignArgs {
    /// Private key file (cosign.key, or a PKCS#8 / SEC1 PEM key)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Annotation to put into the signed payload (repeatable)
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// How to store the signature in a registry
    #[arg(long, value_enum, default_value = "legacy")]
    pub registry_referrers_mode: ReferrersMode,
    /// For an index, sign each platform's manifest too
    #[arg(long)]
    pub recursive: bool,
    /// Upload to a transparency log (not available: strata signs offline)
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tlog_upload: bool,
    /// Keyless signing with an OIDC identity token (not available offline)
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub identity_token: Option<String>,
    /// Keyless signing through Fulcio (not available offline)
    #[arg(long, value_name = "URL", hide = true)]
    pub fulcio_url: Option<String>,
    /// Skip the confirmation prompt (accepted for cosign compatibility)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The image: a local name, docker://REPO:TAG, oci:DIR[:REF]
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyOutput {
    Json,
    Text,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Public key file (cosign.pub)
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Annotation the payload must carry (repeatable)
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Output format of the verified payloads
    #[arg(short = 'o', long, value_enum, default_value = "json")]
    pub output: VerifyOutput,
    /// Accept payloads that name another repository
    #[arg(long)]
    pub ignore_reference: bool,
    /// Check Rekor bundles attached to signatures against this public key
    #[arg(long, value_name = "FILE")]
    pub rekor_pubkey: Option<PathBuf>,
    /// Keyless verification by certificate identity (not available offline)
    #[arg(long, value_name = "ID", hide = true)]
    pub certificate_identity: Option<String>,
    /// The image: a local name, docker://REPO:TAG, oci:DIR[:REF], oci-archive:, docker-archive:
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

pub fn run_key(cmd: KeyCommand, _global: &Global) -> Result<ExitCode> {
    match cmd {
        KeyCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> Result<ExitCode> {
    let key_path = PathBuf::from(format!("{}.key", args.output_key_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", args.output_key_prefix));
    for p in [&key_path, &pub_path] {
        if p.exists() {
            bail!(
                "{} already exists: remove it or choose another --output-key-prefix",
                p.display()
            );
        }
    }
    let password = password(true)?;
    let key = PrivateKey::generate();
    let key_pem = key.to_cosign_pem(&password)?;
    let pub_pem = key.public_key().to_pem()?;
    write_new(&key_path, key_pem.as_bytes(), 0o600)?;
    write_new(&pub_path, pub_pem.as_bytes(), 0o644)?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Write `path` through a temporary file, so a failure leaves no half-written key.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// The key password: `$COSIGN_PASSWORD` when set (even empty), else asked on the terminal.
fn password(confirm: bool) -> Result<Vec<u8>> {
    if let Ok(p) = std::env::var("COSIGN_PASSWORD") {
        return Ok(p.into_bytes());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set COSIGN_PASSWORD (it may be empty) or run on a terminal");
    }
    let first = rpassword::prompt_password("Enter password for private key: ")?;
    if confirm {
        let again = rpassword::prompt_password("Enter password for private key again: ")?;
        if again != first {
            bail!("passwords do not match");
        }
    }
    Ok(first.into_bytes())
}

fn parse_annotations(items: &[String]) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("annotation {a:?} is not KEY=VALUE"))
        })
        .collect()
}

/// The repository name a payload should carry for `source`: what cosign writes as
/// `docker-reference`.
fn identity_of(source: &ImageSource) -> String {
    let name = match source {
        ImageSource::Registry(r) => return r.repository(),
        ImageSource::Store(name) => Some(name.clone()),
        other => strata_image::transport::reference_of(other),
    };
    match name.as_deref().map(strata_oci::Reference::parse) {
        Some(Ok(r)) => r.repository(),
        _ => source.to_string(),
    }
}

pub fn run_sign(args: SignArgs, global: &Global) -> Result<ExitCode> {
    if args.tlog_upload {
        bail!("--tlog-upload=true: strata signs offline and uploads to no transparency log; pass --tlog-upload=false (the default)");
    }
    if args.identity_token.is_some() || args.fulcio_url.is_some() {
        bail!("keyless signing (Fulcio/OIDC) needs the internet and is not supported: sign with --key");
    }
    let annotations = parse_annotations(&args.annotations)?;
    let key_text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read {}", args.key.display()))?;
    let origin = args.key.display().to_string();
    let key = PrivateKey::from_pem(&key_text, &origin, || {
        password(false)
            .map_err(|e| strata_sign::Error::new(strata_sign::ErrorKind::Decrypt, e.to_string()))
    })?;
    let source: ImageSource = args.image.parse()?;
    let opts = open_options(global);
    let dest = strata_image::open_write(&source, &opts)
        .with_context(|| format!("cannot sign {source}: signatures are written in place (a registry, the store or an oci: layout)"))?;
    let reference = strata_image::transport::reference_of(&source);
    let top = dest
        .resolve(reference.as_deref())
        .with_context(|| format!("cannot find {source}"))?;
    let mut targets = vec![top.clone()];
    if args.recursive {
        let raw = dest.get_manifest(&top)?;
        if let Some(index) = raw.as_index() {
            targets.extend(index.manifests.iter().cloned());
        }
    }
    let identity = identity_of(&source);
    for target in &targets {
        let payload = SimpleSigning::new(&identity, &target.digest, &annotations).to_bytes();
        let sig = strata_sign::signature::sign(&key, &payload);
        let stored = StoredSignature {
            payload,
            signature_b64: base64_encode(&sig),
            bundle: None,
        };
        let legacy = matches!(source, ImageSource::Registry(_))
            && args.registry_referrers_mode == ReferrersMode::Legacy;
        if legacy {
            write_tag_scheme(dest.as_ref(), &target.digest, &stored)?;
        } else {
            let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let m = storage::referrer_manifest(target, &stored, &created);
            write_manifest(dest.as_ref(), &m, None)?;
        }
        eprintln!("Signed {} ({})", target.digest, identity);
    }
    Ok(ExitCode::SUCCESS)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn write_manifest(
    dest: &dyn ContentWrite,
    m: &storage::ManifestToWrite,
    tag: Option<&str>,
) -> Result<()> {
    for (desc, data) in &m.blobs {
        dest.put_bytes(desc, data)?;
    }
    let raw = RawManifest::from_manifest(&m.manifest)?;
    dest.put_manifest(&raw, tag)?;
    Ok(())
}

/// Append `sig` to the `sha256-<hex>.sig` manifest, creating it when there is none.
fn write_tag_scheme(dest: &dyn ContentWrite, digest: &Digest, sig: &StoredSignature) -> Result<()> {
    let tag = storage::signature_tag(digest);
    let existing = tag_scheme_signatures(dest, digest)?;
    let m = storage::tag_scheme_manifest(&existing, sig);
    write_manifest(dest, &m, Some(&tag))
}

/// Signatures under the `sha256-<hex>.sig` tag; none when the tag does not exist.
fn tag_scheme_signatures(
    content: &dyn ContentRead,
    digest: &Digest,
) -> Result<Vec<StoredSignature>> {
    let tag = storage::signature_tag(digest);
    let desc = match content.resolve(Some(&tag)) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let raw = content.get_manifest(&desc)?;
    let Some(m) = raw.as_image() else {
        return Ok(Vec::new());
    };
    Ok(storage::signatures_in(m, |d| read_small(content, d))?)
}

fn read_small(content: &dyn ContentRead, d: &Descriptor) -> strata_sign::Result<Vec<u8>> {
    content
        .read_verified(d, strata_image::content::DOCUMENT_LIMIT)
        .map_err(|e| strata_sign::Error::new(strata_sign::ErrorKind::Verification, e.to_string()))
}

/// Every signature stored for `digest`: the tag scheme (where the source has tags in a
/// repository) and OCI 1.1 referrers.
pub(crate) fn find_signatures(
    content: &dyn ContentRead,
    source: &ImageSource,
    digest: &Digest,
) -> Result<Vec<StoredSignature>> {
    let mut all = Vec::new();
    if matches!(source, ImageSource::Registry(_)) {
        all.extend(tag_scheme_signatures(content, digest)?);
    }
    for r in content.referrers_of_type(digest, Some(COSIGN_SIGNATURE_ARTIFACT_TYPE))? {
        let raw = content.get_manifest(&r)?;
        if let Some(m) = raw.as_image() {
            all.extend(storage::signatures_in(m, |d| read_small(content, d))?);
        }
    }
    Ok(all)
}

pub fn run_verify(args: VerifyArgs, global: &Global) -> Result<ExitCode> {
    if args.certificate_identity.is_some() {
        bail!("keyless verification (certificate identities) is not supported offline: verify with --key");
    }
    let key_text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read {}", args.key.display()))?;
    let key = PublicKey::from_pem(&key_text, &args.key.display().to_string())?;
    let rekor_key = match &args.rekor_pubkey {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Some(PublicKey::from_pem(&text, &p.display().to_string())?)
        }
        None => None,
    };
    let source: ImageSource = args.image.parse()?;
    let opts = open_options(global);
    let content = strata_image::open_read(&source, &opts)?;
    let reference = strata_image::transport::reference_of(&source);
    let top = content
        .resolve(reference.as_deref())
        .with_context(|| format!("cannot find {source}"))?;
    let signatures = find_signatures(content.as_ref(), &source, &top.digest)?;
    let req = Requirements {
        reference: (!args.ignore_reference).then(|| identity_of(&source)),
        annotations: parse_annotations(&args.annotations)?,
        rekor_key,
    };
    let (verified, rejected) = verify_all(&signatures, &key, &top.digest, &req);
    if verified.is_empty() {
        let mut msg = format!("no matching signatures for {source} ({})", top.digest);
        if signatures.is_empty() {
            msg.push_str(": the image has no signatures");
        }
        for r in &rejected {
            msg.push_str(&format!("\n  signature {}: {}", r.index + 1, r.reason));
        }
        bail!(msg);
    }
    eprintln!("\nVerification for {source} --");
    eprintln!("The following checks were performed on each of these signatures:");
    eprintln!("  - The cosign claims were validated");
    if req.rekor_key.is_some() && verified.iter().any(|v| v.bundle.is_some()) {
        eprintln!("  - The signed entry timestamps of the Rekor bundles were verified offline");
    }
    eprintln!("  - The signatures were verified against the specified public key");
    let payloads: Vec<serde_json::Value> = verified
        .iter()
        .map(|v| serde_json::from_slice(&v.raw_payload).expect("payload parsed before"))
        .collect();
    match args.output {
        VerifyOutput::Json => println!("{}", serde_json::to_string(&payloads)?),
        VerifyOutput::Text => {
            for v in &verified {
                println!(
                    "{} {} {}",
                    v.payload.critical.image.docker_manifest_digest,
                    v.payload.critical.identity.docker_reference,
                    v.payload
                        .optional
                        .as_ref()
                        .map(|o| serde_json::to_string(o).unwrap_or_default())
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
