"""Hardware model of the BNN: counter-based error injection, bridge physics, neuron/SA error models."""
from __future__ import annotations

import numpy as np
import pytest

from golden.bnn.chip_model import (
    AUTHORS_A,
    AUTHORS_B,
    BnnHardware,
    HardwareConfig,
    authors_ab,
    bridge_bit_errors,
    bridge_divider_voltage,
    bridge_error_monte_carlo,
    bridge_error_probability,
    bridge_failures,
    bridge_outputs,
    full_range_error,
    input_referred_sigma,
    physical_perr,
    physical_perr_monte_carlo,
    sa_decision,
    sa_error_probability,
    sa_errors,
    sa_sigma,
    weight_bit_errors,
)
from golden.bnn.model_params import BridgeParams, NeuronParams
from golden.bnn.network import random_model
from golden.spec.params import ConfigError


def test_weight_errors_deterministic_and_order_independent(seed):
    neurons, inputs = np.meshgrid(np.arange(300), np.arange(200), indexing="ij")
    full = weight_bit_errors(seed, 2, neurons, inputs, 0.05)
    assert np.array_equal(full, weight_bit_errors(seed, 2, neurons, inputs, 0.05))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(neurons.size)
    sub = weight_bit_errors(seed, 2, neurons.ravel()[perm], inputs.ravel()[perm], 0.05)
    assert np.array_equal(sub, full.ravel()[perm])
    # one element at a time (as the cocotb model would ask) gives the same answer
    for k in perm[:20]:
        n, i = divmod(int(k), 200)
        assert bool(weight_bit_errors(seed, 2, n, i, 0.05)) == bool(full[n, i])
    assert abs(full.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / full.size)
    # other layer / seed / cycle -> other errors
    assert not np.array_equal(full, weight_bit_errors(seed, 3, neurons, inputs, 0.05))
    assert not np.array_equal(full, weight_bit_errors(seed + 1, 2, neurons, inputs, 0.05))
    assert not np.array_equal(full, weight_bit_errors(seed, 2, neurons, inputs, 0.05, cycle=1))
    # monotone in p: errors at p are a subset of errors at p' > p
    assert np.all(full <= weight_bit_errors(seed, 2, neurons, inputs, 0.1))


def test_read_errors_depend_on_image_only_through_the_counter(seed):
    n, i = np.meshgrid(np.arange(40), np.arange(50), indexing="ij")
    e0 = bridge_bit_errors(seed, 0, 7, n, i, 0.1)
    e1 = bridge_bit_errors(seed, 0, 8, n, i, 0.1)
    assert np.array_equal(e0, bridge_bit_errors(seed, 0, np.full(n.shape, 7), n, i, 0.1))
    assert not np.array_equal(e0, e1)
    imgs = np.array([8, 7, 8])[:, None]
    batch = bridge_bit_errors(seed, 0, imgs, 3, np.arange(50)[None, :], 0.1)
    assert np.array_equal(batch[1], e0[3]) and np.array_equal(batch[0], e1[3])


def test_index_ranges_are_checked():
    with pytest.raises(ConfigError, match="neuron_idx out of range"):
        weight_bit_errors(0, 0, 1 << 24, 0, 0.1)
    with pytest.raises(ConfigError, match="layer out of range"):
        weight_bit_errors(0, 256, 0, 0, 0.1)
    with pytest.raises(ConfigError, match="bit_error = 1.5 is out of range"):
        weight_bit_errors(0, 0, 0, 0, 1.5)


