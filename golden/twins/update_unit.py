"""Golden twin of the mixed-precision UpdateUnit: per-synapse accumulator chi, threshold eps.

The rule (exact; the RTL in :mod:`hw.update_unit` is bit-true to it)
--------------------------------------------------------------------
For a request ``(row, col, dw)`` with ``chi = chi[row, col]`` (signed, ``update.chi_width`` bits,
starts at 0) and ``eps = update.eps`` (any integer >= 1, not only powers of two)::

    s     = saturate(chi + dw)              # to [-2**(chi_width-1), 2**(chi_width-1) - 1]
    n     = min(|s| // eps, max_count)      # max_count = 2**count_width - 1
    count = sign(s) * n                     # signed pulse count
    chi   = s - count * eps                 # the remainder stays in chi, with the sign of s

i.e. "while |chi| >= eps emit one pulse and chi -= sign(chi)*eps", at most ``max_count`` times per
request (truncation toward zero). A :class:`~golden.spec.transactions.PulseCount` is emitted only when
``count != 0``. Out-of-range addresses (``row >= array.rows`` or ``col >= array.cols``, possible when
the array size is not a power of two) are an error in :meth:`UpdateUnit.apply`; the RTL drops them
and raises its sticky ``addr_error`` flag, which :func:`update_unit_cycle_model` reproduces.

Cycle model (micro-architecture of :class:`hw.update_unit.UpdateUnit`)
----------------------------------------------------------------------
Two stages plus an output register; cycles follow :mod:`golden.spec.handshake` (a transfer *in cycle
t* means valid & ready held during t):

* **A (accept)**: ``i.ready = ~b_valid | b_go``; an accepted request starts the synchronous read of
  its chi word (read port transparent to the write port, so a back-to-back request to the same
  synapse sees the value written in the same cycle: no stall, no hazard).
* **B (compute)**: chi arrives; ``s``, ``n``, ``count`` and the new chi are computed in one cycle
  (restoring division over ``count_width`` quotient bits). B completes (``b_go``) unless it must emit
  and the output register is full and not being drained: ``b_go = b_valid & (~emit | o_free)`` with
  ``o_free = ~o.valid | o.ready``; on ``b_go`` the new chi is written back.
* **O (output)**: a one-entry register; loaded when ``o_free``.

* **Clear walk**: the chi memory's contents are undefined at power-up; after reset, and from the
  cycle after a ``clear`` pulse, the unit writes 0 to one word per cycle for :func:`clear_cycles`
  ``= rows * cols`` cycles (``clearing`` high, ``i.ready`` low; ``i.ready`` is also low in the cycle
  of the ``clear`` pulse). A ``clear`` drops the request in B (no chi write, no PulseCount); the
  output register drains as usual. After the walk every chi is 0, as :meth:`UpdateUnit.clear`.

Latency: a request accepted in cycle t is offered on ``o`` from cycle t + 2. Throughput: one request
per cycle whatever the counts (the quotient is computed in one cycle), as long as ``o`` is not
backpressured; requests with count 0 never wait for ``o``. ``o.ready`` reaches ``i.ready``
combinationally (through ``b_go``). After reset the first request is accepted in cycle
``rows * cols`` at the earliest (the clear walk).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.params import AccelParams
from golden.spec.transactions import PulseCount, UpdateRequest


def clear_cycles(params: AccelParams) -> int:
    """Cycles of the clear walk (one chi word per cycle): ``rows * cols``."""
    return params.array.rows * params.array.cols


def saturate(x: int, width: int) -> int:
    """Clamp ``x`` to the signed ``width``-bit range."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return max(lo, min(x, hi))


