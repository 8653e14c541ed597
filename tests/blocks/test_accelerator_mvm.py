"""The MVM read path in the accelerator top (``[mvm]``): register map, ports, exclusion with programming,
and an Amaranth-simulator run against golden's forward / transposed reads while PROGRAM traffic runs."""
from __future__ import annotations

import dataclasses
import random
import time

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.params import AccelParams, ConfigError
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.register_map.description import OKAY
from hw.accelerator import Accelerator
from tb.envs.accelerator_mvm_tb import (
    ArraySide,
    first_mismatch,
    make_case,
    mismatching_codes,
    mvm_top_params,
    random_programs,
    split_outputs,
)
from tb.envs.accelerator_tb import golden_chain, random_entries
from tests.blocks.test_accelerator import axil_read, axil_write


def test_register_map_only_grows_with_mvm():
    """Without [mvm] the map is what it was; with it, the MVM registers at 0x100 and the new flags."""
    p = mvm_top_params(False)
    plain = accelerator_register_map(dataclasses.replace(p, mvm=None))
    with_mvm = Accelerator.register_map_for(p)
    assert "mvm_timing" not in plain and "mvm_busy" not in {f.name for f in plain["status"].fields}
    names = [r.name for r in with_mvm.registers if r.addr >= 0x100]
    assert names == ["mvm_cfg", "mvm_timing", "mvm_fs_fwd", "mvm_fs_tr", "mvm_g_ref", "mvm_scale_fwd",
                     "mvm_scale_tr", "mvm_frame_count", "mvm_read_count", "mvm_wait_count", "mvm_wait_cycles"]
    for r in plain.registers:          # every old register keeps its address and fields
        new = with_mvm[r.name]
        assert new.addr == r.addr
        assert all(new.field(f.name) == f for f in r.fields)
    assert with_mvm["mvm_cfg"].field("input_width").const == 4
    assert with_mvm["mvm_fs_fwd"].field("value").reset == p.mvm.adc_full_scale


def test_ports_and_bad_combinations():
    p = mvm_top_params(True)
    top = Accelerator.from_params(p)
    e = top.mvm_engine
    assert len(top.mvm_wl) == 9 and len(top.mvm_bl) == 6 * 4 and len(top.mvm_adc_code) == e.n_adc * 6
    assert top.s_axis_mvm.tuser.shape().width == 1
    plain = Accelerator.from_params(dataclasses.replace(p, mvm=None))
    assert not hasattr(plain, "s_axis_mvm") and plain.mvm_engine is None
    for c in (top, e, plain):
        c._MustUse__silence = True          # built for their ports only
    with pytest.raises(ConfigError, match=r"\[mvm\].*\[bnn\]"):
        Accelerator(AccelParams().with_(array={"cell": "2T2R"}), bnn=BnnHwParams(), mvm=p.mvm)
    with pytest.raises(ConfigError, match="mvm must be an MvmParams"):
        Accelerator(p, mvm={"input_width": 4})


@pytest.mark.parametrize("differential", [False, True])
def test_top_with_mvm_lints_clean(differential, tmp_path):
    """The top with an [mvm] section, sim and synth flavours: no Verilator warning (-Wall, waived codes
    as for every block)."""
    from hw.verilog_output import convert
    from tb.kit.lint import lint

    p = mvm_top_params(differential)
    problems = {}
    for flavour in ("sim", "synth"):
        path = tmp_path / flavour / "accelerator.v"
        path.parent.mkdir()
        path.write_text(convert(Accelerator.from_params(p), "accelerator", flavour=flavour))
        for wall in (False, True):
            if out := lint(path, wall=wall):
                problems[(flavour, wall)] = out[:5]
    assert not problems, problems


