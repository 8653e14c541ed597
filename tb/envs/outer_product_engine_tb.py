"""cocotb environment of the OuterProductEngine: frames and single requests in, PulseCounts out.

The configuration (from :func:`tb.kit.runner.test_config`) holds the parameter tree, the seed and a
list of *phases*; each phase is a random stimulus (frames with sparse x, random deltas, bad frames
of the wrong length, single requests including out-of-range ones) with its own idle generators on
``frame`` and ``req``, backpressure on ``o`` and optional ``clear`` pulses. Phases run back to back
on one DUT; the golden :class:`~golden.twins.outer_product_engine.OuterProductEngine` carries chi
from phase to phase and :func:`~golden.twins.outer_product_engine.engine_cycle_model`, run on the
same stimulus and generators, gives every expected transfer with its cycle, the ``end_cycle``
strobes and the error flags. The first phase starts in the first cycle after reset (its model
includes the clear walk). The stimulus builders are plain functions so the Amaranth-simulator
tests reuse them.
"""
from __future__ import annotations

import random
import time

import numpy as np

from golden.spec.handshake import make_gen
from golden.spec.params import AccelParams, params_from_dict
from golden.spec.transactions import PulseCount, UpdateRequest
from golden.twins.outer_product_engine import OuterProductEngine as GoldenEngine
from golden.twins.outer_product_engine import clear_cycles, engine_cycle_model, frame_items, frame_words

# ---------------------------------------------------------------------------------------------
# stimulus (no cocotb here: also used by tests/blocks/test_outer_product_engine.py)


def random_frame(p: AccelParams, rng: np.random.Generator, density: float) -> list[int]:
    """One well-formed frame: x non-zero with probability ``density`` (else 0), deltas mixing small,
    large and extreme codes (so products saturate and chi crosses eps both ways)."""
    e, a = p.engine, p.array
    xmax = (1 << e.x_width) - 1
    x = np.where(rng.random(a.rows) < density, rng.integers(1, xmax + 1, a.rows), 0)
    x[rng.random(a.rows) < density * 0.2] = xmax
    dlo, dhi = -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1
    kind = rng.random(a.cols)
    small = rng.integers(max(dlo, -(1 << e.shift)), min(dhi, 1 << e.shift) + 1, a.cols)
    d = np.where(kind < 0.5, small, rng.integers(dlo, dhi + 1, a.cols))
    d = np.where(kind > 0.9, rng.choice([dlo, dhi], a.cols), d)
    d[rng.random(a.cols) < 0.05] = 0
    return frame_words(x, d, p)


def random_requests(p: AccelParams, rng: random.Random, n: int, out_of_range: float = 0.0) -> list[UpdateRequest]:
    """Single requests over the whole representable address range (some out of the array);
    ``out_of_range``: the fraction moved beyond the array on purpose (a row or column the field can
    hold but the array does not have; 0 leaves the stimulus as it was)."""
    u = p.update
    dlo, dhi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    rmax, cmax = (1 << p.row_width) - 1, (1 << p.col_width) - 1
    out = []
    for _ in range(n):
        row = rng.randint(0, rmax) if rng.random() < 0.1 else rng.randrange(p.array.rows)
        col = rng.randint(0, cmax) if rng.random() < 0.1 else rng.randrange(p.array.cols)
        if out_of_range and rng.random() < out_of_range:
            if rmax >= p.array.rows:
                row = rng.randint(p.array.rows, rmax)
            elif cmax >= p.array.cols:
                col = rng.randint(p.array.cols, cmax)
        dw = rng.randint(dlo, dhi) if rng.random() < 0.5 else rng.choice((dlo, dhi, 0, u.eps, -u.eps))
        out.append(UpdateRequest(row, col, max(dlo, min(dhi, dw))))
    return out


