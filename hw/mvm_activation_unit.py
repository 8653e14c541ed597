"""MvmActivationUnit: the digital activation between the array's read passes (ReLU, error codes, ReLU')."""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.mvm_geometry import activation_shape
from golden.spec.params import AccelParams
from hw.lintsafe import add_const, eq_const, ge_const, sext
from hw.memory_manifest import FRAME_BUFFER
from hw.mvm_read_engine import mvm_in_layout
from hw.sram import SimpleDualPortRam

#: width of the three saturation counters (they stop at 2**32 - 1)
COUNT_WIDTH = 32
#: ``send`` formats: the MVM read engine's forward input frame, the outer-product engine's x words
FMT_MVM, FMT_OPE = 0, 1


def code_layout(width: int) -> data.StructLayout:
    """A stream of codes: one signed ``width``-bit code per transfer, ``last`` on a vector's last."""
    return data.StructLayout({"code": signed(width), "last": unsigned(1)})


def _ge(x, k: int):
    """``x >= k`` for an unsigned ``x`` and any integer constant ``k``."""
    if k <= 0:
        return Const(1, 1)
    if k >= (1 << len(x)):
        return Const(0, 1)
    return ge_const(x, k)


def _saturating_inc(m: Module, cnt: Signal, en) -> None:
    with m.If(en & ~cnt.all()):
        m.d.sync += cnt.eq(add_const(cnt, 1))


def _sat_signed(m: Module, v, width: int, name: str) -> tuple[Signal, Signal]:
    """``(saturate(v, width), saturated)`` for a signed ``v`` at least ``width`` bits wide."""
    out = Signal(signed(width), name=name)
    sat = Signal(name=f"{name}_sat")
    w = len(v)
    if w <= width:
        m.d.comb += out.eq(sext(v, width))
        return out, sat
    top = v[width - 1:]                       # all equal (all 0 or all 1) iff v fits
    m.d.comb += sat.eq(~(top.all() | ~top.any()))
    hi = Cat(Const((1 << (width - 1)) - 1, width - 1), Const(0, 1))
    lo = Cat(Const(0, width - 1), Const(1, 1))
    m.d.comb += out.eq(Mux(sat, Mux(v[w - 1], lo, hi), v[:width]))
    return out, sat


