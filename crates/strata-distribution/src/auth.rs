//! Registry authentication: `WWW-Authenticate` challenges, the bearer token flow of the
//! distribution token spec, and a token cache keyed by registry and scope.
//!
//! A request first goes out with whatever the cache holds for its (host, scope); a 401
//! carries a challenge, which is answered once (basic credentials, or a token fetched from
//! the challenge's realm) before the request is repeated. Tokens are dropped a little
//! before they expire so a long transfer never starts with a stale one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use crate::credentials::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::{read_capped, TOKEN_LIMIT};
use crate::origin::{send_following, Origin, Req, Scoped};

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer`, lowercased.
    pub scheme: String,
    pub params: HashMap<String, String>,
}

/// Parse a `WWW-Authenticate` header value (`Bearer realm="...",service="...",scope="..."`).
/// Only the first challenge is returned: registries send one.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.find(char::is_whitespace) {
        Some(i) => (&header[..i], header[i..].trim_start()),
        None => (header, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = HashMap::new();
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let key = rest[start..i].trim().to_ascii_lowercase();
        i += 1;
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                // Quoted values are ASCII in practice; push bytes as chars of the str slice.
                let ch = rest[i..].chars().next().expect("in bounds");
                value.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
        } else {
            let vs = i;
            while i < bytes.len() && bytes[i] != b',' {
                i += 1;
            }
            value = rest[vs..i].trim().to_owned();
        }
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// What to send in `Authorization` for one host and scope.
#[derive(Debug, Clone)]
pub(crate) enum Authorization {
    Basic(String),
    Bearer { token: String, expires: Instant },
}

impl Authorization {
    pub(crate) fn header(&self) -> String {
        match self {
            Authorization::Basic(b) => format!("Basic {b}"),
            Authorization::Bearer { token, .. } => format!("Bearer {token}"),
        }
    }

    fn fresh(&self) -> bool {
        match self {
            Authorization::Basic(_) => true,
            Authorization::Bearer { expires, .. } => Instant::now() < *expires,
        }
    }
}

/// Tokens and basic-auth decisions, per `(host, scope)`; basic auth is per host.
#[derive(Debug, Default)]
pub(crate) struct AuthCache {
    entries: Mutex<HashMap<(String, String), Authorization>>,
}

impl AuthCache {
    pub(crate) fn get(&self, host: &str, scope: &str) -> Option<Authorization> {
        let map = self.entries.lock().expect("auth cache lock");
        let hit = map
            .get(&(host.to_owned(), scope.to_owned()))
            .or_else(|| map.get(&(host.to_owned(), String::new())))?;
        hit.fresh().then(|| hit.clone())
    }

    pub(crate) fn put(&self, host: &str, scope: &str, auth: Authorization) {
        let key = match auth {
            // Basic credentials do not depend on the scope.
            Authorization::Basic(_) => (host.to_owned(), String::new()),
            Authorization::Bearer { .. } => (host.to_owned(), scope.to_owned()),
        };
        self.entries
            .lock()
            .expect("auth cache lock")
            .insert(key, auth);
    }
}

pub(crate) fn basic_value(username: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Fetch a bearer token from the challenge's realm for `scopes` (space-separated). The
/// credential goes to the realm's origin only (redirects elsewhere go without it), and
/// never over plain http when the registry itself is reached over https.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    host: &str,
    registry: &Origin,
    challenge: &Challenge,
    scopes: &str,
    credential: Option<&Credential>,
) -> Result<Authorization> {
    let realm = challenge.params.get("realm").ok_or_else(|| {
        Error::new(
            ErrorKind::Protocol,
            format!("registry {host}: bearer challenge without a realm"),
        )
    })?;
    let realm_origin = Origin::of(realm).ok_or_else(|| {
        Error::new(
            ErrorKind::Protocol,
            format!("registry {host}: token realm {realm:?} is not an http(s) url"),
        )
    })?;
    if credential.is_some() && registry.is_https() && !realm_origin.is_https() {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "registry {host}: token realm {realm} is plain http; refusing to send credentials over it"
            ),
        ));
    }
    let service = challenge.params.get("service").cloned().unwrap_or_default();
    let scope_list: Vec<&str> = scopes.split(' ').filter(|s| !s.is_empty()).collect();
    let (req, scoped) = match credential {
        // An identity token is an OAuth2 refresh token: exchange it with a POST.
        Some(Credential::IdentityToken(refresh)) => {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh.clone()),
                ("service", service.clone()),
                ("client_id", "strata".to_owned()),
            ];
            if !scope_list.is_empty() {
                form.push(("scope", scope_list.join(" ")));
            }
            let body = form
                .iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let req = Req::new(reqwest::Method::POST, realm.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Bytes::from(body));
            (req, None)
        }
        other => {
            let mut query: Vec<String> = Vec::new();
            if !service.is_empty() {
                query.push(format!("service={}", urlencode(&service)));
            }
            for s in &scope_list {
                query.push(format!("scope={}", urlencode(s)));
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            let url = if query.is_empty() {
                realm.clone()
            } else {
                format!("{realm}{sep}{}", query.join("&"))
            };
            let scoped = match other {
                Some(Credential::Basic { username, password }) => {
                    HeaderValue::from_str(&format!("Basic {}", basic_value(username, password)))
                        .ok()
                        .map(|value| Scoped {
                            origin: realm_origin.clone(),
                            value,
                        })
                }
                _ => None,
            };
            (Req::new(reqwest::Method::GET, url), scoped)
        }
    };
    let resp = send_following(http, &req, scoped.as_ref())
        .await
        .map_err(|e| Error::new(e.kind, format!("requesting a token from {realm}: {e}")))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(Error::new(
            ErrorKind::Unauthorized,
            format!(
                "registry {host}: token server {realm} refused the credentials ({status})\nhint: run `strata login {host}`"
            ),
        ));
    }
    if !status.is_success() {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!("registry {host}: token server {realm} answered {status}"),
        ));
    }
    let what = format!("the token from {realm}");
    let body = read_capped(resp, TOKEN_LIMIT, host, &what, || {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "registry {host}: token server {realm} sent more than {} KiB",
                TOKEN_LIMIT / 1024
            ),
        )
    })
    .await?;
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            format!("registry {host}: token server {realm} sent invalid json: {e}"),
        )
    })?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Protocol,
                format!("registry {host}: token server {realm} sent no token"),
            )
        })?;
    // The spec's default lifetime is 60 s; renew 10 s early.
    let life = parsed.expires_in.unwrap_or(60).max(20);
    Ok(Authorization::Bearer {
        token,
        expires: Instant::now() + Duration::from_secs(life - 10),
    })
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge_with_commas_in_scope() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/ubuntu:pull,push");
    }

    #[test]
    fn parses_basic_and_unquoted() {
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        let c = parse_challenge("Bearer realm=http://x/t, service=svc").unwrap();
        assert_eq!(c.params["realm"], "http://x/t");
        assert_eq!(c.params["service"], "svc");
        assert!(parse_challenge("").is_none());
    }

    #[test]
    fn cache_expires_bearer_and_shares_basic() {
        let cache = AuthCache::default();
        cache.put("h", "s1", Authorization::Basic("x".into()));
        assert!(cache.get("h", "anything").is_some());
        cache.put(
            "h2",
            "s",
            Authorization::Bearer {
                token: "t".into(),
                expires: Instant::now() - Duration::from_secs(1),
            },
        );
        assert!(cache.get("h2", "s").is_none());
        assert_eq!(urlencode("a b/c"), "a%20b%2Fc");
    }
}
