"""XnorPopcount: golden function and latency model, Amaranth-sim and cocotb/Verilator against the twin."""
from __future__ import annotations

import json
import math
import random

import pytest
from amaranth.sim import Simulator

from golden.spec.handshake import random_gen
from golden.spec.params import ConfigError
from golden.twins.xnor_popcount import (
    PopcountOut,
    popcount_latency,
    tree_levels,
    xnor_popcount,
    xnor_popcount_cycles,
)
from hw.xnor_popcount import XnorPopcount
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch

# constructors that reject bad parameters leave an unelaborated object behind: not a leak
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


# --- golden --------------------------------------------------------------------------------------
def test_golden_function_against_bit_loop(seed):
    rng = random.Random(seed)
    for _ in range(300):
        n = rng.randint(1, 300)
        x, w = rng.getrandbits(n), rng.getrandbits(n)
        thr = rng.randint(0, n + 1)
        want = sum(((x >> i) & 1) == ((w >> i) & 1) for i in range(n))
        assert xnor_popcount(x, w, thr, n) == (want, int(want >= thr))


def test_latency_formula():
    for n in (1, 2, 3, 6, 7, 36, 37, 64, 1024, 1025, 4096):
        assert tree_levels(n, "tree") == math.ceil(math.log2(n))
        chunks = math.ceil(n / 6)
        want = 1 + (0 if chunks == 1 else math.ceil(math.log(chunks, 3) - 1e-12))
        assert tree_levels(n, "lut6") == want, n
        for k in (1, 2, 3, 16):
            for mode in ("tree", "lut6"):
                lat = popcount_latency(n, mode, k)
                assert lat == math.ceil(tree_levels(n, mode) / k) + 1
                dut = XnorPopcount(n, stage_levels=k, mode=mode)
                dut._MustUse__silence = True
                assert dut.latency == lat
    # the FPGA mode needs fewer pipeline registers for the same grouping
    assert popcount_latency(1025, "lut6", 2) < popcount_latency(1025, "tree", 2)


@pytest.mark.parametrize("kwargs, field", [
    ({"width": 0}, "bnn.inputs"), ({"width": 4097}, "bnn.inputs"),
    ({"width": 8, "stage_levels": 0}, "bnn.stage_levels"),
    ({"width": 8, "mode": "wallace"}, "bnn.popcount_mode"),
    ({"width": 8, "tag_width": 33}, "xnor_popcount.tag_width"),
])
def test_bad_parameters_name_the_field(kwargs, field):
    width = kwargs.pop("width")
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        XnorPopcount(width, **kwargs)


# --- Amaranth simulator ---------------------------------------------------------------------------
def _sim_run(width, mode, k, tag_width, items, seed, pv, pr):
    dut = XnorPopcount(width, stage_levels=k, mode=mode, tag_width=tag_width)
    expected = xnor_popcount_cycles(items, width, mode, k, valid_gen=random_gen(seed, pv, 1),
                                    ready_gen=random_gen(seed, pr, 2))
    src = SimSource(dut.i, items, valid_gen=random_gen(seed, pv, 1))
    snk = SimSink(dut.o, ready_gen=random_gen(seed, pr, 2), convert=lambda d: PopcountOut(**d))
    last = expected[-1][0]

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: c > last + 3)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return expected, snk.received


@pytest.mark.parametrize("mode", ["tree", "lut6"])
def test_amaranth_sim_random_widths(mode, seed):
    from tb.envs.xnor_popcount_tb import random_vectors

    rng = random.Random(f"{seed}/{mode}")
    for width in (1, 5, 6, 7, rng.randint(8, 40), rng.randint(41, 90)):
        k = rng.randint(1, 3)
        tw = rng.choice([0, 3])
        items = random_vectors(seed + width, width, 60, tw)
        expected, got = _sim_run(width, mode, k, tw, items, seed, 0.8, 0.7)
        Scoreboard(f"xnor_popcount[{width},{mode},k={k}]", seed=seed).check(expected, got)


def test_full_throughput_and_latency(seed):
    from tb.envs.xnor_popcount_tb import random_vectors

    items = random_vectors(seed, 50, 40, 0)
    expected, got = _sim_run(50, "tree", 2, 0, items, seed, 1.0, 1.0)
    lat = popcount_latency(50, "tree", 2)
    assert [c for c, _ in expected] == list(range(lat, lat + 40))  # one result per cycle after L
    Scoreboard("xnor_popcount.o", seed=seed).check(expected, got)


