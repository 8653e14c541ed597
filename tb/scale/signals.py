"""SIGINT and SIGTERM stop a sweep cleanly.

Inside :func:`stop_on_signals` both signals raise :class:`Stopped` in the main thread (SIGINT already
raises :class:`KeyboardInterrupt`, of which :class:`Stopped` is a kind). The exception unwinds
through the engine's ``with`` block, which cancels the queued runs and stops the local worker
processes; the result stores hold what had finished, since every write is atomic
(:mod:`tb.scale.store`). The command line turns it into exit status 128 + signal number.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Stopped(KeyboardInterrupt):
    """The run was stopped by a signal (``signum``)."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def _raise(signum, frame) -> None:
    # a second signal must not interrupt the clean-up the first one starts
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Stopped` for the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