def phase_stimulus(p: AccelParams, seed: int, index: int, phase: dict) -> tuple[list[list[int]], list[UpdateRequest]]:
    """Frames and requests of one phase: ``frames`` good frames (x density ``density``), with a
    ``bad`` fraction cut short or made longer (dropped whole), a frame of all-zero x now and then,
    and ``requests`` single requests (``out_of_range``: the fraction of them moved beyond the array)."""
    rng = np.random.default_rng([seed, index, 11])
    prng = random.Random(f"outer_product_engine/{seed}/{index}")
    frames = []
    for _ in range(phase.get("frames", 4)):
        f = random_frame(p, rng, phase.get("density", 0.3) if prng.random() > 0.1 else 0.0)
        if prng.random() < phase.get("bad", 0.0):
            f = f[:prng.randrange(1, len(f))] if prng.random() < 0.5 else f + [prng.getrandbits(32)
                                                                                  for _ in range(prng.randint(1, 3))]
        frames.append(f)
    return frames, random_requests(p, prng, phase.get("requests", 0), phase.get("out_of_range", 0.0))


def replay(p: AccelParams, frames: list[list[int]], trace, requests: list[UpdateRequest]) -> list[PulseCount]:
    """The PulseCounts the transaction twin gives for the frames and requests in the order the
    engine committed them (frames at their ``tlast``, requests at acceptance; a request first on a
    tie): the order-independent check of a run without ``clear``."""
    events = [(c, 1, k) for k, (c, ok) in enumerate(trace.frames)]
    events += [(c, 0, k) for k, (c, _) in enumerate(trace.requests)]
    twin, out = GoldenEngine(p), []
    for _, is_frame, k in sorted(events):
        if is_frame:
            out += twin.frame_from_words(frames[k]).counts
        else:
            r = requests[k]
            if 0 <= r.row < p.array.rows and 0 <= r.col < p.array.cols:
                pc = twin.update(r.row, r.col, r.dw)
                out += [pc] if pc is not None else []
    return out


# ---------------------------------------------------------------------------------------------
# functional coverage (from what the monitors saw)

FRAME_CLASSES = ("ok", "short", "long")
ZERO_ROWS = ("none", "some", "all")
X_CODES = ("zero", "mid", "max")
DELTA_CODES = ("min", "neg", "zero", "pos", "max")
DW_CLASSES = ("sat_neg", "neg", "zero", "pos", "sat_pos")


def split_frames(words) -> list[tuple[int, list[int]]]:
    """Accepted frame words (:class:`~tb.kit.stream.Transfer` of ``{"data", "last"}``) grouped up to
    each ``tlast``: ``(cycle of the last word, data words)``; an unfinished tail is left out."""
    out, cur = [], []
    for t in words:
        cur.append(int(t.value["data"]))
        if t.value["last"]:
            out.append((t.cycle, cur))
            cur = []
    return out


