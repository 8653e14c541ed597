"""Resistance LUT: CSV loader (every malformed-input case names file, line and column), fits, state model."""
import math

import numpy as np
import pytest

from golden.physics.resistance_lut import (
    EXAMPLE_BINARY,
    EXAMPLE_IV,
    EXAMPLE_LEVELS,
    HfO2ExampleParams,
    LUTFormatError,
    ResistanceLUT,
    canonical_state,
    load_default_lut,
    load_lut,
    write_example_data,
)
from golden.spec.params import ConfigError


def _write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _err(tmp_path, text, **kw) -> str:
    p = _write(tmp_path, text)
    with pytest.raises(LUTFormatError) as e:
        load_lut(p, **kw)
    return str(e.value)


# ---- the shipped synthetic example --------------------------------------------------------------
def test_example_is_labelled_synthetic_and_fits_its_parameters():
    lut = load_default_lut()
    assert lut.is_synthetic
    p = HfO2ExampleParams()
    fits = lut.fits()
    assert set(fits) == {"LRS", "HRS", *(f"L{k}" for k in range(8))}
    assert all(f.n == p.devices * p.cycles for f in fits.values())
    assert fits["LRS"].median_ohm == pytest.approx(p.lrs_median, rel=0.1)
    assert fits["HRS"].median_ohm == pytest.approx(p.hrs_median, rel=0.1)
    # pooled spread = cycle-to-cycle and device-to-device combined
    assert fits["HRS"].sigma_log == pytest.approx(math.hypot(p.hrs_sigma, p.sigma_d2d), rel=0.15)
    for k, (m, s) in enumerate(zip(p.level_medians(), p.level_sigmas())):
        assert fits[f"L{k}"].median_ohm == pytest.approx(m, rel=0.1)
        assert fits[f"L{k}"].sigma_log == pytest.approx(math.hypot(s, p.sigma_d2d), rel=0.25)


def test_example_files_are_reproducible(tmp_path):
    """The shipped CSVs are exactly what write_example_data produces from the stated parameters."""
    for p in write_example_data(tmp_path):
        shipped = {"hfo2_example_binary.csv": EXAMPLE_BINARY, "hfo2_example_levels.csv": EXAMPLE_LEVELS,
                   "hfo2_example_iv.csv": EXAMPLE_IV}[p.name]
        assert p.read_text() == shipped.read_text(), p.name


def test_iv_form_derives_resistance_at_read_voltage():
    iv = load_lut(EXAMPLE_IV, read_voltage=0.1)
    assert set(iv.states) == {"HRS", "LRS"}
    assert iv.fit("LRS").median_ohm == pytest.approx(8e3, rel=0.1)
    assert iv.fit("HRS").median_ohm == pytest.approx(150e3, rel=0.2)
    # the HRS I-V curve is nonlinear: another read voltage gives another resistance
    assert load_lut(EXAMPLE_IV, read_voltage=0.2).fit("HRS").mu != pytest.approx(iv.fit("HRS").mu, abs=1e-3)


def test_iv_single_point_and_interpolation(tmp_path):
    p = _write(tmp_path, "device,cycle,state,voltage_v,current_a\n"
                         "a,0,LRS,0.1,1e-5\n"
                         "a,1,HRS,0.0,0.0\na,1,HRS,0.2,2e-6\n")
    lut = load_lut(p, read_voltage=0.1)
    assert lut.samples["LRS"][0] == pytest.approx(1e4)
    assert lut.samples["HRS"][0] == pytest.approx(0.1 / 1e-6)


def test_resistance_form_optional_columns_aliases_comments(tmp_path):
    p = _write(tmp_path, "# provenance line\n\nSTATE,Resistance_Ohm,note\nlogic1,1000,x\nlogic0,1e5,y\n"
                         "l3,2e4,z\n# trailing comment\n")
    lut = load_lut(p)
    assert lut.states == ("HRS", "LRS", "L3")
    assert lut.comments == ("provenance line", "trailing comment")
    assert not lut.is_synthetic
    assert canonical_state(" Lrs ") == "LRS" and canonical_state("L16") is None


