"""Progress of a co-simulation seen from the parent process.

The cocotb test runs in the simulator's process and writes ``done total`` to a progress file after
each sample; :func:`progress_printer` polls that file in a thread and prints it with the elapsed
time on one line of stderr, so a long run shows it is alive.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _watch(path: Path, stop: threading.Event, period: float, unit: str = "samples") -> None:
    last, t0 = None, time.perf_counter()
    while not stop.wait(period):
        try:
            txt = path.read_text().split()
        except OSError:
            continue
        if len(txt) == 2 and txt != last:
            last = txt
            el = time.perf_counter() - t0
            print(f"\rcosim: {txt[0]}/{txt[1]} {unit}, {el:.0f} s", end="", file=sys.stderr, flush=True)
    if last is not None:
        print(file=sys.stderr)


@contextmanager
def progress_printer(path: Path, enabled: bool = True, period: float = 1.0, unit: str = "samples") -> Iterator[None]:
    """While the ``with`` body runs, print the progress file ``path`` (``done total`` ``unit``) every
    ``period`` s (if ``enabled``)."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(Path(path), stop, period, unit), daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
