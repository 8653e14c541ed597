"""cocotb test of :class:`hw.xnor_popcount.XnorPopcount` against :mod:`golden.twins.xnor_popcount`.

Driver / monitor: :class:`tb.kit.stream.StreamSource` on ``i`` and :class:`tb.kit.stream.StreamSink` on ``o``
with seeded idle and backpressure generators; model: :func:`golden.twins.xnor_popcount.xnor_popcount_cycles`
fed with fresh copies of the same generators; scoreboard: :class:`tb.kit.scoreboard.Scoreboard`, which
compares every output transaction *and its cycle stamp*. Config keys (from the pytest wrapper):
width, mode, stage_levels, tag_width, seed, vectors, p_valid, p_ready.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from golden.spec.handshake import random_gen
from golden.twins.xnor_popcount import PopcountIn, PopcountOut, xnor_popcount, xnor_popcount_cycles
from hw.xnor_popcount import popcount_in_layout, popcount_out_layout
from tb.kit.runner import test_config
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch
from tb.kit.stream import CycleCounter, StreamSink, StreamSource


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


async def reset(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


@cocotb.test()
async def xnor_popcount_random(dut):
    cfg = test_config()
    width, mode, k, tw = cfg["width"], cfg["mode"], cfg["stage_levels"], cfg["tag_width"]
    seed, n, pv, pr = cfg["seed"], cfg["vectors"], cfg["p_valid"], cfg["p_ready"]
    dut._log.info(f"seed {seed}: width {width} mode {mode} k {k}, {n} vectors")
    items = random_vectors(seed, width, n, tw)
    expected = xnor_popcount_cycles(items, width, mode, k, valid_gen=random_gen(seed, pv, 1),
                                    ready_gen=random_gen(seed, pr, 2))

    await reset(dut)
    t0 = time.perf_counter()
    counter = CycleCounter(dut.clk).start()
    src = StreamSource(dut, "i", dut.clk, counter, popcount_in_layout(width, tw),
                       valid_gen=random_gen(seed, pv, 1)).start()
    snk = StreamSink(dut, "o", dut.clk, counter, popcount_out_layout(width, tw),
                     ready_gen=random_gen(seed, pr, 2), convert=lambda d: PopcountOut(**d)).start()
    src.send(items)
    last = expected[-1][0] if expected else 0
    while counter.cycle <= last + 4:
        await RisingEdge(dut.clk)
    wall = time.perf_counter() - t0

    sb = Scoreboard(f"xnor_popcount[{width},{mode},k={k}].o", seed=seed)
    compared = sb.check(expected, snk.received)
    mism = sum(1 for e, o in zip(expected, snk.received) if (e[0], e[1]) != (o.cycle, o.value))
    dut._log.info(f"{compared} results match (cycle-exact), {counter.cycle} cycles in {wall:.2f} s")

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

    metrics = {"vectors": len(items), "compared": compared, "mismatches": mism,
               "cycles": counter.cycle, "sim_seconds": wall}
    Path(f"metrics_xnor_popcount_{width}_{mode}.json").write_text(json.dumps(metrics))
