//! `strata images` / `strata image ls|list`: the local image list with docker's columns,
//! filters and `--format`; plus the `strata image …` group and helpers the other image
//! commands share (opening the store, error hints, filters).

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use strata_store::{ErrorKind, Image, Store, TagRef};

use crate::output::{created_at, created_since, human_size, Formatter};
use crate::Global;

/// `strata image …`: manage images in the local store.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(name = "ls", visible_alias = "list")]
    Ls(ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(super::inspect::InspectArgs),
    /// Show the history of an image
    History(super::history::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(super::tag::TagArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove", name = "rm")]
    Rm(super::rmi::RmiArgs),
    /// Remove unused images
    Prune(super::prune::PruneArgs),
    /// Export an image's filesystem (all layers merged) as a tar archive
    Export(super::export::ExportArgs),
    /// Show the files that differ between two images
    Diff(super::image_diff::DiffArgs),
}

pub fn run_image(cmd: ImageCommand, global: &Global) -> anyhow::Result<ExitCode> {
    match cmd {
        ImageCommand::Ls(a) => run(a, global),
        ImageCommand::Inspect(a) => super::inspect::run_image(a, global),
        ImageCommand::History(a) => super::history::run(a, global),
        ImageCommand::Tag(a) => super::tag::run(a, global),
        ImageCommand::Rm(a) => super::rmi::run(a, global),
        ImageCommand::Prune(a) => super::prune::run(a, global),
        ImageCommand::Export(a) => super::export::run(a, global),
        ImageCommand::Diff(a) => super::image_diff::run(a, global),
    }
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (strata stores no intermediate images, so this is the same list)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (dangling, label, before, since, reference, until)
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Only images of this repository (and tag)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub repository: Option<String>,
}

/// Open the store the global options name.
pub(crate) fn open_store(global: &Global) -> anyhow::Result<Store> {
    let root = global
        .root
        .clone()
        .unwrap_or_else(strata_store::default_root);
    Store::open(&root).with_context(|| format!("cannot open the image store at {}", root.display()))
}

/// Why a name the user gave did not find an image, worded as docker words it (scripts test
/// the first words).
#[derive(Debug)]
pub(crate) enum LookupError {
    NoSuchImage(String),
    InvalidReference(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::NoSuchImage(s) => {
                write!(f, "No such image: {s}\nhint: run `strata images` to list images")
            }
            LookupError::InvalidReference(s) => write!(
                f,
                "invalid reference format: {s:?}\nhint: references look like name[:tag], e.g. myapp:1.0"
            ),
        }
    }
}

impl std::error::Error for LookupError {}

/// A store error met while looking up the image the user named `spec`: not found is "No
/// such image", or "invalid reference format" when `spec` is neither a reference nor an ID.
pub(crate) fn lookup_err(spec: &str, e: strata_store::Error) -> anyhow::Error {
    match e.kind() {
        ErrorKind::NotFound => {
            let id_like = spec
                .strip_prefix("sha256:")
                .unwrap_or(spec)
                .bytes()
                .all(|b| b.is_ascii_hexdigit());
            if !id_like && TagRef::parse(spec).is_err() {
                LookupError::InvalidReference(spec.to_owned()).into()
            } else {
                LookupError::NoSuchImage(spec.to_owned()).into()
            }
        }
        _ => store_err(e),
    }
}

/// `store.resolve(spec)` with [`lookup_err`]'s errors.
pub(crate) fn lookup_image(store: &Store, spec: &str) -> anyhow::Result<Image> {
    store.resolve(spec).map_err(|e| lookup_err(spec, e))
}

/// Turn a store error into a CLI error with a hint line where one helps.
pub(crate) fn store_err(e: strata_store::Error) -> anyhow::Error {
    let hint = match e.kind() {
        ErrorKind::Ambiguous => Some("type more characters of the image ID, or use a name"),
        ErrorKind::Conflict => Some("use -f to remove the image and all its tags"),
        ErrorKind::InvalidInput => Some("references look like name[:tag], e.g. myapp:1.0"),
        ErrorKind::Database | ErrorKind::Corrupt => {
            Some("run `strata system check` to verify the store")
        }
        _ => None,
    };
    match hint {
        Some(h) => anyhow!("{}\nhint: {h}", e.message),
        None => anyhow!(e),
    }
}

/// Time used for age filters and ordering: the config's `created`, else when it was added.
pub(crate) fn image_time(i: &Image) -> DateTime<Utc> {
    i.record.created.unwrap_or(i.record.added)
}

/// Go's `path.Match`: `*` and `?` never match `/`; `[...]` classes with ranges and `^`.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(1).position(|&c| c == ']').map(|e| e + 1) else {
                    return false;
                };
                let Some(&c) = n.first() else { return false };
                let (neg, class) = match p[1] {
                    '^' => (true, &p[2..end]),
                    _ => (false, &p[1..end]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            Some(&c) => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

/// docker's reference filter: the pattern against `repo:tag`, then against `repo`.
pub(crate) fn reference_matches(pattern: &str, tag: &TagRef) -> bool {
    glob_match(pattern, &tag.familiar()) || glob_match(pattern, tag.familiar_repository())
}

/// Parse a Go duration (`90s`, `1h30m`, `10m`): units ns, us, ms, s, m, h.
pub(crate) fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(chrono::Duration::milliseconds((total * 1000.0) as i64))
}

/// docker's time filter values: a Go duration before now, unix seconds, RFC 3339, or a date.
pub(crate) fn parse_time(value: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(d) = parse_go_duration(value) {
        return Ok(now - d);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return DateTime::from_timestamp(secs.trunc() as i64, (secs.fract() * 1e9) as u32)
            .ok_or_else(|| anyhow!("timestamp {value} is out of range"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    bail!("invalid time {value:?}: use a duration (10m, 24h), unix seconds, RFC 3339 or YYYY-MM-DD")
}

/// A label filter: `key`, `key=value` (negated for `label!=`).
pub(crate) fn label_matches(
    spec: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    match spec.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(spec),
    }
}

/// Parsed `images --filter` values.
#[derive(Default)]
struct Filters {
    dangling: Option<bool>,
    labels: Vec<String>,
    before: Option<DateTime<Utc>>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    references: Vec<String>,
}

fn parse_filters(specs: &[String], store: &Store, now: DateTime<Utc>) -> anyhow::Result<Filters> {
    let mut f = Filters::default();
    for spec in specs {
        let (k, v) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter {spec:?} (expected name=value)"))?;
        match k {
            "dangling" => {
                f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => bail!("invalid filter 'dangling={v}': expected true or false"),
                })
            }
            "label" => f.labels.push(v.to_owned()),
            "before" | "since" => {
                let t = image_time(&lookup_image(store, v)?);
                if k == "before" {
                    f.before = Some(t)
                } else {
                    f.since = Some(t)
                }
            }
            "until" => f.until = Some(parse_time(v, now)?),
            "reference" => f.references.push(v.to_owned()),
            other => bail!(
                "invalid filter '{other}'\nhint: images supports dangling, label, before, since, reference and until"
            ),
        }
    }
    Ok(f)
}

/// One row of `images`: an image with one of its tags (or none).
fn rows(
    images: &[Image],
    f: &Filters,
    repo_arg: Option<&str>,
) -> anyhow::Result<Vec<(Image, Option<TagRef>)>> {
    // docker turns the argument into a `reference` filter: a glob over the familiar name
    // (`web:1.*`, `me/*`). A plain name also matches in its normalised spelling
    // (`docker.io/library/busybox`).
    let exact = repo_arg.and_then(|r| TagRef::parse(r).ok().map(|t| (t, r.contains(':'))));
    let mut out = Vec::new();
    for img in images {
        let t = image_time(img);
        let dangling = img.tags.is_empty();
        if f.dangling.is_some_and(|d| d != dangling)
            || !f
                .labels
                .iter()
                .all(|l| label_matches(l, &img.record.labels))
            || f.before.is_some_and(|b| t >= b)
            || f.since.is_some_and(|s| t <= s)
            || f.until.is_some_and(|u| t >= u)
        {
            continue;
        }
        let mut tags: Vec<Option<TagRef>> = if dangling {
            vec![None]
        } else {
            img.tags.iter().cloned().map(Some).collect()
        };
        if !f.references.is_empty() {
            tags.retain(|t| {
                t.as_ref()
                    .is_some_and(|t| f.references.iter().any(|p| reference_matches(p, t)))
            });
        }
        if let Some(pattern) = repo_arg {
            tags.retain(|t| {
                t.as_ref().is_some_and(|t| {
                    reference_matches(pattern, t)
                        || exact.as_ref().is_some_and(|(want, has_tag)| {
                            t.repository == want.repository && (!has_tag || t.tag == want.tag)
                        })
                })
            });
        }
        out.extend(tags.into_iter().map(|t| (img.clone(), t)));
    }
    Ok(out)
}

pub(crate) fn short_id(id: &strata_oci::Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_owned()
    }
}

