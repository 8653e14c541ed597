"""Golden twin of the MvmActivationUnit: the integer transforms between the MVM read passes.

The arithmetic is :mod:`golden.training.hw_exact`'s (one implementation): ReLU and quantisation of
the layer-1 outputs (:func:`~golden.training.hw_exact.hidden_codes`), the transposed read's error
codes (:func:`~golden.training.hw_exact.error_codes`) and ReLU' of the layer-1 deltas
(:func:`~golden.training.hw_exact.layer1_deltas`), with their saturation counts. The frames the unit
sends are those of the MVM read engine (:func:`golden.twins.mvm_read_engine.frame_words`, forward)
and the x words of the outer-product engine (:func:`golden.twins.outer_product_engine.frame_words`
without its delta words).

Transactions (:class:`MvmActivationUnit`): ``R`` = ``array.rows``, ``C`` = ``array.cols``, ``H =
min(C, R - 1)``, ``b`` = ``mvm.input_width``.

* :meth:`MvmActivationUnit.hidden`: C layer-1 outputs in; the first H become the stored hidden
  codes (a vector of another length is dropped and leaves no valid vector).
* :meth:`MvmActivationUnit.frame`: the R codes ``[h, 2**x_frac, 0, ..]`` as read-engine or
  outer-product-engine words.
* :meth:`MvmActivationUnit.errors`: C delta codes in, C error codes out.
* :meth:`MvmActivationUnit.deltas`: R transposed-read outputs in, H layer-1 delta codes out.

Cycle model (:func:`unit_cycle_model`): the registers of :class:`hw.mvm_activation_unit.MvmActivationUnit`
cycle by cycle, under the handshake rule of :mod:`golden.spec.handshake` (cycle convention, source
and sink draws), predicting every transfer on the seven stream ports and the final status outputs.

* Hidden in: ``y_i.ready = ~sending & ~t_act`` (``t_act``: a ``t_i`` vector has started and its
  last code has not left the mask stage). A taken code ``j < H`` is written to both buffers in its
  cycle; the first code of a vector clears ``h_valid``; ``last`` on code C-1 sets it.
* Send: ``send.ready = h_valid & ~sending``. From the next cycle one code per cycle is *issued*
  (buffer read for ``j < H``) while the stage ``s1`` is empty or advances; ``s1`` advances unless it
  completes a word and ``h_o`` is full and not taken (``o_free = ~h_o.valid | h_o.ready``). A
  completed word is loaded into ``h_o``; the frame's last code clears ``sending`` when issued.
  Past the bias (``j > H``) a word-aligned position issues the whole all-zero word in one cycle
  (``j`` advances by the codes per word; the last word is the one with ``j >= R - per``).
* Error codes: ``d_i.ready = ~e_o.valid | e_o.ready``; a taken code is in ``e_o`` the next cycle.
* Layer-1 deltas: ``t_i.ready = ~t1_valid | t1_adv`` with ``t1_adv = t1_valid & (~d1_o.valid |
  d1_o.ready)``; a code ``j < H`` is saturated into ``t1`` while the mask buffer is read, and goes
  into ``d1_o`` masked by the mask bit and ``h_valid`` of the cycle it leaves ``t1``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.mvm_geometry import ActivationShape, activation_shape, engine_shape
from golden.spec.params import AccelParams
from golden.training.hw_exact import (
    delta_saturations,
    error_codes,
    error_saturations,
    hidden_codes,
    hidden_saturations,
    layer1_deltas,
)
from golden.twins import mvm_read_engine as mre
from golden.twins import outer_product_engine as ope

#: ``send`` formats: the MVM read engine's forward input frame, the outer-product engine's x words
FMT_MVM, FMT_OPE = 0, 1
#: width of the saturation counters (they stop at 2**32 - 1)
COUNT_MAX = (1 << 32) - 1


# --- transactions --------------------------------------------------------------------------------
class MvmActivationUnit:
    """Transaction-level twin: the stored hidden vector, the three transforms and the status.

    Parameters
    ----------
    params : AccelParams
        ``array``, ``engine`` and ``mvm`` sections (checked as the RTL checks them).

    Attributes
    ----------
    h : int64 array (H,) or None
        The stored hidden codes (None: no valid vector).
    hidden_saturated, e_saturated, d1_saturated : int
    h_error, e_error, d1_error : bool
        A vector of the wrong length came on that path.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        self.shape = activation_shape(params)
        self.h: np.ndarray | None = None
        self.hidden_saturated = self.e_saturated = self.d1_saturated = 0
        self.h_error = self.e_error = self.d1_error = False

    def hidden(self, y) -> bool:
        """C layer-1 outputs in; True if the vector was stored (else it is dropped, no valid vector)."""
        sh = self.shape
        y = np.asarray(y, dtype=np.int64)
        self.h = None
        if len(y) != sh.cols:
            self.h_error = True
            self.hidden_saturated = min(COUNT_MAX, self.hidden_saturated + hidden_saturations(
                y[:min(len(y), sh.cols, sh.hidden)], sh.input_width))
            return False
        self.hidden_saturated = min(COUNT_MAX, self.hidden_saturated
                                    + hidden_saturations(y[:sh.hidden], sh.input_width))
        self.h = hidden_codes(y[:sh.hidden], sh.input_width)
        return True

    def frame_codes(self) -> np.ndarray:
        """The R codes of a hidden frame: ``[h, 2**x_frac, 0, ..]``."""
        sh = self.shape
        if self.h is None:
            raise RuntimeError("no valid hidden vector stored")
        out = np.zeros(sh.rows, dtype=np.int64)
        out[:sh.hidden] = self.h
        out[sh.hidden] = sh.bias
        return out

    def frame(self, fmt: int) -> list[int]:
        """The words of a hidden frame: the read engine's forward frame (``fmt`` 0) or the
        outer-product engine's x words (``fmt`` 1)."""
        codes = self.frame_codes()
        if fmt == FMT_MVM:
            return mre.frame_words(codes, False, engine_shape(self.params))
        words = ope.frame_words(codes, np.zeros(0, dtype=np.int64), self.params)
        return words[-(-self.params.array.cols // self.params.engine.delta_per_word):]

    def errors(self, d2, shift: int) -> np.ndarray:
        """C delta codes in, the transposed read's C input codes out (a wrong length: the codes up to
        the expected count are converted, the error bit set)."""
        sh = self.shape
        d2 = np.asarray(d2, dtype=np.int64)
        if len(d2) != sh.cols:
            self.e_error = True
            d2 = d2[:sh.cols]
        self.e_saturated = min(COUNT_MAX, self.e_saturated + error_saturations(d2, shift, sh.input_width))
        return error_codes(d2, shift, sh.input_width)

    def deltas(self, yt) -> np.ndarray:
        """R transposed-read outputs in, the H layer-1 delta codes out (all 0 without a valid vector)."""
        sh = self.shape
        yt = np.asarray(yt, dtype=np.int64)
        if len(yt) != sh.rows:
            self.d1_error = True
        yt = yt[:sh.hidden]
        self.d1_saturated = min(COUNT_MAX, self.d1_saturated + delta_saturations(yt, sh.delta_width))
        h = self.h[:len(yt)] if self.h is not None else np.zeros(len(yt), dtype=np.int64)
        return layer1_deltas(yt, h, sh.delta_width)

    def parse_frame(self, words: list[int], fmt: int) -> np.ndarray | None:
        """The R codes of a hidden frame's words (None if the length is wrong): through the read
        engine's and the outer-product engine's own parsers."""
        if fmt == FMT_MVM:
            c = mre.parse_frame(words, False, engine_shape(self.params))
            return None if c is None else np.asarray(c, dtype=np.int64)
        nd = -(-self.params.array.cols // self.params.engine.delta_per_word)
        r = ope.parse_frame([0] * nd + list(words), self.params)
        return None if r is None else r[0]


# --- cycle model ---------------------------------------------------------------------------------
@dataclass
class _Out:
    valid: bool = False
    payload: dict = field(default_factory=dict)


@dataclass
class UnitTrace:
    """What :func:`unit_cycle_model` predicts: ``(cycle, payload)`` per transfer and port, and the
    status outputs after the last cycle."""

    taken: dict[str, list[tuple[int, object]]]
    offered: dict[str, list[tuple[int, dict]]]
    status: dict[str, int]
    cycles: int


def _sat_inc(v: int, en: bool) -> int:
    return min(COUNT_MAX, v + 1) if en else v


def unit_cycle_model(params: AccelParams, inputs: dict[str, Iterable], gens: dict[str, Iterator[bool]] | None = None,
                     *, e_shift: int = 0, cycles: int = 1000) -> UnitTrace:
    """Transfers of the unit during ``cycles`` cycles (module docstring).

    Parameters
    ----------
    params : AccelParams
    inputs : dict
        Items per input port: ``y_i``, ``d_i``, ``t_i`` dicts ``{"code", "last"}``, ``send`` ints
        (the format).
    gens : dict, optional
        Idle generators per input port and backpressure generators per output port (``h_o``,
        ``e_o``, ``d1_o``); missing ones: :func:`golden.spec.handshake.always`.
    e_shift : int
        The ``e_shift`` input (constant).
    """
    sh: ActivationShape = activation_shape(params)
    R, C, H, b, xw = sh.rows, sh.cols, sh.hidden, sh.input_width, sh.x_width
    gens = gens or {}
    src = {k: SourceSide(inputs.get(k, ()), gens.get(k)) for k in ("y_i", "send", "d_i", "t_i")}
    snk = {k: SinkSide(gens.get(k)) for k in ("h_o", "e_o", "d1_o")}
    taken = {k: [] for k in src}
    offered = {k: [] for k in snk}
    h_mem, nz_mem = [0] * max(2, H), [0] * max(2, H)
    h_rd = nz_rd = 0
    ya = 0
    y_disc = h_valid = h_error = False
    hsat = esat = dsat = 0
    sending, fmt, sj, spos = False, 0, 0, 0
    s1 = {"valid": False, "end": False, "last": False, "kind": 0, "pos": 0}
    wreg = 0
    ho, eo, do = _Out(), _Out(), _Out()
    ec, e_disc, e_error = 0, False, False
    tc, t_disc, d1_error = 0, False, False
    t1 = {"valid": False, "code": 0, "last": False}
    for cyc in range(cycles):
        cur = {k: s.present() for k, s in src.items()}
        rdy = {k: s.draw() for k, s in snk.items()}
        t_act = tc != 0 or t_disc or t1["valid"]
        t1_adv = t1["valid"] and (not do.valid or rdy["d1_o"])
        ready = {"y_i": not sending and not t_act, "send": h_valid and not sending,
                 "d_i": not eo.valid or rdy["e_o"], "t_i": not t1["valid"] or t1_adv}
        for k, o in (("h_o", ho), ("e_o", eo), ("d1_o", do)):
            if o.valid and rdy[k]:
                offered[k].append((cyc, dict(o.payload)))
        acc = {}
        for k, s in src.items():
            acc[k] = s.taken() if cur[k] is not None and ready[k] else None
            if acc[k] is not None:
                taken[k].append((cyc, acc[k]))
        writes = []
        # hidden codes in
        n_h_valid = h_valid
        y = acc["y_i"]
        if y is not None:
            if y_disc:
                if y["last"]:
                    y_disc = False
            else:
                if ya < H:
                    hc = int(hidden_codes(y["code"], b))
                    writes.append((ya, hc))
                    hsat = _sat_inc(hsat, hidden_saturations(y["code"], b) > 0)
                if ya == 0:
                    n_h_valid = False
                if y["last"]:
                    if ya == C - 1:
                        n_h_valid = True
                    else:
                        h_error = True
                    ya = 0
                elif ya == C - 1:
                    ya, y_disc, h_error = 0, True, True
                else:
                    ya += 1
        # hidden frame out
        o_free = not ho.valid or rdy["h_o"]
        s1_adv = s1["valid"] and (not s1["end"] or o_free)
        issue = sending and (not s1["valid"] or s1_adv)
        load_o = False
        if s1_adv:
            code = h_rd if s1["kind"] == 2 else (sh.bias if s1["kind"] == 1 else 0)
            word = ((0 if s1["pos"] == 0 else wreg) | (code << s1["pos"])) & 0xFFFFFFFF
            if s1["end"]:
                ho.valid, ho.payload, load_o = True, {"data": word, "last": int(s1["last"]), "transposed": 0}, True
            else:
                wreg = word
        if rdy["h_o"] and not load_o:
            ho.valid = False
        if issue:
            w = xw if fmt else b
            per = 32 // w
            zero_word = sj > H and spos == 0
            last = sj >= R - per if zero_word else sj == R - 1
            end = spos == (per - 1) * w or last or zero_word
            if sj < H:
                h_rd = h_mem[sj]
            s1 = {"valid": True, "end": end, "last": last, "kind": 2 if sj < H else int(sj == H), "pos": spos}
            spos = 0 if end else spos + w
            if last:
                sending = False
            sj += per if zero_word else 1
        elif s1_adv:
            s1["valid"] = False
        if acc["send"] is not None:             # never with issue: send.ready needs ~sending
            sending, fmt, sj, spos = True, int(acc["send"]) & 1, 0, 0
        # error codes
        d = acc["d_i"]
        if d is not None and not e_disc:
            e = int(error_codes(d["code"], e_shift, b))
            esat = _sat_inc(esat, error_saturations(np.array([d["code"]]), e_shift, b) > 0)
            eo.valid, eo.payload = True, {"code": e, "last": int(bool(d["last"]) or ec == C - 1)}
            if d["last"]:
                e_error |= ec != C - 1
                ec = 0
            elif ec == C - 1:
                ec, e_disc, e_error = 0, True, True
            else:
                ec += 1
        else:
            if rdy["e_o"]:
                eo.valid = False
            if d is not None and d["last"]:
                e_disc = False
        # layer-1 deltas
        keep = nz_rd and h_valid
        if t1_adv:
            do.valid, do.payload = True, {"code": int(layer1_deltas(t1["code"], int(keep), sh.delta_width)),
                                          "last": int(t1["last"])}
        elif rdy["d1_o"]:
            do.valid = False
        t = acc["t_i"]
        if t is not None and not t_disc and tc < H:
            nz_rd = nz_mem[tc]
            dsat = _sat_inc(dsat, delta_saturations(np.array([t["code"]]), sh.delta_width) > 0)
            t1 = {"valid": True, "code": int(layer1_deltas(t["code"], 1, sh.delta_width)),
                  "last": bool(t["last"]) or tc == H - 1}
        elif t1_adv:
            t1["valid"] = False
        if t is not None:
            if t_disc:
                if t["last"]:
                    t_disc = False
            elif t["last"]:
                d1_error |= tc != R - 1
                tc = 0
            elif tc == R - 1:
                tc, t_disc, d1_error = 0, True, True
            else:
                tc += 1
        for a, hc in writes:
            h_mem[a], nz_mem[a] = hc, int(hc > 0)
        h_valid = n_h_valid
    status = {"h_valid": int(h_valid), "hidden_saturated": hsat, "e_saturated": esat, "d1_saturated": dsat,
              "h_error": int(h_error), "e_error": int(e_error), "d1_error": int(d1_error)}
    return UnitTrace(taken, offered, status, cycles)


def vector_items(codes, last_at: int | None = None) -> list[dict]:
    """Stream items of one vector (``last`` on the final code, or on index ``last_at``)."""
    codes = [int(c) for c in np.asarray(codes).ravel()]
    k = len(codes) - 1 if last_at is None else last_at
    return [{"code": c, "last": int(i == k)} for i, c in enumerate(codes)]
