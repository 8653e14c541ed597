"""Device fit: recovery of known parameters from generated pulse-response data; malformed CSVs."""
import numpy as np
import pytest

from golden.physics.device import RERAM_BINARY, RERAM_HFO2, DeviceModel
from golden.physics.device_fit import FitDataError, fit, read_csv, write_csv

TRUE = RERAM_HFO2.with_(gamma_set=1.4, gamma_reset=0.8, noise_mult=0.4, noise_add=0.25, d2d_step=0.2)


def test_fit_recovers_known_parameters(tmp_path, seed):
    """64 devices x 5 cycles of 40 SET + 40 RESET pulses.

    Stated tolerances: bounds 3 %, step amplitudes 10 % (of the generating devices' geometric mean), exponents 0.15, total cycle-to-cycle sigma at
    the nominal step 10 % (its split into multiplicative and additive parts is weakly identified:
    noise_mult +-0.15, noise_add +-0.25), device-to-device spread within 25 % of the spread of the devices that made the data,
    initial state 5 % / 25 %.
    """
    m = DeviceModel(TRUE, seed)
    path = write_csv(tmp_path / "pulses.csv", m, 64, 40, 40, cycles=5, header_note="synthetic test data")
    q, rep = fit(path)
    assert not rep["binary"] and rep["devices"] == 64
    assert q.g_min == pytest.approx(TRUE.g_min, rel=0.03)
    assert q.g_max == pytest.approx(TRUE.g_max, rel=0.03)
    dev = m.per_device(np.arange(64))     # the devices that made the data (64 draws of the spread)
    assert q.a_set == pytest.approx(np.exp(np.log(dev.up).mean()), rel=0.10)
    assert q.a_reset == pytest.approx(np.exp(np.log(dev.down).mean()), rel=0.10)
    assert q.gamma_set == pytest.approx(TRUE.gamma_set, abs=0.15)
    assert q.gamma_reset == pytest.approx(TRUE.gamma_reset, abs=0.15)
    mu = TRUE.nominal_step
    sig_true = np.hypot(TRUE.noise_mult * mu, TRUE.noise_add)
    sig_fit = np.hypot(q.noise_mult * mu, q.noise_add)
    assert sig_fit == pytest.approx(sig_true, rel=0.10)
    assert q.noise_mult == pytest.approx(TRUE.noise_mult, abs=0.15)
    assert q.noise_add == pytest.approx(TRUE.noise_add, abs=0.25)
    # the spread of the sampled devices, which the fit can know
    sample_spread = np.sqrt(0.5 * (np.var(np.log(dev.up)) + np.var(np.log(dev.down))))
    assert q.d2d_step == pytest.approx(sample_spread, rel=0.25)
    assert q.g_init == pytest.approx(TRUE.g_init, rel=0.05)
    assert q.g_init_std == pytest.approx(TRUE.g_init_std, rel=0.25)


def test_fit_binary_devices(tmp_path, seed):
    p = RERAM_BINARY.with_(p_set=0.4, p_reset=0.6, d2d_step=0.0)
    path = write_csv(tmp_path / "bin.csv", DeviceModel(p, seed), 200, 6, 6, cycles=4)
    q, rep = fit(path)
    assert q.binary and rep["binary"]
    assert q.p_set == pytest.approx(0.4, abs=0.05)
    assert q.p_reset == pytest.approx(0.6, abs=0.05)
    assert q.g_min == pytest.approx(p.g_min, rel=0.03) and q.g_max == pytest.approx(p.g_max, rel=0.03)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("device,pulse,conductance_uS\n0,0,5\n", r"missing column\(s\) \['polarity'\]"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,1,abc\n", r"bad.csv:3:4: conductance_uS: 'abc' is not a number"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,2,6\n", "polarity must be 1"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,5\n0,1,1,6\n0,1,1,7\n", "device 0 has pulse 1 twice"),
    ("device,pulse,polarity,conductance_uS\n0,0,-1,-5\n", "finite and >= 0"),
    ("device,pulse,polarity,conductance_uS\n", "no data rows"),
])
def test_malformed_csv_gives_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(FitDataError, match=message):
        read_csv(path)


def test_fit_needs_enough_data(tmp_path):
    with pytest.raises(FitDataError, match="not found"):
        fit(tmp_path / "missing.csv")
    path = write_csv(tmp_path / "one.csv", DeviceModel(RERAM_HFO2, 0), 1, 20, 20)
    with pytest.raises(FitDataError, match="at least 2 devices"):
        fit(path)
    path = write_csv(tmp_path / "set.csv", DeviceModel(RERAM_HFO2, 0), 4, 20, 0)
    with pytest.raises(FitDataError, match="10 consecutive SET and 10 consecutive RESET"):
        fit(path)


def test_shipped_example_csv_fits_and_cli(tmp_path, capsys):
    from pathlib import Path

    from tb.cli.main import main

    example = Path(__file__).resolve().parents[3] / "golden" / "data" / "reram_example_pulses.csv"
    q, rep = fit(example)
    assert rep["devices"] == 24 and not q.binary and q.g_min < q.g_max
    out = tmp_path / "p.json"
    assert main(["device-fit", str(example), "--json", str(out)]) == 0
    assert "fitted 24 devices" in capsys.readouterr().out and out.exists()
