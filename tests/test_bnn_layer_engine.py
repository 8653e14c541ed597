"""BnnLayerEngine: golden functions, Amaranth-sim on a synthetic layer, cocotb on a trained digits layer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.bnn_hw_params import BnnHwParams
from golden.bnn_layer_engine import (
    BnnLayerEngineModel,
    OutBit,
    array_image,
    digital_bits,
    majority_threshold,
    programmed_bits,
)
from golden.bnn_params import n_bias_cells
from golden.bnn_training import BnnModel, threshold_range
from golden.params import ConfigError
from golden.sense_amp_sequencer import STROBES
from hw.bnn_layer_engine import BnnLayerEngine
from tb.amaranth_sim import SimSink, SimSource, run_streams
from tb.cosim_bnn_tb import DIGITS_BNN
from tb.scoreboard import Scoreboard, ScoreboardMismatch
from tb.stream import random_gen

# constructors that reject bad parameters leave an unelaborated object behind: not a leak
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def synthetic_model(seed: int, n_in: int, n_hidden: int) -> BnnModel:
    """A random folded BNN (one hidden layer + a 3-class output) with realisable thresholds."""
    rng = np.random.default_rng(seed)
    lo, hi = threshold_range(n_in)
    w0 = rng.integers(0, 2, (n_hidden, n_in), dtype=np.uint8)
    t0 = rng.integers(lo, hi + 1, n_hidden).astype(np.int64)
    w1 = rng.integers(0, 2, (3, n_hidden), dtype=np.uint8)
    return BnnModel(layers=[(w0, t0), (w1, None)], bias_fraction=0.05, thresholds_raw=[t0.copy()])


# --- golden ---------------------------------------------------------------------------------------
def test_bias_cells_realise_the_threshold(seed):
    m = synthetic_model(seed, 40, 25)
    x = np.random.default_rng(seed + 1).integers(0, 2, (200, 40), dtype=np.uint8)
    prog = programmed_bits(m.extended_weights(0))
    assert np.array_equal(digital_bits(prog, x, m.bias_cells(0)), m.layer_bits(x, 0))
    assert majority_threshold(m.n_tot(0)) == (m.n_tot(0) + 1) // 2


def test_array_layout_and_bad_parameters():
    hw = BnnHwParams(inputs=4, bias_cells=1, neurons=5, bank=2)
    prog = np.arange(25).reshape(5, 5) % 2
    a = array_image(prog.astype(np.uint8), hw)
    assert a.shape == (3, 10)
    assert np.array_equal(a[1, 5:10], prog[3]) and not a[2, 5:].any()
    with pytest.raises(ConfigError, match=r"bnn\.bank"):
        BnnHwParams(neurons=3, bank=4)
    with pytest.raises(ConfigError, match=r"bnn\.bank \* \(bnn\.inputs \+ bnn\.bias_cells\)"):
        BnnHwParams(inputs=1000, bias_cells=100, neurons=64, bank=4)
    with pytest.raises(ConfigError, match=r"bnn\.out_fifo"):
        BnnHwParams(bank=8, neurons=33, out_fifo=4)
    with pytest.raises(ConfigError, match=r"bnn\.inputs \+ bnn\.bias_cells"):
        BnnLayerEngine(BnnHwParams(inputs=1, bias_cells=0, neurons=2, bank=1))


# --- Amaranth simulator ---------------------------------------------------------------------------
def _amaranth_run(cfg):
    from tb.bnn_layer_engine_tb import BnnMacroModel, make_decider, scenario, x_payloads

    sc = scenario(cfg)
    hw = sc["hw"]
    dut = BnnLayerEngine(hw)
    macro = BnnMacroModel(hw, sc["array"], make_decider(sc["model"], sc["hc"]), cfg["seed"])
    src = SimSource(dut.x, x_payloads(sc["images"]), valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1))
    snk = SimSink(dut.y, ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2), convert=lambda d: OutBit(**d))
    drive = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    names = ("read", "wl", "bl_read", "in_bits", "addr_error", *STROBES)

    def hook(ctx, c):
        for k, v in drive.items():
            ctx.set(getattr(dut, k), v)
        s = {n: ctx.get(getattr(dut, n)) for n in names}
        drive.update(macro.step(c, s))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], hooks=[hook], until=lambda c: c >= sc["cycles"] + 10)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not macro.violations, macro.violations[:5]
    return sc, src, snk


@pytest.mark.parametrize("bank, order, mode, read_width",
                         [(3, "mixed", "tree", 4), (1, "blocks", "lut6", 1), (4, "mixed", "tree", 32)])
def test_amaranth_sim_synthetic_layer(bank, order, mode, read_width, seed, tmp_path):
    from tb.bnn_layer_engine_tb import bits_per_image

    model = synthetic_model(seed + bank, 10, 7)
    path = model.save(tmp_path / "m.npz")
    B = n_bias_cells(10)
    cfg = {"hw": {"inputs": 10, "bias_cells": B, "neurons": 7, "bank": bank, "popcount_mode": mode,
                  "stage_levels": 1, "precharge": 1, "input": 2, "evaluate": 1, "sense": 1, "readout": 2,
                  "reset": 1, "read_latency": 2 + bank % 2, "out_fifo": max(bank, 3), "read_width": read_width},
           "model": str(path), "n_images": 12, "x_random": True, "seed": seed, "order": order,
           "hardware": {"mode": "authors", "seed": seed, "bit_error": 0.05},
           "p_valid": 0.7, "p_ready": 0.6}
    sc, src, snk = _amaranth_run(cfg)
    accepted = [(t.cycle, i) for i, t in enumerate(src.sent)]
    Scoreboard("bnn_layer_engine.x", seed=seed).check(sc["accepted"], accepted)
    Scoreboard("bnn_layer_engine.y", seed=seed).check(sc["outputs"], snk.received)
    got = bits_per_image(snk.received, len(sc["images"]), 7)
    assert np.array_equal(got, sc["spec"])
    modes = {m for _, m in sc["run"]}
    assert modes == {0, 1}, "both modes must be exercised"


def test_scoreboard_names_cycle_of_mutated_output(seed, tmp_path):
    model = synthetic_model(seed, 6, 5)
    path = model.save(tmp_path / "m.npz")
    cfg = {"hw": {"inputs": 6, "bias_cells": n_bias_cells(6), "neurons": 5, "bank": 2, "out_fifo": 2},
           "model": str(path), "n_images": 4, "x_random": True, "seed": seed, "order": "mixed",
           "hardware": {"mode": "authors", "seed": seed, "bit_error": 0.0}, "p_valid": 0.8, "p_ready": 0.5}
    sc, _, snk = _amaranth_run(cfg)
    j = 7
    c, ob = sc["outputs"][j]
    late = sc["outputs"][:j] + [(c + 1, ob)] + sc["outputs"][j + 1:]
    with pytest.raises(ScoreboardMismatch, match=f"cycle {c + 1}") as e:
        Scoreboard("bnn_layer_engine.y", seed=seed).check(late, snk.received)
    assert e.value.index == j


@pytest.mark.parametrize("read_width", [1, 4])
def test_golden_cycle_model_throughput(read_width):
    """Digital: ceil(cells / read_width) cycles per neuron; analog: sum(phase lengths) per bank, with
    free output."""
    hw = BnnHwParams(inputs=8, bias_cells=1, neurons=6, bank=2, out_fifo=4, read_width=read_width)
    assert hw.reads_per_neuron == (9 if read_width == 1 else 3) and hw.last_read_lanes == 1
    prog = np.zeros((6, 9), dtype=np.uint8)
    gm = BnnLayerEngineModel(hw, array_image(prog, hw), np.zeros((2, 6), dtype=np.uint8))
    x = np.zeros(8, dtype=np.uint8)
    _, out = gm.run([(x, 0), (x, 1)])
    dig = [c for c, _ in out[:6]]
    assert np.all(np.diff(dig) == hw.reads_per_neuron)            # one neuron per C cycles
    ana = [c for c, _ in out[6:]]
    assert ana[2] - ana[0] == sum(hw.phase_lengths)               # one bank per sum(L) cycles


def test_read_width_parameter():
    hw = BnnHwParams(inputs=64, bias_cells=7, read_width=32)
    assert (hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes) == (32, 3, 7)
    hw = BnnHwParams(inputs=20, bias_cells=2, read_width=64)       # wider than a neuron
    assert (hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes) == (22, 1, 22)
    for bad in (0, 257):
        with pytest.raises(ConfigError, match=rf"bnn\.read_width = {bad} is out of range: allowed \[1, 256\]"):
            BnnHwParams(read_width=bad)


# --- cocotb + Verilator ---------------------------------------------------------------------------
DIGITS_NET = DIGITS_BNN       # the trained digits layer (shared with the top's co-simulation)


@pytest.mark.cocotb
def test_cocotb_bnn_layer_engine_trained_digits(seed):
    from golden.bnn_params import BnnTrainParams
    from golden.bnn_training import load_or_train, model_path
    from tb.runner import run_cocotb

    params = BnnTrainParams(**DIGITS_NET)
    model = load_or_train(params)             # cached under build/bnn/
    hw = BnnHwParams(inputs=model.fan_in(0), bias_cells=model.bias_cells(0), neurons=model.sizes[1], bank=4,
                     out_fifo=8)
    from dataclasses import asdict

    from golden.bnn_training import binarize_images
    from golden.datasets import load_digits

    x_path = model_path(params).resolve().with_suffix(".test_bits.npy")   # spares sklearn in the sim
    if not x_path.exists():
        np.save(x_path, binarize_images(load_digits().x_test[:100]))
    cfg = {"hw": asdict(hw), "model": str(model_path(params).resolve()), "x_path": str(x_path),
           "n_images": 100, "seed": seed,
           "order": "blocks", "hardware": {"mode": "authors", "seed": seed, "bit_error": 0.01},
           "p_valid": 0.8, "p_ready": 0.7}
    res = run_cocotb(BnnLayerEngine(hw), toplevel="bnn_layer_engine", test_module="tb.bnn_layer_engine_tb",
                     config=cfg)
    m = json.loads((res.results_xml.parent / "metrics_bnn_layer_engine.json").read_text())
    print(f"bnn_layer_engine: {m['images']} test images x 2 modes, {m['output_bits']} output bits, "
          f"{m['mismatches_digital']} digital / {m['mismatches_analog']} analog mismatches, "
          f"{m['analog_vs_digital_bits_differing']} bits where analog (SA errors) differs from digital, "
          f"{m['cycles']} cycles, build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s, "
          f"{m['cycles'] / m['sim_seconds']:.0f} cycles/s")
    assert m["mismatches_digital"] == 0 and m["mismatches_analog"] == 0 and m["images"] >= 100
    # end to end: the RTL's hidden bits through the golden output layer, against the labels
    got = np.load(res.results_xml.parent / "bnn_layer_engine_bits.npy")
    labels = load_digits().y_test[:100]
    w_out = model.layers[1][0]
    for name, bits in (("digital", got[:100]), ("analog", got[100:])):
        pred = np.argmax(model.popcounts(bits, 1), axis=1)
        print(f"  {name}: accuracy {np.mean(pred == labels):.3f} on these 100 images "
              f"(golden integer model {model.accuracy(load_digits().x_test[:100], labels):.3f})")
    assert w_out.shape[1] == got.shape[1]


@pytest.mark.parametrize("hw", [
    BnnHwParams(inputs=3, bias_cells=0, neurons=1, bank=1, out_fifo=2),
    BnnHwParams(inputs=64, bias_cells=7, neurons=33, bank=1, popcount_mode="lut6", read_width=1),
    BnnHwParams(inputs=20, bias_cells=3, neurons=64, bank=8, out_fifo=8, read_width=5),
    BnnHwParams(inputs=64, bias_cells=7, neurons=33, bank=4, read_width=64),
], ids=["tiny", "k1-lut6-serial", "k8-w5", "default-w64"])
def test_verilog_lint_clean(hw, tmp_path):
    from tb.lint import lint
    from tb.runner import to_verilog

    path = tmp_path / "bnn_layer_engine.v"
    path.write_text(to_verilog(BnnLayerEngine(hw), "bnn_layer_engine"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from golden.params import AccelParams
    from hw.registry import blocks

    assert blocks()["bnn_layer_engine"] == BnnLayerEngine.from_params
    for p in (AccelParams(), BnnHwParams(neurons=5, bank=5, out_fifo=5)):
        d = BnnLayerEngine.from_params(p)
        d._MustUse__silence = True
        assert d.hw == (p if isinstance(p, BnnHwParams) else BnnHwParams())


def test_golden_first_bit_latency():
    """The latencies stated in the BnnLayerEngine docstring."""
    from golden.xnor_popcount import popcount_latency

    hw = BnnHwParams(inputs=8, bias_cells=1, neurons=6, bank=2, out_fifo=4, read_latency=3, read_width=2)
    gm = BnnLayerEngineModel(hw, array_image(np.zeros((6, 9), dtype=np.uint8), hw),
                             np.zeros((2, 6), dtype=np.uint8))
    x = np.zeros(8, dtype=np.uint8)
    acc, out = gm.run([(x, 0), (x, 1)])
    lat = popcount_latency(hw.cells, hw.popcount_mode, hw.stage_levels)
    assert out[0][0] - acc[0][0] == hw.reads_per_neuron + hw.read_latency + lat + 1
    assert out[6][0] - acc[1][0] == sum(hw.phase_lengths[:5]) + 4
