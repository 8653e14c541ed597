"""How a study runs its independent runs: the ``run_all`` argument of the sweeps.

A sweep (``golden.studies.fault_study``, ``golden.studies.variability``, the BNN chip seeds) builds
the list of its runs first, hands them to ``run_all(fn, items, common)`` and assembles its tables
from the results, which come back in the order of ``items``. Each run is a pure function of
``common`` (data every run shares, e.g. a trained network) and its item (seeds included), so any
``run_all`` that returns ``[fn(common, item) for item in items]`` gives the same study: the serial
:func:`serial_runs` here, or the Dask engine of the testbench layer (``tb.scale.engine.Engine.map``),
which spreads the runs over worker processes or a cluster.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol


class RunAll(Protocol):
    """``run_all(fn, items, common) -> [fn(common, item) for item in items]`` (input order)."""

    def __call__(self, fn: Callable, items: Sequence, common: Any, desc: str = ...) -> list: ...


def serial_runs(fn: Callable, items: Sequence, common: Any, desc: str = "runs",
                progress: Callable[[int], Any] | None = None) -> list:
    """The runs one after the other in this process; ``progress(1)`` after each."""
    out = []
    for item in items:
        out.append(fn(common, item))
        if progress is not None:
            progress(1)
    return out
