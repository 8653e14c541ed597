"""Result files that concurrent runs share safely.

* :func:`atomic_write_text`: the new content goes to a temporary file in the same directory, which
  then replaces the old file with :func:`os.replace`; a reader (or a crash) sees the old file or the
  new one, never half of one.
* :class:`ResultStore`: a JSON store ``{"runs": [...]}`` (``docs/train_sweep.json``) to which sweeps
  add finished runs. Every addition re-reads the file under an exclusive lock (``fcntl.flock`` on
  ``<store>.lock``) and merges, so two sweeps writing the same store keep each other's runs; a run
  whose key is already there is not added twice.
* A store that is not valid JSON of that shape (truncated by a crash of an older version, edited by
  hand) is reported with its path and set aside as ``<store>.corrupt-<time>``; the sweep then starts
  from an empty store instead of failing.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` (created if missing) for the block."""
    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _warn(message: str) -> None:
    print(f"reram-accel: {message}", file=sys.stderr, flush=True)


class ResultStore:
    """The runs of a sweep in one JSON file, shared by every sweep that names it.

    Parameters
    ----------
    path : Path
        The store (``{"runs": [run, ...]}``).
    key : callable
        What identifies a run (``golden.training.sweep.run_key``): a run whose key is stored is done.
    warn : callable
        Where the corrupt-store message goes (default: stderr).
    """

    def __init__(self, path: Path, key: Callable[[dict], Hashable], warn: Callable[[str], None] = _warn):
        self.path = Path(path)
        self.key = key
        self.warn = warn

    def load(self) -> list[dict]:
        """The stored runs (none if the file is missing; a corrupt file is set aside, see the module)."""
        with file_lock(self.path):
            return self._read()

    def add(self, runs: Iterable[dict]) -> list[dict]:
        """Merge ``runs`` into the store under the lock (runs already stored stay, new keys are
        appended) and write it atomically; returns every stored run."""
        with file_lock(self.path):
            stored = self._read()
            have = {self.key(r) for r in stored}
            for r in runs:
                k = self.key(r)
                if k not in have:
                    stored.append(r)
                    have.add(k)
            atomic_write_text(self.path, json.dumps({"runs": stored}, indent=1))
            return stored

    def _read(self) -> list[dict]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        problem = None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            problem = f"is not valid JSON ({e})"
        else:
            if not isinstance(data, dict) or not isinstance(data.get("runs"), list) \
                    or not all(isinstance(r, dict) for r in data["runs"]):
                problem = 'is not a result store (expected {"runs": [ {...}, ... ]})'
            else:
                return data["runs"]
        aside = self._set_aside()
        self.warn(f"result store {self.path} {problem}: moved to {aside}; starting from an empty store")
        return []

    def _set_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for n in range(1000):
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}" + (f"-{n}" if n else ""))
            if not aside.exists():
                os.replace(self.path, aside)
                return aside
        raise RuntimeError(f"cannot set aside {self.path}: too many corrupt copies")
