"""cocotb test of :class:`hw.xnor_popcount.XnorPopcount` against :mod:`golden.twins.xnor_popcount`.

Driver / monitor: :class:`tb.kit.stream.StreamSource` on ``i`` and :class:`tb.kit.stream.StreamSink` on ``o``
with seeded idle and backpressure generators; model: :func:`golden.twins.xnor_popcount.xnor_popcount_cycles`
fed with fresh copies of the same generators; scoreboard: :class:`tb.kit.scoreboard.Scoreboard`, which
compares every output transaction *and its cycle stamp*. Config keys (from the pytest wrapper;
``p_valid``/``p_ready`` are :func:`golden.spec.handshake.make_gen` specs):
width, mode, stage_levels, tag_width, seed, vectors, p_valid, p_ready.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from golden.spec.handshake import make_gen
from golden.twins.xnor_popcount import PopcountIn, PopcountOut, xnor_popcount, xnor_popcount_cycles
from hw.xnor_popcount import popcount_in_layout, popcount_out_layout
from tb.kit.coverage import Coverage
from tb.kit.runner import test_config
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
from tb.kit.testbench import Testbench


def random_vectors(seed: int, width: int, count: int, tag_width: int) -> list[PopcountIn]:
    """Seeded vectors whose popcounts spread over 0..width, with thresholds near and far from them.

    The first vectors are corners: all agree (count = width), all disagree (count = 0), thresholds
    0 and width+1.
    """
    rng = np.random.default_rng(seed)
    pyr = random.Random(seed)
    full = (1 << width) - 1
    tmask = (1 << tag_width) - 1 if tag_width else 0
    out = [PopcountIn(full, full, width, 0), PopcountIn(0, full, 0, 0 & tmask),
           PopcountIn(full, 0, width + 1, 1 & tmask), PopcountIn(0, 0, width + 1, 2 & tmask)]
    while len(out) < count:
        x = pyr.getrandbits(width)
        q = rng.random()                          # disagreement density of this vector
        flips = rng.random(width) < q
        mask = int.from_bytes(np.packbits(flips, bitorder="little").tobytes(), "little")
        w = x ^ mask
        cnt, _ = xnor_popcount(x, w, 0, width)
        thr = (min(max(cnt + pyr.randint(-2, 2), 0), width + 1) if pyr.random() < 0.6
               else pyr.randint(0, width + 1))
        out.append(PopcountIn(x, w, thr, pyr.getrandbits(tag_width) if tag_width else 0))
    return out[:count]


def sample_coverage(cov, width: int, sent, received, p_valid: float, p_ready: float) -> None:
    """Functional coverage from the monitors: each result's popcount at the edges (0, 1, width-1,
    width) and against its threshold (below by more than one, one below, equal, above), crossed
    with the decision; the handshake gaps on both streams."""
    if not cov.enabled:   # collection off (make test): nothing to compute
        return
    from tb.kit.coverage import sample_stream

    counts = ["0", "1", "mid", "width-1", "width"]
    rel = ["below", "thr-1", "at_thr", "above"]
    g = cov.group("result", {"count": counts if width > 2 else counts[:2] + counts[-1:], "vs_thr": rel,
                             "decision": [0, 1]},
                  {"vs_thr_x_decision": ("vs_thr", "decision"), "count_x_decision": ("count", "decision")},
                  # the decision is popcount >= threshold: it follows from the comparison
                  ignore={"vs_thr_x_decision": [("below", "1"), ("thr-1", "1"), ("at_thr", "0"), ("above", "0")]})
    for inp, out in zip(sent, received):
        c, thr = out.value.count, inp.value.thr
        cls = {0: "0", 1: "1", width - 1: "width-1", width: "width"}.get(c, "mid")
        d = c - thr
        g.sample(count=cls, vs_thr="at_thr" if d == 0 else "thr-1" if d == -1 else "below" if d < 0 else "above",
                 decision=out.value.decision)
    sample_stream(cov, "i", [t.cycle for t in sent], p_valid)
    sample_stream(cov, "o", [t.cycle for t in received], p_ready)


class TB(Testbench):
    """Driver on ``i``, monitor on ``o`` (the seeded idle / backpressure generators of ``cfg``), the
    golden cycle model's expected transfers and the scoreboard."""

    def __init__(self, dut, cfg: dict):
        super().__init__(dut, idle=[dut.i__valid, dut.o__ready])
        width, mode, k, tw = cfg["width"], cfg["mode"], cfg["stage_levels"], cfg["tag_width"]
        seed, pv, pr = cfg["seed"], cfg["p_valid"], cfg["p_ready"]
        n = cfg["vectors"]
        while True:   # long regressions (``min_cycles``): more vectors until the golden run is that long
            self.items = random_vectors(seed, width, n, tw)
            self.expected = xnor_popcount_cycles(self.items, width, mode, k, valid_gen=make_gen(pv, seed, 1),
                                                 ready_gen=make_gen(pr, seed, 2))
            last = self.expected[-1][0] if self.expected else 0
            if last + 5 >= cfg.get("min_cycles", 0):
                break
            n = int(n * 1.03 * cfg["min_cycles"] / max(last, 1)) + 1
        self.source = self.stream_source("i", popcount_in_layout(width, tw), make_gen(pv, seed, 1))
        self.sink = self.stream_sink("o", popcount_out_layout(width, tw), make_gen(pr, seed, 2),
                                     convert=lambda d: PopcountOut(**d))
        self.scoreboard = Scoreboard(f"xnor_popcount[{width},{mode},k={k}].o", seed=seed)

    async def run(self) -> float:
        """Send every vector and run until 4 cycles after the last expected output; returns wall s."""
        t0 = time.perf_counter()
        self.source.start()
        self.sink.start()
        self.source.send(self.items)
        last = self.expected[-1][0] if self.expected else 0
        while self.counter.cycle <= last + 4:
            await RisingEdge(self.clk)
        return time.perf_counter() - t0


@cocotb.test()
async def xnor_popcount_random(dut):
    cfg = test_config()
    width, mode, seed = cfg["width"], cfg["mode"], cfg["seed"]
    dut._log.info(f"seed {seed}: width {width} mode {mode} k {cfg['stage_levels']}, {cfg['vectors']} vectors")
    tb = TB(dut, cfg)
    await tb.reset()
    wall = await tb.run()

    expected, snk = tb.expected, tb.sink
    compared = tb.scoreboard.check(expected, snk.received)
    mism = sum(1 for e, o in zip(expected, snk.received) if (e[0], e[1]) != (o.cycle, o.value))
    cov = Coverage("xnor_popcount", cfg)
    sample_coverage(cov, width, tb.source.sent, snk.received, cfg["p_valid"], cfg["p_ready"])
    cov.write()
    dut._log.info(f"{compared} results match (cycle-exact), {tb.cycle} cycles in {wall:.2f} s")

    # The scoreboard must fail on a mutated expectation and name the cycle of the mutated item.
    j = len(expected) // 2
    c, v = expected[j]
    bad = list(expected)
    bad[j] = (c, PopcountOut(v.count, 1 - v.decision, v.tag))
    try:
        Scoreboard("mutated", seed=seed).check(bad, snk.received)
    except ScoreboardMismatch as e:
        assert e.index == j and e.cycle == c and f"cycle {c}" in str(e), str(e)
    else:
        raise AssertionError("scoreboard accepted a mutated expectation")

    metrics = {"vectors": len(tb.items), "compared": compared, "mismatches": mism,
               "cycles": tb.cycle, "sim_seconds": wall}
    Path(f"metrics_xnor_popcount_{width}_{mode}.json").write_text(json.dumps(metrics))
