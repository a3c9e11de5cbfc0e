//! docker's `ImageInspect` (API 1.41, the docker 20.10 the tests compare with) as a typed
//! [`GoValue`]: the same fields in the same order, the same JSON names and `omitempty`s,
//! so `inspect` writes docker's JSON and `--format` templates see docker's structs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::output::{Field, GoValue};

/// What [`image_inspect`] is built from, besides the image config.
pub(crate) struct InspectFacts {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// docker's size: the layers' unpacked content.
    pub size: u64,
    pub diff_ids: Vec<String>,
    /// `LowerDir` / `UpperDir` of the unpacked snapshots, when there are any.
    pub graph_data: Option<BTreeMap<String, String>>,
    pub last_tag_time: Option<DateTime<Utc>>,
}

fn str_at(o: &Map<String, Value>, k: &str) -> String {
    o.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn bool_at(o: &Map<String, Value>, k: &str) -> GoValue {
    GoValue::Bool(o.get(k).and_then(Value::as_bool).unwrap_or(false))
}

/// A `[]string` or docker's `StrSlice` (which also accepts a single string).
fn strings_at(o: &Map<String, Value>, k: &str) -> GoValue {
    match o.get(k) {
        Some(Value::Array(a)) => GoValue::List(Some(
            a.iter()
                .map(|v| GoValue::str(v.as_str().unwrap_or_default()))
                .collect(),
        )),
        Some(Value::String(s)) => GoValue::List(Some(vec![GoValue::str(s.clone())])),
        _ => GoValue::List(None),
    }
}

/// `map[string]struct{}` (ports, volumes).
fn set_at(o: &Map<String, Value>, k: &str) -> GoValue {
    match o.get(k) {
        Some(Value::Object(m)) => GoValue::Map(Some(
            m.keys()
                .map(|key| (key.clone(), GoValue::Struct("struct {}", Vec::new())))
                .collect(),
        )),
        _ => GoValue::Map(None),
    }
}

fn string_map_at(o: &Map<String, Value>, k: &str) -> GoValue {
    match o.get(k) {
        Some(Value::Object(m)) => GoValue::Map(Some(
            m.iter()
                .map(|(key, v)| (key.clone(), GoValue::str(v.as_str().unwrap_or_default())))
                .collect(),
        )),
        _ => GoValue::Map(None),
    }
}

fn int_at(o: &Map<String, Value>, k: &str) -> i64 {
    o.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn healthcheck(v: Option<&Value>) -> GoValue {
    let Some(Value::Object(h)) = v else {
        return GoValue::Nil;
    };
    let duration = |k: &'static str| Field::new(k, GoValue::Duration(int_at(h, k))).omitempty();
    GoValue::Ptr(Box::new(GoValue::Struct(
        "container.HealthConfig",
        vec![
            Field::new("Test", strings_at(h, "Test")).omitempty(),
            duration("Interval"),
            duration("Timeout"),
            duration("StartPeriod"),
            Field::new("Retries", GoValue::Int(int_at(h, "Retries"))).omitempty(),
        ],
    )))
}

/// docker's `container.Config` from an image config's `config` (or `container_config`).
fn container_config(c: &Map<String, Value>) -> GoValue {
    let s = |k: &str| GoValue::str(str_at(c, k));
    let stop_timeout = match c.get("StopTimeout").and_then(Value::as_i64) {
        Some(n) => GoValue::Ptr(Box::new(GoValue::Int(n))),
        None => GoValue::Nil,
    };
    GoValue::Struct(
        "container.Config",
        vec![
            Field::new("Hostname", s("Hostname")),
            Field::new("Domainname", s("Domainname")),
            Field::new("User", s("User")),
            Field::new("AttachStdin", bool_at(c, "AttachStdin")),
            Field::new("AttachStdout", bool_at(c, "AttachStdout")),
            Field::new("AttachStderr", bool_at(c, "AttachStderr")),
            Field::new("ExposedPorts", set_at(c, "ExposedPorts")).omitempty(),
            Field::new("Tty", bool_at(c, "Tty")),
            Field::new("OpenStdin", bool_at(c, "OpenStdin")),
            Field::new("StdinOnce", bool_at(c, "StdinOnce")),
            Field::new("Env", strings_at(c, "Env")),
            Field::new("Cmd", strings_at(c, "Cmd")),
            Field::new("Healthcheck", healthcheck(c.get("Healthcheck"))).omitempty(),
            Field::new("ArgsEscaped", bool_at(c, "ArgsEscaped")).omitempty(),
            Field::new("Image", s("Image")),
            Field::new("Volumes", set_at(c, "Volumes")),
            Field::new("WorkingDir", s("WorkingDir")),
            Field::new("Entrypoint", strings_at(c, "Entrypoint")),
            Field::new("NetworkDisabled", bool_at(c, "NetworkDisabled")).omitempty(),
            Field::new("MacAddress", s("MacAddress")).omitempty(),
            Field::new("OnBuild", strings_at(c, "OnBuild")),
            Field::new("Labels", string_map_at(c, "Labels")),
            Field::new("StopSignal", s("StopSignal")).omitempty(),
            Field::new("StopTimeout", stop_timeout).omitempty(),
            Field::new("Shell", strings_at(c, "Shell")).omitempty(),
        ],
    )
}

/// docker's `.Comment`: the config's `comment`, else the newest history entry's comment
/// (where `import -m` and BuildKit put theirs).
fn comment(config: &Map<String, Value>) -> String {
    let top = str_at(config, "comment");
    if !top.is_empty() {
        return top;
    }
    config
        .get("history")
        .and_then(Value::as_array)
        .and_then(|h| h.last())
        .and_then(Value::as_object)
        .map(|h| str_at(h, "comment"))
        .unwrap_or_default()
}

/// The whole `ImageInspect` of one image.
pub(crate) fn image_inspect(config: &Map<String, Value>, facts: InspectFacts) -> GoValue {
    let empty = Map::new();
    let created = config
        .get("created")
        .and_then(Value::as_str)
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc));
    let container_cfg = match config.get("container_config") {
        Some(Value::Object(c)) => container_config(c),
        _ => container_config(&empty),
    };
    let cfg = match config.get("config") {
        Some(Value::Object(c)) => GoValue::Ptr(Box::new(container_config(c))),
        _ => GoValue::Nil,
    };
    let graph_data = GoValue::Map(
        facts
            .graph_data
            .map(|m| m.into_iter().map(|(k, v)| (k, GoValue::Str(v))).collect()),
    );
    GoValue::Struct(
        "types.ImageInspect",
        vec![
            Field::new("ID", GoValue::Str(facts.id)).json_name("Id"),
            Field::new("RepoTags", GoValue::strings(Some(facts.repo_tags))),
            Field::new("RepoDigests", GoValue::strings(Some(facts.repo_digests))),
            Field::new("Parent", GoValue::str(str_at(config, "parent"))),
            Field::new("Comment", GoValue::Str(comment(config))),
            Field::new(
                "Created",
                GoValue::Str(crate::output::go_value::time_rfc3339(created.as_ref())),
            ),
            Field::new("Container", GoValue::str(str_at(config, "container"))),
            Field::new("ContainerConfig", GoValue::Ptr(Box::new(container_cfg))),
            Field::new(
                "DockerVersion",
                GoValue::str(str_at(config, "docker_version")),
            ),
            Field::new("Author", GoValue::str(str_at(config, "author"))),
            Field::new("Config", cfg),
            Field::new("Architecture", GoValue::str(str_at(config, "architecture"))),
            Field::new("Variant", GoValue::str(str_at(config, "variant"))).omitempty(),
            Field::new("Os", GoValue::str(str_at(config, "os"))),
            Field::new("OsVersion", GoValue::str(str_at(config, "os.version"))).omitempty(),
            Field::new("Size", GoValue::Int(facts.size as i64)),
            Field::new("VirtualSize", GoValue::Int(facts.size as i64)),
            Field::new(
                "GraphDriver",
                GoValue::Struct(
                    "types.GraphDriverData",
                    vec![
                        Field::new("Data", graph_data),
                        Field::new("Name", GoValue::str("overlay")),
                    ],
                ),
            ),
            Field::new(
                "RootFS",
                GoValue::Struct(
                    "types.RootFS",
                    vec![
                        Field::new("Type", GoValue::str("layers")),
                        Field::new("Layers", GoValue::strings(Some(facts.diff_ids))).omitempty(),
                        Field::new("BaseLayer", GoValue::str("")).omitempty(),
                    ],
                ),
            ),
            Field::new(
                "Metadata",
                GoValue::Struct(
                    "types.ImageMetadata",
                    vec![Field::new(
                        "LastTagTime",
                        GoValue::Time(facts.last_tag_time),
                    )],
                ),
            ),
        ],
    )
}
