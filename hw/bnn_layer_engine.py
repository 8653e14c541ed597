"""BnnLayerEngine: one hidden BNN layer on a 2T2R ReRAM array, in digital or analog (in-memory) mode."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, unsigned
from amaranth.hdl import Assert
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import BnnHwParams, bnn_hw_params_of
from golden.spec.interfaces import STROBES
from golden.spec.params import AccelParams, ConfigError
from hw.crossbar_addressing import CrossbarAddressing
from hw.lintsafe import add_const, eq_const, ge_const
from hw.sense_amp_sequencer import SenseAmpSequencer, cfg_signature
from hw.xnor_popcount import XnorPopcount


def in_layout(hw: BnnHwParams) -> data.StructLayout:
    """``x`` payload: the image's input ``bits`` (bit i = input i), its mode (``analog`` = 1) and the
    bias-row drive: ``cal`` = 0 drives every bias row (normal operation, the all-zero default), ``cal`` =
    1 drives bias rows ``j < ramp`` only (SA calibration ramp, :mod:`golden.bnn.sa_calibration`)."""
    return data.StructLayout({"bits": unsigned(hw.inputs), "analog": unsigned(1), "cal": unsigned(1),
                              "ramp": unsigned(hw.ramp_width)})


def out_bit_layout(hw: BnnHwParams) -> data.StructLayout:
    """``y`` payload: ``neuron`` index, its output ``bit``, ``last`` (the layer's last neuron)."""
    return data.StructLayout({"neuron": unsigned(hw.neuron_width), "bit": unsigned(1), "last": unsigned(1)})


def array_params(hw: BnnHwParams) -> AccelParams:
    """The CrossbarAddressing configuration of the layer's array: ``banks`` rows, ``bank*cells``
    2T2R cells (two devices, i.e. two physical columns, each)."""
    return AccelParams().with_(array={"rows": hw.banks, "cols": hw.array_cols, "cell": "2T2R"},
                               synapse={"devices": 2, "increment": 1, "differential": False})


class BnnLayerEngine(wiring.Component):
    """Sequence the neurons of a BNN layer through a 2T2R array and stream their output bits.

    Cycle-exact twin: :class:`golden.twins.bnn_layer_engine.BnnLayerEngineModel` (its docstring states the
    per-cycle rules); the array layout is in :mod:`golden.spec.bnn_datapath_params`.

    *Digital mode* (word-parallel): for neuron j (bank b = j // K, slot k = j % K) the engine reads its
    ``cells`` bridges ``R = read_lanes = min(read_width, cells)`` at a time: ``C = reads_per_neuron =
    ceil(cells / R)`` multi-cell 2T2R pair reads through :class:`CrossbarAddressing` (row b, first
    bridge ``k*cells + i*R``, ``span`` R-1, the last read ``cells - (C-1)*R`` bridges), one read per
    cycle. The array answers each read with ``rd_valid`` and the R bridge states on ``rd_bits`` (bit l
    = bridge ``first + l``; lanes past the read's span are ignored). An assembly register collects the
    C reads into the neuron's ``cells``-bit word, which enters :class:`XnorPopcount` (full width
    ``cells``, one vector per cycle; here one every C cycles) with ``x_ext`` = inputs + ``bias_cells``
    ones and the majority threshold ``cells//2 + 1``: the bias cells stored in the array realise the
    neuron's threshold. ``read_width = 1`` is the bit-serial engine (one bridge per cycle).
    *Analog mode*: per bank, word line b on (CrossbarAddressing, no column selected), the inputs on
    ``in_bits`` (and the bias rows ``bias_in``) and the :class:`SenseAmpSequencer` strobes drive the
    analog macro, whose K SA decisions are serialised to ``y``. *SA calibration*: a run of analog
    images with ``cal = 1`` and ``ramp = r`` steps the bias rows through the thermometer ramp of
    :mod:`golden.bnn.sa_calibration` (one image = one conversion of every neuron; the host counts the ones).

    Parameters
    ----------
    hw : BnnHwParams
        ``inputs`` N, ``bias_cells`` B (cells = N + B >= 2), ``neurons`` M, ``bank`` K,
        ``popcount_mode``, ``stage_levels``, the default phase lengths, ``out_fifo`` D, ``read_width``.

    Attributes
    ----------
    x : In(stream.Signature(StructLayout{bits: N, analog: 1, cal: 1, ramp: max(1, bits(B))}))
        One image per transfer: its input bits (bit i = input i), its mode (1: analog, 0:
        digital) and the bias-row drive: ``cal = 0`` (normal operation; what a host that predates the
        field sends) drives all B bias rows with 1; ``cal = 1`` drives rows ``j < ramp`` with 1 and the
        others with 0 (``ramp >= B``: all), one step of the SA-offset calibration ramp of
        :mod:`golden.bnn.sa_calibration` (the bias cells then all store 1). Ready when idle and drained.
    y : Out(stream.Signature(StructLayout{neuron: bits(M), bit: 1, last: 1}))
        Output bits, neurons in order 0..M-1 per image; ``last`` on neuron M-1.
    cfg : In(cfg_signature())
        Sequencer phase-length writes (``we``, ``addr`` 0..5, ``data`` 8 bits).
    wl : Out(banks)
        Word-line enables (registered by CrossbarAddressing).
    bl_read : Out(2 * K * cells)
        Per physical column read enables: the two columns of each bridge being read (digital mode;
        up to R adjacent bridges).
    read : Out(1)
        A bridge (word) read is on the lines in this cycle (digital mode).
    addr_error : Out(1)
        CrossbarAddressing rejected the previous command (never expected).
    rd_valid : In(1), rd_bits : In(R)
        Array -> engine: the bridge states of one earlier read, in order (bit l = the read's l-th
        bridge).
    in_bits : Out(N)
        The image's input bits for the BL/BLb input drivers (held for the whole image).
    bias_in : Out(B) (only if B > 0)
        The bias rows' drive, a thermometer code (bit j = 1 iff ``cal = 0`` or ``j < ramp``), registered
        with ``in_bits`` at the image's ``x`` transfer and held for the whole image. Analog mode: the
        macro drives the bias rows' BL/BLb with it. Digital mode: it replaces the ``B`` ones of ``x_ext``
        (``XNOR(bias_in, stored bias bits)``), so a digital conversion is the ideal, noise-free twin of
        the analog one; with ``cal = 0`` both modes are unchanged.
    eq, precharge, input_en, evaluate, sa_en, readout, sa_rst : Out(1)
        Sense-amplifier strobes (registered), see :mod:`golden.twins.sense_amp_sequencer`.
    phase : Out(3)
        Sequencer phase code.
    sa_out : In(K)
        The bank's SA decisions (bit k = slot k).
    busy : Out(1)
        An image is being processed.

    Latency and throughput (``y`` always ready): the first bit of an image is offered
    ``C + read_latency + L + 1`` cycles after its ``x`` transfer in digital mode (C =
    ``reads_per_neuron``, L = XnorPopcount latency), ``sum(phase lengths[0:5]) + 4`` in analog mode.
    Digital: one neuron per C cycles (one R-bridge read per cycle; C = ``cells`` with read_width 1).
    Analog: one bank of K neurons per ``sum(phase lengths)`` cycles while K <= sum(phase lengths) (the
    serializer emits 1 bit/cycle). Images do not overlap (``x`` is ready once every bit of the
    previous image has left).
    """

    def __init__(self, hw: BnnHwParams | None = None):
        hw = hw if hw is not None else BnnHwParams()
        if not isinstance(hw, BnnHwParams):
            raise ConfigError(f"bnn_layer_engine needs BnnHwParams, got {type(hw).__name__}")
        if hw.cells < 2:
            raise ConfigError(f"bnn.inputs + bnn.bias_cells = {hw.cells} is out of range for the layer "
                              f"engine: allowed [2, 4096]")
        self.hw = hw
        self.array = array_params(hw)
        P = self.array.phys_cols
        super().__init__({
            "x": In(stream.Signature(in_layout(hw))),
            "y": Out(stream.Signature(out_bit_layout(hw))),
            "cfg": In(cfg_signature()),
            "wl": Out(hw.banks),
            "bl_read": Out(P),
            "read": Out(1),
            "addr_error": Out(1),
            "rd_valid": In(1),
            "rd_bits": In(hw.read_lanes),
            "in_bits": Out(hw.inputs),
            **({"bias_in": Out(hw.bias_cells)} if hw.bias_cells else {}),
            **{s: Out(1) for s in STROBES},
            "phase": Out(3),
            "sa_out": In(hw.bank),
            "busy": Out(1),
        })

    @classmethod
    def from_params(cls, params) -> BnnLayerEngine:
        """From :class:`golden.spec.bnn_datapath_params.BnnHwParams` (or AccelParams: BNN defaults)."""
        return cls(bnn_hw_params_of(params))

    def elaborate(self, platform):
        m = Module()
        hw = self.hw
        N, B, T, M, K, D = hw.inputs, hw.bias_cells, hw.cells, hw.neurons, hw.bank, hw.out_fifo
        banks = hw.banks
        k_last = M - (banks - 1) * K
        R, C, R_last = hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes

        m.submodules.addr = addr = CrossbarAddressing(self.array, read_width=R)
        m.submodules.pop = pop = XnorPopcount(T, stage_levels=hw.stage_levels, mode=hw.popcount_mode,
                                              tag_width=hw.neuron_width)
        m.submodules.seq = seq = SenseAmpSequencer(K, tag_width=hw.bank_width, lengths=hw.phase_lengths)
        nw = hw.neuron_width
        m.submodules.fifo = fifo = SyncFIFO(width=nw + 1, depth=D)

        # --- image register, mode, run state ---------------------------------------------------
        xr = Signal(N)
        bias_r = Signal(B, init=(1 << B) - 1)     # bias-row drive (thermometer), held for the image
        mode = Signal()
        running = Signal()
        credits = Signal(range(D + 1), init=D)
        drained = Signal()
        m.d.comb += [
            drained.eq(eq_const(credits, D)),
            self.x.ready.eq(~running & drained),
            self.in_bits.eq(xr),
            *([self.bias_in.eq(bias_r)] if B else []),
            self.busy.eq(running),
        ]
        start = Signal()
        done = Signal()
        m.d.comb += start.eq(self.x.valid & self.x.ready)

        # --- digital issue: one R-bridge pair read per cycle, C reads per neuron -----------------
        iss_neuron = Signal(range(M + 1))
        iss_read = Signal(range(max(C, 2)))       # read i of the current neuron
        iss_slot = Signal(range(max(K, 2)))
        iss_row = Signal(range(max(banks, 2)))
        iss_col = Signal(range(K * T))            # first bridge of the read
        iss_done = Signal()
        issue = Signal()
        first_read = Signal()
        last_read = Signal()
        # issue = running & ~mode & ~iss_done & (~first_read | credits != 0) is a register of its own,
        # set from the next-state values (below): it gates the CrossbarAddressing read strobe and
        # span, whose range check and decoders are the engine's critical path
        m.d.comb += [
            first_read.eq(eq_const(iss_read, 0)),
            last_read.eq(eq_const(iss_read, C - 1)),
        ]
        with m.If(issue):
            with m.If(last_read):
                m.d.sync += [iss_read.eq(0), iss_neuron.eq(add_const(iss_neuron, 1))]
                with m.If(eq_const(iss_neuron, M - 1)):
                    m.d.sync += iss_done.eq(1)
                with m.If(eq_const(iss_slot, K - 1)):
                    m.d.sync += [iss_slot.eq(0), iss_row.eq(add_const(iss_row, 1)), iss_col.eq(0)]
                with m.Else():
                    m.d.sync += [iss_slot.eq(add_const(iss_slot, 1)), iss_col.eq(add_const(iss_col, R_last))]
            with m.Else():
                m.d.sync += [iss_read.eq(add_const(iss_read, 1)), iss_col.eq(add_const(iss_col, R))]

        # --- digital collect: assemble a neuron's C reads, push the word into the popcount --------
        col_cnt = Signal(range(max(C, 2)))       # reads of the current neuron received so far
        push_neuron = Signal(range(M + 1))
        last_in = Signal()
        m.d.comb += last_in.eq(eq_const(col_cnt, C - 1))
        word = Signal(T)
        x_ext = Signal(T)
        wbuf = Signal((C - 1) * R) if C > 1 else None     # reads 0 .. C-2, read i in bits i*R ..
        m.d.comb += [word.eq(Cat(wbuf, self.rd_bits)[:T] if C > 1 else self.rd_bits),
                     x_ext.eq(Cat(xr, bias_r) if B else xr)]
        with m.If(self.rd_valid):
            with m.If(last_in):
                m.d.sync += [col_cnt.eq(0), push_neuron.eq(add_const(push_neuron, 1))]
            with m.Else():
                m.d.sync += col_cnt.eq(add_const(col_cnt, 1))
                if C > 1:
                    m.d.sync += wbuf.eq(Cat(wbuf[R:], self.rd_bits) if C > 2 else self.rd_bits)
        push = Signal()
        m.d.comb += [
            push.eq(self.rd_valid & last_in),
            pop.i.valid.eq(push),
            pop.i.payload.x.eq(x_ext),
            pop.i.payload.w.eq(word),
            pop.i.payload.thr.eq(T // 2 + 1),
            pop.i.payload.tag.eq(push_neuron),
            pop.o.ready.eq(1),               # credits guarantee FIFO room for every result
        ]
        with m.If(push & eq_const(push_neuron, M - 1)):
            m.d.comb += done.eq(1)

        # --- analog: bank requests, word line, serializer ----------------------------------------
        bank_iss = Signal(range(banks + 1))
        # running & mode & bank_iss != banks & enough, as a register of its own (next-state below)
        req_valid = Signal()
        last_bank = Signal()
        m.d.comb += [
            last_bank.eq(eq_const(bank_iss, banks - 1)),
            seq.req.valid.eq(req_valid),
            seq.req.payload.eq(bank_iss[:len(seq.req.payload)]),
        ]
        req_xfer = Signal()
        m.d.comb += req_xfer.eq(seq.req.valid & seq.req.ready)
        arow = Signal(range(max(banks, 2)))
        asel = Signal()
        with m.If(req_xfer):
            m.d.sync += [bank_iss.eq(add_const(bank_iss, 1)), arow.eq(bank_iss[:len(arow)]), asel.eq(1)]

        ser_valid = Signal()
        ser_bits = Signal(K)
        ser_left = Signal(range(K + 1))
        ser_neuron = Signal(range(M + 1))
        m.d.comb += seq.resp.ready.eq(~ser_valid)
        resp_xfer = Signal()
        m.d.comb += resp_xfer.eq(seq.resp.valid & seq.resp.ready)
        resp_last = Signal()
        m.d.comb += resp_last.eq(eq_const(seq.resp.payload.tag, banks - 1))
        with m.If(resp_xfer):
            m.d.sync += [ser_valid.eq(1), ser_bits.eq(seq.resp.payload.bits),
                         ser_left.eq(Mux(resp_last, k_last, K))]
            with m.If(resp_last):
                m.d.comb += done.eq(1)
                m.d.sync += asel.eq(0)
        with m.Elif(ser_valid):
            m.d.sync += [ser_bits.eq(ser_bits[1:] if K > 1 else 0), ser_left.eq(add_const(ser_left, -1)),
                         ser_neuron.eq(add_const(ser_neuron, 1))]
            with m.If(eq_const(ser_left, 1)):
                m.d.sync += ser_valid.eq(0)

        # --- CrossbarAddressing command ------------------------------------------------------------
        pcw = len(addr.cmd.phys_col)
        m.d.comb += [
            addr.cmd.we.eq(0),
            addr.cmd.polarity.eq(0),
            self.wl.eq(addr.wl),
            self.bl_read.eq(addr.bl_read),
            self.read.eq(addr.read),
            self.addr_error.eq(addr.error),
        ]
        # The column, read strobe and span need no mode multiplexer: `issue` is 0 in analog mode and
        # iss_col stays 0 there (cleared at the image's start, advanced only by `issue`), so they
        # come straight from registers into the CrossbarAddressing range check and decoders.
        m.d.comb += [addr.cmd.re.eq(issue), addr.pair.eq(issue),
                     addr.cmd.phys_col.eq(Cat(Const(0, 1), iss_col)[:pcw])]
        if R > 1:   # span R-1, R_last-1 on a neuron's last read (0 while idle: no span error)
            span = Mux(last_read, R_last - 1, R - 1) if R_last != R else Const(R - 1, len(addr.span))
            m.d.comb += addr.span.eq(Mux(issue, span, 0))
        # Select and row: `issue` first, the analog terms behind it (`issue` is 0 in analog mode; in
        # digital mode the row only matters while `sel`, i.e. while `issue`), so the read strobe's cone
        # (sel & re = issue) does not run through the analog request handshake `req_xfer`.
        m.d.comb += [addr.cmd.sel.eq(issue | (mode & (req_xfer | asel))),
                     addr.cmd.row.eq(Mux(issue, iss_row, Mux(req_xfer, bank_iss[:len(arow)], arow)))]

        # --- sequencer wiring ----------------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.cfg), seq.cfg)
        m.d.comb += [seq.sa_out.eq(self.sa_out), self.phase.eq(seq.phase)]
        m.d.comb += [getattr(self, s).eq(getattr(seq, s)) for s in STROBES]

        # --- output FIFO and credits ---------------------------------------------------------------
        with m.If(mode):
            m.d.comb += [fifo.w_en.eq(ser_valid), fifo.w_data.eq(Cat(ser_neuron[:nw], ser_bits[0]))]
        with m.Else():
            m.d.comb += [fifo.w_en.eq(pop.o.valid),
                         fifo.w_data.eq(Cat(pop.o.payload.tag, pop.o.payload.decision))]
        m.d.comb += [
            self.y.valid.eq(fifo.r_rdy),
            self.y.payload.neuron.eq(fifo.r_data[:nw]),
            self.y.payload.bit.eq(fifo.r_data[nw]),
            self.y.payload.last.eq(eq_const(fifo.r_data[:nw], M - 1)),
            fifo.r_en.eq(self.y.ready),
        ]
        y_xfer = Signal()
        m.d.comb += y_xfer.eq(self.y.valid & self.y.ready)
        reserve = Signal(range(D + 1))
        with m.If(issue & first_read):
            m.d.comb += reserve.eq(1)
        with m.Elif(req_xfer):
            m.d.comb += reserve.eq(Mux(last_bank, k_last, K))
        cw = len(credits)
        inc = Signal(cw)
        m.d.comb += inc.eq(Mux(y_xfer, add_const(credits, 1), credits))
        credits_next = Signal(cw)
        m.d.comb += credits_next.eq((inc - reserve)[:cw])
        m.d.sync += credits.eq(credits_next)
        m.d.sync += Assert(ResetSignal() | ~fifo.w_en | fifo.w_rdy, "output FIFO overflow (credit error)")

        # --- image start / end ---------------------------------------------------------------------
        # next state of `issue` and `req_valid` (the assignments below and above)
        running_n, mode_n, iss_done_n = Signal(), Signal(), Signal()
        iss_read_n = Signal.like(iss_read)
        m.d.comb += [
            running_n.eq(Mux(start, 1, Mux(done, 0, running))),
            mode_n.eq(Mux(start, self.x.payload.analog, mode)),
            iss_done_n.eq(Mux(start, 0, Mux(issue & last_read & eq_const(iss_neuron, M - 1), 1, iss_done))),
            iss_read_n.eq(Mux(start | (issue & last_read), 0, Mux(issue, add_const(iss_read, 1), iss_read))),
        ]
        m.d.sync += issue.eq(running_n & ~mode_n & ~iss_done_n
                             & (~eq_const(iss_read_n, 0) | credits_next.any()))
        # credits_next >= k as compares of `credits` with constants, one per (y_xfer, reserve) case,
        # selected at the end (no subtract before the compare)
        def credits_next_ge(k: int):
            def ge(thr: int):
                if thr <= 0:
                    return Const(1, 1)
                return ge_const(credits, thr) if thr < (1 << cw) else Const(0, 1)

            def after(r: int):
                return Mux(y_xfer, ge(k + r - 1), ge(k + r))

            return Mux(issue & first_read, after(1),
                       Mux(req_xfer, Mux(last_bank, after(k_last), after(K)), after(0)))

        bank_last_n, bank_end_n = Signal(), Signal()     # bank_iss_n == banks - 1, == banks
        m.d.comb += [
            bank_last_n.eq(Mux(start, int(banks == 1), Mux(req_xfer, eq_const(bank_iss, banks - 2) if banks > 1
                                                            else Const(0, 1), last_bank))),
            bank_end_n.eq(~start & Mux(req_xfer, last_bank, eq_const(bank_iss, banks))),
        ]
        m.d.sync += req_valid.eq(running_n & mode_n & ~bank_end_n
                                 & Mux(bank_last_n, credits_next_ge(k_last), credits_next_ge(K)))
        with m.If(done):
            m.d.sync += running.eq(0)
        with m.If(start):
            if B:
                ramp, cal = self.x.payload.ramp, self.x.payload.cal
                m.d.sync += bias_r.eq(Cat(*(~cal | ge_const(ramp, j + 1) for j in range(B))))
            m.d.sync += [
                xr.eq(self.x.payload.bits), mode.eq(self.x.payload.analog), running.eq(1),
                iss_neuron.eq(0), iss_read.eq(0), iss_slot.eq(0), iss_row.eq(0), iss_col.eq(0),
                iss_done.eq(0), col_cnt.eq(0), push_neuron.eq(0), bank_iss.eq(0), ser_neuron.eq(0),
            ]
        return m
