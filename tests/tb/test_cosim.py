"""End-to-end co-simulation (issue 6): in-situ training with the RTL in the loop, and its raw-Verilator twin."""
from __future__ import annotations

import os

import pytest

from golden.spec.params import ConfigError
from golden.spec.register_map.accelerator_map import accelerator_register_map
from golden.spec.transactions import UpdateRequest
from tb.cosim.bnn_host import bnn_hw_for, digits_bnn, digits_test_bits, golden_bits, sensitive_bridge
from tb.cosim.run import compare_raw, run_cosim, run_cosim_bnn, summary
from tb.cosim.training_host import (
    CosimConfig,
    Networks,
    OffsetCrossbarArray,
    layer_params,
    read_cells,
    update_words,
)


def test_layer_params_and_words():
    cfg = CosimConfig(samples=3)
    p1, p2 = layer_params(cfg)
    assert (p1.array.rows, p1.array.cols, p2.array.rows, p2.array.cols) == (65, 16, 17, 10)
    w = update_words(p1, [UpdateRequest(1, 2, -3), UpdateRequest(64, 15, 5)])
    assert len(w) == 2 and not (w[0] >> 30) & 1 and (w[1] >> 30) & 1
    assert update_words(p2, []) == [(1 << 31) | (1 << 30)]
    assert len(read_cells(p2, 10)) == 10 and read_cells(p2, 0) == []


def test_rejects_bad_config():
    with pytest.raises(ConfigError, match="cosim.samples"):
        CosimConfig(samples=0)
    with pytest.raises(ConfigError, match="cosim.lr"):
        CosimConfig(lr=0)


def test_offset_array_matches_golden_store():
    nets = Networks(CosimConfig(samples=2))
    xas = nets.arrays()
    arr = nets.golden.layers[1]
    fresh = OffsetCrossbarArray(arr.params, nets.golden.model, arr.id_base)
    # same device-to-device table as the store's devices with those ids
    assert (fresh.dev.tab == nets.golden.store.tab[arr.id_base:arr.id_base + arr.n_devices]).all()
    # one pulse through the array equals one pulse through the store
    xas[1].pulse(3, 5, 1)
    nets.golden.store.apply([arr.id_base + 3 * arr.params.phys_cols + 5], [1], [1])
    assert (xas[1].g_flat == nets.golden.store.g[arr.id_base:arr.id_base + arr.n_devices]).all()


@pytest.mark.cocotb
def test_cosim_training(tmp_path):
    """200 samples (RERAM_COSIM_SAMPLES to change) through both accelerators, AXI writes batched by
    the AxilSequencer: zero mismatches, golden accuracy."""
    n = int(os.environ.get("RERAM_COSIM_SAMPLES", "200"))
    res = run_cosim(CosimConfig(samples=n, read_cells=32), out_dir=tmp_path)
    print(summary(res))
    assert res["mismatches"] == 0, res["first_mismatches"]
    assert res["samples"] == n and res["pulses"] == res["golden_pulses"] > 0
    assert res["accuracy"] == res["golden_accuracy"]
    assert res["reads"] == 64 and res["batches"] > 0


@pytest.mark.cocotb
@pytest.mark.extended
def test_cosim_python_driver_and_raw_replay(tmp_path):
    """One Python wake-up per AXI write (same build); the plain Verilator C++ harness replays the
    recorded stimulus with the same cycle count and pulse log."""
    cfg = CosimConfig(samples=30, read_cells=4)
    res = compare_raw(run_cosim(cfg, out_dir=tmp_path, driver="python"), cfg, repeat=1)
    print(summary(res))
    assert res["mismatches"] == 0, res["first_mismatches"]
    assert res["driver"] == "python" and res["status_polls"] > 0
    assert res["raw_cycles_equal"] and res["raw_pulse_log_equal"] and res["raw_pulses"] == res["pulses"]


def test_update_words_equal_register_encode():
    p1, _ = layer_params(CosimConfig(samples=3))
    reg = accelerator_register_map(p1)["update"]
    reqs = [UpdateRequest(64, 15, -2048), UpdateRequest(0, 0, 2047), UpdateRequest(7, 3, -1)]
    want = [reg.encode(row=r.row, col=r.col, dw=r.dw, end_cycle=int(i == 2)) for i, r in enumerate(reqs)]
    assert update_words(p1, reqs) == want
    assert update_words(p1, []) == [reg.encode(marker=1, end_cycle=1)]


