"""Behavioural ReRAM array for cocotb: the golden device model on the DUT's line enables.

Boundary: the ports an analog crossbar macro sees, i.e. the outputs of
:class:`hw.crossbar_addressing.CrossbarAddressing` -- one-hot ``wl`` (rows), ``bl_set``, ``sl_reset``,
``bl_read`` (phys_cols each), the global strobes ``write`` (write drivers fire) and ``read`` (sense path
on) -- and the array's read-out, the DUT input ``adc`` (ADC code).

The model sleeps until a strobe rises (``RisingEdge(write)`` / ``RisingEdge(read)``; one Python wake-up
per edge, none per idle cycle). The strobe's edge callback runs while the clock edge's other register
updates may still be pending (Icarus updates registers one by one; Verilator has them all done), so the
lines are read only once the edge has settled: in ``ReadOnly`` for a write, in ``ReadWrite`` for a
read, which must still drive ``adc`` (the lines are registered outputs, settled by then in every
simulator):

* rising ``write``: decode the one word line and the one driven column (``bl_set``: SET, ``sl_reset``:
  RESET), apply one pulse of :class:`golden.physics.device.DeviceModel` to that device through a
  :class:`golden.physics.crossbar_state.CrossbarArray` (its own pulse counter ``k``; device id
  ``row * phys_cols + phys_col``), record :class:`golden.spec.transactions.Pulse`; the falling edge gives
  the pulse width.
* rising ``read``: decode the device (one column, or the two of a 2T2R pair: the lower one is read),
  drive ``adc`` with :meth:`CrossbarArray.read_code` in the same cycle (combinational array; the data
  holds until the next read), record a read window.

Line-level invariants are checked at every strobe edge (at most one word line, one column per pulse,
never SET and RESET on one column, never a write while the read path is on, address inside the
array) and, at the end, on the recorded windows (:meth:`ArrayModel.check_windows`). Violations are
collected in :attr:`ArrayModel.violations` with their cycle.

Cycle stamps come from a time-based :class:`tb.kit.stream.CycleCounter` (exact at any wake-up point),
minus the addressing latency so they are comparable with the scheduler's command-port cycles.
"""
from __future__ import annotations

from dataclasses import dataclass

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, ReadWrite, RisingEdge

from golden.physics.crossbar_state import CrossbarArray
from golden.spec.transactions import RESET, SET, Pulse


@dataclass(frozen=True)
class Window:
    """A strobe high from cycle ``start`` to ``end`` (exclusive)."""

    start: int
    end: int


def _one_hot(v: int) -> int | None:
    """Index of the single set bit of ``v`` (None if zero or several bits)."""
    if v == 0 or v & (v - 1):
        return None
    return v.bit_length() - 1


