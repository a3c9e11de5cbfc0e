//! `strata history`: the config's history entries, newest first, with the size of the
//! layer each non-empty step produced.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{ArgAction, Args};
use serde::Deserialize;
use serde_json::{json, Value};

use super::image_source::resolve_image;
use super::images::short_id;
use crate::output::{created_since, human_size, Formatter};
use crate::Global;

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// The image: name, ID or ID prefix, or a docker-archive:, oci:, oci-archive:,
    /// docker:// source
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Deserialize, Default)]
struct HistoryEntry {
    #[serde(default)]
    created: Option<DateTime<Utc>>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize, Default)]
struct ConfigHistory {
    #[serde(default)]
    history: Vec<HistoryEntry>,
}

/// docker's history time: Go's `time.RFC3339` of the step's whole seconds in local time
/// (`2024-01-02T03:04:05Z` in UTC, `…+01:00` elsewhere); the zero time when unknown.
fn created_at_rfc3339(t: Option<DateTime<Utc>>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".into();
    };
    let local = t.with_timezone(&chrono::Local);
    if local.offset().local_minus_utc() == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

pub fn run(args: HistoryArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let (img, config_bytes) = resolve_image(global, &args.image)?;
    let r = &img.record;
    let config: ConfigHistory = serde_json::from_slice(&config_bytes).map_err(|e| {
        anyhow::anyhow!(
            "image config {} has an invalid history: {e}",
            r.config_digest
        )
    })?;
    let now = Utc::now();
    // Pair each non-empty history step with its layer, bottom up; sizes as docker counts
    // them (the layer's unpacked content).
    // A store image: docker's content sizes; a source read in place: its layers' blob sizes.
    let is_store = matches!(
        args.image.parse::<strata_image::ImageSource>(),
        Ok(strata_image::ImageSource::Store(_))
    );
    let sizes: std::collections::BTreeMap<strata_oci::Digest, u64> = if is_store {
        let store = super::images::open_store(global)?;
        store
            .layer_content_sizes(&[r])
            .map_err(super::images::store_err)?
            .into_iter()
            .collect()
    } else {
        r.diff_ids
            .iter()
            .cloned()
            .zip(r.layers.iter().map(|l| l.size))
            .collect()
    };
    let mut layers = r.diff_ids.iter();
    let mut items: Vec<(String, Value)> = Vec::new();
    for h in &config.history {
        let size = if h.empty_layer {
            0
        } else {
            layers
                .next()
                .and_then(|d| sizes.get(d).copied())
                .unwrap_or(0)
        };
        let created_by = h.created_by.replace('\t', " ");
        let created_by = if args.no_trunc {
            created_by
        } else {
            ellipsis(&created_by, 45)
        };
        let created_at = created_at_rfc3339(h.created);
        let v = json!({
            "ID": "<missing>",
            "CreatedSince": if args.human { created_since(h.created, now) } else {
                created_at.clone()
            },
            "CreatedAt": created_at,
            "CreatedBy": created_by,
            "Size": if args.human { human_size(size) } else { size.to_string() },
            "Comment": h.comment,
        });
        items.push(("<missing>".into(), v));
    }
    items.reverse();
    let id = short_id(&r.config_digest, args.no_trunc);
    if let Some(top) = items.first_mut() {
        top.0 = id.clone();
        top.1["ID"] = Value::String(id);
    }
    if args.quiet {
        for (id, _) in &items {
            println!("{id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Without -H docker's default table shows the absolute time, headed CREATED AT.
    let default = if args.human {
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    } else {
        "{{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let fmt = Formatter::new(args.format.as_deref(), default, HEADERS)?;
    let values: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    print!("{}", fmt.render(&values)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn created_at_is_go_rfc3339_in_whole_seconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-06T03:58:02.873428395Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        if chrono::Local::now().offset().local_minus_utc() == 0 {
            assert_eq!(super::created_at_rfc3339(Some(t)), "2026-12-06T03:58:02Z");
        }
        assert_eq!(super::created_at_rfc3339(None), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn ellipsis_cuts_to_max() {
        assert_eq!(super::ellipsis("abcdef", 4), "abc…");
        assert_eq!(super::ellipsis("abcd", 4), "abcd");
    }
}
