"""`reram-accel bnn` end to end on a tiny digits network, and its configuration errors."""
from __future__ import annotations

import json

from tb.cli import main


def test_bnn_command_writes_json(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                       # the model cache goes to tmp_path/build/bnn
    out = tmp_path / "r.json"
    rc = main(["bnn", "--dataset", "digits", "--hidden", "31,31", "--epochs", "3", "--seed", "1",
               "--sa-clock-ns", "6", "--json", str(out), "--energy"])
    assert rc == 0
    r = json.loads(out.read_text())
    for key in ("software_accuracy", "hardware_accuracy", "hardware_accuracy_authors_model", "config",
                "neuron_error_rate", "bridge_ber", "clipped_neurons", "energy"):
        assert key in r, key
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
    assert "sa_clock_ns = 0.5 is out of range" in capsys.readouterr().err
    assert main(["bnn", "--dataset", "digits", "--bit-error", "2"]) == 2
    assert "bit_error = 2.0 is out of range" in capsys.readouterr().err
