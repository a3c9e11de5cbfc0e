//! Shared by the distribution tests: a Debian `docker-registry` (distribution 2.8) on a
//! free loopback port with temp storage, optionally behind htpasswd or TLS; a TCP proxy
//! that cuts, corrupts or stalls the first large response; and a busybox store.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_testkit::{busybox, require_tool, Strata, TempRoot};

pub fn strata(root: &Path) -> Strata {
    Strata::new(env!("CARGO_BIN_EXE_strata"), root)
}

/// A strata runner whose docker config dir is `docker_config`.
pub fn strata_cmd(root: &Path, docker_config: &Path) -> Command {
    let mut c = strata(root).command();
    c.env("DOCKER_CONFIG", docker_config);
    c
}

pub fn run_ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed:\nstdout: {o}\nstderr: {e}"
    );
    (o, e)
}

pub fn run_fail(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        !out.status.success(),
        "{cmd:?} unexpectedly succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the registry is protected.
pub enum Mode {
    Plain,
    Htpasswd { user: String, password: String },
    Tls { cert: PathBuf, key: PathBuf },
}

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    child: Child,
    pub host: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Start one; `None` when docker-registry is missing outside CI.
    pub fn start(mode: Mode) -> Option<Registry> {
        let bin = require_tool("docker-registry").unwrap()?;
        let dir = tempfile::tempdir().unwrap();
        // A port picked here may be taken by another process before the registry binds
        // it; the registry then exits, and a few new ports are tried.
        if matches!(mode, Mode::Htpasswd { .. }) {
            require_tool("htpasswd").unwrap()?;
        }
        for _ in 0..5 {
            let port = free_port();
            if let Some((child, log)) = Self::start_on(&bin, &mode, dir.path(), port) {
                return Some(Registry {
                    child,
                    host: format!("127.0.0.1:{port}"),
                    log,
                    _dir: dir,
                });
            }
        }
        panic!("docker-registry did not start on any of 5 ports");
    }

    /// The registry's process and log once it listens on `port`; `None` if it exited.
    fn start_on(bin: &Path, mode: &Mode, dir: &Path, port: u16) -> Option<(Child, PathBuf)> {
        let mut extra = String::new();
        let mut tls = String::new();
        match mode {
            Mode::Plain => {}
            Mode::Htpasswd { user, password } => {
                let ht = require_tool("htpasswd").unwrap().expect("checked above");
                let out = Command::new(ht)
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                let file = dir.join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                extra = format!(
                    "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                    file.display()
                );
            }
            Mode::Tls { cert, key } => {
                tls = format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                );
            }
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n{extra}http:\n  addr: 127.0.0.1:{port}\n{tls}",
            dir.join("data").display()
        );
        let cfg = dir.join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.join("registry.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(["serve", cfg.to_str().unwrap()])
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = child;
        let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
        // Ours is listening when its own log says so; a connect alone could reach another
        // process that holds the port.
        let listening = format!("listening on 127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if log_text().contains(&listening) && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((child, log));
            }
            if child.try_wait().unwrap().is_some() {
                eprintln!("docker-registry on port {port} exited:\n{}", log_text());
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start:\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store with busybox imported as `name`; returns the image ID.
pub fn busybox_image(root: &Path, name: &str, platform: Option<&str>) -> String {
    let fx = busybox().unwrap();
    let mut args = vec!["import", fx.layer_tar.to_str().unwrap(), name];
    if let Some(p) = platform {
        args.extend(["--platform", p]);
    }
    strata(root).run(&args).unwrap().trim().to_owned()
}

/// What the proxy does to the first response larger than `after` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Close both sides.
    Cut,
    /// Flip one byte of the body and go on.
    Corrupt,
    /// Stop forwarding and hold the connection open.
    Stall,
}

/// A TCP proxy to `upstream` that applies `fault` once, on the first connection whose
/// response passes `after` bytes.
pub struct FaultProxy {
    pub host: String,
    pub fired: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: &str, fault: Fault, after: usize) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let fired = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let f2 = fired.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump(c2, s2, None));
                let fired = f2.clone();
                std::thread::spawn(move || pump(server, client, Some((fault, after, fired))));
            }
        });
        FaultProxy { host, fired }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, fault: Option<(Fault, usize, Arc<AtomicBool>)>) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0usize;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &mut buf[..n];
        if let Some((f, after, fired)) = &fault {
            if total + n > *after && !fired.load(Ordering::SeqCst) {
                fired.store(true, Ordering::SeqCst);
                match f {
                    Fault::Cut => {
                        let keep = after.saturating_sub(total);
                        let _ = to.write_all(&chunk[..keep]);
                        break;
                    }
                    Fault::Corrupt => {
                        let at = after.saturating_sub(total).min(n - 1);
                        chunk[at] ^= 0xff;
                    }
                    Fault::Stall => {
                        std::thread::sleep(Duration::from_secs(600));
                        break;
                    }
                }
            }
        }
        total += n;
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

/// A one-shot HTTP server answering every request with `status`, `content_type` and
/// `body` (a hostile registry).
pub fn fake_registry(content_type: &'static str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut b = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&b[..n]),
                    }
                    // A TLS ClientHello (the client probing https): refuse it at once.
                    if req.first() == Some(&0x16) {
                        return;
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            });
        }
    });
    host
}

pub fn skopeo() -> Option<PathBuf> {
    require_tool("skopeo").unwrap()
}

pub fn tmp() -> TempRoot {
    TempRoot::new().unwrap()
}
