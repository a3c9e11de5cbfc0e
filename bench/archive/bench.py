#!/usr/bin/env python3
"""save/load benchmark: `strata save`/`load` side by side with `docker save`/`load`.

The image (built identically in both tools): two layers, the Debian minbase root
filesystem and the W1 build context (20,000 files of 500 B-8 KB plus 8 x 32 MiB random
files) under /app. Both layers are uncompressed tars put into a classic docker-archive
written here, and that archive is loaded into strata and into dockerd, so both hold the
same image with the same ID before anything is timed.

Timed (median of RUNS): `save -o FILE` of that image, and `load -i FILE` of the tool's
own saved archive into an empty store (strata: a fresh --root; docker: after `docker rmi`,
in a private dockerd that holds nothing else, so no layer is shared).
Peak RSS of strata (GNU time %M) is taken at this size and with a ~4x larger image.
"""
import argparse, hashlib, importlib.util, json, os, shutil, statistics, subprocess, sys, time
from pathlib import Path

TAG = "bench-archive:latest"


def load_gen_w1():
    """The build benchmark's W1 generator, so both benchmarks use the same context."""
    path = Path(__file__).resolve().parent.parent / "build" / "bench.py"
    spec = importlib.util.spec_from_file_location("build_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.gen_w1


def run(cmd, env=None, capture=False):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-4000:]}")
    return r.stdout if capture else None


def timed(cmd, env=None):
    """Wall seconds and peak RSS (KiB) of one command, via GNU time. Dirty pages of the
    previous step are flushed first so that one run does not pay for another's writes."""
    os.sync()
    stats = Path("/tmp/strata-bench-archive-time")
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats)] + [str(c) for c in cmd],
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-4000:]}")
    rss = int(stats.read_text().strip().splitlines()[-1])
    return dt, rss


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def make_input_archive(work: Path, debian: Path, contexts, name: str) -> tuple[Path, str]:
    """A classic docker-archive: the Debian layer, then one layer per (context directory,
    path in the image) of `contexts`. Returns the archive and the image ID."""
    out = work / f"{name}-input.tar"
    meta = work / f"{name}-input.id"
    if out.exists() and meta.exists():
        return out, meta.read_text().strip()
    d = work / f"{name}-input"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    os.symlink(debian, d / "base.tar")
    layers = ["base.tar"]
    for i, (ctx, dest) in enumerate(contexts):
        # The context under /dest: "." becomes "dest", "./src/x" becomes "dest/src/x".
        layers.append(f"ctx{i}.tar")
        run(["tar", "--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0",
             "--transform", f"s,^\\.,{dest},", "--exclude=./.done", "-C", ctx,
             "-cf", d / layers[-1], "."])
    diff_ids = [sha256_file(d / layer) for layer in layers]
    config = {
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["bash"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "debootstrap minbase"}]
        + [{"created": "2024-01-01T00:00:00Z", "created_by": f"COPY . /{dest}"}
           for _, dest in contexts],
    }
    cfg = json.dumps(config, separators=(",", ":")).encode()
    image_id = "sha256:" + hashlib.sha256(cfg).hexdigest()
    cfg_name = image_id[7:] + ".json"
    (d / cfg_name).write_bytes(cfg)
    (d / "manifest.json").write_text(json.dumps(
        [{"Config": cfg_name, "RepoTags": [TAG], "Layers": layers}]))
    tmp = out.with_suffix(".tmp")
    run(["tar", "-h", "-C", d, "-cf", tmp, "manifest.json", cfg_name] + layers)
    tmp.rename(out)
    meta.write_text(image_id + "\n")
    shutil.rmtree(d)
    return out, image_id


class StrataTool:
    name = "strata"

    def __init__(self, bin_, work: Path):
        self.bin, self.work = bin_, work

    def env(self, root):
        return dict(os.environ, STRATA_ROOT=str(root))

    def fresh_root(self, tag):
        root = self.work / f"strata-{tag}"
        shutil.rmtree(root, ignore_errors=True)
        return root

    def image_id(self, root):
        return run([self.bin, "inspect", "--format", "{{.Id}}", TAG], self.env(root), True).strip()

    def setup(self, archive):
        self.src = self.fresh_root("src")
        run([self.bin, "load", "-q", "-i", archive], self.env(self.src))
        return self.image_id(self.src)

    def save(self, out):
        out.unlink(missing_ok=True)
        return timed([self.bin, "save", "-o", out, TAG], self.env(self.src))

    def load(self, archive):
        root = self.fresh_root("dst")
        r = timed([self.bin, "load", "-q", "-i", archive], self.env(root))
        self.loaded_id = self.image_id(root)
        return r

    def cleanup(self):
        for tag in ("src", "dst"):
            shutil.rmtree(self.work / f"strata-{tag}", ignore_errors=True)


