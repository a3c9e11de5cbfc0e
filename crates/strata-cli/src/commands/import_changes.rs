//! `--change` for `strata import`: Dockerfile instructions applied to the new image's config.
//!
//! Each change is parsed with the Dockerfile parser (so quoting, JSON and shell forms
//! behave exactly as in a Dockerfile) and applied to Docker's container-config JSON. The
//! instructions docker accepts here are CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
//! VOLUME, WORKDIR and STOPSIGNAL; any other is an error naming it.

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Map, Value};
use strata_dockerfile::{CommandLine, InstructionKind};

/// The container config (`config` of the image config) after applying `changes` in order.
pub fn apply_changes(changes: &[String]) -> Result<Map<String, Value>> {
    let mut cfg = Map::new();
    for change in changes {
        let text = format!("FROM scratch\n{change}\n");
        let parsed = strata_dockerfile::parse(&text, "--change")
            .map_err(|e| anyhow!("invalid --change {change:?}: {e}"))?;
        let stage = parsed
            .stages
            .first()
            .ok_or_else(|| anyhow!("invalid --change {change:?}"))?;
        if stage.instructions.len() != 1 || parsed.stages.len() != 1 {
            bail!("--change {change:?} must hold exactly one instruction");
        }
        apply(&mut cfg, &stage.instructions[0].kind)?;
    }
    Ok(cfg)
}

fn command(cl: &CommandLine) -> Value {
    match cl {
        CommandLine::Exec(v) => json!(v),
        CommandLine::Shell(s) => json!(["/bin/sh", "-c", s]),
    }
}

fn object<'a>(cfg: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = cfg.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// Expand a word as a Dockerfile would: quotes removed, `$VAR` from the config's Env.
fn word(cfg: &Map<String, Value>, w: &str) -> Result<String> {
    let env: Vec<(String, String)> = cfg
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| {
                    v.as_str()?
                        .split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    let lexer = strata_dockerfile::shell::Lexer::new('\\');
    Ok(lexer
        .process_word(w, &env)
        .map_err(|e| anyhow::anyhow!("--change: {}", e.message()))?
        .value)
}

fn apply(cfg: &mut Map<String, Value>, kind: &InstructionKind) -> Result<()> {
    match kind {
        InstructionKind::Cmd(cl) => {
            cfg.insert("Cmd".into(), command(cl));
        }
        InstructionKind::Entrypoint(cl) => {
            cfg.insert("Entrypoint".into(), command(cl));
        }
        InstructionKind::Env(kvs) => {
            let mut env: Vec<String> = cfg
                .get("Env")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            for kv in kvs {
                let prefix = format!("{}=", kv.key);
                let entry = format!("{}={}", kv.key, word(cfg, &kv.value)?);
                match env.iter_mut().find(|e| e.starts_with(&prefix)) {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
            cfg.insert("Env".into(), json!(env));
        }
        InstructionKind::Expose(ports) => {
            let exposed = object(cfg, "ExposedPorts");
            for port in ports {
                let key = if port.contains('/') {
                    port.to_lowercase()
                } else {
                    format!("{port}/tcp")
                };
                exposed.insert(key, json!({}));
            }
        }
        InstructionKind::Label(kvs) => {
            let values: Vec<(String, String)> = kvs
                .iter()
                .map(|kv| Ok((word(cfg, &kv.key)?, word(cfg, &kv.value)?)))
                .collect::<Result<_>>()?;
            let labels = object(cfg, "Labels");
            for (k, v) in values {
                labels.insert(k, json!(v));
            }
        }
        InstructionKind::Onbuild(o) => {
            let list = cfg.entry("OnBuild").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(json!(o.expression));
            }
        }
        InstructionKind::User(u) => {
            cfg.insert("User".into(), json!(u));
        }
        InstructionKind::Volume(vols) => {
            let volumes = object(cfg, "Volumes");
            for v in vols {
                volumes.insert(v.clone(), json!({}));
            }
        }
        InstructionKind::Workdir(dir) => {
            let current = cfg.get("WorkingDir").and_then(Value::as_str).unwrap_or("/");
            let next = if dir.starts_with('/') {
                dir.clone()
            } else {
                format!("{}/{dir}", current.trim_end_matches('/'))
            };
            cfg.insert("WorkingDir".into(), json!(next));
        }
        InstructionKind::StopSignal(s) => {
            cfg.insert("StopSignal".into(), json!(s));
        }
        other => bail!(
            "--change: instruction {} is not supported by import (supported: CMD, ENTRYPOINT, ENV, \
             EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)",
            other.keyword()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(c: &[&str]) -> Result<Value> {
        apply_changes(&c.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map(Value::Object)
    }

    #[test]
    fn applies_docker_change_instructions() {
        let cfg = changes(&[
            r#"CMD ["sh"]"#,
            "ENTRYPOINT echo hi",
            "ENV A=1 B=\"two words\"",
            "ENV A=3",
            "EXPOSE 80 53/udp",
            "LABEL org.example=yes",
            "USER nobody",
            "WORKDIR /app",
            "WORKDIR sub",
            "VOLUME /data",
            "STOPSIGNAL SIGTERM",
            "ONBUILD RUN echo x",
        ])
        .unwrap();
        assert_eq!(cfg["Cmd"], json!(["sh"]));
        assert_eq!(cfg["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(cfg["Env"], json!(["A=3", "B=two words"]));
        assert_eq!(cfg["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(cfg["Labels"]["org.example"], json!("yes"));
        assert_eq!(cfg["User"], json!("nobody"));
        assert_eq!(cfg["WorkingDir"], json!("/app/sub"));
        assert_eq!(cfg["Volumes"], json!({"/data": {}}));
        assert_eq!(cfg["StopSignal"], json!("SIGTERM"));
        assert_eq!(cfg["OnBuild"], json!(["RUN echo x"]));
    }

    #[test]
    fn unsupported_instruction_is_named() {
        let err = changes(&["RUN echo hi"]).unwrap_err().to_string();
        assert!(err.contains("RUN"), "{err}");
        let err = changes(&["COPY a b"]).unwrap_err().to_string();
        assert!(err.contains("COPY"), "{err}");
        assert!(changes(&["NOTANINSTRUCTION x"]).is_err());
    }
}
