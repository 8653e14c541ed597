"""The reset and cycle-0 convention of :class:`tb.kit.testbench.Testbench`, on a probe DUT.

The probe counts the rising edges it sees with ``rst`` high (a reset-less register) and, from 0 at
reset, the edges since; a registered copy of an input shows that the ``idle`` inputs are 0. The same
file is the cocotb test module (``tests.tb.test_testbench``): its cocotb part loads only inside a
simulation.
"""
import pytest
from amaranth.hdl import Module, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class ResetProbe(wiring.Component):
    """``held``: rising edges with ``rst`` high; ``since``: edges since the last one of them;
    ``o``: ``i`` one cycle later."""

    i: In(1)
    o: Out(1)
    held: Out(8)
    since: Out(16)

    def elaborate(self, platform):
        m = Module()
        held = Signal(8, reset_less=True)
        since = Signal(16)
        with m.If(ResetSignal()):
            m.d.sync += held.eq(held + 1)
        m.d.sync += [since.eq(since + 1), self.o.eq(self.i)]
        m.d.comb += [self.held.eq(held), self.since.eq(since)]
        return m


CASES = [  # reset_cycles, settle_cycles, timed counter
    (3, 1, False),
    (2, 1, True),
    (3, 0, False),
]


@pytest.mark.cocotb
@pytest.mark.parametrize("reset_cycles, settle_cycles, timed", CASES,
                         ids=[f"rst{r}-settle{s}-{'timed' if t else 'edges'}" for r, s, t in CASES])
def test_reset_and_cycle_zero(reset_cycles, settle_cycles, timed):
    from tb.kit.runner import run_cocotb

    run_cocotb(ResetProbe(), toplevel="reset_probe", test_module="tests.tb.test_testbench",
               config={"reset_cycles": reset_cycles, "settle_cycles": settle_cycles, "timed": timed})


try:  # the cocotb part only loads inside a simulation
    import cocotb
    _HAVE_COCOTB = cocotb.is_simulation
except ImportError:  # pragma: no cover
    _HAVE_COCOTB = False

if _HAVE_COCOTB:
    from cocotb.triggers import ReadOnly, RisingEdge

    from tb.kit.runner import test_config
    from tb.kit.testbench import Testbench

    async def check_cycles(tb: Testbench, held: int, first_since: int, n: int = 4) -> None:
        """In ``ReadOnly`` of cycles 0 .. n-1: the counter, the edges seen in reset and since."""
        dut = tb.dut
        for c in range(n):
            await ReadOnly()
            got = (tb.cycle, int(dut.held.value), int(dut.since.value), int(dut.o.value))
            assert got == (c, held, first_since + c, 0), f"cycle {c}: (cycle, held, since, o) = {got}"
            await RisingEdge(tb.clk)

    @cocotb.test()
    async def reset_convention(dut):
        """Reset held for ``reset_cycles`` edges; cycle 0 starts ``settle_cycles`` edges after the
        release; a second reset on the running clock and a counter restart number the same way."""
        cfg = test_config()
        r, s = cfg["reset_cycles"], cfg["settle_cycles"]
        dut.i.value = 1        # an idle input: the reset drives it to 0
        tb = Testbench(dut, idle=[dut.i], reset_cycles=r, settle_cycles=s, timed=cfg["timed"])
        await tb.reset()
        await check_cycles(tb, held=r, first_since=s)
        dut.i.value = 1
        await tb.reset()       # the clock keeps running (phased environments)
        await check_cycles(tb, held=2 * r, first_since=s)
        dut.i.value = 0
        await RisingEdge(tb.clk)
        tb.restart_counter()   # cycle 0 = the current period
        await check_cycles(tb, held=2 * r, first_since=s + 5)
