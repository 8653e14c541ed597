"""BnnLayerEngine: golden functions, Amaranth-sim on a synthetic layer, cocotb on a trained digits layer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.bnn.model_params import n_bias_cells
from golden.bnn.network import BnnModel, threshold_range
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.handshake import random_gen
from golden.spec.params import ConfigError
from golden.twins.bnn_layer_engine import (
    BnnLayerEngineModel,
    OutWord,
    array_image,
    digital_bits,
    majority_threshold,
    programmed_bits,
)
from golden.twins.sense_amp_sequencer import STROBES
from hw.bnn_layer_engine import BnnLayerEngine
from tb.cosim.bnn_host import DIGITS_BNN
from tb.kit.amaranth_sim import SimSink, SimSource, run_streams
from tb.kit.scoreboard import Scoreboard, ScoreboardMismatch

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
        BnnHwParams(bank=8, neurons=33, out_fifo=1)
    with pytest.raises(ConfigError, match=r"bnn\.inputs \+ bnn\.bias_cells"):
        BnnLayerEngine(BnnHwParams(inputs=1, bias_cells=0, neurons=2, bank=1))


# --- Amaranth simulator ---------------------------------------------------------------------------
def _engine_sim(cfg, sc, decide, check=None):
    """Amaranth-sim run of scenario ``sc``: random-gap source, backpressured sink, the behavioural
    2T2R array + analog macro (``decide``) on the array port; ``check(ctx, dut, cycle, lines)`` sees
    every cycle's line states before the macro does."""
    from tb.envs.bnn_layer_engine_tb import x_payloads
    from tb.models.bnn_macro import BnnMacroModel

    hw = sc["hw"]
    dut = BnnLayerEngine(hw)
    macro = BnnMacroModel(hw, sc["array"], decide, cfg["seed"])
    src = SimSource(dut.x, x_payloads(sc["images"]), valid_gen=random_gen(cfg["seed"], cfg["p_valid"], 1))
    snk = SimSink(dut.y, ready_gen=random_gen(cfg["seed"], cfg["p_ready"], 2), convert=lambda d: OutWord(**d))
    drive = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    names = ("read", "wl", "bl_read", "in_bits", *(("bias_in",) if hw.bias_cells else ()), "addr_error", *STROBES,
             "stages", "firsts")

    def hook(ctx, c):
        for k, v in drive.items():
            ctx.set(getattr(dut, k), v)
        s = {n: ctx.get(getattr(dut, n)) for n in names}
        if check is not None:
            check(ctx, dut, c, s)
        drive.update(macro.step(c, s))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk], hooks=[hook], until=lambda c: c >= sc["cycles"] + 10)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not macro.violations, macro.violations[:5]
    return src, snk


def _amaranth_run(cfg):
    from tb.envs.bnn_layer_engine_tb import scenario
    from tb.models.bnn_macro import make_decider

    sc = scenario(cfg)
    src, snk = _engine_sim(cfg, sc, make_decider(sc["model"], sc["hc"]))
    return sc, src, snk


@pytest.mark.parametrize("bank, order, mode, read_width",
                         [(3, "mixed", "tree", 4), (1, "blocks", "lut6", 1), (4, "mixed", "tree", 32)])
def test_amaranth_sim_synthetic_layer(bank, order, mode, read_width, seed, tmp_path):
    from tb.envs.bnn_layer_engine_tb import bits_per_image

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
    got = bits_per_image(snk.received, len(sc["images"]), 7, bank)
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


