//! Content-addressed step cache keys, and explanations of misses.
//!
//! A step's key is the digest of its [`KeyInputs`]: the parent step's key, the operation as
//! written after expansion, the build args it used, and the content digests of its inputs.
//! Keys never contain mtimes or absolute paths. Alongside each key the builder remembers the
//! inputs of the last build at the same Dockerfile position, so a miss can say what changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_oci::Digest;

/// Everything a step's result depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInputs {
    /// Key of the previous step, or the base image's manifest digest for the first.
    pub parent: Option<String>,
    /// The operation after word expansion, e.g. `RUN /bin/sh -c make`.
    pub op: String,
    /// Build args the step read, with their values.
    pub args: BTreeMap<String, String>,
    /// Named content inputs: `context:<path>`, `stage:<name>`, `mount:<target>` → digest.
    pub inputs: BTreeMap<String, String>,
    /// Per-file digests of context inputs, only for explaining misses (not part of the key).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

impl KeyInputs {
    /// The cache key: sha256 over the canonical JSON of everything but `files`.
    pub fn key(&self) -> Digest {
        let canonical = serde_json::json!({
            "v": 1,
            "parent": self.parent,
            "op": self.op,
            "args": self.args,
            "inputs": self.inputs,
        });
        Digest::sha256_of(canonical.to_string().as_bytes())
    }

    /// Why this step's key differs from `previous` (the last build at the same position).
    pub fn explain_against(&self, previous: &KeyInputs) -> Vec<String> {
        let mut why = Vec::new();
        if self.op != previous.op {
            why.push(format!("instruction changed (was: {})", previous.op));
        }
        if self.parent != previous.parent {
            why.push("previous step changed".to_string());
        }
        diff_maps("build arg", &previous.args, &self.args, &mut why);
        let input_changed = self.inputs != previous.inputs;
        if input_changed && !self.files.is_empty() {
            let before = why.len();
            diff_maps("file", &previous.files, &self.files, &mut why);
            if why.len() - before > 10 {
                let extra = why.len() - before - 10;
                why.truncate(before + 10);
                why.push(format!("… and {extra} more files"));
            }
        }
        if input_changed && why.is_empty() {
            diff_maps("input", &previous.inputs, &self.inputs, &mut why);
        }
        why
    }
}

fn diff_maps(
    what: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    out: &mut Vec<String>,
) {
    for (k, v) in new {
        match old.get(k) {
            None => out.push(format!("{what} {k} added")),
            Some(o) if o != v => out.push(format!("{what} {k} changed")),
            _ => {}
        }
    }
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        out.push(format!("{what} {k} removed"));
    }
}

/// What a cached step produced: a layer, or nothing (metadata-only steps are not cached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedLayer {
    /// Digest of the layer blob in the store.
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: String,
    /// True when the step changed nothing; docker still records the history entry.
    pub empty: bool,
    /// When the step first ran (RFC 3339): cached steps keep their time, so a no-op
    /// rebuild produces the same image ID.
    #[serde(default)]
    pub created: String,
}

/// Records table of step results, keyed by cache key.
pub const CACHE_TABLE: &str = "build-cache";
/// Records table of the last key inputs per Dockerfile position, for explanations.
pub const EXPLAIN_TABLE: &str = "build-explain";
/// Records table of the last cache key per Dockerfile position.
pub const EXPLAIN_KEY_TABLE: &str = "build-explain-key";

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(op: &str, file_digest: &str) -> KeyInputs {
        let mut k = KeyInputs {
            op: op.into(),
            ..Default::default()
        };
        k.inputs
            .insert("context:.".into(), format!("tree-{file_digest}"));
        k.files.insert("a.txt".into(), file_digest.into());
        k
    }

    #[test]
    fn key_ignores_file_list_but_not_inputs() {
        let a = inputs("COPY . .", "1");
        let mut b = a.clone();
        b.files.insert("extra".into(), "x".into());
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), inputs("COPY . .", "2").key());
        assert_ne!(a.key(), inputs("COPY . /x", "1").key());
    }

    #[test]
    fn explains_changed_file_and_arg() {
        let old = inputs("COPY . .", "1");
        let mut new = inputs("COPY . .", "2");
        new.args.insert("V".into(), "2".into());
        let why = new.explain_against(&old);
        assert_eq!(why, ["build arg V added", "file a.txt changed"]);
    }
}