def test_authors_perr_values():
    assert sa_error_probability(0, 1.0) == pytest.approx(0.5 * np.exp(-0.5))
    assert sa_error_probability(-3, 2.0) == pytest.approx(0.5 * np.exp(-16 / 8))
    assert sa_error_probability(3, 2.0) == sa_error_probability(-3, 2.0)
    d = np.arange(0, 200)
    assert np.all(np.diff(sa_error_probability(d, 10.0)) < 0)
    assert sa_sigma(23) == pytest.approx(AUTHORS_A * 23 + AUTHORS_B)
    # "fabricated" calibration: 3.12 % averaged over the full popcount range at N_tot = 23, and the
    # slope of the physical SA (sigma_SA / VDD)
    assert authors_ab(10.0) == pytest.approx((AUTHORS_A, AUTHORS_B), rel=1e-3)
    assert full_range_error(23, sa_sigma(23)) == pytest.approx(0.0312, abs=2e-4)
    assert AUTHORS_A == pytest.approx(input_referred_sigma(NeuronParams(), 10.0) / 0.8, rel=1e-3)
    # "scale_invariant": 3.12 % at every size
    a, b = authors_ab(10.0, calibration="scale_invariant")
    for n_tot in (23, 101, 1127, 2151):
        assert full_range_error(n_tot, sa_sigma(n_tot, a, b)) == pytest.approx(0.0312, abs=5e-4)
    for cal in ("fabricated", "scale_invariant"):
        a10, b10 = authors_ab(10.0, calibration=cal)
        a4, b4 = authors_ab(4.0, calibration=cal)
        a20, b20 = authors_ab(20.0, calibration=cal)
        assert a4 > a10 > a20 and b4 > b10 > b20
    with pytest.raises(ConfigError, match="calibration"):
        authors_ab(10.0, calibration="fitted")


def test_authors_perr_bounds_the_gaussian_tail():
    """0.5*exp(-(|d|+1)^2/2s^2) is the Chernoff bound of Phi(-(|d|+1)/s) >= ... of a Gaussian decision."""
    from scipy.special import ndtr
    d = np.arange(0, 60)
    for s in (1.0, 5.0, 20.0):
        assert np.all(sa_error_probability(d, s) >= ndtr(-(d + 1) / s))


