"""Formal wrapper of :class:`hw.axil_csr.AxiLiteCsr` (the accelerator's register map): AXI4-Lite rules.

Every input is free: the manager's channels (it need not even keep ``valid`` up), the registers'
hardware inputs, the push streams' ``ready`` and ``push_refuse``. The wrapper counts transfers:
``AW``, ``W``, ``B``, ``AR``, ``R``. Properties, in every cycle out of reset:

* ``b_stable`` / ``r_stable``: a B (R) response offered and not taken stays offered, unchanged, in
  the next cycle;
* ``no_b_before_aw_and_w``: a B response is offered only while more AW and more W transfers than
  B transfers happened;
* ``one_outstanding_read``: AR transfers exceed R transfers by at most one, and ``rvalid`` is high
  exactly while they do;
* ``okay_or_slverr``: ``bresp`` and ``rresp`` are ``OKAY`` or ``SLVERR`` whenever valid.

With ``liveness``, the manager keeps ``bready`` high (an assumption), and

* ``write_answered_in_time``: every write, from the cycle its later half (AW or W) transfers, gets
  its B transfer within ``2 * (push_wait + 1) + 1`` cycles (a commit waits at most ``push_wait + 1``
  cycles for a push target, and a write may complete behind one that waits in the two-entry queue;
  the response leaves the B buffer in the next cycle). The watched write is an arbitrary one (a
  free input picks it), so the proof covers them all.

``helper_*`` tie the transfer counts to the block's AW/W queues and B buffer, and the
registered push-wait expiry to its counter (probes).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.asserts import AnySeq
from amaranth.lib import wiring

from golden.spec.register_map.description import OKAY, SLVERR, RegisterMap
from hw.axil_csr import AxiLiteCsr
from tb.formal.harness import FormalTop, drive_free, past
from tb.formal.probe import elaborate_with_probes


class AxiLiteCsrProof(FormalTop):
    """Wrapper around ``block_cls(regmap)`` (a mutant class may stand in)."""

    def __init__(self, regmap: RegisterMap, *, liveness: bool = False, block_cls=AxiLiteCsr):
        super().__init__()
        self.regmap, self.liveness, self.block_cls = regmap, liveness, block_cls
        #: a write is answered at most 2 * (push_wait + 1) + 1 cycles after it completes (bready held
        #: high): the write ahead of it in the two-entry queue may wait push_wait + 1 cycles, then
        #: this one as long, and its response leaves the B buffer in the next cycle
        self.bound = 2 * (regmap.push_wait + 1) + 1

    def build(self, m: Module) -> None:
        dut = self.block_cls(self.regmap)
        sub, pr = elaborate_with_probes(dut, "aw_n", "w_n", "aw_ne", "w_ne", "v0", "v1", "r0", "r1",
                                        "waited", "expired")
        m.submodules.dut = sub
        drive_free(m, *(v for _path, member, v in dut.signature.flatten(dut) if member.flow == wiring.In))
        bus = dut.s_axil
        if self.liveness:
            self.assume(m, "bready_high", bus.bready)

        aw_x, w_x = bus.awvalid & bus.awready, bus.wvalid & bus.wready
        b_x, ar_x, r_x = bus.bvalid & bus.bready, bus.arvalid & bus.arready, bus.rvalid & bus.rready
        pend_aw, pend_w, pend_r = Signal(3), Signal(3), Signal(2)   # AW (W, AR) transfers not yet answered
        m.d.sync += [pend_aw.eq(pend_aw + aw_x - b_x), pend_w.eq(pend_w + w_x - b_x), pend_r.eq(pend_r + ar_x - r_x)]

        b_wait = past(m, bus.bvalid & ~bus.bready, "b_wait")
        r_wait = past(m, bus.rvalid & ~bus.rready, "r_wait")
        bresp_q, rresp_q, rdata_q = past(m, bus.bresp, "bresp_q"), past(m, bus.rresp, "rresp_q"), past(m, bus.rdata, "rdata_q")
        self.prop(m, "b_stable", ~b_wait | (bus.bvalid & (bus.bresp == bresp_q)))
        self.prop(m, "r_stable", ~r_wait | (bus.rvalid & (bus.rresp == rresp_q) & (bus.rdata == rdata_q)))
        self.prop(m, "no_b_before_aw_and_w", ~bus.bvalid | (pend_aw.any() & pend_w.any()))
        self.prop(m, "one_outstanding_read", (pend_r <= 1) & (bus.rvalid == (pend_r == 1)))
        ok = lambda resp: (resp == OKAY) | (resp == SLVERR)
        self.prop(m, "okay_or_slverr", (~bus.bvalid | ok(bus.bresp)) & (~bus.rvalid | ok(bus.rresp)))

        in_b = pr["v0"] + pr["v1"]
        self.prop(m, "helper_write_counts", (pend_aw == pr["aw_n"] + in_b) & (pend_w == pr["w_n"] + in_b)
                  & (pr["aw_n"] <= 2) & (pr["w_n"] <= 2)
                  & (pr["aw_ne"] == pr["aw_n"].any()) & (pr["w_ne"] == pr["w_n"].any())
                  & (~pr["v1"] | pr["v0"]) & ok(pr["r0"]) & ok(pr["r1"]))
        if self.liveness:
            self._liveness(m, pend_aw, pend_w, aw_x, w_x, b_x, pr)

    def _liveness(self, m: Module, pend_aw, pend_w, aw_x, w_x, b_x, pr) -> None:
        """Watch one arbitrary write from its completion to its B transfer."""
        done = Mux(pend_aw < pend_w, pend_aw, pend_w)               # complete writes not yet answered
        a2, w2 = pend_aw + aw_x, pend_w + w_x
        completes = Mux(a2 < w2, a2, w2) > done
        armed, ahead, timer = Signal(), Signal(3), Signal(range(self.bound + 2))
        pick = AnySeq(1)
        with m.If(armed):
            m.d.sync += timer.eq(Mux(timer > self.bound, timer, timer + 1))
            with m.If(b_x):
                with m.If(ahead == 0):
                    m.d.sync += armed.eq(0)
                with m.Else():
                    m.d.sync += ahead.eq(ahead - 1)
        with m.Elif(completes & pick):
            m.d.sync += [armed.eq(1), ahead.eq(done - b_x), timer.eq(1)]
        self.prop(m, "write_answered_in_time", ~armed | (timer <= self.bound))
        # helper: the watched write is still in the block (queued, or in the B buffer behind `ahead`)
        in_b = pr["v0"] + pr["v1"]
        queued = Mux(pr["aw_n"] < pr["w_n"], pr["aw_n"], pr["w_n"])   # complete writes in the queues
        self.prop(m, "helper_watched_write", ~armed | (ahead < in_b + queued))
        # helper: the registered push-wait expiry follows the wait counter
        self.prop(m, "helper_expiry", pr["expired"] == (pr["waited"] == self.regmap.push_wait))
