//! Credentials as docker keeps them: `config.json` (`auths`, `credsStore`, `credHelpers`)
//! in `$DOCKER_CONFIG` or `~/.docker`, and `docker-credential-<name>` helper binaries
//! speaking their `get` / `store` / `erase` protocol on stdin and stdout.
//!
//! Writing keeps every other field of `config.json` untouched (docker and other tools put
//! their own settings there), and replaces the file atomically.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// The key docker uses for Docker Hub in `auths` and with helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and secret for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP basic credentials (also exchanged for bearer tokens).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`), used at the token endpoint.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, not even in debug output.
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(***)"),
        }
    }
}

/// The docker configuration directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".docker")
}

/// The key a registry host is stored under: Docker Hub's legacy URL, else the host.
pub fn config_key(registry_host: &str) -> String {
    match registry_host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_owned(),
        h => h.to_owned(),
    }
}

/// A loaded `config.json` (empty when the file does not exist).
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// Load `config.json` from the default directory.
    pub fn load_default() -> Result<Self> {
        Self::load(&docker_config_dir().join("config.json"))
    }

    /// Load `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self> {
        let doc = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(Error::new(
                        ErrorKind::Credentials,
                        format!("{}: not a json object", path.display()),
                    ))
                }
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Credentials,
                        format!("{}: invalid json: {e}", path.display()),
                    ))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            doc,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper responsible for `registry_host`: `credHelpers[host]`, else `credsStore`.
    pub fn helper_for(&self, registry_host: &str) -> Option<String> {
        let key = config_key(registry_host);
        self.doc
            .get("credHelpers")
            .and_then(|h| h.get(&key).or_else(|| h.get(registry_host)))
            .or_else(|| self.doc.get("credsStore"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// Credentials for `registry_host`, from its helper or the `auths` section.
    pub fn credential(&self, registry_host: &str) -> Result<Option<Credential>> {
        let key = config_key(registry_host);
        if let Some(helper) = self.helper_for(registry_host) {
            return helper_get(&helper, &key);
        }
        let auths = self.doc.get("auths").and_then(Value::as_object);
        let Some(entry) = auths.and_then(|a| a.get(&key).or_else(|| find_url_key(a, &key))) else {
            return Ok(None);
        };
        if let Some(tok) = entry
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return Ok(Some(Credential::IdentityToken(tok.to_owned())));
        }
        if let Some(auth) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Credentials,
                        format!(
                            "{}: auths[{key}].auth is not base64: {e}",
                            self.path.display()
                        ),
                    )
                })?;
            let text = String::from_utf8_lossy(&decoded);
            let (u, p) = text.split_once(':').ok_or_else(|| {
                Error::new(
                    ErrorKind::Credentials,
                    format!(
                        "{}: auths[{key}].auth is not user:password",
                        self.path.display()
                    ),
                )
            })?;
            return Ok(Some(Credential::Basic {
                username: u.to_owned(),
                password: p.to_owned(),
            }));
        }
        Ok(None)
    }

    /// Store credentials for `registry_host` the way docker does: in its helper if one is
    /// configured, else base64 in `auths`. Writes the file.
    pub fn store(&mut self, registry_host: &str, username: &str, password: &str) -> Result<()> {
        let key = config_key(registry_host);
        if let Some(helper) = self.helper_for(registry_host) {
            helper_store(&helper, &key, username, password)?;
            // Docker leaves an empty entry so `auths` still lists the registry.
            self.auths_mut().insert(key, Value::Object(Map::new()));
        } else {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let mut entry = Map::new();
            entry.insert("auth".into(), Value::String(auth));
            self.auths_mut().insert(key, Value::Object(entry));
        }
        self.save()
    }

    /// Remove credentials for `registry_host`. Returns whether any were present.
    pub fn erase(&mut self, registry_host: &str) -> Result<bool> {
        let key = config_key(registry_host);
        let mut found = false;
        if let Some(helper) = self.helper_for(registry_host) {
            found |= helper_erase(&helper, &key)?;
        }
        found |= self.auths_mut().remove(&key).is_some();
        self.save()?;
        Ok(found)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let v = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut().expect("auths is an object")
    }

    fn save(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut bytes = serde_json::to_vec_pretty(&self.doc).expect("config serialises");
        bytes.push(b'\n');
        let tmp = dir.join(format!(".config.json.{}", std::process::id()));
        write_private(&tmp, &bytes)?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| Error::io(format!("replacing {}", self.path.display()), e))
    }
}

