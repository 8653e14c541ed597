"""Formal wrapper of :class:`hw.arbitration_controller.ArbitrationController` against its golden twin.

The reference is :class:`golden.twins.arbitration_controller.ArbitrationController` itself: the
wrapper enumerates every golden state (``sel_pos``, ``sel_neg``, ``pot_phase``, ``dep_phase`` and
the two "group used in this update cycle" flags), asks the twin what :meth:`select` and
:meth:`end_cycle` do from each, and turns the answers into a constant transition table. The wrapper
steps that table on the transfers it observes at the block's ports (a PulseCount accepted, an
``end_cycle`` strobe, a refresh accepted), in the cycle order the twin's cycle model states.

Inputs are free (PulseCounts with ``|count| <= update.max_count``, as the twin requires; refresh
requests, ``end_cycle``, ``o.ready``). Properties, in every cycle out of reset:

* ``selection_sequence``: ``sel_pos`` and ``sel_neg`` equal the golden counters;
* ``pot_dep_periods``: ``pot_enable`` / ``dep_enable`` equal golden's ``pot_phase == 0`` /
  ``dep_phase == 0``, and ``skipped`` counts exactly the PulseCounts golden skips;
* ``program_requests``: ``o`` offers exactly the ProgramRequests golden gives (slot, polarity,
  count, row, col), and a refresh's D requests in slot order, nothing else.

``helper_*`` invariants tie the golden state to the block's hidden phase counters, group flags and
refresh sequencer (read with :mod:`tb.formal.probe`), which k-induction needs.
"""
from __future__ import annotations

import itertools

from amaranth import Module, Mux, Signal

from golden.spec.params import AccelParams
from golden.spec.transactions import PulseCount
from golden.twins.arbitration_controller import ArbitrationController as GoldenArbitration
from hw.arbitration_controller import ArbitrationController
from tb.formal.harness import FormalTop, drive_free
from tb.formal.probe import elaborate_with_probes

STATE_FIELDS = ("sel_pos", "sel_neg", "pot_phase", "dep_phase", "_used_pos", "_used_neg")


def golden_states(params: AccelParams) -> list[tuple]:
    """Every golden state, as a tuple in the order of ``STATE_FIELDS``."""
    s = params.synapse
    n_neg = s.devices if s.differential else 1
    return list(itertools.product(range(s.devices), range(n_neg), range(s.pot_period),
                                  range(s.dep_period), (False, True), (False, True) if s.differential else (False,)))


def golden_step(params: AccelParams, state: tuple, count: int | None, end: bool):
    """Ask the twin: from ``state``, a PulseCount of ``count`` (None: none) then ``end_cycle`` if ``end``.

    Returns ``(request or None, skipped 0/1, next state)``.
    """
    g = GoldenArbitration(params)
    for name, v in zip(STATE_FIELDS, state, strict=True):
        setattr(g, name, v)
    req = g.select(PulseCount(0, 0, count)) if count is not None else None
    if end:
        g.end_cycle()
    return req, g.skipped, tuple(getattr(g, name) for name in STATE_FIELDS)


