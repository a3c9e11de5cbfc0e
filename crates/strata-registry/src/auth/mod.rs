//! Authentication and authorization.
//!
//! Three modes: `none` (everything allowed), `htpasswd` (HTTP Basic against a bcrypt
//! htpasswd file on every request) and `token` (the Docker token flow: clients get a
//! short-lived bearer token from the built-in `/token` endpoint with Basic credentials
//! and present it on every request). In both authenticated modes the same access rules
//! decide which user may `pull`, `push` or `delete` in which repositories; anonymous
//! clients may pull only when `anonymous_pull` is on.

pub mod htpasswd;
pub mod token;

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use htpasswd::Htpasswd;

/// How clients authenticate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    None,
    Htpasswd,
    Token,
}

/// What a request wants to do to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// One access rule: these users may do these actions on repositories matching these globs
/// (`*` matches any run of characters, including `/`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    pub users: Vec<String>,
    pub repositories: Vec<String>,
    pub actions: Vec<String>,
}

/// `[auth]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub mode: AuthMode,
    pub htpasswd: Option<PathBuf>,
    #[serde(default = "default_realm")]
    pub realm: String,
    #[serde(default)]
    pub anonymous_pull: bool,
    /// Token signing secret (token mode); replicas must share it.
    pub token_secret: Option<String>,
    #[serde(default = "default_service")]
    pub token_service: String,
    #[serde(
        default = "default_expiry",
        with = "crate::notify::humantime_serde_compat"
    )]
    pub token_expiry: Duration,
    /// Absolute token endpoint URL for challenges; default `<scheme>://<host>/token`.
    pub token_realm: Option<String>,
    /// Access rules; without any, every authenticated user may do everything.
    #[serde(default)]
    pub access: Vec<AccessRule>,
}

fn default_realm() -> String {
    "strata".into()
}
fn default_service() -> String {
    "strata-registry".into()
}
fn default_expiry() -> Duration {
    Duration::from_secs(300)
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            htpasswd: None,
            realm: default_realm(),
            anonymous_pull: false,
            token_secret: None,
            token_service: default_service(),
            token_expiry: default_expiry(),
            token_realm: None,
            access: Vec::new(),
        }
    }
}

/// A token grant (`access` claim entry), as in Docker's token spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `GET /v2/`.
    Base,
    /// `GET /v2/_catalog`.
    Catalog,
    Repo(String, Action),
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Base => f.write_str("the registry"),
            Need::Catalog => f.write_str("the catalog"),
            Need::Repo(name, action) => write!(f, "{} on repository {name}", action.as_str()),
        }
    }
}

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: Option<String>,
    grants: Option<Vec<Grant>>,
}

/// Why a request was refused: 401 with a challenge, or 403.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: Error,
    pub challenge: Option<String>,
}

/// Checks requests against the auth config.
pub struct Authorizer {
    cfg: AuthConfig,
    htpasswd: Option<Htpasswd>,
    secret: Vec<u8>,
}

