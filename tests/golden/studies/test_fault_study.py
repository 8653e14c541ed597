"""Stuck-at device faults in in-situ training and BNN inference (golden/studies/fault_study.py, `reram-accel faults`)."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import golden.studies.fault_study as fs
from golden.bnn.chip_model import (
    BnnHardware,
    HardwareConfig,
    bridge_divider_voltage,
    bridge_failures,
    bridge_outputs,
    bridge_resistances,
    stuck_bridge_masks,
    stuck_bridge_resistances,
    stuck_device_states,
)
from golden.bnn.model_params import BridgeParams
from golden.bnn.network import random_model
from golden.data.datasets import load
from golden.physics.device import RESET, SET
from golden.physics.faults import STUCK_HRS, STUCK_LRS
from golden.spec.params import ConfigError
from golden.training.in_situ import InSituMLP, initial_weights, make_config, train_insitu


@pytest.fixture(scope="module")
def digits_small():
    return load("digits").subset(150, 120)


def _net(seed, faults, n_in=12, hidden=16, devices=4, **kw):
    cfg = make_config(devices=devices, hidden=hidden, seed=seed, read_noise="off", **kw)
    net = InSituMLP(cfg, n_in, 10, faults=faults)
    net.program(initial_weights(seed, n_in, hidden, 10))
    return net


# --- in-situ training ----------------------------------------------------------------------------
@pytest.mark.parametrize("binary", [False, True])
def test_stuck_devices_ignore_pulses_and_read_stuck(seed, binary):
    net = _net(seed, (0.1, 0.1), binary=binary)
    st = net.store
    mask = st.fault_mask
    lrs, hrs = np.flatnonzero(mask == STUCK_LRS), np.flatnonzero(mask == STUCK_HRS)
    assert lrs.size > 0 and hrs.size > 0
    # after open-loop programming the stuck devices sit at their own bounds
    assert np.array_equal(st.g[lrs], st.tab[lrs, 3])
    assert np.array_equal(st.g[hrs], st.tab[hrs, 2])
    g_before = st.g.copy()
    rng = np.random.default_rng(seed)
    x = rng.random((30, 12)).astype(np.float32)
    for i, xi in enumerate(x):
        net.step(xi, int(i % 10), 0.05)
    assert np.array_equal(st.g[mask != 0], g_before[mask != 0])
    for arr in net.layers:                              # the arrays' weights use the stuck values
        assert np.allclose(arr.W, arr.weights_from(arr.g), rtol=1e-5, atol=1e-5)
    ids = np.arange(st.n)
    changed = np.zeros(st.n, dtype=bool)
    for pol in (SET, RESET, SET, RESET):                # pulses addressed to every device
        prev = st.g.copy()
        st.apply(ids, np.full(st.n, pol), np.full(st.n, 3))
        changed |= st.g != prev
    stuck = mask != 0
    # every stuck device received pulses, none moved; the healthy ones did move
    assert np.all(st.k[stuck] > 0)
    assert np.array_equal(st.g[stuck], g_before[stuck]) and not changed[stuck].any()
    assert np.mean(changed[~stuck]) > 0.5
    # per-device read: stuck devices read at their stuck value (noise-free read), weights from them
    noiseless = net.model.params.with_(read_mult=0.0, read_add=0.0)
    from golden.physics.device import DeviceModel
    rd = DeviceModel(noiseless, seed).read(st.g, ids, 7)
    assert np.array_equal(rd[lrs], st.tab[lrs, 3]) and np.array_equal(rd[hrs], st.tab[hrs, 2])


def test_rate_zero_reproduces_unfaulted_run(seed, digits_small):
    cfg = make_config(devices=2, hidden=20, epochs=1, seed=seed % 1000)
    a = train_insitu(digits_small, cfg)
    b = train_insitu(digits_small, cfg, faults=(0.0, 0.0))
    assert a["test_accuracy"] == b["test_accuracy"] and a["pulses"] == b["pulses"]
    for wa, wb in zip(a["net"].weights(), b["net"].weights()):
        assert np.array_equal(wa, wb)
    assert not np.any(b["net"].store.fault_mask)
    # and faults do change the run
    c = train_insitu(digits_small, cfg, faults=(0.05, 0.05))
    assert not np.array_equal(a["net"].weights()[0], c["net"].weights()[0])


def test_fault_masks_deterministic_per_seed_and_nested(seed):
    m1 = _net(seed, (0.02, 0.03)).store.fault_mask
    assert np.array_equal(m1, _net(seed, (0.02, 0.03)).store.fault_mask)
    assert not np.array_equal(m1, _net(seed + 1, (0.02, 0.03)).store.fault_mask)
    big = _net(seed, (0.2, 0.0)).store.fault_mask
    small = _net(seed, (0.02, 0.0)).store.fault_mask
    assert np.all(big[small == STUCK_LRS] == STUCK_LRS) and (big != 0).sum() > (small != 0).sum()
    # BNN bridge masks: deterministic, order independent, nested
    n, i = np.arange(40)[:, None], np.arange(70)[None, :]
    t1, b1 = stuck_bridge_masks(seed, 1, n, i, 0.05, 0.05)
    t2, b2 = stuck_bridge_masks(seed, 1, n, i, 0.05, 0.05)
    assert np.array_equal(t1, t2) and np.array_equal(b1, b2)
    ts, bs = stuck_bridge_masks(seed, 1, n[10:20], i[:, 5:9], 0.05, 0.05)
    assert np.array_equal(ts, t1[10:20, 5:9]) and np.array_equal(bs, b1[10:20, 5:9])
    for lo, hi in (((0.05, 0.0), (0.3, 0.0)), ((0.0, 0.05), (0.0, 0.3))):   # one kind: nested
        sl, _ = stuck_bridge_masks(seed, 1, n, i, *lo)
        sh, _ = stuck_bridge_masks(seed, 1, n, i, *hi)
        assert np.all(sh[sl != 0] == sl[sl != 0]) and (sh != 0).sum() > (sl != 0).sum()
    tb, _ = stuck_bridge_masks(seed, 1, n, i, 0.3, 0.3)      # both kinds: the stuck set is nested
    assert np.all(tb[t1 != 0] != 0)
    assert 0.05 < np.mean(t1 != 0) < 0.15


# --- BNN -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("vm", [0.45, 0.55])
def test_bnn_bridge_fault_truth_table(vm):
    """Nominal resistances (no spread): what a bridge reads for every device state combination."""
    br = BridgeParams()
    for x, w, top, bot in itertools.product((0, 1), repeat=4):
        r_top = br.r_lrs if top else br.r_hrs
        r_bot = br.r_lrs if bot else br.r_hrs
        out = int(bridge_outputs(x, w, *bridge_failures(r_top, r_bot, w, vm, br.r_access)))
        physics = int(bridge_divider_voltage(x, r_top, r_bot, br.r_access) > vm)
        assert out == physics, (x, w, top, bot)
        if top != bot:
            stored = top              # top in LRS <=> the bridge stores 1 (healthy or both swapped)
            expect = int(x == stored)
            assert out == expect, (x, w, top, bot)
            assert out == (int(x == w) if top == w else 1 - int(x == w))
        else:                         # both LRS or both HRS: mid-rail, the inverter threshold decides
            assert out == int(0.5 > vm), (x, w, top, bot)
    # masks -> states: a device stuck in the state the weight wants is harmless
    w = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    mt = np.array([STUCK_LRS, STUCK_HRS, 0, 0, STUCK_LRS, STUCK_HRS, 0, 0])
    mb = np.array([0, 0, STUCK_LRS, STUCK_HRS, 0, 0, STUCK_LRS, STUCK_HRS])
    top, bot = stuck_device_states(w, mt, mb)
    assert top.tolist() == [1, 0, 1, 1, 1, 0, 0, 0]
    assert bot.tolist() == [0, 0, 1, 0, 1, 1, 1, 0]
    broken = (top != w.astype(bool)) | (bot != ~w.astype(bool))
    assert broken.tolist() == [False, True, True, False, True, False, False, True]


def test_bnn_stuck_resistances_and_hardware(seed):
    br = BridgeParams()
    n, i = np.arange(30)[:, None], np.arange(50)[None, :]
    w = (np.random.default_rng(seed).random((30, 50)) < 0.5).astype(np.uint8)
    rt0, rb0 = bridge_resistances(seed, 0, n, i, w, br)
    rt, rb, mt, mb = stuck_bridge_resistances(seed, 0, n, i, w, br, 0.0, 0.0)
    assert np.array_equal(rt, rt0) and np.array_equal(rb, rb0)
    rt, rb, mt, mb = stuck_bridge_resistances(seed, 0, n, i, w, br, 0.1, 0.1)
    healthy_t, healthy_b = mt == 0, mb == 0
    assert np.array_equal(rt[healthy_t], rt0[healthy_t]) and np.array_equal(rb[healthy_b], rb0[healthy_b])
    assert np.all(rt[mt == STUCK_LRS] < 3 * br.r_lrs) and np.all(rb[mb == STUCK_HRS] > br.r_hrs / 20)

    m = random_model([40, 31, 10], seed=seed % 1000)
    x = (np.random.default_rng(seed).random((60, 40)) < 0.5).astype(np.uint8)
    ref = BnnHardware(m, HardwareConfig(mode="physical", seed=3))
    same = BnnHardware(m, HardwareConfig(mode="physical", seed=3, p_stuck_lrs=0.0, p_stuck_hrs=0.0))
    assert np.array_equal(ref.predict_bits(x), same.predict_bits(x))
    bad = BnnHardware(m, HardwareConfig(mode="physical", seed=3, p_stuck_lrs=0.1, p_stuck_hrs=0.1))
    bad.predict_bits(x)
    # bridges without a device stuck against the weight read exactly as on the fault-free chip
    for layer in range(m.n_layers):
        wl = m.extended_weights(layer) if m.layers[layer][1] is not None else m.layers[layer][0]
        mt, mb = stuck_bridge_masks(3, layer, np.arange(wl.shape[0])[:, None], np.arange(wl.shape[1])[None, :],
                                    0.1, 0.1)
        top, bot = stuck_device_states(wl, mt, mb)
        ok = (top == wl.astype(bool)) & (bot != wl.astype(bool))
        s0, s1 = ref._layer_static(layer), bad._layer_static(layer)
        assert np.array_equal(s0["o1"][ok], s1["o1"][ok]) and np.array_equal(s0["o0"][ok], s1["o0"][ok])
        assert np.mean(s0["o1"][~ok] != s1["o1"][~ok]) > 0.2
    assert max(bad.bridge_output_error_rate()) > 0.04 > max(ref.bridge_output_error_rate())
    frac = fs.broken_bridge_fraction(m, 3, 0.1, 0.1)
    assert 0.14 < frac < 0.26


# --- validation, CLI ---------------------------------------------------------------------------------
def test_bad_rates_raise_config_error_naming_the_parameter(seed):
    with pytest.raises(ConfigError, match="p_stuck_lrs"):
        _net(seed, (1.5, 0.0))
    with pytest.raises(ConfigError, match="p_stuck_hrs"):
        _net(seed, (0.0, -0.1))
    with pytest.raises(ConfigError, match="p_stuck_lrs \\+ p_stuck_hrs"):
        _net(seed, (0.6, 0.6))
    with pytest.raises(ConfigError, match="hardware.p_stuck_hrs"):
        HardwareConfig(p_stuck_hrs=2.0)
    with pytest.raises(ConfigError, match="hardware.p_stuck_lrs"):
        HardwareConfig(mode="authors", p_stuck_lrs=0.1)
    with pytest.raises(ConfigError, match=r"faults.rates\[1\]"):
        fs.TrainingFaultPlan(rates=(0.0, 1.2))
    with pytest.raises(ConfigError, match=r"faults.rates\[2\]"):
        fs.BnnFaultPlan(rates=(0.0, 0.1, 0.7), kinds=("both",))
    with pytest.raises(ConfigError, match="faults.kind"):
        fs.split_rate("open", 0.1)
    from tb.cli.main import main
    assert main(["faults", "--train-rates", "0,abc", "--quiet"]) == 2
    assert main(["faults", "--study", "bnn", "--bnn-rates", "0,-1", "--quiet"]) == 2


def test_cli_training_study_small(tmp_path, capsys):
    from tb.cli.main import main
    rc = main(["faults", "--study", "training", "--seeds", "2", "--devices", "1,2", "--kinds", "lrs,hrs",
               "--train-rates", "0,0.2", "--hidden", "12", "--epochs", "1", "--train-samples", "120",
               "--test-samples", "100", "--docs", str(tmp_path), "--json", str(tmp_path / "f.json"), "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| 2 | HRS |" in out and (tmp_path / "faults_training.png").exists()
    res = json.loads((tmp_path / "f.json").read_text())["training"]
    assert len(res["rows"]) == 2 * 2 * 2 * 2
    zero = [r for r in res["rows"] if r["rate"] == 0]
    assert all(r["stuck_lrs_fraction"] == 0 == r["stuck_hrs_fraction"] for r in zero)
    hit = [r for r in res["rows"] if r["rate"] == 0.2 and r["kind"] == "lrs"]
    assert all(0.15 < r["stuck_lrs_fraction"] < 0.25 for r in hit)


def test_cli_bnn_study_small(tmp_path, capsys):
    from golden.bnn.network import load_or_train
    load_or_train(fs.digits_bnn_params())  # trains (a few seconds) on a clean checkout, else loads the cache
    from tb.cli.main import main
    rc = main(["faults", "--study", "bnn", "--seeds", "1", "--bnn-rates", "0,0.1", "--kinds", "both",
               "--test-samples", "100", "--docs", str(tmp_path), "--json", str(tmp_path / "b.json"), "--quiet"])
    assert rc == 0
    assert "XNOR error rate" in capsys.readouterr().out and (tmp_path / "faults_bnn.png").exists()
    res = json.loads((tmp_path / "b.json").read_text())["bnn"]
    r0, r1 = res["summary"]
    assert r0["broken_bridges"] == 0 and 0.15 < r1["broken_bridges"] < 0.25 and r1["xnor_error"] > 0.05


def _shuffled_runs(seed):
    """A ``run_all`` that runs the items in a seeded random order (as workers finishing out of order
    would) and returns them in input order."""
    def run_all(fn, items, common, desc=""):
        order = np.random.default_rng(seed).permutation(len(items))
        out = [None] * len(items)
        for i in order:
            out[i] = fn(common, items[i])
        return out
    return run_all


def _without_times(res: dict) -> dict:
    return {**res, "rows": [{k: v for k, v in r.items() if k != "seconds"} for r in res["rows"]]}


def test_studies_do_not_depend_on_the_order_runs_execute_in(seed, digits_small):
    """What the Dask engine relies on: the same study whatever order (and process) runs its items."""
    plan = fs.TrainingFaultPlan(devices=(1, 2), seeds=2, epochs=1, hidden=8, rates=(0.0, 0.1), kinds=("lrs", "both"))
    assert plan.count() == 2 * (1 + 2 * (1 + 2))
    ticks = []
    serial = fs.training_study(digits_small, plan, progress=ticks.append)
    assert sum(ticks) == plan.count()
    shuffled = fs.training_study(digits_small, plan, run_all=_shuffled_runs(seed))
    assert _without_times(shuffled) == _without_times(serial)
    model = random_model([64, 15, 10], seed=seed)
    x = (load("digits").x_test[:40] > 0.5).astype(np.uint8)
    y = load("digits").y_test[:40]
    bplan = fs.BnnFaultPlan(seeds=2, rates=(0.0, 0.05), kinds=("lrs", "hrs"))
    a = fs.bnn_study(model, x, y, bplan)
    b = fs.bnn_study(model, x, y, bplan, run_all=_shuffled_runs(seed))
    assert json.dumps(_without_times(a), default=str) == json.dumps(_without_times(b), default=str)
