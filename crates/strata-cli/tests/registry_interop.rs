//! Registry interop across clients and servers.
//!
//! - strata's client against strata's own server (`strata registry serve` run as a child
//!   process): two images sharing a base layer go up and come back into an empty store with
//!   the same image IDs and manifest digests; with htpasswd auth a push needs `strata login`.
//! - Docker's client (Debian's 20.10, `/usr/bin/docker`) against both Debian's
//!   `docker-registry` and strata's server: `docker pull`/`run` of what `strata push`
//!   uploaded (also a `strata manifest push`ed list, by platform), `strata pull` of what
//!   `docker push` uploaded keeping the image ID, and `docker login` against htpasswd.
//!
//! The docker tests need a running dockerd, so they run only with `STRATA_DOCKER_TESTS=1`
//! (CI starts a private daemon and exports `DOCKER_HOST`); without it they print a note and
//! pass, with it a missing client or a silent daemon is a failure. Docker treats registries
//! on 127.0.0.0/8 as insecure, so plain HTTP on loopback needs no daemon configuration.

mod distribution_support;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use distribution_support::*;
use strata_testkit::layer_tar::write_layer_tar;
use strata_testkit::{busybox, require_tool};

/// Debian's docker client; `/usr/local/bin` may hold a different one earlier in PATH.
const DOCKER: &str = "/usr/bin/docker";

/// A `strata registry serve` child process on a free loopback port, killed on drop.
struct StrataRegistry {
    child: Child,
    host: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl StrataRegistry {
    /// Start one with filesystem storage in a temp dir, behind `htpasswd` when given. It
    /// binds port 0 and the test reads the port it got from its log, so no other process
    /// can take the port in between.
    fn start(htpasswd: Option<&Path>) -> StrataRegistry {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.args([
            "registry",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--storage-path",
        ])
        .arg(dir.path().join("data"));
        if let Some(file) = htpasswd {
            cmd.arg("--htpasswd").arg(file);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let host = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let bound = text
                .lines()
                .find(|l| l.contains("registry listening"))
                .and_then(|l| l.split("addr=").nth(1))
                .and_then(|rest| rest.split_whitespace().next());
            if let Some(addr) = bound {
                break addr.to_owned();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("strata registry serve exited with {status}:\n{text}");
            }
            assert!(Instant::now() < deadline, "strata registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(TcpStream::connect(&host).is_ok(), "{host} does not answer");
        StrataRegistry {
            child,
            host,
            log,
            _dir: dir,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for StrataRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The digest `strata push` or `docker push` printed (`TAG: digest: sha256:... size: N`).
fn pushed_digest(stdout: &str) -> String {
    stdout
        .split("digest: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no digest in push output: {stdout}"))
        .to_owned()
}

/// The image ID and manifest digest a store holds for `reference`.
fn stored(root: &Path, reference: &str) -> (String, String) {
    let store = strata_store::Store::open(root).unwrap();
    let img = store.resolve(reference).unwrap();
    (
        img.record.config_digest.to_string(),
        img.record.manifest_digest.to_string(),
    )
}

/// A second image on top of `base` in `root`: one COPYed file holding `text`, printed by
/// its CMD. Returns the image ID; the image shares `base`'s layer.
fn build_app(root: &Path, base: &str, tag: &str, text: &str) -> String {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("greeting.txt"), format!("{text}\n")).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY greeting.txt /greeting.txt\nCMD [\"cat\", \"/greeting.txt\"]\n"),
    )
    .unwrap();
    let iid = ctx.path().join("iid");
    run_ok(strata(root).command().args([
        "build",
        "--progress",
        "plain",
        "-t",
        tag,
        "--iidfile",
        iid.to_str().unwrap(),
        ctx.path().to_str().unwrap(),
    ]));
    std::fs::read_to_string(iid).unwrap().trim().to_owned()
}

/// A marker no other test run uses, so images and layers are new to a shared daemon.
fn unique(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

#[test]
fn strata_client_round_trips_through_strata_registry() {
    let reg = StrataRegistry::start(None);
    let t = tmp();
    let dc = t.path().join("docker");
    let base_id = busybox_image(&t.store(), "bb:1", None);
    let app_id = build_app(&t.store(), "bb:1", "app:1", "hello from strata");
    assert_ne!(base_id, app_id);

    let base = format!("{}/lib/bb:1", reg.host);
    let app = format!("{}/team/app:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:1", &base]));
    run_ok(strata(&t.store()).command().args(["tag", "app:1", &app]));
    let (out, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &base]));
    assert!(err.contains("Pushed"), "{err}");
    let base_digest = pushed_digest(&out);
    // The shared base layer is already in the registry, in another repository.
    let (out, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &app]));
    assert!(err.contains("Mounted from another repository"), "{err}");
    let app_digest = pushed_digest(&out);
    assert!(!reg.log_text().contains("panicked"), "{}", reg.log_text());

    // A second push finds everything in place.
    let (out, err) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &app]));
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(pushed_digest(&out), app_digest);

    // Into an empty store: the app first, then the base finds its layer already there.
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &app]));
    assert!(err.contains(&format!("Digest: {app_digest}")), "{err}");
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &base]));
    assert!(err.contains(&format!("Digest: {base_digest}")), "{err}");
    assert!(err.contains("Already exists"), "{err}");
    assert_eq!(
        stored(&t.store2(), &app),
        (app_id.clone(), app_digest.clone())
    );
    assert_eq!(stored(&t.store2(), &base), (base_id, base_digest));
    run_ok(strata(&t.store2()).command().args(["system", "check"]));

    // The pulled image pushes back under another name with the same manifest digest.
    let copy = format!("{}/copies/app:1", reg.host);
    run_ok(strata(&t.store2()).command().args(["tag", &app, &copy]));
    let (out, _) = run_ok(strata_cmd(&t.store2(), &dc).args(["push", &copy]));
    assert_eq!(pushed_digest(&out), app_digest);
    let (out, _) = run_ok(
        strata(&t.store2())
            .command()
            .args(["inspect", "--format", "{{.Id}}", &copy]),
    );
    assert_eq!(out.trim(), app_id);
}

