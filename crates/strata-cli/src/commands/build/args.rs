//! Parsing of `strata build`'s option values: `--build-arg`, `--label`, `--secret`,
//! `--ssh`, `--output`, `--shm-size` and friends, into the builder's option types.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use strata_build::{BuildNetwork, SecretSource};

/// `--build-arg K=V` sets K; `--build-arg K` takes K from the environment, and is the empty
/// string when the variable is unset (docker's CLI does the same).
pub fn build_args(
    raw: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for a in raw {
        match a.split_once('=') {
            Some((k, v)) => {
                if k.is_empty() {
                    bail!("invalid --build-arg {a:?}: empty name");
                }
                out.insert(k.to_owned(), v.to_owned());
            }
            None => {
                if a.is_empty() {
                    bail!("invalid --build-arg: empty name");
                }
                out.insert(a.clone(), env(a).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

/// `--add-host host:ip` (or `host=ip`), as (hostname, address). The address must be an IP:
/// there is no daemon to resolve docker's `host-gateway`.
pub fn add_hosts(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|h| {
            let (host, addr) = h
                .split_once('=')
                .or_else(|| h.split_once(':'))
                .with_context(|| format!("invalid --add-host {h:?}: expected HOST:IP"))?;
            if host.is_empty() || host.contains(char::is_whitespace) {
                bail!("invalid --add-host {h:?}: bad host name");
            }
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            if addr == "host-gateway" {
                bail!("--add-host {h}: host-gateway needs a daemon's bridge network; give an IP address");
            }
            addr.parse::<std::net::IpAddr>()
                .with_context(|| format!("invalid --add-host {h:?}: {addr:?} is not an IP address"))?;
            Ok((host.to_owned(), addr.to_owned()))
        })
        .collect()
}

/// `--label K=V` (a bare `K` is an empty label, as docker).
pub fn labels(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for l in raw {
        let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
        if k.is_empty() {
            bail!("invalid --label {l:?}: empty key");
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

pub fn network(raw: &str) -> Result<BuildNetwork> {
    Ok(match raw {
        "default" | "" => BuildNetwork::Default,
        "none" => BuildNetwork::None,
        "host" => BuildNetwork::Host,
        other => bail!("--network {other} is not supported; use default, none or host"),
    })
}

/// Split `k=v,k=v` into pairs; a bare word becomes `(word, "")`.
fn csv_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.to_owned()),
            None => (p.trim().to_ascii_lowercase(), String::new()),
        })
        .collect()
}

/// `--secret id=ID[,type=file|env][,src=PATH|,env=VAR]`. Without `src`/`env`, docker reads
/// the environment variable named like the id (`type=env`) or fails.
pub fn secrets(raw: &[String]) -> Result<HashMap<String, SecretSource>> {
    let mut out = HashMap::new();
    for s in raw {
        let mut id = None;
        let mut kind = None;
        let mut src = None;
        let mut env = None;
        for (k, v) in csv_pairs(s) {
            match k.as_str() {
                "id" => id = Some(v),
                "type" => kind = Some(v),
                "src" | "source" => src = Some(v),
                "env" => env = Some(v),
                other => bail!("invalid --secret {s:?}: unknown key {other:?}"),
            }
        }
        let id = match id {
            Some(i) if !i.is_empty() => i,
            _ => bail!("invalid --secret {s:?}: id= is required"),
        };
        let source = match kind.as_deref() {
            Some("file") | None if src.is_some() => {
                if env.is_some() {
                    bail!("invalid --secret {s:?}: src= and env= are exclusive");
                }
                SecretSource::File(PathBuf::from(src.unwrap_or_default()))
            }
            Some("env") | None if src.is_none() => SecretSource::Env(env.unwrap_or(id.clone())),
            Some("env") => SecretSource::Env(src.unwrap_or_default()),
            Some("file") => bail!("invalid --secret {s:?}: type=file needs src="),
            Some(other) => bail!("invalid --secret {s:?}: unsupported type {other:?}"),
            None => unreachable!("covered by the guards above"),
        };
        out.insert(id, source);
    }
    Ok(out)
}

/// `--ssh default` (the agent at `$SSH_AUTH_SOCK`) or `--ssh ID=PATH`.
pub fn ssh(
    raw: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    for s in raw {
        let (id, path) = match s.split_once('=') {
            Some((id, path)) => {
                if path.contains(',') {
                    bail!("--ssh {s}: only one socket per id is supported");
                }
                (id.to_owned(), PathBuf::from(path))
            }
            None => {
                let sock = env("SSH_AUTH_SOCK")
                    .filter(|v| !v.is_empty())
                    .with_context(|| {
                        format!("--ssh {s}: SSH_AUTH_SOCK is not set; pass --ssh {s}=SOCKET")
                    })?;
                (s.clone(), PathBuf::from(sock))
            }
        };
        if id.is_empty() {
            bail!("invalid --ssh {s:?}: empty id");
        }
        if !path.exists() {
            bail!("--ssh {id}: {} does not exist", path.display());
        }
        out.insert(id, path);
    }
    Ok(out)
}

/// `--allow security.insecure` (and `network.host`, which strata grants anyway).
pub fn allow_insecure(raw: &[String]) -> Result<bool> {
    let mut insecure = false;
    for a in raw.iter().flat_map(|a| a.split(',')) {
        match a.trim() {
            "security.insecure" => insecure = true,
            "network.host" => {}
            other => bail!("--allow {other} is not supported; use security.insecure"),
        }
    }
    Ok(insecure)
}

/// docker's size syntax: a number with an optional `b`, `k`, `m`, `g` suffix (powers of 1024).
pub fn size(raw: &str) -> Result<u64> {
    let s = raw.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').filter(|r| !r.is_empty()).unwrap_or(&s);
    let (num, mult) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        Some('t') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("invalid size {raw:?}; expected e.g. 64m"))?;
    if n.is_nan() || n < 0.0 {
        bail!("invalid size {raw:?}");
    }
    Ok((n * mult as f64) as u64)
}

/// Where `-o/--output` sends the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An image in the store (tags from `-t` and `name=`).
    Image { names: Vec<String> },
    /// The final root filesystem copied into a directory.
    Local { dest: PathBuf },
    /// The final root filesystem as a tar file (`-` for stdout).
    Tar { dest: String },
    /// An archive (docker-archive that is also an OCI layout) of the image, with `name=`s.
    Archive {
        dest: String,
        oci: bool,
        names: Vec<String>,
    },
}

/// Parse one `-o` value: `type=…,dest=…`, or a bare path meaning `type=local`
/// (`-` meaning a tar on stdout).
pub fn output(raw: &str) -> Result<Output> {
    if !raw.contains('=') {
        return Ok(if raw == "-" {
            Output::Tar { dest: "-".into() }
        } else {
            Output::Local {
                dest: PathBuf::from(raw),
            }
        });
    }
    let mut kind = None;
    let mut dest = None;
    let mut names = Vec::new();
    for (k, v) in csv_pairs(raw) {
        match k.as_str() {
            "type" => kind = Some(v),
            "dest" => dest = Some(v),
            "name" => names.extend(v.split(';').filter(|n| !n.is_empty()).map(str::to_owned)),
            other => bail!("--output {raw}: option {other:?} is not supported"),
        }
    }
    let kind = kind.with_context(|| format!("--output {raw}: type= is required"))?;
    let need_dest = |what: &str| -> Result<String> {
        dest.clone()
            .filter(|d| !d.is_empty())
            .with_context(|| format!("--output type={what} needs dest="))
    };
    if !names.is_empty() && kind != "image" && kind != "docker" && kind != "oci" {
        bail!("--output {raw}: name= only applies to type=image, docker or oci");
    }
    Ok(match kind.as_str() {
        "image" => {
            if dest.is_some() {
                bail!("--output type=image does not take dest=");
            }
            Output::Image { names }
        }
        "local" => Output::Local {
            dest: PathBuf::from(need_dest("local")?),
        },
        "tar" => Output::Tar {
            dest: need_dest("tar")?,
        },
        "docker" => Output::Archive {
            dest: need_dest("docker")?,
            oci: false,
            names,
        },
        "oci" => Output::Archive {
            dest: need_dest("oci")?,
            oci: true,
            names,
        },
        other => {
            bail!("--output type={other} is not supported; use image, local, tar, oci or docker")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arg_from_env_is_empty_when_unset() {
        let raw = vec!["A=1".to_string(), "B".into(), "C".into()];
        let got = build_args(&raw, |k| (k == "B").then(|| "env".to_string())).unwrap();
        assert_eq!(got.get("A").unwrap(), "1");
        assert_eq!(got.get("B").unwrap(), "env");
        assert_eq!(got.get("C").unwrap(), "");
    }

    #[test]
    fn secrets_forms() {
        let raw = vec![
            "id=a,src=/x".to_string(),
            "id=b,env=VAR".into(),
            "id=c,type=env".into(),
            "id=d,type=file,source=/y".into(),
        ];
        let s = secrets(&raw).unwrap();
        assert_eq!(s["a"], SecretSource::File("/x".into()));
        assert_eq!(s["b"], SecretSource::Env("VAR".into()));
        assert_eq!(s["c"], SecretSource::Env("c".into()));
        assert_eq!(s["d"], SecretSource::File("/y".into()));
        assert!(secrets(&["src=/x".to_string()]).is_err());
        assert!(secrets(&["id=x,type=weird".to_string()]).is_err());
    }

    #[test]
    fn outputs() {
        assert_eq!(output("out").unwrap(), Output::Local { dest: "out".into() });
        assert_eq!(output("-").unwrap(), Output::Tar { dest: "-".into() });
        assert_eq!(
            output("type=tar,dest=a.tar").unwrap(),
            Output::Tar {
                dest: "a.tar".into()
            }
        );
        assert!(output("type=registry").is_err());
        assert!(output("type=local").is_err());
    }

    #[test]
    fn add_host_forms() {
        let got =
            add_hosts(&["db:10.0.0.2".into(), "v6=::1".into(), "x:[fe80::1]".into()]).unwrap();
        assert_eq!(got[0], ("db".into(), "10.0.0.2".into()));
        assert_eq!(got[1], ("v6".into(), "::1".into()));
        assert_eq!(got[2], ("x".into(), "fe80::1".into()));
        assert!(add_hosts(&["nohost".into()]).is_err());
        assert!(add_hosts(&["h:not-ip".into()]).is_err());
        assert!(add_hosts(&["h:host-gateway".into()]).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("64m").unwrap(), 64 << 20);
        assert_eq!(size("1g").unwrap(), 1 << 30);
        assert_eq!(size("512").unwrap(), 512);
        assert_eq!(size("2kb").unwrap(), 2048);
        assert!(size("lots").is_err());
    }
}
