"""cocotb environment of the ArgmaxUnit: popcounts of an output layer in, (class, count) per image out.

The configuration (from :func:`tb.kit.runner.test_config`) holds ``classes``, ``count_width``, the
seed and ``phases``: each phase draws ``images`` rows of popcounts (:func:`random_counts`: uniform,
few distinct values so that the maximum is tied, every count equal, zeros and full-scale counts)
and drives them with its own ``valid`` / ``ready`` generator specs; it starts with the unit idle (no
image half-read, ``o`` empty: every phase ends so). The golden cycle model
(:func:`golden.twins.argmax_unit.argmax_run`) on the same stimulus gives every ``i`` and ``o``
transfer with its cycle; the scoreboard compares them in order. With ``min_cycles`` the phase list
repeats (new stimulus per phase index) until that many cycles have run; ``stats_path`` receives the
totals (JSON). Functional coverage (``make coverage``) is sampled from the two monitors.
"""
from __future__ import annotations

import itertools
import random
import time

import numpy as np

from golden.spec.handshake import make_gen
from golden.twins.argmax_unit import ArgmaxOut, argmax_items, argmax_run

#: kinds of rows :func:`random_counts` draws
ROW_KINDS = ("uniform", "ties", "equal", "edges")


def random_counts(rng: random.Random, images: int, classes: int, count_width: int) -> np.ndarray:
    """``images`` rows of ``classes`` popcounts, each row of one kind (:data:`ROW_KINDS`): uniform,
    two neighbouring values only (the maximum shared by several classes), all equal, or only 0 and
    full scale."""
    top = (1 << count_width) - 1
    rows = []
    for _ in range(images):
        kind = rng.choice(ROW_KINDS)
        if kind == "uniform":
            rows.append([rng.randint(0, top) for _ in range(classes)])
        elif kind == "ties":
            v = rng.randint(0, max(0, top - 1))
            rows.append([v + (rng.random() < 0.4) for _ in range(classes)])
        elif kind == "equal":
            rows.append([rng.choice((0, top, rng.randint(0, top)))] * classes)
        else:
            rows.append([rng.choice((0, top)) for _ in range(classes)])
    return np.array(rows, dtype=np.int64).reshape(images, classes)


def golden_run(items, classes: int, count_width: int, valid, ready, seed: int, streams: tuple[int, int]):
    """:func:`argmax_run` long enough for every image: (accepted, outputs, cycles)."""
    images = sum(it.last for it in items)
    cycles = 64 + 4 * len(items)
    while True:
        acc, out = argmax_run(items, classes=classes, count_width=count_width, cycles=cycles,
                              valid_gen=make_gen(valid, seed, streams[0]), ready_gen=make_gen(ready, seed, streams[1]))
        if len(out) == images:
            return acc, out, out[-1][0] + 1 if out else 0
        cycles *= 2


# ---------------------------------------------------------------------------------------------
# functional coverage (from what the monitors saw)

TIES = ("none", "some", "all")
POSITIONS = ("first", "inside", "last")


