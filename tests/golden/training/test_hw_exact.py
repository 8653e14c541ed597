"""Hardware-exact training: the host's exact softmax error, and a stored digest of a short run."""
import math
from fractions import Fraction

import numpy as np
import pytest

from golden.spec.params import ConfigError
from golden.training import hw_exact as hx

#: sha256 of every ADC code, pulse and refresh of the short runs below, and of the final conductance
#: codes (golden.training.hw_exact.HwExactMLP.digest); a change means the arithmetic changed
DIGESTS = {
    False: "b6c97411bbb9774c750fe32a1969eeba3349a7972bddb7f9f1587ddd2b90a6e1",
    True: "3711afd78e3821849f019e6c379a1e28103f29258169f4b49d4534e116fb53ff",
}
#: test accuracy on the first 80 test samples after 96 training samples (pulses, refreshes)
ACCURACY = {False: 0.0875, True: 0.4125}


def short_run(differential: bool) -> dict:
    from golden.data.datasets import load
    data = load("digits").subset(train=96, test=80)
    cfg = hx.hw_exact_config(4, differential, 6, 6, hidden=16, epochs=1, seed=3, refresh_every=16, refresh_threshold=0.2, lr=0.03,
                             calib_samples=32)
    return hx.train_hw_exact(data, cfg)


@pytest.mark.parametrize("differential", [False, True], ids=["non-differential", "differential"])
def test_short_run_digest(differential, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("transcendental function called on the hardware-exact path")

    from golden.data.datasets import load
    load("digits")                                      # data loading is not on the path
    import golden.physics.device as dm
    import golden.spec.rng as rm
    for name in ("exp", "log", "log1p", "expm1", "power", "cos", "sin"):
        monkeypatch.setattr(np, name, boom)
    monkeypatch.setattr(dm, "ndtri", boom)
    monkeypatch.setattr(rm, "ndtri", boom)
    r = short_run(differential)
    print(differential, r["digest"], r["test_accuracy"], r["pulses"], r["refreshes"])
    assert r["digest"] == DIGESTS[differential]
    assert r["test_accuracy"] == ACCURACY[differential]
    assert r["pulses"] > 0 and (r["refreshes"] > 0) == differential


def test_digest_does_not_depend_on_blas_threads():
    """The same run with the BLAS on 2 threads (another summation order in the matrix products)."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=2, user_api="blas"):
        assert short_run(False)["digest"] == DIGESTS[False]


def test_exp_table():
    t = hx.exp_table(4)
    assert t[0] == 1 << 30 and t[-1] == 0 and np.all(np.diff(t) <= 0)
    for d in (1, 7, 16, 100, len(t) - 2):
        assert abs(t[d] - 2 ** 30 * math.exp(-d / 16)) <= 0.5 + 1e-6
    assert 2 ** 30 * math.exp(-(len(t) - 1) / 16) < 0.5


def test_softmax_delta_codes_against_fractions():
    seed = 4
    print(f"seed {seed}")
    r = np.random.default_rng(seed)
    table = hx.exp_table(4)
    for _ in range(200):
        z = r.integers(-400, 400, 10)
        lab = int(r.integers(0, 10))
        k = hx.delta_factor(float(r.uniform(0.001, 0.05)), float(r.uniform(1e-4, 1e-2)), 8)
        got = hx.softmax_delta_codes(z, lab, k, table, -32768, 32767)
        e = [int(table[min(int(z.max() - v), len(table) - 1)]) for v in z]
        s = sum(e)
        for i in range(10):
            v = k * Fraction(e[i] - (s if i == lab else 0), s)
            want = min(max(math.floor(v + Fraction(1, 2)), -32768), 32767)
            assert got[i] == want


def test_error_codes_round_and_saturate():
    assert hx.error_codes(np.array([0, 1, 2, 3, -1, -2, -3, 1000, -1000]), 1, 4).tolist() == \
        [0, 1, 1, 2, 0, -1, -1, 7, -8]
    assert hx.error_codes(np.array([5, -9]), 0, 4).tolist() == [5, -8]


def test_config_errors():
    from golden.training.in_situ import make_config
    with pytest.raises(ConfigError, match=r"training\.lr_schedule = 'cosine' is not allowed in hardware-exact"):
        hx.HwExactConfig(training=make_config(lr_schedule="cosine"))
    with pytest.raises(ConfigError, match=r"mvm\.adc_width = 13 is out of range: allowed \[2, 12\]"):
        hx.hw_exact_config(adc_width=13)
    with pytest.raises(ConfigError, match=r"mvm\.input_width = 1 is out of range: allowed \[2, 8\]"):
        hx.hw_exact_config(input_width=1)
    with pytest.raises(ConfigError, match=r"hw_exact\.x_frac = 4 is out of range: allowed \[0, 3\]"):
        hx.hw_exact_config(input_width=4, x_frac=4)
    from golden.physics.device import RERAM_HFO2
    cfg = hx.hw_exact_config(device=RERAM_HFO2.with_(gamma_set=1.5), hidden=4)
    with pytest.raises(ConfigError, match=r"device\.gamma_set = 1\.5 is not allowed in hardware-exact mode"):
        hx.HwExactMLP(cfg, 8, 10, np.zeros((2, 8), np.float32), np.zeros(2, np.int64))


def test_cli_train_hw_exact(capsys):
    from tb.cli.main import main
    assert main(["train", "--hw-exact", "--dataset", "digits", "--hidden", "4", "--train-samples", "20",
                 "--epochs", "1", "--quiet", "--no-fp", "--input-width", "4", "--adc-width", "5"]) == 0
    out = capsys.readouterr().out
    assert "hardware-exact: N = 4 non-differential, input 4 bits, ADC 5 bits" in out and "digest " in out
    assert main(["train", "--hw-exact", "--adc-width", "13"]) == 2
    assert "--adc-width" in capsys.readouterr().err


@pytest.mark.parametrize("differential", [False, True])
def test_plan_update_codes_equals_plan_update(differential):
    """Codes given directly plan the same pulses and chi as the float path that forms those codes."""
    from golden.physics.device import DeviceModel
    from golden.spec.params import AccelParams
    from golden.training.multi_device_synapses import ArrayConfig, SynapseArray
    seed = 8
    print(f"seed {seed}")
    p = AccelParams().with_(array={"rows": 12, "cols": 6}, synapse={"devices": 3, "increment": 2,
                                                                    "differential": differential})
    a, b = (SynapseArray(p, DeviceModel(seed=seed), ArrayConfig(w_max=1.0)) for _ in range(2))
    r = np.random.default_rng(seed)
    for _ in range(20):
        x = r.uniform(0, 2, 12).astype(np.float32) * (r.random(12) < 0.7)
        d = r.normal(0, 3, 6).astype(np.float32)
        lr = float(r.uniform(0.001, 0.05))
        xq, dq = a.frame_codes(x, d, lr)
        pa = a.plan_update(None, x, d, lr)
        pb = b.plan_update_codes(None, xq.astype(np.int64), dq.astype(np.int64))
        for f in ("ids", "polarity", "count", "rows", "cols"):
            assert np.array_equal(getattr(pa, f), getattr(pb, f))
        assert np.array_equal(a.chi, b.chi)
        a.commit(pa)
        b.commit(pb)
