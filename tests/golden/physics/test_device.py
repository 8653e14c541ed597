"""Device model: bounds, mean response, counter-based determinism, binary switching, presets."""
import numpy as np
import pytest

from golden.physics.device import (
    PCM_NANDAKUMAR,
    RERAM_BINARY,
    RERAM_HFO2,
    RESET,
    SET,
    DeviceModel,
    DeviceParams,
    device_params_from_dict,
    normal_keyed,
    stream_key,
    uniform_keyed,
)
from golden.spec import rng
from golden.spec.params import ConfigError
from golden.training.multi_device_synapses import DeviceStore


def test_keyed_draws_equal_golden_rng_bit_for_bit(seed):
    ids = np.random.default_rng(seed).integers(0, 2 ** 63, 500).astype(np.uint64)
    ids[:2] = [0, 2 ** 64 - 1]
    k = np.arange(500, dtype=np.uint64)
    for stream in (rng.STREAM_PULSE_MEAN, rng.STREAM_READ):
        key = stream_key(seed, stream)
        assert np.array_equal(normal_keyed(key, ids, k), rng.normal(seed, stream, ids, k))
        assert np.array_equal(uniform_keyed(key, ids[:, None], k[None, :5]), rng.uniform(seed, stream, ids[:, None], k[None, :5]))


@pytest.mark.parametrize("params", [RERAM_HFO2, PCM_NANDAKUMAR, RERAM_BINARY], ids=["reram", "pcm", "binary"])
def test_conductance_stays_within_device_bounds(params, seed):
    m = DeviceModel(params, seed)
    ids = np.arange(300)
    dev = m.per_device(ids)
    g = m.initial(ids, dev=dev)
    pol = rng.uniform(seed, 99, ids[:, None], np.arange(200)[None, :]) < 0.5
    for k in range(200):
        g = m.pulse(g, ids, k, pol[:, k].astype(int), dev=dev)
        assert np.all(g >= dev.g_min) and np.all(g <= dev.g_max)
    assert np.all(dev.g_min > 0) and np.all(dev.g_max > dev.g_min)


def test_mean_response_is_monotone_and_state_dependent(seed):
    p = RERAM_HFO2
    g = np.linspace(p.g_min, p.g_max, 50)
    up, down = p.mean_step(g, SET), p.mean_step(g, RESET)
    assert np.all(up >= 0) and np.all(np.diff(up) < 0), "SET step shrinks as G approaches g_max"
    assert np.all(down <= 0) and np.all(np.diff(down) < 0), "RESET step grows with G"
    # the population mean of a pulse train rises under SET and falls under RESET
    curve = DeviceModel(p, seed).response_curve(np.arange(4000), 60, 60).mean(axis=1)
    assert np.all(np.diff(curve[:21]) > 0), "rises until it saturates"
    assert np.all(np.diff(curve[61:81]) < 0)
    assert curve[60] > p.g_min + 0.95 * (p.g_max - p.g_min)
    assert curve[120] < p.g_min + 0.05 * (p.g_max - p.g_min)


def test_pulse_is_a_pure_function_of_seed_device_and_pulse_index(seed):
    """Applying each device's pulses in any interleaving gives bit-identical conductances."""
    m = DeviceModel(RERAM_HFO2, seed)
    ids = np.arange(40) * 7919 + 3
    pol = (rng.uniform(seed, 98, ids[:, None], np.arange(30)[None, :]) < 0.6).astype(int)
    # lockstep, vectorised over devices
    g = m.initial(ids)
    for k in range(30):
        g = m.pulse(g, ids, k, pol[:, k])
    # device by device, in a shuffled global order that keeps each device's own pulse order
    order = np.random.default_rng(seed).permutation(np.repeat(np.arange(40), 30))
    g2 = m.initial(ids)
    nxt = np.zeros(40, dtype=int)
    for d in order:
        k = nxt[d]
        g2[d] = m.pulse(g2[d], ids[d], k, pol[d, k])
        nxt[d] += 1
    assert np.array_equal(g, g2)
    # and the pulse index matters: a different k gives a different draw
    assert not np.array_equal(m.pulse(g, ids, 1000, SET), m.pulse(g, ids, 1001, SET))
    # the seed is the chip: another seed gives other devices
    assert not np.array_equal(DeviceModel(RERAM_HFO2, seed + 1).initial(ids), m.initial(ids))


