//! Values as docker's Go code holds them, so `--format` templates print what docker prints:
//! a struct is `{a b}`, a map `map[k:v]`, a nil slice `[]` (and `null` through `json`), a
//! nil pointer `<nil>`, a duration `30s`, a time `2024-01-02 03:04:05.5 +0000 UTC`. Each
//! struct field carries its JSON name and `omitempty`, so `json` (and `inspect`'s default
//! output) writes exactly the JSON docker's API writes, keys in declaration order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// One Go value.
#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    /// What a template yields for a missing map key: `<no value>` (`<nil>` inside others).
    NoValue,
    /// A nil pointer or interface: `<nil>`, JSON `null`.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A `json.Number` (the raw inspect fallback decodes numbers this way): printed as is.
    Number(String),
    Str(String),
    /// `time.Duration` in nanoseconds: `1m30s`, JSON a number.
    Duration(i64),
    /// `time.Time`: `2006-01-02 15:04:05.999999999 +0000 UTC`, JSON RFC 3339 with nanoseconds.
    /// `None` is Go's zero time.
    Time(Option<DateTime<Utc>>),
    /// A slice; `None` is a nil slice (`[]`, JSON `null`).
    List(Option<Vec<GoValue>>),
    /// A map with string keys (printed sorted, as fmt does); `None` is a nil map.
    Map(Option<BTreeMap<String, GoValue>>),
    /// A struct: its type name (for errors) and fields in declaration order.
    Struct(&'static str, Vec<Field>),
    /// A non-nil pointer (templates look through it).
    Ptr(Box<GoValue>),
}

/// A struct field: Go name, JSON name, `omitempty`, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Cow<'static, str>,
    pub json: Cow<'static, str>,
    pub omitempty: bool,
    pub value: GoValue,
}

impl Field {
    /// A field whose JSON name is its Go name.
    pub fn new(name: &'static str, value: GoValue) -> Field {
        Field {
            name: Cow::Borrowed(name),
            json: Cow::Borrowed(name),
            omitempty: false,
            value,
        }
    }

    /// The same field with `json:",omitempty"`.
    pub fn omitempty(mut self) -> Field {
        self.omitempty = true;
        self
    }

    /// The same field under another JSON name (`json:"Id"`).
    pub fn json_name(mut self, json: &'static str) -> Field {
        self.json = Cow::Borrowed(json);
        self
    }
}

impl GoValue {
    pub fn str(s: impl Into<String>) -> GoValue {
        GoValue::Str(s.into())
    }

    /// A `[]string` from a list; `None` stays a nil slice.
    pub fn strings(list: Option<Vec<String>>) -> GoValue {
        GoValue::List(list.map(|l| l.into_iter().map(GoValue::Str).collect()))
    }

    /// The value a template field access sees: pointers looked through.
    pub fn indirect(&self) -> &GoValue {
        let mut v = self;
        while let GoValue::Ptr(inner) = v {
            v = inner;
        }
        v
    }

    /// Go's truth: false, 0, "", nil and empty collections are false; structs are true.
    pub fn truthy(&self) -> bool {
        match self {
            GoValue::NoValue | GoValue::Nil => false,
            GoValue::Bool(b) => *b,
            GoValue::Int(n) | GoValue::Duration(n) => *n != 0,
            GoValue::Float(f) => *f != 0.0,
            GoValue::Number(n) => n.parse::<f64>().map(|f| f != 0.0).unwrap_or(true),
            GoValue::Str(s) => !s.is_empty(),
            GoValue::Time(_) | GoValue::Struct(..) | GoValue::Ptr(_) => true,
            GoValue::List(l) => l.as_ref().is_some_and(|l| !l.is_empty()),
            GoValue::Map(m) => m.as_ref().is_some_and(|m| !m.is_empty()),
        }
    }

