"""SyncFifo against Amaranth's SyncFIFOBuffered (the reference), cycle by cycle, and a queue model."""
import random
from collections import deque

import pytest
from amaranth import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from golden.spec.checks import ConfigError
from hw.sync_fifo import SyncFifo
from tb.kit.lint import lint
from tb.kit.runner import to_verilog


@pytest.mark.parametrize("depth", [2, 3, 4, 7, 16])
def test_matches_syncfifobuffered_cycle_by_cycle(depth, seed):
    """Random writes/reads (bursty enables) into both FIFOs: every output equal in every cycle, and
    the popped entries are the pushed ones in order."""
    print(f"seed {seed}")
    rng = random.Random(seed + depth)
    m = Module()
    m.submodules.dut = dut = SyncFifo(width=8, depth=depth)
    m.submodules.ref = ref = SyncFIFOBuffered(width=8, depth=depth)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    mismatches, popped, pushed = [], [], deque()

    async def bench(ctx):
        p_w, p_r = 0.5, 0.5
        for cycle in range(3000):
            if cycle % 200 == 0:
                p_w, p_r = rng.choice([(0.9, 0.2), (0.2, 0.9), (0.5, 0.5), (1.0, 1.0)])
            w, r, d = rng.random() < p_w, rng.random() < p_r, rng.randrange(256)
            for f in (dut, ref):
                ctx.set(f.w_en, w)
                ctx.set(f.w_data, d)
                ctx.set(f.r_en, r)
            got = [ctx.get(s) for s in (dut.w_rdy, dut.r_rdy, dut.level)]
            want = [ctx.get(s) for s in (ref.w_rdy, ref.r_rdy, ref.level)]
            if got[1] and ctx.get(dut.r_data) != ctx.get(ref.r_data):
                mismatches.append((cycle, "r_data"))
            if got != want:
                mismatches.append((cycle, got, want))
            if w and got[0]:
                pushed.append(d)
            if r and got[1]:
                popped.append((ctx.get(dut.r_data), pushed.popleft()))
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    assert not mismatches, f"seed {seed}: {mismatches[:5]}"
    assert popped and all(a == b for a, b in popped), f"seed {seed}"


def test_rejects_bad_sizes():
    with pytest.raises(ConfigError, match=r"fifo depth = 1 is out of range: allowed \[2, 65536\]"):
        SyncFifo(width=8, depth=1)
    with pytest.raises(ConfigError, match=r"fifo width = 0 is out of range"):
        SyncFifo(width=0, depth=4)


def test_storage_is_the_memory_wrapper_and_lints(tmp_path):
    text = to_verilog(SyncFifo(width=33, depth=16), "sync_fifo")
    assert "storage" in text
    path = tmp_path / "sync_fifo.v"
    path.write_text(text)
    assert lint(path, wall=False) == []
    assert lint(path, wall=True) == []