/// An htpasswd file in `dir` (bcrypt, made by `htpasswd -Bbn`); `None` when the tool is
/// missing outside CI.
fn htpasswd_file(dir: &Path, user: &str, password: &str) -> Option<PathBuf> {
    let ht = require_tool("htpasswd").unwrap()?;
    let out = Command::new(ht)
        .args(["-Bbn", user, password])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("htpasswd");
    std::fs::write(&file, &out.stdout).unwrap();
    Some(file)
}

#[test]
fn strata_registry_with_htpasswd_needs_strata_login() {
    let t = tmp();
    let Some(file) = htpasswd_file(t.path(), "alice", "wonder land") else {
        return;
    };
    let reg = StrataRegistry::start(Some(&file));

    let dc = t.path().join("docker");
    let id = busybox_image(&t.store(), "bb:1", None);
    let name = format!("{}/private/bb:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "bb:1", &name]));

    let err = run_fail(strata_cmd(&t.store(), &dc).args(["push", &name]));
    assert!(
        err.contains(&reg.host) && err.contains("strata login"),
        "{err}"
    );

    // A wrong password is refused and stores nothing.
    let err = run_fail(
        strata_cmd(&t.store(), &dc).args(["login", "-u", "alice", "-p", "nope", &reg.host]),
    );
    assert!(err.contains(&reg.host), "{err}");
    let cfg = dc.join("config.json");
    assert!(!cfg.exists() || !std::fs::read_to_string(&cfg).unwrap().contains(&reg.host));

    let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args([
        "login",
        "-u",
        "alice",
        "-p",
        "wonder land",
        &reg.host,
    ]));
    assert!(out.contains("Login Succeeded"), "{out}");
    assert!(std::fs::read_to_string(&cfg).unwrap().contains(&reg.host));

    let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
    let digest = pushed_digest(&out);

    // Pulls need the credentials too.
    let anon = t.path().join("anon-docker");
    let err = run_fail(strata_cmd(&t.store2(), &anon).args(["pull", &name]));
    assert!(err.contains("strata login"), "{err}");
    run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &name]));
    assert_eq!(stored(&t.store2(), &name), (id, digest));
}

