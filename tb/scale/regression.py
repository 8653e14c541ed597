"""Long regressions on the Dask engine (``reram-accel regress``): the selected pytest tests are
collected here, grouped into shards by test file (a file's module fixtures and simulator builds stay
in one process), and every shard runs as one ``pytest`` subprocess on some worker.

A worker runs its shard in ``root`` (the checkout), so workers of a remote cluster need the same
checkout at the same path (a shared file system, or the same clone on every machine). The build
caches under ``build/`` are shared by the shards through their own locks (:mod:`tb.kit.runner`).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

_SUMMARY = re.compile(r"^=+ (.*) in [\d.]+s.* =+$")


def collect(paths: Sequence[str], marker: str | None, root: Path) -> list[str]:
    """Node ids of the tests pytest selects under ``paths`` (and ``-m marker``)."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths]
    if marker:
        cmd += ["-m", marker]
    r = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    ids = [line for line in r.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    if r.returncode not in (0, 5):
        raise RuntimeError(f"pytest could not collect {list(paths)}:\n{r.stdout[-3000:]}{r.stderr[-2000:]}")
    return [_absolute(nid, root, paths) for nid in ids]


def _absolute(node_id: str, root: Path, paths: Sequence[str]) -> str:
    """``node_id`` with an absolute file part (pytest prints it relative to its rootdir, which is not
    ``root`` for tests outside the checkout)."""
    file, rest = node_id.split("::", 1)
    bases = [root] + [b for p in paths for b in ((root / p).resolve(), (root / p).resolve().parent)]
    for base in bases:
        if (base / file).is_file():
            return f"{(base / file).resolve()}::{rest}"
    raise RuntimeError(f"cannot locate the file of collected test {node_id} under {root} or {list(paths)}")


def shards(node_ids: Sequence[str], count: int) -> list[list[str]]:
    """At most ``count`` shards; the tests of one file stay together, files dealt out largest first."""
    by_file: dict[str, list[str]] = {}
    for nid in node_ids:
        by_file.setdefault(nid.split("::", 1)[0], []).append(nid)
    groups = sorted(by_file.values(), key=len, reverse=True)
    out: list[list[str]] = [[] for _ in range(min(count, len(groups)))]
    for g in groups:
        min(out, key=len).extend(g)
    return out


def run_shard(root: str, node_ids: list[str]) -> dict:
    """Run one shard with pytest in ``root``; its exit code, summary line, time and output tail."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": root}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *node_ids],
                       cwd=root, env=env, capture_output=True, text=True, check=False)
    lines = r.stdout.strip().splitlines()
    summary = next((m.group(1) for m in map(_SUMMARY.match, reversed(lines)) if m), lines[-1] if lines else "")
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return {"tests": len(node_ids), "returncode": r.returncode, "summary": summary, "failed": failed,
            "seconds": time.perf_counter() - t0, "tail": "\n".join(lines[-40:]) + r.stderr[-2000:]}
