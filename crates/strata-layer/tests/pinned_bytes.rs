//! The deterministic layer writer's exact output, pinned.
//!
//! Derived blobs (`strata-tar-v1`, see strata-store's `derived.rs`) are regenerated from
//! snapshots and must hash to the digest recorded when they were built, and pushed layer
//! digests and image IDs of rebuilt images depend on the same bytes. Any change to the
//! writer's output rules (header fields, PAX records, ordering, padding) changes this
//! digest: such a change needs a new format name, not a new constant.

use std::collections::BTreeMap;

use strata_layer::{write_entries, Entry, EntryKind, FileData, TarReader, WriteOptions};
use strata_oci::Digest;

/// sha256 of the tar [`entries`] produce with [`options`], as `strata-tar-v1` writes it.
const PINNED: &str = "sha256:1de41ba7f352ee3742656b088a25324396cf72a53940a2483bb79338424f7208";
const PINNED_LEN: usize = 11776;

fn entries() -> Vec<Entry> {
    let mut hello = Entry::new(
        "app/hello.txt",
        EntryKind::File(FileData::Bytes(b"hello, layer\n".to_vec())),
        0o644,
    );
    hello.uid = 1000;
    hello.gid = 1000;
    hello.mtime = 1_700_000_000;
    let mut caps = Entry::new(
        "app/bin/ping",
        EntryKind::File(FileData::Bytes(vec![0x7f, b'E', b'L', b'F'])),
        0o4755,
    );
    caps.xattrs = BTreeMap::from([(
        "security.capability".to_owned(),
        vec![
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    )]);
    let long = format!("app/{}/deep.txt", "d".repeat(120));
    vec![
        Entry::new("app", EntryKind::Dir, 0o755),
        Entry::new("app/bin", EntryKind::Dir, 0o755),
        hello,
        caps,
        Entry::new("app/link", EntryKind::Symlink(b"hello.txt".to_vec()), 0o777),
        Entry::new(
            "app/hard",
            EntryKind::HardLink(b"app/hello.txt".to_vec()),
            0o644,
        ),
        Entry::new(format!("app/{}", "d".repeat(120)), EntryKind::Dir, 0o700),
        Entry::new(long, EntryKind::File(FileData::Bytes(Vec::new())), 0o600),
        Entry::new(
            "app/.wh.gone",
            EntryKind::File(FileData::Bytes(Vec::new())),
            0o644,
        ),
        Entry::new(
            "dev/null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
        ),
        Entry::new("dev", EntryKind::Dir, 0o755),
        Entry::new("run/fifo", EntryKind::Fifo, 0o600),
        Entry::new("run", EntryKind::Dir, 0o755),
    ]
}

fn options() -> WriteOptions {
    WriteOptions {
        source_date_epoch: Some(1_710_000_000),
        mtime: None,
        owner: None,
        xattrs: true,
    }
}

#[test]
fn layer_writer_bytes_are_pinned() {
    let mut out = Vec::new();
    write_entries(entries(), &mut out, &options()).unwrap();
    let digest = Digest::sha256_of(&out);
    assert_eq!(
        (digest.to_string(), out.len()),
        (PINNED.to_owned(), PINNED_LEN),
        "the layer tar writer's output changed"
    );
    // What was pinned is a tar strata's own reader takes back, in layer order.
    let mut reader = TarReader::new(&out[..]);
    let mut paths = Vec::new();
    while let Some(h) = reader.next_header().unwrap() {
        paths.push(String::from_utf8(h.path).unwrap());
    }
    let long_dir = format!("app/{}", "d".repeat(120));
    let want = [
        "app",
        "app/.wh.gone",
        "app/bin",
        "app/bin/ping",
        long_dir.as_str(),
        &format!("{long_dir}/deep.txt"),
        "app/hard",
        "app/hello.txt",
        "app/link",
        "dev",
        "dev/null",
        "run",
        "run/fifo",
    ];
    let got: Vec<&str> = paths.iter().map(|p| p.trim_end_matches('/')).collect();
    assert_eq!(got, want);
    // Entry order in the input does not matter: the writer sorts.
    let mut reversed = entries();
    reversed.reverse();
    let mut again = Vec::new();
    write_entries(reversed, &mut again, &options()).unwrap();
    assert_eq!(again, out);
}
