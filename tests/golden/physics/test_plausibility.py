"""Implausible device data (a value decades away from the rest, a fitted value outside the model's
range) is named with its file:line and warned about, or rejected under strict; never taken silently."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from golden.physics.device import RERAM_HFO2, DeviceModel
from golden.physics.device_fit import fit, write_csv
from golden.physics.plausibility import far_from_group
from golden.physics.resistance_lut import EXAMPLE_BINARY, EXAMPLE_IV, EXAMPLE_LEVELS, load_lut
from golden.spec.checks import DataFileError, PlausibilityWarning
from tb.cli.main import main


def test_far_from_group_rule(seed):
    rng = np.random.default_rng(seed)
    v = np.exp(rng.normal(np.log(1e4), 0.45, 500))
    assert not far_from_group(v).any()                     # a lognormal group: nothing flagged
    v[17] = 1e300
    v[40] = 1e4 * 1000                                      # three decades: about 15 sigma_log away
    assert list(np.flatnonzero(far_from_group(v))) == [17, 40]
    tight = np.full(20, 5.0)
    tight[3] = 5.5                                          # 10 % off a tight group: not a decade
    assert not far_from_group(tight).any()


@pytest.mark.parametrize("path", [EXAMPLE_BINARY, EXAMPLE_LEVELS, EXAMPLE_IV])
def test_shipped_examples_are_plausible(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        load_lut(path)


def _lut_with_outlier(tmp_path):
    lines = ["device,cycle,state,resistance_ohm"]
    rng = np.random.default_rng(0)
    for k in range(40):
        lines.append(f"d{k},0,LRS,{8e3 * np.exp(0.45 * rng.normal()):.1f}")
        lines.append(f"d{k},0,HRS,{1.5e5 * np.exp(0.45 * rng.normal()):.1f}")
    lines[30] = lines[30].rsplit(",", 1)[0] + ",1e300"        # line 31 of the file
    p = tmp_path / "r.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_resistance_outlier_is_named_or_rejected(tmp_path):
    p = _lut_with_outlier(tmp_path)
    with pytest.warns(PlausibilityWarning, match=rf"implausible \w+ resistance: {p}:31: 1e\+300 ohm"):
        load_lut(p)
    with pytest.raises(DataFileError, match=rf"{p}:31: 1e\+300 ohm.*rejected under --strict"):
        load_lut(p, strict=True)


def test_variability_cli_warns_and_strict_rejects(tmp_path, capsys):
    p = _lut_with_outlier(tmp_path)
    assert main(["variability", "--data", str(p), "--strict", "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert f"{p}:31: 1e+300 ohm" in err and "Traceback" not in err


def _fit_data_with_outlier(tmp_path):
    p = write_csv(tmp_path / "g.csv", DeviceModel(RERAM_HFO2, 0), 8, 30, 30, cycles=2)
    lines = p.read_text().splitlines()
    head, dev, pulse, pol, _ = lines[0], *lines[100].split(",")
    lines[100] = f"{dev},{pulse},{pol},1e12"                  # line 101 of the file
    p.write_text("\n".join([head, *lines[1:]]) + "\n")
    return p


def test_device_fit_outlier_is_named_or_rejected(tmp_path, capsys):
    p = _fit_data_with_outlier(tmp_path)
    with pytest.warns(PlausibilityWarning, match=rf"implausible conductance_uS: {p}:101: 1e\+12 uS"):
        fit(p)
    with pytest.raises(DataFileError, match=rf"{p}:101"):
        fit(p, strict=True)
    assert main(["device-fit", str(p), "--strict"]) == 2
    assert f"{p}:101: 1e+12 uS" in capsys.readouterr().err
    assert main(["device-fit", str(p)]) == 0                  # warned, not rejected
    assert f"reram-accel: warning: implausible conductance_uS: {p}:101" in capsys.readouterr().err


def test_fitted_value_outside_the_model_is_reported_not_clamped_silently(tmp_path):
    """Bounds spread over 3 decades between devices: d2d_bounds estimates above the model's 2.0."""
    rows = ["device,pulse,polarity,conductance_uS"]
    for d in range(6):
        scale = 10.0 ** (3 * (d % 2))                        # devices alternate between two windows
        g = 5.0 * scale
        for k in range(1, 41):                               # no pulse 0: no initial-state spread
            pol = 1 if (k - 1) % 20 < 10 else 0
            g = min(g + 4.5 * scale, 50 * scale) if pol else max(g - 4.5 * scale, 5 * scale)
            rows.append(f"{d},{k},{pol},{g * (1 + 0.01 * ((k * 7 + d) % 5))}")
    p = tmp_path / "wide.csv"
    p.write_text("\n".join(rows) + "\n")
    with pytest.warns(PlausibilityWarning, match=r"fitted d2d_bounds = [\d.]+ is outside the model's range \[0, 2\]"):
        q, _ = fit(p)
    assert q.d2d_bounds == 2.0
    with pytest.raises(DataFileError, match=r"fitted d2d_\w+ = [\d.]+ is outside .*\(rejected under --strict\)"):
        fit(p, strict=True)
