"""Golden twin of the MvmReadEngine: frames of input codes in, y codes out, with every cycle.

Values: the output codes of a frame are those of the MVM read functions of :mod:`golden.mvm`
(:func:`frame_outputs` calls them: forward read for a forward frame, transposed read for a transposed
one); the engine only sequences the array and accumulates, so nothing here recomputes the arithmetic.

Frame format (``i``: 32-bit words, ``last`` on the last word, ``transposed`` from the first word)
---------------------------------------------------------------------------------------------------
Forward: R unsigned ``b``-bit codes ``u[r]``; transposed: C signed (two's complement) ``b``-bit codes
``e[c]``; ``32 // b`` codes per word from bit 0, padding codes 0 (:func:`frame_words`). A frame of
any other length (``last`` early, or missing on the expected last word) is dropped whole and sets
``frame_error``; the words up to its ``last`` are consumed.

Cycle model (micro-architecture of :class:`hw.mvm_read_engine.MvmReadEngine`)
------------------------------------------------------------------------------
Cycles follow :mod:`golden.spec.handshake`. ``T = read_cycles - 1 = settle + K * conv`` (``settle``,
``conv`` 0 act as 1), ``P`` = passes per frame (:meth:`MvmEngineShape.passes`).

* **LOAD** (idle): ``i.ready = 1``. The word that completes a frame of the right length commits it
  in its cycle c; the engine is in ARM from c + 1 (the next frame's words wait).
* **ARM** (cycle a): if ``prog_active`` is low in cycle a the lines of the pass (bit k, group) are
  driven and ``read`` is high in cycles a+1 .. a+T; otherwise ARM repeats. ``rd_req`` is high in
  ARM and READ cycles.
* **READ**: ``settle`` cycles, then K conversions of ``conv`` cycles; ``adc_start`` in the first
  cycle of conversion s (``adc_sel = s``), ``adc_code`` sampled in its last. After the last pass
  (bit b-1, group G- of a differential transposed read) OUT follows, otherwise ARM.
* **OUT**: in every cycle in which ``o`` is free (empty, or taken in that cycle) ``y[j]`` is loaded
  into ``o`` (offered from the next cycle), j = 0 .. n_out-1; after the last one LOAD follows in the
  next cycle (while ``o`` may still hold it).

Programming side (:class:`ProgSide`): the environment that drives ``prog_active`` in the tests and
the rule a programming controller must follow: a pulse burst may start in cycle c + 1 only if
``rd_req`` was low in cycle c (or continue one that was active in cycle c).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from golden.mvm.read_path import ReadNoise, forward_read, transposed_read
from golden.spec.checks import ConfigError
from golden.spec.handshake import SinkSide, SourceSide
from golden.spec.mvm_geometry import MvmEngineShape, read_cycles
from golden.spec.mvm_params import MvmParams


# --- frames --------------------------------------------------------------------------------------
def frame_words(codes, transposed: bool, shape: MvmEngineShape) -> list[int]:
    """The words of one frame. ``codes``: R unsigned codes (forward) or C signed codes (transposed),
    each of ``input_width`` bits; a wrong count or a code out of range is a :class:`ConfigError`."""
    b = shape.input_width
    n = shape.n_in(transposed)
    lo, hi = (-(1 << (b - 1)), (1 << (b - 1)) - 1) if transposed else (0, (1 << b) - 1)
    codes = [int(c) for c in np.asarray(codes).ravel()]
    if len(codes) != n:
        raise ConfigError(f"an MVM {'transposed' if transposed else 'forward'} frame has {n} codes, got "
                          f"{len(codes)}")
    bad = [c for c in codes if not lo <= c <= hi]
    if bad:
        raise ConfigError(f"input code {bad[0]} is out of range: allowed [{lo}, {hi}] (mvm.input_width = {b})")
    per, mask = shape.codes_per_word, (1 << b) - 1
    words = []
    for k in range(0, n, per):
        w = 0
        for i, c in enumerate(codes[k:k + per]):
            w |= (c & mask) << (i * b)
        words.append(w)
    return words


def parse_frame(words: list[int], transposed: bool, shape: MvmEngineShape) -> list[int] | None:
    """The codes of a frame (signed when transposed), or None if its length is wrong (dropped)."""
    if len(words) != shape.frame_length(transposed):
        return None
    b, per = shape.input_width, shape.codes_per_word
    out = []
    for w in words:
        for i in range(per):
            c = (w >> (i * b)) & ((1 << b) - 1)
            out.append(c - (1 << b) if transposed and c >> (b - 1) else c)
    return out[:shape.n_in(transposed)]


@dataclass(frozen=True)
class Frame:
    """One input frame as sent: its words (``last`` on the last) and its mode."""

    words: tuple[int, ...]
    transposed: bool = False


def frame_items(frames: Iterable[Frame]) -> list[dict]:
    """Stream items ``{"data", "last", "transposed"}`` (``transposed`` on every word of a frame)."""
    return [{"data": int(w), "last": int(k == len(f.words) - 1), "transposed": int(f.transposed)}
            for f in frames for k, w in enumerate(f.words)]


# --- the programming side ------------------------------------------------------------------------
class ProgSide:
    """Seeded model of the programming side's ``prog_active`` (the rule in the module docstring).

    :meth:`step` is called once per cycle with ``rd_req`` of the previous cycle and returns
    ``prog_active`` of this cycle. When not in a burst it draws one uniform per cycle; a burst
    starts with probability ``p_start`` (if allowed) and lasts 1..``max_len`` cycles.
    ``obey = False`` ignores ``rd_req`` (a faulty controller: used to show the RTL's assertion).
    """

    def __init__(self, seed: int, p_start: float, max_len: int = 6, obey: bool = True):
        self.rng = random.Random(f"prog/{seed}")
        self.p, self.max_len, self.obey = p_start, max_len, obey
        self.left = 0

    def step(self, rd_req_prev: bool) -> bool:
        if self.left > 0:
            self.left -= 1
            return True
        r = self.rng.random()
        if r < self.p and (not rd_req_prev or not self.obey):
            self.left = self.rng.randint(1, self.max_len) - 1
            return True
        return False


# --- values: golden's reads ----------------------------------------------------------------------
OutputsFn = Callable[[int, bool, list[int]], list[int]]


def frame_outputs(g, params: MvmParams, shape: MvmEngineShape, *, g_ref: int = 0,
                  noise: ReadNoise | None = None) -> OutputsFn:
    """``outputs(t, transposed, codes)`` for :func:`engine_cycle_model`: the y codes of
    :func:`golden.mvm.read_path.forward_read` / :func:`~golden.mvm.read_path.transposed_read` of sample
    ``t`` through the conductance codes ``g`` (R x C*D)."""
    def outputs(t: int, transposed: bool, codes: list[int]) -> list[int]:
        read = transposed_read if transposed else forward_read
        res = read(g, np.asarray(codes, dtype=np.int64), params, devices=shape.devices,
                   differential=shape.differential, g_ref=g_ref, noise=noise, t=t)
        return [int(y) for y in res.y]
    return outputs


# --- cycle model ---------------------------------------------------------------------------------
@dataclass
class MvmTrace:
    """What :func:`engine_cycle_model` predicts."""

    words: list[tuple[int, dict]] = field(default_factory=list)        # accepted i words
    outputs: list[tuple[int, dict]] = field(default_factory=list)      # o transfers {y, last}
    frames: list[tuple[int, bool]] = field(default_factory=list)       # (cycle of last, committed)
    reads: list[tuple[int, int, int, int]] = field(default_factory=list)   # (first read cycle, mode, k, grp)
    prog: list[bool] = field(default_factory=list)                     # prog_active per cycle
    rd_req: list[bool] = field(default_factory=list)                   # rd_req per cycle
    frame_error: bool = False
    cycles: int = 0



def engine_cycle_model(shape: MvmEngineShape, frames: Iterable[Frame], outputs: OutputsFn,
                       valid: Iterator[bool], ready: Iterator[bool], prog: ProgSide | None = None, *,
                       settle: int = 1, conv: int = 1, max_cycles: int = 10_000_000) -> MvmTrace:
    """Cycle-by-cycle model of :class:`hw.mvm_read_engine.MvmReadEngine` (module docstring).

    ``outputs(t, transposed, codes)`` gives the y codes of the t-th committed frame (t = 0, 1, ..;
    :func:`frame_outputs` binds it to golden's read functions); ``valid`` is the idle generator of
    ``i``, ``ready`` the backpressure of ``o``, ``prog`` the programming side (None: never active).
    Runs until every frame was taken and every output transferred.
    """
    src, sink = SourceSide(frame_items(frames), valid), SinkSide(ready)
    tr = MvmTrace()
    T = read_cycles(settle, conv, shape.cols_per_adc) - 1
    state, mode = "LOAD", False
    wc, discard, fmode, buf = 0, False, False, []
    passes, pi, left = 0, 0, 0
    ys: list[int] = []
    j = 0
    o: dict | None = None
    t = 0
    rd_prev = False
    cycle = 0
    while not (src.idle and state == "LOAD" and o is None):
        if cycle >= max_cycles:
            raise TimeoutError("mvm engine_cycle_model: no end")
        pa = prog.step(rd_prev) if prog is not None else False
        cur, rdy = src.present(), sink.draw()
        rd_req = state in ("ARM", "READ")
        tr.prog.append(pa)
        tr.rd_req.append(rd_req)
        o_free = o is None or rdy
        if o is not None and rdy:
            tr.outputs.append((cycle, o))
            o = None
        nstate = state
        if state == "LOAD" and cur is not None:
            tr.words.append((cycle, src.taken()))
            last = bool(cur["last"])
            first = wc == 0 and not discard
            cm = bool(cur["transposed"]) if first else fmode
            lw = wc == shape.frame_length(cm) - 1
            if discard:
                discard = not last
            elif last:
                words = buf + [cur["data"]]
                buf, wc = [], 0
                if lw:
                    mode = cm
                    codes = parse_frame(words, mode, shape)
                    ys = [int(y) for y in outputs(t, mode, codes)]
                    t += 1
                    tr.frames.append((cycle, True))
                    nstate, passes, pi, j = "ARM", shape.passes(mode), 0, 0
                else:
                    tr.frame_error = True
                    tr.frames.append((cycle, False))
            elif lw:
                tr.frame_error = True
                tr.frames.append((cycle, False))
                buf, wc, discard = [], 0, True
            else:
                if first:
                    fmode = cm
                buf.append(cur["data"])
                wc += 1
        elif state == "ARM" and not pa:
            nstate, left = "READ", T
            two = mode and shape.differential
            tr.reads.append((cycle + 1, int(mode), pi // 2 if two else pi, pi % 2 if two else 0))
        elif state == "READ":
            left -= 1
            if left == 0:
                pi += 1
                nstate = "OUT" if pi == passes else "ARM"
        elif state == "OUT" and o_free:
            o = {"y": ys[j], "last": int(j == len(ys) - 1)}
            j += 1
            if j == len(ys):
                nstate = "LOAD"
        state = nstate
        rd_prev = rd_req
        cycle += 1
    tr.cycles = cycle
    return tr