def test_sa_decisions_deterministic(seed):
    delta = np.array([[-3, 1, 5], [7, -1, 1]])
    img = np.array([[4], [9]])
    neu = np.arange(3)[None, :]
    a = sa_decision(seed, 1, img, neu, delta, 23)
    assert np.array_equal(a, sa_decision(seed, 1, img, neu, delta, 23))
    # element-wise evaluation gives the same bits
    for r in range(2):
        for c in range(3):
            assert sa_decision(seed, 1, int(img[r, 0]), c, int(delta[r, c]), 23) == a[r, c]
    # empirical rate matches P_err
    n = 200_000
    flips = sa_errors(seed, 0, np.arange(n), 5, sa_error_probability(1, 2.0))
    p = sa_error_probability(1, 2.0)
    assert abs(flips.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_bridge_truth_table_with_ideal_devices():
    """Nominal devices: the source line is high iff x == w, so the bridge + inverter compute XNOR."""
    b = BridgeParams()
    for w in (0, 1):
        r_top = b.r_lrs if w else b.r_hrs
        r_bot = b.r_hrs if w else b.r_lrs
        for x in (0, 1):
            v = bridge_divider_voltage(x, r_top, r_bot, b.r_access, vdd=1.0)
            assert (v > b.vm_ratio) == (x == w)
            fhi, flo = bridge_failures(r_top, r_bot, w, b.vm_ratio, b.r_access)
            assert bridge_outputs(x, w, fhi, flo) == int(x == w)
    # a swapped (failed) device pair inverts the output in both cases
    fhi, flo = bridge_failures(b.r_hrs, b.r_lrs, 1, 0.5, 0.0)
    assert fhi and flo


def test_bridge_ber_analytic_matches_monte_carlo():
    bridge = BridgeParams(sigma_hrs_d2d=0.9)                 # ~2.6e-3: enough events for a quick MC
    ana = bridge_error_probability(bridge)
    mc = bridge_error_monte_carlo(bridge, n=400_000, seed=11)
    sd = np.sqrt(ana["p"] / mc["n"] * 2)
    print(f"bridge BER analytic {ana['p']:.3e}, Monte Carlo {mc['p']:.3e}")
    assert abs(mc["p"] - ana["p"]) < 4 * sd
    nominal = bridge_error_probability(BridgeParams())["p"]
    assert 1e-5 < nominal < 1e-3
    # no spread -> no error; wider HRS spread -> more errors
    assert bridge_error_probability(BridgeParams(sigma_lrs_d2d=0, sigma_lrs_c2c=0, sigma_hrs_d2d=0,
                                                 sigma_hrs_c2c=0, vm_sigma=0))["p"] == 0
    assert bridge_error_probability(BridgeParams(sigma_hrs_d2d=1.2))["p"] > ana["p"]


def test_physical_neuron_perr_analytic_matches_monte_carlo():
    neuron = NeuronParams(sa_offset=0.02, sa_noise=0.01, cap_mismatch=0.03)
    deltas = np.array([1, 3, 5, -1, -7])
    mc = physical_perr_monte_carlo(23, deltas, neuron, n_neurons=1500, n_reads=4, seed=3)
    ana = physical_perr(deltas, 23, neuron)
    print("physical P_err analytic", np.round(ana, 4), "MC", np.round(mc, 4))
    assert np.all(np.abs(mc - ana) < 0.03)


def _images(seed, n, width):
    return np.random.default_rng(seed).integers(0, 2, (n, width), dtype=np.uint8)


def test_ideal_and_noiseless_physical_equal_integer_model(seed):
    m = random_model([60, 41, 33, 10], seed=seed)
    x = _images(seed, 300, 60)
    ref = m.predict_bits(x)
    assert np.array_equal(BnnHardware(m, HardwareConfig(mode="ideal")).predict_bits(x), ref)
    perfect_bridge = BridgeParams(sigma_lrs_d2d=0, sigma_lrs_c2c=0, sigma_hrs_d2d=0, sigma_hrs_c2c=0,
                                  vm_sigma=0)
    quiet = NeuronParams(sa_offset=0, sa_noise=0, cap_mismatch=0)
    hw = BnnHardware(m, HardwareConfig(mode="physical", bridge=perfect_bridge, neuron=quiet))
    assert np.array_equal(hw.predict_bits(x), ref)
    assert hw.neuron_error_rate() == [0.0, 0.0]
    hw = BnnHardware(m, HardwareConfig(mode="authors", bit_error=0.0, sa_ab=(0.0, 0.05)))
    assert np.array_equal(hw.predict_bits(x), ref)


def test_hardware_model_is_order_independent(seed):
    m = random_model([50, 31, 10], seed=seed)
    x = _images(seed + 1, 240, 50)
    for mode in ("physical", "authors"):
        cfg = HardwareConfig(mode=mode, seed=seed, neuron=NeuronParams(sa_noise=0.02))
        whole = BnnHardware(m, cfg).predict_bits(x, batch=240)
        hw = BnnHardware(m, cfg)
        parts = np.concatenate([hw.predict_bits(x[:100], image_offset=0, batch=7),
                                hw.predict_bits(x[100:], image_offset=100, batch=64)])
        assert np.array_equal(whole, parts)
        perm = np.random.default_rng(seed).permutation(240)[:40]
        hw2 = BnnHardware(m, cfg)
        shuffled = np.concatenate([hw2.predict_bits(x[[k]], image_offset=int(k)) for k in perm])
        assert np.array_equal(shuffled, whole[perm])


def test_hardware_errors_grow_with_bit_error_rate(seed):
    m = random_model([64, 63, 10], seed=seed)
    x = _images(seed, 400, 64)
    ref = m.predict_bits(x)
    agree = []
    for p in (0.0, 0.05, 0.3):
        hw = BnnHardware(m, HardwareConfig(mode="authors", bit_error=p, sa_ab=(0.0, 0.05), seed=seed))
        agree.append(np.mean(hw.predict_bits(x) == ref))
    assert agree[0] == 1.0 and agree[0] > agree[1] > agree[2]


def test_sa_offset_trim_with_bias_cells(seed):
    """Trimming the SA offsets with the bias cells removes most offset-induced decision errors."""
    m = random_model([201, 101, 10], seed=seed)
    x = _images(seed, 300, 201)
    perfect = BridgeParams(sigma_lrs_d2d=0, sigma_lrs_c2c=0, sigma_hrs_d2d=0, sigma_hrs_c2c=0, vm_sigma=0)
    offset_only = NeuronParams(sa_offset=0.02, sa_noise=0.0, cap_mismatch=0.0)
    rates = []
    for trim in (False, True):
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, bridge=perfect, neuron=offset_only,
                                           sa_trim=trim))
        hw.layer_bits(x, 0, np.arange(300))
        rates.append(hw.neuron_error_rate()[0])
    print(f"decision errors from a 20 mV SA offset: untrimmed {rates[0]:.4f}, trimmed {rates[1]:.4f}")
    assert rates[0] > 0.05 and rates[1] < rates[0] / 5
    with pytest.raises(ConfigError, match="sa_trim needs mode = 'physical'"):
        HardwareConfig(mode="authors", sa_trim=True)