class MvmActivationUnit(wiring.Component):
    """The on-chip integer transforms between the MVM read passes of the two-layer training step.

    Arithmetic: :mod:`golden.training.hw_exact` (steps 1-4 of its module docstring, through
    :func:`~golden.training.hw_exact.hidden_codes`, :func:`~golden.training.hw_exact.error_codes` and
    :func:`~golden.training.hw_exact.layer1_deltas`); transactions and cycle model:
    :mod:`golden.twins.mvm_activation_unit`. ``R`` = ``array.rows``, ``C`` = ``array.cols``, ``H =
    min(C, R - 1)`` hidden units, ``b`` = ``mvm.input_width``.

    Three independent paths
        * **Hidden codes** (``y_i`` -> buffer): a vector of C layer-1 forward outputs ``y`` (the MVM
          read engine's ``o``); ``h[j] = min(max(y[j], 0), 2**b - 1)`` for ``j < H`` is written to
          the hidden buffer (a :class:`hw.sram.SimpleDualPortRam` of H b-bit words) and ``h[j] > 0``
          to the mask buffer (H one-bit words); codes ``j >= H`` are taken and ignored. The buffer
          is valid (``h_valid``) from the cycle after the vector's ``last`` came on its C-th code
          until the next vector's first code is taken.
        * **Hidden frame** (``send`` -> ``h_o``): each ``send`` transfer streams the stored vector
          once as the R codes ``[h[0] .. h[H-1], 2**x_frac, 0, ..]`` (the bias input 1.0 at index H,
          the rows the layer does not use 0), packed from bit 0 into 32-bit words with ``last`` on
          the last: ``fmt`` 0 (:data:`FMT_MVM`) at b bits per code, ``32 // b`` per word -- the MVM
          read engine's forward input frame (``transposed`` 0); ``fmt`` 1 (:data:`FMT_OPE`) at
          ``engine.x_width`` bits, ``engine.x_per_word`` per word -- the x words of the
          outer-product engine's frame (which follow its delta words).
        * **Error codes** (``d_i`` -> ``e_o``): a vector of C layer-2 delta codes (signed
          ``engine.delta_width``; the host's softmax error, 0 in the unused columns) becomes the
          transposed read's input ``e = saturate(floor((d + 2**(s-1)) / 2**s), b)`` with ``s`` the
          run-time input ``e_shift`` (``s = 0``: ``e = saturate(d, b)``).
        * **Layer-1 deltas** (``t_i`` -> ``d1_o``): a vector of R transposed-read outputs ``y_t``
          (signed ``mvm.out_width``) becomes the H codes ``d1[j] = saturate(y_t[j], delta_width) *
          (h[j] > 0)`` (0 while ``h_valid`` is low); ``y_t[j]`` for ``j >= H`` (bias and unused
          rows) is taken and ignored.

    Vectors of the wrong length
        A ``last`` before the expected code count, or none on it (the rest up to ``last`` is then
        taken and dropped), sets the path's sticky error bit (``h_error``, ``e_error``,
        ``d1_error``). The hidden path does not commit such a vector (``h_valid`` stays low, so no
        ``send`` is taken and every ``d1`` is 0 until a correct vector arrives). The code paths
        cannot take back codes already passed on: ``last`` goes out with the input's early ``last``,
        or on the expected last code when the input's ``last`` is late.

    Saturation counters
        ``hidden_saturated`` (``y[j] > 2**b - 1``, ``j < H``), ``e_saturated`` (``e`` clipped),
        ``d1_saturated`` (``y_t[j]`` outside the delta format, ``j < H``, masked or not), as the
        statistics of :class:`golden.training.hw_exact.HwExactMLP`; 32 bits, they stop at 2**32 - 1.

    Widths
        ``y_i`` signed ``mvm.out_width``; ``h_o`` 32-bit words; ``d_i`` signed ``engine.delta_width``;
        ``e_o`` signed b; ``t_i`` signed ``mvm.out_width``; ``d1_o`` signed ``engine.delta_width``;
        ``e_shift`` 5 bits (0..31).

    Latency and throughput (outputs always ready)
        ``y_i``: one code per cycle; ready while no hidden frame is being read out (``send`` taken
        and its last code not yet read) and no ``t_i`` vector is in progress (the mask buffer is
        read). ``send`` taken in cycle c: one code per cycle is issued from cycle c + 1 on, code k
        in ``c + 1 + k`` up to the end of the word that holds the bias (code H); each later word is
        all zero and issued whole in one cycle. A word is offered on ``h_o`` two cycles after its
        last code was issued. A frame thus takes ``ceil((H + 1) / per) * per + words - ceil((H + 1)
        / per)`` issue cycles (``per = 32 // width``, ``words = ceil(R / per)``; at most R); for
        the 785 x 250 layer at b = 8: 252 + 134 = 386 cycles for 197 words. The next ``send`` is
        taken in the cycle after the last issue. ``d_i`` -> ``e_o``: a code taken in cycle c is offered in
        c + 1, one per cycle (``d_i.ready = ~e_o.valid | e_o.ready``). ``t_i`` -> ``d1_o``: a code
        taken in cycle c is offered in c + 2 (mask buffer read), one per cycle. Backpressure on an
        output stalls only its path (``y_i`` waits for a hidden frame's read-out, not for ``h_o``).

    Parameters
    ----------
    params : AccelParams
        ``array``, ``engine`` and ``mvm`` sections (``mvm`` None: the defaults of ``MvmParams``);
        checked by :func:`golden.spec.mvm_geometry.activation_shape` (``engine.x_width >=
        mvm.input_width``, ``engine.x_frac < mvm.input_width``, ``array.rows >= 2``).

    Attributes
    ----------
    y_i : In(stream.Signature(StructLayout{code: signed(out_width), last: 1}))
    send : In(stream.Signature(1))
        Payload: the format (0 MVM read engine, 1 outer-product engine x words); ready while
        ``h_valid`` and no frame is being read out.
    h_o : Out(stream.Signature(StructLayout{data: 32, last: 1, transposed: 1}))
    d_i : In(stream.Signature(StructLayout{code: signed(delta_width), last: 1}))
    e_o : Out(stream.Signature(StructLayout{code: signed(b), last: 1}))
    t_i : In(stream.Signature(StructLayout{code: signed(out_width), last: 1}))
    d1_o : Out(stream.Signature(StructLayout{code: signed(delta_width), last: 1}))
    e_shift : In(5)
        ``s`` of the error codes (hw_exact's ``error_shift``; a run-time register, held while
        a vector passes).
    h_valid : Out(1)
    hidden_saturated, e_saturated, d1_saturated : Out(32)
    h_error, e_error, d1_error : Out(1)
        Sticky: a vector of the wrong length on ``y_i``, ``d_i``, ``t_i``.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        try:
            sh = activation_shape(params)
        except ValueError:
            self._MustUse__silence = True
            raise
        self.shape = sh
        self.R, self.C, self.H, self.b = sh.rows, sh.cols, sh.hidden, sh.input_width
        self.xw, self.xf, self.dw, self.ow = sh.x_width, sh.x_frac, sh.delta_width, sh.out_width
        super().__init__({
            "y_i": In(stream.Signature(code_layout(self.ow))),
            "send": In(stream.Signature(1)),
            "h_o": Out(stream.Signature(mvm_in_layout())),
            "d_i": In(stream.Signature(code_layout(self.dw))),
            "e_o": Out(stream.Signature(code_layout(self.b))),
            "t_i": In(stream.Signature(code_layout(self.ow))),
            "d1_o": Out(stream.Signature(code_layout(self.dw))),
            "e_shift": In(5),
            "h_valid": Out(1),
            "hidden_saturated": Out(COUNT_WIDTH),
            "e_saturated": Out(COUNT_WIDTH),
            "d1_saturated": Out(COUNT_WIDTH),
            "h_error": Out(1),
            "e_error": Out(1),
            "d1_error": Out(1),
        })

    @classmethod
    def from_params(cls, params: AccelParams) -> MvmActivationUnit:
        return cls(params)

    # ------------------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        R, C, H, b, xw, xf, dw, ow = self.R, self.C, self.H, self.b, self.xw, self.xf, self.dw, self.ow
        x_max = (1 << b) - 1
        m.submodules.h_ram = h_ram = SimpleDualPortRam(unsigned(b), max(2, H), transparent=False)
        m.submodules.nz_ram = nz_ram = SimpleDualPortRam(unsigned(1), max(2, H), transparent=False)
        h_ram.contents_after_reset = FRAME_BUFFER
        nz_ram.contents_after_reset = FRAME_BUFFER

        sending = Signal()
        t_act = Signal()

        # --- hidden codes in -----------------------------------------------------------------------
        yi = self.y_i
        ya = Signal(range(max(2, C)))
        y_disc = Signal()
        m.d.comb += yi.ready.eq(~sending & ~t_act)
        y_acc = Signal()
        m.d.comb += y_acc.eq(yi.valid & yi.ready)
        y = yi.payload.code
        neg = y[ow - 1]
        over = Signal()
        m.d.comb += over.eq(~neg & (y[b:ow - 1].any() if ow - 1 > b else Const(0, 1)))
        hcode = Signal(b)
        m.d.comb += hcode.eq(Mux(neg, 0, Mux(over, x_max, y[:b])))
        y_in = Signal()
        m.d.comb += y_in.eq(y_acc & ~y_disc & ~_ge(ya, H))
        m.d.comb += [h_ram.w_en.eq(y_in), h_ram.w_addr.eq(ya), h_ram.w_data.eq(hcode),
                     nz_ram.w_en.eq(y_in), nz_ram.w_addr.eq(ya), nz_ram.w_data.eq(hcode.any())]
        _saturating_inc(m, self.hidden_saturated, y_in & over)
        y_end = eq_const(ya, C - 1)
        with m.If(y_acc):
            with m.If(y_disc), m.If(yi.payload.last):
                m.d.sync += y_disc.eq(0)
            with m.Else():
                with m.If(eq_const(ya, 0)):
                    m.d.sync += self.h_valid.eq(0)
                with m.If(yi.payload.last):
                    m.d.sync += ya.eq(0)
                    with m.If(y_end):
                        m.d.sync += self.h_valid.eq(1)
                    with m.Else():
                        m.d.sync += self.h_error.eq(1)
                with m.Elif(y_end):
                    m.d.sync += [ya.eq(0), y_disc.eq(1), self.h_error.eq(1)]
                with m.Else():
                    m.d.sync += ya.eq(add_const(ya, 1))

        # --- hidden frame out ----------------------------------------------------------------------
        ho = self.h_o
        fmt = Signal()
        sj = Signal(range(max(2, R)))
        spos = Signal(range(32))
        s1_valid, s1_end, s1_last = Signal(), Signal(), Signal()
        s1_kind = Signal(2)                   # 0: zero, 1: bias, 2: buffer
        s1_pos = Signal(range(32))
        wreg = Signal(32)
        m.d.comb += self.send.ready.eq(self.h_valid & ~sending)
        with m.If(self.send.valid & self.send.ready):
            m.d.sync += [sending.eq(1), fmt.eq(self.send.payload), sj.eq(0), spos.eq(0)]
        o_free = ~ho.valid | ho.ready
        s1_adv = Signal()
        issue = Signal()
        m.d.comb += [s1_adv.eq(s1_valid & (~s1_end | o_free)), issue.eq(sending & (~s1_valid | s1_adv))]
        pos_last = Mux(fmt, (32 // xw - 1) * xw, (32 // b - 1) * b)
        # past the bias, a word-aligned position starts an all-zero word: issued whole, in one cycle
        zero_word = Signal()
        m.d.comb += zero_word.eq(_ge(sj, H + 1) & eq_const(spos, 0))
        last_code = Signal()
        m.d.comb += last_code.eq(Mux(zero_word, Mux(fmt, _ge(sj, R - 32 // xw), _ge(sj, R - 32 // b)),
                                     eq_const(sj, R - 1)))
        word_end = Signal()
        m.d.comb += word_end.eq((spos == pos_last) | last_code | zero_word)
        in_buf = ~_ge(sj, H)
        m.d.comb += [h_ram.r_en.eq(issue), h_ram.r_addr.eq(sj)]
        with m.If(issue):
            m.d.sync += [s1_valid.eq(1), s1_pos.eq(spos), s1_end.eq(word_end), s1_last.eq(last_code),
                         s1_kind.eq(Mux(in_buf, 2, Mux(eq_const(sj, H), 1, 0))),
                         spos.eq(Mux(word_end, 0, Mux(fmt, add_const(spos, xw), add_const(spos, b)))),
                         sj.eq(Mux(zero_word, Mux(fmt, add_const(sj, 32 // xw), add_const(sj, 32 // b)),
                                   add_const(sj, 1)))]
            with m.If(last_code):
                m.d.sync += sending.eq(0)
        with m.Elif(s1_adv):
            m.d.sync += s1_valid.eq(0)
        code = Signal(b)
        m.d.comb += code.eq(Mux(s1_kind[1], h_ram.r_data, Mux(s1_kind[0], 1 << xf, 0)))
        positions = sorted({k * b for k in range(32 // b)} | {k * xw for k in range(32 // xw)})
        placed = Signal(32)
        m.d.comb += placed.eq(0)
        for p in positions:
            with m.If(eq_const(s1_pos, p)):
                m.d.comb += placed.eq(Cat(Const(0, p), code) if p else code) if p + b <= 32 else \
                    placed.eq(Cat(Const(0, p), code[:32 - p]))
        word = Signal(32)
        m.d.comb += word.eq(Mux(eq_const(s1_pos, 0), 0, wreg) | placed)
        with m.If(s1_adv):
            with m.If(s1_end):
                m.d.sync += [ho.valid.eq(1), ho.payload.data.eq(word), ho.payload.last.eq(s1_last),
                             ho.payload.transposed.eq(0)]
            with m.Else():
                m.d.sync += wreg.eq(word)
        with m.If(ho.ready & ~(s1_adv & s1_end)):
            m.d.sync += ho.valid.eq(0)

        # --- error codes -------------------------------------------------------------------------
        di, eo = self.d_i, self.e_o
        ec = Signal(range(max(2, C)))
        e_disc = Signal()
        m.d.comb += di.ready.eq(~eo.valid | eo.ready)
        d_acc = Signal()
        m.d.comb += d_acc.eq(di.valid & di.ready)
        code_d = di.payload.code
        s = self.e_shift
        sm1 = Signal(5)
        m.d.comb += sm1.eq(add_const(s, -1))
        # floor(d / 2**(s-1)) for s >= 1: the sign-extended bits shifted as a plain vector
        ext = Signal(dw + 32)
        m.d.comb += ext.eq(sext(code_d.as_unsigned(), dw + 32))
        q = Signal(dw + 2)
        m.d.comb += q.eq((ext >> sm1)[:dw + 2])
        q1 = Signal(dw + 2)                    # q + 1 (no overflow: |q| <= 2**(dw-1))
        m.d.comb += q1.eq(add_const(q, 1))
        ev = Signal(signed(dw + 1))            # floor((q + 1) / 2): round half up; s = 0: d
        m.d.comb += ev.eq(Mux(s.any(), q1[1:], sext(code_d.as_unsigned(), dw + 1)))
        e_code, e_sat = _sat_signed(m, ev, b, "e_code")
        e_load = d_acc & ~e_disc
        _saturating_inc(m, self.e_saturated, e_load & e_sat)
        e_end = eq_const(ec, C - 1)
        with m.If(e_load):
            m.d.sync += [eo.valid.eq(1), eo.payload.code.eq(e_code), eo.payload.last.eq(di.payload.last | e_end)]
            with m.If(di.payload.last):
                m.d.sync += ec.eq(0)
                with m.If(~e_end):
                    m.d.sync += self.e_error.eq(1)
            with m.Elif(e_end):
                m.d.sync += [ec.eq(0), e_disc.eq(1), self.e_error.eq(1)]
            with m.Else():
                m.d.sync += ec.eq(add_const(ec, 1))
        with m.Else():
            with m.If(eo.ready):
                m.d.sync += eo.valid.eq(0)
            with m.If(d_acc & di.payload.last):
                m.d.sync += e_disc.eq(0)

        # --- layer-1 deltas ------------------------------------------------------------------------
        ti, do = self.t_i, self.d1_o
        tc = Signal(range(max(2, R)))
        t_disc = Signal()
        t1_valid, t1_last, t1_keep = Signal(), Signal(), Signal()
        t1_code = Signal(signed(dw))
        t1_adv = Signal()
        m.d.comb += t1_adv.eq(t1_valid & (~do.valid | do.ready))
        m.d.comb += [ti.ready.eq(~t1_valid | t1_adv), t_act.eq(tc.any() | t_disc | t1_valid)]
        t_acc = Signal()
        m.d.comb += t_acc.eq(ti.valid & ti.ready)
        yt = ti.payload.code
        yt_sat_v, yt_sat = _sat_signed(m, yt, dw, "yt_sat")
        t_hid = ~_ge(tc, H)
        t_load = Signal()
        m.d.comb += t_load.eq(t_acc & ~t_disc & t_hid)
        m.d.comb += [nz_ram.r_en.eq(t_load), nz_ram.r_addr.eq(tc)]
        _saturating_inc(m, self.d1_saturated, t_load & yt_sat)
        t_end = eq_const(tc, R - 1)
        with m.If(t_load):
            m.d.sync += [t1_valid.eq(1), t1_code.eq(yt_sat_v), t1_last.eq(ti.payload.last | eq_const(tc, H - 1))]
        with m.Elif(t1_adv):
            m.d.sync += t1_valid.eq(0)
        with m.If(t_acc):
            with m.If(t_disc), m.If(ti.payload.last):
                m.d.sync += t_disc.eq(0)
            with m.Elif(ti.payload.last):
                m.d.sync += tc.eq(0)
                with m.If(~t_end):
                    m.d.sync += self.d1_error.eq(1)
            with m.Elif(t_end):
                m.d.sync += [tc.eq(0), t_disc.eq(1), self.d1_error.eq(1)]
            with m.Else():
                m.d.sync += tc.eq(add_const(tc, 1))
        m.d.comb += t1_keep.eq(nz_ram.r_data & self.h_valid)
        with m.If(t1_adv):
            m.d.sync += [do.valid.eq(1), do.payload.code.eq(Mux(t1_keep, t1_code, 0)), do.payload.last.eq(t1_last)]
        with m.Elif(do.ready):
            m.d.sync += do.valid.eq(0)
        return m
