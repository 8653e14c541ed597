"""Golden twin of :class:`hw.xnor_popcount.XnorPopcount`: XNOR-popcount, threshold and cycle model.

Function
--------
``count = popcount(~(x ^ w) & (2**n - 1))`` and ``decision = count >= thr`` with ``thr`` in
``0 .. n+1`` (0: always 1; n+1: always 0). This is the digital decision of a binary neuron whose
2T2R bridges compute XNOR(x, w) and whose capacitive neuron compares the sum with the threshold.

Latency model
-------------
The adder tree has ``D`` levels:

* ``tree`` mode: pairwise adds, ``D = ceil(log2 n)`` (0 for n = 1);
* ``lut6`` mode: one level of 6-input LUT popcounts (``ceil(n/6)`` 3-bit partial counts) followed by
  ternary adds, ``D = 1 + ceil(log3(ceil(n/6)))``.

A pipeline register follows every ``k = stage_levels`` levels and the last level, and the threshold
compare has its own output register, so the latency is ``L = ceil(D/k) + 1`` cycles: an input
accepted in cycle ``c`` is offered on the output in cycle ``c + L`` unless the output stalls.
Throughput is one vector per cycle. The whole pipeline advances together (``i.ready = ~o.valid |
o.ready``), which is what :func:`xnor_popcount_cycles` models.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from golden.spec.bnn_datapath_params import MAX_INPUTS, POPCOUNT_MODES
from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.params import check_choice, check_int


@dataclass(frozen=True)
class PopcountIn:
    """One input vector: ``x`` and ``w`` as n-bit integers (bit i = input/weight i), threshold, tag."""

    x: int
    w: int
    thr: int
    tag: int = 0


@dataclass(frozen=True)
class PopcountOut:
    """Result offered on the output stream: popcount, decision bit and the passed-through tag."""

    count: int
    decision: int
    tag: int = 0


def check_popcount_config(width: int, mode: str = "tree", stage_levels: int = 2) -> None:
    check_int("bnn.inputs", width, 1, MAX_INPUTS)
    check_choice("bnn.popcount_mode", mode, POPCOUNT_MODES)
    check_int("bnn.stage_levels", stage_levels, 1, 16)


def xnor_popcount(x: int, w: int, thr: int, width: int) -> tuple[int, int]:
    """(count, decision) for one vector."""
    mask = (1 << width) - 1
    count = (~(x ^ w) & mask).bit_count()
    return count, int(count >= thr)


def tree_levels(width: int, mode: str = "tree") -> int:
    """Number of adder-tree levels ``D`` of the popcount (see the module docstring)."""
    check_popcount_config(width, mode)
    if mode == "tree":
        d, n = 0, width
        while n > 1:
            n, d = -(-n // 2), d + 1
        return d
    d, n = 1, -(-width // 6)
    while n > 1:
        n, d = -(-n // 3), d + 1
    return d


def popcount_latency(width: int, mode: str = "tree", stage_levels: int = 2) -> int:
    """Cycles from input transfer to first offer of the result: ``ceil(D / k) + 1``."""
    check_popcount_config(width, mode, stage_levels)
    return -(-tree_levels(width, mode) // stage_levels) + 1


def xnor_popcount_cycles(items: Iterable[PopcountIn], width: int, mode: str = "tree",
                         stage_levels: int = 2, valid_gen: Iterator[bool] | None = None,
                         ready_gen: Iterator[bool] | None = None,
                         max_cycles: int = 10_000_000) -> list[tuple[int, PopcountOut]]:
    """Cycle-exact output transactions ``(cycle, PopcountOut)`` of the RTL.

    ``valid_gen`` / ``ready_gen`` are the idle and backpressure generators of the stream source and
    sink (drawn with the rules of :mod:`golden.spec.handshake`: the source draws only while it holds an
    item and presents none, the sink draws every cycle); ``None`` means always. Cycle 0 is the first
    cycle in which the source and sink drive the DUT.
    """
    lat = popcount_latency(width, mode, stage_levels)
    src = SourceSide(items, valid_gen)
    present, draw_ready = src.present, SinkSide(ready_gen).draw
    pipe: list[PopcountIn | None] = [None] * lat
    out: list[tuple[int, PopcountOut]] = []
    cycle = 0
    while not src.idle or any(p is not None for p in pipe):
        if cycle >= max_cycles:
            raise TimeoutError(f"xnor_popcount_cycles: no end after {max_cycles} cycles")
        current = present()
        rdy = draw_ready()
        head = pipe[-1]
        en = head is None or rdy
        if head is not None and rdy:
            c, d = xnor_popcount(head.x, head.w, head.thr, width)
            out.append((cycle, PopcountOut(c, d, head.tag)))
        if en:
            pipe = [current] + pipe[:-1]
            src.taken()
        cycle += 1
    return out
