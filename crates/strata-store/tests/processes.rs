//! Several processes write to one store's metadata at once (redb multi-writer mode), and a
//! process killed in the middle of its writes leaves a database the others can keep using.

mod common;

use std::process::{Command, Stdio};

use strata_store::Store;

/// Child half: tag the image given in the environment many times.
#[test]
#[ignore = "run as a child process by the tests below"]
fn tagging_child() {
    let (Some(root), Some(worker)) = (
        std::env::var_os("STRATA_P_ROOT"),
        std::env::var_os("STRATA_P_WORKER"),
    ) else {
        return;
    };
    let s = Store::open(std::path::Path::new(&root)).unwrap();
    let img = s.resolve("base").unwrap();
    let w = worker.to_string_lossy().into_owned();
    let n: usize = std::env::var("STRATA_P_COUNT").unwrap().parse().unwrap();
    for i in 0..n {
        s.tag(&format!("w{w}:{i}"), &img.record.manifest_digest)
            .unwrap();
        s.put_record("progress", &format!("{w}-{i}"), b"").unwrap();
    }
}

fn spawn(root: &std::path::Path, worker: usize, count: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "tagging_child", "--test-threads=1"])
        .env("STRATA_P_ROOT", root)
        .env("STRATA_P_WORKER", worker.to_string())
        .env("STRATA_P_COUNT", count.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn processes_write_concurrently_without_losing_updates() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let r = common::add_image(&s, "base", &[b"x"]);
    s.tag("base", &r.manifest_digest).unwrap();
    let children: Vec<_> = (0..4).map(|w| spawn(dir.path(), w, 15)).collect();
    // This process writes at the same time.
    for i in 0..15 {
        s.tag(&format!("parent:{i}"), &r.manifest_digest).unwrap();
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(s.resolve("base").unwrap().tags.len(), 1 + 15 + 4 * 15);
    assert_eq!(s.list_records("progress").unwrap().len(), 60);
    assert!(s.check().unwrap().is_empty());
}

#[test]
fn killed_writer_process_leaves_a_usable_database() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let r = common::add_image(&s, "base", &[b"x"]);
    s.tag("base", &r.manifest_digest).unwrap();
    let mut child = spawn(dir.path(), 9, 100_000);
    // Let it get going, then kill it mid-stream.
    while s.list_records("progress").unwrap().len() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = s.list_records("progress").unwrap().len();
    let tags = s.resolve("base").unwrap().tags.len();
    // Every completed record write had its tag written first, in an earlier transaction.
    assert!(tags > done, "tags {tags} records {done}");
    s.tag("after:kill", &r.manifest_digest).unwrap();
    assert!(s.check().unwrap().is_empty());
    // A fresh process (child with zero work) can open it too.
    let mut c = spawn(dir.path(), 8, 1);
    assert!(c.wait().unwrap().success());
}
