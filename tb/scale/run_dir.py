"""One directory per run, so runs started at the same time in one checkout never share a file.

``new_run_dir(build/cosim, "train")`` makes ``build/cosim/train-20260107T101500-<random>/``: the time
keeps the directories in order, the random part (from :func:`tempfile.mkdtemp`, created atomically)
keeps two runs of the same second apart.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path


def new_run_dir(base: Path, kind: str) -> Path:
    """A new, empty directory ``<base>/<kind>-<time>-<random>`` that no other run uses."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}-", dir=base))