def test_cfg_registers_reach_the_engine():
    """Every MVM register field arrives at the engine's ``cfg``; a full scale of 0 stands for 2**32;
    reset values are the [mvm] section's."""
    p = mvm_top_params(False)
    dut = Accelerator.from_params(p)
    rmap, cfg = dut.regmap, dut.mvm_engine.cfg
    seen = {}

    async def host(ctx):
        seen["reset"] = (ctx.get(cfg.fs_fwd), ctx.get(cfg.mult_fwd), ctx.get(cfg.settle))
        for name, fields in (("mvm_timing", {"settle": 7, "conv": 3}), ("mvm_fs_fwd", {"value": 0}),
                             ("mvm_fs_tr", {"value": 12345}), ("mvm_g_ref", {"value": 999}),
                             ("mvm_scale_fwd", {"mult": 1 << 16, "shift": 48}),
                             ("mvm_scale_tr", {"mult": 3, "shift": 1})):
            assert await axil_write(ctx, dut.s_axil, rmap[name].addr, rmap[name].encode(**fields)) == OKAY
        seen["set"] = {f: ctx.get(getattr(cfg, f)) for f in ("settle", "conv", "fs_fwd", "fs_tr", "g_ref",
                                                            "mult_fwd", "shift_fwd", "mult_tr", "shift_tr")}

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.run()
    assert seen["reset"] == (p.mvm.adc_full_scale, p.mvm.scale_mult, 1)
    assert seen["set"] == {"settle": 7, "conv": 3, "fs_fwd": 1 << 32, "fs_tr": 12345, "g_ref": 999,
                           "mult_fwd": 1 << 16, "shift_fwd": 48, "mult_tr": 3, "shift_tr": 1}


def run_top(case, seed: int, *, n_programs: int = 40, n_updates: int = 0, g=None, p_idle: float = 0.3,
            p_ready: float = 0.7):
    """The top under the Amaranth simulator: CFG over AXI-Lite, the case's frames on ``s_axis_mvm``
    (random idle cycles), ``m_axis_mvm`` under random backpressure, PROGRAM pushes (and with
    ``n_updates`` UPDATE pushes, interleaved at random) from the host all the while. Returns a dict of
    what was observed."""
    dut = Accelerator.from_params(case.params)
    rmap = dut.regmap
    side = ArraySide(case, dut.mvm_engine.n_adc, g=g)
    rng = random.Random(f"mvm-top-sim/{seed}")
    programs = random_programs(case.params, rng, n_programs)
    updates = random_entries(case.params, rng, n_updates) if n_updates else []
    actions = [("program", x) for x in programs] + [("update", x) for x in updates]
    order = sorted(range(len(actions)), key=lambda i: (rng.random(), i))
    # UPDATE entries keep their order (END_CYCLE and MARKER mean something only in sequence)
    upd_slots = iter(sorted(i for i in order if actions[i][0] == "update"))
    actions = [actions[i] if actions[i][0] == "program" else actions[next(upd_slots)] for i in order]
    st = {"cfg_done": False, "out": [], "done": False, "cycle": 0, "regs": {}, "programs": []}
    n_out = sum(len(f.y) for f in case.frames)

    async def array(ctx):
        while True:
            code = side.step(st["cycle"], mvm_read=bool(ctx.get(dut.mvm_read)),
                             transposed=bool(ctx.get(dut.mvm_transposed)), mvm_wl=ctx.get(dut.mvm_wl),
                             mvm_bl=ctx.get(dut.mvm_bl), sel=ctx.get(dut.mvm_adc_sel),
                             write=bool(ctx.get(dut.write)), wl=ctx.get(dut.wl), bl_set=ctx.get(dut.bl_set),
                             sl_reset=ctx.get(dut.sl_reset), read=bool(ctx.get(dut.read)))
            ctx.set(dut.mvm_adc_code, code)
            ctx.set(dut.adc, 0)
            await ctx.tick()
            st["cycle"] += 1

    async def source(ctx):
        s = dut.s_axis_mvm
        while not st["cfg_done"]:
            await ctx.tick()
        for f in case.frames:
            for k, w in enumerate(f.words):
                while rng.random() < p_idle:
                    ctx.set(s.tvalid, 0)
                    await ctx.tick()
                ctx.set(s.tvalid, 1)
                ctx.set(s.tdata, w)
                ctx.set(s.tlast, int(k == len(f.words) - 1))
                ctx.set(s.tuser, int(f.transposed))
                while True:
                    rdy = ctx.get(s.tready)
                    await ctx.tick()
                    if rdy:
                        break
            ctx.set(s.tvalid, 0)

    async def sink(ctx):
        o = dut.m_axis_mvm
        srng = random.Random(f"mvm-top-sink/{seed}")
        while len(st["out"]) < n_out:
            ctx.set(o.tready, int(srng.random() < p_ready))
            if ctx.get(o.tvalid) and ctx.get(o.tready):
                st["out"].append((ctx.get(o.tdata), ctx.get(o.tlast)))
            await ctx.tick()
        st["done"] = True

    async def host(ctx):
        bus = dut.s_axil
        for name, fields in case.csr_writes():
            assert await axil_write(ctx, bus, rmap[name].addr, rmap[name].encode(**fields)) == OKAY
        st["cfg_done"] = True
        for kind, x in actions:
            if st["done"] and kind == "program":
                continue
            for _ in range(rng.randrange(0, 12)):
                await ctx.tick()
            if kind == "program":
                assert await axil_write(ctx, bus, rmap["program"].addr, rmap["program"].encode(**x)) == OKAY
                st["programs"].append(x)
            else:
                word = rmap["update"].encode(row=x.row, col=x.col, dw=x.dw, end_cycle=int(x.end_cycle),
                                             marker=int(x.marker))
                assert await axil_write(ctx, bus, rmap["update"].addr, word) == OKAY
        while not st["done"]:
            await ctx.tick()
        while rmap["status"].decode((await axil_read(ctx, bus, rmap["status"].addr))[0])["busy"]:
            pass
        for name in ("mvm_frame_count", "mvm_read_count", "mvm_wait_count", "mvm_wait_cycles", "pulse_count",
                     "errors", "status"):
            st["regs"][name] = rmap[name].decode((await axil_read(ctx, bus, rmap[name].addr))[0])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(array, background=True)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.add_testbench(host)
    t0 = time.perf_counter()
    sim.run()
    st["wall"] = time.perf_counter() - t0
    st["side"] = side
    st["updates"] = updates
    st["frames"] = split_outputs(st["out"])
    return st


