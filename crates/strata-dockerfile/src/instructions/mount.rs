//! `RUN --mount=…` specifications: a CSV list of `key=value` fields (bare keys for
//! booleans) typed by mount type. Keys that do not belong to the type are errors.

use serde::Serialize;

use super::flags::{parse_bool, parse_size};
use crate::error::{ErrorKind, ParseError};

/// Sharing mode of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSharing {
    #[default]
    Shared,
    Private,
    Locked,
}

/// Ownership and mode of the file or directory a mount creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MountOwner {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// One typed `--mount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSpec {
    /// Read-only (unless `rw`) view of the context, a stage or an image.
    Bind {
        target: String,
        source: Option<String>,
        from: Option<String>,
        read_write: bool,
    },
    /// Persistent cache directory, keyed by `id` (default: the target).
    Cache {
        target: String,
        id: Option<String>,
        read_only: bool,
        sharing: CacheSharing,
        from: Option<String>,
        source: Option<String>,
        owner: MountOwner,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    /// A build secret as a file (`target`, default `/run/secrets/<id>`) and/or env var.
    Secret {
        id: Option<String>,
        target: Option<String>,
        env: Option<String>,
        required: bool,
        owner: MountOwner,
    },
    /// An SSH agent socket.
    Ssh {
        id: Option<String>,
        target: Option<String>,
        required: bool,
        owner: MountOwner,
    },
    /// Holds variables; typed after expansion (see [`crate::scope`]).
    Unexpanded {
        raw: String,
    },
}

impl MountSpec {
    /// The stage or image the mount reads from, if any.
    pub fn from(&self) -> Option<&str> {
        match self {
            MountSpec::Bind { from, .. } | MountSpec::Cache { from, .. } => from.as_deref(),
            _ => None,
        }
    }
}

fn err(message: String) -> ParseError {
    ParseError::new(ErrorKind::InvalidFlag, message)
        .with_hint("write --mount=type=bind|cache|tmpfs|secret|ssh,target=/path[,key=value…]")
}

/// Splits a CSV record: commas separate fields, double quotes group, `""` is a quote.
fn csv_fields(v: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = v.chars().peekable();
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if in_quotes {
        return Err(err(format!("unterminated quote in mount {v:?}")));
    }
    out.push(field);
    Ok(out)
}

fn parse_u32(key: &str, v: &str, radix: u32) -> Result<u32, ParseError> {
    u32::from_str_radix(v, radix).map_err(|_| err(format!("invalid value for {key}: {v}")))
}

/// Parses one `--mount` value. Values holding `$` are kept for expansion.
pub fn parse_mount(v: &str) -> Result<MountSpec, ParseError> {
    if v.contains('$') {
        return Ok(MountSpec::Unexpanded { raw: v.to_string() });
    }
    parse_mount_expanded(v)
}

