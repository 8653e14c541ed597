"""Formal wrappers of :class:`hw.outer_product_engine.OuterProductEngine`.

Every input is free in every cycle (frame words with any data and ``tlast``, single requests with
any address and dw, ``o.ready``, ``clear``, reset). The wrapper keeps its own view of the frame
stream: the accepted words since the last ``tlast`` and whether the rest of an over-long frame is
being discarded, exactly the framing rule of :mod:`golden.twins.outer_product_engine` (a frame is
good when its word ``L - 1`` carries ``tlast``), never the engine's loader registers.

:class:`EngineControlProof` (k-induction) proves the control properties for every reachable state:

* ``o_stable``: ``o`` holds valid and payload while ``valid & ~ready`` (``clear`` included: a
  PulseCount held in ``o`` stays);
* ``frame_error_sticky``: ``frame_error`` equals "a bad frame ended since reset" (it rises only
  for a frame of the wrong length, never falls before reset, ``clear`` leaves it);
* ``bad_frame_no_output``: while no good frame was committed and no request accepted since reset,
  ``o`` offers nothing and ``end_cycle`` stays low: a bad frame emits nothing;
* ``clear_walk``: ``clearing`` is high exactly in the ``rows * G`` cycles after reset and after each
  ``clear`` (a ``clear`` during the walk restarts it);
* ``no_output_while_clearing``: during the walk ``o`` offers no new PulseCount (only the one held
  in ``o`` at the ``clear`` may still be taken, the documented behaviour).

Helper invariants (named ``lemma_*``, asserted and proved with the rest) tie the engine's loader,
walk counter and idle state to the wrapper's view, so that the induction does not start from
unreachable states.

:class:`EngineRuleProof` (k-induction) proves the arithmetic of every lane for *any* chi its bank
returns and any dw (the update_unit_rule proof of this datapath): whatever the stage registers
hold,

* ``saturation``: the saturated sum register equals ``clamp(chi + dw)`` of the registers before it;
* ``chi_residue`` and ``rule_count``: at the last count stage the residue written back and the
  signed count equal the reference ``chi' = s - count * eps`` and ``count = sign(s) * min(|s| // eps,
  max_count)`` of that sum (eps a power of two: bit slices in the same stage; otherwise the sum is
  carried along the ``count_width + 1`` restoring-division stages, with one helper invariant per
  stage: ``q * eps + mag == |s|``, the quotient bits still to come are 0, and ``mag < eps * 2**k``
  for the ``k`` bits to come unless every bit so far was set, the capped case).

:class:`EngineChiProof` (bounded, ``mode bmc``) follows one synapse: its row and column are
``AnyConst`` inside the array, and the wrapper keeps a shadow chi for it, updated in commit order
(a request when accepted, a good frame when its last word is accepted; a request first in a tie),
with ``dw = saturate(round(x_q * d_q / 2**s))`` from the frame's codes of that row and column (a
zero x code or zero dw changes nothing, as in the twin) and the chi rule written as plain
arithmetic (:func:`tb.formal.update_unit.reference_rule`: clamp, ``|s| // eps``, min with
``max_count``, residue). The non-zero counts go to a queue in the wrapper;

* ``o_addr_in_range``: every PulseCount ``o`` offers has ``row < rows`` and ``col < cols`` (the
  idle lanes of the partial last column group never emit);
* ``synapse_pulses``: every PulseCount ``o`` delivers for the synapse is the head of the queue (count
  and polarity from the shadow chi), and when the engine is ``idle`` the queue is empty (no pulse
  of the synapse was lost).

The formal model starts every memory at 0. The idle lane's delta word of the partial group is never
written, so its dw is 0 here and the lane gate (``col_ok``) is not exercised by a frame; the
address mutant opens the request path instead (docs/RESULTS.md, "Formal proofs").

``clear`` is held low after reset in this proof (reset may come at any cycle); the walk after
``clear`` is the control proof's. Induction is out of reach here for the reason of
:mod:`tb.formal.update_unit` (the chi, delta and x memories cannot be named from the wrapper), so
the depth covers the clear walk after reset and the frames and requests that fit after it.
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.asserts import AnyConst

from golden.spec.engine_geometry import clear_cycles, eps_is_power_of_two, groups
from golden.spec.params import AccelParams
from hw.outer_product_engine import OuterProductEngine
from tb.formal.harness import FormalTop, drive_free, past
from tb.formal.probe import elaborate_with_probes
from tb.formal.update_unit import reference_rule


def stage_names(params: AccelParams) -> tuple[str, ...]:
    """Names of the valid bits of the engine's pipeline stages (issue to the last count stage)."""
    names = [f"s{k}_valid" for k in range(7)]
    if not eps_is_power_of_two(params):
        names += [f"d{k}_valid" for k in range(params.update.count_width + 1)]
    return tuple(names)


