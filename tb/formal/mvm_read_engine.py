"""Formal wrapper of :class:`hw.mvm_read_engine.MvmReadEngine`.

Every input is free in every cycle (frame words, ``o.ready``, the run-time settings, the ADC codes)
except ``prog_active``, which follows the programming side's rule: it may rise only in a cycle after
one in which ``rd_req`` was low (or continue a burst). Properties, in every cycle out of reset:

* ``no_read_during_programming``: ``read`` and ``prog_active`` are never high together;
* ``no_overlap_error``: the sticky ``overlap_error`` never rises (under the rule);
* ``o_stable``: an offered ``y`` is held, unchanged and valid, until it is taken;
* ``frame_error_sticky``: ``frame_error`` never falls.

The block's own assertions (state one-hot, ``read`` equals the READ state, no overlap) hold too and
make k-induction close at a small depth.
"""
from __future__ import annotations

from amaranth import Module

from golden.spec.params import AccelParams
from hw.mvm_read_engine import MvmReadEngine
from tb.formal.harness import FormalTop, drive_free, past


class MvmReadEngineProof(FormalTop):
    """Wrapper around ``block_cls(params)`` (a mutant class may stand in)."""

    def __init__(self, params: AccelParams, block_cls=MvmReadEngine):
        super().__init__()
        self.params, self.block_cls = params, block_cls

    def build(self, m: Module) -> None:
        m.submodules.dut = dut = self.block_cls(self.params)
        drive_free(m, dut.i.valid, dut.i.payload, dut.o.ready, dut.cfg, dut.adc_code, dut.prog_active)
        pa_q = past(m, dut.prog_active, "prog_q")
        rd_q = past(m, dut.rd_req, "rd_req_q")
        self.assume(m, "programming_rule", ~dut.prog_active | pa_q | ~rd_q)
        o = dut.o
        ov_q, or_q = past(m, o.valid, "o_valid_q"), past(m, o.ready, "o_ready_q")
        op_q = past(m, o.payload.as_value(), "o_payload_q")
        fe_q = past(m, dut.frame_error, "frame_error_q")
        self.prop(m, "no_read_during_programming", ~(dut.read & dut.prog_active))
        self.prop(m, "no_overlap_error", ~dut.overlap_error)
        self.prop(m, "o_stable", ~(ov_q & ~or_q) | (o.valid & (o.payload.as_value() == op_q)))
        self.prop(m, "frame_error_sticky", ~fe_q | dut.frame_error)
