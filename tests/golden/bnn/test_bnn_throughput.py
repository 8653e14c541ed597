"""The SA-clock bound and the engine's cycles per image (golden cycle model)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from golden.bnn.throughput import (
    PAPER_SIZES,
    conversions_per_image,
    engine_cycles_per_image,
    layer_params,
    sa_clock_bound,
)
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.params import ConfigError


def test_paper_bound():
    b = sa_clock_bound(PAPER_SIZES, 3, 10.0)
    assert b.conversions == 342 * 3 + 4 == 1030
    assert b.ns_per_image == pytest.approx(10_300.0) and b.images_per_s == pytest.approx(97_087.4, rel=1e-5)
    assert conversions_per_image((64, 33), 4) == 9
    with pytest.raises(ConfigError, match=r"bnn\.bank"):
        conversions_per_image(PAPER_SIZES, 0)
    with pytest.raises(ConfigError, match=r"sa_clock_ns"):
        sa_clock_bound(PAPER_SIZES, 3, 0.0)


def test_layer_params_follow_the_trained_network():
    hws = layer_params(PAPER_SIZES, BnnHwParams(bank=3))
    assert [(h.inputs, h.bias_cells, h.neurons, h.bank) for h in hws] == [
        (784, 79, 1025, 3), (1025, 102, 1025, 3), (1025, 102, 1025, 3), (1025, 0, 10, 3)]
    assert [h.reads_per_neuron for h in hws] == [27, 36, 36, 33]


def test_pipelined_analog_reaches_one_conversion_per_longest_phase():
    sizes = (40, 30, 7)
    base = BnnHwParams(bank=3)
    ones = replace(base, precharge=1, evaluate=1)
    total, _ = engine_cycles_per_image(sizes, ones, analog=True)
    conv = conversions_per_image(sizes, 3)
    assert conv <= total <= conv + 2 * 12          # one per cycle, plus pipeline fill per layer
    total2, _ = engine_cycles_per_image(sizes, base, analog=True)
    assert 2 * conv <= total2 <= 2 * conv + 2 * 14   # the default's longest phase is 2 cycles
    _, per_d = engine_cycles_per_image(sizes, base, analog=False)
    c = layer_params(sizes, base)[0].reads_per_neuron            # 45 cells at width 32: 2 reads
    assert c == 2 and 30 * c <= per_d[0] <= 30 * c + 20           # one neuron per C cycles, plus the drain
