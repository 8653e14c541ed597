"""BnnLayerEngine: one hidden BNN layer on a 2T2R ReRAM array, in digital or analog (in-memory) mode."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, unsigned
from amaranth.hdl import Assert
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from golden.spec.bnn_datapath_params import PHASES, BnnHwParams, bnn_hw_params_of
from golden.spec.interfaces import STROBES
from golden.spec.params import AccelParams, ConfigError
from hw.argmax_unit import ArgmaxUnit, argmax_out_layout
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


def out_word_layout(hw: BnnHwParams) -> data.StructLayout:
    """``y`` payload: ``word`` (the bank index b), its ``bits`` (K: bit k = neuron b*K + k; bits past the
    layer's last neuron are 0), ``last`` (the layer's last bank)."""
    return data.StructLayout({"word": unsigned(hw.bank_width), "bits": unsigned(hw.bank), "last": unsigned(1)})


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
    *Full-row reads* (``read_width >= cells``, up to 4096; the reference / FPGA mode): C = 1, one read
    of the neuron's whole row per cycle, so the popcount takes one vector per cycle, its full rate.
    The popcount is ``cells`` wide in every configuration (the assembly register only collects the C
    reads), so full rows add no popcount logic and its pipelining is unchanged: L = ``ceil(D /
    stage_levels) + 1`` (:class:`XnorPopcount`; 1127 bridges: tree D = 11, L = 7 at ``stage_levels``
    2, lut6 D = 6, L = 4). What grows is the array read port (``rd_bits``, R = ``cells`` bits) and
    CrossbarAddressing's read-run decoder (2R columns). A digital pass of M neurons then takes
    ``M + read_latency + L + 2`` cycles while the output FIFO's credits cover the words in flight
    (``(out_fifo - 1) * K >= read_latency + L + 1``; the paper's hidden layer: 1025 + 2 + 7 + 2 = 1036).
    *Analog mode*: the banks are requested from the pipelined :class:`SenseAmpSequencer` one after the
    other; the inputs on ``in_bits`` (and the bias rows ``bias_in``), the strobes and ``stages`` /
    ``firsts`` drive the analog macro, word line b is on while bank b is in the evaluate stage
    (the sequencer's decoder ``eval_wl`` of its evaluate-stage registers, no column selected), and the K SA decisions of a bank leave as one ``y`` word.
    *Output words*: both modes emit one K-bit word per bank (digital: the popcount decisions of the
    bank's K neurons collected in a word register). *SA calibration*: a run of analog
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
    y : Out(stream.Signature(StructLayout{word: bits(banks), bits: K, last: 1}))
        Output words, banks in order 0..banks-1 per image: bit k of word b = neuron b*K + k (the last
        bank's bits past neuron M-1 are 0); ``last`` on the layer's last bank.
    cfg : In(cfg_signature())
        Sequencer phase-length writes (``we``, ``addr`` 0..5, ``data`` 8 bits).
    wl : Out(banks)
        Word-line enables: CrossbarAddressing's registered lines (digital reads) OR the sequencer's
        ``eval_wl`` (analog conversions: a decoder of its evaluate stage's occupancy and tag
        registers).
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
        Sequencer phase code (the most advanced conversion's).
    stages, firsts : Out(6)
        The sequencer's occupied phase stages and the stages entered in this cycle (bit p-1 = phase p).
    sa_out : In(K)
        The bank's SA decisions (bit k = slot k).
    busy : Out(1)
        An image is being processed.
    cls : Out(stream.Signature(StructLayout{cls: bits(M), count: bits(cells)})) (only if ``argmax``)
        Output layer, digital mode: the image's class (lowest index among the largest popcounts) and
        its popcount, from :class:`ArgmaxUnit`, one cycle after the last neuron's popcount; ``x`` is
        not ready while a class waits.

    Latency and throughput (``y`` always ready): the first word of an image is offered
    ``K*C + read_latency + L + 1`` cycles after its ``x`` transfer in digital mode (C =
    ``reads_per_neuron``, L = XnorPopcount latency), ``sum(phase lengths[0:5]) + 3`` in analog mode.
    Digital: one neuron per C cycles (one R-bridge read per cycle; C = ``cells`` with read_width 1).
    Analog: one bank of K neurons per ``max(phase lengths)`` cycles (one per cycle with 1-cycle
    phases) while ``out_fifo`` covers the conversions in flight. Images do not overlap (``x`` is
    ready once every word of the previous image has left).
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
            "y": Out(stream.Signature(out_word_layout(hw))),
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
            "stages": Out(len(PHASES)),
            "firsts": Out(len(PHASES)),
            "sa_out": In(hw.bank),
            "busy": Out(1),
            **({"cls": Out(stream.Signature(argmax_out_layout(hw.neurons, hw.count_width)))} if hw.argmax else {}),
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

        m.submodules.addr = addr = CrossbarAddressing(self.array, read_width=R, range_hint=True)
        m.submodules.pop = pop = XnorPopcount(T, stage_levels=hw.stage_levels, mode=hw.popcount_mode,
                                              tag_width=hw.neuron_width)
        m.submodules.seq = seq = SenseAmpSequencer(K, tag_width=hw.bank_width, lengths=hw.phase_lengths,
                                                   eval_lines=banks)
        bw = hw.bank_width
        m.submodules.fifo = fifo = SyncFIFO(width=bw + K, depth=D)

        # --- image register, mode, run state ---------------------------------------------------
        xr = Signal(N)
        bias_r = Signal(B, init=(1 << B) - 1)     # bias-row drive (thermometer), held for the image
        mode = Signal()
        running = Signal()
        credits = Signal(range(D + 1), init=D)
        drained = Signal()
        m.d.comb += [
            drained.eq(eq_const(credits, D)),
            self.x.ready.eq(~running & drained & ~self.cls.valid if hw.argmax else ~running & drained),
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
        word_start = Signal()                     # the first read of a bank's first neuron: reserves a word
        # issue = running & ~mode & ~iss_done & (~word_start | credits != 0) is a register of its own,
        # set from the next-state values (below): it gates the CrossbarAddressing read strobe and
        # span, whose range check and decoders are the engine's critical path
        m.d.comb += [
            first_read.eq(eq_const(iss_read, 0)),
            last_read.eq(eq_const(iss_read, C - 1)),
            word_start.eq(first_read & eq_const(iss_slot, 0)),
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
            pop.o.ready.eq(1),               # credits guarantee FIFO room for every word
        ]
        with m.If(push & eq_const(push_neuron, M - 1)):
            m.d.comb += done.eq(1)
        if hw.argmax:   # output layer: every popcount also into the argmax (ready: x waits for cls)
            m.submodules.argmax = amax = ArgmaxUnit(M, hw.count_width)
            m.d.comb += [amax.i.valid.eq(pop.o.valid), amax.i.payload.count.eq(pop.o.payload.count),
                         amax.i.payload.last.eq(eq_const(pop.o.payload.tag, M - 1))]
            wiring.connect(m, amax.o, wiring.flipped(self.cls))

        # --- digital word assembly: K popcount decisions -> one output word --------------------------
        wacc = Signal(K)                          # decisions of the word's earlier neurons
        wslot = Signal(range(max(K, 2)))
        wword = Signal(range(max(banks, 2)))
        dword = Signal(K)                         # the word with the arriving decision at its slot
        word_end = Signal()
        m.d.comb += [
            dword.eq(wacc | Cat(*(pop.o.payload.decision & eq_const(wslot, k) for k in range(K)))
                     if K > 1 else pop.o.payload.decision),
            word_end.eq(eq_const(wslot, K - 1) | eq_const(pop.o.payload.tag, M - 1)),
        ]
        with m.If(pop.o.valid):
            with m.If(word_end):
                m.d.sync += [wacc.eq(0), wslot.eq(0), wword.eq(add_const(wword, 1))]
            with m.Else():
                m.d.sync += [wacc.eq(dword), wslot.eq(add_const(wslot, 1))]

        # --- analog: bank requests into the pipelined sequencer; responses straight to the FIFO ---
        bank_iss = Signal(range(banks + 1))
        # running & mode & bank_iss != banks & credits != 0, as a register of its own (next state below)
        req_valid = Signal()
        m.d.comb += [
            seq.req.valid.eq(req_valid),
            seq.req.payload.eq(bank_iss[:len(seq.req.payload)]),
            seq.resp.ready.eq(1),            # the request reserved the word's FIFO room
        ]
        req_xfer = Signal()
        m.d.comb += req_xfer.eq(seq.req.valid & seq.req.ready)
        with m.If(req_xfer):
            m.d.sync += bank_iss.eq(add_const(bank_iss, 1))
        resp_last = Signal()
        m.d.comb += resp_last.eq(eq_const(seq.resp.payload.tag, banks - 1))
        with m.If(seq.resp.valid & resp_last):
            m.d.comb += done.eq(1)
        abits = Signal(K)                         # the last bank's slots past neuron M-1 read as 0
        m.d.comb += abits.eq(Mux(resp_last, seq.resp.payload.bits & ((1 << k_last) - 1), seq.resp.payload.bits)
                             if k_last != K else seq.resp.payload.bits)

        # --- CrossbarAddressing command ------------------------------------------------------------
        pcw = len(addr.cmd.phys_col)
        m.d.comb += [
            addr.cmd.we.eq(0),
            addr.cmd.polarity.eq(0),
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
        # analog: the word line of the bank in the sequencer's evaluate stage, the sequencer's
        # decoder `eval_wl` of that stage's registers. It is what CrossbarAddressing would show for
        # the command (sel = eval_next, row = its tag, no column), which never errs (tag < banks),
        # but keeps the sequencer's move logic out of the decoder's range check and read strobe (the
        # ULX3S top's critical path ran from the moves through them into the 494 `bl_read`
        # flip-flops) and out of the word-line outputs
        wl_an = Signal(banks)
        m.d.comb += wl_an.eq(seq.eval_wl)
        m.d.sync += Assert(ResetSignal() | ~(wl_an.any() & addr.wl.any()), "analog and digital word line at once")
        m.d.comb += [addr.cmd.sel.eq(issue), addr.cmd.row.eq(iss_row), self.wl.eq(addr.wl | wl_an)]

        # --- sequencer wiring ----------------------------------------------------------------------
        wiring.connect(m, wiring.flipped(self.cfg), seq.cfg)
        m.d.comb += [seq.sa_out.eq(self.sa_out), self.phase.eq(seq.phase), self.stages.eq(seq.stages),
                     self.firsts.eq(seq.firsts)]
        m.d.comb += [getattr(self, s).eq(getattr(seq, s)) for s in STROBES]

        # --- output FIFO and credits ---------------------------------------------------------------
        with m.If(mode):
            m.d.comb += [fifo.w_en.eq(seq.resp.valid), fifo.w_data.eq(Cat(seq.resp.payload.tag[:bw], abits))]
        with m.Else():
            m.d.comb += [fifo.w_en.eq(pop.o.valid & word_end), fifo.w_data.eq(Cat(wword[:bw], dword))]
        m.d.comb += [
            self.y.valid.eq(fifo.r_rdy),
            self.y.payload.word.eq(fifo.r_data[:bw]),
            self.y.payload.bits.eq(fifo.r_data[bw:]),
            self.y.payload.last.eq(eq_const(fifo.r_data[:bw], banks - 1)),
            fifo.r_en.eq(self.y.ready),
        ]
        y_xfer = Signal()
        m.d.comb += y_xfer.eq(self.y.valid & self.y.ready)
        reserve = Signal()
        m.d.comb += reserve.eq((issue & word_start) | req_xfer)
        cw = len(credits)
        credits_next = Signal(cw)
        with m.If(y_xfer & ~reserve):
            m.d.comb += credits_next.eq(add_const(credits, 1))
        with m.Elif(~y_xfer & reserve):
            m.d.comb += credits_next.eq(add_const(credits, -1))
        with m.Else():
            m.d.comb += credits_next.eq(credits)
        m.d.sync += credits.eq(credits_next)
        m.d.sync += Assert(ResetSignal() | ~fifo.w_en | fifo.w_rdy, "output FIFO overflow (credit error)")

        # --- image start / end ---------------------------------------------------------------------
        # next state of `issue` and `req_valid` (the assignments below and above)
        running_n, mode_n, iss_done_n = Signal(), Signal(), Signal()
        iss_read_n = Signal.like(iss_read)
        iss_slot_n = Signal.like(iss_slot)
        m.d.comb += [
            running_n.eq(Mux(start, 1, Mux(done, 0, running))),
            mode_n.eq(Mux(start, self.x.payload.analog, mode)),
            iss_done_n.eq(Mux(start, 0, Mux(issue & last_read & eq_const(iss_neuron, M - 1), 1, iss_done))),
            iss_read_n.eq(Mux(start | (issue & last_read), 0, Mux(issue, add_const(iss_read, 1), iss_read))),
            iss_slot_n.eq(Mux(start | (issue & last_read & eq_const(iss_slot, K - 1)), 0,
                              Mux(issue & last_read, add_const(iss_slot, 1), iss_slot))),
        ]
        # credits_next != 0 as compares of `credits` with constants (no add before the compare)
        credit_free_n = Signal()
        m.d.comb += credit_free_n.eq(Mux(y_xfer & ~reserve, 1,
                                         Mux(~y_xfer & reserve, ge_const(credits, 2), credits.any())))
        m.d.sync += issue.eq(running_n & ~mode_n & ~iss_done_n
                             & (~(eq_const(iss_read_n, 0) & eq_const(iss_slot_n, 0)) | credit_free_n))
        # CrossbarAddressing's range check, one cycle ahead: the next read's row < banks and its
        # last bridge iss_col + span < K*T, as compares of the next column with constants (the
        # span is one of two constants). The decoder asserts that it agrees with its own compares,
        # which then are off the path into the read strobe and the `bl_read` flip-flops. An image's
        # start sets it (row 0, column 0: in range); the compares see the running state's next
        # values only, so the input handshake meets one gate before the register.
        iss_row_h = Signal.like(iss_row)
        iss_col_h = Signal.like(iss_col)
        row_wrap = issue & last_read & eq_const(iss_slot, K - 1)
        m.d.comb += [
            iss_row_h.eq(Mux(row_wrap, add_const(iss_row, 1), iss_row)),
            iss_col_h.eq(Mux(row_wrap, 0, Mux(issue, Mux(last_read, add_const(iss_col, R_last), add_const(iss_col, R)),
                                              iss_col))),
        ]

        def below_const(x, k: int):           # x < k, 0 < k
            return Const(1, 1) if k >= (1 << len(x)) else ~ge_const(x, k)

        col_ok_h = below_const(iss_col_h, K * T - (R - 1))
        if R_last != R:
            last_h = Mux(issue, Mux(last_read, Const(int(C == 1), 1), eq_const(iss_read, C - 2)), last_read)
            col_ok_h = Mux(last_h, below_const(iss_col_h, K * T - (R_last - 1)), col_ok_h)
        in_range = Signal()
        m.d.sync += in_range.eq(start | (below_const(iss_row_h, banks) & col_ok_h))
        m.d.comb += addr.in_range.eq(in_range)
        bank_end_n = Signal()                # bank_iss_n == banks
        m.d.comb += bank_end_n.eq(~start & Mux(req_xfer, eq_const(bank_iss, banks - 1), eq_const(bank_iss, banks)))
        m.d.sync += req_valid.eq(running_n & mode_n & ~bank_end_n & credit_free_n)
        with m.If(done):
            m.d.sync += running.eq(0)
        with m.If(start):
            if B:
                ramp, cal = self.x.payload.ramp, self.x.payload.cal
                m.d.sync += bias_r.eq(Cat(*(~cal | ge_const(ramp, j + 1) for j in range(B))))
            m.d.sync += [
                xr.eq(self.x.payload.bits), mode.eq(self.x.payload.analog), running.eq(1),
                iss_neuron.eq(0), iss_read.eq(0), iss_slot.eq(0), iss_row.eq(0), iss_col.eq(0),
                iss_done.eq(0), col_cnt.eq(0), push_neuron.eq(0), bank_iss.eq(0),
                wacc.eq(0), wslot.eq(0), wword.eq(0),
            ]
        return m
