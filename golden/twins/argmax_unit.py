"""Golden twin of :class:`hw.argmax_unit.ArgmaxUnit`: the on-chip argmax of a BNN's output layer.

Function
--------
The output layer has no threshold: the class is the index of the largest of its ``classes``
popcounts, the lowest index on a tie (``numpy.argmax``, :meth:`golden.bnn.network.BnnModel.predict_bits`,
:meth:`golden.bnn.chip_model.BnnHardware.predict_bits`). :func:`argmax_class` is that function.

Cycle model
-----------
Input ``i``: one popcount per output neuron, neurons ``0 .. classes-1`` in order, ``last`` on neuron
``classes-1``; output ``o``: (``cls``, ``count``) of the image. ``i`` is ready when the result register
is empty or taken in the same cycle (``i.ready = ~o.valid | o.ready``). A transfer in cycle ``c``
updates the running maximum (strictly greater replaces it, so ties keep the lower index); the transfer
with ``last`` loads the result register, offered on ``o`` from ``c + 1`` until taken. Throughput: one
popcount per cycle.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from golden.spec.bnn_datapath_params import MAX_NEURONS
from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.params import check_int


@dataclass(frozen=True)
class ArgmaxIn:
    """One output neuron's popcount; ``last`` on the layer's last neuron."""

    count: int
    last: int


@dataclass(frozen=True)
class ArgmaxOut:
    """One image's class (lowest index among the largest popcounts) and that popcount."""

    cls: int
    count: int


def argmax_class(counts: Iterable[int]) -> int:
    """Index of the largest count, the lowest on a tie."""
    return int(np.argmax(np.asarray(list(counts))))


def check_argmax_params(classes: int, count_width: int) -> None:
    """Clear errors naming the parameter and its range."""
    check_int("argmax.classes", classes, 2, MAX_NEURONS)
    check_int("argmax.count_width", count_width, 1, 16)


def argmax_items(counts: np.ndarray) -> list[ArgmaxIn]:
    """``i`` stream items of ``counts [images, classes]``, image after image."""
    c = np.atleast_2d(np.asarray(counts))
    n = c.shape[1]
    return [ArgmaxIn(int(v), int(j == n - 1)) for row in c for j, v in enumerate(row)]


def argmax_run(items: Iterable[ArgmaxIn], *, classes: int, count_width: int, cycles: int,
               valid_gen: Iterator[bool] | None = None,
               ready_gen: Iterator[bool] | None = None) -> tuple[list, list]:
    """Closed-loop cycle model of a testbench run: ``([(cycle, index of the item)], [(cycle, ArgmaxOut)])``
    (input transfers and output transfers)."""
    check_argmax_params(classes, count_width)
    src, snk = SourceSide(enumerate(items), valid_gen), SinkSide(ready_gen)
    o_valid, o = False, ArgmaxOut(0, 0)
    best, best_idx, idx = 0, 0, 0
    accepted, outputs = [], []
    for cycle in range(cycles):
        cur = src.present()
        rdy = snk.draw()
        i_ready = (not o_valid) or rdy
        taken = o_valid and rdy
        if taken:
            outputs.append((cycle, o))
            o_valid = False
        if cur is not None and i_ready:
            k, it = src.taken()
            accepted.append((cycle, k))
            if idx == 0 or it.count > best:
                best, best_idx = it.count, idx
            if it.last:
                o_valid, o = True, ArgmaxOut(best_idx, best)
                idx = 0
            else:
                idx += 1
    return accepted, outputs