# ---------------------------------------------------------------------------------------------
# measured SA offset calibration (golden.bnn.sa_calibration)
# ---------------------------------------------------------------------------------------------
_PERFECT = BridgeParams(sigma_lrs_d2d=0, sigma_lrs_c2c=0, sigma_hrs_d2d=0, sigma_hrs_c2c=0, vm_sigma=0)


def _offset_steps(hw, layer):
    """True SA offsets of ``layer`` in bias-cell steps (2 delta units), as the oracle sees them."""
    from golden.bnn.chip_model import lsb_volts, settle_gain
    st = hw._layer_static(layer)
    return st["offset"] / (2 * lsb_volts(st["n_tot"], hw.cfg.neuron) * settle_gain(hw.cfg.neuron, hw.cfg.clock))


def test_ramp_voltages_ideal_neuron():
    from golden.bnn.sa_calibration import ramp_voltages
    n, n_in, b, c_par = 5, 40, 6, 30.0
    rs = np.random.default_rng(1)
    o_in = rs.integers(0, 2, (n, n_in)).astype(float)
    v = ramp_voltages(o_in, np.ones((n, b)), np.zeros((n, b)), np.ones((n, n_in + b)), np.ones((n, n_in + b)),
                      0.8, c_par)
    delta = 2 * (o_in.sum(1)[:, None] + np.arange(b + 1)[None, :]) - (n_in + b)
    assert np.allclose(v, 0.8 * delta / (n_in + b + c_par))


def test_measured_calibration_recovers_offsets_within_quantisation(seed):
    """Noise-free SA: the ramp count finds every bracketed offset to the nearest bias cell (= the oracle)."""
    m = random_model([201, 101, 10], seed=seed)
    neuron = NeuronParams(sa_offset=0.006, sa_noise=0.0, cap_mismatch=0.0)
    hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, bridge=_PERFECT, neuron=neuron,
                                       sa_calibration="measured", sa_cal_repeats=1))
    exact = _offset_steps(hw, 0)
    cal = hw.layer_calibration(0)["result"]
    ok = ~cal.unbracketed
    assert ok.mean() > 0.9
    assert np.all(np.abs(cal.shift[ok] - exact[ok]) <= 0.5 + 1e-9)
    assert np.array_equal(cal.shift[ok], np.rint(exact[ok]).astype(np.int64))
    assert hw.layer_calibration(0)["conversions_per_neuron"] == 4 * (m.bias_cells(0) + 1) * 1


def test_measured_calibration_with_sa_noise(seed):
    """With the nominal 4 mV SA noise the estimate scatters as ~1.3/sqrt(repeats) bias-cell steps."""
    m = random_model([201, 101, 10], seed=seed)
    errs = {}
    for reps in (2, 32):
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, neuron=NeuronParams(sa_offset=0.006),
                                           sa_calibration="measured", sa_cal_repeats=reps))
        cal = hw.layer_calibration(0)["result"]
        ok = ~cal.unbracketed
        errs[reps] = float(np.std(cal.offset_delta[ok] / 2 - _offset_steps(hw, 0)[ok]))
    print("calibration error (steps) vs repeats:", errs)
    assert errs[32] < 0.45 and errs[32] < errs[2] < 1.5


def test_measured_calibration_is_deterministic_per_seed(seed):
    m = random_model([120, 61, 10], seed=seed)
    x = _images(seed, 50, 120)

    def run(s, **kw):
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=s, neuron=NeuronParams(sa_offset=0.02),
                                           sa_calibration="measured", **kw))
        return hw.predict_bits(x), hw.layer_calibration(0)["shift"].copy()

    p1, s1 = run(seed)
    p2, s2 = run(seed)
    assert np.array_equal(p1, p2) and np.array_equal(s1, s2)
    _, s3 = run(seed + 1)
    assert not np.array_equal(s1, s3)
    _, s4 = run(seed, sa_cal_repeats=9)
    assert not np.array_equal(s1, s4)


