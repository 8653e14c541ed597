"""The valid/ready handshake rule that every golden cycle model and every testbench driver follows.

A stream port carries ``valid``, ``ready`` and a payload (Amaranth ``stream.Signature``). The golden
cycle models in :mod:`golden.twins` predict the transfers of a block under a given stimulus timing;
the drivers of the testbenches (cocotb and Amaranth's simulator) produce that timing. Both sides take
the timing from the same seeded generators and apply them with the same two classes,
:class:`SourceSide` and :class:`SinkSide`, so a model and a simulation given equal generators see
identical cycles.

Cycle convention
----------------
Cycle 0 is the first clock period in which the drivers drive the block (the period that starts at
the edge after reset was released, or the first period of an Amaranth simulator bench), and the
count increments at every later rising edge. Drivers write their inputs right after the rising edge
that starts cycle ``c`` and sample the handshake before the edge that ends it. A transfer *in cycle
c* means ``valid & ready`` held during cycle ``c`` (the data moves on the edge that ends it); every
transfer is stamped with that cycle, whether the block offered it or accepted it.

Source draw rule
----------------
A source holds a queue of items. In every cycle in which it holds an item but presents none, it
draws one bool from its idle generator ``valid_gen``; on ``True`` it presents the next item and
keeps ``valid`` high, with the payload unchanged, until the item is taken (a presented item is never
withdrawn). In the other cycles it draws nothing.

Sink draw rule
--------------
A sink draws one bool from its backpressure generator ``ready_gen`` in *every* cycle, whether or not
anything is offered, and drives ``ready`` with it.

Generators
----------
Plain iterators of bool: :func:`always`, :func:`pattern`, :func:`random_gen` (seeded Bernoulli),
:func:`burst_gen` (seeded runs) and :func:`make_gen` (one of those from a JSON-able spec). The
``stream`` argument separates independent generators of one test.
"""
from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any


def always() -> Iterator[bool]:
    """Never stall."""
    return itertools.repeat(True)


def pattern(bits: Iterable[int | bool]) -> Iterator[bool]:
    """Repeat a fixed pattern forever, e.g. ``pattern([1, 1, 0])``."""
    return (bool(b) for b in itertools.cycle(list(bits)))


def random_gen(seed: int, p_true: float, stream: int = 0) -> Iterator[bool]:
    """Seeded Bernoulli(``p_true``) bools."""
    rng = random.Random(f"{seed}/{stream}")
    while True:
        yield rng.random() < p_true


def burst_gen(seed: int, p_true: float, max_run: int = 8, stream: int = 0) -> Iterator[bool]:
    """Seeded runs of equal bools (run length 1..``max_run``): bursty traffic and long stalls."""
    rng = random.Random(f"burst/{seed}/{stream}")
    while True:
        v = rng.random() < p_true
        yield from itertools.repeat(v, rng.randint(1, max_run))


def make_gen(spec: Any, seed: int, stream: int) -> Iterator[bool]:
    """Generator from a JSON-able spec.

    Parameters
    ----------
    spec : None, float or list
        ``None`` or 1.0: :func:`always`; a float p: ``random_gen(seed, p, stream)``;
        ``["burst", p]``: ``burst_gen(seed, p, 16, stream)``; ``["pattern", [1, 0, ...]]``.
    seed, stream : int
        Passed to the seeded generators.
    """
    if spec is None or spec == 1 or spec == 1.0:
        return always()
    if isinstance(spec, (int, float)):
        return random_gen(seed, float(spec), stream)
    kind, arg = spec
    if kind == "burst":
        return burst_gen(seed, float(arg), 16, stream)
    if kind == "pattern":
        return pattern(arg)
    raise ValueError(f"unknown generator spec {spec!r}")


class SourceSide:
    """The source half of the rule: a queue of items and the item presented, if any.

    Per cycle, call :meth:`present` once (it applies the source draw rule), then :meth:`taken` if
    the presented item was transferred in that cycle.

    Parameters
    ----------
    items : iterable
        Items to present, in order; :meth:`extend` adds more.
    valid_gen : iterator of bool, optional
        Idle generator; default :func:`always`.

    Attributes
    ----------
    current :
        The item presented (``valid`` high), or ``None``.
    """

    __slots__ = ("_queue", "_valid_gen", "current")

    def __init__(self, items: Iterable[Any] = (), valid_gen: Iterator[bool] | None = None):
        self._queue = deque(items)
        self._valid_gen = valid_gen if valid_gen is not None else always()
        self.current = None

    def extend(self, items: Iterable[Any]) -> None:
        self._queue.extend(items)

    @property
    def idle(self) -> bool:
        """Nothing presented and nothing left to present."""
        return self.current is None and not self._queue

    def present(self) -> Any:
        """Apply the draw rule for this cycle; return the item presented (``None``: ``valid`` low)."""
        if self.current is None and self._queue and next(self._valid_gen):
            self.current = self._queue.popleft()
        return self.current

    def draws_to_present(self) -> int:
        """Present the next item after a run of idle cycles; return how many.

        Equivalent to calling :meth:`present` in consecutive cycles until it returns an item, for a
        caller that sleeps through the idle cycles. Needs an item waiting and none presented.
        """
        if self.current is not None or not self._queue:
            raise RuntimeError("draws_to_present: an item is presented or none is waiting")
        idle = 0
        while not next(self._valid_gen):
            idle += 1
        self.current = self._queue.popleft()
        return idle

    def taken(self) -> Any:
        """The presented item was transferred in this cycle: return it (``None`` if none was)."""
        item, self.current = self.current, None
        return item


class SinkSide:
    """The sink half of the rule: one ``ready`` draw per cycle.

    Parameters
    ----------
    ready_gen : iterator of bool, optional
        Backpressure generator; default :func:`always`.

    Attributes
    ----------
    ready : bool
        The last draw.
    """

    __slots__ = ("_due", "_ready_gen", "ready")

    def __init__(self, ready_gen: Iterator[bool] | None = None):
        self._ready_gen = ready_gen if ready_gen is not None else always()
        self._due: int | None = None
        self.ready = False

    def draw(self) -> bool:
        """The ``ready`` of this cycle (call once in every cycle)."""
        self.ready = next(self._ready_gen)
        return self.ready

    def draw_at(self, cycle: int) -> bool:
        """The ``ready`` of ``cycle``, for a caller that does not wake up every cycle.

        The draws of the cycles since the last call (those the caller slept through) are made and
        discarded first, so the sequence of draws is the one of :meth:`draw` called every cycle from
        the cycle of the first call on.
        """
        if self._due is not None:
            for _ in range(cycle - self._due):
                next(self._ready_gen)
        self._due = cycle + 1
        return self.draw()