@pytest.mark.parametrize("differential", [False, True])
def test_amaranth_sim_mvm_through_the_top(differential, seed):
    """Every y of forward and transposed frames (noise on, sample index per frame pair) equals golden's
    read while PROGRAM pushes run; no read overlaps a programming command; some reads waited; the
    pulses are those pushed; the counters agree."""
    case = make_case(mvm_top_params(differential), seed, samples=4)
    print(f"seed = {seed}")
    st = run_top(case, seed, n_programs=80, n_updates=24)
    side, regs = st["side"], st["regs"]
    msg = first_mismatch(case, st["frames"])
    assert msg is None, msg
    assert side.overlaps == [], f"MVM reads overlapped programming in cycles {side.overlaps[:5]} (seed {seed})"
    passes = sum(case.shape.passes(f.transposed) for f in case.frames)
    assert len(side.port.reads) == passes == regs["mvm_read_count"]["value"]
    assert regs["mvm_frame_count"]["value"] == len(case.frames)
    waits = regs["mvm_wait_count"]["value"]
    assert waits > 0, f"no read waited for programming (seed {seed}): the traffic does not interleave"
    D = case.params.synapse.slots
    chain = golden_chain(case.params, st["updates"])
    want_pulses = sorted([(p["row"], p["col"] * D + p["slot"], p["polarity"]) for p in st["programs"]
                          for _ in range(p["count"])] + [(p.row, p.phys_col, p.polarity) for p in chain.pulses])
    assert chain.pulses, "the UPDATE traffic gives no pulse"
    assert sorted(x[1:] for x in side.pulses) == want_pulses
    assert regs["pulse_count"]["value"] == len(want_pulses)
    assert regs["errors"]["mvm_frame"] == 0 and regs["errors"]["mvm_overlap"] == 0
    print(f"{'differential' if differential else 'non-differential'}: {len(case.frames)} frames, "
          f"{sum(len(f) for f in st['frames'])} y codes, 0 mismatches, {passes} reads, {waits} waited "
          f"({regs['mvm_wait_cycles']['value']} cycles), {len(want_pulses)} pulses ({len(chain.pulses)} from "
          f"{len(st['updates'])} UPDATE pushes), "
          f"{st['cycle']} cycles, {st['wall']:.1f} s")