/// Whether the docker tests are enabled; an enabled run checks that the daemon answers.
fn docker_enabled() -> bool {
    if std::env::var("STRATA_DOCKER_TESTS").as_deref() != Ok("1") {
        eprintln!("note: STRATA_DOCKER_TESTS is not 1; skipping the docker registry interop tests");
        return false;
    }
    let info = Command::new(DOCKER)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .unwrap_or_else(|e| panic!("STRATA_DOCKER_TESTS=1 but {DOCKER} cannot be run: {e}"));
    assert!(
        info.status.success(),
        "STRATA_DOCKER_TESTS=1 but the docker daemon does not answer (DOCKER_HOST={:?}):\n{}",
        std::env::var("DOCKER_HOST").ok(),
        String::from_utf8_lossy(&info.stderr)
    );
    true
}

/// A docker client with its own config dir (no stored credentials), and a list of images
/// it removes from the daemon when dropped, also when an assertion failed.
struct Docker {
    config: tempfile::TempDir,
    images: std::cell::RefCell<Vec<String>>,
}

impl Docker {
    fn new() -> Docker {
        Docker {
            config: tempfile::tempdir().unwrap(),
            images: Default::default(),
        }
    }

    /// Run docker with `args`, panic unless it exits 0, return stdout.
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(DOCKER)
            .env("DOCKER_CONFIG", self.config.path())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running docker {}: {e}", args.join(" ")));
        assert!(
            out.status.success(),
            "docker {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Remember `name` for removal on drop.
    fn owns(&self, name: &str) {
        self.images.borrow_mut().push(name.to_owned());
    }

    fn image_id(&self, reference: &str) -> String {
        self.run(&["inspect", "-f", "{{.Id}}", reference])
            .trim()
            .to_owned()
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        for name in self.images.borrow().iter() {
            let _ = Command::new(DOCKER)
                .env("DOCKER_CONFIG", self.config.path())
                .args(["rmi", "-f", name])
                .output();
        }
    }
}

/// The registries docker talks to: Debian's docker-registry (when installed; required in
/// CI) and strata's server.
fn registries() -> Vec<(&'static str, String, Box<dyn std::any::Any>)> {
    let mut regs: Vec<(&'static str, String, Box<dyn std::any::Any>)> = Vec::new();
    if let Some(dist) = Registry::start(Mode::Plain) {
        let host = dist.host.clone();
        regs.push(("docker-registry", host, Box::new(dist)));
    } else {
        eprintln!("note: docker-registry is not installed; testing the strata registry only");
    }
    let own = StrataRegistry::start(None);
    let host = own.host.clone();
    regs.push(("strata registry", host, Box::new(own)));
    regs
}

#[test]
fn docker_pulls_and_runs_what_strata_pushed() {
    if !docker_enabled() {
        return;
    }
    let docker = Docker::new();
    let t = tmp();
    let dc = t.path().join("docker");
    let greeting = unique("greeting");
    busybox_image(&t.store(), "bb:1", None);
    let app_id = build_app(&t.store(), "bb:1", "app:1", &greeting);

    for (what, host, _guard) in registries() {
        let name = format!("{host}/x:1");
        run_ok(strata(&t.store()).command().args(["tag", "app:1", &name]));
        let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
        let digest = pushed_digest(&out);

        docker.owns(&name);
        let pulled = docker.run(&["pull", &name]);
        assert!(
            pulled.contains(&format!("Digest: {digest}")),
            "{what}: {pulled}"
        );
        assert_eq!(docker.image_id(&name), app_id, "{what}");
        let repo_digests = docker.run(&["inspect", "-f", "{{json .RepoDigests}}", &name]);
        assert!(
            repo_digests.contains(&format!("{host}/x@{digest}")),
            "{what}: {repo_digests}"
        );
        let printed = docker.run(&["run", "--rm", "--network=none", &name]);
        assert_eq!(printed.trim(), greeting, "{what}");
    }
}

#[test]
fn strata_pulls_what_docker_pushed_with_the_same_image_id() {
    if !docker_enabled() {
        return;
    }
    let docker = Docker::new();
    let t = tmp();
    let dc = t.path().join("docker");
    // A root filesystem no daemon has seen, so docker uploads the layer instead of
    // mounting a blob it remembers from an earlier pull.
    let fx = busybox().unwrap();
    let marker = unique("marker");
    std::fs::write(fx.rootfs.join("etc/strata-marker"), &marker).unwrap();
    let rootfs_tar = fx.dir().join("marked.tar");
    write_layer_tar(&fx.rootfs, &rootfs_tar).unwrap();
    let base = format!("strata-interop/{}:1", unique("docker-import"));
    docker.owns(&base);
    let base_id = docker
        .run(&[
            "import",
            "-c",
            "CMD [\"cat\", \"/etc/strata-marker\"]",
            rootfs_tar.to_str().unwrap(),
            &base,
        ])
        .trim()
        .to_owned();
    assert_eq!(docker.image_id(&base), base_id);
    // A second layer from docker's own builder: a whiteout for the marker, a new file.
    let ctx = t.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nRUN rm /etc/strata-marker && echo second > /second\n"),
    )
    .unwrap();
    let app = format!("strata-interop/{}:1", unique("docker-build"));
    docker.owns(&app);
    let out = Command::new(DOCKER)
        .env("DOCKER_CONFIG", docker.config.path())
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--network=none", "-q", "-t", &app])
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let app_id = docker.image_id(&app);
    let diff_ids = docker.run(&["inspect", "-f", "{{json .RootFS.Layers}}", &app]);
    let diff_ids: Vec<String> = serde_json::from_str(&diff_ids).unwrap();
    assert_eq!(diff_ids.len(), 2, "{diff_ids:?}");

    for (i, (what, host, _guard)) in registries().into_iter().enumerate() {
        let name = format!("{host}/from-docker/app:1");
        docker.owns(&name);
        docker.run(&["tag", &app, &name]);
        let digest = pushed_digest(&docker.run(&["push", &name]));

        let root = t.path().join(format!("store-{i}"));
        let (_, err) = run_ok(strata_cmd(&root, &dc).args(["pull", &name]));
        assert!(err.contains(&format!("Digest: {digest}")), "{what}: {err}");
        let (out, _) = run_ok(
            strata(&root)
                .command()
                .args(["inspect", "--format", "{{.Id}}", &name]),
        );
        assert_eq!(out.trim(), app_id, "{what}");
        assert_eq!(stored(&root, &name), (app_id.clone(), digest), "{what}");
        run_ok(strata(&root).command().args(["system", "check"]));

        // The layers strata stored are docker's: they unpack to docker's diff IDs, the
        // first holds the marker, the second docker's whiteout for it.
        let layers = stored_layers(&root, &name);
        let ids: Vec<&str> = layers.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(ids, diff_ids, "{what}");
        assert_eq!(
            layers[0].1.get("etc/strata-marker").map(String::as_str),
            Some(marker.as_str()),
            "{what}"
        );
        assert!(
            layers[1].1.contains_key("etc/.wh.strata-marker"),
            "{what}: {:?}",
            layers[1].1.keys()
        );
        assert_eq!(
            layers[1].1.get("second").map(String::as_str),
            Some("second\n"),
            "{what}"
        );
    }
}

/// The layers of `reference` in the store at `root`, gunzipped: each one's sha256 (its
/// diff ID) and its regular files' contents by path.
fn stored_layers(root: &Path, reference: &str) -> Vec<(String, BTreeMap<String, String>)> {
    use std::io::Read;
    let store = strata_store::Store::open(root).unwrap();
    let img = store.resolve(reference).unwrap();
    let mut out = Vec::new();
    for layer in &img.record.layers {
        let blob = store.read_blob_verified(&layer.digest).unwrap();
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut tar_bytes)
            .unwrap();
        let diff_id = strata_oci::Digest::sha256_of(&tar_bytes).to_string();
        let mut files = BTreeMap::new();
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            files.insert(
                path.trim_start_matches("./").to_owned(),
                String::from_utf8_lossy(&data).into_owned(),
            );
        }
        out.push((diff_id, files));
    }
    out
}

