"""FrameLoader (testbench-side AXI4-Stream manager of the frame co-simulation): every word, its
tlast and its cycle against the cycle model, under seeded backpressure; frames back to back."""
from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from golden.spec.checks import ConfigError
from golden.spec.handshake import make_gen
from tb.tops.frame_loader import FrameLoader, frame_loader_cycles

DEPTH = 37
READY = {"free": 1.0, "random": 0.5, "bursty": ["burst", 0.4], "pattern": ["pattern", [0, 1, 1]]}


def _frames(seed: int) -> list[list[int]]:
    rnd = random.Random(seed)
    lens = [DEPTH, 1, 0, 5, DEPTH, rnd.randint(2, DEPTH - 1), 3]
    return [[rnd.getrandbits(32) for _ in range(n)] for n in lens]


def _run(frames: list[list[int]], ready_spec, seed: int, gap: int = 0):
    """Drive the loader frame after frame (the next tag ``gap`` cycles after ``done`` was seen);
    returns the transfers ``(cycle, word, tlast)``, the cycle model's, and the done-rise cycles."""
    dut = FrameLoader(DEPTH)
    got, want, done_rise = [], [], []

    async def bench(ctx):
        ready = make_gen(ready_spec, seed, 7)
        cycle = 0
        for tag, words in enumerate(frames, start=1):
            ctx.set(dut.words, sum(w << (32 * k) for k, w in enumerate(words)))
            ctx.set(dut.n, len(words))
            ctx.set(dut.frame, tag)
            # the model replays the tready draws of this frame, from its first cycle on
            start = cycle + 1
            draws = []
            await ctx.tick()
            cycle += 1
            prev_done = 0
            while True:
                r = next(ready)
                draws.append(r)
                ctx.set(dut.m_axis.tready, int(r))
                valid, data, last, done = (ctx.get(dut.m_axis.tvalid), ctx.get(dut.m_axis.tdata),
                                           ctx.get(dut.m_axis.tlast), ctx.get(dut.done))
                if done and not prev_done and cycle > start:
                    done_rise.append(cycle)
                    break
                prev_done = done
                if valid and r:
                    got.append((cycle, data, bool(last)))
                await ctx.tick()
                cycle += 1
            assert not ctx.get(dut.m_axis.tvalid), "tvalid high while done"
            want.extend(frame_loader_cycles(words, iter(draws), start=start))
            for _ in range(gap):
                await ctx.tick()
                cycle += 1
                next(ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got, want, done_rise


@pytest.mark.parametrize("name", READY)
def test_words_tlast_and_cycles_match_the_model(name, seed):
    frames = _frames(seed)
    got, want, done_rise = _run(frames, READY[name], seed)
    first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    assert got == want, f"seed {seed}: transfer {first}: got {got[first:first + 1]}, model {want[first:first + 1]}"
    assert [w for _, w, _ in got] == [w for f in frames for w in f]
    assert [t for _, _, t in got] == [k == len(f) - 1 for f in frames for k in range(len(f))]
    assert len(done_rise) == len(frames)


def test_full_throughput_without_backpressure(seed):
    frames = _frames(seed)
    got, _, done_rise = _run(frames[:1], 1.0, seed)
    cycles = [c for c, _, _ in got]
    assert cycles == list(range(cycles[0], cycles[0] + DEPTH))        # one word per cycle
    assert done_rise == [cycles[-1] + 1]                               # done in the cycle after the last


def test_empty_frame_sends_nothing(seed):
    got, _, done_rise = _run([[]], 1.0, seed)
    assert got == [] and len(done_rise) == 1


def test_rejects_bad_depth():
    with pytest.raises(ConfigError, match="frame loader depth"):
        FrameLoader(0)
