//! `strata sbom IMAGE`: catalogue what is installed in an image and write an SBOM (SPDX 2.3
//! JSON, CycloneDX 1.6 JSON, strata's JSON, or a table).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use strata_sbom::{ImageFs, ImageSubject, Sbom};

use super::sbom_source::open_image;
use crate::output::table::TabWriter;
use crate::Global;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON
    SpdxJson,
    /// CycloneDX 1.6 JSON
    CyclonedxJson,
    /// A table of name, version, type and introducing layer
    Table,
    /// strata's own JSON: every package with its files, source package and layer
    Json,
}

#[derive(Args, Debug)]
pub struct SbomArgs {
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: SbomFormat,
    /// Write to FILE instead of standard output (replaced atomically)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// The image: a local name or ID, docker-archive:FILE, oci:DIR[:TAG], oci-archive:FILE
    /// or docker://REF
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

pub fn run(a: SbomArgs, global: &Global) -> Result<ExitCode> {
    let sbom = sbom_of(global, &a.image)?;
    let text = render(&sbom, a.format)?;
    write_output(a.output.as_deref(), text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Catalogue the image `spec` names.
pub fn sbom_of(global: &Global, spec: &str) -> Result<Sbom> {
    let image = open_image(global, spec)?;
    let mut fs = ImageFs::new();
    image.for_each_layer(|_, diff_id, tar| {
        fs.add_layer(&diff_id.to_string(), tar)
            .with_context(|| format!("cataloguing image {spec}"))?;
        Ok(())
    })?;
    let subject = ImageSubject {
        name: spec.to_owned(),
        id: image.config_digest().to_string(),
        manifest_digest: Some(image.manifest_digest().to_string()),
        created: image.created(),
        layers: fs.layers().to_vec(),
    };
    Ok(strata_sbom::catalog(&fs, subject))
}

fn render(sbom: &Sbom, format: SbomFormat) -> Result<String> {
    Ok(match format {
        SbomFormat::SpdxJson => pretty(&strata_sbom::to_spdx_json(sbom))?,
        SbomFormat::CyclonedxJson => pretty(&strata_sbom::to_cyclonedx_json(sbom))?,
        SbomFormat::Json => pretty(&serde_json::to_value(sbom)?)?,
        SbomFormat::Table => {
            let mut t = TabWriter::new();
            t.push("NAME\tVERSION\tTYPE\tLAYER");
            for p in &sbom.packages {
                let layer = p
                    .layer
                    .as_ref()
                    .map(|l| l.index.to_string())
                    .unwrap_or_else(|| "-".into());
                t.push(&format!(
                    "{}\t{}\t{}\t{layer}",
                    p.name,
                    p.version,
                    p.kind.as_str()
                ));
            }
            let mut out = t.render();
            for n in &sbom.notes {
                out.push_str(&format!("note: {n}\n"));
            }
            out
        }
    })
}

fn pretty(v: &serde_json::Value) -> Result<String> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s)
}

/// Write `bytes` to `path` through a temporary file renamed into place, so a failure
/// leaves no half-written file; standard output when `path` is `None` or `-`.
pub fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    let Some(path) = path.filter(|p| *p != Path::new("-")) else {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        return Ok(());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