class _EngineTop(FormalTop):
    PROBES: tuple[str, ...] = ()

    def __init__(self, params: AccelParams, block_cls=OuterProductEngine):
        super().__init__()
        self.params, self.block_cls = params, block_cls

    def _block(self, m: Module, probes: tuple[str, ...]):
        dut = self.block_cls(self.params)
        sub, pr = elaborate_with_probes(dut, *probes)
        m.submodules.dut = sub
        drive_free(m, dut.frame.valid, dut.frame.payload, dut.req.valid, dut.req.payload, dut.o.ready, dut.clear)
        # the sources keep the stream rule: an offered item stays, unchanged, until it is taken
        for name, s in (("frame", dut.frame), ("req", dut.req)):
            waiting = past(m, s.valid & ~s.ready, f"{name}_waiting")
            last = past(m, s.payload.as_value(), f"{name}_last")
            self.assume(m, f"{name} source holds", ~waiting | (s.valid & (s.payload.as_value() == last)))
        return dut, pr

    def _framing(self, m: Module, dut):
        """The wrapper's framing of accepted words: ``(wc, disc, good_end, bad_end)``; ``good_end``
        / ``bad_end`` are high in the cycle a frame's last word (or its word ``L - 1`` without
        ``tlast``) is accepted."""
        e, a = self.params.engine, self.params.array
        nl = -(-a.cols // e.delta_per_word) + -(-a.rows // e.x_per_word)
        f = dut.frame
        wc = Signal(range(max(2, nl)), name="w_wc")
        disc = Signal(name="w_disc")
        acc = f.valid & f.ready
        good_end, bad_end = Signal(name="w_good_end"), Signal(name="w_bad_end")
        at_end = wc == nl - 1
        m.d.comb += [good_end.eq(acc & ~disc & f.payload.last & at_end),
                     bad_end.eq(acc & ~disc & (f.payload.last ^ at_end))]
        with m.If(acc):
            with m.If(disc), m.If(f.payload.last):
                m.d.sync += disc.eq(0)
            with m.Elif(f.payload.last | at_end):
                m.d.sync += [wc.eq(0), disc.eq(~f.payload.last)]
            with m.Else():
                m.d.sync += wc.eq(wc + 1)
        return wc, disc, good_end, bad_end


class EngineControlProof(_EngineTop):
    """Output handshake, error flag, bad frames and the clear walk (k-induction)."""

    def build(self, m: Module) -> None:
        p = self.params
        valids = stage_names(p)
        dut, pr = self._block(m, ("wc", "discard", "walking", "addr", "full0", "full1", "r_busy", "st",
                                  "mh_mask", "t_valid", *valids))
        o = dut.o
        wc, disc, good_end, bad_end = self._framing(m, dut)

        # o_stable
        held = past(m, o.valid & ~o.ready, "held")
        last_payload = past(m, o.payload.as_value(), "last_payload")
        self.prop(m, "o_stable", ~held | (o.valid & (o.payload.as_value() == last_payload)))

        # frame_error_sticky: the flag is "a bad frame ended since reset"
        seen_bad = Signal(name="seen_bad")
        with m.If(bad_end):
            m.d.sync += seen_bad.eq(1)
        self.prop(m, "frame_error_sticky", dut.frame_error == seen_bad)
        self.prop(m, "lemma_loader", (pr["wc"] == wc) & (pr["discard"] == disc))

        # bad_frame_no_output: nothing before the first good frame or request
        work = Signal(name="work")
        with m.If(good_end | (dut.req.valid & dut.req.ready)):
            m.d.sync += work.eq(1)
        self.prop(m, "bad_frame_no_output", work | (~o.valid & ~dut.end_cycle))
        quiet = (~pr["full0"] & ~pr["full1"] & ~pr["r_busy"] & (pr["st"] == 0) & ~pr["mh_mask"].any()
                 & ~pr["t_valid"] & ~Cat(*(pr[v] for v in valids)).any())
        self.prop(m, "lemma_quiet", work | quiet)

        # clear_walk: clearing in exactly the clear_cycles() cycles after reset and after clear
        n = clear_cycles(p)
        since = Signal(range(n + 1), name="since_clear")
        with m.If(dut.clear):
            m.d.sync += since.eq(0)
        with m.Elif(since != n):
            m.d.sync += since.eq(since + 1)
        self.prop(m, "clear_walk", dut.clearing == (since != n))
        self.prop(m, "lemma_walk", (pr["walking"] == (since != n)) & (~pr["walking"] | (pr["addr"] == since)))

        # no_output_while_clearing: only a PulseCount held in o at the clear may still be offered
        self.prop(m, "no_output_while_clearing", ~(dut.clearing & o.valid) | held)
        self.prop(m, "lemma_walk_quiet", ~pr["walking"] | quiet)


class EngineChiProof(_EngineTop):
    """One synapse's pulse counts against a shadow chi, and the output address range (bounded)."""

    def build(self, m: Module) -> None:
        p = self.params
        e, a, u = p.engine, p.array, p.update
        dut, _ = self._block(m, ())
        o, f, rq = dut.o, dut.frame, dut.req
        self.assume(m, "no clear", dut.clear == 0)
        wc, disc, good_end, _ = self._framing(m, dut)

        # the synapse under watch
        t_row, t_col = Signal(p.row_width, name="t_row"), Signal(p.col_width, name="t_col")
        m.d.comb += [t_row.eq(AnyConst(p.row_width)), t_col.eq(AnyConst(p.col_width))]
        self.assume(m, "target in range", (t_row < a.rows) & (t_col < a.cols))

        # its codes in the frame being received
        nd = -(-a.cols // e.delta_per_word)
        acc = f.valid & f.ready & ~disc
        d_now, x_now = Signal(signed(e.delta_width), name="d_now"), Signal(e.x_width, name="x_now")
        d_cap, x_cap = Signal.like(d_now, name="d_cap"), Signal.like(x_now, name="x_cap")
        m.d.comb += [d_now.eq(d_cap), x_now.eq(x_cap)]
        for c in range(a.cols):
            w, k = divmod(c, e.delta_per_word)
            with m.If(acc & (t_col == c) & (wc == w)):
                m.d.comb += d_now.eq(f.payload.data[k * e.delta_width:(k + 1) * e.delta_width].as_signed())
        for r in range(a.rows):
            w, k = divmod(r, e.x_per_word)
            with m.If(acc & (t_row == r) & (wc == nd + w)):
                m.d.comb += x_now.eq(f.payload.data[k * e.x_width:(k + 1) * e.x_width])
        m.d.sync += [d_cap.eq(d_now), x_cap.eq(x_now)]

        # dw of the frame: saturate(floor((x * d + 2**(s-1)) / 2**s), dw_width)
        s = e.shift
        pw = e.x_width + e.delta_width + 2
        prod = Signal(signed(pw), name="f_prod")
        m.d.comb += prod.eq(x_now * d_now + ((1 << (s - 1)) if s else 0))
        q = Signal(signed(pw), name="f_q")
        m.d.comb += q.eq(prod >> s)
        lo, hi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
        f_dw = Signal(signed(u.dw_width), name="f_dw")
        m.d.comb += f_dw.eq(Mux(q > hi, hi, Mux(q < lo, lo, q)))

        # shadow chi in commit order: the request first, then the frame
        chi = Signal(signed(u.chi_width), name="shadow_chi")
        req_hit = rq.valid & rq.ready & (rq.payload.row == t_row) & (rq.payload.col == t_col)
        frm_hit = good_end & (x_now != 0) & (f_dw != 0)
        _, c1, chi1 = reference_rule(m, p, chi, rq.payload.dw, name="ref_req")
        mid = Signal.like(chi, name="shadow_mid")
        m.d.comb += mid.eq(Mux(req_hit, chi1, chi))
        _, c2, chi2 = reference_rule(m, p, mid, f_dw, name="ref_frame")
        m.d.sync += chi.eq(Mux(frm_hit, chi2, mid))

        # queue of expected non-zero counts
        depth = 4
        qv = [Signal(signed(u.count_width + 1), name=f"q{k}") for k in range(depth)]
        qn = Signal(range(depth + 1), name="qn")
        take = o.valid & o.ready & (o.payload.row == t_row) & (o.payload.col == t_col)
        push1, push2 = req_hit & (c1 != 0), frm_hit & (c2 != 0)
        # after a pop (shift by one), append c1 then c2
        base = Signal(range(depth + 1), name="q_base")
        m.d.comb += base.eq(qn - take)
        for k in range(depth):
            shifted = qv[k + 1] if k + 1 < depth else Const(0, signed(u.count_width + 1))
            nxt = Mux(take, shifted, qv[k])
            with m.If(push1 & (base == k)):
                m.d.sync += qv[k].eq(c1)
            with m.Elif(push2 & (base + push1 == k)):
                m.d.sync += qv[k].eq(c2)
            with m.Else():
                m.d.sync += qv[k].eq(nxt)
        m.d.sync += qn.eq(base + push1 + push2)

        self.prop(m, "o_addr_in_range", ~o.valid | ((o.payload.row < a.rows) & (o.payload.col < a.cols)))
        self.prop(m, "synapse_pulses", (~take | ((qn != 0) & (o.payload.count == qv[0])))
                  & (~dut.idle | (qn == 0)))
        any_req = Signal(name="any_req")
        with m.If(rq.valid & rq.ready):
            m.d.sync += any_req.eq(1)
        self.cover(m, "a pulse of the synapse", take)
        self.cover(m, "a pulse of the synapse from a frame", take & ~any_req)


class EngineRuleProof(_EngineTop):
    """The chi rule of every lane for any chi read from its bank and any dw (k-induction)."""

    def build(self, m: Module) -> None:
        p = self.params
        u, P, cw, ccw = p.update, p.engine.lanes, p.update.chi_width, p.update.count_width
        div = not eps_is_power_of_two(p)
        names = ["adv"]
        for k in range(P):
            names += [f"s5_chi{k}", f"s5_dw{k}", f"s6_s{k}", f"cnt{k}", f"chi_new{k}"]
            if div:
                names += [f"d{i}_{f}{k}" for i in range(ccw + 1) for f in ("mag", "neg", "q")]
        _, pr = self._block(m, tuple(names))
        adv = pr["adv"]
        lo, hi = -(1 << (cw - 1)), (1 << (cw - 1)) - 1
        sat_ok, res_ok, cnt_ok = [], [], []
        for k in range(P):
            total = Signal(signed(cw + 2), name=f"total{k}")
            exp_s = Signal(signed(cw), name=f"exp_s{k}")
            m.d.comb += total.eq(pr[f"s5_chi{k}"] + pr[f"s5_dw{k}"])
            with m.If(adv):
                m.d.sync += exp_s.eq(Mux(total > hi, hi, Mux(total < lo, lo, total)))
            sat_ok.append(pr[f"s6_s{k}"] == exp_s)
            # the sum at the count stage: s6 itself (bit slices), or carried along the division stages
            ws = pr[f"s6_s{k}"]
            if div:
                for i in range(ccw + 1):
                    nxt = Signal(signed(cw), name=f"ws{i}_{k}")
                    with m.If(adv):
                        m.d.sync += nxt.eq(ws)
                    ws = nxt
                    mag, neg, q = pr[f"d{i}_mag{k}"], pr[f"d{i}_neg{k}"], pr[f"d{i}_q{k}"]
                    absws = Mux(ws < 0, -ws, ws)
                    low = ccw - i                      # quotient bits still to come
                    allset = q[low:] == (1 << i) - 1 if i else Const(1, 1)
                    self.prop(m, f"lemma_div{i}_{k}",
                              (neg == (ws < 0)) & (q * u.eps + mag == absws)
                              & ((q[:low] == 0) if low else Const(1, 1))
                              & (allset | (mag < (u.eps << low))))
            _, count_ref, chi_ref = reference_rule(m, p, ws, Const(0, signed(2)), name=f"ref{k}")
            res_ok.append(pr[f"chi_new{k}"] == chi_ref)
            cnt_ok.append(pr[f"cnt{k}"] == count_ref)
        self.prop(m, "saturation", Cat(*sat_ok).all())
        self.prop(m, "chi_residue", Cat(*res_ok).all())
        self.prop(m, "rule_count", Cat(*cnt_ok).all())


def proof_params(eps: int) -> AccelParams:
    """3 x 3 array, P = 2 (G = 2, lane 1 of the second group idle), dW 6 b, chi 6 b, count 0..3,
    x 4 b (x_frac 1), delta 10 b (3 per word over 2 lanes: 2 cycles per delta word, delta_frac 1),
    one delta word and one x word per frame."""
    return AccelParams().with_(array={"rows": 3, "cols": 3},
                               update={"dw_width": 6, "chi_width": 6, "eps": eps, "count_width": 2},
                               engine={"lanes": 2, "x_width": 4, "x_frac": 1, "delta_width": 10, "delta_frac": 1})


def describe(params: AccelParams) -> str:
    a, u, e = params.array, params.update, params.engine
    return (f"{a.rows}x{a.cols}, P = {e.lanes} (G = {groups(params)}), dW {u.dw_width} b, chi {u.chi_width} b, "
            f"eps {u.eps}, count 0..{u.max_count}, x {e.x_width} b, delta {e.delta_width} b")
