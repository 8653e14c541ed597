"""In-situ training: short digits runs against the FP baseline, reproducibility, data loaders, CLI."""
import gzip
import json
import struct

import numpy as np
import pytest

from golden.data.datasets import DatasetError, load_digits, load_mnist, parse_idx
from golden.physics.device import RERAM_BINARY
from golden.spec.params import ConfigError, EngineParams, UpdateParams
from golden.training.in_situ import (
    InSituMLP,
    TrainingConfig,
    engine_params_for,
    initial_weights,
    make_config,
    refresh_pulses_for,
    sparse_input,
    train_fp,
    train_insitu,
    update_params_for,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_digits_in_situ_tracks_the_fp_baseline(digits, seed):
    """N = 4 analog devices, 4 epochs of digits: in situ within 4 points of FP (same init/order/lr)."""
    cfg = make_config(devices=4, epochs=4, seed=seed % 1000)
    fp = train_fp(digits, cfg)
    r = train_insitu(digits, cfg)
    print(f"FP {fp['test_accuracy']:.4f}  in situ {r['test_accuracy']:.4f}  pulses {r['pulses']}")
    assert fp["test_accuracy"] > 0.93
    assert r["test_accuracy"] >= fp["test_accuracy"] - 0.04
    assert r["pulses"] > 1000 and r["refreshes"] == 0


def test_digits_differential_with_refresh(digits, seed):
    cfg = make_config(devices=2, differential=True, epochs=3, seed=seed % 1000)
    fp = train_fp(digits, cfg)["test_accuracy"]
    r = train_insitu(digits, cfg)
    print(f"FP {fp:.4f} differential {r['test_accuracy']:.4f} (refreshes {r['refreshes']})")
    assert r["test_accuracy"] >= fp - 0.05
    assert r["refreshes"] > 0


def test_digits_binary_devices(digits, seed):
    rb = train_insitu(digits, make_config(devices=4, binary=True, epochs=3, seed=seed % 1000))
    print(f"binary {rb['test_accuracy']:.4f}")
    assert rb["test_accuracy"] > 0.8


def test_runs_are_reproducible_and_seed_dependent(digits):
    cfg = make_config(devices=2, epochs=1, train_samples=300, seed=3)
    a, b = train_insitu(digits, cfg), train_insitu(digits, cfg)
    assert np.array_equal(a["net"].layers[0].g, b["net"].layers[0].g)
    assert a["test_accuracy"] == b["test_accuracy"] and a["pulses"] == b["pulses"]
    c = train_insitu(digits, make_config(devices=2, epochs=1, train_samples=300, seed=4))
    assert not np.array_equal(a["net"].layers[0].g, c["net"].layers[0].g)


def test_device_read_mode_and_noise_free_mode_run(digits):
    for mode in ("device", "off"):
        r = train_insitu(digits, make_config(devices=1, epochs=1, train_samples=200, read_noise=mode))
        assert 0.0 <= r["test_accuracy"] <= 1.0


def test_initial_programming_and_sparse_inputs(digits):
    cfg = make_config(devices=4, hidden=32)
    net = InSituMLP(cfg, 64)
    w0 = initial_weights(0, 64, 32)
    net.program(w0)
    w = net.weights()
    # open loop with a coarse device (one pulse ~ the whole initial weight range per device): noisy
    assert np.corrcoef(w[0][:-1].ravel(), w0[0][:-1].ravel())[0, 1] > 0.3
    for layer, w_ in zip(net.layers, w0):   # the window holds the initial weights with room to spare
        assert np.abs(w_).max() < 0.25 * layer.config.w_max
    rows, vals = sparse_input(np.array([0, 0.5, 0, 1], np.float32), 4)
    assert rows.tolist() == [1, 3, 4] and vals.tolist() == [0.5, 1.0, 1.0]


def test_update_formats_scale_with_n():
    assert update_params_for(1) == UpdateParams(dw_width=12, chi_width=16, eps=256, count_width=4)
    assert update_params_for(8).eps == 32 and update_params_for(8).count_width == 7
    assert refresh_pulses_for(RERAM_BINARY) >= 5
    assert make_config(devices=8).synapse.increment == 5


def test_engine_formats_per_synapse_kind(digits):
    """Non-differential: the defaults; differential: +-256 LSB deltas; one binary device: x up to 32."""
    assert engine_params_for(False) == EngineParams() == engine_params_for(False, binary=True, devices=2)
    assert engine_params_for(True) == EngineParams(delta_frac=7)
    assert engine_params_for(False, binary=True, devices=1) == EngineParams(x_width=12)
    cfg = make_config(devices=1, differential=True, binary=True, epochs=1, train_samples=50)
    assert cfg.engine == EngineParams(x_width=12, delta_frac=7)
    r = train_insitu(digits, cfg)
    assert [layer.params.engine for layer in r["net"].layers] == [cfg.engine] * 2
    sat = r["saturations"]
    assert [s["x_codes"] for s in sat] == [sum(int(np.count_nonzero(v)) + 1 for v in digits.x_train[:50]),
                                           50 * (cfg.hidden + 1)]
    assert all(s["delta_codes"] == 50 * c for s, c in zip(sat, (cfg.hidden, 10)))
    print(sat)


@pytest.mark.parametrize("kw, field", [
    ({"lr": 0.0}, "training.lr"), ({"hidden": 0}, "training.hidden"), ({"epochs": 0}, "training.epochs"),
    ({"read_noise": "some"}, "training.read_noise"), ({"w_range": -1.0}, "training.w_range"),
    ({"train_samples": 0}, "training.train_samples"), ({"synapse": 3}, "training.synapse"),
    ({"engine": {"lanes": 1}}, "training.engine"),
])
def test_bad_training_config_names_the_field(kw, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        TrainingConfig(**kw)


def test_mnist_loads_with_checksums():
    d = load_mnist()
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert d.x_train.dtype == np.float32 and 0.0 <= d.x_train.min() and d.x_train.max() == 1.0
    assert np.bincount(d.y_test).tolist()[:3] == [980, 1135, 1032]


def _idx(dims, payload: bytes, magic=b"\x00\x00\x08") -> bytes:
    return magic + bytes([len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_malformed_mnist_files_give_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="bad IDX magic"):
        parse_idx(_idx([2], b"\x01\x02", magic=b"\x00\x00\x0d"), "x")
    with pytest.raises(DatasetError, match="IDX header says"):
        parse_idx(_idx([3], b"\x01\x02"), "x")
    assert parse_idx(_idx([2, 2], b"\x01\x02\x03\x04")).shape == (2, 2)
    # a directory with a non-gzip file and one with a wrong checksum
    (tmp_path / "train-images.idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="not a valid gzip file"):
        load_mnist(tmp_path)
    img = _idx([2, 28, 28], bytes(2 * 784))
    lab = _idx([2], b"\x01\x02")
    for pre in ("train", "t10k"):
        (tmp_path / f"{pre}-images.idx3-ubyte.gz").write_bytes(gzip.compress(img))
        (tmp_path / f"{pre}-labels.idx1-ubyte.gz").write_bytes(gzip.compress(lab))
    with pytest.raises(DatasetError, match="md5 of the decompressed data"):
        load_mnist(tmp_path)
    small = load_mnist(tmp_path, check_md5=False)
    assert small.x_train.shape == (2, 784)
    with pytest.raises(DatasetError, match="file not found"):
        load_mnist(tmp_path / "nowhere")


def test_cli_train_writes_json(tmp_path, capsys):
    from tb.cli.main import main

    out = tmp_path / "r.json"
    rc = main(["train", "--dataset", "digits", "--devices", "2", "--epochs", "1", "--train-samples", "300",
               "--seed", "1", "--json", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "in-situ test accuracy" in text and "FP baseline" in text
    d = json.loads(out.read_text())
    for key in ("test_accuracy", "fp_test_accuracy", "seconds_per_sample", "config"):
        assert key in d
    assert d["config"]["synapse"]["devices"] == 2 and d["config"]["train_samples"] == 300


def test_cli_rejects_bad_arguments(capsys):
    from tb.cli.main import main

    assert main(["train", "--devices", "0", "--quiet", "--no-fp", "--train-samples", "10"]) == 2
    assert "argument --devices: 0 is out of range: allowed [1, 64]" in capsys.readouterr().err
    assert main(["train", "--binary", "--device", "pcm", "--quiet"]) == 2


def test_lr_schedules():
    from golden.training.in_situ import lr_at

    total = 101
    c = TrainingConfig(lr=0.01, lr_schedule="constant", epochs=2)
    assert lr_at(c, 0, total) == lr_at(c, 100, total) == 0.01
    lin = TrainingConfig(lr=0.01, lr_schedule="linear", lr_end=0.001, epochs=2)
    assert lr_at(lin, 0, total) == 0.01 and lr_at(lin, 100, total) == pytest.approx(0.001)
    assert lr_at(lin, 50, total) == pytest.approx(0.0055)
    cos = TrainingConfig(lr=0.01, lr_schedule="cosine", lr_end=0.001, epochs=2)
    assert lr_at(cos, 0, total) == pytest.approx(0.01) and lr_at(cos, 100, total) == pytest.approx(0.001)
    assert lr_at(cos, 50, total) == pytest.approx(0.0055)
    step = TrainingConfig(lr=0.01, lr_schedule="step", lr_end=0.001, epochs=3)
    assert [lr_at(step, t, 90) for t in (0, 29, 30, 59, 60, 89)] == pytest.approx(
        [0.01, 0.01, 0.01 * 0.1 ** 0.5, 0.01 * 0.1 ** 0.5, 0.001, 0.001])


@pytest.mark.parametrize("kw, match", [
    ({"lr_schedule": "exp"}, r"training\.lr_schedule"),
    ({"lr_schedule": "linear", "lr_end": 0.0}, r"training\.lr_end"),
    ({"lr_schedule": "cosine", "lr": 0.01, "lr_end": 0.02}, r"training\.lr_end = 0\.02 must be in \(0, lr"),
])
def test_bad_schedule_names_the_field(kw, match):
    with pytest.raises(ConfigError, match=match):
        TrainingConfig(**kw)


def test_schedule_reaches_fp_and_in_situ(digits):
    """A decaying schedule is used by both FP and in situ (and differs from the constant lr)."""
    kw = {"devices": 2, "epochs": 2, "train_samples": 200, "seed": 1}
    a = train_insitu(digits, make_config(**kw))
    b = train_insitu(digits, make_config(lr_schedule="linear", lr_end=0.001, **kw))
    assert a["pulses"] > b["pulses"]
    fa = train_fp(digits, make_config(**kw))["weights"][0]
    fb = train_fp(digits, make_config(lr_schedule="linear", lr_end=0.001, **kw))["weights"][0]
    assert not np.array_equal(fa, fb)


def test_cli_schedule_defaults_and_errors(capsys):
    import argparse

    from golden.training.in_situ import DATASET_DEFAULTS
    from tb.cli.commands import train
    from tb.cli.main import main

    p = argparse.ArgumentParser()
    train.add_arguments(p)
    cfg = train.config_from_args(p.parse_args(["--dataset", "mnist"]))
    d = DATASET_DEFAULTS["mnist"]
    assert (cfg.epochs, cfg.lr, cfg.lr_schedule, cfg.lr_end) == (d["epochs"], d["lr"], d["lr_schedule"], d["lr_end"])
    cfg = train.config_from_args(p.parse_args(["--lr-schedule", "cosine", "--lr-end", "0.002", "--epochs", "3"]))
    assert (cfg.lr_schedule, cfg.lr_end, cfg.epochs) == ("cosine", 0.002, 3)
    assert main(["train", "--lr-schedule", "exp"]) == 2
    assert "--lr-schedule" in capsys.readouterr().err
    assert main(["train", "--lr-schedule", "linear", "--lr-end", "0.5", "--quiet", "--no-fp"]) == 2
    assert "training.lr_end" in capsys.readouterr().err
    assert main(["train-sweep", "--dataset", "digits", "--lr-schedule", "step", "--lr-end", "0",
                 "--no-write", "--report-only"]) == 2
    assert "argument --lr-end: 0 is out of range: allowed (0.0, 10.0]" in capsys.readouterr().err


def test_cli_train_sweep_records_the_schedule(tmp_path, capsys):
    from tb.cli.main import main

    out = tmp_path / "s.json"
    args = ["train-sweep", "--dataset", "digits", "--devices", "1", "--seeds", "1", "--modes", "analog",
            "--train-samples", "100", "--epochs", "2", "--lr-schedule", "linear", "--lr-end", "0.002",
            "--jobs", "1", "--out", str(out), "--plot", str(tmp_path / "p.png"), "--no-write"]
    assert main(args) == 0
    runs = json.loads(out.read_text())["runs"]
    assert {(r["mode"], r["lr_schedule"], r["lr_end"], r["epochs"]) for r in runs} == {
        ("fp", "linear", 0.002, 2), ("analog", "linear", 0.002, 2)}
    assert all(len(r["test_accuracy_per_epoch"]) == 2 for r in runs)
    assert main(args + ["--report-only"]) == 0 and (tmp_path / "p.png").exists()   # --no-write stays
    table = capsys.readouterr().out
    assert "| analog, non-differential |" in table


def test_sweep_run_key_reads_old_runs_as_one_constant_epoch():
    from golden.training.sweep import jobs, run_key

    old = {"dataset": "mnist", "mode": "analog", "devices": 4, "seed": 0, "epochs": 1, "train_samples": None}
    new = jobs("mnist", [4], [0], 1, None, ("analog",))
    assert run_key(old) in {run_key(s) for s in new}
    dec = jobs("mnist", [4], [0], 1, None, ("analog",), lr_schedule="linear", lr_end=0.001)
    assert run_key(old) not in {run_key(s) for s in dec}