#[test]
fn docker_logs_in_to_strata_registry_with_htpasswd() {
    if !docker_enabled() {
        return;
    }
    let t = tmp();
    let Some(file) = htpasswd_file(t.path(), "bob", "s3cret pass") else {
        return;
    };
    let reg = StrataRegistry::start(Some(&file));
    let docker = Docker::new();
    let dc = t.path().join("docker");
    let greeting = unique("private");
    busybox_image(&t.store(), "bb:1", None);
    let app_id = build_app(&t.store(), "bb:1", "app:1", &greeting);
    let name = format!("{}/private/app:1", reg.host);
    run_ok(strata(&t.store()).command().args(["tag", "app:1", &name]));
    run_ok(strata_cmd(&t.store(), &dc).args([
        "login",
        "-u",
        "bob",
        "-p",
        "s3cret pass",
        &reg.host,
    ]));
    let digest = pushed_digest(&run_ok(strata_cmd(&t.store(), &dc).args(["push", &name])).0);

    // Without credentials docker is turned away; after `docker login` it pulls.
    docker.owns(&name);
    let out = Command::new(DOCKER)
        .env("DOCKER_CONFIG", docker.config.path())
        .args(["pull", &name])
        .output()
        .unwrap();
    assert!(!out.status.success(), "anonymous docker pull succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no basic auth credentials") || err.contains("unauthorized"),
        "{err}"
    );
    let mut login = Command::new(DOCKER)
        .env("DOCKER_CONFIG", docker.config.path())
        .args(["login", "-u", "bob", "--password-stdin", &reg.host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(b"s3cret pass\n")
            .unwrap();
    }
    let out = login.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pulled = docker.run(&["pull", &name]);
    assert!(pulled.contains(&format!("Digest: {digest}")), "{pulled}");
    assert_eq!(docker.image_id(&name), app_id);

    // docker pushes under another name with the same credentials; strata pulls it back.
    let copy = format!("{}/private/copy:1", reg.host);
    docker.owns(&copy);
    docker.run(&["tag", &name, &copy]);
    let copy_digest = pushed_digest(&docker.run(&["push", &copy]));
    let (_, err) = run_ok(strata_cmd(&t.store2(), &dc).args(["pull", &copy]));
    assert!(err.contains(&format!("Digest: {copy_digest}")), "{err}");
    assert_eq!(stored(&t.store2(), &copy).0, app_id);
}