def test_amaranth_sim_corrupted_conductance_is_caught(seed):
    """Negative check: one device's code changed in the array model gives y mismatches."""
    case = make_case(mvm_top_params(False), seed, samples=1)
    g = case.g.copy()
    g[3, 5] = (g[3, 5] + 2000) % 4096
    st = run_top(case, seed, n_programs=3, g=g)
    assert first_mismatch(case, st["frames"]) is not None
    bad = mismatching_codes(case, st["frames"])
    assert bad > 0
    print(f"negative check: {bad} of {sum(len(f.y) for f in case.frames)} y codes differ from golden")
    # and the same corrupted codes are what golden predicts for that array
    assert [tuple(f) for f in st["frames"]] == case.expected(g)


class _NoExclusion(Accelerator):
    """A mutated top: the read engine ignores programming and the scheduler ignores the reads."""

    def _mvm_path(self, m, dp):
        status = super()._mvm_path(m, dp)
        m.d.comb += [dp.sched.hold.eq(0), self.mvm_engine.prog_active.eq(0)]
        return status


def test_overlap_monitor_catches_a_top_without_exclusion(seed, monkeypatch):
    """Without the exclusion the monitor sees MVM reads during programming commands."""
    case = make_case(mvm_top_params(False), seed, samples=3)
    monkeypatch.setattr(Accelerator, "from_params", classmethod(lambda cls, p: _NoExclusion(p, mvm=p.mvm)))
    st = run_top(case, seed, n_programs=80)
    assert st["side"].overlaps, f"no overlap seen without the exclusion (seed {seed})"


def test_expected_codes_are_golden_and_nontrivial(seed):
    case = make_case(mvm_top_params(True), seed, samples=2)
    ys = np.concatenate([np.array(f.y) for f in case.frames])
    lim = 1 << (case.mv.out_width - 1)
    assert len(set(ys.tolist())) > len(ys) // 2                   # not saturated, not constant
    assert (np.abs(ys) < lim - 1).mean() > 0.8


# --- cocotb + Verilator: the co-simulation through the top ------------------------------------------
def _cocotb_config(differential: bool, seed: int, **extra) -> dict:
    p = mvm_top_params(differential)
    return {"params": p.to_dict(), "seed": seed, "samples": 4, "settle": 2, "conv": 1, "programs": 80,
            "updates": 24, **extra}


@pytest.mark.cocotb
@pytest.mark.extended      # the top's Verilator build takes minutes: make test-extended (make test: the Amaranth runs)
@pytest.mark.parametrize("differential", [False, True])
def test_cocotb_mvm_through_the_top(differential, seed):
    """cocotb + Verilator: forward and transposed frames of 4 samples through the top (noise on),
    every y equal to golden's while PROGRAM pushes run, no overlap, reads that waited counted."""
    from tb.kit.runner import run_cocotb

    print(f"seed = {seed}")
    p = mvm_top_params(differential)
    t0 = time.perf_counter()
    res = run_cocotb(Accelerator.from_params(p), toplevel="accelerator", test_module="tb.envs.accelerator_mvm_tb",
                     config=_cocotb_config(differential, seed))
    log = (res.results_xml.parent / "sim.log").read_text()
    line = next((ln for ln in log.splitlines() if "0 mismatches" in ln), "")
    print(f"accelerator [mvm] {'differential' if differential else 'non-differential'}: {line.strip()} "
          f"build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s, wall {time.perf_counter() - t0:.1f} s")


@pytest.mark.cocotb
@pytest.mark.extended
def test_cocotb_corrupted_conductance_is_caught(seed):
    """Negative check under Verilator (same build as the non-differential run): one changed device
    code in the array model gives y mismatches, and exactly golden's y for the changed array."""
    from tb.kit.runner import run_cocotb

    case = make_case(mvm_top_params(False), seed, samples=4, settle=2)
    r, c = 4, 7
    res = run_cocotb(Accelerator.from_params(mvm_top_params(False)), toplevel="accelerator",
                     test_module="tb.envs.accelerator_mvm_tb",
                     config=_cocotb_config(False, seed, corrupt=[[r, c, int(case.g[r, c] + 1500) % 4096]]))
    log = (res.results_xml.parent / "sim.log").read_text()
    line = next((ln for ln in log.splitlines() if "negative check:" in ln), None)
    assert line is not None, "the negative check did not run"
    print(line.split("INFO")[-1].split("cocotb.accelerator")[-1].strip())
