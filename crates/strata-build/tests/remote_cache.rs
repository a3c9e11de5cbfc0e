//! Cache export and import through an OCI layout directory: build on one store with the
//! export, build the same Dockerfile on a fresh store with the import, and check which
//! steps were answered from the imported cache.

use std::fs;
use std::path::{Path, PathBuf};

use strata_build::progress::Silent;
use strata_build::remote_cache::{
    CacheFrom, CacheMode, CacheTo, ImportedCache, RemoteCache, ARTIFACT_TYPE,
};
use strata_build::{build, build_with_cache, BuildOptions, BuildOutcome};
use strata_store::Store;

const DF: &str = "FROM scratch AS deps\nCOPY a.txt /a\nCOPY empty/ /\n\
FROM scratch\nCOPY b.txt /b\nCOPY --from=deps /a /a2\nWORKDIR /w\nENV X=1\n";

struct Env {
    tmp: tempfile::TempDir,
    ctx: PathBuf,
}

impl Env {
    fn new() -> Option<Env> {
        // Builds write layers owned by root.
        if !strata_testkit::require_root().unwrap() {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        fs::create_dir_all(ctx.join("empty")).unwrap();
        fs::write(ctx.join("a.txt"), "alpha").unwrap();
        fs::write(ctx.join("b.txt"), "beta").unwrap();
        Some(Env { tmp, ctx })
    }

    fn store(&self, name: &str) -> Store {
        Store::open(&self.tmp.path().join(name)).unwrap()
    }

    fn opts(&self) -> BuildOptions {
        BuildOptions {
            dockerfile: DF.into(),
            dockerfile_name: "Dockerfile".into(),
            dockerfile_id: self.ctx.display().to_string(),
            context_dir: Some(self.ctx.clone()),
            ..Default::default()
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.tmp.path().join("cache")
    }

    fn cache_to(&self, mode: &str) -> RemoteCache {
        let spec = format!("type=local,dest={},mode={mode}", self.cache_dir().display());
        RemoteCache::open(&CacheTo::parse(&spec).unwrap().location, None).unwrap()
    }

    fn cache_from(&self) -> ImportedCache {
        let spec = format!("type=local,src={}", self.cache_dir().display());
        let cache = RemoteCache::open(&CacheFrom::parse(&spec).unwrap().location, None).unwrap();
        ImportedCache::load(cache)
    }

    /// Build on store A and export with `mode`.
    fn build_and_export(&self, mode: CacheMode, name: &str) -> BuildOutcome {
        let a = self.store(name);
        let out = build(&a, &self.opts(), &Silent).unwrap();
        let label = if mode == CacheMode::Max { "max" } else { "min" };
        let report = self.cache_to(label).export(&a, &out.steps, mode).unwrap();
        assert!(report.records > 0);
        out
    }
}

fn blob_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// The layer blobs the cache manifest lists.
fn layer_blobs(dir: &Path) -> Vec<PathBuf> {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("blobs/sha256").join(&digest[7..])).unwrap())
            .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            dir.join("blobs/sha256")
                .join(&l["digest"].as_str().unwrap()[7..])
        })
        .collect()
}

#[test]
fn max_export_makes_every_step_a_hit_on_a_fresh_store() {
    let Some(e) = Env::new() else { return };
    let first = e.build_and_export(CacheMode::Max, "a");
    assert_eq!(first.cached_steps, 0);
    assert_eq!(first.executed_steps, 5);

    // The layout is a valid OCI layout naming a strata cache manifest.
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(e.cache_dir().join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert!(e.cache_dir().join("oci-layout").is_file());
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(e.cache_dir().join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["artifactType"], ARTIFACT_TYPE);
    for l in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
    }

    let b = e.store("b");
    let imported = e.cache_from();
    assert_eq!(imported.len(), 5, "{:?}", imported.warnings());
    let second = build_with_cache(&b, &e.opts(), &Silent, Some(&imported)).unwrap();
    assert_eq!(second.executed_steps, 0, "{:?}", imported.warnings());
    assert_eq!(second.cached_steps, 5);
    assert_eq!(second.image.id, first.image.id);
    assert_eq!(second.image.manifest_digest, first.image.manifest_digest);
    // Only layers (COPY a, COPY b, COPY --from, WORKDIR); `COPY empty/ /` made none.
    assert!(imported.fetched() >= 3, "{}", imported.fetched());
    assert!(imported.warnings().is_empty(), "{:?}", imported.warnings());

    // The imported results are now local: a third build needs no cache source.
    let third = build(&b, &e.opts(), &Silent).unwrap();
    assert_eq!(third.cached_steps, 5);
    assert_eq!(third.image.id, first.image.id);
}

#[test]
fn min_export_holds_only_the_final_image_stages() {
    let Some(e) = Env::new() else { return };
    let first = e.build_and_export(CacheMode::Min, "a");
    let b = e.store("b");
    let imported = e.cache_from();
    // The final stage's COPY b, COPY --from and WORKDIR; not the deps stage's two steps.
    assert_eq!(imported.len(), 3, "{:?}", imported.warnings());
    let second = build_with_cache(&b, &e.opts(), &Silent, Some(&imported)).unwrap();
    assert_eq!(second.executed_steps, 2);
    assert_eq!(second.cached_steps, 3);
    assert_eq!(second.image.id, first.image.id);
}

#[test]
fn a_missing_cache_is_a_warning_and_the_build_runs() {
    let Some(e) = Env::new() else { return };
    let b = e.store("b");
    let imported = e.cache_from();
    assert!(imported.is_empty());
    let w = imported.warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("not found"), "{w:?}");
    let out = build_with_cache(&b, &e.opts(), &Silent, Some(&imported)).unwrap();
    assert_eq!(out.executed_steps, 5);
}

#[test]
fn a_corrupted_layer_is_a_miss_never_a_bad_layer() {
    let Some(e) = Env::new() else { return };
    let first = e.build_and_export(CacheMode::Max, "a");
    // Flip a byte inside every layer blob: each fetch must fail its digest check.
    let mut corrupted = 0;
    for p in layer_blobs(&e.cache_dir()) {
        let mut data = fs::read(&p).unwrap();
        let n = data.len();
        data[n / 2] ^= 0xff;
        fs::write(&p, data).unwrap();
        corrupted += 1;
    }
    assert!(corrupted >= 3);
    let b = e.store("b");
    let imported = e.cache_from();
    let out = build_with_cache(&b, &e.opts(), &Silent, Some(&imported)).unwrap();
    assert!(out.executed_steps >= 3, "{out:?}");
    // Rebuilt (so with new step times, another image ID): the COPY layers keep their
    // context files' times and come out the same; WORKDIR's new directory has this
    // build's time.
    let (new, old) = (
        &out.state.config.rootfs.diff_ids,
        &first.state.config.rootfs.diff_ids,
    );
    assert_eq!(new.len(), old.len());
    assert_eq!(new[..2], old[..2]);
    assert!(!imported.warnings().is_empty());
    for s in &out.steps {
        if !s.result.empty {
            b.read_blob_verified(&s.result.digest).unwrap();
        }
    }
}

#[test]
fn a_second_export_sends_nothing_new() {
    let Some(e) = Env::new() else { return };
    let first = e.build_and_export(CacheMode::Max, "a");
    let a = e.store("a");
    let before = blob_files(&e.cache_dir()).len();
    let report = e
        .cache_to("max")
        .export(&a, &first.steps, CacheMode::Max)
        .unwrap();
    assert_eq!(report.uploaded, 0);
    assert_eq!(report.existed, report.layers);
    assert_eq!(blob_files(&e.cache_dir()).len(), before);
}
