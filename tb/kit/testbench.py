"""Base of the per-block cocotb environments: clock, reset, cycle counter and bus-model factories.

Every environment in :mod:`tb.envs` derives its ``TB`` class from :class:`Testbench` (the layout of the
cocotb and cocotbext-axi examples: one object owns the clock, the reset and the bus models, and the
environment hangs its drivers, monitors, golden model and scoreboards off it).

Reset and cycle-0 convention
----------------------------
:meth:`Testbench.reset` (and :func:`clock_and_reset`, its first half) starts ``dut.clk`` (once), drives
the ``idle`` inputs to 0 and holds ``dut.rst`` high for ``reset_cycles`` rising edges (the DUT's
synchronous reset is taken on each of them); ``rst`` is released right after the last of those
edges. Then ``settle_cycles`` more rising edges pass, and the :class:`~tb.kit.stream.CycleCounter`
is (re)started: **cycle 0 is the clock period that starts at the edge where** :meth:`reset`
**returns**, and inputs written right after that return are the inputs of cycle 0.

* ``settle_cycles = 1`` (the default): one idle period with ``rst`` low before cycle 0;
* ``settle_cycles = 0``: cycle 0 is the period right after the release (the edge that ends it is
  the first one the DUT sees with ``rst`` low).

The scoreboards compare cycle stamps, so each environment keeps the values its golden cycle model was
written for; they are constructor arguments (defaults: 3 reset edges, 1 settle edge; the
CrossbarAddressing env holds reset for 2 edges, the UpdateUnit, ArbitrationController and AXI4-Lite
CSR envs start at the release). Phased environments renumber with :meth:`Testbench.restart_counter`
(cycle 0 = the current period). ``tests/tb/test_testbench.py`` checks the convention on a probe DUT.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from tb.kit.stream import CycleCounter, StreamSink, StreamSource

# The AXI4-Lite signals a manager drives (the DUT's inputs on its subordinate port).
AXIL_MANAGER_OUTPUTS = ("awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
                        "araddr", "arprot", "arvalid", "rready")


async def clock_and_reset(dut, *, idle: Iterable[Any] = (), cycles: int = 3, period_ns: int = 10,
                          start_clock: bool = True) -> None:
    """Start ``dut.clk`` (unless ``start_clock`` is false: it already runs), drive the ``idle`` input
    handles to 0 and hold ``dut.rst`` for ``cycles`` rising edges; returns right after releasing reset
    (before the next edge)."""
    if start_clock:
        Clock(dut.clk, period_ns, unit="ns").start()
    for h in idle:
        h.value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0


class Testbench:
    """Clock, reset, shared cycle counter and bus models of one DUT (see the module docstring).

    Parameters
    ----------
    dut :
        The cocotb toplevel handle, with ``clk`` and ``rst``.
    idle : iterable of handles
        Inputs driven to 0 at reset (stream ``valid``/``ready``, strobes, array read-back ...).
    period_ns : int
        Clock period.
    reset_cycles : int
        Rising edges with ``rst`` high.
    settle_cycles : int
        Rising edges between the release of ``rst`` and cycle 0.
    timed : bool
        Time-based :class:`~tb.kit.stream.CycleCounter` (needed by lazy stream drivers and the
        behavioural array); else it counts edges with a coroutine.
    """

    def __init__(self, dut, *, idle: Iterable[Any] = (), period_ns: int = 10, reset_cycles: int = 3,
                 settle_cycles: int = 1, timed: bool = False):
        self.dut = dut
        self.log = dut._log
        self.clk = dut.clk
        self.idle = list(idle)
        self.period_ns = period_ns
        self.reset_cycles = reset_cycles
        self.settle_cycles = settle_cycles
        self.counter = CycleCounter(dut.clk, period=period_ns if timed else None)
        self.clock_running = False

    @property
    def cycle(self) -> int:
        """The current cycle number (read it in ``ReadOnly``; see :class:`~tb.kit.stream.CycleCounter`)."""
        return self.counter.cycle

    async def reset(self) -> CycleCounter:
        """Clock (started once), reset, ``settle_cycles`` edges; returns at the start of cycle 0."""
        await clock_and_reset(self.dut, idle=self.idle, cycles=self.reset_cycles, period_ns=self.period_ns,
                              start_clock=not self.clock_running)
        self.clock_running = True
        if self.settle_cycles:
            await ClockCycles(self.clk, self.settle_cycles)
        return self.restart_counter()

    def restart_counter(self) -> CycleCounter:
        """Number the clock periods anew: cycle 0 is the current one (call right after an edge)."""
        self.counter.stop()
        return self.counter.start()

    # --- bus models -------------------------------------------------------------------------------
    def stream_source(self, prefix: str, layout=None, valid_gen: Iterator[bool] | None = None,
                      **kwargs) -> StreamSource:
        """A :class:`~tb.kit.stream.StreamSource` on the stream input ``<prefix>__*``, stamped by :attr:`counter`."""
        return StreamSource(self.dut, prefix, self.clk, self.counter, layout, valid_gen=valid_gen, **kwargs)

    def stream_sink(self, prefix: str, layout=None, ready_gen: Iterator[bool] | None = None,
                    **kwargs) -> StreamSink:
        """A :class:`~tb.kit.stream.StreamSink` on the stream output ``<prefix>__*``, stamped by :attr:`counter`."""
        return StreamSink(self.dut, prefix, self.clk, self.counter, layout, ready_gen=ready_gen, **kwargs)

    def axis_source(self, prefix: str = "s_axis"):
        """A cocotbext-axi ``AxiStreamSource`` on the AXI4-Stream input ``<prefix>__t*``
        (:class:`hw.axi_stream.AxiStreamSignature`), reset by ``dut.rst``; ``tvalid`` is 0 until it drives."""
        from cocotbext.axi import AxiStreamBus, AxiStreamSource

        getattr(self.dut, f"{prefix}__tvalid").value = 0
        bus = AxiStreamBus.from_prefix(self.dut, f"{prefix}_")     # cocotbext joins with "_": s_axis__tdata
        return AxiStreamSource(bus, self.clk, self.dut.rst, byte_lanes=1)   # one frame element = one word

    def axil_master(self, prefix: str = "s_axil"):
        """A cocotbext-axi ``AxiLiteMaster`` on the AXI4-Lite port ``<prefix>__*`` (Amaranth joins the
        member path with ``__``), reset by ``dut.rst``."""
        from cocotbext.axi import AxiLiteBus, AxiLiteMaster

        for name in AXIL_MANAGER_OUTPUTS:   # 0 until the master drives them (4-state simulators: Z)
            if hasattr(self.dut, f"{prefix}__{name}"):
                getattr(self.dut, f"{prefix}__{name}").value = 0
        bus = AxiLiteBus.from_prefix(self.dut, prefix, bus_separator="__")
        return AxiLiteMaster(bus, self.clk, self.dut.rst)


async def run_phase_list(tb, dut, phases: list, cycles_of, min_cycles: int = 0) -> tuple[list, int]:
    """Run ``phases`` in order through ``await tb.run_phase(k, phase)`` (one idle edge between
    phases), and again with the phase index counting on (new stimulus streams) until at least
    ``min_cycles`` cycles have run (long regressions). A phase that returns None (nothing to run in
    this configuration) is skipped. ``cycles_of(stats)``: the cycles a phase's result says it ran.
    Returns the phases' results and the total cycles."""
    from cocotb.triggers import RisingEdge

    stats, k, cycles = [], 0, 0
    while True:
        for phase in phases:
            st = await tb.run_phase(k, phase)
            k += 1
            if st is None:
                continue
            stats.append(st)
            cycles += cycles_of(st)
            await RisingEdge(tb.clk)
        if cycles >= min_cycles:
            return stats, cycles
        dut._log.info(f"{cycles} cycles so far, 0 mismatches")
