"""AsyncResetTop: any component of the design behind an active-low asynchronous reset input."""
from __future__ import annotations

from amaranth import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hw.reset_synchronizer import ResetSynchronizer


class AsyncResetTop(wiring.Component):
    """Wraps ``inner`` (e.g. :class:`hw.accelerator.Accelerator`) with an ``aresetn`` input.

    The wrapper owns the ``sync`` clock domain: its clock is the ``clk`` port, its reset the output
    of a :class:`hw.reset_synchronizer.ResetSynchronizer` fed by ``aresetn`` (asserted asynchronously,
    released on the second rising edge of ``clk`` after ``aresetn`` rises). The Verilog top therefore
    has ``clk`` and ``aresetn`` and no ``rst`` port; every other port is ``inner``'s, with its name.

    Parameters
    ----------
    inner : wiring.Component
        A component in the ``sync`` domain; its ports are passed through unchanged.

    Attributes
    ----------
    clk : In(1)
        The clock of the ``sync`` domain.
    aresetn : In(1)
        Asynchronous reset, active low (AXI ``ARESETn``).
    (every member of ``inner``'s signature)
        Connected straight through; no added latency.
    """

    def __init__(self, inner: wiring.Component):
        self.inner = inner
        members = dict(inner.signature.members)
        for own in ("clk", "aresetn"):
            if own in members:
                raise ValueError(f"{type(inner).__name__} already has a {own!r} port")
        super().__init__({"clk": In(1), "aresetn": In(1), **members})

    @classmethod
    def accelerator(cls, params) -> AsyncResetTop:
        """The accelerator top (:meth:`hw.accelerator.Accelerator.from_params`) with ``aresetn``."""
        from hw.accelerator import Accelerator

        return cls(Accelerator.from_params(params))

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync")
        m.submodules.reset_sync = rs = ResetSynchronizer("sync")
        m.submodules.inner = inner = self.inner
        m.d.comb += [cd.clk.eq(self.clk), rs.arst_n.eq(self.aresetn), cd.rst.eq(rs.rst)]
        for name, member in inner.signature.members.items():   # straight through
            ours, theirs = getattr(self, name), getattr(inner, name)
            if member.is_signature:
                wiring.connect(m, wiring.flipped(ours), theirs)
            elif member.flow == In:
                m.d.comb += theirs.eq(ours)
            else:
                m.d.comb += ours.eq(theirs)
        return m
