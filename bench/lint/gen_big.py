#!/usr/bin/env python3
"""Writes a Dockerfile of at least N lines (default 5000) to stdout: the lint corpus's
Linux Dockerfiles one after another, stage names made unique per copy, parser directives
dropped (they are only valid at the top). Deterministic."""
import pathlib
import re
import sys

target = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
corpus = pathlib.Path(__file__).resolve().parents[2] / "crates/strata-lint/tests/corpus"
# Files hadolint cannot parse (a heredoc form, a mount without target) or that are
# Windows-only stay out: one parse error would stop hadolint on the whole file.
SKIP = ("windows", "heredoc", "mount-flags", "stage-names")
files = sorted(p for p in corpus.glob("*.Dockerfile") if not any(s in p.name for s in SKIP))
out, copy = [], 0
while len(out) < target:
    for p in files:
        text = p.read_text().replace("\r\n", "\n")
        lines = [l for l in text.split("\n") if not re.match(r"#\s*(syntax|escape|check)\s*=", l)]
        body = "\n".join(lines)
        # Suffix every stage name and its references so stages stay distinct.
        names = {n.lower() for n in re.findall(r"(?im)^FROM\s.*?\s+AS\s+(\S+)\s*$", body)}

        def rename(m):
            word = m.group(2)
            return m.group(1) + (f"{word}-c{copy}" if word.lower() in names else word)

        body = re.sub(r"(?im)(\s(?:AS)\s+|--from=|^FROM\s+)([^\s/:]+)(?=\s|$)", rename, body)
        out.extend(body.split("\n"))
        if len(out) >= target:
            break
    copy += 1
print("\n".join(out))
