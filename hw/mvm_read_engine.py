"""MvmReadEngine: bit-serial vector-matrix multiply through the array (forward and transposed reads)."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal, signed, unsigned
from amaranth.hdl import Assert
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.checks import bits_for
from golden.spec.mvm_geometry import MvmEngineShape, engine_shape
from hw.lintsafe import add_const, eq_const, sext, zext, zext_operand

#: FSM states (one-hot registers in the RTL, names in the twin)
LOAD, ARM, READ, OUT = range(4)


def mvm_in_layout() -> data.StructLayout:
    """``i`` payload: one 32-bit word of an input frame, ``last`` on its last word, and the frame's
    mode (``transposed``: 1 for a transposed read; taken from the frame's first word)."""
    return data.StructLayout({"data": unsigned(32), "last": unsigned(1), "transposed": unsigned(1)})


def mvm_out_layout(out_width: int) -> data.StructLayout:
    """``o`` payload: one output code ``y`` (signed ``out_width``), ``last`` on the frame's last."""
    return data.StructLayout({"y": signed(out_width), "last": unsigned(1)})


def mvm_cfg_layout(shape: MvmEngineShape) -> data.StructLayout:
    """``cfg`` (held constant while the engine is busy; later the CSR registers): read timing in cycles,
    the two passes' ADC full scales (``mvm.adc_full_scale``, ``mvm.fs_t``) and the reference code
    (g-code units), the two passes' scaling (``scale_*``, ``t_scale_*``)."""
    return data.StructLayout({
        "settle": unsigned(8), "conv": unsigned(8),
        "fs_fwd": unsigned(shape.fs_width), "fs_tr": unsigned(shape.fs_width), "g_ref": unsigned(shape.g_bits),
        "mult_fwd": unsigned(17), "shift_fwd": unsigned(6),
        "mult_tr": unsigned(17), "shift_tr": unsigned(6),
    })


def _popcount(m: Module, bits, name: str, en):
    """Number of set bits where ``en`` holds (else don't-care): a balanced tree of equal-width adds,
    ``bits_for(n + 1)`` wide. An odd node goes up a level widened through a Mux gated by ``en``
    (Yosys writes a plainly zero-extended operand as the bare narrow signal: Verilator's WIDTH lint)."""
    level = [b for b in bits]
    w = 1
    k = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            s = Signal(w + 1, name=f"{name}_{k}_{i}")
            m.d.comb += s.eq(zext(level[i], w) + zext(level[i + 1], w))
            nxt.append(s)
        if len(level) % 2:
            nxt.append(zext_operand(level[-1], w + 1, en))
        level, w, k = nxt, w + 1, k + 1
    out = Signal(bits_for(len(bits) + 1), name=name)
    m.d.comb += out.eq(zext(level[0], len(out)))
    return out


class MvmReadEngine(wiring.Component):
    """Apply an input vector to the array bit-serially, sequence the ADCs, accumulate in digital.

    Arithmetic: ``golden/mvm`` (forward and transposed reads); cycle model and transactions:
    :mod:`golden.twins.mvm_read_engine` (its docstring is the timing diagram). ``R`` synapse rows,
    ``C`` synapse columns, ``N`` devices per synapse (per group when differential), ``D`` slots,
    ``b`` = ``mvm.input_width``, ``A`` = ``mvm.adc_width``, ``K`` = ``mvm.cols_per_adc``.

    Data path
        * **Line-driver registers**: the frame's codes (forward: R unsigned codes ``u``; transposed: C
          signed codes ``e``), ``32 // b`` codes per 32-bit word from bit 0.
        * **Reads**: for each bit k (LSB first) and, in a differential transposed read, each group
          (G+ then G-): the engine waits in ARM until ``prog_active`` is low, then drives the bit
          plane (forward: ``wl[r]`` = bit k of ``u[r]``; transposed: ``bl[c*D + d]`` = bit k of
          ``e[c]``, slots ``d < N`` for G+, ``d >= N`` for G-, all D when non-differential) and
          ``read`` for ``settle + K * conv`` cycles: ``settle`` cycles, then K conversions of
          ``conv`` cycles each. Converter ``a`` converts line ``a * K + sel`` (lines: physical columns
          forward, rows transposed); ``adc_start`` is high in the first cycle of a conversion and
          ``adc_code`` (converter a at bits ``[a*A, (a+1)*A)``) is sampled in its last cycle.
        * **Shift-and-add** per line (signed ``A + b + 2`` bits): ``acc[l] += w_k * code`` with ``w_k
          = 2**k``, ``-2**(b-1)`` for the sign bit of a transposed read, negated for G-.
        * **Reference** (non-differential): ``ones`` = popcount of the driven code bit plane
          (registered when the lines are driven), ``ref = min(floor(ones * g_ref * n * 2**A / fs),
          2**A - 1)`` (n = 1 forward, N transposed) by an A-step restoring divider from registers,
          ``racc += w_k * ref`` at the end of the read.
        * **Outputs** (OUT, one per cycle while ``o`` is free): ``S = sum_{d<N} acc[d] - (sum_{d>=N}
          acc[d] | N * racc)`` over the D lines of synapse column j (forward) or ``S = acc[j] (-
          racc)`` (transposed); ``y = saturate(floor((S * mult + 2**(shift-1)) / 2**shift),
          out_width)``. The line accumulators shift down by D (forward) or 1 (transposed) per
          output, so the adder sees lines ``0 .. D-1`` only.

    Widths
        Frame words 32 bits; ``wl`` R, ``bl`` C*D; ``adc_code`` ``max(ceil(C*D/K), ceil(R/K)) * A``
        (column converters forward, row converters transposed); ``adc_sel`` ``bits(K)``; line
        accumulators signed ``A + b + 2``; ``y`` signed ``out_width``.

    Latency and throughput (``o`` always ready, ``prog_active`` low; ``RC = 1 + settle + K * conv``)
        A frame committed (last word accepted) in cycle c drives its first read in cycles c+2 ..
        c+1+settle+K*conv, one read every RC cycles (``P = b`` reads, ``2b`` for a differential
        transposed frame); its first ``y`` is offered in cycle ``c + P * RC + 2``, the last one
        ``n_out - 1`` cycles later (``n_out`` = C forward, R transposed), i.e. ``c + P * RC + n_out +
        1`` (:func:`golden.spec.mvm_geometry.frame_cycles`). ``i`` is ready again in the cycle the
        last ``y`` is offered, so frames back to back take ``L_in + P * RC + n_out`` cycles each
        (``L_in = ceil(n_in / (32 // b))`` words; :func:`~golden.spec.mvm_geometry.frame_period`),
        of which ``P * K * conv`` are conversions (the ADC bound). Every cycle ``prog_active`` keeps
        the engine in ARM adds one; every cycle ``o`` is not ready in OUT adds one.

    Parameters
    ----------
    params : AccelParams
        ``array``, ``synapse`` and ``mvm`` sections (``mvm`` None: the defaults of ``MvmParams``).

    Attributes
    ----------
    i : In(stream.Signature(StructLayout{data: 32, last: 1, transposed: 1}))
        Input frames; ready only while the engine is idle (LOAD). A frame whose ``last`` comes early
        or late is dropped whole (``frame_error``), as the outer-product engine does.
    o : Out(stream.Signature(StructLayout{y: signed(out_width), last: 1}))
        Output codes, j = 0 .. n_out - 1, one per transfer, ``last`` on the last.
    cfg : In(StructLayout{settle: 8, conv: 8, fs, g_ref, mult_fwd: 17, shift_fwd: 6, mult_tr: 17,
        shift_tr: 6})
        Run-time settings; ``settle`` and ``conv`` 0 act as 1.
    wl : Out(R), bl : Out(C*D), read : Out(1)
        Registered line enables and the read strobe (lines driven, sense path on).
    transposed : Out(1)
        Mode of the frame being processed (which converters ``adc_code`` carries).
    adc_start : Out(1), adc_sel : Out(bits(K))
        Conversion start strobe and line index within each converter's group (registered).
    adc_code : In(n_adc * A)
        The converters' codes, sampled in the last cycle of each conversion.
    prog_active : In(1)
        A programming pulse is active: no read starts while it is high; ``Assert(~(read &
        prog_active))``, and ``overlap_error`` (sticky) if it ever happens.
    rd_req : Out(1)
        The engine is in ARM or reading: the programming side must not start a pulse in the next
        cycle while it is high (and ``prog_active`` was low).
    busy : Out(1)
        Not idle (a frame committed and not all of its outputs loaded into ``o``).
    frame_error, overlap_error : Out(1)
        Sticky error flags.
    """

    def __init__(self, params):
        self.params = params
        sh = engine_shape(params)
        self.shape = sh
        self.R, self.C, self.N, self.D = sh.rows, sh.cols, sh.devices, sh.slots
        self.diff = sh.differential
        self.b, self.A, self.K = sh.input_width, sh.adc_width, sh.cols_per_adc
        self.PC = self.C * self.D
        self.per = 32 // self.b
        self.n_max = max(self.R, self.C)
        self.words_max = -(-self.n_max // self.per)
        self.L_fwd = -(-self.R // self.per)
        self.L_tr = -(-self.C // self.per)
        self.n_adc_f = -(-self.PC // self.K)
        self.n_adc_t = -(-self.R // self.K)
        self.n_adc = max(self.n_adc_f, self.n_adc_t)
        self.lines = max(self.PC, self.R)
        self.aw = self.A + self.b + 2
        super().__init__({
            "i": In(stream.Signature(mvm_in_layout())),
            "o": Out(stream.Signature(mvm_out_layout(sh.out_width))),
            "cfg": In(mvm_cfg_layout(sh)),
            "wl": Out(self.R),
            "bl": Out(self.PC),
            "read": Out(1),
            "transposed": Out(1),
            "adc_start": Out(1),
            "adc_sel": Out(bits_for(self.K)),
            "adc_code": In(self.n_adc * self.A),
            "prog_active": In(1),
            "rd_req": Out(1),
            "busy": Out(1),
            "frame_error": Out(1),
            "overlap_error": Out(1),
        })

    @classmethod
    def from_params(cls, params) -> MvmReadEngine:
        return cls(params)

    # ------------------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        b, A, K, R, C, N, D = self.b, self.A, self.K, self.R, self.C, self.N, self.D
        st = [Signal(name=n, init=int(i == LOAD)) for i, n in enumerate(("st_load", "st_arm", "st_read",
                                                                         "st_out"))]
        s_load, s_arm, s_read, s_out = st
        mode = self.transposed
        cfg = self.cfg

        # --- frame loader: line-driver registers ----------------------------------------------------
        f = self.i
        wc = Signal(range(max(2, self.words_max)))
        discard = Signal()
        fmode = Signal()                      # mode of the frame being received
        vec = Signal(self.words_max * self.per * b)
        acc_in = Signal()
        m.d.comb += [f.ready.eq(s_load), acc_in.eq(f.valid & s_load)]
        first = eq_const(wc, 0) & ~discard
        cur_mode = Mux(first, f.payload.transposed, fmode)
        last_word = Mux(cur_mode, eq_const(wc, self.L_tr - 1), eq_const(wc, self.L_fwd - 1))
        commit = Signal()
        m.d.comb += commit.eq(acc_in & ~discard & f.payload.last & last_word)
        pb = self.per * b
        with m.If(acc_in & ~discard):
            for w in range(self.words_max):
                with m.If(eq_const(wc, w)):
                    m.d.sync += vec[w * pb:(w + 1) * pb].eq(f.payload.data[:pb])
        with m.If(acc_in):
            with m.If(discard), m.If(f.payload.last):
                m.d.sync += discard.eq(0)
            with m.Elif(f.payload.last):
                m.d.sync += wc.eq(0)
                with m.If(~last_word):
                    m.d.sync += self.frame_error.eq(1)
            with m.Elif(last_word):
                m.d.sync += [wc.eq(0), discard.eq(1), self.frame_error.eq(1)]
            with m.Else():
                m.d.sync += wc.eq(add_const(wc, 1))
                with m.If(first):
                    m.d.sync += fmode.eq(f.payload.transposed)

        # --- pass counters ----------------------------------------------------------------------------
        kb = Signal(range(max(2, b)))         # input bit
        grp = Signal()                        # differential transposed: 0 = G+, 1 = G-
        sel = Signal(range(max(2, K)))
        cnt = Signal(8)
        conv_ph = Signal()
        sign_bit = eq_const(kb, b - 1) & mode
        last_grp = Mux(mode, grp, 1) if self.diff else Const(1, 1)
        last_pass = eq_const(kb, b - 1) & last_grp

        # bit plane of the codes (masked to the mode's vector length)
        kb_oh = Signal(b, name="kb_onehot")
        m.d.comb += kb_oh.eq(Cat(*(eq_const(kb, i) for i in range(b))) if b > 1 else Const(1, 1))
        plane = []
        for j in range(self.n_max):
            bit = Signal(name=f"plane{j}")
            m.d.comb += bit.eq((vec[j * b:(j + 1) * b] & kb_oh).any())
            inside = Mux(mode, int(j < C), int(j < R))
            plane.append(bit & inside)
        ones_now = _popcount(m, plane, "ones_now", s_arm)
        ones = Signal.like(ones_now, name="ones")

        # --- reference code: min(floor(ones * g_ref * n * 2**A / fs), 2**A - 1), restoring divider ---
        fw = self.shape.fs_width
        pw = len(ones) + self.shape.g_bits + bits_for(N + 1)
        pw = max(pw, fw) + 1
        prod = Signal(pw, name="ref_prod")
        gop = Signal(pw, name="ref_g")
        oop = Signal(pw, name="ref_ones")
        nop = Signal(pw, name="ref_n")
        m.d.comb += [gop.eq(zext(cfg.g_ref, pw)), oop.eq(zext(ones, pw)),
                     nop.eq(Mux(mode, Const(N, pw), Const(1, pw))),
                     prod.eq((oop * gop * nop)[:pw])]
        fsw = Signal(pw, name="ref_fs")
        m.d.comb += fsw.eq(Mux(mode, zext(cfg.fs_tr, pw), zext(cfg.fs_fwd, pw)))
        sat = Signal(name="ref_sat")
        m.d.comb += sat.eq(prod >= fsw)
        rem = prod
        qbits = []
        for i in range(A):
            r2 = Signal(pw, name=f"ref_r{i}")
            m.d.comb += r2.eq(Cat(Const(0, 1), rem[:pw - 1]))
            ge = Signal(name=f"ref_q{i}")
            m.d.comb += ge.eq(r2 >= fsw)
            nr = Signal(pw, name=f"ref_rem{i}")
            m.d.comb += nr.eq(Mux(ge, (r2 - fsw)[:pw], r2))
            qbits.append(ge)
            rem = nr
        ref_code = Signal(A, name="ref_code")
        m.d.comb += ref_code.eq(Mux(sat, Const((1 << A) - 1, A), Cat(*reversed(qbits))))

        # --- conversion timing --------------------------------------------------------------------
        settle_m1 = Mux(eq_const(cfg.settle, 0), Const(0, 8), add_const(cfg.settle, -1))
        conv_m1 = Mux(eq_const(cfg.conv, 0), Const(0, 8), add_const(cfg.conv, -1))
        cnt0 = eq_const(cnt, 0)
        sample = Signal()
        end_read = Signal()
        m.d.comb += [sample.eq(s_read & conv_ph & cnt0),
                     end_read.eq(sample & eq_const(sel, K - 1))]
        m.d.comb += [self.adc_sel.eq(zext(sel, len(self.adc_sel)))]
        m.d.sync += self.adc_start.eq(0)

        # --- line accumulators -----------------------------------------------------------------------
        # Two's-complement arithmetic on unsigned vectors of one width (sign-extended operands): the
        # same bits as signed arithmetic, and lint-clean Verilog (no operand narrowed by synthesis).
        aw = self.aw
        neg = Signal()
        m.d.comb += neg.eq(sign_bit ^ (grp & mode))

        def weighted(x, negate, name):
            """``+-(x << kb)`` at ``aw`` bits (two's complement)."""
            mag = Signal(aw, name=f"{name}_mag")
            with m.Switch(kb):
                for i in range(b):
                    with (m.Case(i) if i < b - 1 else m.Default()):    # kb <= b - 1
                        m.d.comb += mag.eq(Cat(Const(0, i), x) if i else x)
            t = Signal(aw, name=name)
            m.d.comb += t.eq(Mux(negate, add_const(~mag, 1), mag))
            return t

        terms = [weighted(self.adc_code[a * A:(a + 1) * A], neg, f"term{a}") for a in range(self.n_adc)]
        accs = [Signal(aw, name=f"acc{line}") for line in range(self.lines)]
        racc = Signal(aw, name="racc")
        step = D
        clear_acc = Signal()
        shift_out = Signal()
        for line, acc in enumerate(accs):
            a, s = divmod(line, K)
            ok_f, ok_t = line < self.PC, line < R
            inside = Mux(mode, int(ok_t), int(ok_f))
            with m.If(clear_acc):
                m.d.sync += acc.eq(0)
            with m.Elif(shift_out):
                nxt_f = accs[line + step] if line + step < self.lines else Const(0, aw)
                nxt_t = accs[line + 1] if line + 1 < self.lines else Const(0, aw)
                m.d.sync += acc.eq(Mux(mode, nxt_t, nxt_f))
            with m.Elif(sample & eq_const(sel, s) & inside):
                m.d.sync += acc.eq((acc + terms[a])[:aw])
        rterm = weighted(ref_code, sign_bit, "rterm")
        with m.If(clear_acc):
            m.d.sync += racc.eq(0)
        if not self.diff:                     # differential synapses: no reference term
            with m.Elif(end_read):
                m.d.sync += racc.eq((racc + rterm)[:aw])

        # --- output arithmetic -----------------------------------------------------------------------
        sw = aw + bits_for(2 * D + 1) + 1

        def sx(x, name):
            v = Signal(sw, name=name)
            m.d.comb += v.eq(sext(x, sw))
            return v

        def total(xs, name):
            t = xs[0]
            for i, x in enumerate(xs[1:]):
                nt = Signal(sw, name=f"{name}{i}")
                m.d.comb += nt.eq((t + x)[:sw])
                t = nt
            return t

        ssum = Signal(sw, name="s_sum")
        pos = total([sx(accs[d], f"s_acc{d}") for d in range(N)], "s_pos")
        a0 = sx(accs[0], "s_line0")
        if self.diff:
            tneg = total([sx(accs[d], f"s_acc{d}") for d in range(N, 2 * N)], "s_neg")
            fwd = (pos - tneg)[:sw]
            trs = a0
        else:
            rs = sx(racc, "s_racc")
            nconst = Signal(sw, name="s_n")
            m.d.comb += nconst.eq(N)
            rN = Signal(sw, name="s_ref_n")
            m.d.comb += rN.eq((rs * nconst)[:sw])
            fwd = (pos - rN)[:sw]
            trs = (a0 - rs)[:sw]
        m.d.comb += ssum.eq(Mux(mode, trs, fwd))
        mult = Signal(17, name="mult")
        shv = Signal(6, name="shift")
        m.d.comb += [mult.eq(Mux(mode, cfg.mult_tr, cfg.mult_fwd)), shv.eq(Mux(mode, cfg.shift_tr, cfg.shift_fwd))]
        xw = sw + 18
        sop, mop = Signal(xw, name="y_s"), Signal(xw, name="y_mult")
        m.d.comb += [sop.eq(sext(ssum, xw)), mop.eq(mult)]
        prodw = Signal(signed(xw), name="y_prod")
        m.d.comb += prodw.eq((sop * mop)[:xw])
        # floor((v + 2**(s-1)) / 2**s) = (floor(v / 2**(s-1)) + 1) >> 1 for s >= 1 (arithmetic shifts)
        shm1 = Signal(6, name="shift_m1")
        m.d.comb += shm1.eq(Mux(eq_const(shv, 0), Const(0, 6), add_const(shv, -1)))
        u = Signal(signed(xw), name="y_u")
        m.d.comb += u.eq(prodw >> shm1)
        u1 = Signal(xw + 1, name="y_u1")
        m.d.comb += u1.eq(add_const(sext(u, xw + 1), 1))
        shifted = Signal(signed(xw), name="y_shifted")
        m.d.comb += shifted.eq(Mux(eq_const(shv, 0), prodw, u1[1:]))
        ow = self.shape.out_width
        y = Signal(signed(ow), name="y")
        if xw > ow:
            top = shifted[ow - 1:]
            ovf = ~(top.all() | ~top.any())
            negv = shifted[xw - 1]
            m.d.comb += y.eq(Mux(ovf, Cat((~negv).replicate(ow - 1), negv), shifted[:ow]))
        else:
            m.d.comb += y.eq(sext(shifted, ow))

        # --- state machine ---------------------------------------------------------------------------
        j = Signal(range(max(2, self.n_max)))
        last_out = Mux(mode, eq_const(j, R - 1), eq_const(j, C - 1))
        o = self.o
        o_free = Signal()
        m.d.comb += o_free.eq(~o.valid | o.ready)
        with m.If(o.valid & o.ready):
            m.d.sync += o.valid.eq(0)
        m.d.comb += [clear_acc.eq(commit), shift_out.eq(s_out & o_free)]
        with m.If(s_load), m.If(commit):
            m.d.sync += [s_load.eq(0), s_arm.eq(1), kb.eq(0), grp.eq(0), mode.eq(cur_mode)]
        with m.If(s_arm & ~self.prog_active):
            m.d.sync += [s_arm.eq(0), s_read.eq(1), self.read.eq(1), ones.eq(ones_now), cnt.eq(settle_m1),
                         conv_ph.eq(0), sel.eq(0)]
            for r in range(R):
                m.d.sync += self.wl[r].eq(~mode & plane[r])
            for p in range(self.PC):
                c, d = divmod(p, D)
                if self.diff:
                    gsel = grp if d >= N else ~grp
                    m.d.sync += self.bl[p].eq(mode & plane[c] & gsel)
                else:
                    m.d.sync += self.bl[p].eq(mode & plane[c])
        with m.If(s_read):
            with m.If(~conv_ph):
                with m.If(cnt0):
                    m.d.sync += [conv_ph.eq(1), cnt.eq(conv_m1), self.adc_start.eq(1)]
                with m.Else():
                    m.d.sync += cnt.eq(add_const(cnt, -1))
            with m.Elif(~cnt0):
                m.d.sync += cnt.eq(add_const(cnt, -1))
            with m.Elif(~end_read):
                m.d.sync += [sel.eq(add_const(sel, 1)), cnt.eq(conv_m1), self.adc_start.eq(1)]
            with m.Else():
                m.d.sync += [s_read.eq(0), self.read.eq(0), self.wl.eq(0), self.bl.eq(0)]
                with m.If(last_pass):
                    m.d.sync += [s_out.eq(1), j.eq(0)]
                with m.Else():
                    m.d.sync += s_arm.eq(1)
                    if self.diff:
                        with m.If(mode & ~grp):
                            m.d.sync += grp.eq(1)
                        with m.Else():
                            m.d.sync += [grp.eq(0), kb.eq(add_const(kb, 1))]
                    else:
                        m.d.sync += kb.eq(add_const(kb, 1))
        with m.If(s_out & o_free):
            m.d.sync += [o.valid.eq(1), o.payload.y.eq(y), o.payload.last.eq(last_out), j.eq(add_const(j, 1))]
            with m.If(last_out):
                m.d.sync += [s_out.eq(0), s_load.eq(1)]

        # --- status, errors, assertions ------------------------------------------------------------
        m.d.comb += [self.rd_req.eq(s_arm | s_read), self.busy.eq(~s_load)]
        with m.If(self.read & self.prog_active):
            m.d.sync += self.overlap_error.eq(1)
        m.d.comb += [
            Assert(ResetSignal() | ~(self.read & self.prog_active), "a read overlaps a programming pulse"),
            Assert(ResetSignal() | (self.read == s_read), "read follows the READ state"),
            Assert(ResetSignal() | (Cat(*st).any() & ~Cat(*(a & b for i, a in enumerate(st) for b in st[i + 1:])).any()),
                   "state one-hot"),
        ]
        return m
