//! The image a stage is building: config, layers and history, changed one instruction at a time.
//!
//! Metadata instructions (ENV, LABEL, CMD, …) only change the config and add a history entry
//! with `empty_layer`; RUN, COPY and ADD append a layer. History `created_by` texts follow
//! what BuildKit writes, so `strata history` reads like `docker history`.

use std::collections::BTreeMap;

use strata_dockerfile::ast::{CommandLine, Healthcheck, InstructionKind, KeyValue};
use strata_oci::{ContainerConfig, Digest, History, ImageConfig};

/// One layer of the image being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: String,
}

/// The working image of a stage.
#[derive(Debug, Clone)]
pub struct ImageState {
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// Timestamp written into new history entries (RFC 3339).
    pub created: String,
    /// Whether this stage itself ran CMD: ENTRYPOINT then keeps it, and resets only a CMD
    /// inherited from the base image or parent stage (BuildKit's rule).
    pub cmd_set_in_stage: bool,
}

impl ImageState {
    /// An empty image (`FROM scratch`) for `os/arch[/variant]`.
    pub fn scratch(os: &str, arch: &str, variant: Option<&str>, created: &str) -> Self {
        let config = ImageConfig {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            variant: variant.map(str::to_owned),
            config: Some(ContainerConfig {
                env: Some(vec![DEFAULT_PATH_ENV.to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        ImageState {
            config,
            layers: Vec::new(),
            created: created.to_owned(),
            cmd_set_in_stage: false,
        }
    }

    /// The working image of a stage built on `config` (a base image's or a parent stage's).
    /// Like BuildKit, the new image keeps only the fields its config type has: the legacy
    /// docker fields (`docker_version`, `comment`, `container_config`, …) and the runtime
    /// ones (`Hostname`, `Image`, `AttachStdin`, …) are not inherited, and `OnBuild` is
    /// cleared because the triggers run in this stage.
    pub fn from_base(mut config: ImageConfig, layers: Vec<LayerRef>, created: String) -> Self {
        config.id = None;
        config.parent = None;
        config.comment = None;
        config.container = None;
        config.container_config = None;
        config.docker_version = None;
        if let Some(c) = config.config.as_mut() {
            c.hostname = None;
            c.domainname = None;
            c.attach_stdin = None;
            c.attach_stdout = None;
            c.attach_stderr = None;
            c.tty = None;
            c.open_stdin = None;
            c.stdin_once = None;
            c.image = None;
            c.network_disabled = None;
            c.mac_address = None;
            c.on_build = None;
        }
        ImageState {
            config,
            layers,
            created,
            cmd_set_in_stage: false,
        }
    }

    pub fn container(&mut self) -> &mut ContainerConfig {
        self.config.config.get_or_insert_with(Default::default)
    }

    pub fn container_ref(&self) -> Option<&ContainerConfig> {
        self.config.config.as_ref()
    }

    /// The environment as ordered `(key, value)` pairs.
    pub fn env(&self) -> Vec<(String, String)> {
        self.container_ref()
            .and_then(|c| c.env.as_ref())
            .map(|e| {
                e.iter()
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Set or replace one environment variable, keeping order.
    pub fn set_env(&mut self, key: &str, value: &str) {
        let env = self.container().env.get_or_insert_with(Vec::new);
        let entry = format!("{key}={value}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }

    pub fn workdir(&self) -> String {
        self.container_ref()
            .and_then(|c| c.working_dir.clone())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_owned())
    }

    pub fn user(&self) -> String {
        self.container_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default()
    }

    /// The shell for shell-form commands (`SHELL`, default `/bin/sh -c`).
    pub fn shell(&self) -> Vec<String> {
        self.container_ref()
            .and_then(|c| c.shell.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()])
    }

    /// Record a history entry.
    pub fn add_history(&mut self, created_by: String, empty_layer: bool) {
        self.config.history.push(History {
            created: Some(self.created.clone()),
            created_by: Some(created_by),
            comment: Some("buildkit.dockerfile.v0".to_owned()),
            empty_layer: empty_layer.then_some(true),
            ..Default::default()
        });
    }

    /// Append a layer produced by a step.
    pub fn push_layer(&mut self, layer: LayerRef, created_by: String) {
        self.config.rootfs.diff_ids.push(layer.diff_id.clone());
        self.layers.push(layer);
        self.add_history(created_by, false);
    }

    /// Apply a metadata-only instruction whose words are already expanded, and return its
    /// text (BuildKit's history `created_by`). `None` for instructions that are not
    /// metadata-only (RUN, COPY, ADD, FROM, ARG).
    pub fn apply_metadata(
        &mut self,
        kind: &InstructionKind,
        workdir_resolved: Option<&str>,
    ) -> Option<String> {
        let text = match kind {
            InstructionKind::Env(pairs) => {
                for KeyValue { key, value } in pairs {
                    self.set_env(key, value);
                }
                format!("ENV {}", join_pairs(pairs))
            }
            InstructionKind::Label(pairs) => {
                let labels = self.container().labels.get_or_insert_with(BTreeMap::new);
                for KeyValue { key, value } in pairs {
                    labels.insert(key.clone(), value.clone());
                }
                format!("LABEL {}", join_pairs(pairs))
            }
            InstructionKind::Maintainer(who) => {
                self.config.author = Some(who.clone());
                format!("MAINTAINER {who}")
            }
            InstructionKind::Cmd(cmd) => {
                let args = self.command_args(cmd);
                self.container().cmd = Some(args.clone());
                self.cmd_set_in_stage = true;
                self.set_args_escaped(cmd);
                format!("CMD {}", go_quote_list(&args))
            }
            InstructionKind::Entrypoint(cmd) => {
                let args = self.command_args(cmd);
                let keep_cmd = self.cmd_set_in_stage;
                let c = self.container();
                c.entrypoint = Some(args.clone());
                // An inherited CMD was meant for the old entrypoint; one this stage set stays.
                if !keep_cmd {
                    c.cmd = None;
                }
                self.set_args_escaped(cmd);
                format!("ENTRYPOINT {}", go_quote_list(&args))
            }
            InstructionKind::Expose(ports) => {
                let set = self
                    .container()
                    .exposed_ports
                    .get_or_insert_with(BTreeMap::new);
                for p in ports {
                    let p = p.to_lowercase();
                    let (num, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
                    // A range (`7000-7001/tcp`) exposes each port, as docker does.
                    let range = num.split_once('-').and_then(|(a, b)| {
                        let (a, b) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
                        (a <= b).then_some(a..=b)
                    });
                    match range {
                        Some(r) => {
                            for n in r {
                                set.insert(format!("{n}/{proto}"), serde_json::Map::new());
                            }
                        }
                        None => {
                            set.insert(format!("{num}/{proto}"), serde_json::Map::new());
                        }
                    }
                }
                let all: Vec<String> = set.keys().map(|k| format!("{k}:{{}}")).collect();
                format!("EXPOSE map[{}]", all.join(" "))
            }
            InstructionKind::Volume(vols) => {
                let set = self.container().volumes.get_or_insert_with(BTreeMap::new);
                for v in vols {
                    set.insert(v.clone(), serde_json::Map::new());
                }
                format!("VOLUME [{}]", vols.join(" "))
            }
            InstructionKind::User(u) => {
                self.container().user = Some(u.clone());
                format!("USER {u}")
            }
            InstructionKind::Workdir(w) => {
                let dir = workdir_resolved
                    .map(str::to_owned)
                    .unwrap_or_else(|| w.clone());
                self.container().working_dir = Some(dir.clone());
                format!("WORKDIR {dir}")
            }
            InstructionKind::StopSignal(s) => {
                self.container().stop_signal = Some(s.clone());
                format!("STOPSIGNAL {s}")
            }
            InstructionKind::Shell(sh) => {
                self.container().shell = Some(sh.clone());
                format!("SHELL [{}]", sh.join(" "))
            }
            InstructionKind::Onbuild(ob) => {
                self.container()
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(ob.expression.clone());
                format!("ONBUILD {}", ob.expression)
            }
            InstructionKind::Healthcheck(hc) => {
                let value = match hc {
                    Healthcheck::None => strata_oci::Healthcheck {
                        test: Some(vec!["NONE".to_owned()]),
                        ..Default::default()
                    },
                    Healthcheck::Cmd(h) => strata_oci::Healthcheck {
                        test: Some(h.test.clone()),
                        interval: h.interval.map(|n| n as i64),
                        timeout: h.timeout.map(|n| n as i64),
                        start_period: h.start_period.map(|n| n as i64),
                        start_interval: h.start_interval.map(|n| n as i64),
                        retries: h.retries.map(i64::from),
                        ..Default::default()
                    },
                };
                let text = format!("HEALTHCHECK {}", healthcheck_text(&value));
                self.container().healthcheck = Some(value);
                text
            }
            _ => return None,
        };
        // BuildKit records no history row for ONBUILD: the trigger only lands in the config.
        if !matches!(kind, InstructionKind::Onbuild(_)) {
            self.add_history(text.clone(), true);
        }
        Some(text)
    }

    /// CMD/ENTRYPOINT arguments: exec form as is, shell form wrapped in the stage's shell.
    pub fn command_args(&self, cmd: &CommandLine) -> Vec<String> {
        match cmd {
            CommandLine::Exec(args) => args.clone(),
            CommandLine::Shell(line) => {
                let mut args = self.shell();
                args.push(line.clone());
                args
            }
        }
    }

    fn set_args_escaped(&mut self, cmd: &CommandLine) {
        // BuildKit sets ArgsEscaped only for Windows images; Linux images leave it unset.
        let _ = cmd;
        if self.config.os == "windows" {
            self.container().args_escaped = Some(true);
        }
    }
}

/// The default PATH BuildKit puts in a scratch image's environment.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn join_pairs(pairs: &[KeyValue]) -> String {
    pairs
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
pub fn go_quote_list(args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| serde_json::to_string(a).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(" "))
}

fn healthcheck_text(h: &strata_oci::Healthcheck) -> String {
    let test = h.test.as_deref().map(go_quote_list).unwrap_or_default();
    let dur = |d: Option<i64>| {
        d.map(|n| format!("{}s", n as f64 / 1e9))
            .unwrap_or_else(|| "0s".to_owned())
    };
    format!(
        "&{{{test} {} {} {} {} {}}}",
        dur(h.interval),
        dur(h.timeout),
        dur(h.start_period),
        dur(h.start_interval),
        h.retries.unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_does_not_inherit_legacy_or_runtime_config_fields() {
        let base: ImageConfig = serde_json::from_value(serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "docker_version": "20.10.24",
            "comment": "committed",
            "container": "abc",
            "container_config": {"Cmd": ["sh"]},
            "parent": "sha256:00",
            "config": {
                "Hostname": "abc", "Image": "sha256:11", "AttachStdout": true, "Tty": false,
                "Env": ["A=1"], "Cmd": ["sh"], "OnBuild": ["RUN x"], "Shell": ["/bin/bash", "-c"]
            },
            "rootfs": {"type": "layers", "diff_ids": []}
        }))
        .unwrap();
        let st = ImageState::from_base(base, Vec::new(), "2024-01-01T00:00:00Z".into());
        let v = serde_json::to_value(&st.config).unwrap();
        for k in [
            "docker_version",
            "comment",
            "container",
            "container_config",
            "parent",
        ] {
            assert!(v.get(k).is_none(), "{k}: {v}");
        }
        let c = &v["config"];
        for k in ["Hostname", "Image", "AttachStdout", "Tty", "OnBuild"] {
            assert!(c.get(k).is_none(), "{k}: {c}");
        }
        assert_eq!(c["Env"], serde_json::json!(["A=1"]));
        assert_eq!(c["Shell"], serde_json::json!(["/bin/bash", "-c"]));
    }

    #[test]
    fn entrypoint_resets_only_an_inherited_cmd() {
        use strata_dockerfile::ast::CommandLine;
        let mut st = ImageState::scratch("linux", "amd64", None, "t");
        st.container().cmd = Some(vec!["inherited".into()]);
        st.apply_metadata(
            &InstructionKind::Entrypoint(CommandLine::Exec(vec!["e".into()])),
            None,
        );
        assert_eq!(st.container().cmd, None);
        st.apply_metadata(
            &InstructionKind::Cmd(CommandLine::Exec(vec!["mine".into()])),
            None,
        );
        st.apply_metadata(
            &InstructionKind::Entrypoint(CommandLine::Exec(vec!["f".into()])),
            None,
        );
        assert_eq!(st.container().cmd, Some(vec!["mine".into()]));
    }
}