def sample_coverage(cov, classes: int, count_width: int, phase: dict, sent, received) -> None:
    """Functional coverage of one phase: the popcounts the unit accepted (``sent``: transfers of
    :class:`~golden.twins.argmax_unit.ArgmaxIn`, grouped into images by ``last``) and the results it
    emitted (``received``: of :class:`~golden.twins.argmax_unit.ArgmaxOut`)."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import GAP_BINS, ranges, sample_stream

    top = (1 << count_width) - 1
    ties = list(TIES) if classes >= 3 else ["none", "all"]     # 2 classes: a tie is every class
    counts = ["zero", "mid", "full"] if count_width > 1 else ["zero", "full"]
    positions = list(POSITIONS) if classes >= 3 else ["first", "last"]     # 2 classes: no index inside
    # the winner's position with a tie: the lowest index, never the last (all: the first); a maximum
    # of 0 is every class's count (the others would be below 0)
    ign = [("some", "last"), ("all", "inside"), ("all", "last")]
    g = cov.group("result", {"cls": ranges(classes - 1, lo=0), "tie": ties, "position": positions, "count": counts},
                  {"tie_x_position": ("tie", "position"), "tie_x_count": ("tie", "count")},
                  ignore={"tie_x_position": [b for b in ign if b[0] in ties and b[1] in positions],
                          "tie_x_count": [(t, "zero") for t in ties if t != "all"]})
    images, cur = [], []
    for t in sent:
        cur.append(t)
        if t.value.last:
            images.append(cur)
            cur = []
    for img, out in zip(images, received):
        vals = [int(t.value.count) for t in img]
        best = max(vals)
        n = vals.count(best)
        r = out.value
        g.sample(cls=int(r.cls), tie="none" if n == 1 else "all" if n == len(vals) else "some",
                 position="first" if r.cls == 0 else "last" if r.cls == classes - 1 else "inside",
                 count="zero" if r.count == 0 else "full" if r.count == top else "mid")
    # images back to back: idle cycles between an image's last popcount and the next image's first
    seq = cov.group("images", {"gap": GAP_BINS}, shared=True)
    for a, b in itertools.pairwise(images):
        seq.sample(gap=b[0].cycle - a[-1].cycle - 1)
    sample_stream(cov, "i", [t.cycle for t in sent], phase.get("valid", 1.0))
    sample_stream(cov, "o", [t.cycle for t in received], phase.get("ready", 1.0))


try:
    import cocotb
    from cocotb.triggers import ClockCycles
except ImportError:       # the stimulus helpers above are importable without cocotb
    cocotb = None

if cocotb is not None:
    import json
    from pathlib import Path

    from hw.argmax_unit import argmax_in_layout, argmax_out_layout
    from tb.kit.coverage import Coverage
    from tb.kit.runner import test_config
    from tb.kit.scoreboard import Scoreboard, run_expecting
    from tb.kit.testbench import Testbench, run_phase_list

    class TB(Testbench):
        """Phases of images against the golden cycle model (cycle 0 of each = the period it starts
        in; the first one starts right after the release of reset)."""

        def __init__(self, dut, cfg: dict):
            super().__init__(dut, idle=[dut.i__valid, dut.o__ready], settle_cycles=0, timed=True)
            self.classes, self.count_width = int(cfg["classes"]), int(cfg["count_width"])
            self.seed = int(cfg["seed"])
            self.coverage = Coverage("argmax_unit", cfg)

        async def run_phase(self, k: int, phase: dict) -> tuple:
            """Drive one phase, compare, return its statistics."""
            seed, classes, cw = self.seed, self.classes, self.count_width
            counts = random_counts(random.Random(f"argmax/{seed}/{k}"), int(phase["images"]), classes, cw)
            items = argmax_items(counts)
            valid, ready = phase.get("valid", 1.0), phase.get("ready", 1.0)
            streams = (100 + 2 * k, 101 + 2 * k)
            acc, out, cycles = golden_run(items, classes, cw, valid, ready, seed, streams)
            t0 = time.perf_counter()
            self.restart_counter()
            src = self.stream_source("i", argmax_in_layout(cw), make_gen(valid, seed, streams[0]), lazy=True)
            snk = self.stream_sink("o", argmax_out_layout(classes, cw), make_gen(ready, seed, streams[1]),
                                   convert=lambda d: ArgmaxOut(**d), lazy=True)
            src.send(items)
            src.start()
            snk.start()
            await ClockCycles(self.clk, cycles + 3)     # a few idle cycles catch extra outputs
            src.stop()
            snk.stop()
            self.counter.stop()
            sb = Scoreboard(f"argmax_unit phase {k} i", seed)
            sb.check(acc, [(t.cycle, n) for n, t in enumerate(src.sent)])
            sb = Scoreboard(f"argmax_unit phase {k} o", seed)
            sb.check(out, [(t.cycle, t.value) for t in snk.received])
            sample_coverage(self.coverage, classes, cw, phase, src.sent, snk.received)
            return k, len(counts), len(out), cycles, time.perf_counter() - t0

    @cocotb.test()
    async def argmax_unit_phases(dut):
        """Every ``i`` and ``o`` transfer with its cycle against the golden cycle model."""
        await run_expecting(dut, test_config(), _run)

    async def _run(dut, cfg: dict) -> None:
        tb = TB(dut, cfg)
        await tb.reset()
        stats, cycles = await run_phase_list(tb, dut, cfg["phases"], lambda st: st[3], cfg.get("min_cycles", 0))
        tb.coverage.write()
        if cfg.get("stats_path"):
            Path(cfg["stats_path"]).write_text(json.dumps({"cycles": cycles, "phases": len(stats),
                                                           "images": sum(st[1] for st in stats)}))
        for k, n, nout, cyc, dt in stats[:20]:
            dut._log.info(f"phase {k}: {n} images, {nout} results, {cyc} cycles, {dt:.2f} s, 0 mismatches")
