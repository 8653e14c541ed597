"""Variability study: error metric, configuration checks, the numpy CNN, the incremental evaluator, CLI."""
import json

import numpy as np
import pytest

import golden.studies.weight_encoding as we
from golden.physics.resistance_lut import load_default_lut
from golden.spec.params import ConfigError
from golden.studies import cnn
from golden.studies.variability import (
    Study,
    SweepPlan,
    VariabilityConfig,
    markdown_tables,
    plot_sweep,
    program_and_read,
    relative_error,
    run_sweep,
)
from tb.cli.main import main

TINY = cnn.CNNConfig(dataset="digits", filters=8, kernel=3, stride=1, epochs=4, batch=32, lr=0.01, seed=0)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    data = cnn.load_images(TINY)
    net, cached = cnn.load_or_train(TINY, tmp_path_factory.mktemp("cache"), data=data)
    assert not cached
    return Study(net, data[2][:150], data[3][:150], load_default_lut(), seed=5, chunk=64)


# ---- metric --------------------------------------------------------------------------------------
def test_relative_error_known_answers(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(20, 9, 96))
    for a in (0.0, 0.01, -0.3, 2.0):
        assert relative_error((1 + a) * y, y) == pytest.approx(abs(a), rel=1e-12, abs=1e-15)
    # an orthogonal error of known norm: e = 0.5 * ||y|| * (unit vector orthogonal to y)
    e = rng.normal(size=y.shape)
    e -= np.sum(e * y) / np.sum(y * y) * y
    e *= 0.5 * np.linalg.norm(y) / np.linalg.norm(e)
    assert relative_error(y + e, y) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="shape"):
        relative_error(y[:1], y)
    with pytest.raises(ConfigError, match="undefined"):
        relative_error(y, np.zeros_like(y))


# ---- configuration checks ------------------------------------------------------------------------
@pytest.mark.parametrize("kw, name", [
    ({"encoding": "float8"}, "encoding"), ({"bits_per_cell": 4}, "bits_per_cell"),
    ({"bits_per_cell": "3"}, "bits_per_cell"), ({"spread_scale": -1.0}, "spread_scale"),
    ({"window_scale": 0.0}, "window_scale"), ({"model": "gauss"}, "model"), ({"reference": "mean"}, "reference"),
    ({"protect": "ecc"}, "protect"), ({"encoding": "float16", "protect_bits": 17}, "protect_bits"),
    ({"level_code": "thermometer"}, "level_code"), ({"p_stuck_hrs": 1.5}, "p_stuck_hrs"),
    ({"p_stuck_lrs": 0.7, "p_stuck_hrs": 0.7}, "p_stuck_lrs"),
])
def test_bad_config_names_the_parameter(kw, name):
    with pytest.raises(ConfigError, match=name) as e:
        VariabilityConfig(**kw)
    assert "allowed" in str(e.value) or "must be" in str(e.value) or "choose" in str(e.value)


@pytest.mark.parametrize("kw, name", [({"filters": 0}, "cnn.filters"), ({"kernel": 29}, "cnn.kernel"),
                                      ({"stride": 9}, "cnn.stride"), ({"dataset": "cifar"}, "cnn.dataset"),
                                      ({"lr": 0.0}, "cnn.lr"),
                                      ({"dataset": "digits", "kernel": 3, "stride": 8}, "cnn.stride")])
def test_bad_cnn_config(kw, name):
    with pytest.raises(ConfigError, match=name):
        cnn.CNNConfig(**kw)


def test_alexnet_conv1_shape():
    cfg = cnn.CNNConfig()
    assert (cfg.filters, cfg.kernel, cfg.conv_side, cfg.pool_side) == (96, 11, 9, 4)
    assert cnn.CNNConfig(upsample=4, stride=4).conv_side == 26


# ---- CNN building blocks -------------------------------------------------------------------------
def test_im2col_matches_direct_convolution(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 1, 13, 13))
    w = rng.normal(size=(3, 1, 5, 5))
    y = cnn.conv_mac(cnn.im2col(x, 5, 2), w)  # (N, P, F)
    side = (13 - 5) // 2 + 1
    direct = np.zeros((2, side, side, 3))
    for i in range(side):
        for j in range(side):
            patch = x[:, :, 2 * i:2 * i + 5, 2 * j:2 * j + 5]
            direct[:, i, j, :] = np.einsum("nchw,fchw->nf", patch, w)
    assert np.allclose(y.reshape(2, side, side, 3), direct)


