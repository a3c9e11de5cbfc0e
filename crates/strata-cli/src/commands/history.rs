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
    // Pair each non-empty history step with its layer, bottom up.
    let mut layers = r.layers.iter();
    let mut items: Vec<(String, Value)> = Vec::new();
    for h in &config.history {
        let size = if h.empty_layer {
            0
        } else {
            layers.next().map(|l| l.size).unwrap_or(0)
        };
        let created_by = h.created_by.replace('\t', " ");
        let created_by = if args.no_trunc || !args.human {
            created_by
        } else {
            ellipsis(&created_by, 45)
        };
        let v = json!({
            "ID": "<missing>",
            "CreatedSince": if args.human { created_since(h.created, now) } else {
                h.created.map(|c| c.to_rfc3339()).unwrap_or_default()
            },
            "CreatedAt": h.created.map(|c| c.to_rfc3339()).unwrap_or_default(),
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
    let fmt = Formatter::new(
        args.format.as_deref(),
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        HEADERS,
    )?;
    let values: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    print!("{}", fmt.render(&values)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ellipsis_cuts_to_max() {
        assert_eq!(super::ellipsis("abcdef", 4), "abc…");
        assert_eq!(super::ellipsis("abcd", 4), "abcd");
    }
}
