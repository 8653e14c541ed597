"""ResetSynchronizer: an active-low asynchronous reset input turned into a synchronous-release reset."""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.cdc import AsyncFFSynchronizer
from amaranth.lib.wiring import In, Out

from golden.spec.checks import check_int

STAGES = 2


class ResetSynchronizer(wiring.Component):
    """Two flip-flops, asynchronous assertion, synchronous deassertion (AXI ``ARESETn`` style).

    Built on :class:`amaranth.lib.cdc.AsyncFFSynchronizer` (a platform may map it to library cells).
    The flops are clocked by ``domain``'s clock and are not reset by that domain's reset (they make it).

    Parameters
    ----------
    domain : str
        Clock domain whose clock releases the reset.
    stages : int, 2..8
        Flip-flops in the chain: the release latency in rising edges.

    Attributes
    ----------
    arst_n : In(1)
        Asynchronous reset, active low; any width of low pulse is caught.
    rst : Out(1)
        Active-high reset: rises as soon as ``arst_n`` falls (no clock needed), falls on the
        ``stages``-th rising edge of the clock after ``arst_n`` rose (a rising edge that coincides
        with the release does not count: the first flop may sample either value, the second does not
        pass a metastable one). High from power-up until then (the flops' initial value is 1 only in
        simulation; in silicon ``arst_n`` must be asserted once).
    """

    def __init__(self, domain: str = "sync", stages: int = STAGES):
        try:
            check_int("stages", stages, 2, 8)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.domain, self.stages = domain, stages
        super().__init__({"arst_n": In(1), "rst": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.sync_ff = AsyncFFSynchronizer(self.arst_n, self.rst, o_domain=self.domain,
                                                   stages=self.stages, async_edge="neg")
        return m
