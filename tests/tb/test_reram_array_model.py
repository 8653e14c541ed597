"""The behavioural array: golden CrossbarArray rules, bit-identity of its two paths, ArrayModel checks."""
from __future__ import annotations

import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from golden.physics.crossbar_state import CrossbarArray, FollowingReader
from golden.physics.device import PRESETS, DeviceModel
from golden.spec.params import AccelParams, ConfigError
from golden.spec.transactions import RESET, SET, Pulse
from tb.models.reram_array import ArrayModel, Window, _one_hot


def small(rows=6, cols=3, n=2, diff=True, cell="1T1R"):
    return AccelParams().with_(array={"rows": rows, "cols": cols, "cell": cell},
                               synapse={"devices": n, "increment": 1, "differential": diff})


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_vectorised_and_one_at_a_time_are_bit_identical(preset, seed):
    """Golden path (whole list, rounds) == testbench path (one pulse at a time, devices in another
    order), float64-exact, for every device preset (analog, binary, abrupt RESET)."""
    p = small()
    rng = random.Random(seed)
    pulses = [Pulse(i, rng.randrange(6), rng.randrange(p.phys_cols), rng.randrange(2)) for i in range(3000)]
    a = CrossbarArray(p, DeviceModel(PRESETS[preset], seed=seed))
    a.apply(pulses)
    b = CrossbarArray(p, DeviceModel(PRESETS[preset], seed=seed))
    by_dev: dict[tuple[int, int], list[Pulse]] = {}
    for q in pulses:
        by_dev.setdefault((q.row, q.phys_col), []).append(q)
    for key in sorted(by_dev, reverse=True):
        for q in by_dev[key]:
            b.pulse(q.row, q.phys_col, q.polarity)
    assert (a.k == b.k).all() and a.k.sum() == len(pulses)
    assert (a.g_flat == b.g_flat).all()
    assert not (a.g_flat == CrossbarArray(p, DeviceModel(PRESETS[preset], seed=seed)).g_flat).all()


def test_device_ids_reads_and_adc_code(seed):
    p = small()
    a = CrossbarArray(p, DeviceModel(seed=seed), adc_width=6)
    assert a.device_id(2, 5) == 2 * p.phys_cols + 5
    with pytest.raises(IndexError):
        a.device_id(6, 0)
    with pytest.raises(IndexError):
        a.apply([Pulse(0, 0, p.phys_cols, SET)])
    assert a.adc_code(0.0) == 0 and a.adc_code(a.full_scale) == 63 and a.adc_code(3 * a.full_scale) == 63
    assert a.adc_code(a.full_scale / 63 * 10.4) == 10 and a.adc_code(a.full_scale / 63 * 10.6) == 11
    r0, r1 = a.read(1, 1), a.read(1, 1)
    assert r0 != r1 and a.r[a.device_id(1, 1)] == 2      # read noise: counter-based, per read
    b = CrossbarArray(p, DeviceModel(seed=seed), adc_width=6)
    assert b.read(1, 1) == r0                            # ... and reproducible
    with pytest.raises(ConfigError, match="adc_width = 0"):
        CrossbarArray(p, DeviceModel(), adc_width=0)


def test_set_raises_and_reset_lowers_conductance(seed):
    p = small(n=1, diff=False)
    a = CrossbarArray(p, DeviceModel(seed=seed))
    g0 = a.g.copy()
    a.apply([Pulse(i, 0, 0, SET) for i in range(10)])
    g_set = a.g[0, 0]
    a.apply([Pulse(i, 0, 0, RESET) for i in range(10)])
    assert g_set > g0[0, 0] + 5 and a.g[0, 0] < g_set - 5


def test_following_reader_reads_after_the_listed_pulses(seed):
    p = small()
    pulses = [Pulse(i, 0, 1, SET) for i in range(5)]
    f = FollowingReader(CrossbarArray(p, DeviceModel(seed=seed)))
    code = f(0, 1, pulses[:3])
    ref = CrossbarArray(p, DeviceModel(seed=seed))
    ref.apply(pulses[:3])
    assert code == ref.read_code(0, 1)
    ref.apply(pulses[3:])
    assert (f.finish(pulses).g_flat == ref.g_flat).all()


def test_one_hot_and_window_checks():
    assert _one_hot(0) is None and _one_hot(0b1010) is None and _one_hot(1 << 77) == 77
    counter = SimpleNamespace(period=10)
    m = ArrayModel(SimpleNamespace(), CrossbarArray(small(), DeviceModel()), counter=counter)
    m.write_windows = [Window(0, 2), Window(5, 7), Window(20, 23)]
    m.read_windows = [Window(2, 4), Window(6, 8)]
    bad = m.check_windows(width=2)
    assert bad == ["cycle 20: pulse width 3, expected 2",
                   "cycle 6: write window Window(start=5, end=7) overlaps read window Window(start=6, end=8)"]
    with pytest.raises(ValueError, match="time-based"):
        ArrayModel(SimpleNamespace(), m.array, counter=SimpleNamespace(period=None))


@pytest.mark.cocotb
@pytest.mark.parametrize("device", ["reram"])
def test_cocotb_array_model_on_decoder_lines(device, simulator, seed, tmp_path):
    """ArrayModel on CrossbarAddressing's line enables (reuses the addressing builds): pulses, read
    codes (incl. 2T2R pair reads) and final conductances equal the golden array's, under each
    simulator (Icarus updates the lines of one edge one by one: the model must read them settled)."""
    from hw.crossbar_addressing import CrossbarAddressing
    from tb.kit.runner import run_cocotb

    # the "n3-2t2r-odd" configuration of tests/blocks/test_crossbar_addressing.py (same build)
    p = AccelParams().with_(array={"rows": 5, "cols": 3, "cell": "2T2R"},
                            synapse={"devices": 3, "increment": 2, "differential": False})
    stats = tmp_path / "stats.json"
    run_cocotb(CrossbarAddressing(p), toplevel="crossbar_addressing", build_args=("--assert",),
               test_module="tb.envs.crossbar_addressing_tb", testcase="array_model_on_lines",
               config={"params": p.to_dict(), "seed": seed, "operations": 1000, "device": device,
                       "stats_path": str(stats)}, simulator=simulator)
    s = json.loads(stats.read_text())
    print(s)
    assert s["pulses"] > 1000 and s["reads"] > 200
    assert np.isfinite(s["cycles"])
