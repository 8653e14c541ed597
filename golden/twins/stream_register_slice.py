"""Golden twin of :class:`hw.stream_register_slice.StreamRegisterSlice`: every transfer on both sides,
with its cycle, for a source and a sink that follow :mod:`golden.spec.handshake`."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from golden.spec.handshake import SinkSide, SourceSide


def stream_register_slice_cycles(items: Iterable[Any], valid_gen: Iterator[bool] | None = None,
                                 ready_gen: Iterator[bool] | None = None, limit: int = 1_000_000
                                 ) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """``(accepted, emitted)``, lists of ``(cycle, item)``: the transfers on ``i`` and on ``o``.

    Per cycle: ``i.ready`` is high while the skid entry is empty; the main entry is offered on ``o``;
    if it leaves (or is empty) it is refilled from the skid entry, else from an item accepted in this
    cycle; if it stays, an accepted item goes to the skid entry.
    """
    src, snk = SourceSide(items, valid_gen), SinkSide(ready_gen)
    main = skid = None
    accepted, emitted = [], []
    cycle = 0
    while not src.idle or main is not None or skid is not None:
        if cycle >= limit:
            raise RuntimeError(f"stream_register_slice_cycles: not done after {limit} cycles")
        cur, rdy = src.present(), snk.draw()
        new = None
        if skid is None and cur is not None:
            new = src.taken()
            accepted.append((cycle, new))
        if main is not None and rdy:
            emitted.append((cycle, main))
            main = None
        if main is None:
            if skid is not None:
                main, skid = skid, None
            else:
                main = new
        elif new is not None:
            skid = new
        cycle += 1
    return accepted, emitted
