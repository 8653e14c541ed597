"""The hardware-exact device model: exactly rounded operations only, order-independent results."""
import math
from decimal import Decimal, getcontext

import numpy as np
import pytest

import golden.physics.device as device_mod
import golden.spec.rng as rng_mod
from golden.physics.device import RERAM_BINARY, RERAM_HFO2, RESET, SET, DeviceModel, exp_exact
from golden.spec.params import ConfigError


def test_exp_exact_error_bound():
    getcontext().prec = 40
    seed = 5
    print(f"seed {seed}")
    xs = np.concatenate([np.linspace(-30, 30, 6001), np.random.default_rng(seed).uniform(-700, 700, 2000),
                         [0.0, -0.0, 1e-300, -1e-300, 0.5 * math.log(2), -0.5 * math.log(2)]])
    got = exp_exact(xs)
    worst = 0.0
    for x, y in zip(xs.tolist(), got.tolist()):
        ref = Decimal(x).exp()
        worst = max(worst, abs(float((Decimal(y) - ref) / ref)))
    assert worst < 1e-15, worst
    assert exp_exact(0.0) == 1.0


def _run(model, ids, order=None):
    """per_device, initial, 12 pulses (SET then RESET) and a read of devices ``ids`` in ``order``."""
    ids = np.asarray(ids, dtype=np.uint64)
    if order is not None:
        ids = ids[order]
    dev = model.per_device(ids)
    g = model.initial(ids, dev=dev)
    out = [dev.tab.copy(), g.copy()]
    for k in range(12):
        g = model.pulse(g, ids, k, SET if k < 7 else RESET, dev=dev)
        out.append(g.copy())
    out.append(model.read(g, ids, 3))
    if order is not None:
        inv = np.argsort(order)
        out = [o[inv] for o in out]
    return out


@pytest.mark.parametrize("params", [RERAM_HFO2, RERAM_HFO2.with_(gamma_set=2.0, gamma_reset=0.0, d2d_step=2.0,
                                                                  d2d_bounds=0.5, noise_state=0.1),
                                    RERAM_BINARY])
def test_exact_model_is_order_and_vectorisation_independent(params):
    seed = 9
    print(f"seed {seed}")
    m = DeviceModel(params, seed, exact=True)
    ids = np.arange(500, dtype=np.uint64) * 7919
    ref = _run(m, ids)
    shuffled = _run(m, ids, np.random.default_rng(seed).permutation(ids.size))
    for a, b in zip(ref, shuffled):
        assert np.array_equal(a, b)
    # element by element (0-d arrays: numpy's scalar loops instead of the SIMD ones)
    for i in (0, 17, 499):
        one = _run(m, ids[i:i + 1])
        for a, b in zip(ref, one):
            assert np.array_equal(a[i:i + 1], b)


def test_exact_path_calls_no_transcendental(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("transcendental function called on the hardware-exact path")

    for name in ("exp", "log", "log1p", "expm1", "power", "cos", "sin", "float_power"):
        monkeypatch.setattr(np, name, boom)
    monkeypatch.setattr(device_mod, "ndtri", boom)
    monkeypatch.setattr(rng_mod, "ndtri", boom)
    for params in (RERAM_HFO2, RERAM_HFO2.with_(gamma_set=2.0, gamma_reset=0.0, noise_state=0.2)):
        m = DeviceModel(params, 3, exact=True)
        out = _run(m, np.arange(64))
        assert np.all(np.isfinite(out[-1]))
        from golden.training.multi_device_synapses import DeviceStore
        st = DeviceStore(m, 64)
        st.apply(np.arange(10), np.full(10, SET), np.full(10, 3))
        assert params.nominal_step > 0
    with pytest.raises(AssertionError, match="transcendental"):      # the check itself works
        DeviceModel(RERAM_HFO2, 3).normal(1, 0, 0)


def test_exact_draws_are_normal_exact_and_differ_from_default():
    m, d = DeviceModel(RERAM_HFO2, 4, exact=True), DeviceModel(RERAM_HFO2, 4)
    ids = np.arange(100, dtype=np.uint64)
    assert np.array_equal(m.normal(1, ids, 2), rng_mod.normal_exact(4, 1, ids, 2))
    assert not np.array_equal(m.normal(1, ids, 2), d.normal(1, ids, 2))
    assert np.array_equal(m.uniform(2, ids, 2), d.uniform(2, ids, 2))


@pytest.mark.parametrize("field", ["gamma_set", "gamma_reset"])
def test_exact_mode_rejects_other_gammas(field):
    p = RERAM_HFO2.with_(**{field: 1.5})
    DeviceModel(p, 0)                                            # fine in the default mode
    with pytest.raises(ConfigError, match=rf"device\.{field} = 1\.5 is not allowed in hardware-exact mode: "
                                          r"choose one of \[0, 1, 2\]"):
        DeviceModel(p, 0, exact=True)


def test_mean_step_small_gammas_equal_power():
    for gs, gr in ((0.0, 1.0), (1.0, 2.0), (2.0, 0.0)):
        p = RERAM_HFO2.with_(gamma_set=gs, gamma_reset=gr)
        g = np.linspace(p.g_min, p.g_max, 1001)
        x = np.clip((g - p.g_min) / (p.g_max - p.g_min), 0.0, 1.0)
        assert np.array_equal(p.mean_step(g, SET), p.a_set * (1.0 - x) ** gs)
        assert np.array_equal(p.mean_step(g, RESET), -p.a_reset * x ** gr)