#[test]
fn docker_pulls_a_strata_manifest_list_by_platform() {
    if !docker_enabled() {
        return;
    }
    let docker = Docker::new();
    let t = tmp();
    let dc = t.path().join("docker");
    let fx = busybox().unwrap();
    let marker = unique("list");
    for (i, (what, host, _guard)) in registries().into_iter().enumerate() {
        let repo = format!("{host}/multi/bb");
        let mut ids = Vec::new();
        for arch in ["amd64", "arm64"] {
            // Each platform's image prints its own name, so the two differ.
            let rootfs = t.path().join(format!("rootfs-{i}-{arch}"));
            run_ok(Command::new("cp").arg("-a").arg(&fx.rootfs).arg(&rootfs));
            std::fs::write(rootfs.join("arch"), format!("{arch} {marker}\n")).unwrap();
            let name = format!("{repo}:{arch}");
            let (out, _) = run_ok(strata(&t.store()).command().args([
                "import",
                "--platform",
                &format!("linux/{arch}"),
                "-c",
                "CMD [\"cat\", \"/arch\"]",
                rootfs.to_str().unwrap(),
                &name,
            ]));
            ids.push(out.trim().to_owned());
            run_ok(strata_cmd(&t.store(), &dc).args(["push", &name]));
        }
        let list = format!("{repo}:multi");
        run_ok(strata_cmd(&t.store(), &dc).args([
            "manifest",
            "create",
            &list,
            &format!("{repo}:amd64"),
            &format!("{repo}:arm64"),
        ]));
        let (out, _) = run_ok(strata_cmd(&t.store(), &dc).args(["manifest", "push", &list]));
        let list_digest = out
            .split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .unwrap_or_else(|| panic!("{what}: no digest in {out}"))
            .to_owned();

        docker.owns(&list);
        for (arch, id) in ["amd64", "arm64"].iter().zip(&ids) {
            let pulled = docker.run(&["pull", "--platform", &format!("linux/{arch}"), &list]);
            assert!(
                pulled.contains(&format!("Digest: {list_digest}")),
                "{what}: {pulled}"
            );
            assert_eq!(&docker.image_id(&list), id, "{what} {arch}");
            let got = docker.run(&["inspect", "-f", "{{.Architecture}}", &list]);
            assert_eq!(got.trim(), *arch, "{what}");
        }
        // This machine's platform runs.
        if std::env::consts::ARCH == "x86_64" {
            docker.run(&["pull", "--platform", "linux/amd64", &list]);
            let printed = docker.run(&["run", "--rm", "--network=none", &list]);
            assert_eq!(printed.trim(), format!("amd64 {marker}"), "{what}");
        }
    }
}
