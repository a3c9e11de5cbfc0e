//! htpasswd files with bcrypt hashes (`htpasswd -B`), the format Docker's registry reads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};

/// Users and their bcrypt hashes.
#[derive(Debug, Default)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// bcrypt is deliberately slow; remember sha256(user:password) of recent successes.
    verified: Mutex<HashMap<[u8; 32], ()>>,
}

impl Htpasswd {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(ErrorKind::Config, format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("{}: {}", path.display(), e.message()),
            )
        })
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line.split_once(':').ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!("line {}: expected user:hash", i + 1),
                )
            })?;
            if !(hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$")) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "line {}: user {user} does not have a bcrypt hash (use htpasswd -B)",
                        i + 1
                    ),
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::default(),
        })
    }

    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let key: [u8; 32] = Sha256::digest(format!("{user}:{password}:{hash}").as_bytes()).into();
        {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.contains_key(&key) {
                return true;
            }
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 4096 {
                cache.clear();
            }
            cache.insert(key, ());
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_bcrypt() {
        let h = bcrypt::hash("s3cret", 4).unwrap();
        let f = Htpasswd::parse(&format!("# users\nalice:{h}\n")).unwrap();
        assert!(f.verify("alice", "s3cret"));
        assert!(f.verify("alice", "s3cret"));
        assert!(!f.verify("alice", "wrong"));
        assert!(!f.verify("bob", "s3cret"));
        assert!(Htpasswd::parse("bob:{SHA}abc").is_err());
    }
}