/// Parses a `--mount` value whose variables are already expanded.
pub(crate) fn parse_mount_expanded(v: &str) -> Result<MountSpec, ParseError> {
    let mut typ = "bind".to_string();
    let mut fields: Vec<(String, Option<String>)> = Vec::new();
    for f in csv_fields(v)? {
        if f.is_empty() {
            continue;
        }
        let (k, val) = match f.split_once('=') {
            Some((k, val)) => (k.trim().to_ascii_lowercase(), Some(val.to_string())),
            None => (f.trim().to_ascii_lowercase(), None),
        };
        if k == "type" {
            typ = val
                .ok_or_else(|| err("mount type needs a value".into()))?
                .to_ascii_lowercase();
        } else {
            fields.push((k, val));
        }
    }
    let allowed: &[&str] = match typ.as_str() {
        "bind" => &[
            "target",
            "source",
            "from",
            "rw",
            "readonly",
            "ro",
            "readwrite",
        ],
        "cache" => &[
            "target",
            "id",
            "ro",
            "readonly",
            "rw",
            "readwrite",
            "sharing",
            "from",
            "source",
            "mode",
            "uid",
            "gid",
        ],
        "tmpfs" => &["target", "size"],
        "secret" => &["id", "target", "env", "required", "mode", "uid", "gid"],
        "ssh" => &["id", "target", "required", "mode", "uid", "gid"],
        other => return Err(err(format!("unsupported mount type {other:?}"))),
    };
    let mut target = None;
    let mut source = None;
    let mut from = None;
    let mut id = None;
    let mut env = None;
    let mut read_only: Option<bool> = None;
    let mut required = false;
    let mut sharing = CacheSharing::Shared;
    let mut owner = MountOwner::default();
    let mut size = None;
    for (key, val) in fields {
        let key = match key.as_str() {
            "dst" | "destination" => "target".to_string(),
            "src" => "source".to_string(),
            _ => key,
        };
        if !allowed.contains(&key.as_str()) {
            return Err(err(format!("unexpected key '{key}' for mount type {typ}")));
        }
        let flag_bool = |val: &Option<String>| -> Result<bool, ParseError> {
            match val {
                None => Ok(true),
                Some(s) => {
                    parse_bool(s).ok_or_else(|| err(format!("invalid value for {key}: {s}")))
                }
            }
        };
        match key.as_str() {
            "ro" | "readonly" => read_only = Some(flag_bool(&val)?),
            "rw" | "readwrite" => read_only = Some(!flag_bool(&val)?),
            "required" => required = flag_bool(&val)?,
            _ => {
                let Some(val) = val else {
                    return Err(err(format!(
                        "invalid field '{key}' must be a key=value pair"
                    )));
                };
                match key.as_str() {
                    "target" => target = Some(val),
                    "source" => source = Some(val),
                    "from" => from = Some(val),
                    "id" => id = Some(val),
                    "env" => env = Some(val),
                    "sharing" => {
                        sharing = match val.as_str() {
                            "shared" => CacheSharing::Shared,
                            "private" => CacheSharing::Private,
                            "locked" => CacheSharing::Locked,
                            _ => return Err(err(format!("unsupported sharing value {val:?}"))),
                        }
                    }
                    "mode" => {
                        let mode = parse_u32(&key, &val, 8)?;
                        if mode > 0o7777 {
                            return Err(err(format!("invalid value for mode: {val}")));
                        }
                        owner.mode = Some(mode);
                    }
                    "uid" => owner.uid = Some(parse_u32(&key, &val, 10)?),
                    "gid" => owner.gid = Some(parse_u32(&key, &val, 10)?),
                    "size" => {
                        size = Some(
                            parse_size(&val)
                                .ok_or_else(|| err(format!("invalid value for size: {val}")))?,
                        )
                    }
                    _ => unreachable!("key filtered by the allowed list"),
                }
            }
        }
    }
    let need_target = |t: Option<String>| {
        t.filter(|t| !t.is_empty())
            .ok_or_else(|| err(format!("mount type {typ} requires a target")))
    };
    Ok(match typ.as_str() {
        "bind" => MountSpec::Bind {
            target: need_target(target)?,
            source,
            from,
            read_write: read_only == Some(false),
        },
        "cache" => MountSpec::Cache {
            target: need_target(target)?,
            id,
            read_only: read_only.unwrap_or(false),
            sharing,
            from,
            source,
            owner,
        },
        "tmpfs" => MountSpec::Tmpfs {
            target: need_target(target)?,
            size,
        },
        "secret" => {
            if id.is_none() && target.is_none() && env.is_none() {
                return Err(err("secret mount requires an id, a target or an env".into()));
            }
            MountSpec::Secret {
                id,
                target,
                env,
                required,
                owner,
            }
        }
        _ => MountSpec::Ssh {
            id,
            target,
            required,
            owner,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type() {
        assert_eq!(
            parse_mount("type=bind,source=/src,target=/dst,from=build,rw").unwrap(),
            MountSpec::Bind {
                target: "/dst".into(),
                source: Some("/src".into()),
                from: Some("build".into()),
                read_write: true
            }
        );
        assert_eq!(
            parse_mount("target=/x").unwrap(),
            MountSpec::Bind {
                target: "/x".into(),
                source: None,
                from: None,
                read_write: false
            }
        );
        let MountSpec::Cache {
            sharing,
            owner,
            id,
            read_only,
            ..
        } = parse_mount("type=cache,target=/c,id=go,sharing=locked,mode=0700,uid=1000,gid=1000,ro")
            .unwrap()
        else {
            panic!("not cache")
        };
        assert_eq!(sharing, CacheSharing::Locked);
        assert_eq!(
            owner,
            MountOwner {
                mode: Some(0o700),
                uid: Some(1000),
                gid: Some(1000)
            }
        );
        assert_eq!(id.as_deref(), Some("go"));
        assert!(read_only);
        assert_eq!(
            parse_mount("type=tmpfs,dst=/t,size=64m").unwrap(),
            MountSpec::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20)
            }
        );
        let MountSpec::Secret { env, required, .. } =
            parse_mount("type=secret,id=API_KEY,env=API_KEY,required=true").unwrap()
        else {
            panic!("not secret")
        };
        assert_eq!(env.as_deref(), Some("API_KEY"));
        assert!(required);
        assert!(matches!(
            parse_mount("type=ssh").unwrap(),
            MountSpec::Ssh { .. }
        ));
        assert!(matches!(
            parse_mount("type=cache,target=$DIR").unwrap(),
            MountSpec::Unexpanded { .. }
        ));
    }

    #[test]
    fn bad_mounts() {
        for bad in [
            "type=nfs,target=/x",
            "type=bind",
            "type=tmpfs,target=/t,sharing=locked",
            "type=cache,target=/c,sharing=sometimes",
            "type=cache,target=/c,mode=999",
            "type=secret",
            "type=bind,target=/x,bogus=1",
            "type=cache,target=/c,uid=abc",
            "type=bind,target=\"/x",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }
}