def test_store_block_cache_matches_sequential_pulses(seed):
    m = DeviceModel(RERAM_HFO2, seed)
    store = DeviceStore(m, 64)
    ids = np.arange(64)
    cnt = rng.uniform(seed, 97, ids, 0) * 7
    cnt = cnt.astype(int)
    pol = (rng.uniform(seed, 96, ids, 0) < 0.5).astype(int)
    ref = m.pulses(store.g.copy(), ids, 0, pol, cnt)
    store.apply(ids, pol, cnt)
    store.apply(ids[::3], pol[::3], np.ones(len(ids[::3]), dtype=int))
    ref[::3] = m.pulse(ref[::3], ids[::3], cnt[::3], pol[::3])
    assert np.array_equal(store.g, ref)
    assert np.array_equal(store.k, cnt + (np.arange(64) % 3 == 0))


def test_binary_switching_probability(seed):
    p = RERAM_BINARY.with_(p_set=0.3, p_reset=0.7, d2d_step=0.0)
    m = DeviceModel(p, seed)
    n = 20000
    ids = np.arange(n)
    dev = m.per_device(ids)
    g = m.initial(ids, dev=dev)
    assert np.array_equal(g, dev.g_min)
    g1 = m.pulse(g, ids, 0, SET, dev=dev)
    frac = np.mean(g1 == dev.g_max)
    assert abs(frac - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    assert np.all((g1 == dev.g_max) | (g1 == dev.g_min))
    # SET on a high device and RESET on a low device do nothing
    assert np.array_equal(m.pulse(dev.g_max, ids, 1, SET, dev=dev), dev.g_max)
    assert np.array_equal(m.pulse(dev.g_min, ids, 1, RESET, dev=dev), dev.g_min)
    g2 = m.pulse(dev.g_max, ids, 1, RESET, dev=dev)
    assert abs(np.mean(g2 == dev.g_min) - 0.7) < 4 * np.sqrt(0.21 / n)


def test_pcm_preset_follows_the_published_laws():
    p = PCM_NANDAKUMAR
    g = np.linspace(p.g_min, p.g_max, 40)
    published_mean = -0.084 * g + 0.880 + 1.40 * 0.1
    assert np.max(np.abs(p.mean_step(g, SET) - published_mean)) < 0.013
    published_sigma = 0.091 * g + 0.260 + 2.15 * 0.1
    assert np.allclose(p.noise_add + p.noise_state * (g - p.g_min), published_sigma, rtol=0, atol=1e-12)
    # abrupt RESET: back near g_min whatever the state
    m = DeviceModel(p, 1)
    out = m.pulse(np.full(50, 9.0), np.arange(50), 3, RESET)
    assert np.all(out < 0.2)


def test_read_noise_statistics_and_determinism(seed):
    p = RERAM_HFO2.with_(read_mult=0.02, read_add=0.1)
    m = DeviceModel(p, seed)
    n = 40000
    g = np.full(n, 30.0)
    r = m.read(g, np.arange(n), 5)
    assert np.array_equal(r, m.read(g, np.arange(n), 5))
    assert not np.array_equal(r, m.read(g, np.arange(n), 6))
    expected = np.sqrt((0.02 * 30) ** 2 + 0.1 ** 2)
    assert abs(r.std() / expected - 1) < 0.03
    assert abs(r.mean() - 30.0) < 4 * expected / np.sqrt(n)


def test_nominal_step_and_device_spread(seed):
    p = RERAM_HFO2
    assert p.nominal_step == pytest.approx(0.5 * (p.a_set * 0.5 + p.a_reset * 0.5))
    dev = DeviceModel(p, seed).per_device(np.arange(50000))
    assert np.std(np.log(dev.up)) == pytest.approx(p.d2d_step, rel=0.05)
    assert np.exp(np.mean(np.log(dev.g_max))) == pytest.approx(p.g_max, rel=0.01)


@pytest.mark.parametrize("kw, field", [
    ({"g_max": 1.0}, "device.g_max"), ({"a_set": 0.0}, "device.a_set"), ({"a_reset": 1e6}, "device.a_reset"),
    ({"gamma_set": -1.0}, "device.gamma_set"), ({"noise_mult": float("nan")}, "device.noise_mult"),
    ({"reset_mode": "melt"}, "device.reset_mode"), ({"binary": 1}, "device.binary"),
    ({"p_set": 1.5}, "device.p_set"), ({"g_init": 100.0}, "device.g_init"), ({"read_mult": -0.1}, "device.read_mult"),
])
def test_bad_device_params_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        DeviceParams(**kw)


def test_bad_model_inputs():
    with pytest.raises(ConfigError, match="unknown key device.foo"):
        device_params_from_dict({"foo": 1})
    with pytest.raises(ConfigError, match="seed"):
        DeviceModel(RERAM_HFO2, -1)
    with pytest.raises(ValueError, match="polarity"):
        DeviceModel(RERAM_HFO2, 0).pulse(10.0, 0, 0, 2)