class DockerTool:
    name = "docker"

    def image_id(self):
        return run(["docker", "image", "inspect", "--format", "{{.Id}}", TAG], capture=True).strip()

    def rmi(self):
        subprocess.run(["docker", "rmi", "-f", TAG], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        left = run(["docker", "images", "-aq"], capture=True).split()
        if left:
            sys.exit(f"the private dockerd holds other images ({left}); layers would be shared")

    def setup(self, archive):
        self.rmi()
        run(["docker", "load", "-q", "-i", archive])
        return self.image_id()

    def save(self, out):
        out.unlink(missing_ok=True)
        return timed(["docker", "save", "-o", out, TAG])

    def load(self, archive):
        self.rmi()
        r = timed(["docker", "load", "-q", "-i", archive])
        self.loaded_id = self.image_id()
        return r

    def cleanup(self):
        self.rmi()


def measure(tools, archive, expected_id, work, runs):
    """Save and load with every tool, interleaving the tools run by run so that load from
    other processes on a shared machine falls on all of them alike."""
    for tool in tools:
        got = tool.setup(archive)
        if got != expected_id:
            sys.exit(f"{tool.name}: image ID after setup is {got}, expected {expected_id}")
    saved = {t.name: work / f"{t.name}-saved.tar" for t in tools}
    saves = {t.name: [] for t in tools}
    loads = {t.name: [] for t in tools}
    for _ in range(runs):
        for tool in tools:
            saves[tool.name].append(tool.save(saved[tool.name]))
    for _ in range(runs):
        for tool in tools:
            loads[tool.name].append(tool.load(saved[tool.name]))
            if tool.loaded_id != expected_id:
                sys.exit(f"{tool.name}: image ID after load is {tool.loaded_id}, expected {expected_id}")
    out = {}
    for tool in tools:
        n = tool.name
        size = saved[n].stat().st_size
        saved[n].unlink()
        tool.cleanup()
        med = lambda xs: statistics.median(x[0] for x in xs)
        out[n] = {"save": med(saves[n]), "load": med(loads[n]), "size": size,
                  "save_rss": max(x[1] for x in saves[n]), "load_rss": max(x[1] for x in loads[n]),
                  "saves": [x[0] for x in saves[n]], "loads": [x[0] for x in loads[n]]}
    return out


def context(build_work: Path, work: Path, scale: int) -> Path:
    """Reuse the build benchmark's W1 context when it is complete, else generate it."""
    shared = build_work / f"w1-x{scale}"
    if (shared / ".done").exists():
        return shared
    ctx = work / f"w1-x{scale}"
    load_gen_w1()(ctx, scale)
    return ctx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--debian", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--build-work", required=True, type=Path,
                    help="the build benchmark's work dir, to reuse its W1 contexts")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default="strata,docker")
    ap.add_argument("--no-x4", action="store_true", help="skip the 4x memory measurement")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    tools = a.tools.split(",")

    w1 = context(a.build_work, a.work, 1)
    archive, image_id = make_input_archive(a.work, a.debian, [(w1, "app")], "x1")
    mib = archive.stat().st_size / (1 << 20)
    load_before = os.getloadavg()[0]
    chosen = [t for t in (StrataTool(a.strata, a.work), DockerTool()) if t.name in tools]
    results = measure(chosen, archive, image_id, a.work, a.runs)
    x4 = None
    if "strata" in tools and not a.no_x4:
        # W1 x4 under /app plus W1 under /opt/w1: about 4x the image above.
        big_ctx = [(context(a.build_work, a.work, 4), "app"), (w1, "opt/w1")]
        big, big_id = make_input_archive(a.work, a.debian, big_ctx, "big")
        x4 = measure([StrataTool(a.strata, a.work)], big, big_id, a.work, 1)["strata"]
        x4["mib"] = big.stat().st_size / (1 << 20)
        big.unlink()

    lines = [f"# save / load benchmark (median of {a.runs} runs, seconds)", "",
             f"Image: 2 uncompressed layers, Debian bookworm minbase + the W1 context under /app, "
             f"{mib:.0f} MiB as an archive; the same image (same ID) in both tools.", "",
             f"Machine: {os.cpu_count()} cores, 1-minute load average {load_before:.1f} at the "
             f"start (a shared machine inflates both tools' times; runs are interleaved).", "",
             "| tool | save -o | load -i (empty store) | archive size | peak RSS save / load |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        rss = (f"{r['save_rss'] // 1024} / {r['load_rss'] // 1024} MiB" if name == "strata"
               else "(in dockerd)")
        lines.append(f"| {name} | {r['save']:.2f} | {r['load']:.2f} | "
                     f"{r['size'] / (1 << 20):.0f} MiB | {rss} |")
    if "strata" in results and "docker" in results:
        s, d = results["strata"], results["docker"]
        lines += ["", "Ratios strata / docker (targets: save <= 0.5, load <= 0.3):", "",
                  f"- save {s['save'] / d['save']:.2f}, load {s['load'] / d['load']:.2f}"]
    if x4:
        s = results.get("strata")
        lines += ["", f"strata with a {x4['mib'] / mib:.1f}x larger image (3 layers, {x4['mib']:.0f} MiB): save {x4['save']:.2f} s, "
                      f"load {x4['load']:.2f} s, peak RSS save {x4['save_rss'] // 1024} MiB, "
                      f"load {x4['load_rss'] // 1024} MiB"
                      + (f" (x1: {s['save_rss'] // 1024} / {s['load_rss'] // 1024} MiB)" if s else "")]
    lines += ["", "All runs: " + "; ".join(
        f"{n} save {', '.join(f'{x:.2f}' for x in r['saves'])}, load {', '.join(f'{x:.2f}' for x in r['loads'])}"
        for n, r in results.items())]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