@pytest.mark.cocotb
def test_cosim_bnn_through_top(tmp_path):
    """100 binarised digits through BNN_INPUT -> engine -> BNN_OUT_DATA with the trained digits layer,
    in digital mode (word reads of the programmed bridges) and analog mode (SA decisions with the
    counter-based errors of the hardware model): bit-identical to golden digital_bits / analog_bits."""
    res = run_cosim_bnn(100, seed=0, out_dir=tmp_path)
    print({k: res[k] for k in ("per_mode", "cycles", "wall_seconds", "build_seconds", "run_seconds")})
    assert res["images"] == 100 and res["modes"] == ["digital", "analog"]
    assert res["image_mismatches"] == 0 and res["bit_mismatches"] == 0, res["first_mismatches"]
    assert res["per_mode"]["digital"]["word_reads"] > 0 and res["per_mode"]["analog"]["sa_decisions"] > 0
    assert res["analog_vs_digital_bits_differing"] > 0      # the analog errors are really there
    assert not res["violations"] and not any(res["errors"].values())


@pytest.mark.cocotb
@pytest.mark.extended       # make test: the network's fault run (test_cosim_bnn_network_through_top)
def test_cosim_bnn_detects_a_flipped_bridge_and_sa_decision(tmp_path):
    """Fault injection: one stored bridge of the array model flipped (one that decides an output) and
    one SA decision flipped -> reported digital and analog mismatches (the comparison is not vacuous)."""
    n = 12
    model, _ = digits_bnn()
    hw = bnn_hw_for(model)
    prog = golden_bits(model, hw, digits_test_bits(n), {"mode": "authors", "seed": 0, "bit_error": 0.01})[0]
    sb = sensitive_bridge(prog, digits_test_bits(n), hw)
    assert sb["image"] < n
    res = run_cosim_bnn(n, seed=0, out_dir=tmp_path, fault={"bridge": [sb["row"], sb["col"]], "sa": [3, 17]})
    d, a = res["per_mode"]["digital"], res["per_mode"]["analog"]
    assert d["bit_mismatches"] >= 1 and a["bit_mismatches"] == 1, res
    assert [sb["image"], sb["neuron"]] in d["mismatch_positions"]
    assert {j for _, j in d["mismatch_positions"]} == {sb["neuron"]}      # only the flipped bridge's neuron
    assert a["mismatch_positions"] == [[3, 17]]
    assert any(m.startswith("analog image 3 neuron 17:") for m in res["first_mismatches"])


@pytest.mark.cocotb
def test_cosim_detects_a_lost_update(tmp_path):
    """Fault injection: the UPDATE word behind layer 1's first pulse of sample 2 never reaches the RTL
    -> pulse and conductance mismatches are reported (the comparison is not vacuous)."""
    res = run_cosim(CosimConfig(samples=6, read_cells=0), out_dir=tmp_path, drop_word=(2, 0))
    assert res["mismatches"] > 0 and res["conductance_mismatches"] + res["pulse_mismatches"] > 0, res
    assert res["first_mismatches"] and res["first_mismatches"][0].startswith("sample 2 l1"), res["first_mismatches"]


@pytest.mark.cocotb
def test_cosim_bnn_network_through_top(tmp_path):
    """The trained digits network 64-255-255-10, one image in, its class out (BNN_INPUT -> network engine
    -> BNN_CLASS), digital and analog mode: every class, its popcount and every observed hidden-layer input
    equal golden; accuracy equals golden's. Then the output layer's bridges inverted in the array model
    -> class mismatches are reported (the comparison is not vacuous)."""
    from tb.cosim.bnn_net_run import run_cosim_bnn_net

    res = run_cosim_bnn_net("digits", 6, seed=0, out_dir=tmp_path / "ok", progress=False)
    print({k: res[k] for k in ("per_mode", "golden", "cycles", "wall_seconds", "build_seconds")})
    assert res["class_mismatches"] == 0 and res["activation_mismatches"] == 0, res["first_mismatches"]
    assert res["count_mismatches"] == 0 and not res["violations"] and not any(res["errors"].values())
    for v in res["per_mode"].values():
        assert v["accuracy"] == v["golden_accuracy"] and v["activation_checks"] == 12   # inputs of hidden layers 0 and 1, 6 images
    assert res["word_reads"] > 0 and res["sa_decisions"] > 0
    bad = run_cosim_bnn_net("digits", 3, seed=0, out_dir=tmp_path / "bad", progress=False, modes=("digital",),
                            fault={"invert": [[r, 0, res["out_cols"]] for r in range(*res["out_rows"])]})
    assert bad["class_mismatches"] > 0 and bad["count_mismatches"] > 0, bad


