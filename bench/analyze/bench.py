#!/usr/bin/env python3
"""`strata analyze --ci` against `dive --ci` (0.13.1) on the same docker-archives, same run.

Images, both built by strata on the Debian minbase base and saved uncompressed:
- W1 (BRIEF.md): 20,000 source files of 500 B-8 KB plus 8 random 32 MiB files under /app;
- L20: 20 layers, each RUN writing a 1 MiB file and rewriting two shared files (waste).
Each tool reads the archive directly (docker-archive source). Median of RUNS wall seconds
and of peak RSS (GNU time). Both tools' efficiency lines are recorded to show they agree.
Targets (BRIEF.md): strata <= 0.3x dive's time and <= 0.3x its peak memory.
"""
import argparse, os, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "build"))
from bench import gen_w1  # noqa: E402  (the W1 context generator of the build benchmark)

L20 = "FROM base:latest\n" + "".join(
    f"RUN mkdir -p /l && head -c 1048576 /dev/urandom > /l/f{i} && echo {i} >> /l/log "
    f"&& head -c {4096 * (i + 1)} /dev/urandom > /l/shared\n"
    for i in range(19)
)
RULES = ["--lowestEfficiency", "0", "--highestUserWastedPercent", "disabled"]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-4000:]}")
    return r.stdout


def timed(cmd):
    """Wall seconds, peak RSS (KiB) and stdout of one command, via GNU time."""
    stats = Path("/tmp/strata-bench-analyze-time")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats)] + cmd, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(map(str, cmd))}\n{r.stderr[-4000:]}")
    return dt, int(stats.read_text().strip().splitlines()[-1]), r.stdout


def efficiency_line(out):
    return next((l.strip() for l in out.splitlines() if l.strip().startswith("efficiency:")), "?")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--strata", required=True)
    p.add_argument("--dive", required=True)
    p.add_argument("--debian", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    root = work / "store"
    s = [a.strata, "--root", str(root)]
    images = {}
    if not (work / "w1.tar").exists() or not (work / "l20.tar").exists():
        run(s + ["import", a.debian, "base:latest"])
        w1 = Path(os.environ.get("W1_CONTEXT", work / "w1-ctx"))
        gen_w1(w1, 1)
        run(s + ["build", "-q", "-t", "w1:latest", str(w1)])
        l20 = work / "l20-ctx"
        l20.mkdir(exist_ok=True)
        (l20 / "Dockerfile").write_text(L20)
        run(s + ["build", "-q", "-t", "l20:latest", str(l20)])
        for name in ["w1", "l20"]:
            run(s + ["save", "-o", str(work / f"{name}.tar"), f"{name}:latest"])
    for name, label in [("w1", "W1 (Debian + 20,000 files + 8×32 MiB)"), ("l20", "20 layers")]:
        archive = work / f"{name}.tar"
        res = {}
        for tool, cmd in [
            ("strata", [a.strata, "--root", str(root), "analyze", "--ci", *RULES,
                        f"docker-archive:{archive}"]),
            ("dive", [a.dive, "--source", "docker-archive", str(archive), "--ci", *RULES]),
        ]:
            samples = [timed(cmd) for _ in range(a.runs)]
            res[tool] = (statistics.median(t for t, _, _ in samples),
                         statistics.median(m for _, m, _ in samples),
                         efficiency_line(samples[0][2]))
            print(f"{label} {tool}: {res[tool][0]:.2f} s, {res[tool][1] / 1024:.0f} MiB, {res[tool][2]}",
                  flush=True)
        images[label] = (archive.stat().st_size, res)

    lines = [
        "# `strata analyze --ci` vs `dive --ci` (0.13.1)",
        "",
        f"Median of {a.runs} runs each, same machine, same run (`bench/analyze/run.sh`). Both read",
        "the same uncompressed docker-archive written by `strata save`. Peak RSS from GNU time.",
        "Targets: time ≤ 0.3× dive, peak memory ≤ 0.3× dive.",
        "",
        "| image | archive | strata s | dive s | time ratio | strata MiB | dive MiB | memory ratio | efficiency (strata / dive) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, (size, r) in images.items():
        (st, sm, se), (dt, dm, de) = r["strata"], r["dive"]
        lines.append(
            f"| {label} | {size / 1e6:.0f} MB | {st:.2f} | {dt:.2f} | {st / dt:.2f}× | "
            f"{sm / 1024:.0f} | {dm / 1024:.0f} | {sm / dm:.2f}× | `{se}` / `{de}` |")
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