class ArrayModel:
    """Attach a :class:`CrossbarArray` to a DUT that exposes the macro ports listed in the module doc.

    Parameters
    ----------
    dut :
        cocotb handle with ``wl``, ``bl_set``, ``sl_reset``, ``bl_read``, ``write``, ``read``, ``adc``.
    array : CrossbarArray
        The conductance state (the testbench's own instance; compare with the golden's at the end).
    counter : tb.kit.stream.CycleCounter
        Time-based counter (``CycleCounter(clk, period=...)``), started at cycle 0.
    latency : int
        Cycles from the command to the lines (``CrossbarAddressing.LATENCY``); subtracted from the
        recorded stamps so they are comparable with the scheduler's golden (command-port) cycles.
    drive_adc : bool
        Drive the DUT input ``adc`` with each read's code (False for a DUT without one: the codes
        are still recorded in :attr:`reads`).
    """

    def __init__(self, dut, array: CrossbarArray, *, counter, latency: int = 0, drive_adc: bool = True):
        if counter.period is None:
            raise ValueError("ArrayModel needs a time-based CycleCounter(clk, period=...)")
        self.dut = dut
        self.array = array
        self.counter = counter
        self.latency = latency
        self.drive_adc = drive_adc
        self.pulses: list[Pulse] = []
        self.write_windows: list[Window] = []
        self.read_windows: list[Window] = []
        self.reads: list[tuple[int, int, int, int]] = []   # (cycle, row, phys_col, code)
        self.violations: list[str] = []
        self._tasks = []

    def cycle(self) -> int:
        return self.counter.cycle - self.latency

    def start(self) -> ArrayModel:
        self._tasks = [cocotb.start_soon(self._writes()), cocotb.start_soon(self._reads())]
        return self

    def _bad(self, cycle: int, what: str) -> None:
        self.violations.append(f"cycle {cycle}: {what}")

    def _row(self, cycle: int) -> int | None:
        row = _one_hot(int(self.dut.wl.value))
        if row is None or row >= self.array.rows:
            self._bad(cycle, f"word lines {int(self.dut.wl.value):#x} are not one-hot inside the array")
            return None
        return row

    async def _writes(self) -> None:
        dut = self.dut
        rise, fall = RisingEdge(dut.write), FallingEdge(dut.write)
        while True:
            await rise
            await ReadOnly()   # the other lines of this edge have been updated
            c = self.cycle()
            s, r, rd = int(dut.bl_set.value), int(dut.sl_reset.value), int(dut.bl_read.value)
            if s & r:
                self._bad(c, f"column(s) {s & r:#x} driven to SET and RESET at once")
            if rd or int(dut.read.value):
                self._bad(c, "write pulse while the read path is on")
            row = self._row(c)
            col = _one_hot(s | r)
            if col is None or col >= self.array.phys_cols:
                self._bad(c, f"pulse drives columns {s | r:#x}, not exactly one inside the array")
            elif row is not None:
                pol = SET if s else RESET
                self.array.pulse(row, col, pol)
                self.pulses.append(Pulse(c, row, col, pol))
            await fall
            self.write_windows.append(Window(c, self.cycle()))

    async def _reads(self) -> None:
        dut = self.dut
        rise, fall = RisingEdge(dut.read), FallingEdge(dut.read)
        while True:
            await rise
            await ReadWrite()   # after the edge's register updates, still allowed to drive adc
            c = self.cycle()
            cols = int(dut.bl_read.value)
            if int(dut.bl_set.value) | int(dut.sl_reset.value) or int(dut.write.value):
                self._bad(c, "read while a write driver is on")
            row = self._row(c)
            col = _one_hot(cols)
            low = (cols & -cols).bit_length() - 1
            if col is None and low >= 0 and low % 2 == 0 and cols == 3 << low:
                col = low   # 2T2R pair read (columns 2m, 2m+1): the BL device is read
            if col is None or col >= self.array.phys_cols:
                self._bad(c, f"read selects columns {cols:#x}, not one device (or pair) inside the array")
            elif row is not None:
                code = self.array.read_code(row, col)
                if self.drive_adc:
                    dut.adc.value = code
                self.reads.append((c, row, col, code))
            await fall
            self.read_windows.append(Window(c, self.cycle()))

    def check_windows(self, width: int | None = None) -> list[str]:
        """Final checks on the recorded strobes: pulse widths equal ``width`` (if given) and no write
        window overlaps a read window. Returns (and appends to) the violations."""
        out = []
        if width is not None:
            out += [f"cycle {w.start}: pulse width {w.end - w.start}, expected {width}"
                    for w in self.write_windows if w.end - w.start != width]
        ws = sorted(self.write_windows, key=lambda w: w.start)
        rs = sorted(self.read_windows, key=lambda w: w.start)
        i = j = 0
        while i < len(ws) and j < len(rs):
            a, b = ws[i], rs[j]
            if a.start < b.end and b.start < a.end:
                out.append(f"cycle {max(a.start, b.start)}: write window {a} overlaps read window {b}")
            if a.end <= b.end:
                i += 1
            else:
                j += 1
        self.violations += out
        return out
