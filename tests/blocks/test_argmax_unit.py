"""ArgmaxUnit: golden function and cycle model, Amaranth-sim run compared cycle by cycle, lint."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.spec.handshake import random_gen
from golden.spec.params import ConfigError
from golden.twins.argmax_unit import ArgmaxIn, ArgmaxOut, argmax_class, argmax_items, argmax_run
from hw.argmax_unit import ArgmaxUnit
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def test_golden_ties_take_the_lowest_index():
    assert argmax_class([3, 7, 7, 1]) == 1 and argmax_class([0, 0]) == 0 and argmax_class([1, 2, 9]) == 2
    acc, out = argmax_run(argmax_items(np.array([[3, 7, 7, 1], [5, 5, 5, 6]])), classes=4, count_width=4, cycles=20)
    assert [c for c, _ in acc] == list(range(8)) and out == [(4, ArgmaxOut(1, 7)), (8, ArgmaxOut(3, 6))]


def test_bad_parameters():
    with pytest.raises(ConfigError, match=r"argmax\.classes = 1 is out of range: allowed \[2, 4096\]"):
        ArgmaxUnit(1)
    with pytest.raises(ConfigError, match=r"argmax\.count_width"):
        ArgmaxUnit(10, 0)


def _sim(classes, count_width, counts, seed, p_valid, p_ready, cycles):
    dut = ArgmaxUnit(classes, count_width)
    items = argmax_items(counts)
    src = SimSource(dut.i, items, valid_gen=random_gen(seed, p_valid, 1))
    snk = SimSink(dut.o, ready_gen=random_gen(seed, p_ready, 2), convert=lambda d: ArgmaxOut(**d))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], until=lambda c: c >= cycles)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return items, src, snk


@pytest.mark.parametrize("classes, count_width", [(10, 11), (2, 1), (7, 5)])
def test_amaranth_sim_against_golden(classes, count_width, seed):
    rng = np.random.default_rng(seed + classes)
    # few distinct values: many ties
    counts = rng.integers(0, min(1 << count_width, 4), (60, classes))
    cycles = 60 * classes * 4
    items, src, snk = _sim(classes, count_width, counts, seed, 0.7, 0.5, cycles)
    acc, out = argmax_run(items, classes=classes, count_width=count_width, cycles=cycles,
                          valid_gen=random_gen(seed, 0.7, 1), ready_gen=random_gen(seed, 0.5, 2))
    Scoreboard("argmax_unit.i", seed=seed).check(acc, [(t.cycle, k) for k, t in enumerate(src.sent)])
    Scoreboard("argmax_unit.o", seed=seed).check(out, snk.received)
    assert len(out) == 60
    assert [o.cls for _, o in out] == [argmax_class(r) for r in counts]
    assert [o.count for _, o in out] == [int(r.max()) for r in counts]
    assert isinstance(items[0], ArgmaxIn)


# cocotb under Verilator: (classes, count_width, phases); the phases between them drive both streams
# with every handshake class (always, Bernoulli, burst, pattern)
_PATTERN = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1] + [0] * 17
COCOTB_CONFIGS = {
    "c10-w11": (10, 11, [{"images": 200, "valid": 0.7, "ready": 0.5},
                         {"images": 60, "valid": ["pattern", _PATTERN], "ready": 1.0}]),
    # with 2 classes results can follow 2 cycles apart (o gaps of 1): o ready with p = 0.8 and in
    # the pattern 10 while i is always valid
    "c2-w1": (2, 1, [{"images": 300, "valid": 1.0, "ready": ["burst", 0.5]},
                     {"images": 100, "valid": ["burst", 0.6], "ready": ["pattern", _PATTERN]},
                     {"images": 100, "valid": 1.0, "ready": 0.8},
                     {"images": 60, "valid": 1.0, "ready": ["pattern", [1, 0]]}]),
    "c7-w5": (7, 5, [{"images": 200, "valid": ["burst", 0.6], "ready": 0.7},
                     {"images": 100, "valid": 0.9, "ready": 1.0}]),
}


@pytest.mark.cocotb
@pytest.mark.extended      # a Verilator build per configuration: make test-extended (make test: the Amaranth runs)
@pytest.mark.parametrize("name", COCOTB_CONFIGS)
def test_cocotb_argmax_unit(name, seed):
    """Random popcounts (ties, equal rows, zeros and full scale) under every handshake class, every
    transfer compared with the golden cycle model (``tb/envs/argmax_unit_tb.py``)."""
    from tb.kit.runner import run_cocotb

    classes, cw, phases = COCOTB_CONFIGS[name]
    run_cocotb(ArgmaxUnit(classes, cw), toplevel="argmax_unit", test_module="tb.envs.argmax_unit_tb",
               config={"classes": classes, "count_width": cw, "seed": seed, "phases": phases})


def test_verilog_lint_clean(tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    path = tmp_path / "argmax_unit.v"
    path.write_text(to_verilog(ArgmaxUnit(10, 11), "argmax_unit"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from golden.spec.bnn_network_params import BnnNetHwParams, bnn_net_params_of
    from golden.spec.params import AccelParams
    from hw.registry import blocks

    assert blocks()["argmax_unit"] == ArgmaxUnit.from_params
    u = ArgmaxUnit.from_params(BnnNetHwParams())                   # the paper network: 10 classes of 1025 bridges
    u._MustUse__silence = True
    assert (u.classes, u.count_width) == (10, 11)
    out = bnn_net_params_of(AccelParams()).out_hw
    u = ArgmaxUnit.from_params(AccelParams())
    u._MustUse__silence = True
    assert (u.classes, u.count_width) == (out.neurons, out.count_width) == (10, 6)