def test_head_equals_relu_then_pool(seed):
    net = cnn.ConvNet(TINY, *[np.zeros(1)] * 4)
    rng = np.random.default_rng(seed)
    net.b1 = rng.normal(size=8)
    net.w2 = rng.normal(size=(8 * TINY.pool_side ** 2, 10))
    net.b2 = rng.normal(size=10)
    y = rng.normal(size=(4, TINY.conv_side ** 2, 8))
    a = np.maximum(y + net.b1, 0).reshape(4, TINY.conv_side, TINY.conv_side, 8)
    naive = np.zeros((4, TINY.pool_side, TINY.pool_side, 8))
    for i in range(TINY.pool_side):
        for j in range(TINY.pool_side):
            naive[:, i, j] = a[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max(axis=(1, 2))
    assert np.allclose(cnn.head_logits(net, y), naive.reshape(4, -1) @ net.w2 + net.b2)


def test_training_learns_and_is_cached(tiny_study, tmp_path):
    assert tiny_study.net.test_accuracy > 0.6  # 10 classes: chance is 0.1
    net, cached = cnn.load_or_train(TINY, tmp_path)
    assert not cached
    again, cached = cnn.load_or_train(TINY, tmp_path)
    assert cached and np.array_equal(again.w1, net.w1)
    assert cnn.cache_path(TINY, tmp_path) != cnn.cache_path(cnn.CNNConfig(**{**TINY.__dict__, "seed": 1}), tmp_path)


# ---- the incremental evaluator -------------------------------------------------------------------
def test_study_known_answers(tiny_study):
    st = tiny_study
    w = st.net.w1
    err, acc = st.score_weights(w)
    assert err == 0 and acc == st.ideal_accuracy
    err, _ = st.score_weights(1.25 * w)
    assert err == pytest.approx(0.25, rel=1e-6)
    # float32 storage without spread is exact; fixed8 shows its quantization error only
    r = st.evaluate(VariabilityConfig(encoding="float32", spread_scale=0.0), trials=2)
    assert r["relative_error"] == 0 and r["test_accuracy"] == st.ideal_accuracy and r["bit_error_rate"] == 0
    q = st.evaluate(VariabilityConfig(encoding="fixed8", spread_scale=0.0), trials=1)
    dense = cnn.predict(st.net, st.x, we.quantize(w, "fixed8").reshape(w.shape))
    assert q["relative_error"] == pytest.approx(np.sqrt(dense[1] / dense[2]), rel=1e-5)


def test_sparse_and_dense_paths_agree(tiny_study, seed):
    st = tiny_study
    cfg = VariabilityConfig(encoding="bfloat16", bits_per_cell=1, spread_scale=2.0)
    rb = program_and_read(st.net.w1, cfg, st.lut, seed=seed)
    base = st._quantized("bfloat16")
    delta = rb.weights.reshape(base["w"].shape) - base["w"]
    assert 0 < np.count_nonzero(delta) <= st.SPARSE_MAX
    sparse = st._score_delta(base, delta)
    old = st.SPARSE_MAX
    try:
        st.SPARSE_MAX = -1
        dense = st._score_delta(base, delta)
    finally:
        st.SPARSE_MAX = old
    assert sparse[1] == dense[1] and sparse[0] == pytest.approx(dense[0], rel=1e-9)
    ref = cnn.predict(st.net, st.x, rb.weights)
    assert sparse[0] == pytest.approx(np.sqrt(ref[1] / ref[2]), rel=1e-6)
    assert sparse[1] == pytest.approx(np.mean(ref[0] == st.y))


def test_exponent_errors_are_catastrophic_and_protection_helps(tiny_study):
    st = tiny_study
    top = st.evaluate_bit("float32", 30, 0.05, trials=1)   # exponent MSB
    low = st.evaluate_bit("float32", 0, 0.05, trials=1)    # mantissa LSB
    assert top["relative_error"] > 1e20
    assert 0 < low["relative_error"] < 1e-5
    bare = st.evaluate(VariabilityConfig(encoding="float32", spread_scale=1.5), trials=3)
    pair = st.evaluate(VariabilityConfig(encoding="float32", spread_scale=1.5, protect="pair"), trials=3)
    assert pair["relative_error_max"] < 0.5 and bare["relative_error_max"] > 1e3  # mantissa errors remain
    assert pair["devices_per_weight"] == 41


def test_quick_sweep_tables_and_plots(tiny_study, tmp_path):
    plan = SweepPlan(encodings=("fixed8",), bits_per_cell=(1,), spreads=(0.0, 1.0), windows=(1.0,),
                     protect_spreads=(1.0,), protect_schemes=("none", "pair"), stuck_rates=(0.0, 0.01),
                     stuck_kinds=("both",), trials=1)
    ticks = []
    res = run_sweep(tiny_study, plan, progress=lambda k=1: ticks.append(k))
    assert sum(ticks) == plan.count()
    assert len(res["spread"]) == 2 and len(res["bits"]) == 8 and len(res["stuck"]) == 2
    md = markdown_tables(res)
    assert "| fixed8 | 1 | 8 |" in md and "pair" in md
    paths = plot_sweep(res, tmp_path, prefix="t")
    assert {p.name for p in paths} >= {"t_error_vs_spread.png", "t_bit_sensitivity.png", "t_stuck_at.png"}


# ---- CLI -----------------------------------------------------------------------------------------
def test_cli_bad_config_exits_2(capsys):
    assert main(["variability", "--encoding", "float8"]) == 2
    assert "encoding" in capsys.readouterr().err


def test_cli_bad_data_names_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("device,cycle,state,resistance_ohm\nd,0,LRS,-3\n")
    assert main(["variability", "--data", str(bad)]) == 2
    assert "bad.csv:2:4: column 'resistance_ohm'" in capsys.readouterr().err


def test_cli_smoke_json(tmp_path, capsys):
    out = tmp_path / "v.json"
    args = ["variability", "--dataset", "digits", "--epochs", "2", "--eval-size", "100", "--trials", "2",
            "--encoding", "fixed8", "--bits-per-cell", "3", "--cache-dir", str(tmp_path), "--json", str(out)]
    assert main(args) == 0
    r = json.loads(out.read_text())
    assert {"relative_error", "test_accuracy", "ideal_test_accuracy", "config"} <= set(r)
    assert r["config"]["encoding"] == "fixed8" and r["config"]["bits_per_cell"] == 3
    assert r["devices_per_weight"] == 3 and 0 <= r["test_accuracy"] <= 1
    assert "SYNTHETIC" in capsys.readouterr().out
    assert main(args) == 0
    assert "cached" in capsys.readouterr().out


def test_sweep_does_not_depend_on_the_order_rows_execute_in(tiny_study):
    """What the Dask engine relies on: the same tables whatever order (and process) evaluates the rows."""
    plan = SweepPlan(encodings=("fixed8",), bits_per_cell=(1,), spreads=(0.0, 1.0), windows=(1.0,),
                     protect_spreads=(1.0,), protect_schemes=("none",), variants=False, stuck_rates=(0.01,),
                     stuck_kinds=("both",), trials=1)

    def reversed_runs(fn, items, common, desc=""):
        return [fn(common, it) for it in items[::-1]][::-1]

    assert run_sweep(tiny_study, plan, run_all=reversed_runs) == run_sweep(tiny_study, plan)


@pytest.mark.scale
def test_cli_sweep_on_one_and_two_workers_gives_the_same_tables(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RERAM_DASK_SCHEDULER", raising=False)
    res = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"v{jobs}.json"
        assert main(["variability", "--dataset", "digits", "--epochs", "2", "--eval-size", "100", "--sweep", "--quick",
                     "--cache-dir", str(tmp_path), "--plots", str(tmp_path), "--jobs", jobs, "--json", str(out)]) == 0
        assert f"{jobs} worker process(es)" in capsys.readouterr().out
        res[jobs] = {k: v for k, v in json.loads(out.read_text()).items() if k not in ("seconds", "command")}
    assert res["1"] == res["2"]
