"""The SA-clock bound, the layer engine's cycles per image (golden cycle model) and the network engine's
(closed form against its cycle model)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from golden.bnn.throughput import (
    PAPER_SIZES,
    NetworkCycles,
    conversions_per_image,
    engine_cycles_per_image,
    layer_params,
    network_cycles,
    network_cycles_model,
    pass_cycles,
    sa_clock_bound,
)
from golden.spec.bnn_datapath_params import PHASES, BnnHwParams
from golden.spec.bnn_network_params import BnnNetHwParams
from golden.spec.params import ConfigError
from golden.twins.bnn_layer_engine import BnnLayerEngineModel


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


# --- the network engine: closed form against the cycle models --------------------------------------
def _random_hw(rng) -> BnnHwParams:
    m = int(rng.integers(1, 40))
    n, b = int(rng.integers(2, 60)), int(rng.integers(0, 8))
    return BnnHwParams(inputs=n, bias_cells=b, neurons=m, bank=int(rng.integers(1, min(8, m) + 1)),
                       read_width=int(rng.choice([1, 4, 16, 64, 256])), out_fifo=int(rng.choice([2, 3, 8])),
                       read_latency=int(rng.integers(2, 5)), popcount_mode=str(rng.choice(["tree", "lut6"])),
                       stage_levels=int(rng.integers(1, 4)),
                       **{p: int(rng.choice([1, 1, 2, 3, 5])) for p in PHASES})


def test_pass_recurrence_equals_the_layer_engine_model(seed):
    """Random geometries, phase lengths, read widths and FIFO depths (credit stalls included)."""
    rng = np.random.default_rng(seed)
    for _ in range(60):
        hw = _random_hw(rng)
        arr = rng.integers(0, 2, (hw.banks, hw.bank * hw.cells), dtype=np.uint8)
        for analog in (0, 1):
            m = BnnLayerEngineModel(hw, arr, rng.integers(0, 2, (1, hw.neurons), dtype=np.uint8))
            _, outs = m.run([(rng.integers(0, 2, hw.inputs, dtype=np.uint8), analog)])
            assert pass_cycles(hw, bool(analog)) == outs[-1][0] + 1, (analog, hw)


@pytest.mark.parametrize("sizes, bias, bank, layer", [
    ((20, 11, 15, 9, 4), (3, 2, 2), 2, {"read_width": 4}),
    ((20, 11, 15, 9, 4), (3, 2, 2), 3, {"read_width": 32, "precharge": 1, "evaluate": 3, "out_fifo": 2}),
    ((12, 7, 3), (1,), 1, {"read_width": 1, "popcount_mode": "lut6", "read_latency": 3}),
    ((30, 17, 17, 5), (3, 2), 1, {"read_width": 256, "out_fifo": 2}),     # full-row reads, credit-bound
    ((300, 13, 13, 4), (29, 28), 2, {"read_width": 4096}),  # full-row reads of 329-bridge rows (padded layer 0)
])
def test_network_closed_form_equals_the_network_model(sizes, bias, bank, layer):
    net = BnnNetHwParams(sizes=sizes, bias_cells=bias, bank=bank, bank_out=2,
                         layer=BnnHwParams(bank=1, neurons=2, **layer))
    for analog in (False, True):
        closed, model = network_cycles(net, analog), network_cycles_model(net, analog, images=3)
        assert closed == model, (analog, closed, model)
        assert closed.total == 1 + sum(closed.hidden) + closed.output


def test_paper_network_cycles():
    base = BnnHwParams(bank=1, neurons=2, read_width=32)
    net = BnnNetHwParams(layer=base)
    ones = BnnNetHwParams(layer=replace(base, **dict.fromkeys(PHASES, 1)))
    for n in (net, ones):
        c = network_cycles(n, True)
        assert c == network_cycles_model(n, True)
        assert len(set(c.hidden)) == 1 and c.output == network_cycles(net, False).output   # digital output layer
    # digital: one neuron per ceil(1127 / 32) = 36 reads, + read latency 2 + popcount 7 + 2
    hidden, output = 1025 * 36 + 11, 10 * 33 + 11      # the output layer: 1025 cells in 33 reads
    assert network_cycles(net, False) == NetworkCycles(1 + 3 * hidden + output, (hidden,) * 3, output)
    # full-row reads (the paper network's build): one read per neuron, the output layer in 10 reads
    full = BnnNetHwParams(layer=replace(base, read_width=4096))
    assert (full.hidden_hw.read_lanes, full.out_hw.read_lanes) == (1127, 1025)
    assert network_cycles(full, False) == NetworkCycles(1 + 3 * 1036 + 21, (1036,) * 3, 21)
    assert network_cycles(full, True) == network_cycles_model(full, True) == NetworkCycles(1 + 3 * 693 + 21, (693,) * 3, 21)