def update_rule(chi: int, dw: int, params: AccelParams) -> tuple[int, int]:
    """One accumulator step on plain ints: returns ``(chi_new, count)`` (see the module docstring)."""
    u = params.update
    s = saturate(chi + dw, u.chi_width)
    n = min(abs(s) // u.eps, u.max_count)
    count = n if s >= 0 else -n
    return s - count * u.eps, count


def apply_many(chi: np.ndarray, dw: np.ndarray, params: AccelParams) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`update_rule` over whole arrays (the training path).

    Parameters
    ----------
    chi, dw : int64 arrays of one shape
        Accumulators (in the chi_width range) and updates (in the dw_width range).

    Returns
    -------
    chi_new, counts : int64 arrays
        New accumulators and signed pulse counts, element-wise identical to :func:`update_rule`.
    """
    u = params.update
    chi = np.asarray(chi, dtype=np.int64)
    dw = np.asarray(dw, dtype=np.int64)
    if chi.shape != dw.shape:
        raise ValueError(f"chi shape {chi.shape} != dw shape {dw.shape}")
    lo, hi = -(1 << (u.chi_width - 1)), (1 << (u.chi_width - 1)) - 1
    dlo, dhi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    if chi.size and (chi.min() < lo or chi.max() > hi):
        raise ValueError(f"chi outside the update.chi_width = {u.chi_width} signed range [{lo}, {hi}]")
    if dw.size and (dw.min() < dlo or dw.max() > dhi):
        raise ValueError(f"dw outside the update.dw_width = {u.dw_width} signed range [{dlo}, {dhi}]")
    s = np.clip(chi + dw, lo, hi)
    n = np.minimum(np.abs(s) // u.eps, u.max_count)
    counts = np.where(s >= 0, n, -n)
    return s - counts * u.eps, counts


class UpdateUnit:
    """Transaction-level twin: the chi memory of ``rows x cols`` synapses and :meth:`apply`.

    Parameters
    ----------
    params : AccelParams
        Uses ``array.rows``, ``array.cols`` and the ``update`` section.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        self.chi = np.zeros((params.array.rows, params.array.cols), dtype=np.int64)

    def in_range(self, row: int, col: int) -> bool:
        return 0 <= row < self.params.array.rows and 0 <= col < self.params.array.cols

    def apply(self, row: int, col: int, dw: int) -> int:
        """Add ``dw`` to chi[row, col]; return the signed pulse count (0: no PulseCount emitted)."""
        u = self.params.update
        if not self.in_range(row, col):
            raise ValueError(f"synapse ({row}, {col}) outside the {self.params.array.rows} x "
                             f"{self.params.array.cols} array")
        lo, hi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
        if not lo <= dw <= hi:
            raise ValueError(f"dw = {dw} outside the update.dw_width = {u.dw_width} range [{lo}, {hi}]")
        chi, count = update_rule(int(self.chi[row, col]), dw, self.params)
        self.chi[row, col] = chi
        return count

    def request(self, req: UpdateRequest) -> PulseCount | None:
        """:meth:`apply` on a transaction; the PulseCount the hardware emits, or None."""
        count = self.apply(req.row, req.col, req.dw)
        return PulseCount(req.row, req.col, count) if count else None

    def clear(self) -> None:
        self.chi[:] = 0


@dataclass
class UpdateUnitTrace:
    """What :func:`update_unit_cycle_model` predicts: stamped input and output transfers."""

    accepted: list[tuple[int, UpdateRequest]] = field(default_factory=list)
    emitted: list[tuple[int, PulseCount]] = field(default_factory=list)
    addr_error: bool = False
    cycles: int = 0
    chi: np.ndarray | None = None
    dropped: list[tuple[int, UpdateRequest]] = field(default_factory=list)


def update_unit_cycle_model(params: AccelParams, requests: Iterable[UpdateRequest],
                            valid: Iterator[bool], ready: Iterator[bool], unit: UpdateUnit | None = None,
                            max_cycles: int = 50_000_000, *, clearing: int = 0,
                            clears: Iterable[int] = ()) -> UpdateUnitTrace:
    """Cycle-by-cycle model of :class:`hw.update_unit.UpdateUnit` under a given stimulus timing.

    ``valid`` is the source's idle generator (drawn in each cycle in which a request waits and none
    is presented; a presented request is held until taken) and ``ready`` the sink's (drawn every
    cycle) -- the rules of :mod:`golden.spec.handshake`. Runs until every request was accepted and every
    PulseCount was taken, and returns their transfer cycles; values come from :meth:`UpdateUnit.apply`.
    ``unit`` continues from an earlier run's chi state (a fresh unit, chi = 0, by default); it is
    updated in place.

    ``clearing`` is the number of clear-walk cycles still to run in cycle 0: :func:`clear_cycles` for
    a run that starts in the first cycle after reset (or power-up), 0 for one that continues an
    earlier run. ``clears`` are the cycles in which the ``clear`` input is high; the request a clear
    drops from stage B is listed in ``dropped`` with the clear's cycle. The run also lasts until the
    last clear and its walk are over.
    """
    unit = unit if unit is not None else UpdateUnit(params)
    if clearing < 0:
        raise ValueError(f"clearing = {clearing}: allowed >= 0")
    clear_set = set(clears)
    last_clear = max(clear_set, default=-1)
    src = SourceSide(requests, valid)
    present, draw_ready = src.present, SinkSide(ready).draw
    tr = UpdateUnitTrace()
    b = None              # request in stage B
    o = None              # PulseCount in the output register
    cycle = 0
    while not src.idle or b is not None or o is not None or clearing or cycle <= last_clear:
        if cycle >= max_cycles:
            raise TimeoutError("update_unit_cycle_model: no end")
        # inputs of this cycle
        cur = present()
        rdy = draw_ready()
        clr = cycle in clear_set
        # combinational decisions of this cycle
        o_free = o is None or rdy
        if b is not None and not clr:
            ok = unit.in_range(b.row, b.col)
            # count computed without committing, to know whether B must emit
            count = update_rule(int(unit.chi[b.row, b.col]), b.dw, params)[1] if ok else 0
            b_go = count == 0 or o_free
        else:
            b_go = False
        i_ready = not clearing and not clr and (b is None or b_go)
        # clock edge
        if o is not None and rdy:
            tr.emitted.append((cycle, o))
            o = None
        if clr:
            if b is not None:
                tr.dropped.append((cycle, b))
            b = None
            unit.clear()
            clearing = clear_cycles(params)
        elif clearing:
            clearing -= 1
        if b_go:
            if ok:
                count = unit.apply(b.row, b.col, b.dw)
                if count:
                    o = PulseCount(b.row, b.col, count)
            else:
                tr.addr_error = True
            b = None
        if cur is not None and i_ready:
            tr.accepted.append((cycle, cur))
            b = src.taken()
        cycle += 1
    tr.cycles = cycle
    tr.chi = unit.chi.copy()
    return tr