def test_scoreboard_names_cycle_of_mutated_expectation(seed):
    from tb.envs.xnor_popcount_tb import random_vectors

    items = random_vectors(seed, 20, 30, 2)
    expected, got = _sim_run(20, "lut6", 1, 2, items, seed, 0.7, 0.6)
    j = 17
    c, v = expected[j]
    bad = expected[:j] + [(c, PopcountOut(v.count + 1, v.decision, v.tag))] + expected[j + 1:]
    with pytest.raises(ScoreboardMismatch, match=f"cycle {c}") as e:
        Scoreboard("xnor_popcount.o", seed=seed).check(bad, got)
    assert e.value.index == j and e.value.cycle == c
    late = expected[:j] + [(c + 1, v)] + expected[j + 1:]   # right value, wrong cycle
    with pytest.raises(ScoreboardMismatch, match=f"cycle {c + 1}"):
        Scoreboard("xnor_popcount.o", seed=seed).check(late, got)


# --- cocotb + Verilator ---------------------------------------------------------------------------
COCOTB_CASES = [
    # width, mode, stage_levels, tag_width, vectors
    (1025, "tree", 2, 11, 1500),
    (1025, "lut6", 3, 11, 1500),
    (3, "tree", 1, 0, 300),
]


#: cases `make test` leaves to `make test-extended` (and `make regress`)
COCOTB_EXTENDED = ((1025, "tree", 2),)


@pytest.mark.cocotb
@pytest.mark.parametrize("width, mode, k, tw, vectors",
                         [pytest.param(*c, marks=[pytest.mark.extended] if c[:3] in COCOTB_EXTENDED else [])
                          for c in COCOTB_CASES],
                         ids=[f"{w}-{m}-k{k}" for w, m, k, _, _ in COCOTB_CASES])
def test_cocotb_xnor_popcount(width, mode, k, tw, vectors, seed):
    from tb.kit.runner import run_cocotb

    dut = XnorPopcount(width, stage_levels=k, mode=mode, tag_width=tw)
    cfg = {"width": width, "mode": mode, "stage_levels": k, "tag_width": tw, "seed": seed,
           "vectors": vectors, "p_valid": 0.85, "p_ready": 0.75}
    res = run_cocotb(dut, toplevel="xnor_popcount", test_module="tb.envs.xnor_popcount_tb", config=cfg)
    m = json.loads((res.results_xml.parent / f"metrics_xnor_popcount_{width}_{mode}.json").read_text())
    print(f"xnor_popcount {width} {mode} k={k}: {m['compared']} vectors, {m['mismatches']} mismatches, "
          f"{m['cycles']} cycles, build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s, "
          f"{m['cycles'] / m['sim_seconds']:.0f} cycles/s")
    assert m["mismatches"] == 0 and m["compared"] == vectors


# --- generated Verilog: lint-clean at the extremes; registry entry ---------------------------------
@pytest.mark.parametrize("width, mode, k", [
    (1, "tree", 1), (6, "lut6", 1), (200, "lut6", 2), (1025, "tree", 2),
    pytest.param(1025, "lut6", 3, marks=pytest.mark.slow),
    pytest.param(4096, "tree", 3, marks=pytest.mark.slow),
    pytest.param(4096, "lut6", 2, marks=[pytest.mark.slow, pytest.mark.extended]),   # 4096 tree: make test
])
def test_verilog_lint_clean(width, mode, k, tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    path = tmp_path / "xnor_popcount.v"
    path.write_text(to_verilog(XnorPopcount(width, stage_levels=k, mode=mode, tag_width=12), "xnor_popcount"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from golden.spec.bnn_datapath_params import BnnHwParams
    from golden.spec.params import AccelParams
    from hw.registry import blocks

    assert blocks()["xnor_popcount"] == XnorPopcount.from_params
    d = XnorPopcount.from_params(AccelParams())          # BNN defaults
    d._MustUse__silence = True
    assert d.width == BnnHwParams().cells
    d = XnorPopcount.from_params(BnnHwParams(inputs=100, bias_cells=11, popcount_mode="lut6", stage_levels=3))
    d._MustUse__silence = True
    assert (d.width, d.mode, d.latency) == (111, "lut6", popcount_latency(111, "lut6", 3))