# --- SA calibration drive (x payload cal/ramp -> bias_in) -------------------------------------------
def test_bias_drive_golden():
    from golden.twins.bnn_layer_engine import bias_drive_bits, extend_inputs

    assert bias_drive_bits(4).tolist() == [1, 1, 1, 1] and bias_drive_bits(4, 1).tolist() == [1, 0, 0, 0]
    assert extend_inputs(np.array([1, 0]), 3, 0).tolist() == [[1, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"bias_drive = 5 is out of range: allowed \[0, 4\]"):
        bias_drive_bits(4, 5)
    # digital mode with the drive = the popcount with those bias rows driven (cells storing 1 output it)
    prog = np.ones((2, 7), dtype=np.uint8)
    x = np.ones((1, 4), dtype=np.uint8)
    assert [digital_bits(prog, x, 3, r)[0, 0] for r in range(4)] == [1, 1, 1, 1]   # 4 of 7 already
    x0 = np.array([[1, 1, 0, 0]], dtype=np.uint8)
    assert [digital_bits(prog, x0, 3, r)[0, 0] for r in range(4)] == [0, 0, 1, 1]  # flips at r = 2


def _physical_synthetic(seed, tmp_path, n_in=40, n_hidden=9):
    model = synthetic_model(seed, n_in, n_hidden)
    return model, model.save(tmp_path / "m.npz")


def test_one_conversion_reproduces_the_vectorised_calibration(seed, tmp_path):
    """The per-conversion function (what the cocotb macro calls) + the host-side count give exactly the
    golden measured calibration (vectorised draws)."""
    from golden.bnn.chip_model import BnnHardware, HardwareConfig
    from golden.bnn.sa_calibration import calibration_from_bits, conversion_counter, ramp_images

    model, _ = _physical_synthetic(seed, tmp_path)
    for reps, pats in ((3, 2), (1, 3)):
        hw = BnnHardware(model, HardwareConfig(mode="physical", seed=seed, sa_calibration="measured",
                                               sa_cal_repeats=reps, sa_cal_patterns=pats))
        ref = hw.layer_calibration(0)["result"]
        st = hw.calibration_state(0)
        b = st.bias_cells
        imgs = ramp_images(0, st.n_inputs, b, pats, reps)
        assert len(imgs) == ref.conversions and imgs[conversion_counter(1, 2, 0, b, reps)][1] == 2
        bits = np.array([st.conversion(x, r, i) for i, (x, r) in enumerate(imgs)])
        got = calibration_from_bits(bits, 0, st.w_in, ref.k, b, reps, pats)
        assert np.array_equal(got.shift, ref.shift) and np.array_equal(got.offset_delta, ref.offset_delta)
        assert np.array_equal(got.unbracketed, ref.unbracketed)
    with pytest.raises(ValueError, match="conversions"):
        calibration_from_bits(bits[1:], 0, st.w_in, ref.k, b, reps, pats)


def _calibration_sim(cfg):
    """Amaranth-sim run of a calibration scenario; also checks ``bias_in`` every cycle: all ones
    after reset, then from the cycle after an image's ``x`` transfer the thermometer code of its
    ``ramp`` (all ones for ``cal = 0``), held until the next transfer."""
    from tb.envs.bnn_layer_engine_tb import calibration_scenario, make_calibration_decider, x_payloads

    sc = calibration_scenario(cfg)
    B = sc["hw"].bias_cells
    want = {"bias": (1 << B) - 1}
    bad = []

    def check(ctx, dut, c, s):
        if s["bias_in"] != want["bias"]:
            bad.append((c, s["bias_in"], want["bias"]))
        if ctx.get(dut.x.valid) and ctx.get(dut.x.ready):       # takes effect from the next cycle
            pl = ctx.get(dut.x.payload)
            r = min(pl.ramp, B) if pl.cal else B
            want["bias"] = (1 << r) - 1

    src, snk = _engine_sim(cfg, sc, make_calibration_decider(sc["state"]), check)
    assert not bad, f"bias_in (cycle, got, want): {bad[:5]}"
    payloads = x_payloads(sc["images"])
    assert {p["cal"] for p in payloads} == {1} and {p["ramp"] for p in payloads} == set(range(B + 1))
    return sc, src, snk


@pytest.mark.parametrize("modes", ["analog", "mixed"])
def test_amaranth_sim_calibration_ramp(modes, seed, tmp_path):
    """The x payload's cal/ramp field reaches ``bias_in`` with the image's timing; analog images give
    the calibration state's conversions, digital ones the ideal twin; an all-analog ramp run gives
    the golden measured calibration's shifts through the host-side count."""
    from tb.envs.bnn_layer_engine_tb import bits_per_image, host_calibration

    _, path = _physical_synthetic(seed, tmp_path, n_in=24, n_hidden=7)
    cfg = {"hw": {"inputs": 24, "bias_cells": n_bias_cells(24), "neurons": 7, "bank": 3, "out_fifo": 3,
                  "read_width": 8, "precharge": 1, "input": 1, "evaluate": 1, "sense": 1, "readout": 1, "reset": 1},
           "model": str(path), "seed": seed, "hardware": {"mode": "physical", "seed": seed},
           "patterns": 2, "repeats": 2, "modes": modes, "p_valid": 0.7, "p_ready": 0.6}
    sc, src, snk = _calibration_sim(cfg)
    Scoreboard("bnn_layer_engine.x", seed=seed).check(sc["accepted"], [(t.cycle, i) for i, t in enumerate(src.sent)])
    Scoreboard("bnn_layer_engine.y", seed=seed).check(sc["outputs"], snk.received)
    got = bits_per_image(snk.received, len(sc["images"]), 7, 3)
    assert np.array_equal(got, sc["spec"])
    if modes == "mixed":
        assert set(sc["modes"]) == {0, 1}
    else:
        assert np.array_equal(host_calibration(sc, got).shift, sc["golden_cal"].shift)


def test_bias_in_port_and_payload_layout():
    from hw.bnn_layer_engine import in_layout

    hw = BnnHwParams(inputs=64, bias_cells=7)
    lay = in_layout(hw)
    assert [(n, f.shape.width) for n, f in lay] == [("bits", 64), ("analog", 1), ("cal", 1), ("ramp", 3)]
    assert BnnHwParams(inputs=1025, bias_cells=102, bank=3).ramp_width == 7 and BnnHwParams(inputs=3, bias_cells=0).ramp_width == 1
    d = BnnLayerEngine(hw)
    assert len(d.bias_in) == 7
    d0 = BnnLayerEngine(BnnHwParams(inputs=3, bias_cells=0, neurons=1, bank=1, out_fifo=2))
    assert not hasattr(d0, "bias_in")                  # no bias rows, no port
    for e in (d, d0):
        e._MustUse__silence = True


@pytest.mark.parametrize("read_width", [1, 4])
def test_golden_cycle_model_throughput(read_width):
    """Digital: ceil(cells / read_width) cycles per neuron, a K-bit word per K neurons; analog: one
    bank (word) per max(phase lengths) cycles (the pipelined sequencer), with free output."""
    hw = BnnHwParams(inputs=8, bias_cells=1, neurons=6, bank=2, out_fifo=4, read_width=read_width)
    assert hw.reads_per_neuron == (9 if read_width == 1 else 3) and hw.last_read_lanes == 1
    prog = np.zeros((6, 9), dtype=np.uint8)
    gm = BnnLayerEngineModel(hw, array_image(prog, hw), np.zeros((2, 6), dtype=np.uint8))
    x = np.zeros(8, dtype=np.uint8)
    _, out = gm.run([(x, 0), (x, 1)])
    assert len(out) == 6 and [w.word for _, w in out] == [0, 1, 2] * 2
    dig = [c for c, _ in out[:3]]
    assert np.all(np.diff(dig) == hw.reads_per_neuron * hw.bank)  # one neuron per C cycles
    ana = [c for c, _ in out[3:]]
    assert np.all(np.diff(ana) == max(hw.phase_lengths))          # one bank per max(L) cycles


def test_read_width_parameter():
    hw = BnnHwParams(inputs=64, bias_cells=7, read_width=32)
    assert (hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes) == (32, 3, 7)
    hw = BnnHwParams(inputs=20, bias_cells=2, read_width=64)       # wider than a neuron
    assert (hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes) == (22, 1, 22)
    # full-row reads: any width up to the widest row (4096 bridges), one read per neuron
    hw = BnnHwParams(inputs=1025, bias_cells=102, neurons=1025, bank=3, read_width=4096)
    assert (hw.read_lanes, hw.reads_per_neuron, hw.last_read_lanes) == (1127, 1, 1127)
    assert BnnHwParams(inputs=4000, bias_cells=96, neurons=5, bank=1, read_width=4096).read_lanes == 4096
    for bad in (0, 4097):
        with pytest.raises(ConfigError, match=rf"bnn\.read_width = {bad} is out of range: allowed \[1, 4096\]"):
            BnnHwParams(read_width=bad)


# --- cocotb + Verilator ---------------------------------------------------------------------------
DIGITS_NET = DIGITS_BNN       # the trained digits layer (shared with the top's co-simulation)


@pytest.mark.cocotb
def test_cocotb_bnn_layer_engine_trained_digits(seed):
    from golden.bnn.model_params import BnnTrainParams
    from golden.bnn.network import load_or_train, model_path
    from tb.kit.runner import run_cocotb

    params = BnnTrainParams(**DIGITS_NET)
    model = load_or_train(params)             # cached under build/bnn/
    hw = BnnHwParams(inputs=model.fan_in(0), bias_cells=model.bias_cells(0), neurons=model.sizes[1], bank=4,
                     out_fifo=8)
    from dataclasses import asdict

    from golden.bnn.network import binarize_images
    from golden.data.datasets import load_digits

    x_path = model_path(params).resolve().with_suffix(".test_bits.npy")   # spares sklearn in the sim
    if not x_path.exists():
        np.save(x_path, binarize_images(load_digits().x_test[:100]))
    cfg = {"hw": asdict(hw), "model": str(model_path(params).resolve()), "x_path": str(x_path),
           "n_images": 100, "seed": seed,
           "order": "blocks", "hardware": {"mode": "authors", "seed": seed, "bit_error": 0.01},
           "p_valid": 0.8, "p_ready": 0.7}
    res = run_cocotb(BnnLayerEngine(hw), toplevel="bnn_layer_engine", test_module="tb.envs.bnn_layer_engine_tb",
                     config=cfg, testcase="bnn_layer_engine_trained_layer")
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


CAL_PATTERNS, CAL_REPEATS = 2, 3     # the CI ramp: 2 x (7 + 1) x 3 = 48 conversions
CAL_INFER_IMAGES = 30                # then inference on the calibrated chip, random modes


@pytest.mark.cocotb
def test_cocotb_bnn_layer_engine_sa_calibration(seed):
    """End to end: the measured SA calibration's ramp through the RTL engine (trained digits layer in
    the calibration state, physical chip of the test seed); host-counted shifts == golden, timeline ==
    golden twin; then the host trims the bias cells and test images in both modes must give golden's
    calibrated chip's bits, cycle-exact. Then one flipped SA decision must change a shift and be reported."""
    from dataclasses import asdict

    from golden.bnn.model_params import BnnTrainParams
    from golden.bnn.network import load_or_train, model_path
    from tb.envs.bnn_layer_engine_tb import calibration_scenario, sensitive_flip
    from tb.kit.runner import run_cocotb

    params = BnnTrainParams(**DIGITS_NET)
    model = load_or_train(params)
    hw = BnnHwParams(inputs=model.fan_in(0), bias_cells=model.bias_cells(0), neurons=model.sizes[1], bank=4,
                     out_fifo=8)          # the same build as the trained-layer test
    from golden.bnn.network import binarize_images
    from golden.data.datasets import load_digits

    x_path = model_path(params).resolve().with_suffix(".test_bits.npy")   # spares sklearn in the sim
    if not x_path.exists():
        np.save(x_path, binarize_images(load_digits().x_test[:100]))
    cfg = {"hw": asdict(hw), "model": str(model_path(params).resolve()), "seed": seed,
           "hardware": {"mode": "physical", "seed": seed}, "patterns": CAL_PATTERNS, "repeats": CAL_REPEATS,
           "p_valid": 0.8, "p_ready": 0.7, "x_path": str(x_path), "n_images": CAL_INFER_IMAGES}

    def run(c):
        res = run_cocotb(BnnLayerEngine(hw), toplevel="bnn_layer_engine", test_module="tb.envs.bnn_layer_engine_tb",
                         config=c, testcase="bnn_layer_engine_calibration", check=not c.get("fault"))
        return res, json.loads((res.results_xml.parent / "metrics_bnn_layer_engine_calibration.json").read_text())

    res, m = run(cfg)
    n_conv = CAL_PATTERNS * (hw.bias_cells + 1) * CAL_REPEATS
    print(f"bnn_layer_engine SA calibration: {m['conversions']} conversions ({m['patterns']} patterns x "
          f"{m['bias_cells'] + 1} ramp steps x {m['repeats']} repeats) x {m['neurons']} neurons, "
          f"{m['bit_mismatches']} bit mismatches, shifts RTL == golden: {m['shifts_rtl'] == m['shifts_golden']} "
          f"({sum(1 for v in m['shifts_golden'] if v)} nonzero: {m['shifts_golden']}), golden twin "
          f"{m['golden_cycles']} cycles (first x {m['first_accept']}, last y {m['last_output']}), "
          f"build {res.build_seconds:.1f} s, run {res.run_seconds:.1f} s")
    assert m["conversions"] == n_conv and m["output_words"] == n_conv * hw.banks
    assert m["errors"] == [] and m["bit_mismatches"] == 0 and m["shift_differs"] == []
    assert m["shifts_rtl"] == m["shifts_golden"] and any(m["shifts_golden"])
    i = m["inference"]
    print(f"  calibrated inference: {i['bias_writes']} bias-cell writes, {i['images']} images "
          f"({i['analog_images']} analog), {i['compared']} output words cycle-exact, {i['mismatches_digital']} "
          f"digital / {i['mismatches_analog']} analog mismatches, trim changes {i['trim_changed_analog_bits']} "
          f"of {i['analog_bits']} analog bits, {i['cycles']} cycles in {i['sim_seconds']:.1f} s")
    assert i["images"] == CAL_INFER_IMAGES and i["compared"] == i["output_words"] == CAL_INFER_IMAGES * hw.banks
    assert i["mismatches_digital"] == 0 and i["mismatches_analog"] == 0 and i["trim_changed_analog_bits"] > 0

    # it can fail: one SA decision flipped in the macro changes that neuron's shift, and is reported
    fi, fj = sensitive_flip(calibration_scenario(cfg))
    _, mf = run({**cfg, "fault": {"sa": [fi, fj]}})
    print(f"  fault: SA decision of neuron {fj} in conversion {fi} flipped -> shifts differ at "
          f"{mf['shift_differs']}, first scoreboard mismatch at cycle {(mf['first_mismatch'] or {}).get('cycle')}; "
          f"calibrated inference {mf['inference']['mismatches_digital']} digital / "
          f"{mf['inference']['mismatches_analog']} analog mismatches, first at cycle "
          f"{(mf['inference']['first_mismatch'] or {}).get('cycle')}")
    assert mf["shift_differs"] == [fj] and mf["bit_mismatches"] == 1
    assert mf["first_mismatch"] is not None and f"cycle {mf['first_mismatch']['cycle']}" in mf["first_mismatch"]["message"]


@pytest.mark.parametrize("hw", [
    BnnHwParams(inputs=3, bias_cells=0, neurons=1, bank=1, out_fifo=2),
    BnnHwParams(inputs=64, bias_cells=7, neurons=33, bank=1, popcount_mode="lut6", read_width=1),
    BnnHwParams(inputs=20, bias_cells=3, neurons=64, bank=8, out_fifo=8, read_width=5),
    BnnHwParams(inputs=64, bias_cells=7, neurons=33, bank=4, read_width=64),
    BnnHwParams(inputs=20, bias_cells=0, neurons=10, bank=3, read_width=8, argmax=True),
], ids=["tiny", "k1-lut6-serial", "k8-w5", "default-w64", "argmax"])
def test_verilog_lint_clean(hw, tmp_path):
    from tb.kit.lint import lint
    from tb.kit.runner import to_verilog

    path = tmp_path / "bnn_layer_engine.v"
    path.write_text(to_verilog(BnnLayerEngine(hw), "bnn_layer_engine"))
    assert lint(path, wall=False) == [] and lint(path, wall=True) == []


def test_registry_and_from_params():
    from golden.spec.params import AccelParams
    from hw.registry import blocks

    assert blocks()["bnn_layer_engine"] == BnnLayerEngine.from_params
    for p in (AccelParams(), BnnHwParams(neurons=5, bank=5, out_fifo=5)):
        d = BnnLayerEngine.from_params(p)
        d._MustUse__silence = True
        assert d.hw == (p if isinstance(p, BnnHwParams) else BnnHwParams())


def test_golden_first_word_latency():
    """The latencies stated in the BnnLayerEngine docstring."""
    from golden.twins.xnor_popcount import popcount_latency

    hw = BnnHwParams(inputs=8, bias_cells=1, neurons=6, bank=2, out_fifo=4, read_latency=3, read_width=2)
    gm = BnnLayerEngineModel(hw, array_image(np.zeros((6, 9), dtype=np.uint8), hw),
                             np.zeros((2, 6), dtype=np.uint8))
    x = np.zeros(8, dtype=np.uint8)
    acc, out = gm.run([(x, 0), (x, 1)])
    lat = popcount_latency(hw.cells, hw.popcount_mode, hw.stage_levels)
    assert out[0][0] - acc[0][0] == hw.bank * hw.reads_per_neuron + hw.read_latency + lat + 1
    assert out[3][0] - acc[1][0] == sum(hw.phase_lengths[:5]) + 3


# --- on-chip argmax of the output layer --------------------------------------------------------------
@pytest.mark.parametrize("bank, read_width", [(3, 8), (1, 32)])
def test_amaranth_sim_output_layer_argmax(bank, read_width, seed):
    """Output layer (no bias cells) in digital mode with ``argmax``: the ``cls`` stream equals the
    golden twin cycle by cycle and the class of the golden popcounts (ties -> lowest index); ``y``
    words still match."""
    from golden.twins.argmax_unit import ArgmaxOut, argmax_class
    from tb.envs.bnn_layer_engine_tb import x_payloads
    from tb.models.bnn_macro import BnnMacroModel

    hw = BnnHwParams(inputs=20, bias_cells=0, neurons=10, bank=bank, out_fifo=3, read_width=read_width,
                     argmax=True)
    rng = np.random.default_rng(seed + bank)
    prog = rng.integers(0, 2, (10, 20), dtype=np.uint8)
    x = rng.integers(0, 2, (16, 20), dtype=np.uint8)
    images = [(x[i], 0) for i in range(len(x))]
    gen = {"valid_gen": random_gen(seed, 0.7, 1), "ready_gen": random_gen(seed, 0.6, 2),
           "cls_ready_gen": random_gen(seed, 0.5, 3)}
    gm = BnnLayerEngineModel(hw, array_image(prog, hw))
    acc, outs = gm.run(images, **gen)
    counts = (x.astype(int) @ prog.T.astype(int)) + ((1 - x.astype(int)) @ (1 - prog.T.astype(int)))
    assert [c.cls for _, c in gm.classes] == [argmax_class(r) for r in counts]
    assert [c.count for _, c in gm.classes] == [int(r.max()) for r in counts]

    dut = BnnLayerEngine(hw)
    macro = BnnMacroModel(hw, array_image(prog, hw), None, seed)
    src = SimSource(dut.x, x_payloads(images), valid_gen=random_gen(seed, 0.7, 1))
    snk = SimSink(dut.y, ready_gen=random_gen(seed, 0.6, 2), convert=lambda d: OutWord(**d))
    csnk = SimSink(dut.cls, ready_gen=random_gen(seed, 0.5, 3), convert=lambda d: ArgmaxOut(**d))
    drive = {"rd_valid": 0, "rd_bits": 0, "sa_out": 0}
    names = ("read", "wl", "bl_read", "in_bits", "addr_error", *STROBES, "stages", "firsts")

    def hook(ctx, c):
        for k, v in drive.items():
            ctx.set(getattr(dut, k), v)
        drive.update(macro.step(c, {n: ctx.get(getattr(dut, n)) for n in names}))

    async def bench(ctx):
        await run_streams(ctx, [src], [snk, csnk], hooks=[hook], until=lambda c: c >= gm.cycles + 10)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not macro.violations, macro.violations[:5]
    Scoreboard("bnn_layer_engine.x", seed=seed).check(acc, [(t.cycle, i) for i, t in enumerate(src.sent)])
    Scoreboard("bnn_layer_engine.y", seed=seed).check(outs, snk.received)
    Scoreboard("bnn_layer_engine.cls", seed=seed).check(gm.classes, csnk.received)
    with pytest.raises(ConfigError, match=r"bnn\.argmax needs an output layer"):
        BnnHwParams(inputs=20, bias_cells=1, neurons=10, bank=2, argmax=True)
    from golden.spec.params import AccelParams
    from hw.accelerator import Accelerator
    with pytest.raises(ConfigError, match=r"bnn\.argmax = true is not available for a single layer through the accelerator top"):
        Accelerator(AccelParams().with_(array={"rows": hw.banks, "cols": hw.array_cols, "cell": "2T2R"},
                                        synapse={"devices": 2}), bnn=hw)