@pytest.mark.cocotb
def test_cosim_bnn_network_sa_calibration_through_top(tmp_path):
    """The calibrated chip through the network top: a physical-model digits chip (measured SA offsets)
    calibrated by the host over AXI-Lite (BNN_CTRL.CAL/LAYER/RAMP, one ramp per hidden layer, 1 pattern x
    2 repeats), its trim written back, then analog inference: every ramp decision, shift, trim, class and
    popcount equal golden (``sa_calibration = "measured"``), and the trim changes hidden bits. About 25 s
    with the top's build cached (the network test's build)."""
    from tb.cosim.bnn_net_cal_run import run_cosim_bnn_net_cal

    res = run_cosim_bnn_net_cal("digits", 4, seed=0, repeats=2, patterns=1, out_dir=tmp_path)
    print({k: v for k, v in res.items() if k not in ("hardware", "errors")})
    assert [v["conversions"] for v in res["per_layer"].values()] == [1 * (b + 1) * 2 for b in res["bias_cells"]]
    assert res["decision_mismatches"] == 0 and res["trim_mismatches"] == 0, res["first_mismatches"]
    assert res["class_mismatches"] == 0 and res["count_mismatches"] == 0, res["first_mismatches"]
    assert not res["decider_errors"] and not res["violations"] and not any(res["errors"].values()), res
    assert res["hidden_bits_changed_by_trim"] > 0 and res["accuracy"] == res["golden_accuracy"]
    assert all(v["mean_abs_shift"] > 0 and 0 < v["ones"] < v["decisions"] for v in res["per_layer"].values())


@pytest.mark.cocotb
@pytest.mark.extended       # make test: the passing run above (this one adds ~20 s)
def test_cosim_bnn_network_sa_calibration_detects_a_flipped_decision(tmp_path):
    """One ramp decision flipped in the array model -> exactly that decision is reported (the comparison of
    the calibration run is not vacuous)."""
    from tb.cosim.bnn_net_cal_run import run_cosim_bnn_net_cal

    bad = run_cosim_bnn_net_cal("digits", 1, seed=0, repeats=2, patterns=1, out_dir=tmp_path,
                                fault={"flip": [1, 10, 3]})
    assert bad["decision_mismatches"] == 1 and bad["per_layer"]["1"]["decision_mismatches"] == 1, bad
    assert bad["first_mismatches"][0] == "layer 1 ramp conversion 10 (step 5): neurons [3] differ from golden"


@pytest.mark.extended
def test_bnn_net_harness_replays_the_cocotb_run(tmp_path):
    """The plain C++ harness (the 10,000-image runs) replays the digits network's cocotb run (6 images,
    both modes) cycle for cycle: every image's cycles, classes, word reads, SA conversions, ERRORS."""
    from tb.cosim.bnn_net_cxx import run_cosim_bnn_net_cxx
    from tb.cosim.bnn_net_run import run_cosim_bnn_net

    res = run_cosim_bnn_net("digits", 6, seed=0, out_dir=tmp_path / "ok", progress=False)
    assert res["class_mismatches"] == 0, res["first_mismatches"]
    raw = run_cosim_bnn_net_cxx("digits", 6, seed=0, out_dir=tmp_path / "cxx", progress=False, cxx_flags=CXX_TEST,
                                cycles_model=False)
    assert raw["cycles"] == res["cycles"] and raw["word_reads"] == res["word_reads"]
    assert raw["sa_decisions"] == res["sa_decisions"] and raw["errors"] == res["errors"]
    for mode, v in res["per_mode"].items():
        w = raw["per_mode"][mode]
        assert w["image_cycles"] == v["image_cycles"] and w["cycles"] == v["cycles"], mode
        assert w["classes"] == v["classes"] and w["activation_checks"] == v["activation_checks"], mode
        assert w["class_mismatches"] == w["count_mismatches"] == w["activation_mismatches"] == w["violations"] == 0


