//! `strata explore` driven through tmux in an 80×24 terminal: keys are sent with
//! `send-keys`, the screen is read with `capture-pane`.

mod build_common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use build_common::*;

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(cwd: &Path, command: &str) -> Tmux {
        let socket = format!("strata-explore-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .args(["-s", "t", "-c"])
            .arg(cwd)
            .arg(command)
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .status()
            .unwrap();
        assert!(status.success());
        Tmux { socket }
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait (up to 30 s) until the screen satisfies `pred`; the last screen either way.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["-L", &self.socket, "has-session", "-t", "t"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn line_with<'a>(screen: &'a str, needle: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(needle))
}

#[test]
fn explore_layers_tree_filter_view_extract_and_export_in_80x24() {
    let e = env_or_skip!();
    if strata_testkit::require_tool("tmux").unwrap().is_none() {
        return;
    }
    e.build_ok(
        &e.df("FROM busybox\n\
               RUN mkdir /data && echo hello-explore > /data/greeting.txt \
                   && head -c 300 /bin/busybox > /data/blob.bin\n\
               RUN rm /data/blob.bin && echo more >> /data/greeting.txt\n"),
        &["-t", "ex:1"],
    );
    let cwd = e.path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let cmd = format!("{BIN} --root {} explore ex:1", e.s.root().display());
    let t = Tmux::start(&cwd, &cmd);

    let s = t.wait_for("the explorer", |s| {
        s.contains("Layers") && s.contains("q:quit")
    });
    assert!(s.contains("layer 0/2"), "{s}");
    assert!(s.contains("changes in this layer"), "{s}");
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 24, "{s}");
    assert!(
        lines[23].starts_with("q:quit tab:pane a:aggr"),
        "footer on the last line:\n{s}"
    );

    // Down twice in the layers pane: the third layer, its changes marked.
    t.keys(&["Down", "Down"]);
    let s = t.wait_for("layer 2", |s| s.contains("layer 2/2"));
    let s = if s.contains("blob.bin") {
        s
    } else {
        t.wait_for("the tree", |s| s.contains("blob.bin"))
    };
    let removed = line_with(&s, "blob.bin").unwrap();
    assert!(removed.contains("│D ") || removed.contains(" D "), "{s}");
    let modified = line_with(&s, "greeting.txt").unwrap();
    assert!(modified.contains("M "), "{s}");
    assert!(s.contains("Digest: sha256:"), "the layer's details: {s}");
    assert!(
        s.contains("Size: 19 B  +0 ~1 -1"),
        "the layer's details: {s}"
    );
    assert!(s.contains("rm /data/blob.bin"), "the layer's command: {s}");

    // Aggregated: the whole filesystem up to here (busybox's bin/ too).
    t.keys(&["a"]);
    let s = t.wait_for("aggregated", |s| s.contains("aggregated up to here"));
    assert!(line_with(&s, " bin").is_some(), "{s}");

    // Filter to the greeting, view it.
    t.keys(&["Tab", "/"]);
    t.wait_for("the filter prompt", |s| s.contains("filter (regex): _"));
    t.keys(&["greet", "Enter"]);
    let s = t.wait_for("the filter", |s| s.contains("filter: greet"));
    assert!(line_with(&s, " bin").is_none(), "filtered out: {s}");
    t.keys(&["Down", "v"]);
    let s = t.wait_for("the file view", |s| s.contains("hello-explore"));
    assert!(s.contains("more"), "{s}");
    t.keys(&["Escape"]);
    t.wait_for("the popup to close", |s| !s.contains("hello-explore"));

    // Extract the file to the host, then export the layer as a tar.
    t.keys(&["x"]);
    t.wait_for("the extract prompt", |s| {
        s.contains("extract to: ./greeting.txt_")
    });
    t.keys(&["Enter"]);
    t.wait_for("extraction", |s| s.contains("extracted /data/greeting.txt"));
    assert_eq!(
        std::fs::read_to_string(cwd.join("greeting.txt")).unwrap(),
        "hello-explore\nmore\n"
    );
    t.keys(&["e"]);
    t.wait_for("the export prompt", |s| {
        s.contains("export layer to: ./layer-2.tar_")
    });
    t.keys(&["Enter"]);
    t.wait_for("the export", |s| s.contains("exported layer 2"));
    let tar = std::fs::read(cwd.join("layer-2.tar")).unwrap();
    let names: Vec<String> = tar_entries(&tar).into_iter().map(|(p, _)| p).collect();
    assert!(
        names.iter().any(|n| n.ends_with("data/.wh.blob.bin")),
        "{names:?}"
    );

    // Changes only and sort by size toggle the tree's title.
    t.keys(&["c", "s"]);
    t.wait_for("the flags", |s| s.contains("changes only, by size"));

    t.keys(&["q"]);
    let start = Instant::now();
    while t.alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.alive(), "q quits");
}