    /// A short kind name for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            GoValue::NoValue | GoValue::Nil => "nil",
            GoValue::Bool(_) => "bool",
            GoValue::Int(_) | GoValue::Number(_) => "int",
            GoValue::Float(_) => "float64",
            GoValue::Str(_) => "string",
            GoValue::Duration(_) => "time.Duration",
            GoValue::Time(_) => "time.Time",
            GoValue::List(_) => "slice",
            GoValue::Map(_) => "map",
            GoValue::Struct(name, _) => name,
            GoValue::Ptr(inner) => inner.kind(),
        }
    }

    /// How a template prints the value of an action (`{{.X}}`): fmt's `%v` after the
    /// template has looked through a pointer.
    pub fn to_text(&self) -> String {
        match self {
            GoValue::NoValue => "<no value>".into(),
            GoValue::Ptr(inner) => inner.to_text(),
            other => {
                let mut out = String::new();
                other.write_v(&mut out, 0);
                out
            }
        }
    }

    fn write_v(&self, out: &mut String, depth: usize) {
        match self {
            GoValue::NoValue | GoValue::Nil => out.push_str("<nil>"),
            GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoValue::Int(n) => out.push_str(&n.to_string()),
            GoValue::Float(f) => out.push_str(&format_float(*f)),
            GoValue::Number(n) => out.push_str(n),
            GoValue::Str(s) => out.push_str(s),
            GoValue::Duration(ns) => out.push_str(&duration_string(*ns)),
            GoValue::Time(t) => out.push_str(&time_string(t.as_ref())),
            GoValue::List(l) => {
                out.push('[');
                for (i, v) in l.iter().flatten().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_v(out, depth + 1);
                }
                out.push(']');
            }
            GoValue::Map(m) => {
                out.push_str("map[");
                for (i, (k, v)) in m.iter().flatten().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_v(out, depth + 1);
                }
                out.push(']');
            }
            GoValue::Struct(_, fields) => {
                out.push('{');
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    f.value.write_v(out, depth + 1);
                }
                out.push('}');
            }
            // fmt prints a nested pointer as its address, which means nothing outside the
            // process that printed it; the pointed-to value is shown instead.
            GoValue::Ptr(inner) => {
                if depth > 0 {
                    out.push('&');
                }
                inner.write_v(out, depth);
            }
        }
    }

    fn is_empty_for_json(&self) -> bool {
        match self {
            GoValue::NoValue | GoValue::Nil => true,
            GoValue::Bool(b) => !b,
            GoValue::Int(n) | GoValue::Duration(n) => *n == 0,
            GoValue::Float(f) => *f == 0.0,
            GoValue::Number(n) => n == "0",
            GoValue::Str(s) => s.is_empty(),
            GoValue::List(l) => l.as_ref().is_none_or(|l| l.is_empty()),
            GoValue::Map(m) => m.as_ref().is_none_or(|m| m.is_empty()),
            GoValue::Time(_) | GoValue::Struct(..) | GoValue::Ptr(_) => false,
        }
    }

    /// encoding/json's output (HTML characters not escaped, as docker's encoders are set).
    /// `indent` `Some("    ")` gives `json.MarshalIndent`'s layout.
    pub fn to_json(&self, indent: Option<&str>) -> String {
        let mut out = String::new();
        self.write_json(&mut out, indent, 0);
        out
    }

    fn write_json(&self, out: &mut String, indent: Option<&str>, level: usize) {
        let newline = |out: &mut String, level: usize| {
            if let Some(ind) = indent {
                out.push('\n');
                for _ in 0..level {
                    out.push_str(ind);
                }
            }
        };
        let colon = if indent.is_some() { ": " } else { ":" };
        match self {
            GoValue::NoValue | GoValue::Nil => out.push_str("null"),
            GoValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoValue::Int(n) | GoValue::Duration(n) => out.push_str(&n.to_string()),
            GoValue::Float(f) => out.push_str(&Value::from(*f).to_string()),
            GoValue::Number(n) => out.push_str(n),
            GoValue::Str(s) => out.push_str(&json_string(s)),
            GoValue::Time(t) => out.push_str(&json_string(&time_rfc3339(t.as_ref()))),
            GoValue::Ptr(inner) => inner.write_json(out, indent, level),
            GoValue::List(None) | GoValue::Map(None) => out.push_str("null"),
            GoValue::List(Some(l)) => {
                if l.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    v.write_json(out, indent, level + 1);
                }
                newline(out, level);
                out.push(']');
            }
            GoValue::Map(Some(m)) => {
                let entries: Vec<(&str, &GoValue)> =
                    m.iter().map(|(k, v)| (k.as_str(), v)).collect();
                write_object(out, &entries, indent, level, colon);
            }
            GoValue::Struct(_, fields) => {
                let entries: Vec<(&str, &GoValue)> = fields
                    .iter()
                    .filter(|f| !(f.omitempty && f.value.is_empty_for_json()))
                    .map(|f| (f.json.as_ref(), &f.value))
                    .collect();
                write_object(out, &entries, indent, level, colon);
            }
        }
    }

    /// The value decoded from JSON the way docker's raw inspect fallback decodes it
    /// (`interface{}` with `UseNumber`): objects become maps, `null` becomes nothing.
    pub fn from_raw_json(v: &Value) -> GoValue {
        match v {
            Value::Null => GoValue::NoValue,
            Value::Bool(b) => GoValue::Bool(*b),
            Value::Number(n) => GoValue::Number(n.to_string()),
            Value::String(s) => GoValue::Str(s.clone()),
            Value::Array(a) => GoValue::List(Some(a.iter().map(GoValue::from_raw_json).collect())),
            Value::Object(o) => GoValue::Map(Some(
                o.iter()
                    .map(|(k, v)| (k.clone(), GoValue::from_raw_json(v)))
                    .collect(),
            )),
        }
    }

    /// A table row (a JSON object of strings) as docker's formatter contexts are: a struct
    /// whose fields are the object's keys, so a misspelt field is an error, not `<no value>`.
    pub fn from_row(v: &Value) -> GoValue {
        match v {
            Value::Object(o) => GoValue::Struct(
                "row",
                o.iter()
                    .map(|(k, v)| Field {
                        name: Cow::Owned(k.clone()),
                        json: Cow::Owned(k.clone()),
                        omitempty: false,
                        value: GoValue::from_row_value(v),
                    })
                    .collect(),
            ),
            other => GoValue::from_row_value(other),
        }
    }

    fn from_row_value(v: &Value) -> GoValue {
        match v {
            Value::Null => GoValue::Nil,
            Value::Number(n) => match n.as_i64() {
                Some(i) => GoValue::Int(i),
                None => GoValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::Array(a) => GoValue::List(Some(a.iter().map(GoValue::from_row_value).collect())),
            other => GoValue::from_raw_json(other),
        }
    }
}

