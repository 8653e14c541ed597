"""ArbitrationController: counter-based choice of the device programmed in each update cycle."""
from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.params import AccelParams, bits_for
from golden.spec.transactions import RESET, SET
from hw.layouts import program_request_layout, pulse_count_layout
from hw.lintsafe import add_const, eq_const, ge_const

STATUS_WIDTH = 32


def refresh_request_layout(p: AccelParams) -> data.StructLayout:
    """Host -> ArbitrationController: refresh every device of synapse (row, col)."""
    return data.StructLayout({"row": unsigned(p.row_width), "col": unsigned(p.col_width)})


class ArbitrationController(wiring.Component):
    """Maps signed PulseCounts to ProgramRequests on the device chosen by a global counter.

    Bit-true to :mod:`golden.twins.arbitration_controller` (the full rule is stated there): potentiation
    programs slot ``sel_pos`` with SET; depression programs ``sel_pos`` with RESET, or in
    differential mode slot ``N + sel_neg`` with SET; potentiation (depression) passes only in every
    ``pot_period``-th (``dep_period``-th) update cycle, else it is consumed and counted in
    ``skipped``. At ``end_cycle`` each group's counter used in the closing update cycle advances by
    ``increment`` mod N, the phases by one. All counters reset to 0: the first update cycle selects
    device 0. A refresh RESETs slots 0 .. D-1 with ``refresh_pulses`` pulses each and has priority
    over PulseCounts.

    Parameters
    ----------
    params : AccelParams
        ``synapse`` section (devices, increment, differential, periods, refresh_pulses) and the
        layouts' widths.

    Attributes
    ----------
    i : In(stream.Signature(pulse_count_layout))
        ``(row, col, count: signed count_width + 1)``; ``|count| <= max_count``.
    refresh : In(stream.Signature(refresh_request_layout))
        ``(row, col)`` of a synapse to refresh.
    end_cycle : In(1)
        Strobe closing the update cycle (including a PulseCount accepted in the same cycle).
    o : Out(stream.Signature(program_request_layout))
        ``(row, col, slot: slot_width, polarity: 1, count: max(count_width, 8))``.
    sel_pos, sel_neg : Out(bits_for(N))
        Selection counters (``sel_neg`` stays 0 unless differential).
    pot_enable, dep_enable : Out(1)
        Potentiation / depression pass in the current update cycle.
    skipped : Out(32)
        PulseCounts consumed without a request (phase not 0), wrapping.
    skip : Out(1)
        ``skipped`` advances at the end of this cycle (combinational; for counters kept outside).
    refresh_busy : Out(1)
        A refresh was accepted and not all of its D requests were loaded into ``o`` yet.
    refreshes : Out(32)
        Refresh requests accepted, wrapping.
    refresh_accept : Out(1)
        ``refreshes`` advances at the end of this cycle (combinational).

    Latency 1 (accept in cycle t, ProgramRequest offered from t + 1); throughput one PulseCount per
    cycle (skipped ones too); a refresh occupies the output for D cycles. ``i.ready`` and
    ``refresh.ready`` depend combinationally on ``o.ready``; ``i.ready`` also on ``refresh.valid``.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        s = params.synapse
        self.n, self.slots, self.inc, self.diff = s.devices, s.slots, s.increment, s.differential
        self.pot_period, self.dep_period, self.pulses = s.pot_period, s.dep_period, s.refresh_pulses
        sw = bits_for(self.n)
        super().__init__({
            "i": In(stream.Signature(pulse_count_layout(params))),
            "refresh": In(stream.Signature(refresh_request_layout(params))),
            "end_cycle": In(1),
            "o": Out(stream.Signature(program_request_layout(params))),
            "sel_pos": Out(sw),
            "sel_neg": Out(sw),
            "pot_enable": Out(1),
            "dep_enable": Out(1),
            "skipped": Out(STATUS_WIDTH),
            "skip": Out(1),
            "refresh_busy": Out(1),
            "refreshes": Out(STATUS_WIDTH),
            "refresh_accept": Out(1),
        })

    @classmethod
    def from_params(cls, params: AccelParams) -> ArbitrationController:
        return cls(params)

    def _advance_mod(self, x, k: int, n: int):
        """``(x + k) mod n`` for ``x`` in [0, n) and 0 < k < n, without a wider intermediate."""
        return Mux(ge_const(x, n - k), add_const(x, k - n), add_const(x, k))

    def _phase(self, m: Module, period: int, end, name: str):
        """Phase counter mod ``period``; returns the 'phase == 0' enable."""
        if period == 1:
            return 1
        ph = Signal(range(period), name=name)
        with m.If(end):
            m.d.sync += ph.eq(Mux(eq_const(ph, period - 1), 0, add_const(ph, 1)))
        return ~ph.any()

    def elaborate(self, platform):
        m = Module()
        n, inc, diff, slots = self.n, self.inc, self.diff, self.slots
        i, o, rf = self.i, self.o, self.refresh
        end = self.end_cycle

        # --- handshakes: refresh in progress > refresh request > PulseCount ----------------------
        busy = self.refresh_busy
        o_free = Signal()
        rf_acc = Signal()
        i_acc = Signal()
        m.d.comb += [
            o_free.eq(~o.valid | o.ready),
            rf.ready.eq(~busy & o_free),
            i.ready.eq(~busy & ~rf.valid & o_free),
            rf_acc.eq(rf.valid & rf.ready),
            i_acc.eq(i.valid & i.ready),
        ]

        # --- decision for the PulseCount on i ----------------------------------------------------
        c = i.payload.count
        neg = c[-1]
        pos = ~neg & c.any()
        pot_en = self._phase(m, self.pot_period, end, "pot_phase")
        dep_en = self._phase(m, self.dep_period, end, "dep_phase")
        m.d.comb += [self.pot_enable.eq(pot_en), self.dep_enable.eq(dep_en)]
        passes = Signal()
        mag = Signal(len(c))
        m.d.comb += [passes.eq((pos & pot_en) | (neg & dep_en)), mag.eq(Mux(neg, -c, c))]
        issue = i_acc & passes
        issue_pos = issue & (pos if diff else 1)   # G+ used (every request when not differential)
        issue_neg = issue & neg if diff else 0     # G- used

        # --- selection counters: advance at end_cycle if their group was used --------------------
        used_pos, used_neg = Signal(name="used_pos"), Signal(name="used_neg")
        dep_slot = self.sel_pos
        if n > 1:
            with m.If(end):
                m.d.sync += used_pos.eq(0)
                with m.If(used_pos | issue_pos):
                    m.d.sync += self.sel_pos.eq(self._advance_mod(self.sel_pos, inc, n))
            with m.Elif(issue_pos):
                m.d.sync += used_pos.eq(1)
        if diff:
            # slot of the G- device, N + sel_neg, kept as its own counter in [N, 2N)
            neg_slot = Signal(range(slots), init=n)
            dep_slot = neg_slot
            if n > 1:
                with m.If(end):
                    m.d.sync += used_neg.eq(0)
                    with m.If(used_neg | issue_neg):
                        m.d.sync += [self.sel_neg.eq(self._advance_mod(self.sel_neg, inc, n)),
                                     neg_slot.eq(Mux(ge_const(neg_slot, 2 * n - inc), add_const(neg_slot, inc - n),
                                                     add_const(neg_slot, inc)))]
                with m.Elif(issue_neg):
                    m.d.sync += used_neg.eq(1)

        m.d.comb += [self.skip.eq(i_acc & ~passes & c.any()), self.refresh_accept.eq(rf_acc)]
        with m.If(self.skip):
            m.d.sync += self.skipped.eq(self.skipped + 1)

        # --- refresh sequencer ---------------------------------------------------------------------
        rf_row = Signal.like(rf.payload.row)
        rf_col = Signal.like(rf.payload.col)
        rf_slot = Signal(range(max(2, slots)))
        with m.If(rf_acc):
            m.d.sync += [rf_row.eq(rf.payload.row), rf_col.eq(rf.payload.col),
                         self.refreshes.eq(self.refreshes + 1)]
            if slots > 1:
                m.d.sync += [busy.eq(1), rf_slot.eq(1)]
        if slots > 1:
            with m.If(busy & o_free):
                m.d.sync += rf_slot.eq(add_const(rf_slot, 1))
                with m.If(eq_const(rf_slot, slots - 1)):
                    m.d.sync += busy.eq(0)

        # --- output register -----------------------------------------------------------------------
        op = o.payload
        with m.If(o_free):
            m.d.sync += o.valid.eq(busy | rf_acc | issue)
            with m.If(busy):
                m.d.sync += [op.row.eq(rf_row), op.col.eq(rf_col), op.slot.eq(rf_slot),
                             op.polarity.eq(RESET), op.count.eq(self.pulses)]
            with m.Elif(rf_acc):
                m.d.sync += [op.row.eq(rf.payload.row), op.col.eq(rf.payload.col), op.slot.eq(0),
                             op.polarity.eq(RESET), op.count.eq(self.pulses)]
            with m.Else():
                m.d.sync += [op.row.eq(i.payload.row), op.col.eq(i.payload.col),
                             op.slot.eq(Mux(pos, self.sel_pos, dep_slot)),
                             op.polarity.eq(Mux(pos, SET, SET if diff else RESET)),
                             op.count.eq(mag)]
        return m
