"""Throughput of BNN inference on the BnnLayerEngine and the BnnNetworkEngine: cycles per image from the golden cycle
model, and the sense-amplifier-clock bound it is compared with.

* **SA-clock bound** (:func:`sa_clock_bound`): with ``K`` sense amplifiers per bank a layer of ``M``
  neurons needs ``ceil(M / K)`` conversions; an SA that converts once per SA clock ``t_SA`` bounds the
  network at ``sum_l ceil(M_l / K)`` conversions, i.e. ``1 / (conversions * t_SA)`` images/s. For the
  paper's 784-1025-1025-1025-10 network with K = 3 and t_SA = 10 ns: 3 * 342 + 4 = 1030 conversions,
  10.3 us, 97.1k images/s.
* **Engine cycles per image** (:func:`engine_cycles_per_image`): the layers run one after the other
  on one engine configured for each layer (its ``BnnHwParams``: inputs, bias cells, neurons, bank,
  read width, phase lengths); per layer the steady-state interval between two images' ``x`` transfers
  of :class:`golden.twins.bnn_layer_engine.BnnLayerEngineModel` with ``y`` always ready. Images
  never overlap in the engine, so that interval is the layer's cost per image.
* **Network engine cycles per image** (:func:`network_cycles`): the closed form of
  :class:`golden.twins.bnn_network_engine.BnnNetworkEngineModel` -- per pass a recurrence over the
  banks (digital: reads and output-word credits; analog: the pipelined sequencer's stage entries and
  the credits), ``1 + sum(hidden passes) + output pass``; :func:`network_cycles_model` runs the
  cycle model itself (tests/golden/bnn check both against each other).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np

from golden.bnn.model_params import n_bias_cells
from golden.spec.bnn_datapath_params import BnnHwParams
from golden.spec.checks import check_float, check_int

#: The paper's MNIST network (Ezzadeen et al.): 784 inputs, three hidden layers of 1025, 10 outputs.
PAPER_SIZES = (784, 1025, 1025, 1025, 10)


def conversions_per_image(sizes: tuple[int, ...], bank: int) -> int:
    """Analog conversions (one bank of ``bank`` neurons each) one image needs: ``sum ceil(M_l / K)``."""
    check_int("bnn.bank", bank, 1, 64)
    return sum(-(-m // bank) for m in sizes[1:])


@dataclass(frozen=True)
class SaClockBound:
    """The SA-clock bound of a network (:func:`sa_clock_bound`)."""

    conversions: int          # per image
    sa_clock_ns: float
    ns_per_image: float
    images_per_s: float


def sa_clock_bound(sizes: tuple[int, ...] = PAPER_SIZES, bank: int = 3, sa_clock_ns: float = 10.0) -> SaClockBound:
    """Images/s when every SA clock of ``sa_clock_ns`` completes one conversion of ``bank`` neurons."""
    check_float("sa_clock_ns", sa_clock_ns, 0.1, 1000.0)
    n = conversions_per_image(sizes, bank)
    t = n * sa_clock_ns
    return SaClockBound(n, sa_clock_ns, t, 1e9 / t)


def layer_params(sizes: tuple[int, ...], base: BnnHwParams, bias_fraction: float = 0.05) -> list[BnnHwParams]:
    """One ``BnnHwParams`` per layer (bias cells as the trained network: none on the output layer)."""
    out = []
    for li, (n_in, m) in enumerate(pairwise(sizes)):
        last = li == len(sizes) - 2
        b = 0 if last else n_bias_cells(n_in, bias_fraction)
        k = min(base.bank, m)
        out.append(replace(base, inputs=n_in, bias_cells=b, neurons=m, bank=k))
    return out


def layer_cycles_per_image(hw: BnnHwParams, analog: bool, images: int = 3, seed: int = 0) -> float:
    """Steady-state cycles between two images' ``x`` transfers of the golden cycle model (``y`` and
    ``x`` always ready), on a random array and random inputs."""
    from golden.twins.bnn_layer_engine import BnnLayerEngineModel

    rng = np.random.default_rng(seed)
    array = rng.integers(0, 2, (hw.banks, hw.bank * hw.cells), dtype=np.uint8)
    x = rng.integers(0, 2, (images, hw.inputs), dtype=np.uint8)
    dec = rng.integers(0, 2, (images, hw.neurons), dtype=np.uint8)
    model = BnnLayerEngineModel(hw, array, dec)
    accepted, _ = model.run([(x[i], int(analog)) for i in range(images)])
    starts = [c for c, _ in accepted]
    return (starts[-1] - starts[0]) / (len(starts) - 1)


def engine_cycles_per_image(sizes: tuple[int, ...] = PAPER_SIZES, base: BnnHwParams | None = None,
                            analog: bool = True) -> tuple[float, list[float]]:
    """``(total, per layer)`` engine cycles per image, the layers run one after the other."""
    base = base if base is not None else BnnHwParams(bank=3)
    per = [layer_cycles_per_image(hw, analog) for hw in layer_params(sizes, base)]
    return float(sum(per)), per


# ---------------------------------------------------------------------------------------------
# the network engine (hidden layers time-multiplexed through one layer engine, output layer + argmax)
# ---------------------------------------------------------------------------------------------
def _bank_sizes(hw: BnnHwParams) -> list[int]:
    """Neurons of each bank (the last one may be short)."""
    return [min(hw.bank, hw.neurons - b * hw.bank) for b in range(hw.banks)]


def digital_pass_end(hw: BnnHwParams, reads_per_neuron: int | None = None) -> int:
    """Digital pass of one image through a layer engine (``x`` transferred in cycle 0, ``y`` always
    ready): the cycle of its last result, i.e. of the last word's FIFO write. ``reads_per_neuron``
    (default ``hw``'s) estimates a read width ``hw`` cannot have, e.g. 1 for full-row reads.

    Bank ``b`` (``n_b`` neurons, ``C`` reads each, one read per cycle) starts its reads in cycle
    ``s_b = max(s_{b-1} + n_{b-1} C, s_{b-D} + n_{b-D} C + RL + L + 1)`` (``s_0 = 1``; the second term:
    the output word's credit of bank ``b - D`` is usable from the cycle after that word's ``y`` transfer),
    and its word is written in ``s_b + n_b C - 1 + RL + L`` (last read issued, its bits ``RL`` later,
    the popcount ``L`` after that)."""
    from golden.twins.xnor_popcount import popcount_latency

    lat = popcount_latency(hw.cells, hw.popcount_mode, hw.stage_levels)
    C, RL, D = reads_per_neuron or hw.reads_per_neuron, hw.read_latency, hw.out_fifo
    sizes = _bank_sizes(hw)
    s: list[int] = []
    for b, n in enumerate(sizes):
        t = 1 if b == 0 else s[b - 1] + sizes[b - 1] * C
        if b >= D:
            t = max(t, s[b - D] + sizes[b - D] * C + RL + lat + 1)
        s.append(t)
    return s[-1] + sizes[-1] * C - 1 + RL + lat


def analog_pass_end(hw: BnnHwParams) -> int:
    """Analog pass of one image (``x`` in cycle 0, ``y`` always ready): the cycle the last bank's
    response is taken (and written to the FIFO).

    The pipelined sequencer as a recurrence over the stage-entry cycles ``e[b][p]`` of conversion ``b``
    (phase lengths ``L_p``): ``e[b][p+1] = max(e[b][p] + L_p, leave(b-1, p+1))`` with ``leave(b, p) =
    e[b][p+1]`` (``p < 5``) and ``leave(b, 5) = e[b][5] + L_5``; a request enters precharge at
    ``max(leave(b-1, 0), e[b-D][5] + 3)`` (``e[0][0] = 2``: accepted in cycle 1; its output-word credit
    is the one of conversion ``b - D``, usable from the cycle after that word's ``y`` transfer in
    ``e[b-D][5] + 1``). The response of ``b`` is taken in ``e[b][5]``. The sequencer's request queue
    takes request ``b`` once ``b - 1`` has entered precharge, when its credit is free: ``b`` enters
    precharge at the same edge as without the queue."""
    L = hw.phase_lengths
    n = len(L)
    D = hw.out_fifo
    e: list[list[int]] = []
    for b in range(hw.banks):
        row = [2 if b == 0 else e[b - 1][1]]
        if b >= D:
            row[0] = max(row[0], e[b - D][n - 1] + 3)
        for p in range(n - 1):
            t = row[p] + L[p]
            if b:
                t = max(t, e[b - 1][p + 2] if p + 2 < n else e[b - 1][n - 1] + L[n - 1])
            row.append(t)
        e.append(row)
    return e[-1][n - 1]


def pass_cycles(hw: BnnHwParams, analog: bool, reads_per_neuron: int | None = None) -> int:
    """Cycles of one hidden pass, from its ``x`` transfer to its last ``y`` word inclusive (the
    network engine offers the next pass in the cycle after that word)."""
    return (analog_pass_end(hw) if analog else digital_pass_end(hw, reads_per_neuron)) + 2


@dataclass(frozen=True)
class NetworkCycles:
    """Cycles per image of :class:`hw.bnn_network_engine.BnnNetworkEngine` (images back to back,
    ``cls`` always ready): ``total = 1 + sum(hidden) + output``; ``hidden`` per hidden pass (its ``x``
    transfer to its last word), ``output`` from the output pass's ``x`` transfer to the cycle after its
    class (when the next image can be taken); the 1 loads the image into the activation register."""

    total: int
    hidden: tuple
    output: int


def network_cycles(net, analog: bool, reads_per_neuron: int | None = None) -> NetworkCycles:
    """Closed form (the pass recurrences above) of the network engine's cycles per image;
    :func:`network_cycles_model` runs the cycle model for comparison. ``reads_per_neuron``: the
    digital reads' estimate of :func:`digital_pass_end` (default: the engines' own)."""
    hidden = tuple(pass_cycles(net.hidden_hw, analog, reads_per_neuron) for _ in range(net.hidden_layers))
    output = digital_pass_end(net.out_hw, reads_per_neuron) + 2   # the class is offered in the cycle after the last result
    return NetworkCycles(1 + sum(hidden) + output, hidden, output)


def network_cycles_model(net, analog: bool, images: int = 2, seed: int = 0) -> NetworkCycles:
    """The same from :class:`golden.twins.bnn_network_engine.BnnNetworkEngineModel`: ``images`` random
    images back to back on a random array (the cycles do not depend on the data); ``total`` is the
    interval between the first two images' ``x`` transfers (one image: the cycles to its end)."""
    from golden.twins.bnn_network_engine import BnnNetworkEngineModel, NetworkBits

    rng = np.random.default_rng(seed)
    array = rng.integers(0, 2, (net.rows, net.cols), dtype=np.uint8)
    x = rng.integers(0, 2, (images, net.sizes[0]), dtype=np.uint8)
    dec = (NetworkBits([rng.integers(0, 2, (images, s), dtype=np.uint8) for s in net.sizes[1:-1]], None, None)
           if analog else None)
    model = BnnNetworkEngineModel(net, array, dec)
    acc, cls = model.run([(x[i], int(analog)) for i in range(images)])
    hidden = tuple(ws[-1][0] - s + 1 for img, _, s, ws in model.passes if img == 0)
    total = acc[1][0] - acc[0][0] if images > 1 else model.cycles
    return NetworkCycles(total, hidden, cls[0][0] - acc[0][0] - sum(hidden))
