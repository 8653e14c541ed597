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
    return frame_words(x, d, p)


def random_requests(p: AccelParams, rng: random.Random, n: int) -> list[UpdateRequest]:
    """Single requests over the whole representable address range (some out of the array)."""
    u = p.update
    dlo, dhi = -(1 << (u.dw_width - 1)), (1 << (u.dw_width - 1)) - 1
    rmax, cmax = (1 << p.row_width) - 1, (1 << p.col_width) - 1
    out = []
    for _ in range(n):
        row = rng.randint(0, rmax) if rng.random() < 0.1 else rng.randrange(p.array.rows)
        col = rng.randint(0, cmax) if rng.random() < 0.1 else rng.randrange(p.array.cols)
        dw = rng.randint(dlo, dhi) if rng.random() < 0.5 else rng.choice((dlo, dhi, 0, u.eps, -u.eps))
        out.append(UpdateRequest(row, col, max(dlo, min(dhi, dw))))
    return out


def phase_stimulus(p: AccelParams, seed: int, index: int, phase: dict) -> tuple[list[list[int]], list[UpdateRequest]]:
    """Frames and requests of one phase: ``frames`` good frames (x density ``density``), with a
    ``bad`` fraction cut short or made longer (dropped whole), a frame of all-zero x now and then,
    and ``requests`` single requests."""
    rng = np.random.default_rng([seed, index, 11])
    prng = random.Random(f"outer_product_engine/{seed}/{index}")
    frames = []
    for _ in range(phase.get("frames", 4)):
        f = random_frame(p, rng, phase.get("density", 0.3) if prng.random() > 0.1 else 0.0)
        if prng.random() < phase.get("bad", 0.0):
            f = f[:prng.randrange(1, len(f))] if prng.random() < 0.5 else f + [prng.getrandbits(32)
                                                                                  for _ in range(prng.randint(1, 3))]
        frames.append(f)
    return frames, random_requests(p, prng, phase.get("requests", 0))


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
# cocotb test (imported lazily so that the stimulus functions above need no simulator)

try:
    import cocotb
    from cocotb.triggers import ReadOnly, RisingEdge
except ImportError:  # pragma: no cover
    cocotb = None

if cocotb is not None:
    from hw.layouts import frame_word_layout, pulse_count_layout, update_request_layout
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench

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
            ends = []
            for c in range(trace.cycles + 4):  # a few idle cycles catch extra outputs
                self.dut.clear.value = int(c in clears)
                await ReadOnly()
                if self.dut.end_cycle.value:
                    ends.append(c)
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
        tb = TB(dut, cfg)
        await tb.reset()
        stats = []
        for k, phase in enumerate(cfg["phases"]):
            stats.append(await tb.run_phase(k, phase))
            await RisingEdge(tb.clk)
        for k, nf, ok, nr, npc, cyc, dt in stats:
            dut._log.info(f"phase {k}: {nf} frames ({ok} committed), {nr} requests, {npc} PulseCounts, "
                          f"{cyc} cycles, {dt:.2f} s, 0 mismatches")
