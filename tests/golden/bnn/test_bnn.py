"""Golden BNN (issue 4): training, threshold folding / bias cells, bit-exact integer inference, save/load."""
from __future__ import annotations

import numpy as np
import pytest

from golden.bnn.model_params import BnnTrainParams, BridgeParams, NeuronParams, n_bias_cells, parse_hidden
from golden.bnn.network import (
    BnnModel,
    FloatBnn,
    binarize_images,
    popcount_xnor,
    random_model,
    threshold_from_mean,
    threshold_range,
    train_bnn,
)
from golden.spec.params import ConfigError


@pytest.fixture(scope="module")
def digits_run():
    """A small BNN trained on scikit-learn digits (shared by the tests of this module)."""
    from golden.data import datasets
    data = datasets.load("digits")
    params = BnnTrainParams(dataset="digits", hidden=(127, 127), epochs=8, batch=50, lr=1e-2,
                            lr_final=1e-4, seed=7)
    return data, train_bnn(params, data=data)


def test_training_on_digits_beats_baselines(digits_run):
    """Baselines measured in the test itself: the majority class and a logistic regression on the same
    binarised inputs. The BNN must be far above the first and within 8 points of the second."""
    from sklearn.linear_model import LogisticRegression
    data, res = digits_run
    xb_tr, xb_te = binarize_images(data.x_train), binarize_images(data.x_test)
    from golden.bnn.network import blas_threads
    with blas_threads(1):
        lin = LogisticRegression(max_iter=2000).fit(xb_tr, data.y_train).score(xb_te, data.y_test)
    majority = np.mean(data.y_test == np.bincount(data.y_train).argmax())
    print(f"BNN {res.software_accuracy:.4f}, logistic regression on the same bits {lin:.4f}, "
          f"majority class {majority:.4f}")
    assert res.software_accuracy > 5 * majority
    assert res.software_accuracy > lin - 0.08
    assert res.model.accuracy(data.x_test, data.y_test) == pytest.approx(res.software_accuracy)


def test_integer_inference_equals_float_forward(digits_run):
    data, res = digits_run
    net: FloatBnn = res.float_net
    model = net.fold(clip=False)
    xb = binarize_images(data.x_test)
    hidden, s = net.forward(xb.astype(np.float32) * 2 - 1)
    outs = model.forward_bits(xb)
    for li, (h, o) in enumerate(zip(hidden, outs[:-1])):
        assert np.array_equal((h > 0).astype(np.uint8), o), f"hidden layer {li} differs"
    n_last = model.fan_in(model.n_layers - 1)
    assert np.array_equal(outs[-1], np.rint((s + n_last) / 2).astype(np.int32))   # p = (s + N)/2
    assert np.array_equal(np.argmax(s, 1), model.predict_bits(xb))


def test_clipped_model_is_what_training_used(digits_run):
    """Training subtracts the BN mean clipped to [-B, B]; folding clips T to the same range, so the
    clipped integer model reproduces the float forward with clipped means exactly."""
    data, res = digits_run
    net = res.float_net
    model = res.model
    clipped_mu = [np.clip(m, -n_bias_cells(w.shape[1]), n_bias_cells(w.shape[1]))
                  for m, w in zip(net.mu, net.latent[:-1])]
    net_c = FloatBnn(net.latent, clipped_mu, net.alpha, net.bias_fraction)
    xb = binarize_images(data.x_test)
    _, s = net_c.forward(xb.astype(np.float32) * 2 - 1)
    assert np.array_equal(np.argmax(s, 1), model.predict_bits(xb))
    print("neurons clipped per hidden layer:", model.clipped)


def test_threshold_folding_property(seed):
    """Property: for random BN means and every popcount, ``p >= T`` equals ``sign(s - mu) >= 0`` and
    the bias-cell majority ``p + k >= (N_tot + 1)/2`` equals ``p >= T`` inside the bias range."""
    rng = np.random.default_rng(seed)
    for n in (1, 2, 23, 64, 784, 1025):
        b = n_bias_cells(n)
        assert (n + b) % 2 == 1, "N_tot must be odd"
        mu = np.concatenate([rng.uniform(-n, n, 200), rng.integers(-n, n + 1, 50).astype(float),
                             [-b - 1.0, -b, b, b + 1.0, 0.0, -0.5, 0.5]])
        t = threshold_from_mean(mu, n)
        p = np.arange(n + 1)
        s = 2 * p - n
        assert np.array_equal(p[None, :] >= t[:, None], s[None, :] - mu[:, None] >= 0)
        lo, hi = threshold_range(n)
        inside = (t >= lo) & (t <= hi)
        assert np.all(inside[np.abs(mu) <= b]), "every |mu| <= B must be realisable"
        k = (n + b + 1) // 2 - t
        assert np.all((k[inside] >= 0) & (k[inside] <= b))
        maj = (p[None, :] + k[:, None]) >= (n + b + 1) // 2
        assert np.array_equal(maj[inside], (p[None, :] >= t[:, None])[inside])
        # the SA input delta = 2*(p+k) - N_tot is never 0
        assert np.all((2 * (p[None, :] + k[inside][:, None]) - (n + b)) != 0)


