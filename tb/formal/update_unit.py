"""Formal wrappers of :class:`hw.update_unit.UpdateUnit`: the chi rule against a reference expression.

The reference is the rule of :func:`golden.twins.update_unit.update_rule` written as plain
arithmetic (a sum, a clamp, an integer division by the constant ``eps``, a minimum), independent of
the RTL's restoring division::

    s = clamp(chi + dw, chi range);  n = min(|s| // eps, max_count);  count = sign(s) * n;  chi' = s - count * eps

Inputs are free (requests with any address, ``o.ready``, ``clear``).

:class:`UpdateRuleProof` (k-induction) checks the datapath for *every* stored chi: whenever stage B
holds a request, whatever the memory returns as its chi,

* ``saturation``: the block's saturated sum equals ``clamp(chi + dw)``;
* ``chi_residue``: a completing legal request writes ``chi'`` at ``row * cols + col``, an illegal
  one writes nothing;
* ``pulse_count``: ``o`` offers exactly one PulseCount ``(row, col, count)`` per completing legal
  request with ``count != 0``, nothing else.

:class:`UpdateMemoryProof` (bounded, ``mode bmc``) adds the accumulator memory: the wrapper keeps
its own chi per synapse (0 after reset and ``clear``), and checks

* ``chi_memory``: the chi the block reads for a request is the reference chi of that synapse
  (read-during-write of back-to-back requests included);
* ``end_to_end_counts``: the PulseCounts follow from the reference memory.

Induction is out of reach for the memory proof without naming every memory word from the wrapper
(Amaranth has no hierarchical reference into a ``Memory``), so it is bounded: its depth covers the
clear walk and a dozen requests after it.
"""
from __future__ import annotations

from amaranth import Const, Module, Mux, Signal, signed

from golden.spec.params import AccelParams
from hw.update_unit import UpdateUnit
from tb.formal.harness import FormalTop, drive_free
from tb.formal.probe import elaborate_with_probes


def reference_rule(m: Module, params: AccelParams, chi, dw, name: str = "ref"):
    """``(s, count, chi_new)`` of the chi rule as Amaranth expressions on signed ``chi``, ``dw``."""
    u = params.update
    cw = u.chi_width
    lo, hi = -(1 << (cw - 1)), (1 << (cw - 1)) - 1
    total = Signal(signed(cw + 2), name=f"{name}_total")
    s = Signal(signed(cw), name=f"{name}_s")
    mag = Signal(cw, name=f"{name}_mag")
    n = Signal(u.count_width, name=f"{name}_n")
    q = Signal(cw, name=f"{name}_q")
    count = Signal(signed(u.count_width + 1), name=f"{name}_count")
    chi_new = Signal(signed(cw), name=f"{name}_chi")
    m.d.comb += [
        total.eq(chi + dw),
        s.eq(Mux(total > hi, hi, Mux(total < lo, lo, total))),
        mag.eq(Mux(s < 0, -s, s)),
        q.eq(mag // Const(u.eps, cw)),
        n.eq(Mux(q > u.max_count, u.max_count, q)),
        count.eq(Mux(s < 0, -n, n)),
        chi_new.eq(s - count * u.eps),
    ]
    return s, count, chi_new


class _UpdateUnitTop(FormalTop):
    PROBES = ("b_valid", "b_ok", "b_go", "b_row", "b_col", "b_dw", "r_data", "s", "w_en", "w_addr", "w_data",
              "clearing")

    def __init__(self, params: AccelParams, block_cls=UpdateUnit):
        super().__init__()
        self.params, self.block_cls = params, block_cls

    def _block(self, m: Module):
        dut = self.block_cls(self.params)
        sub, pr = elaborate_with_probes(dut, *self.PROBES)
        m.submodules.dut = sub
        drive_free(m, dut.i.valid, dut.i.payload, dut.o.ready, dut.clear)
        return dut, pr

    def _expected_output(self, m: Module, dut, commit, count, row, col) -> None:
        """``pulse_count``: the output register holds exactly the PulseCounts with count != 0."""
        o_free = ~dut.o.valid | dut.o.ready
        e_valid, e_count = Signal(), Signal.like(dut.o.payload.count)
        e_row, e_col = Signal.like(dut.o.payload.row), Signal.like(dut.o.payload.col)
        with m.If(o_free):
            m.d.sync += [e_valid.eq(commit & count.any()), e_count.eq(count), e_row.eq(row), e_col.eq(col)]
        op = dut.o.payload
        return (dut.o.valid == e_valid) & (~e_valid | ((op.count == e_count) & (op.row == e_row) & (op.col == e_col)))


class UpdateRuleProof(_UpdateUnitTop):
    """The chi rule of stage B for any stored chi (k-induction)."""

    def build(self, m: Module) -> None:
        p = self.params
        dut, pr = self._block(m)
        s_ref, count_ref, chi_ref = reference_rule(m, p, pr["r_data"], pr["b_dw"])
        commit = pr["b_go"] & pr["b_ok"]
        addr = pr["b_row"] * p.array.cols + pr["b_col"]
        self.prop(m, "saturation", ~pr["b_valid"] | (pr["s"] == s_ref))
        self.prop(m, "chi_residue", pr["clearing"] | (
            (pr["w_en"] == commit) & (~commit | ((pr["w_addr"] == addr) & (pr["w_data"] == chi_ref)))))
        self.prop(m, "pulse_count", self._expected_output(m, dut, commit, count_ref, pr["b_row"], pr["b_col"]))


class UpdateMemoryProof(_UpdateUnitTop):
    """The accumulator memory end to end, from reset (bounded)."""

    def build(self, m: Module) -> None:
        p = self.params
        dut, pr = self._block(m)
        words = p.array.rows * p.array.cols
        ref = [Signal(signed(p.update.chi_width), name=f"ref_chi{k}") for k in range(words)]
        b_addr = Signal(range(max(2, p.array.rows * p.array.cols + p.array.cols)))
        m.d.comb += b_addr.eq(pr["b_row"] * p.array.cols + pr["b_col"])
        chi = Signal(signed(p.update.chi_width))
        for k in range(words):
            with m.If(b_addr == k):
                m.d.comb += chi.eq(ref[k])
        _, count_ref, chi_ref = reference_rule(m, p, chi, pr["b_dw"])
        commit = pr["b_go"] & pr["b_ok"] & ~dut.clear
        with m.If(dut.clear):
            m.d.sync += [r.eq(0) for r in ref]
        with m.Elif(commit):
            for k in range(words):
                with m.If(b_addr == k):
                    m.d.sync += ref[k].eq(chi_ref)
        self.prop(m, "chi_memory", ~(pr["b_valid"] & pr["b_ok"]) | (pr["r_data"] == chi))
        self.prop(m, "end_to_end_counts",
                  self._expected_output(m, dut, commit, count_ref, pr["b_row"], pr["b_col"]))