def max_pulses(p: AccelParams) -> int:
    """The largest count one update can give: |chi| < eps before it unless capped, so at most
    ``(eps - 1 + 2**(dw_width - 1)) // eps`` (and ``max_count``)."""
    u = p.update
    return min(u.max_count, (u.eps - 1 + (1 << (u.dw_width - 1))) // u.eps)


def sample_coverage(cov, p: AccelParams, phase: dict, words, reqs, received, ends: list[int],
                    clear_states: list[str], flags: dict[str, int]) -> None:
    """Functional coverage of one phase from the monitors: accepted frame words (``words``) and
    requests (``reqs``), emitted PulseCounts (``received``), the ``end_cycle`` strobes (``ends``),
    the engine's state when ``clear`` was high (``clear_states``) and the sticky flags."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from golden.twins.outer_product_engine import frame_length, outer_dw, parse_frame
    from tb.kit.coverage import ranges, sample_stream

    e, u = p.engine, p.update
    n_words = frame_length(p)
    frames = split_frames(words)
    fg = cov.group("frame", {"length": FRAME_CLASSES, "zero_rows": ZERO_ROWS, "buffer": ["after_done", "while_busy"]})
    codes = cov.group("codes", {"x": X_CODES, "delta": DELTA_CODES, "dw": DW_CLASSES})
    xmax = (1 << e.x_width) - 1
    dlo, dhi = -(1 << (e.delta_width - 1)), (1 << (e.delta_width - 1)) - 1
    wlo, whi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    commits = []
    for cycle, fw in frames:
        fg.sample(length="ok" if len(fw) == n_words else "short" if len(fw) < n_words else "long")
        parsed = parse_frame(fw, p)
        if parsed is None:
            continue
        x, d = parsed
        # double buffer: committed while an earlier frame of the phase had not ended yet
        busy = len(commits) > sum(1 for c in ends if c <= cycle)
        commits.append(cycle)
        nz = int((x != 0).sum())
        fg.sample(zero_rows="all" if nz == 0 else "none" if nz == len(x) else "some",
                  buffer="while_busy" if busy else "after_done")
        for c in {"zero" if v == 0 else "max" if v == xmax else "mid" for v in x.tolist()}:
            codes.sample(x=c)
        for c in {"min" if v == dlo else "max" if v == dhi else "zero" if v == 0 else "neg" if v < 0 else "pos"
                  for v in d.tolist()}:
            codes.sample(delta=c)
        if nz:
            dw = outer_dw(x[x != 0], d, p)
            for c in {"sat_neg" if v <= wlo else "sat_pos" if v >= whi else "zero" if v == 0
                      else "neg" if v < 0 else "pos" for v in set(dw.ravel().tolist())}:
                codes.sample(dw=c)
    mc = max_pulses(p)
    out = cov.group("pulse_count", {"count": ranges(mc), "sign": ["pot", "dep"]}, {"count_x_sign": ("count", "sign")})
    for t in received:
        out.sample(count=abs(t.value.count), sign="pot" if t.value.count > 0 else "dep")
    # single requests: in or out of the array, accepted while a frame was arriving or not
    outside = (1 << p.row_width) > p.array.rows or (1 << p.col_width) > p.array.cols
    rq = cov.group("request", {"address": ["in_range"] + ["out_of_range"] * outside,
                               "during": ["no_frame", "frame_loading"]})
    starts = []          # (first word cycle, last word cycle) of each frame seen on the stream
    first = None
    for t in words:
        first = t.cycle if first is None else first
        if t.value["last"]:
            starts.append((first, t.cycle))
            first = None
    for t in reqs:
        r = t.value
        ok = r.row < p.array.rows and r.col < p.array.cols
        loading = any(a < t.cycle <= b for a, b in starts) or (first is not None and t.cycle > first)
        rq.sample(address="in_range" if ok else "out_of_range", during="frame_loading" if loading else "no_frame")
    for st in clear_states:   # only phases that pulse ``clear`` have this group
        cov.group("clear", {"state": ["idle", "busy", "clearing"]}).sample(state=st)
    # the flags are sticky: the bins are "raised" (addr_error only where an address can be outside)
    cov.group("flags", {"frame_error": [1], "addr_error": [1] if outside else []}).sample(**flags)
    sample_stream(cov, "frame", [t.cycle for t in words], phase.get("frame_valid", 1.0))
    sample_stream(cov, "req", [t.cycle for t in reqs], phase.get("req_valid", 1.0))
    sample_stream(cov, "o", [t.cycle for t in received], phase.get("ready", 1.0))


# ---------------------------------------------------------------------------------------------
# cocotb test (imported lazily so that the stimulus functions above need no simulator)

try:
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None

if cocotb is not None:
    import json
    from pathlib import Path

    from hw.layouts import frame_word_layout, pulse_count_layout, update_request_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench, run_phase_list

    class TB(Testbench):
        """Phases of frames on ``frame`` and requests on ``req`` against the golden engine.

        Reset is held for 3 edges; each phase renumbers the cycles from the period after the release
        (or after the previous phase), the convention of :func:`engine_cycle_model`.
        """

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.frame__valid, dut.req__valid, dut.o__ready, dut.clear],
                             settle_cycles=0)
            self.params = params_from_dict(cfg["params"])
            self.golden_params = params_from_dict(cfg.get("golden_params", cfg["params"]))
            self.seed = int(cfg["seed"])
            self.golden = GoldenEngine(self.golden_params)
            self.scoreboard = Scoreboard("outer_product_engine", self.seed)
            self.flags = {"frame_error": False, "addr_error": False}
            self.clearing = clear_cycles(self.params)
            self.coverage = Coverage("outer_product_engine", cfg)

        async def run_phase(self, k: int, phase: dict) -> tuple:
            """Drive one phase, compare, return its statistics."""
            p, pg, seed = self.params, self.golden_params, self.seed
            frames, reqs = phase_stimulus(p, seed, k, phase)
            fspec, rspec, ospec = phase.get("frame_valid", 1.0), phase.get("req_valid", 1.0), phase.get("ready", 1.0)
            clears = set(phase.get("clears", ()))
            streams = (100 + 3 * k, 101 + 3 * k, 102 + 3 * k)
            trace = engine_cycle_model(pg, frames, reqs, make_gen(fspec, seed, streams[0]),
                                       make_gen(rspec, seed, streams[1]), make_gen(ospec, seed, streams[2]),
                                       engine=self.golden, clearing=self.clearing, clears=clears)
            self.clearing = 0
            self.flags["frame_error"] |= trace.frame_error
            self.flags["addr_error"] |= trace.addr_error
            t0 = time.perf_counter()
            self.restart_counter()
            fsrc = self.stream_source("frame", frame_word_layout(), make_gen(fspec, seed, streams[0]))
            rsrc = self.stream_source("req", update_request_layout(p), make_gen(rspec, seed, streams[1]))
            snk = self.stream_sink("o", pulse_count_layout(p), make_gen(ospec, seed, streams[2]),
                                   convert=lambda d: PulseCount(**d))
            fsrc.send(frame_items(frames))
            rsrc.send(reqs)
            for s in (fsrc, rsrc, snk):
                s.start()
            ends, clear_states = [], []
            for c in range(trace.cycles + 4):  # a few idle cycles catch extra outputs
                self.dut.clear.value = int(c in clears)
                await ReadOnly()
                if self.dut.end_cycle.value:
                    ends.append(c)
                if c in clears and self.coverage.enabled:
                    clear_states.append("clearing" if self.dut.clearing.value else
                                        "idle" if self.dut.idle.value else "busy")
                await RisingEdge(self.clk)
            self.dut.clear.value = 0
            for s in (fsrc, rsrc, snk):
                s.stop()
            self.counter.stop()
            sb = self.scoreboard
            for name, exp, got in (("frame words", trace.words, fsrc.sent), ("requests", trace.requests, rsrc.sent),
                                   ("pulse counts", trace.emitted, snk.received),
                                   ("end_cycle", [(c, "end") for c in trace.end_cycles], [(c, "end") for c in ends])):
                sb.name = f"outer_product_engine phase {k} {name}"
                sb.check(exp, got)
            for flag, want in self.flags.items():
                if int(getattr(self.dut, flag).value) != int(want):
                    raise AssertionError(f"phase {k}: {flag} = {int(getattr(self.dut, flag).value)}, golden "
                                         f"{int(want)} (seed {seed})")
            sample_coverage(self.coverage, p, phase, fsrc.sent, rsrc.sent, snk.received, ends, clear_states,
                            {f: int(getattr(self.dut, f).value) for f in self.flags})
            return (k, len(frames), sum(ok for _, ok in trace.frames), len(reqs), len(trace.emitted),
                    trace.cycles, time.perf_counter() - t0)

    @cocotb.test()
    async def outer_product_engine_phases(dut):
        """Run every phase of the configuration; compare all transfers with cycle stamps.

        With ``expect_mismatch`` in the configuration (used with wrong ``golden_params``) the test
        passes only if the scoreboard reports a mismatch that names its cycle.
        """
        await run_expecting(dut, test_config(), _run_phases)

    async def _run_phases(dut, cfg: dict) -> None:
        """The phases in order; with ``min_cycles`` (long regressions) the list again, with new
        stimulus streams (the phase index goes on counting), until that many cycles have run."""
        tb = TB(dut, cfg)
        await tb.reset()
        stats, cycles = await run_phase_list(tb, dut, cfg["phases"], lambda st: st[5], cfg.get("min_cycles", 0))
        tb.coverage.write()
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({"cycles": cycles, "phases": len(stats),
                                                           "frames": sum(st[1] for st in stats),
                                                           "requests": sum(st[3] for st in stats)}))
        for k, nf, ok, nr, npc, cyc, dt in stats:
            dut._log.info(f"phase {k}: {nf} frames ({ok} committed), {nr} requests, {npc} PulseCounts, "
                          f"{cyc} cycles, {dt:.2f} s, 0 mismatches")