#: the harness builds of the tests: -O0 (a digits slice compiles in a third of -O2's time)
CXX_TEST = ("-O0",)


@pytest.mark.extended
def test_bnn_net_harness_full_row_reads(tmp_path):
    """Full-row digital reads (read width 4096: one read per neuron, 279-bridge hidden rows -- wider than
    the former 256-bridge limit -- and 255-bridge output rows, a 279-bit array port) through the top: the cocotb run is bit-true, and the C++ harness replays it
    cycle for cycle; a digital image takes the golden cycle model's cycles plus the host's bus (15 for the
    digits network's two BNN_INPUT words, as with 32-bridge reads)."""
    from tb.cosim.bnn_net_cxx import run_cosim_bnn_net_cxx
    from tb.cosim.bnn_net_run import run_cosim_bnn_net

    res = run_cosim_bnn_net("digits", 4, seed=0, out_dir=tmp_path / "ok", progress=False, read_width=4096)
    assert res["class_mismatches"] == res["count_mismatches"] == res["activation_mismatches"] == 0, \
        res["first_mismatches"]
    assert not res["violations"] and not any(res["errors"].values())
    raw = run_cosim_bnn_net_cxx("digits", 4, seed=0, out_dir=tmp_path / "cxx", progress=False, cxx_flags=CXX_TEST,
                                read_width=4096)
    assert raw["read_lanes"] == 279 and raw["word_reads"] == res["word_reads"] == 4 * (255 + 255 + 10) + 4 * 10
    assert raw["cycles"] == res["cycles"] and raw["sa_decisions"] == res["sa_decisions"]
    for mode, v in res["per_mode"].items():
        w = raw["per_mode"][mode]
        assert w["image_cycles"] == v["image_cycles"] and w["classes"] == v["classes"], mode
        assert w["class_mismatches"] == w["count_mismatches"] == w["activation_mismatches"] == w["violations"] == 0
    d = raw["per_mode"]["digital"]
    assert d["cycles_per_image_min"] == d["cycles_per_image_max"] == raw["golden"]["digital"]["cycles_per_image"] + 15


@pytest.mark.extended
def test_bnn_net_harness_detects_faults(tmp_path):
    """The C++ harness's comparison is not vacuous: the output layer's bridges inverted in its array ->
    class and popcount mismatches; hidden layer 0's bridges inverted -> its output, the input of
    hidden layer 1, differs from golden (digital mode: the analog decisions come from the chip model,
    as in the cocotb macro, not from the array)."""
    from tb.cosim.bnn_net_cxx import run_cosim_bnn_net_cxx
    from tb.cosim.bnn_net_run import net_params, trained_network

    net = net_params(trained_network("digits")[0], "digits")
    bad = run_cosim_bnn_net_cxx("digits", 3, seed=0, out_dir=tmp_path / "out", progress=False, modes=("digital",),
                                fault={"invert": [[r, 0, net.out_hw.array_cols]
                                                  for r in range(net.row_offset(net.hidden_layers), net.rows)]},
                                cxx_flags=CXX_TEST, cycles_model=False)
    assert bad["class_mismatches"] > 0 and bad["count_mismatches"] > 0, bad["first_mismatches"]
    hid = run_cosim_bnn_net_cxx("digits", 3, seed=0, out_dir=tmp_path / "hid", progress=False, modes=("digital",),
                                fault={"invert": [[r, 0, net.hidden_hw.array_cols] for r in range(net.hidden_banks)]},
                                cxx_flags=CXX_TEST, cycles_model=False)
    assert hid["per_mode"]["digital"]["activation_mismatches"] > 0, hid["first_mismatches"]
    assert hid["first_mismatches"][0].startswith("digital image 0: input of hidden layer 1"), hid["first_mismatches"]