def test_bias_cells_and_extended_weights(seed):
    m = random_model([40, 31, 17, 10], seed=seed)
    x = np.random.default_rng(seed).integers(0, 2, (64, 40), dtype=np.uint8)
    h = x
    for li in range(m.n_layers - 1):
        w_ext = m.extended_weights(li)
        assert w_ext.shape == (m.layers[li][0].shape[0], m.n_tot(li))
        x_ext = np.concatenate([h, np.ones((len(h), m.bias_cells(li)), np.uint8)], 1)
        p_tot = popcount_xnor(x_ext, w_ext)
        delta = 2 * p_tot - m.n_tot(li)
        assert np.all(delta != 0)
        assert np.array_equal((delta > 0).astype(np.uint8), m.layer_bits(h, li))
        h = m.layer_bits(h, li)
    assert [n_bias_cells(40), n_bias_cells(31)] == [5, 2]
    assert n_bias_cells(784) == 79 and n_bias_cells(1025) == 102


def test_popcount_matches_bitwise(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (20, 77), dtype=np.uint8)
    w = rng.integers(0, 2, (9, 77), dtype=np.uint8)
    ref = np.array([[int(np.sum(xi == wj)) for wj in w] for xi in x])
    assert np.array_equal(popcount_xnor(x, w), ref)


def test_binarize_images():
    assert binarize_images(np.array([0, 127, 128, 255], np.uint8)).tolist() == [0, 0, 1, 1]
    assert binarize_images(np.array([127 / 255, 128 / 255], np.float32)).tolist() == [0, 1]


def test_save_load_roundtrip(tmp_path, seed):
    m = random_model([30, 15, 11, 10], seed=seed)
    m.meta = {"note": "x"}
    path = m.save(tmp_path / "m.npz")
    m2 = BnnModel.load(path)
    assert m2.sizes == m.sizes and m2.meta == {"note": "x"}
    for (w, t), (w2, t2) in zip(m.layers, m2.layers):
        assert np.array_equal(w, w2) and (t is None and t2 is None or np.array_equal(t, t2))
    x = np.random.default_rng(seed).integers(0, 2, (50, 30), dtype=np.uint8)
    assert np.array_equal(m.predict_bits(x), m2.predict_bits(x))


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden": (1024,)}, r"bnn_train\.hidden\[0\] = 1024 is even"),
    ({"hidden": (1,)}, r"bnn_train\.hidden\[0\] = 1 is out of range"),
    ({"epochs": 0}, r"bnn_train\.epochs = 0 is out of range: allowed \[1, 1000\]"),
    ({"dataset": "cifar"}, r"bnn_train\.dataset = 'cifar' is not allowed"),
    ({"lr": 0.0}, r"bnn_train\.lr = 0\.0 is out of range"),
    ({"bias_fraction": 0.7}, r"bnn_train\.bias_fraction"),
])
def test_bad_train_config_names_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BnnTrainParams(**kwargs)


@pytest.mark.parametrize("cls, kwargs, match", [
    (BridgeParams, {"r_hrs": 5e3}, r"bnn_bridge\.r_hrs = 5000\.0 must be greater than bnn_bridge\.r_lrs"),
    (BridgeParams, {"sigma_hrs_d2d": -1.0}, r"bnn_bridge\.sigma_hrs_d2d"),
    (BridgeParams, {"vm_ratio": 1.0}, r"bnn_bridge\.vm_ratio"),
    (NeuronParams, {"sa_clock_ns": 0.5}, r"bnn_neuron\.sa_clock_ns = 0\.5 is out of range: allowed \[1\.0, 100\.0\]"),
    (NeuronParams, {"cap_mismatch": 0.5}, r"bnn_neuron\.cap_mismatch"),
])
def test_bad_hardware_config_names_field(cls, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        cls(**kwargs)


def test_parse_hidden():
    assert parse_hidden("1025,1025,1025") == (1025, 1025, 1025)
    with pytest.raises(ConfigError, match=r"bnn_train\.hidden"):
        parse_hidden("10x5")
    assert BnnTrainParams(hidden="31,15").hidden == (31, 15)
