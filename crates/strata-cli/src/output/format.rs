//! `--format` handling as docker does it: empty or `table` → the command's default table,
//! `table <template>` → a table with headers, `json` → one JSON object per line, anything
//! else → the template once per item. `\t` and `\n` typed literally are turned into tab and
//! newline first, as docker does.

use serde_json::{Map, Value};

use super::go_value::GoValue;
use super::table::TabWriter;
use super::template::{Template, TemplateError};

/// A compiled `--format`.
pub enum Formatter {
    Table { template: Template, header: Value },
    Raw(Template),
    Json,
}

impl Formatter {
    /// `default_table` is the command's default (without the `table` prefix); `headers` maps
    /// field names to column titles.
    pub fn new(
        format: Option<&str>,
        default_table: &str,
        headers: &[(&str, &str)],
    ) -> Result<Formatter, TemplateError> {
        let format = format
            .unwrap_or("")
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let header: Value = Value::Object(
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect::<Map<_, _>>(),
        );
        let trimmed = format.trim();
        if trimmed.is_empty() || trimmed == "table" {
            return Ok(Formatter::Table {
                template: Template::parse(default_table)?,
                header,
            });
        }
        if trimmed == "json" {
            return Ok(Formatter::Json);
        }
        if let Some(rest) = format.strip_prefix("table") {
            if rest.starts_with(char::is_whitespace) {
                return Ok(Formatter::Table {
                    template: Template::parse(rest.trim_start())?,
                    header,
                });
            }
        }
        Ok(Formatter::Raw(Template::parse(&format)?))
    }

    /// Render all items; the result ends with a newline unless empty.
    pub fn render(&self, items: &[Value]) -> Result<String, TemplateError> {
        match self {
            Formatter::Json => {
                let mut out = String::new();
                for i in items {
                    out.push_str(&serde_json::to_string(i).expect("json value serialises"));
                    out.push('\n');
                }
                Ok(out)
            }
            Formatter::Raw(t) => {
                let mut out = String::new();
                for i in items {
                    out.push_str(&t.render(&GoValue::from_row(i))?);
                    out.push('\n');
                }
                Ok(out)
            }
            Formatter::Table { template, header } => {
                let mut tw = TabWriter::new();
                tw.push(&template.render(&GoValue::from_row(header))?);
                for i in items {
                    tw.push(&template.render(&GoValue::from_row(i))?);
                }
                let mut out = tw.render();
                out.push('\n');
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEADERS: &[(&str, &str)] = &[("Repository", "REPOSITORY"), ("Tag", "TAG")];

    #[test]
    fn table_json_and_raw() {
        let items = [json!({"Repository": "busybox", "Tag": "latest"})];
        let f = Formatter::new(None, "{{.Repository}}\t{{.Tag}}", HEADERS).unwrap();
        assert_eq!(
            f.render(&items).unwrap(),
            "REPOSITORY   TAG\nbusybox      latest\n"
        );
        let f = Formatter::new(Some("table {{.Tag}}\\t{{.Repository}}"), "", HEADERS).unwrap();
        assert_eq!(
            f.render(&items).unwrap(),
            "TAG       REPOSITORY\nlatest    busybox\n"
        );
        let f = Formatter::new(Some("json"), "", HEADERS).unwrap();
        assert_eq!(
            f.render(&items).unwrap(),
            "{\"Repository\":\"busybox\",\"Tag\":\"latest\"}\n"
        );
        let f = Formatter::new(Some("{{.Repository}}:{{.Tag}}"), "", HEADERS).unwrap();
        assert_eq!(f.render(&items).unwrap(), "busybox:latest\n");
        let f = Formatter::new(Some("{{json .}}"), "", HEADERS).unwrap();
        assert!(f.render(&items).unwrap().starts_with('{'));
    }
}
