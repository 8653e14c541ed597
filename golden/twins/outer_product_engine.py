"""Golden twin of the OuterProductEngine: dW = outer(x, delta) formed on chip, chi in P lanes.

The host no longer sends one dw per synapse. Per training sample and layer it streams one **frame**:
the layer's error vector ``delta`` (already scaled by ``-lr`` into dw LSBs) and its input vector
``x``, both as fixed-point codes (:class:`golden.spec.params.EngineParams`). The engine forms every
update itself and runs it through the mixed-precision accumulator rule of
:func:`golden.twins.update_unit.update_rule`.

Host side (float -> codes; the only floating-point step, done once per vector element)
---------------------------------------------------------------------------------------
* :func:`quantize_x`: ``x_q = min(rint(x * 2**x_frac), 2**x_width - 1)`` in float32 (x >= 0: layer
  inputs are pixels or ReLU outputs; a negative x is an error).
* :func:`quantize_delta`: ``d_q = clip(rint(d * 2**delta_frac), -2**(delta_width-1), 2**(delta_width-1)-1)``
  in float32, where ``d = -lr * delta / lsb`` is the error in dw LSBs.
  Rounding is to nearest, ties to even (numpy ``rint``). Both saturations are part of the format
  (counted by :func:`saturations`, reported by the training code), not silent range errors.

On chip (exact integer arithmetic; :mod:`hw.outer_product_engine` is bit-true to it)
------------------------------------------------------------------------------------
For every synapse ``(j, i)`` with ``x_q[j] != 0``::

    dw = saturate(floor((x_q[j] * d_q[i] + 2**(s-1)) / 2**s), update.dw_width)   s = x_frac + delta_frac
    if dw != 0:  chi[j, i], count = update_rule(chi[j, i], dw)                   (no request: no change)
    if count != 0: emit PulseCount(j, i, count)

Rows with ``x_q[j] == 0`` are skipped (most MNIST pixels are 0); a zero ``dw`` changes nothing, as
when the host sent no UpdateRequest for it. **Pulse order**: row-major, ``j`` ascending, then ``i``
ascending -- the order of the per-synapse UPDATE path, whatever the number of lanes P (lane ``k`` of
column group ``g`` holds column ``g * P + k``; groups go in order and a group's lanes are merged in
lane order). One frame is one update cycle of the ArbitrationController.

Frame format (AXI4-Stream, 32-bit words, ``tlast`` on the last word)
--------------------------------------------------------------------
``ceil(cols / delta_per_word)`` delta words, then ``ceil(rows / x_per_word)`` x words; codes are
packed from bit 0 (element ``n`` of a word at bits ``[n * width, (n + 1) * width)``, deltas in two's
complement), the unused high bits and the padding codes of the last word of each part are 0
(:func:`frame_words`). A frame with any other length (``tlast`` early or late) is dropped whole: no
chi changes, no pulse (the RTL's sticky error flag).

Cycle model (micro-architecture of :class:`hw.outer_product_engine.OuterProductEngine`)
--------------------------------------------------------------------------------------
:func:`engine_cycle_model` predicts every transfer cycle; cycles follow :mod:`golden.spec.handshake`.
Constants: ``G = ceil(cols / P)`` column groups, ``L`` = :func:`frame_length` words (``ND`` delta,
``NX`` x words), ``subs = ceil(delta_per_word / min(P, delta_per_word))`` cycles per delta word.

* **Loader** (two buffers, ``lb`` the one being loaded, ``full[b]`` committed and not yet done):
  ``frame.ready = ~clearing & ~clear & ~full[lb] & (subs == 1 | ~delta word | sub == subs - 1)``
  (registered state only). A delta word is written to the P per-lane delta banks in ``subs``
  cycles, min(P, delta_per_word) codes per cycle (``sub`` counts the cycles in which it is
  presented); an x word in one. The word ``L - 1`` with ``tlast`` commits the buffer (``full[lb]``,
  ``lb ^= 1``); ``tlast`` earlier drops the frame, and so does a word ``L - 1`` without ``tlast``
  (the rest up to ``tlast`` is discarded); both raise ``frame_error``.
* **Exec** (IDLE, SCAN, DRAIN on buffer ``cb``), all decisions from registered state:
  IDLE issues a pending single request (priority: it was accepted before any waiting frame
  committed) or starts SCAN when ``full[cb]``. SCAN reads the x words of ``cb`` one at a time
  (read latency 1: a word register ``cur`` fed from a one-word prefetch ``nxt``) and issues one
  beat per cycle while the pipeline advances: the G groups of a non-zero row (lowest element of
  ``cur`` first), then the next one. A word is replaced once its last non-zero row is started
  (an all-zero word costs one cycle). SCAN ends when nothing is left; DRAIN waits until the
  pipeline, the merge stage and ``o`` are empty, then (for a frame) ``end_cycle`` is high in the
  next cycle, ``full[cb]`` falls and ``cb ^= 1``.
* **Pipeline**: ``NS`` = :func:`pipeline_stages` registers (issue, delta read, product, dw + chi
  read, saturated sum, and ``count_width + 1`` restoring-division stages when eps is not a power
  of two), then the merge stage M (the beat's emitting lanes) and the output register ``o``. All
  advance together (``adv``) when M is empty or holds one emitting lane that ``o`` takes in this
  cycle (``o_free = ~o.valid | o.ready``); a beat with k emitting lanes holds M k cycles.
* **Single requests**: ``req.ready = ~busy & ~full[0] & ~full[1] & ~clearing & ~clear``; an
  accepted request first spends ``row_width`` cycles forming ``row * G`` (shift-and-add, no
  multiplier), an out-of-range one is dropped in the cycle after acceptance (``addr_error``); it
  is then issued from IDLE as a one-lane beat and drained like a frame (no ``end_cycle``).
* **Clear**: a ``clear`` pulse drops the pipeline, M, committed frames and a pending request (the
  partly loaded frame and ``o`` stay); the walk then zeroes chi for :func:`clear_cycles` =
  ``rows * G`` cycles (also after reset). ``idle = IDLE & ~busy & ~full & ~o.valid & ~clearing``.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from golden.spec.checks import ConfigError
from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.params import AccelParams
from golden.spec.transactions import PulseCount, UpdateRequest
from golden.twins.update_unit import update_rule

WORD_BITS = 32


# --- host side: float -> codes -----------------------------------------------------------------
def quantize_x(x: np.ndarray, params: AccelParams) -> np.ndarray:
    """Layer input (float, >= 0) -> unsigned ``x_width``-bit codes (int64), see the module docstring."""
    e = params.engine
    x = np.asarray(x, dtype=np.float32)
    if x.size and float(x.min()) < 0:
        raise ValueError(f"layer input x has a negative value {float(x.min())}: x codes are unsigned")
    q = np.rint(x * np.float32(1 << e.x_frac))
    return np.minimum(q, np.float32((1 << e.x_width) - 1)).astype(np.int64)


def quantize_delta(d: np.ndarray, params: AccelParams) -> np.ndarray:
    """Error in dw LSBs (float) -> signed ``delta_width``-bit codes (int64), see the module docstring."""
    e = params.engine
    lo, hi = -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1
    q = np.rint(np.asarray(d, dtype=np.float32) * np.float32(1 << e.delta_frac))
    return np.clip(q, lo, hi).astype(np.int64)


def saturations(x: np.ndarray, d: np.ndarray, params: AccelParams) -> tuple[int, int]:
    """How many elements of ``x`` and ``d`` :func:`quantize_x` / :func:`quantize_delta` saturate."""
    e = params.engine
    xs = np.asarray(x, dtype=np.float32) * np.float32(1 << e.x_frac)
    ds = np.asarray(d, dtype=np.float32) * np.float32(1 << e.delta_frac)
    hi_d = (1 << (e.delta_width - 1)) - 1
    return (int(np.count_nonzero(np.rint(xs) > (1 << e.x_width) - 1)),
            int(np.count_nonzero((np.rint(ds) > hi_d) | (np.rint(ds) < -hi_d - 1))))


# --- on chip: exact integer arithmetic -----------------------------------------------------------
def product_dw(x_q, d_q, params: AccelParams):
    """``dw`` of codes ``x_q`` and ``d_q`` (ints or int64 arrays, broadcast), see the module docstring."""
    s, u = params.engine.shift, params.update
    p = np.asarray(x_q, dtype=np.int64) * np.asarray(d_q, dtype=np.int64)
    if s:
        p = (p + (1 << (s - 1))) >> s            # arithmetic shift: floor division by 2**s
    lo, hi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    out = np.clip(p, lo, hi)
    return int(out) if out.ndim == 0 else out


def outer_dw(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> np.ndarray:
    """The frame's whole update matrix ``dw[j, i]`` (int64, ``len(x_q) x len(d_q)``)."""
    return product_dw(np.asarray(x_q, dtype=np.int64)[:, None], np.asarray(d_q, dtype=np.int64)[None, :],
                      params)


