"""Formal wrapper of :class:`hw.pulse_scheduler.PulseScheduler`.

Every input is free in every cycle: program requests and host reads (legal or not, withdrawn or
not), ``rd_resp.ready``, ``adc``, ``clear`` and ``hold`` (the block is built with
``exclusion=True``: ``hold`` and ``prog_active`` exist). A write is *accepted* in a cycle with
``i.valid & i.ready`` and a legal request (row, col, slot in range, count > 0: the wrapper's own
check from the parameters). Properties, in every cycle out of reset:

* ``one_polarity_per_request`` (never SET and RESET one cell at once): while ``sel`` stays high
  the address and the polarity do not change, and every pulse has the accepted request's polarity;
* ``no_write_during_read``: never ``we & re``, and no pulse from a host read's acceptance to its
  response's transfer;
* ``exact_pulse_count``: no pulse outside an accepted write, never more rising edges of ``we`` than
  the request's count, and exactly that many when the write's ``sel`` falls;
* ``address_in_range``: while ``sel``, the address lies inside the array and a write's address is
  ``(row, col * D + slot)`` of its request;
* ``hold_exclusion``: no stream is ready while ``hold`` is high, and ``prog_active`` is high in
  every cycle with ``sel`` (so a reader that starts only while ``prog_active`` is low and raises
  ``hold`` before it does never overlaps a command);
* ``phases one-hot``: the RTL's own assertion on its phase flags (with the RTL's helper
  invariants, see :mod:`hw.pulse_scheduler`).

Helper invariants of the wrapper (``helper_*``) tie its bookkeeping to the block's hidden state
(read with :mod:`tb.formal.probe`), so that k-induction starts only from consistent states.
"""
from __future__ import annotations

from amaranth import Module, Signal

from golden.spec.params import AccelParams
from hw.pulse_scheduler import PulseScheduler
from tb.formal.harness import FormalTop, drive_free, past
from tb.formal.probe import elaborate_with_probes


class PulseSchedulerProof(FormalTop):
    """Wrapper around ``block_cls(params, data_width=, read_latency=)`` (a mutant class may stand in)."""

    def __init__(self, params: AccelParams, *, data_width: int = 2, read_latency: int = 1,
                 block_cls=PulseScheduler):
        super().__init__()
        self.params, self.data_width, self.read_latency = params, data_width, read_latency
        self.block_cls = block_cls

    def build(self, m: Module) -> None:
        p = self.params
        dut = self.block_cls(p, data_width=self.data_width, read_latency=self.read_latency, exclusion=True)
        sub, pr = elaborate_with_probes(dut, "count", "idle", "host", "edges")
        m.submodules.dut = sub
        drive_free(m, dut.i.valid, dut.i.payload, dut.rd_cmd.valid, dut.rd_cmd.payload,
                   dut.rd_resp.ready, dut.adc, dut.clear, dut.hold)
        cmd, req = dut.cmd, dut.i.payload

        legal = ((req.row < p.array.rows) & (req.col < p.array.cols) & (req.slot < p.synapse.slots)
                 & req.count.any())
        w_acc = dut.i.valid & dut.i.ready & legal
        r_acc = dut.rd_cmd.valid & dut.rd_cmd.ready
        r_done = dut.rd_resp.valid & dut.rd_resp.ready

        # --- bookkeeping of the accepted write and of the outstanding host read -------------------
        wr_active = Signal()          # from the accepted write to the fall of its sel
        req_count = Signal.like(req.count)
        req_pol = Signal()
        req_row = Signal.like(cmd.row)
        req_pc = Signal.like(cmd.phys_col)
        edges = Signal(len(req.count) + 1)      # rising edges of we since the accepted write
        rd_out = Signal()             # a host read accepted and its response not yet taken
        we_q = past(m, cmd.we, "f_we_q")
        sel_q = past(m, cmd.sel, "f_sel_q")
        row_q = past(m, cmd.row, "f_row_q")
        pc_q = past(m, cmd.phys_col, "f_pc_q")
        pol_q = past(m, cmd.polarity, "f_pol_q")
        rise = cmd.we & ~we_q
        sel_fall = sel_q & ~cmd.sel
        with m.If(w_acc):
            m.d.sync += [wr_active.eq(1), req_count.eq(req.count), req_pol.eq(req.polarity),
                         req_row.eq(req.row), edges.eq(0),
                         req_pc.eq(req.col * p.synapse.slots + req.slot)]
        with m.Else():
            with m.If(sel_fall):
                m.d.sync += wr_active.eq(0)
            with m.If(rise):
                m.d.sync += edges.eq(edges + 1)
        with m.If(r_acc):
            m.d.sync += rd_out.eq(1)
        with m.Elif(r_done):
            m.d.sync += rd_out.eq(0)
        done = Signal.like(edges)
        m.d.comb += done.eq(edges + rise)

        # --- properties ----------------------------------------------------------------------------
        self.prop(m, "one_polarity_per_request",
                  (~(cmd.sel & sel_q) | ((cmd.row == row_q) & (cmd.phys_col == pc_q) & (cmd.polarity == pol_q)))
                  & (~cmd.we | (cmd.polarity == req_pol)))
        self.prop(m, "no_write_during_read", ~(cmd.we & cmd.re) & ~(cmd.we & rd_out))
        self.prop(m, "exact_pulse_count",
                  (~cmd.we | wr_active) & (done <= req_count) & (~(wr_active & sel_fall) | (edges == req_count)))
        self.prop(m, "address_in_range",
                  ~cmd.sel | ((cmd.row < p.array.rows) & (cmd.phys_col < p.phys_cols)
                              & (~wr_active | ((cmd.row == req_row) & (cmd.phys_col == req_pc)))))

        self.prop(m, "hold_exclusion",
                  ~(dut.hold & (dut.i.ready | dut.rd_cmd.ready)) & (~cmd.sel | dut.prog_active))

        # --- helper invariants (reachable states satisfy them; induction needs them) ---------------
        busy = ~pr["idle"]
        self.prop(m, "helper_write_state",
                  (wr_active == ((cmd.sel | sel_q) & ~pr["host"]))
                  & (~wr_active | ((req_count == pr["count"]) & (edges == pr["edges"]) & (cmd.polarity == req_pol))))
        self.prop(m, "helper_read_state", rd_out == (busy & pr["host"]))