# ---- malformed input: each error starts with file:line:column -----------------------
def test_missing_file(tmp_path):
    with pytest.raises(LUTFormatError, match="does not exist"):
        load_lut(tmp_path / "nope.csv")


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_empty_file(tmp_path, text):
    msg = _err(tmp_path, text)
    assert "data.csv:1:1: empty file" in msg


def test_header_without_rows(tmp_path):
    msg = _err(tmp_path, "# c\ndevice,cycle,state,resistance_ohm\n")
    assert "data.csv:3:1: empty file" in msg and "no data rows" in msg


def test_missing_state_column(tmp_path):
    msg = _err(tmp_path, "device,cycle,resistance_ohm\nd,0,1000\n")
    assert "data.csv:1:1: missing column 'state'" in msg


def test_missing_resistance_column(tmp_path):
    msg = _err(tmp_path, "device,state,voltage_v\nd,LRS,0.1\n")
    assert "data.csv:1:1: missing column 'resistance_ohm'" in msg and "current_a" in msg


def test_non_numeric(tmp_path):
    msg = _err(tmp_path, "device,cycle,state,resistance_ohm\nd,0,LRS,1000\nd,1,HRS,12k\n")
    assert "data.csv:3:4: column 'resistance_ohm': '12k' is not a number" in msg


def test_non_finite(tmp_path):
    msg = _err(tmp_path, "state,resistance_ohm\nLRS,nan\n")
    assert "data.csv:2:2: column 'resistance_ohm'" in msg and "not a finite number" in msg


@pytest.mark.parametrize("value", ["-5", "0"])
def test_non_positive_resistance(tmp_path, value):
    msg = _err(tmp_path, f"device,cycle,state,resistance_ohm\nd,0,LRS,1000\n\nd,1,HRS,{value}\n")
    assert "data.csv:4:4: column 'resistance_ohm': resistance must be > 0 ohm" in msg


def test_unknown_state_label(tmp_path):
    msg = _err(tmp_path, "device,cycle,state,resistance_ohm\nd,0,MRS,1000\n")
    assert "data.csv:2:3: column 'state': unknown state label 'MRS'" in msg and "allowed" in msg


def test_short_row(tmp_path):
    msg = _err(tmp_path, "device,cycle,state,resistance_ohm\nd,0,LRS\n")
    assert "data.csv:2:4: expected 4 fields" in msg


def test_bad_cycle(tmp_path):
    msg = _err(tmp_path, "device,cycle,state,resistance_ohm\nd,zero,LRS,10\n")
    assert "data.csv:2:2: column 'cycle'" in msg


def test_iv_read_voltage_outside_sweep(tmp_path):
    msg = _err(tmp_path, "cycle,state,voltage_v,current_a\n0,LRS,0.2,1e-5\n0,LRS,0.3,2e-5\n", read_voltage=0.1)
    assert "data.csv:2:3: column 'voltage_v': read voltage 0.1 V is outside" in msg


def test_iv_sign_mismatch(tmp_path):
    msg = _err(tmp_path, "device,cycle,state,voltage_v,current_a\nd,0,LRS,0.1,-1e-5\n")
    assert "data.csv:2:5: column 'current_a'" in msg and "> 0" in msg


def test_iv_zero_current(tmp_path):
    msg = _err(tmp_path, "state,voltage_v,current_a\nHRS,0.1,0\n")
    assert "data.csv:2:" in msg and "I != 0" in msg


def test_lut_error_is_a_config_error():
    assert issubclass(LUTFormatError, ConfigError)


# ---- state model ---------------------------------------------------------------------------------
def test_state_models_order_by_conductance():
    lut = load_default_lut()
    m1 = lut.state_model(1)
    assert m1.labels == ("HRS", "LRS")
    m3 = lut.state_model(3)
    assert m3.labels == tuple(f"L{k}" for k in range(7, -1, -1))  # L7 = deepest RESET = highest R
    assert all(a > b for a, b in zip(m3.mu, m3.mu[1:]))