def test_measured_calibration_respects_bias_cell_limit(seed):
    """Offsets far beyond the bias-cell budget: k' is clipped to [0, B] and counted at the limit."""
    m = random_model([201, 101, 10], seed=seed)
    hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, bridge=_PERFECT,
                                       neuron=NeuronParams(sa_offset=0.1, sa_noise=0.0),
                                       sa_calibration="measured", sa_cal_repeats=1))
    st = hw._layer_static(0)
    cal = hw.layer_calibration(0)["result"]
    b = m.bias_cells(0)
    raw = cal.k - cal.shift
    assert np.all((cal.k_trimmed >= 0) & (cal.k_trimmed <= b))
    assert np.array_equal(cal.at_limit, (raw < 0) | (raw > b)) and cal.at_limit.sum() > 10
    assert hw.layer_calibration(0)["at_limit"] == int(cal.at_limit.sum())
    assert np.array_equal(cal.k_trimmed[cal.at_limit], np.where(raw[cal.at_limit] < 0, 0, b))
    assert cal.unbracketed.sum() > 10          # 100 mV offsets put most flips outside the ramp
    # the programmed bias cells are the thermometer code of k' (perfect bridges: outputs = stored bits)
    n_in = m.fan_in(0)
    assert np.array_equal(st["o1"][:, n_in:].sum(1).astype(np.int64), cal.k_trimmed)


def test_measured_calibration_without_bias_cells(seed):
    """A layer with fan-in 15 has no bias cells (B = 0): it stays uncalibrated, at no cost."""
    m = random_model([64, 15, 15, 10], seed=seed)
    assert m.bias_cells(1) == 0 and m.bias_cells(0) > 0
    x = _images(seed, 40, 64)
    hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, sa_calibration="measured"))
    ref = BnnHardware(m, HardwareConfig(mode="physical", seed=seed))
    hw.predict_bits(x)
    cal = hw.layer_calibration(1)
    assert cal["conversions_per_neuron"] == 0 and cal["unbracketed"] == 15 and not cal["shift"].any()
    assert np.array_equal(hw._layer_static(1)["o1"], ref._layer_static(1)["o1"])


def test_measured_trim_removes_offset_errors_like_the_oracle(seed):
    m = random_model([201, 101, 10], seed=seed)
    x = _images(seed, 300, 201)
    neuron = NeuronParams(sa_offset=0.01, sa_noise=0.002, cap_mismatch=0.0)
    rates = {}
    for cal in ("none", "oracle", "measured"):
        hw = BnnHardware(m, HardwareConfig(mode="physical", seed=seed, bridge=_PERFECT, neuron=neuron,
                                           sa_calibration=cal))
        hw.layer_bits(x, 0, np.arange(300))
        rates[cal] = hw.neuron_error_rate()[0]
    print("decision errors:", rates)
    assert rates["measured"] < rates["none"] / 2 and rates["measured"] < 1.5 * rates["oracle"] + 0.005


def test_sa_calibration_parameters_are_checked():
    with pytest.raises(ConfigError, match=r"hardware.sa_calibration = 'perfect' is not allowed: choose one of "
                                          r"\['none', 'oracle', 'measured'\]"):
        HardwareConfig(sa_calibration="perfect")
    with pytest.raises(ConfigError, match=r"hardware.sa_cal_repeats = 0 is out of range: allowed \[1, 1024\]"):
        HardwareConfig(sa_calibration="measured", sa_cal_repeats=0)
    with pytest.raises(ConfigError, match=r"hardware.sa_cal_repeats must be an integer"):
        HardwareConfig(sa_cal_repeats=2.5)
    with pytest.raises(ConfigError, match=r"hardware.sa_cal_patterns = 65 is out of range: allowed \[1, 64\]"):
        HardwareConfig(sa_calibration="measured", sa_cal_patterns=65)
    with pytest.raises(ConfigError, match="sa_calibration needs mode = 'physical'"):
        HardwareConfig(mode="authors", sa_calibration="measured")
    with pytest.raises(ConfigError, match="conflicts with hardware.sa_calibration = 'measured'"):
        HardwareConfig(sa_trim=True, sa_calibration="measured")
    assert HardwareConfig(sa_trim=True).sa_calibration == "oracle"
