"""Stuck-at fault injection: fractions, nesting, determinism, value replacement, parameter checks."""
import numpy as np
import pytest

from golden.physics.faults import HEALTHY, STUCK_HRS, STUCK_LRS, inject_stuck_faults, stuck_fault_mask
from golden.spec.params import ConfigError


def test_fractions(seed):
    n = 200_000
    m = stuck_fault_mask((400, 500), 0.01, 0.03, seed=seed)
    for code, p in ((STUCK_LRS, 0.01), (STUCK_HRS, 0.03), (HEALTHY, 0.96)):
        frac = np.mean(m == code)
        assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / n), (code, frac)


def test_nested_and_deterministic(seed):
    lo = stuck_fault_mask(50_000, 0.001, 0.002, seed=seed)
    hi = stuck_fault_mask(50_000, 0.01, 0.0, seed=seed)
    assert np.all(hi[lo == STUCK_LRS] == STUCK_LRS)  # raising a rate only adds faults
    assert np.array_equal(lo, stuck_fault_mask(50_000, 0.001, 0.002, seed=seed))
    assert not np.array_equal(lo, stuck_fault_mask(50_000, 0.001, 0.002, seed=seed, counter=1))
    assert not stuck_fault_mask(100, 0.0, 0.0, seed=seed).any()


def test_device_ids_pin_faults_to_devices(seed):
    full = stuck_fault_mask((100, 64), 0.05, 0.05, seed=seed)
    ids = np.arange(100 * 64, dtype=np.uint64).reshape(100, 64)
    sub = stuck_fault_mask((10, 64), 0.05, 0.05, seed=seed, device_ids=ids[30:40])
    assert np.array_equal(sub, full[30:40])


def test_inject_replaces_values(seed):
    g = np.full((300, 300), 5.0)
    out, mask = inject_stuck_faults(g, 0.02, 0.02, lrs_value=12.0, hrs_value=0.1, seed=seed)
    assert np.all(g == 5.0)  # input untouched
    assert np.all(out[mask == STUCK_LRS] == 12.0) and np.all(out[mask == STUCK_HRS] == 0.1)
    assert np.all(out[mask == HEALTHY] == 5.0)
    # array-valued replacement (e.g. per-device g_max)
    gmax = np.linspace(10, 12, 300)
    out2, mask2 = inject_stuck_faults(g, 0.02, 0.0, lrs_value=gmax, hrs_value=0.0, seed=seed)
    rows, cols = np.nonzero(mask2 == STUCK_LRS)
    assert np.array_equal(out2[rows, cols], gmax[cols])


@pytest.mark.parametrize("kw, name", [({"p_stuck_lrs": -0.1}, "p_stuck_lrs"), ({"p_stuck_hrs": 2.0}, "p_stuck_hrs"),
                                      ({"p_stuck_lrs": 0.6, "p_stuck_hrs": 0.6}, "p_stuck_lrs \\+ p_stuck_hrs")])
def test_bad_rates(kw, name):
    args = {"p_stuck_lrs": 0.0, "p_stuck_hrs": 0.0, **kw}
    with pytest.raises(ConfigError, match=name):
        stuck_fault_mask(10, args["p_stuck_lrs"], args["p_stuck_hrs"], seed=0)