fn write_object(
    out: &mut String,
    entries: &[(&str, &GoValue)],
    indent: Option<&str>,
    level: usize,
    colon: &str,
) {
    if entries.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(ind) = indent {
            out.push('\n');
            out.push_str(&ind.repeat(level + 1));
        }
        out.push_str(&json_string(k));
        out.push_str(colon);
        v.write_json(out, indent, level + 1);
    }
    if let Some(ind) = indent {
        out.push('\n');
        out.push_str(&ind.repeat(level));
    }
    out.push('}');
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` closely enough for sizes and ratios.
fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `1m30s`, `2h0m0s`, `150ms`.
pub fn duration_string(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(u, div));
    }
    let secs = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let s_text = fraction(s * 1_000_000_000 + frac, 1_000_000_000);
    if h > 0 {
        format!("{sign}{h}h{m}m{s_text}s")
    } else if m > 0 {
        format!("{sign}{m}m{s_text}s")
    } else {
        format!("{sign}{s_text}s")
    }
}

/// `n / div` with the fraction's trailing zeros dropped.
fn fraction(n: u64, div: u64) -> String {
    let whole = n / div;
    let rest = n % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = (div as f64).log10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.Time.String()` for a UTC time.
pub fn time_string(t: Option<&DateTime<Utc>>) -> String {
    match t {
        None => "0001-01-01 00:00:00 +0000 UTC".into(),
        Some(t) => format!(
            "{}{} +0000 UTC",
            t.format("%Y-%m-%d %H:%M:%S"),
            nanos_fraction(t)
        ),
    }
}