def test_state_model_missing_states(tmp_path):
    lut = load_lut(EXAMPLE_BINARY)
    with pytest.raises(ConfigError, match="bits_per_cell = 3 needs 8 levels"):
        lut.state_model(3)
    # 1 bit from levels only: the extreme levels stand in for HRS/LRS
    levels = load_lut(EXAMPLE_LEVELS)
    assert levels.state_model(1).labels == ("L7", "L0")


def test_thresholds():
    lut = load_default_lut()
    sc = lut.state_model(1).scaled()
    g_hrs, g_lrs = -sc.mu[0], -sc.mu[1]
    assert sc.thresholds("midpoint")[0] == pytest.approx(0.5 * (g_hrs + g_lrs))
    opt = sc.thresholds("optimal")[0]
    assert g_hrs < opt < g_lrs
    # the crossing is closer to the narrow (LRS) state, and it is a better reference
    assert opt > sc.thresholds("midpoint")[0]
    assert sc.misread_rates("optimal").mean() < sc.misread_rates("midpoint").mean()
    with pytest.raises(ConfigError, match="reference"):
        sc.thresholds("median")


def test_zero_spread_reads_back_exactly(seed):
    lut = load_default_lut()
    for bpc in (1, 3):
        sc = lut.state_model(bpc).scaled(0.0)
        states = np.random.default_rng(seed).integers(0, sc.mu.size, 5000)
        log_r = sc.sample_log_r(states, np.arange(5000), seed=seed)
        for ref in ("midpoint", "optimal"):
            assert np.array_equal(sc.read(log_r, sc.thresholds(ref)), states)


def test_sampling_matches_analytic_misread_rate(seed):
    lut = load_default_lut()
    sc = lut.state_model(3).scaled(1.0)
    n = 40000
    states = np.arange(n) % 8
    read = sc.read(sc.sample_log_r(states, np.arange(n), seed=seed), sc.thresholds("midpoint"))
    measured = np.array([np.mean(read[states == k] != k) for k in range(8)])
    expected = sc.misread_rates("midpoint")
    assert np.all(np.abs(measured - expected) < 5 * np.sqrt(expected * (1 - expected) / (n / 8)) + 1e-3)


def test_empirical_draws_measured_values_and_is_counter_based(seed):
    lut = load_default_lut()
    sc = lut.state_model(1).scaled(1.0)
    ids = np.arange(1000)
    states = ids % 2
    log_r = sc.sample_log_r(states, ids, seed=seed, model="empirical")
    measured = np.log(np.concatenate([lut.samples["HRS"], lut.samples["LRS"]]))
    assert np.allclose(np.min(np.abs(log_r[:, None] - measured[None, :]), axis=1), 0, atol=1e-9)
    # same device id -> same draw, whatever order the devices are visited in
    perm = np.random.default_rng(seed).permutation(1000)
    again = sc.sample_log_r(states[perm], ids[perm], seed=seed, model="empirical")
    assert np.array_equal(again, log_r[perm])
    assert not np.array_equal(sc.sample_log_r(states, ids, seed=seed, trial=1, model="empirical"), log_r)


def test_window_scale_compresses_medians():
    sc = load_default_lut().state_model(1).scaled(1.0, 0.5)
    base = load_default_lut().state_model(1).scaled(1.0, 1.0)
    assert (sc.mu[0] - sc.mu[1]) == pytest.approx(0.5 * (base.mu[0] - base.mu[1]))
    assert sc.misread_rates().mean() > base.misread_rates().mean()
    with pytest.raises(ConfigError, match="window_scale"):
        load_default_lut().state_model(1).scaled(1.0, 0.0)


def test_merged_lut():
    a = ResistanceLUT({"LRS": np.array([1.0, 2.0])}, "a")
    b = ResistanceLUT({"LRS": np.array([3.0]), "HRS": np.array([9.0])}, "b")
    m = a.merged(b)
    assert list(m.samples["LRS"]) == [1.0, 2.0, 3.0] and m.has_binary()
