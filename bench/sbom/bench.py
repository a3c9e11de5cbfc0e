#!/usr/bin/env python3
"""Driver for bench/sbom/run.sh: times strata and trivy on the same archive, compares their
dpkg package sets, and measures `strata scan` against a generated 100,000-record OSV zip."""
import argparse, json, os, random, resource, shutil, statistics, subprocess, time, zipfile

p = argparse.ArgumentParser()
for a in ("--strata", "--trivy", "--debian", "--work", "--out"):
    p.add_argument(a, required=True)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--note", default="", help="a line added under the table (e.g. the build profile)")
args = p.parse_args()
work = args.work
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
store = os.path.join(work, "store")
env = dict(os.environ, TRIVY_CACHE_DIR=os.path.join(work, "trivy-cache"))

def strata(*a, **kw):
    return subprocess.run([args.strata, "--root", store, *a], check=True, capture_output=True, env=env, **kw)

strata("import", args.debian, "debian:bookworm")
archive = os.path.join(work, "debian.tar")
strata("save", "-o", archive, "debian:bookworm")

def median_time(cmd):
    """Median wall-clock seconds and median CPU seconds (user + system) of RUNS runs: on a
    shared machine the CPU time is the steadier of the two."""
    times, cpus = [], []
    for _ in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.monotonic()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.monotonic() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpus)

def peak_rss_kib(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, capture_output=True, env=env)
    return int(out.stderr.decode().strip().splitlines()[-1])

s_cdx, t_cdx = os.path.join(work, "strata.cdx.json"), os.path.join(work, "trivy.cdx.json")
strata_cmd = [args.strata, "--root", store, "sbom", "docker-archive:" + archive, "--format", "cyclonedx-json", "-o", s_cdx]
local_cmd = [args.strata, "--root", store, "sbom", "debian:bookworm", "--format", "cyclonedx-json", "-o", s_cdx]
trivy_cmd = [args.trivy, "image", "--input", archive, "--offline-scan", "--skip-db-update", "--format", "cyclonedx", "-o", t_cdx]
subprocess.run(trivy_cmd, check=True, capture_output=True, env=env)  # warm the cache as each run does
t_trivy = median_time(trivy_cmd)
t_strata = median_time(strata_cmd)
t_local = median_time(local_cmd)
rss_sbom = peak_rss_kib(strata_cmd)

def debs(path):
    """(name, full version) of the deb components; trivy puts the epoch in the PURL's
    `epoch` qualifier instead of the version."""
    doc = json.load(open(path))
    out = set()
    for c in doc.get("components", []):
        purl = c.get("purl", "")
        if not purl.startswith("pkg:deb/"):
            continue
        version = c["version"]
        quals = dict(q.split("=", 1) for q in purl.partition("?")[2].split("&") if "=" in q)
        if "epoch" in quals and ":" not in version:
            version = f"{quals['epoch']}:{version}"
        out.add((c["name"], version))
    return out
strata_debs, trivy_debs = debs(s_cdx), debs(t_cdx)

# A 100,000-record OSV zip: Debian, PyPI, npm, Go and Maven records, some naming packages of
# the image, so the scan both matches and skips.
sbom = json.loads(strata("sbom", "debian:bookworm", "--format", "json").stdout)
sources = sorted({pk["source_name"] for pk in sbom["packages"] if pk["kind"] == "deb"})
rng = random.Random(7)
db = os.path.join(work, "osv-100k.zip")
with zipfile.ZipFile(db, "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(100_000):
        eco = rng.choice(["Debian:12", "Debian:11", "PyPI", "npm", "Go", "Maven"])
        if eco.startswith("Debian") and rng.random() < 0.3:
            name = rng.choice(sources)
        else:
            name = f"pkg{rng.randrange(50_000)}"
        rec = {"schema_version": "1.6.0", "id": f"BENCH-{i:06d}", "modified": "2025-01-01T00:00:00Z",
               "aliases": [f"CVE-2099-{i:06d}"], "summary": f"generated record {i}",
               "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N"}],
               "affected": [{"package": {"ecosystem": eco, "name": name},
                             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f"{rng.randrange(1, 300)}.{rng.randrange(10)}-1"}]}]}],
               "details": "x" * rng.randrange(200, 1500)}
        z.writestr(f"{eco.split(':')[0]}/BENCH-{i:06d}.json", json.dumps(rec))
scan_cmd = [args.strata, "--root", store, "scan", "debian:bookworm", "--db", db, "--format", "json", "-o", os.path.join(work, "scan.json")]
t_scan = median_time(scan_cmd)
rss_scan = peak_rss_kib(scan_cmd)
findings = len(json.load(open(os.path.join(work, "scan.json")))["findings"])

(t_trivy, c_trivy), (t_strata, c_strata), (t_local, c_local) = t_trivy, t_strata, t_local
t_scan, c_scan = t_scan
ratio = t_strata / t_trivy
cpu_ratio = c_strata / c_trivy
with open(args.out, "w") as f:
    f.write(f"""# SBOM and scan

`bench/sbom/run.sh {args.runs}`, median of {args.runs} runs, wall-clock seconds, on this
machine ({os.cpu_count()} cores). The image is the Debian bookworm minbase fixture saved by
`strata save` as a docker-archive; trivy reads the same file
(`trivy image --input X.tar --offline-scan --skip-db-update --format cyclonedx`).

| measure | strata | trivy | ratio (target) |
|---|---|---|---|
| SBOM of the docker-archive (CycloneDX), wall | {t_strata:.3f} s | {t_trivy:.3f} s | {ratio:.2f}× (≤ 0.25×) |
| same, CPU (user + system) | {c_strata:.3f} s | {c_trivy:.3f} s | {cpu_ratio:.2f}× |
| SBOM of the image in the local store, wall / CPU | {t_local:.3f} s / {c_local:.3f} s | – | – |
| peak RSS, strata sbom | {rss_sbom / 1024:.1f} MiB | – | – |

dpkg packages: strata {len(strata_debs)}, trivy {len(trivy_debs)}; same (name, version) set:
**{strata_debs == trivy_debs}**{"" if strata_debs == trivy_debs else f" (only strata: {sorted(strata_debs - trivy_debs)}, only trivy: {sorted(trivy_debs - strata_debs)})"}.

`strata scan` of the same image with a generated OSV zip of 100,000 records
({os.path.getsize(db) / 2**20:.1f} MiB; Debian:12/11, PyPI, npm, Go, Maven; 30% of Debian records
name a source package of the image): {t_scan:.3f} s wall, {c_scan:.3f} s CPU, peak RSS {rss_scan / 1024:.1f} MiB,
{findings} findings. The zip is read in place, one record at a time.
{args.note}
""")
print(open(args.out).read())
