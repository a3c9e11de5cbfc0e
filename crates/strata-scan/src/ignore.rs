//! `--ignore-file`: vulnerability ids to leave out of the report, each with a reason and an
//! optional expiry, in the plain format `.trivyignore` users know:
//!
//! ```text
//! # Not reachable: we never parse untrusted TIFF files.
//! CVE-2023-52355 exp:2026-06-30
//! GHSA-xxxx-yyyy-zzzz  # fixed upstream, waiting for the base image
//! ```
//!
//! The reason is the comment on the same line or the comment lines just above. An entry
//! past its expiry date no longer hides anything. Ids match a record's id or any alias.

use chrono::NaiveDate;

/// One ignore entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    pub id: String,
    pub reason: Option<String>,
    pub expires: Option<NaiveDate>,
    /// Line number in the file, for messages.
    pub line: usize,
}

/// A parsed ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreList {
    pub entries: Vec<IgnoreEntry>,
}

impl IgnoreList {
    /// Parse the file's text; `name` is used in error messages (`FILE:LINE: …`).
    pub fn parse(name: &str, text: &str) -> Result<IgnoreList, String> {
        let mut entries = Vec::new();
        let mut pending_reason: Vec<String> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                pending_reason.clear();
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                pending_reason.push(comment.trim().to_owned());
                continue;
            }
            let (body, inline) = match line.split_once('#') {
                Some((b, c)) => (b.trim(), Some(c.trim().to_owned())),
                None => (line, None),
            };
            let mut words = body.split_whitespace();
            let id = words.next().unwrap_or_default().to_owned();
            let mut expires = None;
            for w in words {
                match w.strip_prefix("exp:") {
                    Some(d) => {
                        expires = Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| {
                            format!("{name}:{line_no}: expiry {d:?} is not a YYYY-MM-DD date ({e})")
                        })?)
                    }
                    None => {
                        return Err(format!(
                            "{name}:{line_no}: unexpected {w:?} after {id}; expected `exp:YYYY-MM-DD` or a `# reason`"
                        ))
                    }
                }
            }
            let reason = inline
                .filter(|r| !r.is_empty())
                .or_else(|| (!pending_reason.is_empty()).then(|| pending_reason.join(" ")));
            pending_reason.clear();
            entries.push(IgnoreEntry {
                id,
                reason,
                expires,
                line: line_no,
            });
        }
        Ok(IgnoreList { entries })
    }

    /// The entry that hides a finding with `id` and `aliases` on `today`, if any.
    pub fn matching(&self, id: &str, aliases: &[String], today: NaiveDate) -> Option<&IgnoreEntry> {
        self.entries.iter().find(|e| {
            (e.id == id || aliases.contains(&e.id)) && e.expires.is_none_or(|exp| today <= exp)
        })
    }

    /// Entries whose expiry date has passed.
    pub fn expired(&self, today: NaiveDate) -> impl Iterator<Item = &IgnoreEntry> {
        self.entries
            .iter()
            .filter(move |e| e.expires.is_some_and(|exp| today > exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_expiry() {
        let list = IgnoreList::parse(
            ".strataignore",
            "# not reachable\n# from our code\nCVE-1 exp:2025-01-31\n\nCVE-2 # vendor says fine\nCVE-3\n",
        )
        .unwrap();
        assert_eq!(list.entries.len(), 3);
        assert_eq!(
            list.entries[0].reason.as_deref(),
            Some("not reachable from our code")
        );
        assert_eq!(list.entries[1].reason.as_deref(), Some("vendor says fine"));
        assert_eq!(list.entries[2].reason, None);
        let before = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap();
        let after = NaiveDate::from_ymd_opt(2025, 2, 1).unwrap();
        assert!(list.matching("X", &["CVE-1".into()], before).is_some());
        assert!(list.matching("CVE-1", &[], after).is_none());
        assert_eq!(list.expired(after).count(), 1);
        let err = IgnoreList::parse("f", "CVE-1 until:2025\n").unwrap_err();
        assert!(err.starts_with("f:1:"), "{err}");
    }
}
