"""OuterProductEngine: dW = outer(x, delta) formed on chip, chi accumulated in P lanes."""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth import Const as C
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.spec.checks import bits_for
from golden.spec.engine_geometry import (
    clear_cycles,
    delta_sub_cycles,
    eps_is_power_of_two,
    groups,
    pipeline_stages,
)
from golden.spec.params import AccelParams
from hw.layouts import frame_word_layout, pulse_count_layout, update_request_layout
from hw.lintsafe import add_const, eq_const, ge_const, sext, zext, zext_operand
from hw.memory_manifest import FRAME_BUFFER
from hw.sram import SimpleDualPortRam

IDLE, SCAN, DRAIN = 0, 1, 2


def _lt_const(x, k: int):
    """``x < k`` for an unsigned ``x`` and a constant ``k >= 0``."""
    if k <= 0:
        return C(0, 1)
    if k >= (1 << len(x)):
        return C(1, 1)
    return ~ge_const(x, k)


def _abs_ge_pow2(s, kk: int):
    """``s >= 2**kk or s <= -2**kk`` for a signed ``s`` as AND/OR trees of its bits (no compare: it
    feeds the merge queue's enables). With ``q = s >> kk`` (arithmetic) and ``low = s[:kk]``:
    ``s >= 2**kk`` iff ``q > 0``; ``s <= -2**kk`` iff ``q < -1`` or ``q == -1 and low == 0``."""
    w = len(s)
    assert kk <= w - 2, "eps < 2**(chi_width - 1) (AccelParams checks it)"
    neg, mid = s[w - 1], s[kk:w - 1]
    low_any = s[:kk].any() if kk else C(0, 1)
    return (~neg & mid.any()) | (neg & ~(mid.all() & low_any))


def _two_or_more(bits):
    """At least two of ``bits`` are set: a balanced tree of (any, two-or-more) pairs."""
    def walk(lo, hi):
        if hi - lo == 1:
            return bits[lo], C(0, 1)
        mid = (lo + hi) // 2
        a_any, a_two = walk(lo, mid)
        b_any, b_two = walk(mid, hi)
        return a_any | b_any, a_two | b_two | (a_any & b_any)
    return walk(0, len(bits))[1]


def _three_or_more(bits):
    """At least three of ``bits`` are set (a sum of the bits compared with 3)."""
    n = len(bits)
    if n < 3:
        return C(0, 1)
    total = sum((bits[i] for i in range(1, n)), bits[0])   # widths grow with each addition
    return ge_const(total, 3)


def _signed_ge(s, k: int):
    """``s >= k`` for a signed ``s`` (two's complement bits) and a constant ``k > 0``."""
    w = len(s)
    if k > (1 << (w - 1)) - 1:
        return C(0, 1)
    return ~s[w - 1] & ge_const(s[:w - 1], k) if w > 1 and k < (1 << (w - 1)) else C(0, 1)


def _signed_le_neg(s, k: int):
    """``s <= -k`` for a signed ``s`` and a constant ``k > 0``."""
    w = len(s)
    if k > (1 << (w - 1)):
        return C(0, 1)
    # s <= -k  <=>  s + 2**w <= 2**w - k (s negative)  <=>  bits < 2**w - k + 1
    return s[w - 1] & _lt_const(s.as_unsigned(), (1 << w) - k + 1)