/// `.903358653` with trailing zeros dropped, or nothing for a whole second (Go's `.999999999`).
fn nanos_fraction(t: &DateTime<Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos();
    if nanos == 0 {
        return String::new();
    }
    format!(".{nanos:09}").trim_end_matches('0').to_owned()
}

/// Go's RFC 3339 with nanoseconds, as encoding/json writes a `time.Time`.
pub fn time_rfc3339(t: Option<&DateTime<Utc>>) -> String {
    match t {
        None => "0001-01-01T00:00:00Z".into(),
        Some(t) => format!("{}{}Z", t.format("%Y-%m-%dT%H:%M:%S"), nanos_fraction(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_go() {
        let ports: BTreeMap<String, GoValue> = [
            ("80/tcp".to_owned(), GoValue::Struct("struct {}", vec![])),
            ("53/udp".to_owned(), GoValue::Struct("struct {}", vec![])),
        ]
        .into();
        assert_eq!(
            GoValue::Map(Some(ports)).to_text(),
            "map[53/udp:{} 80/tcp:{}]"
        );
        assert_eq!(GoValue::List(None).to_text(), "[]");
        assert_eq!(GoValue::List(None).to_json(None), "null");
        assert_eq!(GoValue::Map(None).to_text(), "map[]");
        assert_eq!(GoValue::Nil.to_text(), "<nil>");
        assert_eq!(GoValue::NoValue.to_text(), "<no value>");
        let health = GoValue::Ptr(Box::new(GoValue::Struct(
            "container.HealthConfig",
            vec![
                Field::new(
                    "Test",
                    GoValue::strings(Some(vec!["CMD".into(), "true".into()])),
                )
                .omitempty(),
                Field::new("Interval", GoValue::Duration(30_000_000_000)).omitempty(),
                Field::new("Timeout", GoValue::Duration(0)).omitempty(),
                Field::new("Retries", GoValue::Int(0)).omitempty(),
            ],
        )));
        assert_eq!(health.to_text(), "{[CMD true] 30s 0s 0}");
        assert_eq!(
            health.to_json(None),
            r#"{"Test":["CMD","true"],"Interval":30000000000}"#
        );
    }

    #[test]
    fn durations_and_times_like_go() {
        for (ns, want) in [
            (0, "0s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (7_200_000_000_000, "2h0m0s"),
            (150_000_000, "150ms"),
            (1_500, "1.5µs"),
        ] {
            assert_eq!(duration_string(ns), want);
        }
        let t = DateTime::parse_from_rfc3339("2026-12-06T03:58:02.903358650Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            time_string(Some(&t)),
            "2026-12-06 03:58:02.90335865 +0000 UTC"
        );
        assert_eq!(time_rfc3339(Some(&t)), "2026-12-06T03:58:02.90335865Z");
        assert_eq!(time_string(None), "0001-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn indented_json_keeps_declaration_order() {
        let v = GoValue::Struct(
            "t",
            vec![
                Field::new("ID", GoValue::str("x")).json_name("Id"),
                Field::new("Empty", GoValue::List(Some(vec![]))),
                Field::new("Skip", GoValue::str("")).omitempty(),
                Field::new("A", GoValue::Map(Some(BTreeMap::new()))),
            ],
        );
        assert_eq!(
            v.to_json(Some("    ")),
            "{\n    \"Id\": \"x\",\n    \"Empty\": [],\n    \"A\": {}\n}"
        );
    }
}
