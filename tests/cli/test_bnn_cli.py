"""`reram-accel bnn` end to end on a tiny digits network, and its configuration errors."""
from __future__ import annotations

import json

import pytest

from tb.cli.main import main


def test_bnn_command_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                       # the model cache goes to tmp_path/build/bnn
    out = tmp_path / "r.json"
    rc = main(["bnn", "--dataset", "digits", "--hidden", "31,31", "--epochs", "3", "--seed", "1",
               "--sa-clock-ns", "6", "--json", str(out), "--energy"])
    assert rc == 0
    r = json.loads(out.read_text())
    for key in ("software_accuracy", "hardware_accuracy", "hardware_accuracy_authors_model", "config",
                "neuron_error_rate", "bridge_ber", "clipped_neurons", "energy", "hardware_accuracy_uncalibrated",
                "accuracy_drop_uncalibrated", "hardware_accuracy_sa_trim", "sa_calibration"):
        assert key in r, key
    # the nominal operating point is the chip with measured SA offset calibration
    cal = r["sa_calibration"]
    assert cal["method"] == "measured" and cal["repeats"] == 8 and cal["patterns"] == 4
    assert cal["per_layer"][0]["conversions_per_neuron"] == 4 * 8 * (cal["per_layer"][0]["bias_cells"] + 1)
    assert r["config"]["sa_calibration"] == "measured"
    assert r["config"]["hidden"] == [31, 31] and r["config"]["sa_clock_ns"] == 6.0
    assert 0.3 < r["software_accuracy"] <= 1.0
    assert list((tmp_path / "build" / "bnn").glob("digits_h31-31_e3_*.npz"))
    # second run loads the cached model and gives the same numbers
    rc = main(["bnn", "--dataset", "digits", "--hidden", "31,31", "--epochs", "3", "--seed", "1",
               "--sa-clock-ns", "6", "--json", str(out)])
    assert json.loads(out.read_text())["hardware_accuracy"] == r["hardware_accuracy"]
    assert "cached" in capsys.readouterr().out


def test_bnn_command_config_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["bnn", "--dataset", "digits", "--hidden", "30"]) == 2
    assert "bnn_train.hidden[0] = 30 is even" in capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--sa-clock-ns", "0.5"]) == 2
    assert "argument --sa-clock-ns: 0.5 is out of range: allowed [1.0, 100.0]" in capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--bit-error", "2"]) == 2
    assert "argument --bit-error: 2 is out of range: allowed [0.0, 1.0]" in capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--sa-calibration", "perfect"]) == 2
    assert "sa_calibration = 'perfect' is not allowed: choose one of ['none', 'oracle', 'measured']" in \
        capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--sa-cal-repeats", "0"]) == 2
    assert "argument --sa-cal-repeats: 0 is out of range: allowed [1, 1024]" in capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--sa-cal-patterns", "100"]) == 2
    assert "argument --sa-cal-patterns: 100 is out of range: allowed [1, 64]" in capsys.readouterr().err


@pytest.mark.scale
def test_bnn_chip_seeds_on_the_dask_engine_match_serial(tmp_path, monkeypatch, capsys):
    """Several chip seeds run on the Dask engine; 1 and 2 workers give the per-seed accuracies of the
    serial in-process run of each seed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RERAM_DASK_SCHEDULER", raising=False)
    base = ["bnn", "--dataset", "digits", "--hidden", "31,31", "--epochs", "2", "--seed", "3", "--test-limit", "120",
            "--sa-calibration", "oracle"]
    serial = {}
    for hs in (0, 1):
        assert main([*base, "--hw-seeds", str(hs), "--json", str(tmp_path / f"s{hs}.json")]) == 0
        serial[hs] = json.loads((tmp_path / f"s{hs}.json").read_text())["hardware_per_seed"]
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}.json"
        assert main([*base, "--hw-seeds", "0,1", "--jobs", jobs, "--json", str(out)]) == 0
        assert f"{jobs} worker process(es)" in capsys.readouterr().out
        per_seed = json.loads(out.read_text())["hardware_per_seed"]
        assert per_seed == {k: [serial[0][k][0], serial[1][k][0]] for k in per_seed}