class OuterProductEngine(wiring.Component):
    """Forms ``dw[j, i]`` from a frame ``(delta, x)`` and runs the accumulator rule on P lanes.

    Bit-true to :mod:`golden.twins.outer_product_engine` (transaction level) and cycle-true to its
    :func:`~golden.twins.outer_product_engine.engine_cycle_model` (the micro-architecture is
    described there). Lane ``k`` owns the columns ``col % P == k``; group ``g`` holds columns
    ``g * P .. g * P + P - 1``; ``G = ceil(cols / P)``.

    Memories (all :class:`hw.sram.SimpleDualPortRam`, replaceable by SRAM macros)
        * chi bank per lane: ``rows * G`` words of signed ``update.chi_width``, address ``row * G + g``
          (formed incrementally: a per-word base plus a constant per element, then +1 per group;
          a single request forms ``row * G`` by shift-and-add over ``row_width`` cycles);
        * delta bank per lane: ``2 * 2**ceil(log2 G)`` words of ``delta_width`` (two frame buffers);
        * x store: ``2 * 2**ceil(log2 NX)`` packed x words with a non-zero flag per code
          (``x_per_word * (x_width + 1)`` bits).

    Pipeline (one beat = one row and one group of P columns per cycle)
        issue (registered addresses) -> delta read -> delta register -> ``x_q * d_q`` registered
        (DSP) -> round, saturate to ``dw_width`` and chi read -> chi register -> ``saturate(chi +
        dw)`` -> count / residue and write-back (for a power-of-two eps bit slices and constant
        compares; otherwise a restoring division over ``count_width + 1`` more registered stages,
        one quotient bit each, at full throughput)
        -> merge queue (two beats' emitting lanes, drained in lane order, one per cycle; the
        pipeline advances while it has room, so ``o.ready`` does not reach the pipeline) -> ``o``.
        Each synapse is touched at most once per frame and the pipeline drains between frames
        and after every single request, so no read-after-write hazard exists.

    Widths
        ``x_q`` unsigned ``x_width``, ``d_q`` signed ``delta_width``, product signed ``x_width + 1 +
        delta_width``, ``dw`` signed ``update.dw_width``, chi and the saturated sum signed
        ``update.chi_width``, count signed ``update.count_width + 1``; frame words 32 bits.

    Latency and throughput (no backpressure)
        A beat issued in cycle t reaches ``o`` in cycle ``t + NS + 2`` (``NS`` =
        :func:`~golden.spec.engine_geometry.pipeline_stages`: 7, or ``8 + count_width``
        when eps is not a power of two). A frame committed (last word accepted) in cycle c into an
        idle engine strobes ``end_cycle`` in cycle ``c + nonzero_rows * G + NS + 5 + b + e``
        (:func:`~golden.twins.outer_product_engine.frame_cycles`): ``b`` <= one cycle per all-zero x
        word the scan cannot hide behind the G > 1 groups of a row, ``e`` at most one cycle per
        pulse beyond the first of a beat (the merge queue absorbs some), plus the cycles ``o`` is
        not ready. The next frame loads meanwhile,
        one word per cycle (a delta word takes ``ceil(delta_per_word / min(P, delta_per_word))``
        cycles), so back-to-back frames take ``max(load words, that)`` cycles each. A single request
        reaches ``o`` ``row_width + NS + 3`` cycles after it was accepted; requests are taken one per
        ``max(row_width + 2, NS + 2)`` cycles.

    Parameters
    ----------
    params : AccelParams
        ``array``, ``update`` and ``engine`` sections.

    Attributes
    ----------
    frame : In(stream.Signature(frame_word_layout))
        AXI4-Stream frame words ``(data: 32, last: 1)``; ``ready`` depends on registered state only.
    req : In(stream.Signature(update_request_layout))
        Single per-synapse updates ``(row, col, dw)``, dw applied as given; taken only while no frame
        is committed and waiting (``ready`` from registered state and ``clear``).
    o : Out(stream.Signature(pulse_count_layout))
        PulseCounts in the golden order (row-major, then column).
    end_cycle : Out(1)
        One-cycle strobe per committed frame, after its last PulseCount was taken and before the
        next frame's first one is offered.
    idle : Out(1)
        Nothing accepted in flight: no committed frame, no request, ``o`` empty, no clear walk (a
        partly received frame does not count: it has no effect until it commits).
    clear : In(1)
        Drop the pipeline, committed frames and a pending request, then zero chi.
    clearing : Out(1)
        The clear walk runs (``rows * G`` cycles after reset and after ``clear``).
    frame_error : Out(1)
        Sticky: a frame of the wrong length was dropped whole.
    addr_error : Out(1)
        Sticky: a single request out of range was dropped.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        a, e = params.array, params.engine
        self.rows, self.cols, self.P = a.rows, a.cols, e.lanes
        self.LP = e.lanes.bit_length() - 1
        self.G = groups(params)
        self.gw = bits_for(self.G)
        self.dpw, self.xpw = e.delta_per_word, e.x_per_word
        self.nd = -(-a.cols // self.dpw)
        self.nx = -(-a.rows // self.xpw)
        self.L = self.nd + self.nx
        self.subs = delta_sub_cycles(params)
        self.spw = min(self.P, self.dpw)
        self.ns = pipeline_stages(params)
        super().__init__({
            "frame": In(stream.Signature(frame_word_layout())),
            "req": In(stream.Signature(update_request_layout(params))),
            "o": Out(stream.Signature(pulse_count_layout(params))),
            "end_cycle": Out(1),
            "idle": Out(1),
            "clear": In(1),
            "clearing": Out(1),
            "frame_error": Out(1),
            "addr_error": Out(1),
        })

    @classmethod
    def from_params(cls, params: AccelParams) -> OuterProductEngine:
        return cls(params)

    # ------------------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        e, u = self.params.engine, self.params.update
        P = self.P
        self.chi_rams = []
        self.d_rams = []
        for k in range(P):
            chi = SimpleDualPortRam(signed(u.chi_width), max(2, clear_cycles(self.params)), transparent=False)
            dr = SimpleDualPortRam(signed(e.delta_width), 2 << self.gw, transparent=False)
            dr.contents_after_reset = FRAME_BUFFER
            m.submodules[f"chi_ram{k}"] = chi
            m.submodules[f"delta_ram{k}"] = dr
            self.chi_rams.append(chi)
            self.d_rams.append(dr)
        # packed x codes plus one non-zero flag per code (formed at the write: no logic after the read)
        self.x_ram = SimpleDualPortRam(unsigned(self.xpw * (e.x_width + 1)), 2 << bits_for(self.nx),
                                       transparent=False)
        self.x_ram.contents_after_reset = FRAME_BUFFER
        m.submodules.x_ram = self.x_ram
        self.aw = len(self.chi_rams[0].r_addr)

        self.walking = Signal(init=1)
        self.lb = Signal()              # buffer being loaded
        self.cb = Signal()              # buffer being computed
        self.full = [Signal(name="full0"), Signal(name="full1")]
        self.st = Signal(2)             # IDLE / SCAN / DRAIN
        self.st_req = Signal()
        self.adv = Signal()
        self.o_free = Signal()
        self.r_busy = Signal()

        self._loader(m)
        s0 = self._exec(m)
        last = self._pipeline(m, s0)
        self._merge(m, last)
        self._clear_walk(m)
        m.d.comb += self.idle.eq(eq_const(self.st, IDLE) & ~self.r_busy & ~self.full[0] & ~self.full[1]
                                 & ~self.o.valid & ~self.walking)
        return m

    def _full_of(self, b):
        return Mux(b, self.full[1], self.full[0])

    def _set_full(self, m, b, value: int) -> None:
        with m.If(b):
            m.d.sync += self.full[1].eq(value)
        with m.Else():
            m.d.sync += self.full[0].eq(value)

    # --- frame loader ---------------------------------------------------------------------------
    def _loader(self, m: Module) -> None:
        e = self.params.engine
        f = self.frame
        P, LP, nd, L = self.P, self.LP, self.nd, self.L
        wc = Signal(range(L))
        in_x = Signal()
        discard = Signal()
        sub = Signal(range(max(2, self.subs)))
        dn = Signal(bits_for(nd * self.dpw + P))     # delta index of the current sub-word's first code
        xw = Signal(bits_for(self.nx))
        base = Signal()
        in_delta = Signal()
        d_wr = Signal()
        acc = Signal()
        last_sub = eq_const(sub, self.subs - 1) if self.subs > 1 else C(1, 1)
        m.d.comb += [
            base.eq(~self.walking & ~self.clear & ~self._full_of(self.lb)),
            in_delta.eq(~discard & ~in_x),
            f.ready.eq(base & (~in_delta | last_sub)),
            d_wr.eq(f.valid & base & in_delta),
            acc.eq(f.valid & f.ready),
        ]
        # delta banks: sub-word codes go to lanes (dn + r) % P at group (dn + r) // P
        dl = dn[:LP] if LP else C(0, 1)
        dg = dn[LP:]
        dg1 = add_const(dg, 1)
        last_word = eq_const(wc, nd - 1)
        tail = self.params.array.cols - (nd - 1) * self.dpw      # valid codes in the last delta word
        for k in range(P):
            ram = self.d_rams[k]
            r = add_const(~dl, k + 1) if LP else C(0, 1)          # (k - dl) mod P: lane k's place in the sub-word
            en = Signal(name=f"dwen{k}")
            code = Signal(e.delta_width, name=f"dcode{k}")
            conds = []
            for s in range(self.subs):
                n_sub = min(self.spw, self.dpw - s * self.spw)
                n_tail = max(0, min(n_sub, tail - s * self.spw))
                here = eq_const(sub, s) if self.subs > 1 else C(1, 1)
                conds.append(here & Mux(last_word, _lt_const(r, n_tail), _lt_const(r, n_sub)))
                for rr in range(min(P, n_sub)):
                    idx = s * self.spw + rr
                    with m.If(here & (eq_const(r, rr) if LP else C(1, 1))):
                        m.d.comb += code.eq(f.payload.data[idx * e.delta_width:(idx + 1) * e.delta_width])
            m.d.comb += en.eq(d_wr & Cat(*conds).any())
            wrap = ge_const(dl, k + 1) if (LP and k + 1 < P) else C(0, 1)   # lane k < dl: next group
            g_addr = Mux(wrap, dg1, dg)
            m.d.comb += [ram.w_en.eq(en), ram.w_addr.eq(Cat(zext(g_addr, self.gw), self.lb)),
                         ram.w_data.eq(code)]
        # x store: one packed word per cycle, padding codes of the last word forced to 0
        xbits = self.xpw * e.x_width
        valid_last = (self.params.array.rows - (self.nx - 1) * self.xpw) * e.x_width
        data = f.payload.data[:xbits]
        if valid_last < xbits:
            data = Mux(eq_const(xw, self.nx - 1), Cat(data[:valid_last], C(0, xbits - valid_last)), data)
        x_wr = acc & ~discard & in_x
        xwd = Signal(xbits, name="x_wdata")
        m.d.comb += xwd.eq(data)
        nonzero = Cat(*(xwd[k * e.x_width:(k + 1) * e.x_width].any() for k in range(self.xpw)))
        m.d.comb += [self.x_ram.w_en.eq(x_wr), self.x_ram.w_data.eq(Cat(xwd, nonzero)),
                     self.x_ram.w_addr.eq(Cat(xw, self.lb))]

        # counters
        last_adv = self.dpw - (self.subs - 1) * self.spw
        with m.If(d_wr):
            if self.subs > 1:
                m.d.sync += sub.eq(Mux(last_sub, 0, add_const(sub, 1)))
            if last_adv != self.spw:
                m.d.sync += dn.eq(Mux(last_sub, add_const(dn, last_adv), add_const(dn, self.spw)))
            else:
                m.d.sync += dn.eq(add_const(dn, self.spw))
        with m.If(x_wr):
            m.d.sync += xw.eq(add_const(xw, 1))

        def restart():
            m.d.sync += [wc.eq(0), in_x.eq(0), xw.eq(0), dn.eq(0)]

        with m.If(acc):
            with m.If(discard), m.If(f.payload.last):
                m.d.sync += discard.eq(0)
            with m.Elif(f.payload.last):
                restart()
                with m.If(eq_const(wc, L - 1)):
                    self._set_full(m, self.lb, 1)
                    m.d.sync += self.lb.eq(~self.lb)
                with m.Else():
                    m.d.sync += self.frame_error.eq(1)
            with m.Elif(eq_const(wc, L - 1)):
                restart()
                m.d.sync += [discard.eq(1), self.frame_error.eq(1)]
            with m.Else():
                m.d.sync += wc.eq(add_const(wc, 1))
                with m.If(last_word):
                    m.d.sync += in_x.eq(1)

    # --- exec: scanner, single requests, state ------------------------------------------------
    def _exec(self, m: Module) -> dict:
        e, a = self.params.engine, self.params.array
        P, LP, G, aw, xpw, nx = self.P, self.LP, self.G, self.aw, self.xpw, self.nx
        rbw = bits_for(nx * xpw + 1)
        st, adv = self.st, self.adv
        s0 = {
            "valid": Signal(name="s0_valid"), "req": Signal(name="s0_req"),
            "row": Signal(self.params.row_width, name="s0_row"), "g": Signal(self.gw, name="s0_g"),
            "last": Signal(name="s0_last"), "x": Signal(e.x_width, name="s0_x"),
            "ca": Signal(aw, name="s0_ca"), "lanes": Signal(P, name="s0_lanes"),
            "dwq": Signal(signed(self.params.update.dw_width), name="s0_dwq"),
        }
        # scanner registers
        in_row = Signal()
        row_r = Signal(self.params.row_width)
        x_r = Signal(e.x_width)
        g_r = Signal(self.gw)
        ca_r = Signal(aw)
        cur_valid = Signal()
        cur_mask = Signal(xpw)
        cur_x = Signal(xpw * e.x_width)
        cur_rbase = Signal(rbw)
        cur_abase = Signal(aw)
        nxt_valid = Signal()
        nxt_rbase = Signal(rbw)
        nxt_abase = Signal(aw)
        fi = Signal(range(nx + 1))
        fi_rbase = Signal(rbw)
        fi_abase = Signal(aw)

        # lowest non-zero element of the current word
        sel = Signal(range(max(2, xpw)))
        oh = Signal(xpw)
        eg = Signal(aw)
        eg1 = Signal(aw)
        x_sel = Signal(e.x_width)
        for k in reversed(range(xpw)):
            with m.If(cur_mask[k]):
                m.d.comb += [sel.eq(k), oh.eq(1 << k), eg.eq((k * G) % (1 << aw)),
                             eg1.eq((k * G + 1) % (1 << aw)),
                             x_sel.eq(cur_x[k * e.x_width:(k + 1) * e.x_width])]
        row_new = (cur_rbase + zext_operand(sel, rbw, 1))[:self.params.row_width]
        ca_new = (cur_abase + eg)[:aw]
        ca_new1 = (cur_abase + eg1)[:aw]

        scanning = Signal()
        take_row = Signal()
        consumed = Signal()
        load_cur = Signal()
        issue_rd = Signal()
        done = Signal()
        mask_after = Signal(xpw)
        # While scanning, the word is consumed when no element is left after this cycle: with an
        # element taken that is "fewer than two were left" (`cur_multi` low), a test of the mask that
        # does not wait for the taken element's one-hot; the read and load decisions below are
        # thereby flat functions of registers (this was the UP5K top's critical path from CLEAR_CHI).
        # `cur_any` / `cur_multi` (the mask holds one / two or more elements) and `fi_end` (fi == nx)
        # are registers of their own, loaded with the mask and fi: the read and load decisions then
        # take no logic of the mask's (synthesis had shared the lowest-element encoder with them, a
        # chain of 7 LUTs from the mask to the read enables: the UP5K top's critical path)
        cur_any, cur_multi, fi_end = Signal(), Signal(), Signal(init=int(nx == 0))
        m.d.comb += [
            scanning.eq(eq_const(st, SCAN) & ~self.clear),
            take_row.eq(scanning & adv & ~in_row & cur_valid & cur_any),
            mask_after.eq(Mux(take_row, cur_mask & ~oh, cur_mask)),
            # (take_row written out: every use of `consumed` is under `scanning`)
            consumed.eq(~cur_valid | ~cur_any | (adv & ~in_row & ~cur_multi)),
            load_cur.eq(scanning & consumed & nxt_valid),
            issue_rd.eq(scanning & (~nxt_valid | consumed) & ~fi_end),
            done.eq(~in_row & ~cur_valid & ~nxt_valid & fi_end),
            self.x_ram.r_en.eq(issue_rd),
            self.x_ram.r_addr.eq(Cat(zext(fi, len(self.x_ram.r_addr) - 1), self.cb)),
        ]
        rd = self.x_ram.r_data
        with m.If(scanning):
            with m.If(adv & in_row):
                m.d.sync += [g_r.eq(add_const(g_r, 1)), ca_r.eq(add_const(ca_r, 1))]
                with m.If(eq_const(g_r, G - 1)):
                    m.d.sync += in_row.eq(0)
            with m.Elif(take_row & (G > 1)):
                m.d.sync += [in_row.eq(1), row_r.eq(row_new), x_r.eq(x_sel), g_r.eq(1 % (1 << self.gw)),
                             ca_r.eq(ca_new1)]
            with m.If(load_cur):
                rd_mask = rd[xpw * e.x_width:]
                m.d.sync += [cur_valid.eq(1), cur_x.eq(rd[:xpw * e.x_width]), cur_rbase.eq(nxt_rbase),
                             cur_abase.eq(nxt_abase), cur_mask.eq(rd_mask),
                             cur_any.eq(rd_mask.any()), cur_multi.eq(_two_or_more(rd_mask))]
            with m.Else():      # (the mask of a consumed word is not looked at: cur_valid is 0)
                m.d.sync += cur_mask.eq(mask_after)
                with m.If(take_row):    # one element fewer
                    m.d.sync += [cur_any.eq(cur_multi), cur_multi.eq(_three_or_more(cur_mask))]
                with m.If(consumed):
                    m.d.sync += cur_valid.eq(0)
            with m.If(issue_rd):
                m.d.sync += [nxt_valid.eq(1), nxt_rbase.eq(fi_rbase), nxt_abase.eq(fi_abase),
                             fi.eq(add_const(fi, 1)), fi_end.eq(eq_const(fi, nx - 1)),
                             fi_rbase.eq(add_const(fi_rbase, xpw)),
                             fi_abase.eq(add_const(fi_abase, xpw * G))]
            with m.Elif(load_cur):
                m.d.sync += nxt_valid.eq(0)

        # single requests: row * G by shift-and-add, one bit per cycle
        r_ok = Signal()
        rw = self.params.row_width
        r_cnt = Signal(range(rw + 1))
        r_sh = Signal(rw)
        r_acc = Signal(aw)
        r_row = Signal(rw)
        r_col = Signal(self.params.col_width)
        r_dw = Signal(signed(self.params.update.dw_width))
        req = self.req
        m.d.comb += req.ready.eq(~self.r_busy & ~self.full[0] & ~self.full[1] & ~self.walking & ~self.clear)

        def in_range(v, n):
            return _lt_const(v, n)

        r_issue = Signal()
        m.d.comb += r_issue.eq(eq_const(st, IDLE) & self.r_busy & r_ok & eq_const(r_cnt, 0) & adv & ~self.clear)
        with m.If(req.valid & req.ready):
            m.d.sync += [self.r_busy.eq(1), r_ok.eq(in_range(req.payload.row, a.rows) & in_range(req.payload.col, a.cols)),
                         r_cnt.eq(rw), r_sh.eq(req.payload.row), r_acc.eq(0), r_row.eq(req.payload.row),
                         r_col.eq(req.payload.col), r_dw.eq(req.payload.dw)]
        with m.Elif(self.r_busy & ~r_ok & ~self.clear):
            m.d.sync += [self.r_busy.eq(0), self.addr_error.eq(1)]
        with m.Elif(self.r_busy & ~eq_const(r_cnt, 0)):
            gconst = C(G % (1 << aw), aw)
            m.d.sync += [r_acc.eq((Cat(C(0, 1), r_acc[:aw - 1]) + Mux(r_sh[rw - 1], gconst, C(0, aw)))[:aw]),
                         r_sh.eq(Cat(C(0, 1), r_sh[:rw - 1])), r_cnt.eq(add_const(r_cnt, -1))]
        with m.Elif(r_issue):
            m.d.sync += self.r_busy.eq(0)
        r_g = r_col[LP:] if LP < len(r_col) else C(0, 1)
        r_lane = Signal(P)
        m.d.comb += r_lane.eq(C(1, P) << r_col[:LP] if LP else C(1, 1))
        r_ca = (r_acc + zext_operand(r_g, aw, 1))[:aw]

        # S0 (issue register)
        with m.If(adv):
            m.d.sync += s0["valid"].eq(0)
            with m.If(scanning & in_row):
                m.d.sync += [s0["valid"].eq(1), s0["req"].eq(0), s0["row"].eq(row_r), s0["g"].eq(g_r),
                             s0["last"].eq(eq_const(g_r, G - 1)), s0["x"].eq(x_r), s0["ca"].eq(ca_r),
                             s0["lanes"].eq((1 << P) - 1)]
            with m.Elif(take_row):
                m.d.sync += [s0["valid"].eq(1), s0["req"].eq(0), s0["row"].eq(row_new), s0["g"].eq(0),
                             s0["last"].eq(int(G == 1)), s0["x"].eq(x_sel), s0["ca"].eq(ca_new),
                             s0["lanes"].eq((1 << P) - 1)]
            with m.Elif(r_issue):
                m.d.sync += [s0["valid"].eq(1), s0["req"].eq(1), s0["row"].eq(r_row), s0["g"].eq(zext(r_g, self.gw)),
                             s0["last"].eq(0), s0["x"].eq(0), s0["ca"].eq(r_ca), s0["lanes"].eq(r_lane),
                             s0["dwq"].eq(r_dw)]

        # state machine
        drained = self.drained = Signal()
        m.d.sync += self.end_cycle.eq(0)
        with m.If(self.clear):
            m.d.sync += [st.eq(IDLE), self.full[0].eq(0), self.full[1].eq(0), self.cb.eq(self.lb),
                         self.r_busy.eq(0), s0["valid"].eq(0)]
        with m.Elif(eq_const(st, IDLE)):
            with m.If(r_issue):
                m.d.sync += [st.eq(DRAIN), self.st_req.eq(1)]
            with m.Elif(~self.r_busy & self._full_of(self.cb)):
                m.d.sync += [st.eq(SCAN), self.st_req.eq(0), in_row.eq(0), cur_valid.eq(0), nxt_valid.eq(0),
                             fi.eq(0), fi_end.eq(int(nx == 0)), fi_rbase.eq(0), fi_abase.eq(0)]
        with m.Elif(eq_const(st, SCAN)), m.If(done):
            m.d.sync += st.eq(DRAIN)
        with m.Elif(eq_const(st, DRAIN)), m.If(drained):
            m.d.sync += st.eq(IDLE)
            with m.If(~self.st_req):
                m.d.sync += [self.end_cycle.eq(1), self.cb.eq(~self.cb)]
                self._set_full(m, self.cb, 0)
        return s0

    # --- lanes: the arithmetic pipeline -------------------------------------------------------
    def _pipeline(self, m: Module, s0: dict) -> dict:
        e, u = self.params.engine, self.params.update
        P, adv, clr = self.P, self.adv, self.clear
        cw, dww = u.chi_width, u.dw_width
        ctrl = ("valid", "req", "row", "g", "last", "ca", "lanes", "dwq")
        valids = [s0["valid"]]

        def stage(prev: dict, name: str, keys) -> dict:
            nxt = {k: Signal.like(prev[k], name=f"{name}_{k}") for k in keys}
            with m.If(clr):
                m.d.sync += nxt["valid"].eq(0)
            with m.Elif(adv):
                m.d.sync += [nxt[k].eq(prev[k]) for k in keys]
            valids.append(nxt["valid"])
            return nxt

        # delta read (address from S0); S1 registers the bank output (no BRAM -> DSP path)
        for k in range(P):
            m.d.comb += [self.d_rams[k].r_en.eq(adv), self.d_rams[k].r_addr.eq(Cat(s0["g"], self.cb))]
        s1 = stage(s0, "s1", ctrl + ("x",))
        s2 = stage(s1, "s2", ctrl + ("x",))
        ds = []
        for k in range(P):
            d = Signal(signed(e.delta_width), name=f"s2_d{k}")
            with m.If(adv):
                m.d.sync += d.eq(self.d_rams[k].r_data)
            ds.append(d)
        # S2: product x * d, registered into S3 (registered operands and result: DSP-friendly)
        pw = e.x_width + 1 + e.delta_width
        s3 = stage(s2, "s3", ctrl)
        prods = []
        for k in range(P):
            p = Signal(signed(pw), name=f"s3_p{k}")
            xs = Cat(s2["x"], C(0, pw - e.x_width)).as_signed()
            with m.If(adv):
                m.d.sync += p.eq((xs * sext(ds[k], pw).as_signed())[:pw].as_signed())
            prods.append(p)
        # S3: round, saturate to dw_width; chi read (address from S3)
        for k in range(P):
            m.d.comb += [self.chi_rams[k].r_en.eq(adv), self.chi_rams[k].r_addr.eq(s3["ca"])]
        s4 = stage(s3, "s4", ctrl)
        dws = []
        sh = e.shift
        for k in range(P):
            pr = sext(prods[k], pw + 1)
            if sh:
                pr = add_const(pr, 1 << (sh - 1))
            q = pr[sh:]                              # floor((p + 2**(s-1)) / 2**s), pw + 1 - sh bits
            dwk = Signal(signed(dww), name=f"s4_dw{k}")
            if len(q) > dww:
                top = q[dww - 1:]
                ovf = ~(top.all() | ~top.any())
                neg = q[len(q) - 1]
                sat = Mux(ovf, Cat((~neg).replicate(dww - 1), neg), q[:dww])
            else:
                sat = sext(q, dww)
            with m.If(adv):
                m.d.sync += dwk.eq(Mux(s3["req"], s3["dwq"], sat))
            dws.append(dwk)
        # S4: chi arrives from the bank; S5 registers it with dw (no BRAM -> adder path)
        s5 = stage(s4, "s5", ctrl)
        chis_r, dws5 = [], []
        for k in range(P):
            c5, d5 = Signal(signed(cw), name=f"s5_chi{k}"), Signal(signed(dww), name=f"s5_dw{k}")
            with m.If(adv):
                m.d.sync += [c5.eq(self.chi_rams[k].r_data), d5.eq(dws[k])]
            chis_r.append(c5)
            dws5.append(d5)
        # S5: s = saturate(chi + dw); lane enable
        s6 = stage(s5, "s6", ("valid", "row", "g", "ca"))
        sums, ens, bigs = [], [], []
        tail = self.params.array.cols - (self.G - 1) * P       # lanes of the last group that exist
        pow2 = eps_is_power_of_two(self.params)
        for k in range(P):
            sw = Signal(cw + 1, name=f"sw{k}")
            sat = Signal(cw, name=f"sat{k}")
            m.d.comb += sw.eq(sext(chis_r[k], cw + 1) + sext(dws5[k], cw + 1))
            neg = sw[cw]
            ovf = sw[cw] ^ sw[cw - 1]
            m.d.comb += sat.eq(Mux(ovf, Cat((~neg).replicate(cw - 1), neg), sw[:cw]))
            sk = Signal(signed(cw), name=f"s6_s{k}")
            ek = Signal(name=f"s6_en{k}")
            col_ok = ~s5["last"] if k >= tail else C(1, 1)
            with m.If(adv):
                m.d.sync += [sk.eq(sat), ek.eq(s5["lanes"][k] & col_ok & (s5["req"] | dws5[k].any()))]
            if pow2:    # |s| >= eps, registered with s: the emit then starts at flip-flops
                big = Signal(name=f"s6_big{k}")
                with m.If(adv):
                    m.d.sync += big.eq(_abs_ge_pow2(sat, self.params.update.eps.bit_length() - 1))
                bigs.append(big)
            sums.append(sk)
            ens.append(ek)
        # S6 and on: count and residue
        if pow2:
            counts, chis, emits, wens, last = self._count_pow2(m, s6, sums, ens, bigs)
        else:
            counts, chis, emits, wens, last = self._count_restoring(m, s6, sums, ens, stage)
        # write back when the beat leaves the last stage
        for k in range(P):
            with m.If(~self.walking):
                m.d.comb += [self.chi_rams[k].w_en.eq(last["valid"] & wens[k] & adv & ~clr),
                             self.chi_rams[k].w_addr.eq(last["ca"]), self.chi_rams[k].w_data.eq(chis[k])]
        self.pipe_valid = Cat(*valids).any()
        return {"stage": last, "counts": counts, "emits": emits}

    def _count_pow2(self, m, s6, sums, ens, bigs):
        u = self.params.update
        cw, ccw = u.chi_width, u.count_width
        kk = u.eps.bit_length() - 1
        mx = u.max_count
        counts, chis, emits = [], [], []
        for k, s in enumerate(sums):
            neg = s[cw - 1]
            low = s[:kk] if kk else None
            lowany = low.any() if kk else C(0, 1)
            q = s[kk:]
            inc = neg & lowany
            craw = (q + Mux(inc, C(1, len(q)), C(0, len(q))))[:len(q)]
            craw = sext(craw, ccw + 1) if len(craw) < ccw + 1 else craw[:ccw + 1]
            cap_pos = _signed_ge(s, (mx + 1) * u.eps)
            cap_neg = _signed_le_neg(s, (mx + 1) * u.eps)
            cnt = Signal(signed(ccw + 1), name=f"cnt{k}")
            chi_new = Signal(signed(cw), name=f"chi_new{k}")
            emit = Signal(name=f"emit{k}")
            nocap = Cat(low, inc.replicate(cw - kk)) if kk else C(0, cw)
            m.d.comb += [
                cnt.eq(Mux(cap_pos, C(mx, ccw + 1), Mux(cap_neg, C((1 << (ccw + 1)) - mx, ccw + 1), craw))),
                chi_new.eq(Mux(cap_pos, add_const(s.as_unsigned(), -mx * u.eps),
                               Mux(cap_neg, add_const(s.as_unsigned(), mx * u.eps), nocap))),
                emit.eq(ens[k] & bigs[k]),
            ]
            counts.append(cnt)
            chis.append(chi_new)
            emits.append(emit)
        return counts, chis, emits, ens, s6

    def _count_restoring(self, m, s6, sums, ens, stage):
        u = self.params.update
        cw, ccw, eps = u.chi_width, u.count_width, u.eps
        keys = ("valid", "row", "g", "ca")
        st = stage(s6, "d0", keys)
        # qany: q != 0 so far, a flip-flop per stage, so that `emit` needs no OR over q (synthesis
        # had merged that OR into the count's negation carry chain, on the merge queue's path)
        mags, negs, qs, en_r, qanys = [], [], [], [], []
        for k, s in enumerate(sums):
            mag, neg, q, en = (Signal(cw, name=f"d0_mag{k}"), Signal(name=f"d0_neg{k}"),
                               Signal(ccw, name=f"d0_q{k}"), Signal(name=f"d0_en{k}"))
            with m.If(self.adv):
                m.d.sync += [mag.eq(Mux(s[cw - 1], -s, s)), neg.eq(s[cw - 1]), q.eq(0), en.eq(ens[k])]
            mags.append(mag), negs.append(neg), qs.append(q), en_r.append(en), qanys.append(C(0, 1))
        for i, bit in enumerate(reversed(range(ccw))):
            st = stage(st, f"d{i + 1}", keys)
            d = eps << bit
            nm, nn, nq, ne, na = [], [], [], [], []
            for k in range(self.P):
                mag, neg, q, en = (Signal(cw, name=f"d{i + 1}_mag{k}"), Signal(name=f"d{i + 1}_neg{k}"),
                                   Signal(ccw, name=f"d{i + 1}_q{k}"), Signal(name=f"d{i + 1}_en{k}"))
                qany = Signal(name=f"d{i + 1}_qany{k}")
                if d > (1 << (cw - 1)):
                    ge = C(0, 1)
                    rem = mags[k]
                else:
                    ge = ge_const(mags[k], d)
                    rem = Mux(ge, add_const(mags[k], -d), mags[k])
                qv = qs[k] | Mux(ge, C(1 << bit, ccw), C(0, ccw))
                with m.If(self.adv):
                    m.d.sync += [mag.eq(rem), neg.eq(negs[k]), q.eq(qv), en.eq(en_r[k]), qany.eq(qanys[k] | ge)]
                nm.append(mag), nn.append(neg), nq.append(q), ne.append(en), na.append(qany)
            mags, negs, qs, en_r, qanys = nm, nn, nq, ne, na
        counts, chis, emits = [], [], []
        for k in range(self.P):
            cnt = Signal(signed(ccw + 1), name=f"cnt{k}")
            chi_new = Signal(signed(cw), name=f"chi_new{k}")
            emit = Signal(name=f"emit{k}")
            n = Signal(ccw, name=f"n{k}")
            m.d.comb += [n.eq(qs[k]), cnt.eq(Mux(negs[k], -n, n)), chi_new.eq(Mux(negs[k], -mags[k], mags[k])),
                         emit.eq(en_r[k] & qanys[k])]
            counts.append(cnt), chis.append(chi_new), emits.append(emit)
        return counts, chis, emits, en_r, st

    # --- merge queue and output register -------------------------------------------------------
    def _merge(self, m: Module, last: dict) -> None:
        """Two entries (head, tail), each the emitting lanes of one beat; the pipeline advances
        while the tail is free, so ``o.ready`` reaches only this stage and ``o``."""
        P, o = self.P, self.o
        st, counts, emits = last["stage"], last["counts"], last["emits"]

        def entry(name):
            return {"mask": Signal(P, name=f"{name}_mask"), "row": Signal.like(st["row"], name=f"{name}_row"),
                    "g": Signal.like(st["g"], name=f"{name}_g"),
                    "cnt": [Signal.like(c, name=f"{name}_cnt{k}") for k, c in enumerate(counts)]}

        def load(dst, src):
            m.d.sync += [dst["mask"].eq(src["mask"]), dst["row"].eq(src["row"]), dst["g"].eq(src["g"])]
            m.d.sync += [d.eq(v) for d, v in zip(dst["cnt"], src["cnt"])]

        head, tail = entry("mh"), entry("mt")
        t_valid = Signal()
        new = {"mask": Cat(*(st["valid"] & emits[k] for k in range(P))), "row": st["row"], "g": st["g"],
               "cnt": counts}
        sel = Signal(range(max(2, P)))
        oh = Signal(P)
        cnt_sel = Signal.like(counts[0])
        for k in reversed(range(P)):
            with m.If(head["mask"][k]):
                m.d.comb += [sel.eq(k), oh.eq(1 << k), cnt_sel.eq(head["cnt"][k])]
        h_any, after, take, pop, push = Signal(), Signal(P), Signal(), Signal(), Signal()
        m.d.comb += [
            self.adv.eq(~t_valid),
            self.o_free.eq(~o.valid | o.ready),
            h_any.eq(head["mask"].any()),
            after.eq(head["mask"] & ~oh),
            take.eq(h_any & self.o_free & ~self.clear),
            pop.eq(take & ~after.any()),
            push.eq(self.adv & new["mask"].any()),
        ]
        with m.If(self.o_free):
            m.d.sync += o.valid.eq(take)
        with m.If(take):
            col = Cat(sel[:self.LP], head["g"]) if self.LP else head["g"]
            m.d.sync += [o.payload.row.eq(head["row"]), o.payload.col.eq(zext(col, len(o.payload.col))),
                         o.payload.count.eq(cnt_sel)]
        with m.If(self.clear):
            m.d.sync += [head["mask"].eq(0), t_valid.eq(0)]
        with m.Elif(~h_any | pop):              # the head is free after this cycle
            with m.If(t_valid):
                load(head, tail)
                m.d.sync += t_valid.eq(0)
            with m.Elif(push):
                load(head, new)
            with m.Else():
                m.d.sync += head["mask"].eq(0)
        with m.Else():
            with m.If(take):
                m.d.sync += head["mask"].eq(after)
            with m.If(push):
                load(tail, new)
                m.d.sync += t_valid.eq(1)
        m.d.comb += self.drained.eq(~self.pipe_valid & ~h_any & ~t_valid & ~o.valid)

    # --- clear walk -----------------------------------------------------------------------------
    def _clear_walk(self, m: Module) -> None:
        """Write 0 to words 0 .. rows*G - 1 of every chi bank, one per cycle, from reset or from the
        cycle after ``clear`` (the pipeline is empty then, so the walk owns the write ports)."""
        last = clear_cycles(self.params) - 1
        addr = Signal(self.aw)
        m.d.comb += self.clearing.eq(self.walking)
        with m.If(self.walking):
            for ram in self.chi_rams:
                m.d.comb += [ram.w_en.eq(1), ram.w_addr.eq(addr), ram.w_data.eq(0)]
        with m.If(self.clear):
            m.d.sync += [self.walking.eq(1), addr.eq(0)]
        with m.Elif(self.walking):
            m.d.sync += addr.eq(add_const(addr, 1))
            with m.If(eq_const(addr, last)):
                m.d.sync += [self.walking.eq(0), addr.eq(0)]
