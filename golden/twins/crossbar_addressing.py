"""Golden twin of the CrossbarAddressing block: array command -> one-hot word/bit/source-line enables.

The array (see :mod:`golden.spec.params` for the physical layout)
------------------------------------------------------------
``rows`` word lines (WL) and ``P = phys_cols`` physical columns; every column has its own bit line
(BL) and source line (SL), running parallel. A 1T1R cell is one device at (WL r, column c): its
access transistor is gated by WL r and the device sits between BL c and SL c. A 2T2R cell is the pair
of devices on columns ``2m`` (BL) and ``2m + 1`` (BLb) of one word line; each device keeps its own
transistor and lines, so writing one device of a pair is a 1T1R write.

Line enables (what the analog macro's line drivers receive)
----------------------------------------------------------
``wl``        bit r: WL r on (access transistors of row r conduct). On for the whole command
              (``sel``), i.e. also during address setup and settling, when BL and SL are grounded.
``bl_set``    bit c: BL c to the SET rail (V_SET) with SL c grounded -> SET (conductance up).
``sl_reset``  bit c: SL c to the RESET rail (V_RESET) with BL c grounded -> RESET (conductance down).
``bl_read``   bit c: BL c to the small read bias V_READ, SL c to the sense amplifier (virtual ground).
``write``     the write drivers fire (the pulse); equals ``any(bl_set | sl_reset)``.
``read``      the sense path is on; equals ``any(bl_read)``.
``error``     the command was rejected; then every enable above is 0.

Every line not enabled is grounded. At most one WL is on, and a column is never driven to two rails.

Decode of one command (``decode``)
----------------------------------
A command is ``(sel, row, phys_col, we, re, polarity, pair, span)``. Idle (``sel = we = re = 0``)
drives nothing. It is an error (nothing driven, ``error = 1``) when

* the mode is illegal: ``we & re``, ``we`` or ``re`` without ``sel``, ``pair & we``, ``pair``
  (a 2T2R differential read of both devices of a cell, for BNN inference) on a 1T1R array, or
  ``span != 0`` without a pair read (``pair & re``);
* the address is outside the array (``sel`` and ``row >= rows`` or ``phys_col >= P``, or for a pair
  read ``2 (m + span) + 1 >= P``).

Otherwise ``wl = 1 << row``; the selected columns are ``1 << phys_col`` (pair read: the columns
``2m .. 2(m + span) + 1`` of the ``span + 1`` adjacent cells ``m .. m + span``, ``m = phys_col >> 1``);
they go to ``bl_set`` (``we`` and SET), ``sl_reset`` (``we`` and RESET) or ``bl_read`` (``re``).

Multi-cell (word) reads: a decoder built with ``read_width`` W > 1 has the extra command field
``span`` (0 .. W-1): one word-line activation reads up to W bridges at once (the BNN engine's
word-parallel digital mode). With W = 1 there is no ``span`` field (always 0).

Cycle model
-----------
The RTL registers the decoded enables: a command held in cycle ``t`` drives the lines in cycle
``t + 1`` (latency 1, one command per cycle). After reset every output is 0.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from golden.spec.bnn_datapath_params import MAX_READ_WIDTH
from golden.spec.interfaces import ADDRESSING_LATENCY
from golden.spec.params import AccelParams, check_int
from golden.spec.transactions import RESET, SET

#: Latency of the registered decoder in cycles (the pulse scheduler's read path compensates it).
LATENCY = ADDRESSING_LATENCY


@dataclass(frozen=True)
class ArrayCommand:
    """What the pulse scheduler (or a host) asks of the array in one cycle."""

    sel: int = 0
    row: int = 0
    phys_col: int = 0
    we: int = 0
    re: int = 0
    polarity: int = RESET
    pair: int = 0
    span: int = 0


@dataclass(frozen=True)
class LineEnables:
    """Decoded line enables, vectors as Python ints (bit i = line i)."""

    wl: int = 0
    bl_set: int = 0
    sl_reset: int = 0
    bl_read: int = 0
    write: int = 0
    read: int = 0
    error: int = 0

    def arrays(self, rows: int, phys_cols: int) -> dict[str, np.ndarray]:
        """The four vectors as numpy bool arrays (``wl`` of length rows, the others phys_cols)."""

        def bits(v: int, n: int) -> np.ndarray:
            return np.array([(v >> i) & 1 for i in range(n)], dtype=bool)

        return {"wl": bits(self.wl, rows), "bl_set": bits(self.bl_set, phys_cols),
                "sl_reset": bits(self.sl_reset, phys_cols), "bl_read": bits(self.bl_read, phys_cols)}


IDLE = LineEnables()
_ERROR = LineEnables(error=1)


class CrossbarAddressingModel:
    """Bit-true decoder of :class:`ArrayCommand` for one array configuration.

    Parameters
    ----------
    params : AccelParams
        ``array.rows``, ``array.cell`` and ``phys_cols`` are used.
    read_width : int, 1..4096 (:data:`golden.spec.bnn_datapath_params.MAX_READ_WIDTH`)
        W, cells a pair read may select at once (``span`` 0 .. W-1).
    """

    def __init__(self, params: AccelParams, read_width: int = 1):
        check_int("read_width", read_width, 1, MAX_READ_WIDTH)
        self.params = params
        self.rows = params.array.rows
        self.phys_cols = params.phys_cols
        self.two_t2r = params.array.cell == "2T2R"
        self.read_width = read_width

    def mode_error(self, c: ArrayCommand) -> bool:
        if not 0 <= c.span < self.read_width:
            raise ValueError(f"span = {c.span} does not fit the decoder's read_width {self.read_width}")
        return bool((c.we and c.re) or ((c.we or c.re) and not c.sel) or (c.pair and c.we)
                    or (c.pair and c.re and not self.two_t2r) or (c.span and not (c.pair and c.re)))

    def range_error(self, c: ArrayCommand) -> bool:
        if not c.sel:
            return False
        last = (((c.phys_col >> 1) + c.span) * 2 + 1) if (c.pair and c.re) else c.phys_col
        return c.row >= self.rows or c.phys_col >= self.phys_cols or last >= self.phys_cols

    def decode(self, c: ArrayCommand) -> LineEnables:
        """Line enables for one command (combinational view; the RTL shows them one cycle later)."""
        if self.mode_error(c) or self.range_error(c):
            return _ERROR
        if not c.sel:
            return IDLE
        if c.pair and c.re:
            cols = ((1 << (2 * (c.span + 1))) - 1) << (c.phys_col & ~1)
        else:
            cols = 1 << c.phys_col
        write = c.we
        return LineEnables(wl=1 << c.row,
                           bl_set=cols if write and c.polarity == SET else 0,
                           sl_reset=cols if write and c.polarity == RESET else 0,
                           bl_read=cols if c.re else 0,
                           write=int(bool(write)), read=int(bool(c.re)), error=0)

    def cycle_model(self, commands: Iterable[ArrayCommand]) -> list[LineEnables]:
        """Outputs in cycles ``0 .. len(commands)``: cycle 0 is the reset state, cycle t+1 decodes
        the command held in cycle t."""
        return [IDLE, *(self.decode(c) for c in commands)]
