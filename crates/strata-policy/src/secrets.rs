//! Secrets in images: private keys, cloud credentials and tokens, found by pattern, and
//! high-entropy values assigned to secret-like names (`PASSWORD=`, `api_key:`).
//!
//! Every layer is scanned, not only the final filesystem: a file deleted by a later layer is
//! still in the image's blobs for anyone who pulls it. Findings are redacted (the first four
//! and last two characters) so a report never republishes the secret.

use std::io::Read;
use std::sync::OnceLock;

use regex::Regex;
use strata_layer::tar_read::{TarKind, TarReader};

use crate::error::{Error, Result};

/// Files larger than this are not read (secrets live in small text files; images hold large
/// binaries).
const MAX_FILE: u64 = 2 << 20;
/// A value needs this many bits of entropy per character to count as a generated secret.
const ENTROPY_THRESHOLD: f64 = 3.5;

/// One secret found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFinding {
    /// Where: `layer N /path:line`, `history[N]`, or `config Env`.
    pub location: String,
    /// What kind of secret.
    pub kind: String,
    /// The match, redacted.
    pub redacted: String,
}

struct Pattern {
    kind: &'static str,
    regex: Regex,
}

fn patterns() -> &'static [Pattern] {
    static PATTERNS: OnceLock<Vec<Pattern>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let p = |kind, re: &str| Pattern {
            kind,
            regex: Regex::new(re).expect("secret pattern compiles"),
        };
        vec![
            p("private key", r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
            p("AWS access key ID", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
            p("AWS secret access key", r"(?i)aws_secret_access_key\s*[:=]\s*['\x22]?[A-Za-z0-9/+=]{40}"),
            p("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
            p("GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{60,}"),
            p("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
            p("Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
            p("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
            p("Stripe key", r"\b[rs]k_live_[0-9a-zA-Z]{24,}\b"),
            p("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        ]
    })
}

fn assignment() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"(?i)\b[a-z0-9_.-]*(?:password|passwd|secret|token|api_?key|access_?key|private_?key)[a-z0-9_.-]*\s*[:=]\s*['"]?([A-Za-z0-9/+=_.-]{16,})"#)
            .expect("assignment pattern compiles")
    })
}

/// Shannon entropy of `s`, in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn redact(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail}")
}

/// Scan text; `location` is prefixed to each finding (`:line` is appended per line).
pub fn scan_text(text: &str, location: &str, entropy_check: bool) -> Vec<SecretFinding> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{location}:{}", i + 1);
        let mut found_on_line = false;
        for p in patterns() {
            for m in p.regex.find_iter(line) {
                found_on_line = true;
                out.push(SecretFinding {
                    location: at.clone(),
                    kind: p.kind.to_string(),
                    redacted: redact(m.as_str()),
                });
            }
        }
        if entropy_check && !found_on_line {
            for c in assignment().captures_iter(line) {
                let value = &c[1];
                if entropy(value) >= ENTROPY_THRESHOLD {
                    out.push(SecretFinding {
                        location: at.clone(),
                        kind: "high-entropy value assigned to a secret-like name".to_string(),
                        redacted: redact(value),
                    });
                }
            }
        }
    }
    out
}

/// Whether `path` (absolute, `/etc/x`) matches an ignore pattern (`*` matches any run of
/// characters, including `/`).
fn ignored(path: &str, ignore: &[Regex]) -> bool {
    ignore.iter().any(|r| r.is_match(path))
}

/// Compile `ignorePaths` patterns.
pub fn ignore_patterns(patterns: &[String]) -> Vec<Regex> {
    patterns
        .iter()
        .map(|p| {
            let re = format!("^{}$", regex::escape(p).replace(r"\*", ".*"));
            Regex::new(&re).expect("escaped pattern compiles")
        })
        .collect()
}

/// Scan one uncompressed layer tar (layer index `layer`, counted from 1 for people).
pub fn scan_layer(
    layer: usize,
    tar: impl Read,
    entropy_check: bool,
    ignore: &[Regex],
) -> Result<Vec<SecretFinding>> {
    let mut reader = TarReader::new(tar);
    let mut out = Vec::new();
    let err = |e: &dyn std::fmt::Display| Error::Layer {
        layer,
        message: e.to_string(),
    };
    while let Some(h) = reader.next_header().map_err(|e| err(&e))? {
        if h.kind != TarKind::File || h.size == 0 || h.size > MAX_FILE {
            continue;
        }
        let path = String::from_utf8_lossy(&h.path);
        let path = format!("/{}", path.trim_start_matches("./").trim_start_matches('/'));
        let name = path.rsplit('/').next().unwrap_or_default();
        if name.starts_with(".wh.") || ignored(&path, ignore) {
            continue;
        }
        let mut data = Vec::with_capacity(h.size as usize);
        reader.data().read_to_end(&mut data).map_err(|e| err(&e))?;
        if data.iter().take(8192).any(|&b| b == 0) {
            continue; // binary
        }
        let text = String::from_utf8_lossy(&data);
        out.extend(scan_text(
            &text,
            &format!("layer {layer} {path}"),
            entropy_check,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_tokens_redacted() {
        let text = "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nAWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\ntoken: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n";
        let f = scan_text(text, "layer 2 /root/.env", true);
        let kinds: Vec<&str> = f.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["private key", "AWS access key ID", "GitHub token"]);
        assert_eq!(f[1].location, "layer 2 /root/.env:3");
        assert_eq!(f[1].redacted, "AKIA…LE");
        assert!(!f.iter().any(|x| x.redacted.contains("IOSFODNN7")));
    }

    #[test]
    fn entropy_separates_generated_values_from_words() {
        let f = scan_text(
            "DB_PASSWORD=q8Zr2LxP0vTn4WcY7sKd\nPASSWORD=passwordpassword\n",
            "f",
            true,
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].location, "f:1");
        assert!(scan_text("DB_PASSWORD=q8Zr2LxP0vTn4WcY7sKd", "f", false).is_empty());
    }

    #[test]
    fn ignore_patterns_match_whole_paths() {
        let ig = ignore_patterns(&["/usr/share/doc/*".to_string()]);
        assert!(ignored("/usr/share/doc/a/b", &ig));
        assert!(!ignored("/usr/share/docs", &ig));
    }
}