# --- frames ------------------------------------------------------------------------------------
def frame_length(params: AccelParams) -> int:
    """Words of one frame: ``ceil(cols / delta_per_word) + ceil(rows / x_per_word)``."""
    e = params.engine
    return -(-params.array.cols // e.delta_per_word) + -(-params.array.rows // e.x_per_word)


def _check_codes(name: str, codes: np.ndarray, n: int, lo: int, hi: int, what: str, fmt: str) -> np.ndarray:
    """``codes`` padded with 0 to ``n``; more than ``n`` codes (``what`` names the bound) or a code out of
    ``[lo, hi]`` (``fmt`` names the format field) is a :class:`ConfigError`."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 1 or len(codes) > n:
        raise ConfigError(f"{name} has {codes.size} elements: allowed at most {what} = {n}")
    if codes.size and (codes.min() < lo or codes.max() > hi):
        bad = codes[(codes < lo) | (codes > hi)][0]
        raise ConfigError(f"{name} code {bad} is out of range: allowed [{lo}, {hi}] ({fmt})")
    return np.concatenate([codes, np.zeros(n - len(codes), dtype=np.int64)])


def _check_frame(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> tuple[np.ndarray, np.ndarray]:
    """Both vectors of a frame checked and padded to the array (``(x, delta)``)."""
    e, a = params.engine, params.array
    x = _check_codes("x", x_q, a.rows, 0, (1 << e.x_width) - 1, "array.rows",
                     f"engine.x_width = {e.x_width}, unsigned")
    d = _check_codes("delta", d_q, a.cols, -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1,
                     "array.cols", f"engine.delta_width = {e.delta_width}, signed")
    return x, d


def _pack(codes: np.ndarray, width: int) -> list[int]:
    per = WORD_BITS // width
    mask = (1 << width) - 1
    words = []
    for k in range(0, len(codes), per):
        w = 0
        for n, c in enumerate(codes[k:k + per]):
            w |= (int(c) & mask) << (n * width)
        words.append(w)
    return words


def _unpack(words: list[int], width: int, n: int, signed: bool) -> np.ndarray:
    per = WORD_BITS // width
    mask = (1 << width) - 1
    out = []
    for w in words:
        for k in range(per):
            c = (w >> (k * width)) & mask
            out.append(c - (1 << width) if signed and c >> (width - 1) else c)
    return np.array(out[:n], dtype=np.int64)


def frame_words(x_q: np.ndarray, d_q: np.ndarray, params: AccelParams) -> list[int]:
    """The stream words of one frame (deltas, then x). Vectors shorter than the array are padded
    with 0 (rows / columns the layer does not use); longer ones or codes out of range are errors."""
    e = params.engine
    x, d = _check_frame(x_q, d_q, params)
    return _pack(d, e.delta_width) + _pack(x, e.x_width)


def parse_frame(words: list[int], params: AccelParams) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x_q, d_q)`` of a frame, or None if its length is not :func:`frame_length` (dropped)."""
    if len(words) != frame_length(params):
        return None
    e, a = params.engine, params.array
    nd = -(-a.cols // e.delta_per_word)
    return (_unpack(words[nd:], e.x_width, a.rows, signed=False),
            _unpack(words[:nd], e.delta_width, a.cols, signed=True))


# --- transaction-level twin ----------------------------------------------------------------------
@dataclass(frozen=True)
class FrameResult:
    """What one frame did: its pulse counts in emission order, and whether it was dropped."""

    counts: list[PulseCount]
    dropped: bool = False


class OuterProductEngine:
    """Transaction-level twin: the chi memory of ``rows x cols`` synapses, :meth:`frame` and :meth:`update`.

    Parameters
    ----------
    params : AccelParams
        ``array``, ``update`` and ``engine`` sections.
    """

    def __init__(self, params: AccelParams):
        self.params = params
        self.chi = np.zeros((params.array.rows, params.array.cols), dtype=np.int64)

    def frame(self, x_q: np.ndarray, d_q: np.ndarray) -> list[PulseCount]:
        """One update cycle from codes: update every synapse of a non-zero row, in pulse order."""
        x, d = _check_frame(x_q, d_q, self.params)
        out = []
        for j in np.flatnonzero(x):
            dws = product_dw(int(x[j]), d, self.params)
            for i in np.flatnonzero(dws):
                pc = self.update(int(j), int(i), int(dws[i]))
                if pc is not None:
                    out.append(pc)
        return out

    def frame_from_words(self, words: list[int]) -> FrameResult:
        """:meth:`frame` of a stream frame; a frame of the wrong length is dropped (no change)."""
        parsed = parse_frame(words, self.params)
        if parsed is None:
            return FrameResult([], dropped=True)
        return FrameResult(self.frame(*parsed))

    def update(self, row: int, col: int, dw: int) -> PulseCount | None:
        """One synapse (the per-synapse UPDATE path): the accumulator rule; the PulseCount or None."""
        chi, count = update_rule(int(self.chi[row, col]), dw, self.params)
        self.chi[row, col] = chi
        return PulseCount(row, col, count) if count else None

    def clear(self) -> None:
        self.chi[:] = 0


# --- cycle model ---------------------------------------------------------------------------------
def groups(params: AccelParams) -> int:
    """G = ceil(cols / P): column groups, the depth of a lane's chi bank per row."""
    return -(-params.array.cols // params.engine.lanes)


def clear_cycles(params: AccelParams) -> int:
    """Cycles of the clear walk (all P banks in parallel, one word each per cycle): ``rows * G``."""
    return params.array.rows * groups(params)


def eps_is_power_of_two(params: AccelParams) -> bool:
    eps = params.update.eps
    return eps & (eps - 1) == 0


def pipeline_stages(params: AccelParams) -> int:
    """Registers from the issue stage to the merge stage: 5, plus ``count_width + 1`` restoring
    division stages when eps is not a power of two (then count and residue are bit slices)."""
    return 5 if eps_is_power_of_two(params) else 5 + params.update.count_width + 1


def delta_sub_cycles(params: AccelParams) -> int:
    """Cycles per delta word: ``ceil(delta_per_word / min(P, delta_per_word))``."""
    dpw = params.engine.delta_per_word
    spw = min(params.engine.lanes, dpw)
    return -(-dpw // spw)


def frame_cycles(params: AccelParams, nonzero_rows: int, bubbles: int = 0, extra_pulses: int = 0) -> int:
    """Cycles from a frame's commit (its last word accepted in cycle c) to its ``end_cycle`` strobe
    (cycle c + result), for an engine that is idle at the commit and an ``o`` that is always ready::

        nonzero_rows * G + NS + 5 + bubbles + extra_pulses

    ``bubbles``: all-zero x words the scan could not hide (at most one cycle each; none while a
    row with G > 1 groups is issuing, as then the next word is fetched meanwhile);
    ``extra_pulses``: the pulses beyond the first of each beat (a beat holds the merge stage one
    cycle per emitting lane). The next frame loads meanwhile (one word per cycle, ``subs`` per
    delta word), so back-to-back frames take ``max(load, this)`` cycles each.
    """
    return nonzero_rows * groups(params) + pipeline_stages(params) + 5 + bubbles + extra_pulses


@dataclass
class EngineTrace:
    """What :func:`engine_cycle_model` predicts: stamped transfers, strobes and flags."""

    words: list[tuple[int, dict]] = field(default_factory=list)       # accepted frame words
    requests: list[tuple[int, UpdateRequest]] = field(default_factory=list)
    emitted: list[tuple[int, PulseCount]] = field(default_factory=list)
    end_cycles: list[int] = field(default_factory=list)                # cycles end_cycle is high
    frames: list[tuple[int, bool]] = field(default_factory=list)       # (cycle of tlast, committed)
    idle: list[bool] = field(default_factory=list)                     # the idle output per cycle
    frame_error: bool = False
    addr_error: bool = False
    cycles: int = 0
    chi: np.ndarray | None = None


def frame_items(frames: Iterable[list[int]]) -> list[dict]:
    """Stream items ``{"data", "last"}`` of frames given as word lists (``tlast`` on each last word)."""
    return [{"data": int(w), "last": int(k == len(f) - 1)} for f in frames for k, w in enumerate(f)]


class _Beat:
    """One pipeline beat: the PulseCounts its lanes emit (lane order), computed at issue."""

    __slots__ = ("pulses",)

    def __init__(self, pulses):
        self.pulses = pulses


class _EngineModel:
    """State of :func:`engine_cycle_model` (registers of the RTL, chi in the transaction twin)."""

    def __init__(self, params: AccelParams, engine: OuterProductEngine, clearing: int):
        e, a = params.engine, params.array
        self.p, self.eng = params, engine
        self.P, self.G = e.lanes, groups(params)
        self.nd = -(-a.cols // e.delta_per_word)
        self.nx = -(-a.rows // e.x_per_word)
        self.L = self.nd + self.nx
        self.subs = delta_sub_cycles(params)
        self.ns = pipeline_stages(params)
        self.rw = params.row_width
        # loader
        self.lb, self.wc, self.sub, self.discard = 0, 0, 0, False
        self.full = [False, False]
        self.words: list[list[int]] = [[], []]
        self.parsed: list = [None, None]
        # exec
        self.cb, self.state, self.st_req = 0, "IDLE", False
        self.in_row, self.row, self.x, self.g = False, 0, 0, 0
        self.cur_valid, self.cur_mask, self.cur_base = False, [], 0
        self.nxt_valid, self.nxt_idx, self.fi = False, 0, 0
        self.xw: list[list[int]] = []
        # single requests
        self.busy, self.r_req, self.r_ok, self.r_cnt = False, None, False, 0
        # pipeline
        self.stages: list[_Beat | None] = [None] * self.ns
        self.m: list[PulseCount] = []
        self.o: PulseCount | None = None
        self.end_cycle = False
        self.clearing = clearing

    # --- beats (values from the transaction twin at issue; each synapse once per frame) -----------
    def frame_beat(self, row: int, x: int, g: int) -> _Beat:
        x_q, d_q = self.parsed[self.cb]
        out = []
        for k in range(self.P):
            col = g * self.P + k
            if col >= self.p.array.cols:
                continue
            dw = product_dw(x, int(d_q[col]), self.p)
            if dw:
                pc = self.eng.update(row, col, dw)
                if pc is not None:
                    out.append(pc)
        return _Beat(out)

    def req_beat(self, r: UpdateRequest) -> _Beat:
        pc = self.eng.update(r.row, r.col, r.dw)
        return _Beat([pc] if pc is not None else [])

    # --- one cycle ------------------------------------------------------------------------------
    def scan(self, adv: bool) -> _Beat | None:
        """SCAN: the beat issued in this cycle (or None) and the word fetch."""
        beat = None
        if adv:
            if self.in_row:
                beat = self.frame_beat(self.row, self.x, self.g)
                self.g += 1
                self.in_row = self.g < self.G
            elif self.cur_valid and self.cur_mask:
                e = self.cur_mask.pop(0)
                self.row, self.x = self.cur_base + e, self.cur_x[e]
                beat = self.frame_beat(self.row, self.x, 0)
                self.g, self.in_row = 1, self.G > 1
        consumed = not self.cur_valid or not self.cur_mask
        load_cur = consumed and self.nxt_valid
        issue_rd = (not self.nxt_valid or load_cur) and self.fi < self.nx
        if load_cur:
            self.cur_x = self.xw[self.nxt_idx]
            self.cur_mask = [k for k, v in enumerate(self.cur_x) if v]
            self.cur_base = self.nxt_idx * self.p.engine.x_per_word
            self.cur_valid = True
        elif consumed:
            self.cur_valid = False
        if issue_rd:
            self.nxt_idx, self.fi, self.nxt_valid = self.fi, self.fi + 1, True
        elif load_cur:
            self.nxt_valid = False
        return beat

    def start_scan(self) -> None:
        e = self.p.engine
        x_q = self.parsed[self.cb][0]
        pad = np.concatenate([x_q, np.zeros(self.nx * e.x_per_word - len(x_q), dtype=np.int64)])
        self.xw = [[int(v) for v in pad[k * e.x_per_word:(k + 1) * e.x_per_word]] for k in range(self.nx)]
        self.state, self.st_req = "SCAN", False
        self.in_row = self.cur_valid = self.nxt_valid = False
        self.fi = 0

    def scan_done(self) -> bool:
        return not self.in_row and not self.cur_valid and not self.nxt_valid and self.fi == self.nx

    def load_word(self, item: dict, cycle: int, tr: EngineTrace) -> None:
        """An accepted frame word: store, commit or drop."""
        last = bool(item["last"])
        if self.discard:
            self.discard = not last
            return
        if self.wc == 0:
            self.words[self.lb] = []
        self.words[self.lb].append(item["data"])
        if last and self.wc == self.L - 1:
            self.full[self.lb] = True
            self.parsed[self.lb] = parse_frame(self.words[self.lb], self.p)
            self.lb ^= 1
            tr.frames.append((cycle, True))
            self.wc = 0
        elif last:
            tr.frame_error = True
            tr.frames.append((cycle, False))
            self.wc = 0
        elif self.wc == self.L - 1:
            tr.frame_error = True
            tr.frames.append((cycle, False))
            self.discard, self.wc = True, 0
        else:
            self.wc += 1

    def clear(self) -> None:
        self.stages = [None] * self.ns
        self.m = []
        self.state, self.full, self.cb, self.busy = "IDLE", [False, False], self.lb, False
        self.end_cycle = False
        self.eng.clear()
        self.clearing = clear_cycles(self.p)


def engine_cycle_model(params: AccelParams, frames: Iterable[list[int]], requests: Iterable[UpdateRequest],
                       frame_valid: Iterator[bool], req_valid: Iterator[bool], ready: Iterator[bool],
                       engine: OuterProductEngine | None = None, *, clearing: int = 0,
                       clears: Iterable[int] = (), max_cycles: int = 50_000_000) -> EngineTrace:
    """Cycle-by-cycle model of :class:`hw.outer_product_engine.OuterProductEngine` (module docstring).

    ``frames`` are word lists (``tlast`` on each list's last word; a list of the wrong length is a
    bad frame), streamed on ``frame`` with the idle generator ``frame_valid``; ``requests`` go to
    ``req`` with ``req_valid``; ``ready`` is ``o``'s backpressure (rules of
    :mod:`golden.spec.handshake`). ``engine`` carries chi from an earlier run (updated in place);
    ``clearing`` is the clear walk still to run in cycle 0 (:func:`clear_cycles` after reset);
    ``clears`` are the cycles ``clear`` is high. Runs until everything was accepted, done and
    taken (and past the last clear and its walk); chi changes at issue (each synapse once per frame,
    the pipeline drains between frames, so this equals the RTL's write-back order).
    """
    eng = engine if engine is not None else OuterProductEngine(params)
    st = _EngineModel(params, eng, clearing)
    clear_set = set(clears)
    last_clear = max(clear_set, default=-1)
    fsrc, rsrc = SourceSide(frame_items(frames), frame_valid), SourceSide(requests, req_valid)
    sink = SinkSide(ready)
    tr = EngineTrace()
    cycle = 0

    def busy() -> bool:
        return (not fsrc.idle or not rsrc.idle or st.busy or st.state != "IDLE" or any(st.full)
                or st.o is not None or st.clearing > 0 or cycle <= last_clear or st.end_cycle)

    while busy():
        if cycle >= max_cycles:
            raise TimeoutError("engine_cycle_model: no end")
        fcur, rcur, rdy, clr = fsrc.present(), rsrc.present(), sink.draw(), cycle in clear_set
        tr.idle.append(st.state == "IDLE" and not st.busy and not any(st.full) and st.o is None
                       and not st.clearing)
        if st.end_cycle:
            tr.end_cycles.append(cycle)
            st.end_cycle = False
        # --- combinational decisions from the registered state --------------------------------------
        o_free = st.o is None or rdy
        adv = not st.m or (len(st.m) == 1 and o_free)
        base = not st.clearing and not clr and not st.full[st.lb]
        in_delta = not st.discard and st.wc < st.nd
        f_ready = base and (not in_delta or st.sub == st.subs - 1)
        d_wr = fcur is not None and base and in_delta
        r_ready = not st.busy and not any(st.full) and not st.clearing and not clr
        drained = not any(st.stages) and not st.m and st.o is None
        r_busy = st.busy
        # --- clock edge -------------------------------------------------------------------------------
        if st.o is not None and rdy:
            tr.emitted.append((cycle, st.o))
            st.o = None
        if clr:
            st.clear()
        else:
            if st.clearing:
                st.clearing -= 1
            if st.m and o_free:
                st.o = st.m.pop(0)
            issued = None
            r_issue = False
            if st.busy and not st.r_ok:
                st.busy = False
                tr.addr_error = True
            elif st.busy and st.r_cnt:
                st.r_cnt -= 1
            elif st.busy and st.state == "IDLE" and adv:
                r_issue = True
            if st.state == "SCAN":
                done = st.scan_done()
                issued = st.scan(adv)
                if done:
                    st.state = "DRAIN"
            elif st.state == "DRAIN":
                if drained:
                    st.state = "IDLE"
                    if not st.st_req:
                        st.end_cycle = True
                        st.full[st.cb] = False
                        st.cb ^= 1
            elif r_issue:
                issued = st.req_beat(st.r_req)
                st.busy, st.state, st.st_req = False, "DRAIN", True
            elif st.state == "IDLE" and not r_busy and st.full[st.cb]:
                st.start_scan()
            if adv:
                head = st.stages[-1]
                st.m = list(head.pulses) if head is not None else []
                st.stages = [issued] + st.stages[:-1]
            if d_wr:
                st.sub = 0 if st.sub == st.subs - 1 else st.sub + 1
            if fcur is not None and f_ready:
                tr.words.append((cycle, fsrc.taken()))
                st.load_word(fcur, cycle, tr)
            if rcur is not None and r_ready:
                tr.requests.append((cycle, rsrc.taken()))
                a = params.array
                st.busy, st.r_req, st.r_cnt = True, rcur, st.rw
                st.r_ok = 0 <= rcur.row < a.rows and 0 <= rcur.col < a.cols
        cycle += 1
    tr.cycles = cycle
    tr.chi = eng.chi.copy()
    return tr
