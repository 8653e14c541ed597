"""Every formal proof and every mutant, with the parameter sets they use.

A proof is a wrapper from :mod:`tb.formal` built on the real block from an
:class:`~golden.spec.params.AccelParams`, a SymbiYosys mode and a depth. Parameter sets are small
(the proof time grows with the state) but not degenerate: sizes that are not powers of two (so
out-of-range addresses exist), counters whose period is neither 1 nor a power of two, saturating
pulse counts, 1T1R and 2T2R, with and without program-and-verify.

A mutant is the proven block with one source line broken (:class:`tb.formal.mutation.Mutation`);
its proof, restricted to the one property the mutant targets, must fail with a counterexample from
reset (``mode bmc`` at ``depth``). ``quick`` marks the proofs and mutants that ``make test`` runs;
``make formal`` runs all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from golden.spec.params import AccelParams
from golden.spec.register_map.accelerator_map import accelerator_register_map
from tb.formal.arbitration_controller import ArbitrationControllerProof
from tb.formal.axil_csr import AxiLiteCsrProof
from tb.formal.crossbar_addressing import CrossbarAddressingProof
from tb.formal.harness import FormalTop
from tb.formal.mutation import Mutation
from tb.formal.mvm_read_engine import MvmReadEngineProof
from tb.formal.outer_product_engine import (
    EngineChiProof,
    EngineControlProof,
    EngineRuleProof,
    describe,
    proof_params,
)
from tb.formal.pulse_scheduler import PulseSchedulerProof
from tb.formal.update_unit import UpdateMemoryProof, UpdateRuleProof

# --- parameter sets ---------------------------------------------------------------------------------
PS_VERIFY = AccelParams().with_(array={"rows": 3, "cols": 3}, synapse={"devices": 2},
                                timing={"setup": 1, "width": 2, "gap": 1, "settle": 1, "read": 2, "verify": True})
PS_PLAIN = AccelParams().with_(array={"rows": 5, "cols": 2}, synapse={"devices": 3, "increment": 2},
                               timing={"setup": 2, "width": 1, "gap": 2, "settle": 1, "read": 1, "verify": False})
XB_1T1R = AccelParams().with_(array={"rows": 5, "cols": 3}, synapse={"devices": 2})
XB_2T2R = AccelParams().with_(array={"rows": 3, "cols": 3, "cell": "2T2R"}, synapse={"devices": 2})
SMALL_UPDATE = {"dw_width": 4, "chi_width": 6, "eps": 3, "count_width": 2}
AC_DIFF = AccelParams().with_(array={"rows": 2, "cols": 2}, update=SMALL_UPDATE,
                              synapse={"devices": 3, "increment": 2, "differential": True, "pot_period": 2,
                                       "dep_period": 3, "refresh_pulses": 2})
AC_PLAIN = AccelParams().with_(array={"rows": 3, "cols": 2}, update=SMALL_UPDATE,
                               synapse={"devices": 4, "increment": 3, "pot_period": 1, "dep_period": 2})
UU = AccelParams().with_(array={"rows": 2, "cols": 3}, update=SMALL_UPDATE)
# OuterProductEngine: 3 x 3, P = 2 (the second column group has one idle lane), one delta and one x
# word per frame; eps 4 (count and residue as bit slices) and eps 3 (restoring division stages)
OPE_POW2 = proof_params(eps=4)
OPE_DIV = proof_params(eps=3)
OPE_CONTROL = ("o_stable", "frame_error_sticky", "bad_frame_no_output", "clear_walk", "no_output_while_clearing")
OPE_RULE = ("saturation", "chi_residue", "rule_count")
OPE_CHI = ("o_addr_in_range", "synapse_pulses")
AXIL_PUSH_WAIT = 3
# MvmReadEngine: 3 x 2 synapses, N = 1 differential (D = 2), 2-bit inputs (one word per frame), 2-bit
# ADCs, 2 lines per ADC; settle and conversion times free (cfg)
MVM = AccelParams().with_(array={"rows": 3, "cols": 2}, synapse={"devices": 1, "differential": True},
                          mvm={"input_width": 2, "adc_width": 2, "cols_per_adc": 2, "out_width": 8, "g_bits": 8})
MVM_PROPS = ("no_read_during_programming", "no_overlap_error", "o_stable", "frame_error_sticky")
AXIL_MAP = accelerator_register_map(AccelParams(), push_wait=AXIL_PUSH_WAIT)
AXIL_BOUND = 2 * (AXIL_PUSH_WAIT + 1) + 1   # AxiLiteCsrProof.bound: a write may queue behind a waiting one


@dataclass(frozen=True)
class ProofSpec:
    """One SymbiYosys proof: ``make(block_cls)`` builds the wrapper (None: the real block)."""

    name: str
    block: str
    params: str               # the parameter set, for the report
    mode: str                 # prove (k-induction) or bmc (bounded)
    depth: int
    make: Callable[[type | None], FormalTop]
    properties: tuple[str, ...]
    quick: bool = False
    solver: str = "yices"


@dataclass(frozen=True)
class MutantSpec:
    """One mutant: ``mutation`` must make property ``prop`` of proof ``proof`` fail within ``depth``."""

    proof: str
    prop: str
    mutation: Mutation
    depth: int
    quick: bool = False

    @property
    def name(self) -> str:
        return f"{self.proof}__{self.prop}"


def _kw(cls):
    return {} if cls is None else {"block_cls": cls}


PROOFS = (
    ProofSpec("pulse_scheduler_verify", "PulseScheduler",
              "3x3, D=2, S/W/G/T/R=1/2/1/1/2, verify, read latency 1, count 1..255", "prove", 4,
              lambda c: PulseSchedulerProof(PS_VERIFY, read_latency=1, **_kw(c)),
              ("one_polarity_per_request", "no_write_during_read", "exact_pulse_count", "address_in_range",
               "hold_exclusion", "phases_one_hot"), quick=True),
    ProofSpec("pulse_scheduler_plain", "PulseScheduler",
              "5x2, D=3, S/W/G/T/R=2/1/2/1/1, no verify, read latency 0, count 1..255", "prove", 4,
              lambda c: PulseSchedulerProof(PS_PLAIN, read_latency=0, **_kw(c)),
              ("one_polarity_per_request", "no_write_during_read", "exact_pulse_count", "address_in_range",
               "hold_exclusion", "phases_one_hot")),
    ProofSpec("crossbar_addressing_1t1r", "CrossbarAddressing", "1T1R, 5 rows, 6 columns", "prove", 2,
              lambda c: CrossbarAddressingProof(XB_1T1R, **_kw(c)),
              ("one_word_line", "no_set_and_reset_column", "read_write_exclusive", "strobes_match_lines",
               "error_drives_nothing"), quick=True),
    ProofSpec("crossbar_addressing_2t2r", "CrossbarAddressing", "2T2R, 3 rows, 6 columns, word reads W=2",
              "prove", 2, lambda c: CrossbarAddressingProof(XB_2T2R, read_width=2, **_kw(c)),
              ("one_word_line", "no_set_and_reset_column", "read_write_exclusive", "strobes_match_lines",
               "error_drives_nothing")),
    ProofSpec("arbitration_differential", "ArbitrationController",
              "N=3, increment 2, differential, pot/dep period 2/3, refresh 2 pulses", "prove", 3,
              lambda c: ArbitrationControllerProof(AC_DIFF, **_kw(c)),
              ("selection_sequence", "pot_dep_periods", "program_requests")),
    ProofSpec("arbitration_plain", "ArbitrationController",
              "N=4, increment 3, pot/dep period 1/2, refresh 1 pulse", "prove", 3,
              lambda c: ArbitrationControllerProof(AC_PLAIN, **_kw(c)),
              ("selection_sequence", "pot_dep_periods", "program_requests")),
    ProofSpec("update_unit_rule", "UpdateUnit", "2x3, dW 4 b, chi 6 b, eps 3, count 0..3", "prove", 3,
              lambda c: UpdateRuleProof(UU, **_kw(c)), ("saturation", "chi_residue", "pulse_count"), quick=True),
    ProofSpec("update_unit_memory", "UpdateUnit", "2x3, dW 4 b, chi 6 b, eps 3, count 0..3", "bmc", 12,
              lambda c: UpdateMemoryProof(UU, **_kw(c)), ("chi_memory", "end_to_end_counts")),
    ProofSpec("outer_product_engine_control", "OuterProductEngine", describe(OPE_POW2), "prove", 4,
              lambda c: EngineControlProof(OPE_POW2, **_kw(c)), OPE_CONTROL, quick=True),
    ProofSpec("outer_product_engine_control_div", "OuterProductEngine", describe(OPE_DIV), "prove", 4,
              lambda c: EngineControlProof(OPE_DIV, **_kw(c)), OPE_CONTROL),
    ProofSpec("outer_product_engine_rule_pow2", "OuterProductEngine", describe(OPE_POW2) + ", any chi and dW",
              "prove", 2, lambda c: EngineRuleProof(OPE_POW2, **_kw(c)), OPE_RULE),
    ProofSpec("outer_product_engine_rule_div", "OuterProductEngine", describe(OPE_DIV) + ", any chi and dW",
              "prove", 2, lambda c: EngineRuleProof(OPE_DIV, **_kw(c)), OPE_RULE),
    ProofSpec("outer_product_engine_chi_pow2", "OuterProductEngine", describe(OPE_POW2) + ", one synapse, no clear",
              "bmc", 24, lambda c: EngineChiProof(OPE_POW2, **_kw(c)), OPE_CHI),
    ProofSpec("outer_product_engine_chi_div", "OuterProductEngine", describe(OPE_DIV) + ", one synapse, no clear",
              "bmc", 26, lambda c: EngineChiProof(OPE_DIV, **_kw(c)), OPE_CHI),
    ProofSpec("axil_csr_safety", "AxiLiteCsr", f"accelerator register map, push_wait {AXIL_PUSH_WAIT}",
              "prove", 3, lambda c: AxiLiteCsrProof(AXIL_MAP, **_kw(c)),
              ("b_stable", "r_stable", "no_b_before_aw_and_w", "one_outstanding_read", "okay_or_slverr"),
              quick=True),
    ProofSpec("mvm_read_engine", "MvmReadEngine", "3x2, N=1 differential, b=2, A=2, 2 lines per ADC",
              "prove", 3, lambda c: MvmReadEngineProof(MVM, **_kw(c)), MVM_PROPS, quick=True),
    ProofSpec("axil_csr_liveness", "AxiLiteCsr",
              f"accelerator register map, push_wait {AXIL_PUSH_WAIT}, bready high, bound {AXIL_BOUND}",
              "prove", AXIL_BOUND + 2, lambda c: AxiLiteCsrProof(AXIL_MAP, liveness=True, **_kw(c)),
              ("write_answered_in_time",)),
)


def _ps(old, new):
    return Mutation("hw.pulse_scheduler", "PulseScheduler", old, new)


def _xb(old, new):
    return Mutation("hw.crossbar_addressing", "CrossbarAddressing", old, new)


def _ac(old, new):
    return Mutation("hw.arbitration_controller", "ArbitrationController", old, new)


def _uu(old, new):
    return Mutation("hw.update_unit", "UpdateUnit", old, new)


def _ope(old, new):
    return Mutation("hw.outer_product_engine", "OuterProductEngine", old, new)


def _mvm(old, new):
    return Mutation("hw.mvm_read_engine", "MvmReadEngine", old, new)


def _ax(old, new):
    return Mutation("hw.axil_csr", "AxiLiteCsr", old, new)


MUTANTS = (
    # PulseScheduler: the polarity flips between two pulses; the verify read also pulses; one
    # pulse too few; a row outside the array is accepted; a gap never ends
    MutantSpec("pulse_scheduler_verify", "one_polarity_per_request",
               _ps("m.d.sync += [gap.eq(0), pulse.eq(1), cmd.we.eq(1), load(t.width)]",
                   "m.d.sync += [gap.eq(0), pulse.eq(1), cmd.we.eq(1), load(t.width), cmd.polarity.eq(~cmd.polarity)]"),
               12, quick=True),
    MutantSpec("pulse_scheduler_verify", "no_write_during_read",
               _ps("return [reading.eq(1), cmd.re.eq(1), load(t.read)]",
                   "return [reading.eq(1), cmd.re.eq(1), cmd.we.eq(1), load(t.read)]"), 10),
    MutantSpec("pulse_scheduler_verify", "exact_pulse_count",
               _ps("m.d.sync += [pulse.eq(0), cmd.we.eq(0), left.eq(left - 1)]",
                   "m.d.sync += [pulse.eq(0), cmd.we.eq(0), left.eq(left - 2)]"), 14),
    MutantSpec("pulse_scheduler_verify", "address_in_range",
               _ps("w_row_ok.eq(below(req.row, p.array.rows)),", "w_row_ok.eq(1),"), 6),
    MutantSpec("pulse_scheduler_verify", "hold_exclusion",
               _ps("m.d.comb += [free.eq(idle & ~self.hold), self.prog_active.eq(~idle)]",
                   "m.d.comb += [free.eq(idle), self.prog_active.eq(~idle)]"), 4),
    MutantSpec("pulse_scheduler_verify", "phases_one_hot",
               _ps("m.d.sync += [gap.eq(0), pulse.eq(1), cmd.we.eq(1), load(t.width)]",
                   "m.d.sync += [pulse.eq(1), cmd.we.eq(1), load(t.width)]"), 12),
    # CrossbarAddressing
    MutantSpec("crossbar_addressing_1t1r", "one_word_line",
               _xb('wl_dec.eq(one_hot(m, c.row, self.rows, name="wl_dec"))',
                   'wl_dec.eq(one_hot(m, c.row, self.rows, name="wl_dec") | 1)'), 4,
               quick=True),
    MutantSpec("crossbar_addressing_1t1r", "no_set_and_reset_column",
               _xb("reset.eq(write & ~c.polarity)", "reset.eq(write)"), 4),
    MutantSpec("crossbar_addressing_1t1r", "read_write_exclusive",
               _xb("(c.we & c.re) | ((c.we | c.re) & ~c.sel)", "((c.we | c.re) & ~c.sel)"), 4),
    MutantSpec("crossbar_addressing_1t1r", "strobes_match_lines",
               _xb("self.read.eq(read),", "self.read.eq(c.re),"), 4),
    MutantSpec("crossbar_addressing_1t1r", "error_drives_nothing",
               _xb("m.d.comb += ok.eq(c.sel & ~err)", "m.d.comb += ok.eq(c.sel & ~range_err)"), 4),
    # ArbitrationController: the counter steps by 1, not by increment; the phase wraps one early;
    # a G- depression is a RESET
    MutantSpec("arbitration_differential", "selection_sequence",
               _ac("self.sel_pos.eq(self._advance_mod(self.sel_pos, inc, n))",
                   "self.sel_pos.eq(self._advance_mod(self.sel_pos, 1, n))"), 8),
    MutantSpec("arbitration_differential", "pot_dep_periods",
               _ac("ph.eq(Mux(eq_const(ph, period - 1), 0, add_const(ph, 1)))",
                   "ph.eq(Mux(eq_const(ph, period - 2), 0, add_const(ph, 1)))"), 8),
    MutantSpec("arbitration_differential", "program_requests",
               _ac("op.polarity.eq(Mux(pos, SET, SET if diff else RESET)),", "op.polarity.eq(Mux(pos, SET, RESET)),"),
               6),
    # UpdateUnit: wrap instead of saturate; the residue loses its sign; the count loses its sign;
    # the chi read is not transparent to the write of the same cycle; the write ignores the column
    MutantSpec("update_unit_rule", "saturation",
               _uu("s.eq(Mux(ovf, Cat((~neg).replicate(cw - 1), neg), s_wide[:cw])),", "s.eq(s_wide[:cw]),"), 10,
               quick=True),
    MutantSpec("update_unit_rule", "chi_residue", _uu("chi_new.eq(Mux(neg, -rem, rem)),", "chi_new.eq(rem),"), 10),
    MutantSpec("update_unit_rule", "pulse_count", _uu("count.eq(Mux(neg, -n, n)),", "count.eq(n),"), 10),
    MutantSpec("update_unit_memory", "chi_memory",
               _uu("SimpleDualPortRam(signed(cw), depth, transparent=True)",
                   "SimpleDualPortRam(signed(cw), depth, transparent=False)"), 12),
    MutantSpec("update_unit_memory", "end_to_end_counts",
               _uu("ram.w_addr.eq(address(b_row, b_col, b_valid)),", "ram.w_addr.eq(address(b_row, b_row, b_valid)),"),
               12),
    # OuterProductEngine: o is overwritten while it waits; a short frame does not raise frame_error;
    # a frame of any length commits; the walk ends one word early; the merge head survives clear;
    # negative sums are taken for overflows; a negative residue loses its sign; the restoring
    # division's count loses its sign; a request to a column beyond the array is issued; dW truncates
    # instead of rounding
    MutantSpec("outer_product_engine_control", "o_stable",
               _ope("self.o_free.eq(~o.valid | o.ready),", "self.o_free.eq(1),"), 22),
    MutantSpec("outer_product_engine_control", "frame_error_sticky",
               _ope("m.d.sync += self.frame_error.eq(1)", "m.d.sync += self.frame_error.eq(0)"), 10,
               quick=True),
    MutantSpec("outer_product_engine_control", "bad_frame_no_output",
               _ope("with m.If(eq_const(wc, L - 1)):", "with m.If(1):"), 24),
    MutantSpec("outer_product_engine_control", "clear_walk",
               _ope("with m.If(eq_const(addr, last)):", "with m.If(eq_const(addr, last - 1)):"), 10),
    MutantSpec("outer_product_engine_control", "no_output_while_clearing",
               _ope('m.d.sync += [head["mask"].eq(0), t_valid.eq(0)]', "m.d.sync += t_valid.eq(0)"), 24),
    MutantSpec("outer_product_engine_rule_pow2", "saturation",
               _ope("ovf = sw[cw] ^ sw[cw - 1]", "ovf = sw[cw - 1]"), 20),
    MutantSpec("outer_product_engine_rule_pow2", "chi_residue",
               _ope("nocap = Cat(low, inc.replicate(cw - kk)) if kk else C(0, cw)",
                    "nocap = Cat(low, C(0, cw - kk)) if kk else C(0, cw)"), 20),
    MutantSpec("outer_product_engine_rule_div", "rule_count",
               _ope("cnt.eq(Mux(negs[k], -n, n))", "cnt.eq(n)"), 24),
    MutantSpec("outer_product_engine_chi_pow2", "o_addr_in_range",
               _ope("r_ok.eq(in_range(req.payload.row, a.rows) & in_range(req.payload.col, a.cols)),",
                    "r_ok.eq(in_range(req.payload.row, a.rows)),"), 24),
    MutantSpec("outer_product_engine_chi_pow2", "synapse_pulses",
               _ope("pr = add_const(pr, 1 << (sh - 1))", "pr = add_const(pr, 0)"), 24),
    # MvmReadEngine: a read starts while programming; overlap_error rises on any read; o is
    # overwritten while it waits; a good frame clears frame_error
    MutantSpec("mvm_read_engine", "no_read_during_programming",
               _mvm("with m.If(s_arm & ~self.prog_active):", "with m.If(s_arm):"), 8, quick=True),
    MutantSpec("mvm_read_engine", "no_overlap_error",
               _mvm("with m.If(self.read & self.prog_active):", "with m.If(self.read):"), 8),
    MutantSpec("mvm_read_engine", "o_stable", _mvm("m.d.comb += o_free.eq(~o.valid | o.ready)",
                                                   "m.d.comb += o_free.eq(1)"), 24),
    MutantSpec("mvm_read_engine", "frame_error_sticky",
               _mvm("                m.d.sync += wc.eq(0)", "                m.d.sync += [wc.eq(0), self.frame_error.eq(0)]"), 8),
    # AxiLiteCsr: the head response is overwritten; AR accepted while R waits; rvalid never falls;
    # a write commits without its W; a DECERR; a push never times out
    MutantSpec("axil_csr_safety", "b_stable",
               _ax("with m.If(take | ~v0):", "with m.If(1):"), 6,
               quick=True),
    MutantSpec("axil_csr_safety", "r_stable",
               _ax("bus.arready.eq(~rvalid | bus.rready)", "bus.arready.eq(1)"), 5),
    MutantSpec("axil_csr_safety", "one_outstanding_read",
               _ax("m.d.sync += rvalid.eq(0)", "m.d.sync += rvalid.eq(1)"), 5),
    MutantSpec("axil_csr_safety", "no_b_before_aw_and_w",
               _ax("m.d.comb += held.eq(aw_ne & w_ne & b_room)", "m.d.comb += held.eq(aw_ne & b_room)"), 5),
    MutantSpec("axil_csr_safety", "okay_or_slverr",
               _ax("Mux(mapped & ~refused, OKAY, SLVERR)", "Mux(mapped & ~refused, OKAY, 3)"), 5),
    MutantSpec("axil_csr_liveness", "write_answered_in_time",
               _ax("expired.eq(eq_const(waited, rmap.push_wait - 1))", "expired.eq(eq_const(waited, rmap.push_wait + 1))"),
               AXIL_BOUND + 4),
)


def proof(name: str) -> ProofSpec:
    for p in PROOFS:
        if p.name == name:
            return p
    raise KeyError(f"no proof named {name!r}: {', '.join(p.name for p in PROOFS)}")