fn glob_match(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first)
        || !s[first.len()..].ends_with(last)
        || s.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Authorizer {
    pub fn new(cfg: AuthConfig) -> Result<Self> {
        let htpasswd = match (cfg.mode, &cfg.htpasswd) {
            (AuthMode::None, _) => None,
            (_, Some(p)) => Some(Htpasswd::load(p)?),
            (_, None) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "auth mode htpasswd/token needs auth.htpasswd",
                ))
            }
        };
        let secret = match (cfg.mode, &cfg.token_secret) {
            (AuthMode::Token, Some(s)) if s.len() >= 16 => s.as_bytes().to_vec(),
            (AuthMode::Token, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "auth.token_secret must be at least 16 bytes",
                ))
            }
            (AuthMode::Token, None) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "auth mode token needs auth.token_secret",
                ))
            }
            _ => Vec::new(),
        };
        for rule in &cfg.access {
            for a in &rule.actions {
                if !["pull", "push", "delete", "*"].contains(&a.as_str()) {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("unknown access action {a:?}"),
                    ));
                }
            }
        }
        Ok(Authorizer {
            cfg,
            htpasswd,
            secret,
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.cfg.mode
    }

    /// Whether the access rules let `user` (None = anonymous) do `action` on `repo`.
    pub fn permits(&self, user: Option<&str>, repo: &str, action: Action) -> bool {
        let Some(user) = user else {
            return self.cfg.mode == AuthMode::None
                || (self.cfg.anonymous_pull && action == Action::Pull);
        };
        if self.cfg.access.is_empty() {
            return true;
        }
        self.cfg.access.iter().any(|r| {
            r.users.iter().any(|u| u == "*" || u == user)
                && r.repositories.iter().any(|p| glob_match(p, repo))
                && r.actions.iter().any(|a| a == "*" || a == action.as_str())
        })
    }

    fn basic(&self, headers: &axum::http::HeaderMap) -> Option<(String, String)> {
        let v = headers
            .get(axum::http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let enc = v
            .strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))?;
        let dec = String::from_utf8(STANDARD.decode(enc.trim()).ok()?).ok()?;
        let (u, p) = dec.split_once(':')?;
        Some((u.to_string(), p.to_string()))
    }

    fn realm_url(&self, host: &str, tls: bool) -> String {
        self.cfg
            .token_realm
            .clone()
            .unwrap_or_else(|| format!("{}://{host}/token", if tls { "https" } else { "http" }))
    }

    fn challenge(&self, need: &Need, host: &str, tls: bool) -> String {
        match self.cfg.mode {
            AuthMode::Token => {
                let scope = match need {
                    Need::Base => String::new(),
                    Need::Catalog => ",scope=\"registry:catalog:*\"".into(),
                    Need::Repo(name, a) => {
                        let actions = if *a == Action::Push {
                            "pull,push"
                        } else {
                            a.as_str()
                        };
                        format!(",scope=\"repository:{name}:{actions}\"")
                    }
                };
                format!(
                    "Bearer realm=\"{}\",service=\"{}\"{scope}",
                    self.realm_url(host, tls),
                    self.cfg.token_service
                )
            }
            _ => format!("Basic realm=\"{}\"", self.cfg.realm),
        }
    }

    /// Authenticates and authorizes one request.
    pub fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        need: &Need,
        host: &str,
        tls: bool,
    ) -> Result<Identity, Refusal> {
        if self.cfg.mode == AuthMode::None {
            return Ok(Identity {
                user: None,
                grants: None,
            });
        }
        let unauthorized = |msg: &str| Refusal {
            error: Error::new(ErrorKind::Unauthorized, msg.to_string()),
            challenge: Some(self.challenge(need, host, tls)),
        };
        let ident = match self.cfg.mode {
            AuthMode::Htpasswd => match self.basic(headers) {
                Some((u, p)) => {
                    if !self.htpasswd.as_ref().is_some_and(|h| h.verify(&u, &p)) {
                        return Err(unauthorized("invalid username or password"));
                    }
                    Identity {
                        user: Some(u),
                        grants: None,
                    }
                }
                None => Identity {
                    user: None,
                    grants: None,
                },
            },
            _ => {
                let bearer = headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                match bearer {
                    Some(t) => {
                        let now = chrono::Utc::now().timestamp();
                        let claims =
                            token::verify(t.trim(), &self.secret, &self.cfg.token_service, now)
                                .map_err(|e| unauthorized(e.message()))?;
                        // The token server issues anonymous tokens with an empty subject:
                        // such a token carries its grants, but no user.
                        Identity {
                            user: Some(claims.sub).filter(|s| !s.is_empty()),
                            grants: Some(claims.access),
                        }
                    }
                    None => Identity {
                        user: None,
                        grants: None,
                    },
                }
            }
        };
        let allowed = match need {
            Need::Base => ident.user.is_some() || self.cfg.anonymous_pull,
            Need::Catalog => match &ident.grants {
                Some(g) => g
                    .iter()
                    .any(|g| g.kind == "registry" && g.name == "catalog"),
                None => ident.user.is_some(),
            },
            Need::Repo(name, action) => ident.can(self, name, *action),
        };
        if allowed {
            return Ok(ident);
        }
        if ident.user.is_none() || self.cfg.mode == AuthMode::Token {
            // Anonymous, or a token without this scope: the client should (re)authenticate.
            return Err(unauthorized("authentication required"));
        }
        Err(Refusal {
            error: Error::new(
                ErrorKind::Denied,
                format!("requested access to {need} is denied"),
            ),
            challenge: None,
        })
    }

    /// The token endpoint: grants the requested scopes the caller is allowed.
    pub fn issue_token(
        &self,
        headers: &axum::http::HeaderMap,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<serde_json::Value, Refusal> {
        let refuse = |msg: &str| Refusal {
            error: Error::new(ErrorKind::Unauthorized, msg.to_string()),
            challenge: Some(format!("Basic realm=\"{}\"", self.cfg.realm)),
        };
        if self.cfg.mode != AuthMode::Token {
            return Err(Refusal {
                error: Error::new(ErrorKind::Unsupported, "token auth is not enabled"),
                challenge: None,
            });
        }
        if service.is_some_and(|s| s != self.cfg.token_service) {
            return Err(refuse("unknown service"));
        }
        let user = match self.basic(headers) {
            Some((u, p)) => {
                if !self.htpasswd.as_ref().is_some_and(|h| h.verify(&u, &p)) {
                    return Err(refuse("invalid username or password"));
                }
                Some(u)
            }
            None => None,
        };
        let mut access = Vec::new();
        for scope in scopes
            .iter()
            .flat_map(|s| s.split(' '))
            .filter(|s| !s.is_empty())
        {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(rest)) = (parts.next(), parts.next()) else {
                continue;
            };
            // Repository names may not contain ':', but a registry host:port prefix could.
            let (name, actions) = match parts.next() {
                Some(a) => (rest.to_string(), a),
                None => continue,
            };
            let granted: Vec<String> = match kind {
                "repository" => actions
                    .split(',')
                    .filter_map(|a| match a {
                        "pull" => Some(Action::Pull),
                        "push" => Some(Action::Push),
                        "delete" => Some(Action::Delete),
                        _ => None,
                    })
                    .filter(|a| self.permits(user.as_deref(), &name, *a))
                    .map(|a| a.as_str().to_string())
                    .collect(),
                "registry" if name == "catalog" && user.is_some() => vec!["*".to_string()],
                _ => Vec::new(),
            };
            access.push(Grant {
                kind: kind.to_string(),
                name,
                actions: granted,
            });
        }
        let now = chrono::Utc::now().timestamp();
        let claims = token::Claims {
            iss: self.cfg.realm.clone(),
            sub: user.unwrap_or_default(),
            aud: self.cfg.token_service.clone(),
            exp: now + self.cfg.token_expiry.as_secs() as i64,
            nbf: now - 5,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let t = token::sign(&claims, &self.secret).map_err(|e| Refusal {
            error: e,
            challenge: None,
        })?;
        Ok(serde_json::json!({
            "token": t,
            "access_token": t,
            "expires_in": self.cfg.token_expiry.as_secs(),
            "issued_at": chrono::Utc::now().to_rfc3339(),
        }))
    }
}

impl Identity {
    /// Whether this identity may do `action` on `repo`.
    pub fn can(&self, auth: &Authorizer, repo: &str, action: Action) -> bool {
        match &self.grants {
            Some(grants) => grants.iter().any(|g| {
                g.kind == "repository"
                    && g.name == repo
                    && g.actions.iter().any(|a| a == action.as_str() || a == "*")
            }),
            None => auth.permits(self.user.as_deref(), repo, action),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "a/b"));
        assert!(glob_match("team/*", "team/x/y"));
        assert!(!glob_match("team/*", "other/x"));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(!glob_match("a*c*e", "abde"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("ab*ba", "aba"));
    }
}
