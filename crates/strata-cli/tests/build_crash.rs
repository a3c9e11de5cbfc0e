//! A `strata build` killed in the middle of a RUN step leaves a consistent store, and the
//! next build succeeds.

mod build_common;

use std::time::Duration;

#[test]
fn sigkill_during_run_leaves_a_clean_store() {
    let e = env_or_skip!();
    let ctx = e.df("FROM busybox\nRUN echo started && sleep 5 && echo finished > /f\n");
    let mut child =
        e.s.command()
            .args(["build", "--progress", "plain", "-t", "crash:1"])
            .arg(&ctx)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    // Wait until the step's output shows it is running, then kill the whole build.
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut seen = String::new();
        while let Ok(n) = std::io::Read::read(&mut stderr, &mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            if seen.contains(" started") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the RUN step did not start");
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());

    let check = e.strata(&["system", "check"]);
    assert!(
        check.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!e.strata(&["inspect", "crash:1"]).status.success());

    // The next build (a shorter step) works and the store stays consistent.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo again > /f\n",
    )
    .unwrap();
    let b = e.build_ok(&ctx, &["-t", "crash:1"]);
    assert_eq!(e.inspect("crash:1")["Id"], b.id.as_str());
    let gc = e.strata(&["image", "prune", "-f"]);
    assert!(gc.status.success());
    let check = e.strata(&["system", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}