/// `repo_digests`: the image's repository digests (pull/push); the row shows the one of
/// its repository, or `<none>` as docker does for an image no registry has seen.
fn row_value(
    img: &Image,
    tag: Option<&TagRef>,
    size: u64,
    repo_digests: &[String],
    no_trunc: bool,
    now: DateTime<Utc>,
) -> Value {
    let r = &img.record;
    let digest = repo_digests
        .iter()
        .find_map(|d| {
            let (repo, digest) = d.split_once('@')?;
            tag.is_none_or(|t| t.familiar_repository() == repo)
                .then(|| digest.to_owned())
        })
        .unwrap_or_else(|| "<none>".into());
    json!({
        "Containers": "N/A",
        "CreatedAt": created_at(r.created),
        "CreatedSince": created_since(r.created, now),
        "Digest": digest,
        "ID": short_id(&r.config_digest, no_trunc),
        "Repository": tag.map(|t| t.familiar_repository().to_owned()).unwrap_or_else(|| "<none>".into()),
        "SharedSize": "N/A",
        "Size": human_size(size),
        "Tag": tag.map(|t| t.tag.clone()).unwrap_or_else(|| "<none>".into()),
        "UniqueSize": "N/A",
        "VirtualSize": human_size(size),
    })
}

const HEADERS: &[(&str, &str)] = &[
    ("Containers", "CONTAINERS"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedSince", "CREATED"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("SharedSize", "SHARED SIZE"),
    ("Size", "SIZE"),
    ("Tag", "TAG"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

pub fn run(args: ImagesArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let store = open_store(global)?;
    let now = Utc::now();
    let filters = parse_filters(&args.filter, &store, now)?;
    let images = store.list_images().map_err(store_err)?;
    let rows = rows(&images, &filters, args.repository.as_deref())?;
    if args.quiet {
        for (img, _) in &rows {
            println!("{}", short_id(&img.record.config_digest, args.no_trunc));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let default = if args.digests {
        "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let fmt = Formatter::new(args.format.as_deref(), default, HEADERS)?;
    let records: Vec<&strata_store::ImageRecord> = rows.iter().map(|(i, _)| &i.record).collect();
    let sizes = store.layer_content_sizes(&records).map_err(store_err)?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(i, t)| {
            let size = store.image_content_size(&i.record, &sizes);
            let digests = store
                .repo_digests(&i.record.manifest_digest)
                .map_err(store_err)?;
            Ok(row_value(i, t.as_ref(), size, &digests, args.no_trunc, now))
        })
        .collect::<anyhow::Result<_>>()?;
    print!("{}", fmt.render(&items)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_like_go_path_match() {
        assert!(glob_match("busy*", "busybox"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("b?sy[a-z]ox", "busybox"));
        assert!(!glob_match("b[^u]sybox", "busybox"));
        assert!(glob_match("app:1.*", "app:1.2"));
    }

    #[test]
    fn time_values() {
        let now = DateTime::parse_from_rfc3339("2024-01-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_time("24h", now).unwrap().to_rfc3339(),
            "2024-01-09T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("1h30m", now).unwrap().to_rfc3339(),
            "2024-01-09T22:30:00+00:00"
        );
        assert_eq!(
            parse_time("2024-01-02", now).unwrap().to_rfc3339(),
            "2024-01-02T00:00:00+00:00"
        );
        assert_eq!(parse_time("0", now).unwrap().timestamp(), 0);
        assert!(parse_time("3 days", now).is_err());
    }
}
