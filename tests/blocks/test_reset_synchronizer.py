"""ResetSynchronizer and AsyncResetTop: asynchronous assertion, release on the second clock edge."""
from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from golden.spec.params import AccelParams, ConfigError
from golden.twins.update_unit import clear_cycles
from hw.async_reset_top import AsyncResetTop
from hw.reset_synchronizer import ResetSynchronizer
from hw.update_unit import UpdateUnit
from tb.kit.lint import lint
from tb.kit.runner import to_verilog

PERIOD = 1e-6


def test_assert_async_release_after_two_edges():
    dut = ResetSynchronizer()
    log = {}

    async def bench(ctx):
        ctx.set(dut.arst_n, 1)
        log["power_up"] = ctx.get(dut.rst)
        await ctx.tick()
        log["edge1"] = ctx.get(dut.rst)
        await ctx.tick()
        log["edge2"] = ctx.get(dut.rst)
        await ctx.delay(PERIOD / 4)                   # between two edges
        ctx.set(dut.arst_n, 0)
        await ctx.delay(PERIOD / 100)
        log["asserted_without_edge"] = ctx.get(dut.rst)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.rst) == 1
        await ctx.delay(PERIOD / 4)
        ctx.set(dut.arst_n, 1)
        edges = 0
        while ctx.get(dut.rst):
            await ctx.tick()
            edges += 1
        log["release_edges"] = edges
        # a glitch shorter than a clock period is still caught
        await ctx.delay(PERIOD / 4)
        ctx.set(dut.arst_n, 0)
        await ctx.delay(PERIOD / 10)
        ctx.set(dut.arst_n, 1)
        log["glitch"] = ctx.get(dut.rst)

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(bench)
    sim.run()
    assert log == {"power_up": 1, "edge1": 1, "edge2": 0, "asserted_without_edge": 1, "release_edges": 2,
                   "glitch": 1}, log


def test_stages_checked():
    with pytest.raises(ConfigError, match="stages"):
        ResetSynchronizer(stages=1)


def test_async_reset_top_resets_and_clears_update_unit():
    """Through AsyncResetTop: aresetn low resets the UpdateUnit (its chi clear walk restarts); the walk
    starts on the second clock edge after release and lasts rows * cols cycles."""
    p = AccelParams().with_(array={"rows": 3, "cols": 2})
    dut = AsyncResetTop(UpdateUnit(p))
    walk = []

    async def clock(ctx):
        while True:
            ctx.set(dut.clk, 0)
            await ctx.delay(PERIOD / 2)
            ctx.set(dut.clk, 1)
            await ctx.delay(PERIOD / 2)

    async def bench(ctx):
        ctx.set(dut.aresetn, 1)
        for _ in range(2 + clear_cycles(p) + 3):     # power-up walk done
            await ctx.tick()
        assert ctx.get(dut.clearing) == 0
        await ctx.delay(PERIOD / 4)
        ctx.set(dut.aresetn, 0)
        for _ in range(3):
            await ctx.tick()
        await ctx.delay(PERIOD / 4)
        ctx.set(dut.aresetn, 1)
        for _ in range(clear_cycles(p) + 6):
            await ctx.tick()
            walk.append(ctx.get(dut.clearing))

    sim = Simulator(dut)
    sim.add_process(clock)
    sim.add_testbench(bench)
    sim.run_until(PERIOD * 60)
    # reset held (walk pending) until the 2nd edge, then rows*cols cycles of walk
    # edge 1 after the release: still in reset; edge 2: reset released, the walk (address 0) begins;
    # rows*cols words later ``clearing`` falls
    assert walk == [1] + [1] * clear_cycles(p) + [0] * 5, walk


def test_async_reset_top_lints_clean(tmp_path):
    p = AccelParams().with_(array={"rows": 6, "cols": 5})
    path = tmp_path / "accelerator_arst.v"
    path.write_text(to_verilog(AsyncResetTop.accelerator(p), "accelerator_arst"))
    text = path.read_text()
    assert "input aresetn;" in text and "input clk;" in text and "input rst;" not in text.split(");")[0]
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []
