"""SimpleDualPortRam (the memory wrapper) and the memory manifest of `reram-accel verilog`."""
from __future__ import annotations

import json
import random

import pytest
from amaranth import signed
from amaranth.sim import Simulator

from golden.spec.params import AccelParams, ConfigError
from hw.accelerator import Accelerator
from hw.memory_manifest import CLEARED_BY_WALK, FIFO_STORAGE, FRAME_BUFFER, memories
from hw.sram import SimpleDualPortRam
from tb.cli.main import main


@pytest.mark.parametrize("transparent", [True, False])
def test_read_latency_one_and_read_during_write(transparent, seed):
    """Random writes and reads against a dict: ``r_data`` is the word one cycle after the read, the new
    word on a same-address write iff ``transparent``; ``r_data`` holds while ``r_en`` is low."""
    depth = 13
    dut = SimpleDualPortRam(signed(9), depth, transparent=transparent)
    rng = random.Random(seed)
    errors = []

    async def bench(ctx):
        model, expect = {}, None
        for cycle in range(600):
            w_en, w_addr, w_data = rng.random() < 0.6, rng.randrange(depth), rng.randrange(-256, 256)
            r_en, r_addr = rng.random() < 0.7, (w_addr if rng.random() < 0.3 else rng.randrange(depth))
            for sig, v in ((dut.w_en, w_en), (dut.w_addr, w_addr), (dut.w_data, w_data), (dut.r_en, r_en),
                           (dut.r_addr, r_addr)):
                ctx.set(sig, v)
            if expect is not None and ctx.get(dut.r_data) != expect:
                errors.append((cycle, ctx.get(dut.r_data), expect))
            if r_en:
                hit = w_en and w_addr == r_addr
                expect = w_data if hit and transparent else model.get(r_addr)
            if w_en:
                model[w_addr] = w_data
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not errors, f"seed {seed}: {errors[:5]}"


def test_bad_depth_names_the_parameter():
    with pytest.raises(ConfigError, match="depth"):
        SimpleDualPortRam(8, 1)


def test_manifest_lists_every_memory_of_the_top():
    p = AccelParams().with_(array={"rows": 6, "cols": 5})
    mems = {m.path: m for m in memories(Accelerator(p, fifo_depth=9), "accelerator")}
    chi = mems["accelerator.engine.chi_ram0.mem"]
    assert (chi.depth, chi.width, chi.signed, chi.wrapper) == (30, p.update.chi_width, True, "SimpleDualPortRam")
    assert (chi.read_latency, chi.transparent, chi.write_ports, chi.read_ports) == (1, False, 1, 1)
    assert chi.contents_after_reset == CLEARED_BY_WALK
    fifo = mems["accelerator.update_fifo.storage.mem"]
    assert fifo.wrapper == "SimpleDualPortRam" and fifo.contents_after_reset == FIFO_STORAGE
    for buf in ("accelerator.engine.delta_ram0.mem", "accelerator.engine.x_ram.mem"):
        assert mems[buf].contents_after_reset == FRAME_BUFFER
    assert set(mems) == {"accelerator.engine.chi_ram0.mem", "accelerator.engine.delta_ram0.mem",
                         "accelerator.engine.x_ram.mem", "accelerator.update_fifo.storage.mem"}


def test_cli_writes_the_manifest(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[array]\nrows = 8\ncols = 4\n")
    out = tmp_path / "v"
    assert main(["verilog", "--config", str(cfg), "--out", str(out), "--only", "update_unit,accelerator"]) == 0
    assert "memories.json" in capsys.readouterr().out
    mems = json.loads((out / "memories.json").read_text())
    assert [m["path"] for m in mems["update_unit"]] == ["update_unit.chi_ram.mem"]
    assert mems["update_unit"][0]["depth"] == 32 and mems["update_unit"][0]["bits"] == 32 * 16
    assert len(mems["accelerator"]) == 4
