#!/usr/bin/env python3
"""W1/W2 build benchmarks, strata side by side with BuildKit (docker) and buildah.

W1 (BRIEF.md): 20,000 source files of 500 B-8 KB plus 8 random 32 MiB files on a Debian
minbase base: cold build, no-op rebuild, one-file-changed rebuild.
W2: three independent stages each burning 2 s of CPU, and a final stage copying from all
three: shows whether stages run in parallel.
Peak RSS of strata is measured at 1x and 4x W1's size (it must stay flat).
"""
import argparse, os, random, shutil, statistics, subprocess, sys, time
from pathlib import Path

W1 = """ARG BASE=base:latest
FROM ${BASE}
WORKDIR /app
COPY requirements.txt ./
RUN mkdir -p /opt/deps && cp requirements.txt /opt/deps/ && sha256sum requirements.txt > /opt/deps/lock
COPY . .
RUN find /app -type f | wc -l
"""

W2 = """ARG BASE=base:latest
FROM ${BASE} AS a
RUN timeout 2 sh -c 'while :; do :; done'; echo a > /a
FROM ${BASE} AS b
RUN timeout 2 sh -c 'while :; do :; done'; echo b > /b
FROM ${BASE} AS c
RUN timeout 2 sh -c 'while :; do :; done'; echo c > /c
FROM ${BASE}
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=c /c /c
"""


# Debian's docker 20.10 client has BuildKit built in; newer clients need the buildx plugin.
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def run(cmd, env=None, check=True, quiet=True):
    out = subprocess.DEVNULL if quiet else None
    r = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.PIPE if quiet else None, text=True)
    if check and r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr}")
    return r


def timed(cmd, env=None):
    """Wall seconds and peak RSS (KiB) of one command, via GNU time."""
    stats = Path("/tmp/strata-bench-time")
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats)] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-4000:]}")
    rss = int(stats.read_text().strip().splitlines()[-1])
    return dt, rss


def gen_w1(ctx: Path, scale: int):
    if (ctx / ".done").exists():
        return
    shutil.rmtree(ctx, ignore_errors=True)
    rnd = random.Random(1)
    for i in range(20000 * scale):
        d = ctx / "src" / f"pkg{i // 100:04d}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod{i % 100:03d}.py").write_bytes(rnd.randbytes(rnd.randint(500, 8192)))
    big = ctx / "data"
    big.mkdir(parents=True, exist_ok=True)
    for i in range(8 * scale):
        with open(big / f"blob{i}.bin", "wb") as f:
            for _ in range(32):
                f.write(os.urandom(1 << 20))
    (ctx / "requirements.txt").write_text("flask==3.0.0\nrequests==2.31.0\n")
    (ctx / "Dockerfile").write_text(W1)
    (ctx / ".done").write_text("")


def gen_w2(ctx: Path):
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(W2)


class Tool:
    def __init__(self, name, build_cmd, env):
        self.name, self.build_cmd, self.env = name, build_cmd, env

    def build(self, ctx, tag, no_cache=False):
        return timed(self.build_cmd(ctx, tag, no_cache), self.env)


def strata_tool(strata, root):
    env = dict(os.environ, STRATA_ROOT=str(root))
    def cmd(ctx, tag, no_cache):
        c = [strata, "build", "--progress", "quiet", "--network", "none", "-t", tag]
        return c + (["--no-cache"] if no_cache else []) + [str(ctx)]
    return Tool("strata", cmd, env)


def docker_tool():
    env = dict(os.environ, DOCKER_BUILDKIT="1")
    def cmd(ctx, tag, no_cache):
        c = [DOCKER, "build", "-q", "--network=none", "-t", tag]
        return c + (["--no-cache"] if no_cache else []) + [str(ctx)]
    return Tool("buildkit", cmd, env)


def buildah_tool():
    env = dict(os.environ)
    def cmd(ctx, tag, no_cache):
        c = ["buildah", "bud", "-q", "--layers", "--runtime", "runc", "--network", "none",
             "--build-arg", "BASE=localhost/base:latest", "-t", tag]
        return c + (["--no-cache"] if no_cache else []) + [str(ctx)]
    return Tool("buildah", cmd, env)


def measure(tool, ctx, runs, touch):
    cold = [tool.build(ctx, "bench:w", no_cache=True) for _ in range(runs)]
    noop = [tool.build(ctx, "bench:w") for _ in range(runs)]
    one = []
    for i in range(runs):
        touch(i)
        one.append(tool.build(ctx, "bench:w"))
    med = lambda xs: statistics.median(x[0] for x in xs)
    rss = max(x[1] for x in cold + noop + one)
    return {"cold": med(cold), "noop": med(noop), "one": med(one), "rss": rss}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strata", required=True)
    ap.add_argument("--debian", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--tools", default="strata,buildkit,buildah")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    tools = a.tools.split(",")

    w1 = work / f"w1-x{a.scale}"
    gen_w1(w1, a.scale)
    w2 = work / "w2"
    gen_w2(w2)
    small = w1 / "src" / "pkg0000" / "mod000.py"
    def touch(i):
        with open(small, "ab") as f:
            f.write(f"# change {time.time()} {i}\n".encode())

    results = {}
    if "strata" in tools:
        root = work / "strata-root"
        shutil.rmtree(root, ignore_errors=True)
        env = dict(os.environ, STRATA_ROOT=str(root))
        run([a.strata, "import", a.debian, "base:latest"], env)
        t = strata_tool(a.strata, root)
        # First build into a store holding only the base: no build cache, no stat cache,
        # no earlier snapshot to link from; the context is hashed and copied in full.
        first = t.build(w1, "bench:w")
        results["strata"] = {"w1": measure(t, w1, a.runs, touch),
                             "w2": t.build(w2, "bench:w2", no_cache=True)}
        results["strata"]["w1"]["first"] = first[0]
        # Memory at 4x the context: the builder streams, so peak RSS should not grow.
        if a.scale == 1:
            w1x4 = work / "w1-x4"
            gen_w1(w1x4, 4)
            results["strata"]["rss_x4"] = t.build(w1x4, "bench:w4", no_cache=True)[1]
    if "buildkit" in tools:
        run([DOCKER, "import", a.debian, "base:latest"])
        t = docker_tool()
        run([DOCKER, "builder", "prune", "-af"])
        first = t.build(w1, "bench:w")
        results["buildkit"] = {"w1": measure(t, w1, a.runs, touch),
                               "w2": t.build(w2, "bench:w2", no_cache=True)}
        results["buildkit"]["w1"]["first"] = first[0]
    if "buildah" in tools:
        arch = work / "base-docker.tar"
        if not arch.exists():
            run([DOCKER, "save", "-o", str(arch), "base:latest"])
        run(["skopeo", "copy", f"docker-archive:{arch}", "containers-storage:localhost/base:latest"])
        t = buildah_tool()
        run(["buildah", "rmi", "--prune"], check=False)
        first = t.build(w1, "bench:w")
        results["buildah"] = {"w1": measure(t, w1, a.runs, touch),
                              "w2": t.build(w2, "bench:w2", no_cache=True)}
        results["buildah"]["w1"]["first"] = first[0]

    lines = [f"# Build benchmarks (W1 x{a.scale}, median of {a.runs} runs, seconds)", "",
             "| tool | W1 first build (empty cache, 1 run) | W1 cold (--no-cache) | W1 no-op | W1 one file changed | W2 cold (3 x 2 s CPU stages) | peak RSS |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        w = r["w1"]
        rss = f"{w['rss'] // 1024} MiB" if name != "buildkit" else "(in dockerd)"
        lines.append(f"| {name} | {w['first']:.2f} | {w['cold']:.2f} | {w['noop']:.3f} | {w['one']:.2f} | {r['w2'][0]:.2f} | {rss} |")
    if "strata" in results and "buildkit" in results:
        s, b = results["strata"]["w1"], results["buildkit"]["w1"]
        lines += ["", "Ratios strata / BuildKit (targets: cold <= 0.5, no-op <= 0.2, one file <= 0.25):", "",
                  f"- first build {s['first'] / b['first']:.2f}, "
                  f"cold {s['cold'] / b['cold']:.2f}, no-op {s['noop'] / b['noop']:.2f}, "
                  f"one file changed {s['one'] / b['one']:.2f}, "
                  f"W2 {results['strata']['w2'][0] / results['buildkit']['w2'][0]:.2f}"]
    if "rss_x4" in results.get("strata", {}):
        lines += ["", f"strata peak RSS: W1 x1 {results['strata']['w1']['rss'] // 1024} MiB, "
                      f"W1 x4 {results['strata']['rss_x4'] // 1024} MiB"]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
