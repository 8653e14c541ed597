"""PulseScheduler: program requests and host reads -> timed commands on the array command port."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, Value, unsigned
from amaranth.hdl import Assert
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.interfaces import DEFAULT_READ_LATENCY, ERROR_CODE_WIDTH, ErrorCode
from golden.spec.params import AccelParams, check_int
from hw.crossbar_addressing import array_command_signature, below
from hw.layouts import program_request_layout
from hw.lintsafe import add_const


def read_command_layout(params: AccelParams) -> data.StructLayout:
    """Host -> PulseScheduler: read the device at (row, phys_col)."""
    return data.StructLayout({"row": unsigned(params.row_width), "phys_col": unsigned(params.phys_col_width)})


def read_result_layout(data_width: int) -> data.StructLayout:
    """PulseScheduler -> host: the ADC code (``err``: the read address was outside the array)."""
    return data.StructLayout({"data": unsigned(data_width), "err": unsigned(1)})


class PulseScheduler(wiring.Component):
    """Turn program requests into timed SET/RESET pulses, with program-and-verify and a host read path.

    Bit-true and cycle-exact to :mod:`golden.twins.pulse_scheduler` (its docstring is the timing diagram).
    One sequencer serves both input streams, so a write and a read are never active together.

    Parameters
    ----------
    params : AccelParams
        Array size, ``synapse`` (D = slots per synapse: ``phys_col = col * D + slot``) and ``timing``.
    data_width : int, 1..16
        Width of the read data (ADC code) from the array.
    read_latency : int, 0..255
        Cycles from ``cmd.re`` to valid ``adc`` data: 1 behind :class:`CrossbarAddressing` (its output
        register) with a combinational array; add the ADC's own latency.
    exclusion : bool
        Adds the ``hold`` input and the ``prog_active`` output (the read/programming exclusion with
        an MVM read engine). Without it the block and its Verilog are exactly those of a scheduler
        whose ``hold`` is tied low.

    Attributes
    ----------
    i : In(stream.Signature(program_request_layout))
        ``(row, col, slot, polarity, count)``. ``ready`` depends combinationally on ``rd_cmd.valid``.
    rd_cmd : In(stream.Signature(read_command_layout))
        Host reads ``(row: row_width, phys_col: phys_col_width)``; ``ready`` depends on ``i.valid``.
    rd_resp : Out(stream.Signature(read_result_layout))
        ``(data: data_width, err: 1)``, one per host read, in order; held until taken.
    cmd : Out(array_command_signature(params))
        Array command port: ``sel``, ``row``, ``phys_col``, ``we``, ``re``, ``polarity`` (registered).
    adc : In(data_width)
        Read data from the array; sampled ``read_latency`` cycles after the last cycle of ``re``.
    verify_valid : Out(1), verify_data : Out(data_width)
        Program-and-verify result (``timing.verify``): a one-cycle strobe in the cycle the scheduler is
        ready again (no backpressure).
    error : Out(1), error_code : Out(3)
        Sticky: a request or read was rejected (see :class:`golden.twins.pulse_scheduler.ErrorCode`); the
        code is the first one since reset or ``clear``.
    clear : In(1)
        Clears ``error``/``error_code`` (a new error in the same cycle wins).
    hold : In(1) (only with ``exclusion``)
        While high, neither stream is accepted (``i.ready`` and ``rd_cmd.ready`` low): no new request
        or host read starts. The one *in flight* -- accepted earlier and not yet idle again: its
        setup, all of its pulses and gaps, the settle time and the verify read, or a host read up to
        the transfer of its result -- runs to its end. Tie low (the default) for the behaviour without
        a read engine. The MVM read engine's ``rd_req`` drives it in the accelerator top.
    prog_active : Out(1) (only with ``exclusion``)
        The sequencer is not idle (a request or host read in flight, from the cycle after its
        acceptance to the cycle before it is ready again): high in every cycle in which ``sel``,
        ``we`` or ``re`` is high, and from the cycle after an acceptance on. With ``hold`` driven by
        a reader's request, a reader that starts only while ``prog_active`` is low never overlaps a
        command of this scheduler (see :class:`hw.mvm_read_engine.MvmReadEngine`).

    Timing (``S, W, G, T, R`` from ``params.timing``, ``L_r`` = ``read_latency``): a valid request with
    ``n`` pulses accepted in cycle a gives pulse j on ``cmd.we`` in cycles
    ``a+1+S+j*(W+G) .. +W-1``; the scheduler is ready again in cycle
    ``a + 1 + S + n*W + (n-1)*G + T + verify*(R + L_r)`` (throughput: one request per that many
    cycles). A rejected request takes one cycle. A host read accepted in cycle a strobes ``re`` in
    ``a+S+1 .. a+S+R`` and offers its result from cycle ``a+S+R+L_r+1``; ready again the cycle after
    the result is taken.

    Amaranth ``Assert``s (active in the Python simulator; emitted as Verilog immediate assertions,
    active under Verilator ``--assert``) check: never ``we & re``; ``we``/``re`` only with ``sel``;
    address and polarity stable while ``sel``; the address inside the array while ``sel``; exactly
    ``count`` rising edges of ``we`` per request.
    """

    def __init__(self, params: AccelParams, *, data_width: int = 8,
                 read_latency: int = DEFAULT_READ_LATENCY, exclusion: bool = False):
        check_int("data_width", data_width, 1, 16)
        check_int("read_latency", read_latency, 0, 255)
        self.params = params
        self.data_width = data_width
        self.read_latency = read_latency
        self.exclusion = bool(exclusion)
        super().__init__({
            "i": In(stream.Signature(program_request_layout(params))),
            "rd_cmd": In(stream.Signature(read_command_layout(params))),
            "rd_resp": Out(stream.Signature(read_result_layout(data_width))),
            "cmd": Out(array_command_signature(params)),
            "adc": In(data_width),
            "verify_valid": Out(1),
            "verify_data": Out(data_width),
            "error": Out(1),
            "error_code": Out(ERROR_CODE_WIDTH),
            "clear": In(1),
            **({"hold": In(1), "prog_active": Out(1)} if self.exclusion else {}),
        })

    @classmethod
    def from_params(cls, params: AccelParams) -> PulseScheduler:
        return cls(params)

    def _phys_col(self, m: Module, col, slot) -> Signal:
        """``col * D + slot`` with every operand at the physical-column width (lint: no WIDTHEXPAND)."""
        w = self.params.phys_col_width
        c, s, prod, pc = (Signal(w, name=f"pc_{x}") for x in ("col", "slot", "prod", "sum"))
        ns, diff = Signal(w, name="pc_nslot"), Signal(w, name="pc_diff")
        # prod + s written as prod - ~s - 1: yosys narrows an adder operand whose top bits are known
        # zero (Verilator then warns WIDTHEXPAND); the complement has no known-zero bits.
        m.d.comb += [c.eq(col), s.eq(slot), prod.eq(c * Const(self.params.synapse.slots, w)),
                     ns.eq(~s), diff.eq(prod - ns), pc.eq(diff - 1)]
        return pc

    def elaborate(self, platform):
        m = Module()
        p, t = self.params, self.params.timing
        cmd, req, rdc = self.cmd, self.i.payload, self.rd_cmd.payload

        # --- sequencer state: one-hot phase flags (no constant compares: lint-clean Verilog) ----
        idle = Signal(init=1)
        setup, pulse, gap, settle, reading, capture, result = (
            Signal(name=n) for n in ("ph_setup", "ph_pulse", "ph_gap", "ph_settle", "ph_read",
                                     "ph_capture", "ph_result"))
        host = Signal()                 # the current read is a host read (else program-and-verify)
        cnt = Signal(8)                 # cycles left in the phase, minus one
        left = Signal.like(req.count)   # pulses left after the current one
        last = Signal()
        m.d.comb += last.eq(~cnt.any())

        def load(n: int):
            return cnt.eq(Const(n - 1, 8))

        # --- arbitration (round robin) ------------------------------------------------------------
        prefer_rd = Signal()
        free = idle
        if self.exclusion:
            free = Signal()
            m.d.comb += [free.eq(idle & ~self.hold), self.prog_active.eq(~idle)]
        m.d.comb += [
            self.i.ready.eq(free & ~(self.rd_cmd.valid & prefer_rd)),
            self.rd_cmd.ready.eq(free & ~(self.i.valid & ~prefer_rd)),
        ]
        # `keep`: the acceptance strobes and the request check below are nets of their own in
        # synthesis, so that every register enable of the acceptance is a shallow OR of them (mapped
        # freely, the arbitration, the check of the multiplexed request and the phase ends were
        # merged into LUT chains of up to seven levels: the iCEBreaker top's critical path)
        w_go, r_go = Signal(attrs={"keep": 1}), Signal(attrs={"keep": 1})
        m.d.comb += [w_go.eq(self.i.valid & self.i.ready), r_go.eq(self.rd_cmd.valid & self.rd_cmd.ready)]
        with m.If(w_go):
            m.d.sync += prefer_rd.eq(1)
        with m.Elif(r_go):
            m.d.sync += prefer_rd.eq(0)

        # --- request checks -----------------------------------------------------------------------
        w_row_ok, w_col_ok, w_slot_ok, w_cnt_ok = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [
            w_row_ok.eq(below(req.row, p.array.rows)),
            w_col_ok.eq(below(req.col, p.array.cols)),
            w_slot_ok.eq(below(req.slot, p.synapse.slots)),
            w_cnt_ok.eq(req.count.any()),
        ]
        w_ok = Signal(attrs={"keep": 1})
        m.d.comb += w_ok.eq(w_row_ok & w_col_ok & w_slot_ok & w_cnt_ok)
        r_row_ok, r_col_ok = Signal(), Signal()
        m.d.comb += [r_row_ok.eq(below(rdc.row, p.array.rows)), r_col_ok.eq(below(rdc.phys_col, p.phys_cols))]
        code_w = Signal(3)
        code_r = Signal(3)
        m.d.comb += [
            code_w.eq(Mux(~w_row_ok, ErrorCode.ROW, Mux(~w_col_ok, ErrorCode.COL,
                          Mux(~w_slot_ok, ErrorCode.SLOT, ErrorCode.COUNT)))),
            code_r.eq(Mux(~r_row_ok, ErrorCode.READ_ROW, ErrorCode.READ_COL)),
        ]
        new_err = Signal()
        new_code = Signal(3)
        m.d.comb += [
            new_err.eq((w_go & ~w_ok) | (r_go & ~(r_row_ok & r_col_ok))),
            new_code.eq(Mux(w_go, code_w, code_r)),
        ]
        with m.If(new_err):
            m.d.sync += self.error.eq(1)
            with m.If(~self.error | self.clear):
                m.d.sync += self.error_code.eq(new_code)
        with m.Elif(self.clear):
            m.d.sync += [self.error.eq(0), self.error_code.eq(0)]

        # --- accept ----------------------------------------------------------------------------
        phys_col = self._phys_col(m, req.col, req.slot)
        count = Signal.like(req.count)          # latched request count (for the Assert)
        m.d.sync += self.verify_valid.eq(0)
        with m.If(w_go & w_ok):
            m.d.sync += [
                idle.eq(0), setup.eq(1), host.eq(0), load(t.setup),
                cmd.sel.eq(1), cmd.row.eq(req.row), cmd.phys_col.eq(phys_col),
                cmd.polarity.eq(req.polarity), left.eq(req.count - 1), count.eq(req.count),
            ]
        with m.If(r_go):
            m.d.sync += [host.eq(1), idle.eq(0), cmd.row.eq(rdc.row), cmd.phys_col.eq(rdc.phys_col)]
            with m.If(r_row_ok & r_col_ok):
                m.d.sync += [setup.eq(1), load(t.setup), cmd.sel.eq(1)]
            with m.Else():
                m.d.sync += [result.eq(1), self.rd_resp.valid.eq(1),
                             self.rd_resp.payload.data.eq(0), self.rd_resp.payload.err.eq(1)]

        # --- phases --------------------------------------------------------------------------------
        with m.If(setup | pulse | gap | settle | reading | capture):
            m.d.sync += cnt.eq(cnt - 1)

        def start_read():
            return [reading.eq(1), cmd.re.eq(1), load(t.read)]

        def finish_read(m: Module):
            # the adc sample of this cycle is the read result
            with m.If(host):
                m.d.sync += [result.eq(1), self.rd_resp.valid.eq(1),
                             self.rd_resp.payload.data.eq(self.adc), self.rd_resp.payload.err.eq(0)]
            with m.Else():
                m.d.sync += [idle.eq(1), self.verify_valid.eq(1), self.verify_data.eq(self.adc)]

        with m.If(setup & last):
            m.d.sync += setup.eq(0)
            with m.If(host):
                m.d.sync += start_read()
            with m.Else():
                m.d.sync += [pulse.eq(1), cmd.we.eq(1), load(t.width)]
        with m.If(pulse & last):
            m.d.sync += [pulse.eq(0), cmd.we.eq(0), left.eq(left - 1)]
            with m.If(left.any()):
                m.d.sync += [gap.eq(1), load(t.gap)]
            with m.Else():
                m.d.sync += [settle.eq(1), load(t.settle)]
        with m.If(gap & last):
            m.d.sync += [gap.eq(0), pulse.eq(1), cmd.we.eq(1), load(t.width)]
        with m.If(settle & last):
            m.d.sync += settle.eq(0)
            if t.verify:
                m.d.sync += start_read()
            else:
                m.d.sync += [idle.eq(1), cmd.sel.eq(0)]
        with m.If(reading & last):
            m.d.sync += [reading.eq(0), cmd.re.eq(0), cmd.sel.eq(0)]
            if self.read_latency:
                m.d.sync += [capture.eq(1), load(self.read_latency)]
            else:
                finish_read(m)
        if self.read_latency:
            with m.If(capture & last):
                m.d.sync += capture.eq(0)
                finish_read(m)
        with m.If(result & self.rd_resp.ready):
            m.d.sync += [result.eq(0), self.rd_resp.valid.eq(0), idle.eq(1)]

        # --- invariants (out of reset: the power-up state before the first reset edge is arbitrary) --
        we_q = Signal()
        sel_q = Signal()
        row_q, pc_q, pol_q = Signal.like(cmd.row), Signal.like(cmd.phys_col), Signal()
        edges = Signal.like(req.count)      # rising edges of we in the current request
        m.d.sync += [we_q.eq(cmd.we), sel_q.eq(cmd.sel), row_q.eq(cmd.row), pc_q.eq(cmd.phys_col),
                     pol_q.eq(cmd.polarity)]
        with m.If(w_go):
            m.d.sync += edges.eq(0)
        with m.Elif(cmd.we & ~we_q):
            m.d.sync += edges.eq(edges + 1)
        m.d.sync += [
            Assert(ResetSignal() | ~(cmd.we & cmd.re), "write and read at once"),
            Assert(ResetSignal() | ~(cmd.we | cmd.re) | cmd.sel, "we/re without sel"),
            Assert(ResetSignal() | ~cmd.sel | (below(cmd.row, p.array.rows) & below(cmd.phys_col, p.phys_cols)),
                   "address outside the array"),
            Assert(ResetSignal() | ~(cmd.sel & sel_q)
                   | ((cmd.row == row_q) & (cmd.phys_col == pc_q) & (cmd.polarity == pol_q)),
                   "address or polarity changed during a command"),
            Assert(ResetSignal() | ~(settle & last) | (edges == count), "pulse count differs from the request"),
            Assert(ResetSignal() | ~(idle & cmd.sel), "sel while idle"),
            Assert(ResetSignal() | one_hot(idle, setup, pulse, gap, settle, reading, capture, result),
                   "phases one-hot"),
        ]
        # Helper invariants for the k-induction proof (tb/formal/pulse_scheduler.py): how the pulse
        # bookkeeping relates to the phase. Reachable states satisfy them; without them induction
        # would start from states such as "in a gap with no pulse left". ``done`` = pulses so far,
        # counting the rising edge of this cycle.
        done = Signal.like(edges)
        done_left = Signal.like(edges)      # done + left, at the width of the counts (lint-clean compares)
        count_m1 = Signal.like(count)
        m.d.comb += [done.eq(edges + (cmd.we & ~we_q)), done_left.eq((done + left)[:len(edges)]),
                     count_m1.eq(add_const(count, -1))]
        write = ~idle & ~host
        m.d.sync += [
            Assert(ResetSignal() | (cmd.we == pulse) & (cmd.re == reading), "we and re follow their phases"),
            Assert(ResetSignal() | (cmd.sel == (setup | pulse | gap | settle | reading)),
                   "sel exactly in the addressing phases"),
            Assert(ResetSignal() | ~(setup & ~host) | (~edges.any() & (left == count_m1)), "setup: no pulse yet"),
            # done + left equal modulo 2**8 and done <= count: equal as integers
            Assert(ResetSignal() | ~pulse | ((done_left == count) & (done <= count)), "pulse: count - left pulses done"),
            Assert(ResetSignal() | ~gap | ((add_const(done_left, 1) == count) & (done < count)),
                   "gap: count - left - 1 pulses done"),
            Assert(ResetSignal() | ~(write & (settle | reading | capture)) | (done == count),
                   "after the pulses: all done"),
            Assert(ResetSignal() | ~write | (count.any() & ~result), "a write: count > 0, no result"),
            Assert(ResetSignal() | ~(host & (pulse | gap | settle)), "a host read never pulses"),
            Assert(ResetSignal() | (result == self.rd_resp.valid), "result phase = rd_resp.valid"),
        ]
        return m


def one_hot(*flags) -> Value:
    """Exactly one of ``flags`` is set."""
    v = Cat(*flags)
    return v.any() & ~(v & (v - 1)).any()