/// Docker also accepts `auths` keys written as URLs (`https://host/v1/`).
fn find_url_key<'a>(auths: &'a Map<String, Value>, host: &str) -> Option<&'a Value> {
    auths.iter().find_map(|(k, v)| {
        let bare = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let bare = bare.split('/').next().unwrap_or(bare);
        (bare == host).then_some(v)
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn run_helper(helper: &str, action: &str, input: &[u8]) -> Result<(bool, Vec<u8>, String)> {
    let bin = format!("docker-credential-{helper}");
    let mut child = Command::new(&bin)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                ErrorKind::Credentials,
                format!("cannot run credential helper {bin}: {e}"),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits early closes its stdin; its exit status tells the story.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("waiting for {bin}"), e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok((out.status.success(), out.stdout, text))
}

fn helper_get(helper: &str, key: &str) -> Result<Option<Credential>> {
    let (ok, stdout, text) = run_helper(helper, "get", key.as_bytes())?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(None);
        }
        return Err(Error::new(
            ErrorKind::Credentials,
            format!("docker-credential-{helper} get {key} failed: {text}"),
        ));
    }
    let v: Value = serde_json::from_slice(&stdout).map_err(|e| {
        Error::new(
            ErrorKind::Credentials,
            format!("docker-credential-{helper} get {key}: invalid json: {e}"),
        )
    })?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
    if secret.is_empty() {
        return Ok(None);
    }
    if user == "<token>" {
        return Ok(Some(Credential::IdentityToken(secret.to_owned())));
    }
    Ok(Some(Credential::Basic {
        username: user.to_owned(),
        password: secret.to_owned(),
    }))
}

fn helper_store(helper: &str, key: &str, username: &str, secret: &str) -> Result<()> {
    let input = serde_json::json!({"ServerURL": key, "Username": username, "Secret": secret});
    let (ok, _, text) = run_helper(helper, "store", input.to_string().as_bytes())?;
    if !ok {
        return Err(Error::new(
            ErrorKind::Credentials,
            format!("docker-credential-{helper} store {key} failed: {text}"),
        ));
    }
    Ok(())
}

fn helper_erase(helper: &str, key: &str) -> Result<bool> {
    let (ok, _, text) = run_helper(helper, "erase", key.as_bytes())?;
    if !ok {
        if text.contains("credentials not found") {
            return Ok(false);
        }
        return Err(Error::new(
            ErrorKind::Credentials,
            format!("docker-credential-{helper} erase {key} failed: {text}"),
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_then_read_back_keeps_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"psFormat":"x","auths":{"other:1":{"auth":"YTpi"}}}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&path).unwrap();
        c.store("localhost:5000", "alice", "s3:cret").unwrap();
        let c = DockerConfig::load(&path).unwrap();
        assert_eq!(
            c.credential("localhost:5000").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "s3:cret".into()
            })
        );
        assert_eq!(
            c.credential("other:1").unwrap(),
            Some(Credential::Basic {
                username: "a".into(),
                password: "b".into()
            })
        );
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(raw["psFormat"], "x");
        let mut c = DockerConfig::load(&path).unwrap();
        assert!(c.erase("localhost:5000").unwrap());
        assert_eq!(c.credential("localhost:5000").unwrap(), None);
    }

    #[test]
    fn docker_hub_uses_legacy_key_and_url_keys_match() {
        assert_eq!(config_key("docker.io"), DOCKER_HUB_KEY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let c = DockerConfig::load(&path).unwrap();
        assert!(matches!(
            c.credential("reg.example:5000").unwrap(),
            Some(Credential::Basic { .. })
        ));
        assert_eq!(c.credential("nothere").unwrap(), None);
    }

    #[test]
    fn helper_protocol_round_trip() {
        // A fake helper keeping one secret in a file next to it.
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("secret");
        let script = dir.path().join("docker-credential-fake");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\ncase \"$1\" in\n get) read k; if [ -f {s} ]; then cat {s}; else echo 'credentials not found in native keychain'; exit 1; fi;;\n store) cat > {s};;\n erase) rm -f {s};;\nesac\n",
                s = store.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path_var = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        // Only this test changes PATH; no other test in this crate spawns processes.
        std::env::set_var("PATH", &path_var);
        let cfg_path = dir.path().join("config.json");
        std::fs::write(&cfg_path, r#"{"credHelpers":{"reg:1":"fake"}}"#).unwrap();
        let mut c = DockerConfig::load(&cfg_path).unwrap();
        assert_eq!(c.credential("reg:1").unwrap(), None);
        c.store("reg:1", "bob", "pw").unwrap();
        assert_eq!(
            c.credential("reg:1").unwrap(),
            Some(Credential::Basic {
                username: "bob".into(),
                password: "pw".into()
            })
        );
        let raw = std::fs::read_to_string(&cfg_path).unwrap();
        assert!(!raw.contains("pw"), "secret leaked into config.json: {raw}");
        assert!(c.erase("reg:1").unwrap());
        assert_eq!(c.credential("reg:1").unwrap(), None);
    }
}