class ArbitrationControllerProof(FormalTop):
    """Wrapper around ``block_cls(params)`` (a mutant class may stand in)."""

    def __init__(self, params: AccelParams, block_cls=ArbitrationController):
        super().__init__()
        self.params, self.block_cls = params, block_cls

    def build(self, m: Module) -> None:
        p, s = self.params, self.params.synapse
        dut = self.block_cls(p)
        hidden = [n for n, period in (("pot_phase", s.pot_period), ("dep_phase", s.dep_period)) if period > 1]
        if s.devices > 1:
            hidden += ["used_pos"] + (["used_neg", "neg_slot"] if s.differential else [])
        if s.slots > 1:
            hidden += ["rf_slot"]
        sub, pr = elaborate_with_probes(dut, *hidden, "rf_row", "rf_col")
        m.submodules.dut = sub
        drive_free(m, dut.i.valid, dut.i.payload, dut.refresh.valid, dut.refresh.payload, dut.end_cycle,
                   dut.o.ready)
        mc = p.update.max_count
        c = dut.i.payload.count
        self.assume(m, "count_in_range", ~dut.i.valid | (c >= -mc))

        states = golden_states(p)
        index = {st: k for k, st in enumerate(states)}
        fresh = GoldenArbitration(p)
        gs = Signal(range(len(states)), init=index[tuple(getattr(fresh, n) for n in STATE_FIELDS)])
        i_acc = dut.i.valid & dut.i.ready
        rf_acc = dut.refresh.valid & dut.refresh.ready
        pos, neg = ~c[-1] & c.any(), c[-1]
        mag = Signal(len(c))
        m.d.comb += mag.eq(Mux(neg, -c, c))

        # golden's view of the current state and of this cycle's PulseCount
        g = {n: Signal(range(max(2, k)), name=f"g_{n}") for n, k in
             (("sel_pos", s.devices), ("sel_neg", s.devices), ("pot_phase", s.pot_period),
              ("dep_phase", s.dep_period))}
        g_used_pos, g_used_neg = Signal(), Signal()
        req_valid, req_slot, req_pol, skip = Signal(), Signal(range(max(2, s.slots))), Signal(), Signal()
        nxt = Signal.like(gs)
        with m.Switch(gs):
            for k, st in enumerate(states):
                with m.Case(k):
                    sp, sn, pph, dph, up, un = st
                    m.d.comb += [g["sel_pos"].eq(sp), g["sel_neg"].eq(sn), g["pot_phase"].eq(pph),
                                 g["dep_phase"].eq(dph), g_used_pos.eq(up), g_used_neg.eq(un)]
                    self._decision(m, p, st, pos, neg, req_valid, req_slot, req_pol, skip)
                    self._next(m, p, st, index, i_acc & pos, i_acc & neg, i_acc & ~c.any(), dut.end_cycle, nxt)
        m.d.sync += gs.eq(nxt)

        # expected output register (the twin's cycle model): refresh in progress > refresh > PulseCount
        o_free = ~dut.o.valid | dut.o.ready
        e_valid, e_row, e_col = Signal(), Signal.like(dut.o.payload.row), Signal.like(dut.o.payload.col)
        e_slot, e_pol, e_cnt = Signal.like(dut.o.payload.slot), Signal(), Signal.like(dut.o.payload.count)
        rf_next = Signal(range(s.slots + 1), init=s.slots)     # next refresh slot to load; slots = none
        rf_row, rf_col = Signal.like(dut.refresh.payload.row), Signal.like(dut.refresh.payload.col)
        rf_busy = rf_next != s.slots
        skipped, refreshes = Signal(32), Signal(32)
        with m.If(o_free):
            m.d.sync += e_valid.eq(0)
            with m.If(rf_busy):
                m.d.sync += [e_valid.eq(1), e_row.eq(rf_row), e_col.eq(rf_col), e_slot.eq(rf_next),
                             e_pol.eq(0), e_cnt.eq(s.refresh_pulses), rf_next.eq(rf_next + 1)]
            with m.Elif(rf_acc):
                m.d.sync += [e_valid.eq(1), e_row.eq(dut.refresh.payload.row), e_col.eq(dut.refresh.payload.col),
                             e_slot.eq(0), e_pol.eq(0), e_cnt.eq(s.refresh_pulses), rf_next.eq(1),
                             rf_row.eq(dut.refresh.payload.row), rf_col.eq(dut.refresh.payload.col),
                             refreshes.eq(refreshes + 1)]
            with m.Elif(i_acc & req_valid):
                m.d.sync += [e_valid.eq(1), e_row.eq(dut.i.payload.row), e_col.eq(dut.i.payload.col),
                             e_slot.eq(req_slot), e_pol.eq(req_pol), e_cnt.eq(mag)]
        with m.If(i_acc & skip):
            m.d.sync += skipped.eq(skipped + 1)

        op = dut.o.payload
        self.prop(m, "selection_sequence", (dut.sel_pos == g["sel_pos"]) & (dut.sel_neg == g["sel_neg"]))
        self.prop(m, "pot_dep_periods", (dut.pot_enable == (g["pot_phase"] == 0))
                  & (dut.dep_enable == (g["dep_phase"] == 0)) & (dut.skipped == skipped))
        self.prop(m, "program_requests", (dut.o.valid == e_valid) & (~e_valid | (
            (op.row == e_row) & (op.col == e_col) & (op.slot == e_slot) & (op.polarity == e_pol)
            & (op.count == e_cnt))))

        # --- helper invariants: the block's hidden state equals golden's -------------------------
        helper = (dut.refresh_busy == rf_busy) & (dut.refreshes == refreshes) & (rf_next <= s.slots)
        for n in ("pot_phase", "dep_phase"):
            if n in pr:
                helper &= pr[n] == g[n]
        if "used_pos" in pr:
            helper &= pr["used_pos"] == g_used_pos
        if "used_neg" in pr:
            helper &= (pr["used_neg"] == g_used_neg) & (pr["neg_slot"] == s.devices + g["sel_neg"])
        if "rf_slot" in pr:
            helper &= ~rf_busy | ((pr["rf_slot"] == rf_next) & (pr["rf_row"] == rf_row) & (pr["rf_col"] == rf_col))
        self.prop(m, "helper_hidden_state", helper)

    @staticmethod
    def _decision(m, p, st, pos, neg, req_valid, req_slot, req_pol, skip) -> None:
        """The twin's answer to a PulseCount in state ``st``: request (slot, polarity) or skip.

        The twin's request for any count of one sign has the same slot and polarity and
        ``|count|`` pulses; this is checked here for every count, so the table may use +-1.
        """
        mc = p.update.max_count
        for sign, cond in ((1, pos), (-1, neg)):
            req, skipped, _ = golden_step(p, st, sign, False)
            for cnt in range(1, mc + 1):
                r2, s2, _ = golden_step(p, st, sign * cnt, False)
                assert (r2 is None) == (req is None) and s2 == skipped
                assert r2 is None or (r2.slot, r2.polarity, r2.count) == (req.slot, req.polarity, cnt)
            with m.If(cond):
                m.d.comb += [req_valid.eq(req is not None), skip.eq(skipped)]
                if req is not None:
                    m.d.comb += [req_slot.eq(req.slot), req_pol.eq(req.polarity)]

    @staticmethod
    def _next(m, p, st, index, acc_pos, acc_neg, acc_zero, end, nxt) -> None:
        """Next golden state after this cycle's PulseCount (if any) and ``end_cycle`` (if strobed)."""
        for e in (False, True):
            with m.If(end == e):
                with m.If(acc_pos):
                    m.d.comb += nxt.eq(index[golden_step(p, st, 1, e)[2]])
                with m.Elif(acc_neg):
                    m.d.comb += nxt.eq(index[golden_step(p, st, -1, e)[2]])
                with m.Elif(acc_zero):
                    m.d.comb += nxt.eq(index[golden_step(p, st, 0, e)[2]])
                with m.Else():
                    m.d.comb += nxt.eq(index[golden_step(p, st, None, e)[2]])
